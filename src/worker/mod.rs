//! The background worker: a loop that claims due jobs from PostgreSQL, runs them, and
//! sleeps until the next one is due. Several workers, on one machine or many, share the
//! work through job claims (`FOR UPDATE SKIP LOCKED` plus a lease, see
//! `ingest::source_store::claim_next`), so a job runs on one worker at a time.
//!
//! Job kinds are the [`JobKind`] enum: news sources (claimed per source), and three
//! `worker_jobs` rows claimed the same way: the price backfill of the history the study
//! needs (on the first start, then daily), price upkeep (inside both, a per-token
//! advisory lock), and the live study (on new articles or bars, and hourly).

pub mod store;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::ingest::http::Fetcher;
use crate::ingest::{run, source_store};
use crate::prices::provider::Provider;
use crate::prices::upkeep;
use crate::study::{self, RunOptions, StudyParams};

/// The kinds of periodic job a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Poll one due news source.
    Ingest,
    /// Fetch the bars of the history the study needs that are missing (needs
    /// [`Context::prices`]): the first start's backfill, then a daily check.
    PriceBackfill,
    /// Bring every tracked token's recent bars current (needs [`Context::prices`]).
    PriceUpkeep,
    /// Run the study when new articles or bars came in (needs [`Context::study`]).
    Study,
}

/// The `worker_jobs` row of price upkeep.
pub const PRICE_UPKEEP_JOB: &str = "prices-upkeep";
/// The `worker_jobs` row of the history backfill.
pub const PRICE_BACKFILL_JOB: &str = "prices-backfill";
/// The `worker_jobs` row of the live study.
pub const STUDY_JOB: &str = "study";

/// Price settings: upkeep of recent bars, and the backfill of the history behind them.
pub struct PriceJob {
    pub providers: Vec<Provider>,
    /// Wall-clock time between two upkeep runs.
    pub every: Duration,
    /// How far back upkeep keeps bars complete.
    pub lookback: chrono::Duration,
    /// How far back the backfill makes bars complete: what the study needs
    /// ([`StudyParams::history`]).
    pub history: chrono::Duration,
    /// Wall-clock time between two backfill checks once one has completed.
    pub history_every: Duration,
}

/// Live study settings.
pub struct StudyJob {
    pub params: StudyParams,
    /// Wall-clock time between two runs when nothing asks for one.
    pub every: Duration,
    /// New articles or bars run the study at most this often.
    pub min_gap: Duration,
}

/// What every job needs.
pub struct Context {
    pub pool: PgPool,
    pub fetcher: Arc<Fetcher>,
    pub worker_id: String,
    pub lease: Duration,
    pub prices: Option<PriceJob>,
    pub study: Option<StudyJob>,
    /// The market clock of the price jobs (a replay in tests and rehearsals).
    pub clock: Clock,
    /// Set once the worker is asked to stop: long jobs end between steps.
    pub stopping: Arc<AtomicBool>,
}

