//! `catalyst worker`, and the same worker inside `catalyst serve`: poll each source at
//! its own interval until Ctrl-C or SIGTERM, then finish the job in hand, release the
//! claims and exit 0.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use tokio::sync::watch;

use crate::db::Database;
use crate::ingest::http::Fetcher;
use crate::web;
use crate::worker::{self, Context, JobKind, PriceJob};

use super::config::Settings;
use super::sources::SourcesFileArg;

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub file: SourcesFileArg,
    /// How long a claimed job stays this worker's; after that (a killed worker) another
    /// worker may take it. Must exceed the longest source run.
    #[arg(long, default_value_t = 600)]
    pub lease_secs: u64,
    /// Worker id in claims and `ingest_runs` [default: worker:HOST:PID:RANDOM].
    #[arg(long)]
    pub id: Option<String>,
    /// Jobs run at once: a hanging or slow source holds one slot, the others go on.
    #[arg(long, default_value_t = worker::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Also keep recent price bars current (price upkeep from --provider, one worker at
    /// a time, every --prices-every-mins).
    #[arg(long)]
    pub prices: bool,
    /// Minutes between two price upkeep runs.
    #[arg(long, default_value_t = 15, requires = "prices")]
    pub prices_every_mins: u64,
    /// How far back upkeep keeps bars complete, in hours.
    #[arg(long, default_value_t = 48, requires = "prices")]
    pub prices_lookback_hours: i64,
    #[command(flatten)]
    pub price_source: super::prices_cli::SourceArgs,
}

impl WorkerArgs {
    fn kinds(&self) -> &'static [JobKind] {
        if self.prices {
            &[JobKind::Ingest, JobKind::PriceUpkeep]
        } else {
            &[JobKind::Ingest]
        }
    }
}

async fn context(db: &Database, args: &WorkerArgs) -> anyhow::Result<Context> {
    let file = args.file.load_and_sync(&db.pool).await?;
    let prices = if args.prices {
        super::prices_cli::load_registry(&db.pool, args.price_source.registry.as_ref()).await?;
        Some(PriceJob {
            providers: vec![super::prices_cli::provider(&args.price_source)?],
            every: Duration::from_secs(args.prices_every_mins.max(1) * 60),
            lookback: chrono::Duration::hours(args.prices_lookback_hours.max(1)),
        })
    } else {
        None
    };
    Ok(Context {
        prices,
        pool: db.pool.clone(),
        fetcher: Arc::new(Fetcher::new(file.fetch.clone())?.with_shared_spacing(db.pool.clone())),
        worker_id: args
            .id
            .clone()
            .unwrap_or_else(|| worker::worker_id("worker")),
        lease: Duration::from_secs(args.lease_secs.max(1)),
    })
}

/// A channel that turns true on Ctrl-C or SIGTERM.
fn stop_on_signal() -> (Arc<watch::Sender<bool>>, watch::Receiver<bool>) {
    let (tx, rx) = watch::channel(false);
    let tx = Arc::new(tx);
    let signal_tx = tx.clone();
    tokio::spawn(async move {
        super::shutdown_signal().await;
        tracing::info!("stopping: finishing the job in hand");
        let _ = signal_tx.send(true);
    });
    (tx, rx)
}

pub async fn run(db: &Database, args: &WorkerArgs) -> anyhow::Result<()> {
    let ctx = context(db, args).await?;
    let (_tx, rx) = stop_on_signal();
    let id = ctx.worker_id.clone();
    let jobs = worker::run(Arc::new(ctx), args.kinds(), args.concurrency, rx).await?;
    println!("worker {id} stopped after {jobs} jobs");
    Ok(())
}

/// Serve the web UI, with a worker in the same process unless `no_worker`.
pub async fn serve(
    db: &Database,
    settings: &Settings,
    no_worker: bool,
    args: &WorkerArgs,
) -> anyhow::Result<()> {
    if no_worker {
        return super::serve(db, settings).await;
    }
    let addr = settings.addr.value;
    let web_pool = super::web_pool(db, settings).await?;
    let ctx = context(db, args).await?;
    let (tx, rx) = stop_on_signal();
    let kinds = args.kinds();
    let concurrency = args.concurrency;
    let worker_task =
        tokio::spawn(async move { worker::run(Arc::new(ctx), kinds, concurrency, rx).await });
    let mut web_stop = tx.subscribe();
    let served = web::serve(
        web_pool,
        addr,
        |bound| {
            println!("Catalyst is serving on http://{bound}/  (Ctrl-C to stop)");
        },
        async move {
            let _ = web_stop.wait_for(|stop| *stop).await;
        },
    )
    .await
    .with_context(|| format!("serving on {addr}"));
    let _ = tx.send(true);
    match worker_task.await {
        Ok(Err(e)) => tracing::error!("worker: {e}"),
        Err(e) => tracing::error!("worker task: {e}"),
        Ok(Ok(_)) => {}
    }
    served
}
