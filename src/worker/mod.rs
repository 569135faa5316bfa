//! The background worker: a loop that claims due jobs from PostgreSQL, runs them, and
//! sleeps until the next one is due. Several workers, on one machine or many, share the
//! work through job claims (`FOR UPDATE SKIP LOCKED` plus a lease, see
//! `ingest::source_store::claim_next`), so a job runs on one worker at a time.
//!
//! Job kinds are the [`JobKind`] enum: news sources (claimed per source) and price upkeep
//! (one `worker_jobs` row, claimed the same way; inside it a per-token advisory lock).

pub mod store;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::ingest::http::Fetcher;
use crate::ingest::{run, source_store};
use crate::prices::provider::Provider;
use crate::prices::upkeep;

/// The kinds of periodic job a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Poll one due news source.
    Ingest,
    /// Bring every tracked token's recent bars current (needs [`Context::prices`]).
    PriceUpkeep,
}

/// The `worker_jobs` row of price upkeep.
pub const PRICE_UPKEEP_JOB: &str = "prices-upkeep";

/// Price upkeep settings.
pub struct PriceJob {
    pub providers: Vec<Provider>,
    /// Time between two upkeep runs.
    pub every: Duration,
    /// How far back bars are kept complete.
    pub lookback: chrono::Duration,
}

/// What every job needs.
pub struct Context {
    pub pool: PgPool,
    pub fetcher: Arc<Fetcher>,
    pub worker_id: String,
    pub lease: Duration,
    pub prices: Option<PriceJob>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("database error in the worker: {0}")]
    Db(#[from] sqlx::Error),
}

impl JobKind {
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Ingest => "ingest",
            JobKind::PriceUpkeep => PRICE_UPKEEP_JOB,
        }
    }

    /// Claim one due job of this kind, if any. Claiming is quick (one statement); the
    /// job itself runs in [`Claimed::run`].
    pub async fn claim(self, ctx: &Context) -> Result<Option<Claimed>, WorkerError> {
        match self {
            JobKind::Ingest => {
                Ok(
                    source_store::claim_next(&ctx.pool, &ctx.worker_id, ctx.lease.as_secs_f64())
                        .await?
                        .map(|s| Claimed::Source(Box::new(s))),
                )
            }
            JobKind::PriceUpkeep => {
                if ctx.prices.is_none() {
                    return Ok(None);
                }
                let got = store::claim(
                    &ctx.pool,
                    PRICE_UPKEEP_JOB,
                    &ctx.worker_id,
                    ctx.lease.as_secs_f64(),
                )
                .await?;
                Ok(got.then_some(Claimed::PriceUpkeep))
            }
        }
    }

    /// When a job of this kind may next be due, if ever.
    pub async fn next_due(
        self,
        ctx: &Context,
    ) -> Result<Option<chrono::DateTime<Utc>>, WorkerError> {
        match self {
            JobKind::Ingest => Ok(source_store::next_wakeup(&ctx.pool).await?),
            JobKind::PriceUpkeep if ctx.prices.is_some() => Ok(Some(
                store::next_due(&ctx.pool, PRICE_UPKEEP_JOB)
                    .await?
                    .unwrap_or_else(Utc::now),
            )),
            JobKind::PriceUpkeep => Ok(None),
        }
    }

    /// Give back every claim this worker holds.
    pub async fn release(self, ctx: &Context) -> Result<u64, WorkerError> {
        match self {
            JobKind::Ingest => Ok(source_store::release_all(&ctx.pool, &ctx.worker_id).await?),
            JobKind::PriceUpkeep => Ok(store::release_all(&ctx.pool, &ctx.worker_id).await?),
        }
    }
}

/// A job this worker holds the claim of.
pub enum Claimed {
    Source(Box<source_store::SourceRow>),
    PriceUpkeep,
}

impl Claimed {
    fn kind(&self) -> JobKind {
        match self {
            Claimed::Source(_) => JobKind::Ingest,
            Claimed::PriceUpkeep => JobKind::PriceUpkeep,
        }
    }

    /// Run the job and record its outcome (which releases its claim). While it runs, a
    /// heartbeat renews the claim every third of the lease, so a slow job stays this
    /// worker's; if the worker dies, the heartbeat dies with it and the lease lapses.
    pub async fn run(self, ctx: Arc<Context>) -> Result<(), WorkerError> {
        // Aborted on drop, so a panicking job does not leave it renewing the claim.
        let _heartbeat = AbortOnDrop(tokio::spawn(heartbeat(ctx.clone(), self.claim_key())));
        self.run_claimed(&ctx).await
    }

    fn claim_key(&self) -> ClaimKey {
        match self {
            Claimed::Source(s) => ClaimKey::Source(s.id),
            Claimed::PriceUpkeep => ClaimKey::Job(PRICE_UPKEEP_JOB),
        }
    }