impl Context {
    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// New articles or bars: ask for the study (if a worker runs it).
    async fn want_study(&self) {
        if let Err(e) = store::want(&self.pool, STUDY_JOB).await {
            tracing::warn!("could not ask for the study to run: {e}");
        }
    }
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
            JobKind::PriceBackfill => PRICE_BACKFILL_JOB,
            JobKind::PriceUpkeep => PRICE_UPKEEP_JOB,
            JobKind::Study => STUDY_JOB,
        }
    }

    /// Whether this worker is set up to run this kind.
    fn enabled(self, ctx: &Context) -> bool {
        match self {
            JobKind::Ingest => true,
            JobKind::PriceBackfill | JobKind::PriceUpkeep => ctx.prices.is_some(),
            JobKind::Study => ctx.study.is_some(),
        }
    }

    /// When a `worker_jobs` job may run besides its schedule.
    fn gate(self, ctx: &Context) -> store::Gate<'static> {
        const AFTER_BACKFILL: &[&str] = &[PRICE_BACKFILL_JOB];
        match self {
            JobKind::Ingest | JobKind::PriceBackfill => store::Gate::default(),
            // Upkeep would only race the backfill for the same tokens; a study before
            // the history is there scores nothing.
            JobKind::PriceUpkeep => store::Gate {
                min_gap_secs: 0.0,
                blocked_by: AFTER_BACKFILL,
            },
            JobKind::Study => store::Gate {
                min_gap_secs: ctx.study.as_ref().map_or(0.0, |s| s.min_gap.as_secs_f64()),
                blocked_by: AFTER_BACKFILL,
            },
        }
    }

    /// Claim one due job of this kind, if any. Claiming is quick (one statement); the
    /// job itself runs in [`Claimed::run`].
    pub async fn claim(self, ctx: &Context) -> Result<Option<Claimed>, WorkerError> {
        if !self.enabled(ctx) {
            return Ok(None);
        }
        match self {
            JobKind::Ingest => {
                Ok(
                    source_store::claim_next(&ctx.pool, &ctx.worker_id, ctx.lease.as_secs_f64())
                        .await?
                        .map(|s| Claimed::Source(Box::new(s))),
                )
            }
            JobKind::PriceBackfill | JobKind::PriceUpkeep | JobKind::Study => {
                let got = store::claim(
                    &ctx.pool,
                    self.name(),
                    &ctx.worker_id,
                    ctx.lease.as_secs_f64(),
                    self.gate(ctx),
                )
                .await?;
                Ok(got.then_some(Claimed::Job(self)))
            }
        }
    }

    /// When a job of this kind may next be due, if ever.
    pub async fn next_due(
        self,
        ctx: &Context,
    ) -> Result<Option<chrono::DateTime<Utc>>, WorkerError> {
        if !self.enabled(ctx) {
            return Ok(None);
        }
        match self {
            JobKind::Ingest => Ok(source_store::next_wakeup(&ctx.pool).await?),
            _ => Ok(store::next_due(&ctx.pool, self.name(), self.gate(ctx)).await?),
        }
    }

    /// Give back every claim this worker holds.
    pub async fn release(self, ctx: &Context) -> Result<u64, WorkerError> {
        match self {
            JobKind::Ingest => Ok(source_store::release_all(&ctx.pool, &ctx.worker_id).await?),
            _ => Ok(store::release_all(&ctx.pool, &ctx.worker_id).await?),
        }
    }
}

/// A job this worker holds the claim of.
pub enum Claimed {
    Source(Box<source_store::SourceRow>),
    /// A `worker_jobs` job (backfill, upkeep, study).
    Job(JobKind),
}

impl Claimed {
    fn kind(&self) -> JobKind {
        match self {
            Claimed::Source(_) => JobKind::Ingest,
            Claimed::Job(kind) => *kind,
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
            Claimed::Job(kind) => ClaimKey::Job(kind.name()),
        }
    }

    async fn run_claimed(self, ctx: &Context) -> Result<(), WorkerError> {
        let name = self.kind().name();
        let (ok, summary, every) = match self {
            Claimed::Source(source) => {
                let done = run::run_source(&ctx.pool, &ctx.fetcher, &source, &ctx.worker_id).await;
                if done.report.new > 0 {
                    ctx.want_study().await;
                }
                return Ok(());
            }
            Claimed::Job(JobKind::PriceBackfill) => match &ctx.prices {
                Some(job) => backfill(ctx, job).await,
                None => return Ok(()),
            },
            Claimed::Job(JobKind::PriceUpkeep) => match &ctx.prices {
                Some(job) => upkeep(ctx, job).await,
                None => return Ok(()),
            },
            Claimed::Job(JobKind::Study) => match &ctx.study {
                Some(job) => run_study(ctx, job).await,
                None => return Ok(()),
            },
            Claimed::Job(JobKind::Ingest) => return Ok(()),
        };
        crate::db::retry_transient(&format!("recording {name}"), 6, || {
            store::finish(
                &ctx.pool,
                name,
                &ctx.worker_id,
                ok,
                &summary,
                every.as_secs_f64(),
            )
        })
        .await?;
        Ok(())
    }
}

