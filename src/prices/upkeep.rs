//! Scheduled upkeep: bring the recent bars of every tracked token current. Meant to be
//! called periodically by the worker; safe with several workers at once.
//!
//! Multi-worker safety: each token is handled in one transaction that first takes
//! `pg_try_advisory_xact_lock(28786, token_id)`. A worker that cannot take it skips the
//! token (another worker is on it). The missing range is computed after the lock is
//! held, so a worker that comes to a token just finished by another finds nothing
//! missing and fetches nothing: no duplicate rows (the primary key) and no double fetch.
//! The lock is released with the transaction, also when the worker dies.

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
}

/// One upkeep pass over all tracked tokens. `providers` in order of preference: a token
/// is fetched from the first provider that has an id for it. Provider ids come from the
/// database: load the registry first (`prices::load_builtin_registry`).
pub async fn run_once(
    pool: &PgPool,
    providers: &[Provider],
    opts: &UpkeepOptions,
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
    for (provider, token) in chosen.values() {
        let mut tx = pool.begin().await?;
        if !store::try_lock_token(&mut tx, token.id).await? {
            report.locked_elsewhere += 1;
            continue;
        }
        let gaps = store::missing_ranges(&mut tx, token.id, opts.interval, from, to).await?;
        let mut fill = TokenFill::default();
        let result = fill_token(
            &mut tx,
            provider,
            token,
            opts.interval,
            &gaps,
            &quiet,
            &mut fill,
        )
        .await;
        match result {
            Ok(()) => {}
            Err(FillError::Db(e)) => return Err(e),
            Err(FillError::Provider(e)) => {
                tracing::warn!(symbol = %token.symbol, error = %e, "price upkeep failed");
                report.failures.push((token.symbol.clone(), e.to_string()));
            }
        }
        // Pages fetched before a failure are kept.
        tx.commit().await?;
        report.tokens += 1;
        report.stored += fill.stored;
        report.requests += fill.requests;
    }
    if opts.rebuild_proxies && report.stored > 0 {
        super::proxies::build(pool, opts.interval).await?;
    }
    Ok(report)
}