    async fn run_claimed(self, ctx: &Context) -> Result<(), WorkerError> {
        match self {
            Claimed::Source(source) => {
                run::run_source(&ctx.pool, &ctx.fetcher, &source, &ctx.worker_id).await;
                Ok(())
            }
            Claimed::PriceUpkeep => {
                let Some(job) = &ctx.prices else {
                    return Ok(());
                };
                let mut opts = upkeep::UpkeepOptions::new(Utc::now());
                opts.lookback = job.lookback;
                let (ok, summary) = match upkeep::run_once(&ctx.pool, &job.providers, &opts).await {
                    Ok(r) => {
                        tracing::info!(
                            tokens = r.tokens,
                            stored = r.stored,
                            requests = r.requests,
                            failed = r.failures.len(),
                            "price upkeep"
                        );
                        (
                            r.failures.is_empty(),
                            format!(
                                "{} tokens, {} bars stored, {} requests, {} failed",
                                r.tokens,
                                r.stored,
                                r.requests,
                                r.failures.len()
                            ),
                        )
                    }
                    Err(e) => {
                        tracing::error!("price upkeep: {e}");
                        (false, e.to_string())
                    }
                };
                crate::db::retry_transient("recording price upkeep", 6, || {
                    store::finish(
                        &ctx.pool,
                        PRICE_UPKEEP_JOB,
                        &ctx.worker_id,
                        ok,
                        &summary,
                        job.every.as_secs_f64(),
                    )
                })
                .await?;
                Ok(())
            }
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Debug, Clone, Copy)]
enum ClaimKey {
    Source(i64),
    Job(&'static str),
}

impl ClaimKey {
    /// Give the claim back without recording an outcome (its job ended abnormally).
    async fn release(self, ctx: &Context) -> Result<bool, sqlx::Error> {
        match self {
            ClaimKey::Source(id) => source_store::release(&ctx.pool, id, &ctx.worker_id).await,
            ClaimKey::Job(_) => Ok(store::release_all(&ctx.pool, &ctx.worker_id).await? > 0),
        }
    }
}

async fn heartbeat(ctx: Arc<Context>, key: ClaimKey) {
    let every = (ctx.lease / 3).max(Duration::from_millis(100));
    let lease = ctx.lease.as_secs_f64();
    loop {
        tokio::time::sleep(every).await;
        let renewed = match key {
            ClaimKey::Source(id) => {
                source_store::renew_claim(&ctx.pool, id, &ctx.worker_id, lease).await
            }
            ClaimKey::Job(name) => store::renew(&ctx.pool, name, &ctx.worker_id, lease).await,
        };
        match renewed {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(?key, "claim lost while the job runs");
                return;
            }
            // Keep trying: the lease still covers a short database outage.
            Err(e) => tracing::warn!(?key, "could not renew the claim: {e}"),
        }
    }
}

/// Jobs one worker runs at once by default. A source that hangs (until its timeout) or
/// crawls holds one slot; the others keep being polled.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// The longest a worker sleeps between looks at the queue, when no notification wakes it
/// first (`db::WORKER_CHANNEL`: sources synced, claims released).
pub const MAX_IDLE: Duration = Duration::from_secs(30);
/// The shortest, so a busy queue is not polled in a tight loop.
pub const MIN_IDLE: Duration = Duration::from_millis(200);

/// The jobs in flight, and the claim each holds (to give back if its task panics).
#[derive(Default)]
struct Running {
    tasks: tokio::task::JoinSet<(JobKind, Result<(), WorkerError>)>,
    claims: std::collections::HashMap<tokio::task::Id, ClaimKey>,
}

impl Running {
    fn len(&self) -> usize {
        self.tasks.len()
    }

    fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    fn spawn(&mut self, ctx: Arc<Context>, job: Claimed) {
        let (kind, key) = (job.kind(), job.claim_key());
        self.spawn_task(kind, key, async move { job.run(ctx).await });
    }

    fn spawn_task<F>(&mut self, kind: JobKind, key: ClaimKey, task: F)
    where
        F: std::future::Future<Output = Result<(), WorkerError>> + Send + 'static,
    {
        let handle = self.tasks.spawn(async move { (kind, task.await) });
        self.claims.insert(handle.id(), key);
    }

