//! Backfill: fetch the bars a token is missing from a provider, page by page.
//!
//! Resumable by construction: the missing ranges are computed from price_bars at the
//! start, and every page is committed before the next is requested, so a crash or a
//! Ctrl-C loses at most the page in flight and a rerun asks only for what is still
//! missing. A range that spans a rename is split at the rename and each part asked for
//! under the id valid then (RNDRUSDT before 2024-07-26, RENDERUSDT after).

use chrono::{DateTime, Duration, Utc};
use sqlx::{Connection, PgConnection, PgPool};

use super::provider::{PriceSource, Provider, ProviderError};
use super::registry::segments;
use super::store::{self, MissingRange, TrackedToken};
use super::BarInterval;

#[derive(Debug, thiserror::Error)]
pub enum FillError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("database error while storing fetched bars: {0}")]
    Db(#[from] sqlx::Error),
}

/// What a backfill reports as it goes (for a progress bar or log lines).
#[derive(Debug, Clone)]
pub enum BackfillEvent<'a> {
    /// Before fetching: how much is missing.
    Planned {
        tokens: usize,
        missing_bars: i64,
    },
    /// One page stored.
    Page {
        symbol: &'a str,
        id: &'a str,
        stored: usize,
        /// Missing bars of the range this page covered (for progress).
        covered: i64,
    },
    TokenDone {
        symbol: &'a str,
        stored: usize,
    },
    TokenFailed {
        symbol: &'a str,
        error: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillReport {
    pub tokens: usize,
    pub missing_before: i64,
    pub stored: usize,
    pub requests: usize,
    /// Missing bars after the run (some never exist: before a listing, exchange outages).
    pub missing_after: i64,
    /// Tokens without an id at this provider.
    pub no_provider_id: Vec<String>,
    /// (symbol, error) of tokens whose fetch failed; what was fetched before is kept.
    pub failures: Vec<(String, String)>,
}

/// The open time of the bar in progress at `now`: bars opening before it are complete.
pub fn last_complete_bar_end(now: DateTime<Utc>, interval: BarInterval) -> DateTime<Utc> {
    let s = interval.seconds();
    DateTime::from_timestamp(now.timestamp().div_euclid(s) * s, 0).unwrap_or(now)
}

/// What one token's fill did.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenFill {
    pub stored: usize,
    pub requests: usize,
}

/// Fetch and store the given missing ranges of one token. Each page is stored in its
/// own (sub)transaction of `conn`: on a bare connection it commits at once; inside an
/// open transaction it is a savepoint, committed with it.
pub async fn fill_token(
    conn: &mut PgConnection,
    provider: &Provider,
    token: &TrackedToken,
    interval: BarInterval,
    gaps: &[MissingRange],
    on_event: &(dyn Fn(BackfillEvent<'_>) + Send + Sync),
    fill: &mut TokenFill,
) -> Result<(), FillError> {
    let step = Duration::seconds(interval.seconds());
    for gap in gaps {
        for (id, start, end) in segments(&token.listings, gap.start, gap.end) {
            let mut cursor = start;
            loop {
                let page = provider.fetch_page(&id, interval, cursor, end).await?;
                fill.requests += 1;
                let bars: Vec<_> = page
                    .bars
                    .into_iter()
                    .filter(|b| b.open_time >= cursor && b.open_time < end)
                    .filter(|b| interval.is_aligned(b.open_time))
                    .collect();
                let next = page.next.filter(|&n| n > cursor && n < end);
                let covered_to = next.unwrap_or(end);
                if !bars.is_empty() {
                    let mut tx = conn.begin().await?;
                    let tag = provider.source_tag(&id);
                    store::upsert_bars(&mut tx, token.id, interval, &tag, &bars).await?;
                    tx.commit().await?;
                }
                let stored = store::dedupe(&bars).len();
                fill.stored += stored;
                on_event(BackfillEvent::Page {
                    symbol: &token.symbol,
                    id: &id,
                    stored,
                    covered: (covered_to - cursor).num_seconds() / step.num_seconds(),
                });
                match next {
                    Some(n) => cursor = n,
                    None => break,
                }
            }
        }
    }
    Ok(())
}

/// Bring `[from, to)` of the given tokens (all with an id at the provider by default)
/// up to date from `provider`. `to` is clamped to the last complete bar.
pub async fn backfill(
    pool: &PgPool,
    provider: &Provider,
    tokens: Option<&[String]>,
    interval: BarInterval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    on_event: &(dyn Fn(BackfillEvent<'_>) + Send + Sync),
) -> Result<BackfillReport, sqlx::Error> {
    let to = to.min(last_complete_bar_end(Utc::now(), interval));
    let tracked = store::tracked_tokens(pool, provider.registry_key(), tokens).await?;
    let mut report = BackfillReport::default();
    let mut conn = pool.acquire().await?;
    let mut plan = Vec::new();
    for t in tracked {
        if t.listings.is_empty() {
            report.no_provider_id.push(t.symbol);
            continue;
        }
        let gaps = store::missing_ranges(&mut conn, t.id, interval, from, to).await?;
        report.missing_before += gaps.iter().map(|g| g.bars).sum::<i64>();
        plan.push((t, gaps));
    }
    report.tokens = plan.len();
    on_event(BackfillEvent::Planned {
        tokens: plan.len(),
        missing_bars: report.missing_before,
    });
    for (token, gaps) in &plan {
        let mut fill = TokenFill::default();
        let result = fill_token(
            &mut conn, provider, token, interval, gaps, on_event, &mut fill,
        )
        .await;
        report.stored += fill.stored;
        report.requests += fill.requests;
        match result {
            Ok(()) => on_event(BackfillEvent::TokenDone {
                symbol: &token.symbol,
                stored: fill.stored,
            }),
            Err(FillError::Db(e)) => return Err(e),
            Err(FillError::Provider(e)) => {
                let error = e.to_string();
                on_event(BackfillEvent::TokenFailed {
                    symbol: &token.symbol,
                    error: error.clone(),
                });
                report.failures.push((token.symbol.clone(), error));
            }
        }
        let after = store::missing_ranges(&mut conn, token.id, interval, from, to).await?;
        report.missing_after += after.iter().map(|g| g.bars).sum::<i64>();
    }
    Ok(report)
}
