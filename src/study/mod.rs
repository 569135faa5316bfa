//! The event study: load events and prices, compute abnormal returns per token and
//! category (the pure `engine`), store the run.

pub mod engine;
pub mod stats;
pub mod store;

use chrono::Duration;
use sqlx::PgPool;

pub use engine::{StudyParams, Window};

#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error(
        "the market proxy {0} has no price bars: import its prices first (catalyst prices import)"
    )]
    NoMarket(String),
    #[error("database error in the study: {0}")]
    Db(#[from] sqlx::Error),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyReport {
    pub run_id: i64,
    pub events: usize,
    pub scored: usize,
}

/// Run the study over every event and replace the run's stored results.
pub async fn run(pool: &PgPool, params: &StudyParams) -> Result<StudyReport, StudyError> {
    let interval = params.interval;
    let events = store::load_events(pool).await?;
    let tokens = store::load_tokens(pool).await?;
    let proxy = tokens.iter().find(|t| t.symbol == params.market_proxy);

    // Only bars that some window can read: from the earliest window start to the latest end.
    let (mut outcomes, mut scored) = (Vec::with_capacity(events.len()), 0);
    if let (Some(first), Some(last)) = (events.first(), events.last()) {
        let min_start = params.windows.iter().map(|w| w.start).min().unwrap_or(0);
        let max_end = params.windows.iter().map(|w| w.end).max().unwrap_or(0);
        let step = Duration::seconds(interval.seconds());
        let from = first.event_time + step * (min_start - 2);
        let to = last.event_time + step * (max_end + 2);
        let series = store::load_series(pool, interval, from, to).await?;
        let market = proxy
            .and_then(|p| series.get(&p.id))
            .ok_or_else(|| StudyError::NoMarket(params.market_proxy.clone()))?;
        let inputs: Vec<engine::StudyToken<'_>> = tokens
            .iter()
            .map(|t| engine::StudyToken {
                token_id: t.id,
                series: series.get(&t.id),
                categories: &t.categories,
                is_proxy: Some(t.id) == proxy.map(|p| p.id),
            })
            .collect();
        for e in &events {
            let bar0 = engine::bar_zero(e.event_time, interval);
            let outcome = engine::study_event(bar0, &inputs, market, params);
            scored += usize::from(outcome.score.impact.is_some());
            outcomes.push((e.id, outcome));
        }
    }
    let run_id = store::save_run(pool, params, &outcomes, interval).await?;
    tracing::info!(run_id, events = events.len(), scored, "study complete");
    Ok(StudyReport {
        run_id,
        events: events.len(),
        scored,
    })
}