    /// Wait for one job to end and log how it went. Returns the claim of a job whose
    /// task panicked (it recorded nothing), for [`release_orphan`]. Cancel-safe, so it
    /// can wait in a `select!`; the release is done outside it.
    async fn join_next(&mut self) -> Option<Option<ClaimKey>> {
        let done = self.tasks.join_next_with_id().await?;
        Some(match done {
            Ok((id, (kind, result))) => {
                self.claims.remove(&id);
                if let Err(e) = result {
                    tracing::error!(job = kind.name(), "{e}");
                }
                None
            }
            Err(e) => {
                tracing::error!("job task ended abnormally: {e}");
                self.claims.remove(&e.id())
            }
        })
    }
}

/// Give back the claim of a job that ended without recording its outcome, so the job is
/// due again at once rather than after the lease.
async fn release_orphan(ctx: &Context, orphan: Option<ClaimKey>) {
    if let Some(key) = orphan {
        if let Err(e) = key.release(ctx).await {
            tracing::warn!(?key, "could not release the claim: {e}");
        }
    }
}

/// Forward `NOTIFY catalyst_jobs` to `wake` until aborted. A lost connection is
/// re-established by the listener; while the database is away, retry every few seconds
/// (the worker's own polling covers the gap: notifications are only a shortcut).
async fn listen_for_wakeups(pool: PgPool, wake: Arc<tokio::sync::Notify>) {
    loop {
        let listener = async {
            let mut l = sqlx::postgres::PgListener::connect_with(&pool).await?;
            l.listen(crate::db::WORKER_CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        }
        .await;
        match listener {
            Ok(mut l) => loop {
                match l.recv().await {
                    Ok(n) => {
                        tracing::debug!(why = n.payload(), "woken by a notification");
                        wake.notify_one();
                    }
                    Err(e) => {
                        tracing::debug!("listening for wake-ups: {e}");
                        break;
                    }
                }
            },
            Err(e) => tracing::debug!("cannot listen for wake-ups yet: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// A worker id unique across machines: host, process, and a random suffix.
pub fn worker_id(prefix: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!(
        "{prefix}:{host}:{}:{:04x}",
        std::process::id(),
        fastrand::u16(..)
    )
}

/// Run jobs until `stop` turns true, up to `concurrency` at once. On stop, the jobs in
/// hand are finished first; then this worker's claims are released.
pub async fn run(
    ctx: Arc<Context>,
    kinds: &[JobKind],
    concurrency: usize,
    mut stop: watch::Receiver<bool>,
) -> Result<u64, WorkerError> {
    let concurrency = concurrency.max(1);
    let mut jobs = 0u64;
    let mut running = Running::default();
    let wake = Arc::new(tokio::sync::Notify::new());
    let _listener = AbortOnDrop(tokio::spawn(listen_for_wakeups(
        ctx.pool.clone(),
        wake.clone(),
    )));
    tracing::info!(worker = %ctx.worker_id, concurrency, "worker started");
    loop {
        if *stop.borrow() {
            break;
        }
        // Fill the free slots with due jobs, round-robin over the kinds.
        let mut claimed = true;
        while claimed && running.len() < concurrency {
            claimed = false;
            for kind in kinds {
                if running.len() >= concurrency || *stop.borrow() {
                    break;
                }
                match kind.claim(&ctx).await {
                    Ok(Some(job)) => {
                        claimed = true;
                        running.spawn(ctx.clone(), job);
                    }
                    Ok(None) => {}
                    // A database hiccup must not end the worker: log, wait, try again.
                    Err(e) => tracing::error!(job = kind.name(), "{e}"),
                }
            }
        }
        // With every slot busy nothing could be claimed: wait for a job to end rather
        // than poll the queue. Otherwise sleep until the next job is due.
        let idle = if running.len() >= concurrency {
            MAX_IDLE
        } else {
            let mut next = None;
            for kind in kinds {
                if let Ok(Some(t)) = kind.next_due(&ctx).await {
                    next = Some(next.map_or(t, |n: chrono::DateTime<Utc>| n.min(t)));
                }
            }
            next.and_then(|t| (t - Utc::now()).to_std().ok())
                .unwrap_or(MIN_IDLE)
                .clamp(MIN_IDLE, MAX_IDLE)
        };
        tokio::select! {
            Some(orphan) = running.join_next(), if !running.is_empty() => {
                jobs += 1;
                release_orphan(&ctx, orphan).await;
            }
            _ = tokio::time::sleep(idle) => {}
            _ = wake.notified() => {}
            _ = stop.changed() => {}
        }
    }
    // Finish the jobs in hand.
    while let Some(orphan) = running.join_next().await {
        jobs += 1;
        release_orphan(&ctx, orphan).await;
    }
    let mut released = 0;
    for kind in kinds {
        match kind.release(&ctx).await {
            Ok(n) if n > 0 => {
                released += n;
                tracing::info!(job = kind.name(), released = n, "claims released")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(job = kind.name(), "could not release claims: {e}"),
        }
    }
    if released > 0 {
        // Other workers may take the released jobs now rather than at their next poll.
        if let Err(e) = crate::db::wake_workers(&ctx.pool, "released").await {
            tracing::debug!("could not wake the other workers: {e}");
        }
    }
    tracing::info!(worker = %ctx.worker_id, jobs, "worker stopped");
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicked_job_hands_back_its_claim_and_a_finished_one_does_not() {
        let mut running = Running::default();
        running.spawn_task(JobKind::Ingest, ClaimKey::Source(7), async {
            panic!("a bug in a job");
        });
        let orphan = running.join_next().await.expect("one task ended");
        assert!(matches!(orphan, Some(ClaimKey::Source(7))), "{orphan:?}");
        assert!(running.claims.is_empty());

        running.spawn_task(JobKind::Ingest, ClaimKey::Source(8), async { Ok(()) });
        running.spawn_task(
            JobKind::PriceUpkeep,
            ClaimKey::Job(PRICE_UPKEEP_JOB),
            async { Err(WorkerError::Db(sqlx::Error::PoolTimedOut)) },
        );
        for _ in 0..2 {
            assert!(matches!(running.join_next().await, Some(None)));
        }
        assert!(running.join_next().await.is_none());
        assert!(running.claims.is_empty());
    }
}
