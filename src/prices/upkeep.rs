//! Scheduled upkeep: bring the recent bars of every tracked token current. Meant to be
//! called periodically by the worker; safe with several workers at once.
//!
//! Multi-worker safety: each token is handled on one connection that first takes the
//! session lock `pg_try_advisory_lock(28786, token_id)`. A worker that cannot take it
//! skips the token (another worker is on it). The missing range is computed after the
//! lock is held, so a worker that comes to a token just finished by another finds
//! nothing missing and fetches nothing: no duplicate rows (the primary key) and no
//! double fetch. Each page is stored in its own short transaction, so none stays open
//! while the provider answers. The lock is released after the token, and by the server
//! when the worker dies (its connection closes).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::backfill::{fill_token, last_complete_bar_end, BackfillEvent, FillError, TokenFill};
use super::provider::{PriceSource, Provider};
use super::store::{self, TrackedToken};
use super::BarInterval;

#[derive(Debug, Clone)]
pub struct UpkeepOptions {
    pub interval: BarInterval,
    /// How far back from `now` bars are kept complete.
    pub lookback: Duration,
    /// The present (bars opening from the current bar on are not complete yet).
    pub now: DateTime<Utc>,
    /// Rebuild the market proxies when bars were stored.
    pub rebuild_proxies: bool,
}

impl UpkeepOptions {
    pub fn new(now: DateTime<Utc>) -> Self {
        UpkeepOptions {
            interval: BarInterval::Hour,
            lookback: Duration::hours(48),
            now,
            rebuild_proxies: true,
        }
    }
}

/// How far a pass has come: tokens handled (brought current, failed or skipped) of the
/// tokens it will handle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpkeepReport {
    /// Tokens this worker brought current (or found current).
    pub tokens: usize,
    /// Tokens skipped because another worker held their lock.
    pub locked_elsewhere: usize,
    pub stored: usize,
    pub requests: usize,
    /// (symbol, error) of tokens whose fetch failed; other tokens went on.
    pub failures: Vec<(String, String)>,
    /// The pass was asked to stop before its last token (the rest is for the next pass).
    pub interrupted: bool,
}

/// One upkeep pass over all tracked tokens. `providers` in order of preference: a token
/// is fetched from the first provider that has an id for it. Provider ids come from the
/// database: load the registry first (`prices::load_builtin_registry`).
pub async fn run_once(
    pool: &PgPool,
    providers: &[Provider],
    opts: &UpkeepOptions,
) -> Result<UpkeepReport, sqlx::Error> {
    run_with_progress(pool, providers, opts, &|_| {}, &|| false).await
}

/// [`run_once`], reporting after each token (`on_progress`, also once before the first)
/// and stopping between tokens once `stop()` says so. The live tracker's first-start
/// backfill is this pass with the lookback the study needs: resumable like any pass,
/// since only missing bars are asked for.
pub async fn run_with_progress(
    pool: &PgPool,
    providers: &[Provider],
    opts: &UpkeepOptions,
    on_progress: &(dyn Fn(Progress) + Send + Sync),
    stop: &(dyn Fn() -> bool + Send + Sync),
) -> Result<UpkeepReport, sqlx::Error> {
    let to = last_complete_bar_end(opts.now, opts.interval);
    let from = to - opts.lookback;
    // Token id -> (provider, token with that provider's ids).
    let mut chosen: BTreeMap<i32, (&Provider, TrackedToken)> = BTreeMap::new();
    for p in providers {
        for t in store::tracked_tokens(pool, p.registry_key(), None).await? {
            if !t.listings.is_empty() && !chosen.contains_key(&t.id) {
                chosen.insert(t.id, (p, t));
            }
        }
    }
    let mut report = UpkeepReport::default();
    let quiet = |_: BackfillEvent<'_>| {};
    let total = chosen.len();
    on_progress(Progress { done: 0, total });
    for (done, (provider, token)) in chosen.values().enumerate() {
        if done > 0 {
            on_progress(Progress { done, total });
        }
        if stop() {
            report.interrupted = true;
            break;
        }
        let mut conn = pool.acquire().await?;
        if !store::try_lock_token(&mut conn, token.id).await? {
            report.locked_elsewhere += 1;
            continue;
        }
        let mut fill = TokenFill::default();
        let result = async {
            let gaps = store::missing_ranges(&mut conn, token.id, opts.interval, from, to).await?;
            fill_token(
                &mut conn,
                provider,
                token,
                opts.interval,
                &gaps,
                &quiet,
                &mut fill,
            )
            .await
        }
        .await;
        // A connection still holding the lock must not go back to the pool: if the
        // unlock fails, close it (the server then drops the lock).
        if store::unlock_token(&mut conn, token.id).await.is_err() {
            drop(conn.detach());
        }
        match result {
            Ok(()) => {}
            Err(FillError::Db(e)) => return Err(e),
            // Pages fetched before a failure are kept.
            Err(FillError::Provider(e)) => {
                tracing::warn!(symbol = %token.symbol, error = %e, "price upkeep failed");
                report.failures.push((token.symbol.clone(), e.to_string()));
            }
        }
        report.tokens += 1;
        report.stored += fill.stored;
        report.requests += fill.requests;
    }
    if !report.interrupted {
        on_progress(Progress { done: total, total });
    }
    if opts.rebuild_proxies && report.stored > 0 {
        super::proxies::build(pool, opts.interval).await?;
    }
    Ok(report)
}