/// Fetch the missing bars of the history the study needs, reporting tokens done in
/// `worker_jobs` (the list page shows "backfilling prices: 41 of 82 tokens"). Returns
/// (ok, summary, time until the next check).
async fn backfill(ctx: &Context, job: &PriceJob) -> (bool, String, Duration) {
    let mut opts = upkeep::UpkeepOptions::new(ctx.clock.now());
    opts.lookback = job.history;
    let (tx, mut rx) = watch::channel(upkeep::Progress::default());
    let (pool, worker) = (ctx.pool.clone(), ctx.worker_id.clone());
    // Progress goes to the database from its own task: the pass reports synchronously.
    let _writer = AbortOnDrop(tokio::spawn(async move {
        let mut logged = 0;
        while rx.changed().await.is_ok() {
            let p = *rx.borrow_and_update();
            if let Err(e) =
                store::progress(&pool, PRICE_BACKFILL_JOB, &worker, p.done, p.total).await
            {
                tracing::debug!("could not record the backfill's progress: {e}");
            }
            // A line per tenth of the tokens (and the first and last).
            if p.done == 0 || p.done == p.total || p.done * 10 / p.total.max(1) > logged {
                logged = p.done * 10 / p.total.max(1);
                tracing::info!(done = p.done, total = p.total, "backfilling prices");
            }
        }
    }));
    tracing::info!(
        from = %(opts.now - opts.lookback),
        "price history: fetching the bars the study needs that are missing"
    );
    let result = upkeep::run_with_progress(
        &ctx.pool,
        &job.providers,
        &opts,
        &|p| {
            tx.send_replace(p);
        },
        &|| ctx.stopping(),
    )
    .await;
    let soon = ctx.clock.wall(Duration::from_secs(5 * 60));
    match result {
        Ok(r) => {
            if r.stored > 0 {
                ctx.want_study().await;
            }
            let summary = format!(
                "{} tokens, {} bars stored, {} requests, {} failed{}{}",
                r.tokens,
                r.stored,
                r.requests,
                r.failures.len(),
                if r.locked_elsewhere > 0 {
                    format!(", {} busy elsewhere", r.locked_elsewhere)
                } else {
                    String::new()
                },
                if r.interrupted { ", interrupted" } else { "" }
            );
            tracing::info!(
                tokens = r.tokens,
                stored = r.stored,
                requests = r.requests,
                failed = r.failures.len(),
                "price history backfilled"
            );
            // Anything left undone (a failure, a token busy elsewhere, a stop) is tried
            // again soon; else the next check is a day away.
            let complete = r.failures.is_empty() && r.locked_elsewhere == 0 && !r.interrupted;
            let next = if complete { job.history_every } else { soon };
            (r.failures.is_empty() && !r.interrupted, summary, next)
        }
        Err(e) => {
            tracing::error!("price backfill: {e}");
            (false, e.to_string(), soon)
        }
    }
}

/// Bring recent bars current.
async fn upkeep(ctx: &Context, job: &PriceJob) -> (bool, String, Duration) {
    let mut opts = upkeep::UpkeepOptions::new(ctx.clock.now());
    opts.lookback = job.lookback;
    match upkeep::run_once(&ctx.pool, &job.providers, &opts).await {
        Ok(r) => {
            tracing::info!(
                tokens = r.tokens,
                stored = r.stored,
                requests = r.requests,
                failed = r.failures.len(),
                "price upkeep"
            );
            if r.stored > 0 {
                ctx.want_study().await;
            }
            (
                r.failures.is_empty(),
                format!(
                    "{} tokens, {} bars stored, {} requests, {} failed",
                    r.tokens,
                    r.stored,
                    r.requests,
                    r.failures.len()
                ),
                job.every,
            )
        }
        Err(e) => {
            tracing::error!("price upkeep: {e}");
            (false, e.to_string(), job.every)
        }
    }
}

/// Run the study: it scores the stories whose windows have closed since the last run and
/// recomputes the tables of events whose inputs changed.
async fn run_study(ctx: &Context, job: &StudyJob) -> (bool, String, Duration) {
    let started = std::time::Instant::now();
    match study::run(&ctx.pool, &job.params, RunOptions::default()).await {
        Ok(r) => {
            // New stories or new bars changed some event: the moves and their matches
            // may have changed too (docs/moves.md). A scan that cannot run (no BTC bars
            // yet) or fails never fails the study.
            let moves = if r.computed > 0 {
                match crate::moves::scan(&ctx.pool, &crate::moves::detect::Params::default()).await
                {
                    Ok(m) => format!("; {} moves, {} explained", m.moves, m.explained),
                    Err(
                        e @ (crate::moves::MoveError::NoBars | crate::moves::MoveError::NoMarket),
                    ) => {
                        tracing::debug!("moves: {e}");
                        String::new()
                    }
                    Err(e) => {
                        tracing::warn!("moves: {e}");
                        format!("; moves failed: {e}")
                    }
                }
            } else {
                String::new()
            };
            (
                true,
                format!(
                    "{} events, {} recomputed, {} with a score{moves} ({:.1} s)",
                    r.events,
                    r.computed,
                    r.scored,
                    started.elapsed().as_secs_f64()
                ),
                job.every,
            )
        }
        Err(e) => {
            tracing::warn!("study: {e}");
            (false, e.to_string(), job.every)
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
            ClaimKey::Job(name) => store::release(&ctx.pool, name, &ctx.worker_id).await,
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
            // Long jobs (the backfill) end between steps.
            ctx.stopping.store(true, Ordering::Relaxed);
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
