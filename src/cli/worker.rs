//! `catalyst serve`, the live tracker in one process (web, source polling, price
//! backfill and upkeep, the study on new or matured stories), and `catalyst worker`,
//! the same jobs without the web for split deployments. Both poll until Ctrl-C or
//! SIGTERM, then finish the jobs in hand, release the claims and exit 0.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::clock::{Clock, Replay};
use crate::db::Database;
use crate::ingest::http::Fetcher;
use crate::study::StudyParams;
use crate::web;
use crate::worker::{self, Context, JobKind, PriceJob, StudyJob};

use super::config::Settings;
use super::sources::SourcesFileArg;

/// Settings of the jobs, shared by `serve` and `worker`.
#[derive(Debug, Clone, Args)]
pub struct JobArgs {
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
    /// Minutes between two price upkeep runs.
    #[arg(long, default_value_t = 15)]
    pub prices_every_mins: u64,
    /// How far back upkeep keeps bars complete, in hours.
    #[arg(long, default_value_t = 48)]
    pub prices_lookback_hours: i64,
    /// Days of price history the backfill keeps complete, on the first start and daily
    /// after [default: what the study's calibrated score needs, 200 days].
    #[arg(long)]
    pub history_days: Option<i64>,
    /// Minutes between two study runs when no new article or bar asks for one.
    #[arg(long, default_value_t = 60)]
    pub study_every_mins: u64,
    /// New articles or bars run the study at most this often (seconds).
    #[arg(long, default_value_t = 30)]
    pub study_min_gap_secs: u64,
    /// Rehearse against recorded data: the price jobs' clock starts at market time START
    /// and runs N times faster; START[,speed=N][,at=WALL], WALL being when the replay
    /// started (RFC 3339 or UNIX seconds) so that a restarted process keeps the timeline
    /// [env CATALYST_REPLAY; default: the system clock]. See README, "Going live".
    #[arg(long, env = "CATALYST_REPLAY", hide_env = true, value_name = "SPEC")]
    pub replay: Option<String>,
    #[command(flatten)]
    pub price_source: super::prices_cli::SourceArgs,
}

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub jobs: JobArgs,
    /// Also keep price bars complete: fetch the history the study needs (first start,
    /// then a daily check) and keep recent bars current (every --prices-every-mins), from
    /// --provider; one worker at a time.
    #[arg(long)]
    pub prices: bool,
    /// Also run the study when new articles or bars come in (at most every
    /// --study-min-gap-secs) and every --study-every-mins; one worker at a time.
    #[arg(long)]
    pub study: bool,
}

/// Which parts of the live tracker run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    pub ingest: bool,
    pub prices: bool,
    pub study: bool,
}

impl Parts {
    fn kinds(self) -> Vec<JobKind> {
        let mut kinds = Vec::new();
        if self.ingest {
            kinds.push(JobKind::Ingest);
        }
        if self.prices {
            kinds.extend([JobKind::PriceBackfill, JobKind::PriceUpkeep]);
        }
        if self.study {
            kinds.push(JobKind::Study);
        }
        kinds
    }

    fn any(self) -> bool {
        self.ingest || self.prices || self.study
    }

    /// "polling the sources, keeping prices complete, running the study".
    fn describe(self) -> String {
        let mut parts = Vec::new();
        if self.ingest {
            parts.push("polling the news sources");
        }
        if self.prices {
            parts.push("keeping price bars complete");
        }
        if self.study {
            parts.push("scoring new stories");
        }
        parts.join(", ")
    }
}

/// The market clock: the replay given, else the system clock.
fn clock(args: &JobArgs) -> anyhow::Result<Clock> {
    Ok(match &args.replay {
        Some(spec) => {
            let r = Replay::parse(spec, chrono::Utc::now()).map_err(|e| anyhow::anyhow!(e))?;
            tracing::warn!(
                start = %r.start,
                speed = r.speed,
                "replay: the price jobs run on a market clock, not the system clock"
            );
            Clock::replay(r)
        }
        None => Clock::system(),
    })
}

async fn context(db: &Database, args: &JobArgs, parts: Parts) -> anyhow::Result<Context> {
    // The sources file is synced only by a process that polls the sources.
    let fetch = if parts.ingest {
        args.file.load_and_sync(&db.pool).await?.fetch
    } else {
        Default::default()
    };
    let clock = clock(args)?;
    let params = StudyParams::default();
    let prices = if parts.prices {
        super::prices_cli::load_registry(&db.pool, args.price_source.registry.as_ref()).await?;
        Some(PriceJob {
            providers: vec![super::prices_cli::provider(&args.price_source)?],
            every: clock.wall(Duration::from_secs(args.prices_every_mins.max(1) * 60)),
            lookback: chrono::Duration::hours(args.prices_lookback_hours.max(1)),
            history: match args.history_days {
                Some(days) => chrono::Duration::days(days.max(1)),
                None => params.history(),
            },
            history_every: clock.wall(Duration::from_secs(24 * 3600)),
        })
    } else {
        None
    };
    let study = parts.study.then(|| StudyJob {
        params,
        every: Duration::from_secs(args.study_every_mins.max(1) * 60),
        min_gap: Duration::from_secs(args.study_min_gap_secs),
    });
    Ok(Context {
        prices,
        study,
        clock,
        stopping: Arc::new(AtomicBool::new(false)),
        pool: db.pool.clone(),
        fetcher: Arc::new(Fetcher::new(fetch)?.with_shared_spacing(db.pool.clone())),
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
    let parts = Parts {
        ingest: true,
        prices: args.prices,
        study: args.study,
    };
    let ctx = context(db, &args.jobs, parts).await?;
    let (_tx, rx) = stop_on_signal();
    let id = ctx.worker_id.clone();
    let jobs = worker::run(Arc::new(ctx), &parts.kinds(), args.jobs.concurrency, rx).await?;
    println!("worker {id} stopped after {jobs} jobs");
    Ok(())
}

/// The live tracker: serve the web UI on `listener` (bound before the database was
/// opened), with the `parts` of the worker in the same process.
pub async fn serve(
    db: &Database,
    settings: &Settings,
    listener: TcpListener,
    parts: Parts,
    args: &JobArgs,
) -> anyhow::Result<()> {
    let addr = listener
        .local_addr()
        .context("reading the listening address")?;
    let web_pool = super::web_pool(db, settings).await?;
    if !parts.any() {
        return super::serve_on(web_pool, listener).await;
    }
    let ctx = context(db, args, parts).await?;
    let (tx, rx) = stop_on_signal();
    let kinds = parts.kinds();
    let concurrency = args.concurrency;
    let worker_task =
        tokio::spawn(async move { worker::run(Arc::new(ctx), &kinds, concurrency, rx).await });
    let mut web_stop = tx.subscribe();
    let served = web::serve_on(
        web_pool,
        listener,
        |bound| {
            println!(
                "Catalyst is serving on http://{bound}/ and {} (Ctrl-C to stop)",
                parts.describe()
            );
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
