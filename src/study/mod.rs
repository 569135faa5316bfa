//! The event study: load events and prices, build the in-memory universe, study every
//! event whose inputs changed (the pure `engine`), flag confounders, store the run.

pub mod engine;
pub mod export;
pub mod model;
pub mod significance;
pub mod stats;
pub mod store;
pub mod universe;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use engine::{bar_of, bar_zero, EventInput, EventOutcome};
pub use engine::{StudyParams, Window};
use universe::{TokenInput, Universe, UniverseError};

use crate::prices::BarInterval;

/// Events written per transaction.
const SAVE_BATCH: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error(transparent)]
    Universe(#[from] UniverseError),
    #[error("no price bars to study: import prices first (catalyst prices import)")]
    NoPrices,
    #[error("database error in the study: {0}")]
    Db(#[from] sqlx::Error),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Recompute every event, not only those whose inputs changed.
    pub all: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyReport {
    pub run_id: i64,
    pub events: usize,
    /// Events recomputed (the others' inputs were unchanged).
    pub computed: usize,
    pub scored: usize,
}

/// Run the study with `params` and store the results in the run of those parameters.
pub async fn run(
    pool: &PgPool,
    params: &StudyParams,
    opts: RunOptions,
) -> Result<StudyReport, StudyError> {
    let events = store::load_events(pool).await?;
    let run_id = store::begin_run(pool, params).await?;
    // One transaction for the whole run: readers (the web, the SQL views) see the previous
    // results until the new ones commit, and a crash or a lost connection leaves nothing
    // half-written.
    let result = async {
        let mut tx = pool.begin().await?;
        store::lock_run(&mut tx, run_id).await?;
        let (fingerprint, computed, scored) =
            run_inner(pool, &mut tx, params, opts, run_id, &events).await?;
        store::finish_run(&mut tx, run_id, "complete", Some(&fingerprint), computed).await?;
        tx.commit().await?;
        Ok::<_, StudyError>((computed, scored))
    }
    .await;
    if result.is_err() {
        if let Err(e) = store::mark_failed(pool, run_id).await {
            tracing::warn!(run_id, "could not mark the study run failed: {e}");
        }
    }
    let (computed, scored) = result?;
    tracing::info!(
        run_id,
        events = events.len(),
        computed,
        scored,
        "study complete"
    );
    Ok(StudyReport {
        run_id,
        events: events.len(),
        computed,
        scored,
    })
}

async fn run_inner(
    pool: &PgPool,
    tx: &mut PgConnection,
    params: &StudyParams,
    opts: RunOptions,
    run_id: i64,
    events: &[store::EventRow],
) -> Result<(String, usize, usize), StudyError> {
    let stored = store::stored_events(&mut *tx, run_id).await?;
    if events.is_empty() {
        return Ok((hex::encode(Sha256::digest(b"")), 0, 0));
    }
    let universe = load_universe(pool, params, events).await?;
    let interval = params.interval;
    let bar0s: Vec<i64> = events
        .iter()
        .map(|e| bar_zero(e.event_time, interval))
        .collect();
    let fingerprints: Vec<String> = events
        .iter()
        .zip(&bar0s)
        .map(|(e, &b)| fingerprint(&universe.1, params, e, b))
        .collect();
    let mut run_fp = Sha256::new();
    for f in &fingerprints {
        run_fp.update(f.as_bytes());
    }
    let run_fp = hex::encode(run_fp.finalize());
    let (universe, _) = universe;

    let todo: Vec<usize> = (0..events.len())
        .filter(|&i| {
            opts.all
                || params.exclude_confounders
                || stored.get(&events[i].id).map(|s| &s.0) != Some(&fingerprints[i])
        })
        .collect();
    let input = |i: usize, excluded: Vec<(i64, i64)>| EventInput {
        bar0: bar0s[i],
        target_categories: events[i].target_categories.clone(),
        target_tokens: events[i].target_tokens.clone(),
        excluded,
    };
    let mut outcomes: Vec<(usize, EventOutcome)> = todo
        .par_iter()
        .map(|&i| {
            (
                i,
                engine::study_event(&universe, &input(i, Vec::new()), params),
            )
        })
        .collect();

    // Scores of every event (fresh or stored) for the confounder rules.
    let mut scores: HashMap<usize, Option<f64>> = (0..events.len())
        .map(|i| (i, stored.get(&events[i].id).and_then(|s| s.1)))
        .collect();
    for (i, o) in &outcomes {
        scores.insert(*i, o.score.impact);
    }
    let confounders = confounders(params, &bar0s, &scores);
    if params.exclude_confounders {
        let span = params.event_span();
        outcomes = outcomes
            .into_par_iter()
            .map(|(i, o)| {
                let excluded: Vec<(i64, i64)> = confounders[i]
                    .1
                    .iter()
                    .map(|&j| {
                        (
                            bar0s[j] + i64::from(span.start),
                            bar0s[j] + i64::from(span.end),
                        )
                    })
                    .collect();
                if excluded.is_empty() {
                    (i, o)
                } else {
                    (
                        i,
                        engine::study_event(&universe, &input(i, excluded), params),
                    )
                }
            })
            .collect();
    }

    let computed = outcomes.len();
    let scored = (0..events.len())
        .filter(|i| scores.get(i).copied().flatten().is_some())
        .count();
    let rows: Vec<(i64, String, EventOutcome)> = outcomes
        .into_iter()
        .map(|(i, o)| (events[i].id, fingerprints[i].clone(), o))
        .collect();
    for batch in rows.chunks(SAVE_BATCH) {
        store::save_batch(&mut *tx, run_id, params, batch).await?;
    }
    let confounder_rows: Vec<(i64, Vec<i64>, Vec<i64>)> = confounders
        .into_iter()
        .enumerate()
        .map(|(i, (overlap, est))| {
            (
                events[i].id,
                overlap.into_iter().map(|j| events[j].id).collect(),
                est.into_iter().map(|j| events[j].id).collect(),
            )
        })
        .collect();
    store::save_confounders(&mut *tx, run_id, &confounder_rows).await?;
    Ok((run_fp, computed, scored))
}

/// Per event: the events whose event spans overlap its own, and the high-impact events
/// (|score| ≥ `confounder_score`) whose spans fall inside its estimation window.
pub fn confounders(
    params: &StudyParams,
    bar0s: &[i64],
    scores: &HashMap<usize, Option<f64>>,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    let span = params.event_span();
    let est = params.estimation;
    let mut order: Vec<usize> = (0..bar0s.len()).collect();
    order.sort_by_key(|&i| bar0s[i]);
    let sorted: Vec<i64> = order.iter().map(|&i| bar0s[i]).collect();
    (0..bar0s.len())
        .map(|i| {
            let b = bar0s[i];
            let within = |lo: i64, hi: i64| {
                let from = sorted.partition_point(|&x| x < lo);
                let to = sorted.partition_point(|&x| x < hi);
                order[from..to]
                    .iter()
                    .copied()
                    .filter(|&j| j != i)
                    .collect::<Vec<usize>>()
            };
            let len = i64::from(span.len());
            let overlapping = within(b - len + 1, b + len);
            // Another event's span [bj+span.start, bj+span.end) meets [b+est.start, b+est.end).
            let in_estimation = within(
                b + i64::from(est.start) - i64::from(span.end) + 1,
                b + i64::from(est.end) - i64::from(span.start),
            )
            .into_iter()
            .filter(|j| {
                scores
                    .get(j)
                    .copied()
                    .flatten()
                    .is_some_and(|s| s >= params.confounder_score)
            })
            .filter(|j| !overlapping.contains(j))
            .collect();
            (overlapping, in_estimation)
        })
        .collect()
}

/// Closes per token on the grid, and their prefix counts and sums (for fingerprints).
pub struct CloseIndex {
    pub first_bar: i64,
    pub by_token: Vec<(i32, Vec<f64>, Vec<f64>)>,
}

/// SHA-256 of everything an event's results depend on: the parameters, its time and
/// targets, and per token the count and sum of closes over its estimation and event bars.
fn fingerprint(idx: &CloseIndex, params: &StudyParams, e: &store::EventRow, bar0: i64) -> String {
    let mut h = Sha256::new();
    h.update(params.key().as_bytes());
    h.update(e.event_time.to_rfc3339().as_bytes());
    h.update(format!("{:?}{:?}", e.target_categories, e.target_tokens).as_bytes());
    let span = params.event_span();
    let lo = bar0 + i64::from(params.estimation.start.min(span.start)) - 1 - idx.first_bar;
    let hi = bar0 + i64::from(span.end.max(params.estimation.end)) - idx.first_bar;
    for (id, count, sum) in &idx.by_token {
        let clamp = |v: i64| v.clamp(0, count.len() as i64 - 1) as usize;
        let (a, b) = (clamp(lo), clamp(hi));
        h.update(id.to_le_bytes());
        h.update((count[b] - count[a]).to_le_bytes());
        h.update((sum[b] - sum[a]).to_le_bytes());
    }
    hex::encode(h.finalize())
}

/// Load the tokens' closes around the events and build the universe.
async fn load_universe(
    pool: &PgPool,
    params: &StudyParams,
    events: &[store::EventRow],
) -> Result<(Universe, CloseIndex), StudyError> {
    let interval = params.interval;
    let tokens = store::load_tokens(pool).await?;
    let span = params.event_span();
    let step = Duration::seconds(interval.seconds());
    let first = events
        .iter()
        .map(|e| e.event_time)
        .min()
        .unwrap_or_default();
    let last = events
        .iter()
        .map(|e| e.event_time)
        .max()
        .unwrap_or_default();
    let from = first + step * (params.estimation.start.min(span.start) - 2);
    let to = last + step * (span.end + 2);

    // Daily studies use stored daily bars, else each UTC day's last hourly close.
    let resample = interval == BarInterval::Day && !store::has_bars(pool, interval).await?;
    let source_interval = if resample {
        BarInterval::Hour
    } else {
        interval
    };
    let bars = store::load_bars(pool, source_interval, from, to + Duration::days(1)).await?;
    if bars.is_empty() {
        return Err(StudyError::NoPrices);
    }
    let daily_close = |t: DateTime<Utc>| {
        use chrono::Timelike;
        t.hour() == 23
    };
    let first_bar = bar_of(from, interval);
    let len = (bar_of(to, interval) - first_bar + 1).max(1) as usize;
    let pos: HashMap<i32, usize> = tokens.iter().enumerate().map(|(i, t)| (t.id, i)).collect();
    let mut closes = vec![vec![f64::NAN; len]; tokens.len()];
    let mut caps: Vec<Option<Vec<f64>>> = vec![None; tokens.len()];
    for b in &bars {
        let Some(&ti) = pos.get(&b.token_id) else {
            continue;
        };
        if resample && !daily_close(b.open_time) {
            continue;
        }
        let g = bar_of(b.open_time, interval) - first_bar;
        if g < 0 || g as usize >= len {
            continue;
        }
        closes[ti][g as usize] = b.close;
        if let Some(cap) = b.market_cap {
            caps[ti].get_or_insert_with(|| vec![f64::NAN; len])[g as usize] = cap;
        }
    }
    let by_token = tokens
        .iter()
        .zip(&closes)
        .map(|(t, c)| {
            let mut count = Vec::with_capacity(len + 1);
            let mut sum = Vec::with_capacity(len + 1);
            let (mut n, mut s) = (0.0, 0.0);
            count.push(n);
            sum.push(s);
            for v in c {
                if v.is_finite() {
                    n += 1.0;
                    s += v;
                }
                count.push(n);
                sum.push(s);
            }
            (t.id, count, sum)
        })
        .collect();
    let inputs = tokens
        .into_iter()
        .zip(closes)
        .zip(caps)
        .map(|((t, closes), caps)| TokenInput {
            id: t.id,
            symbol: t.symbol,
            categories: t.categories,
            closes,
            caps,
        })
        .collect();
    let universe = Universe::build(first_bar, len, inputs, params.return_kind, params.proxy)?;
    Ok((
        universe,
        CloseIndex {
            first_bar,
            by_token,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confounders_overlap_and_estimation() {
        let params = StudyParams::hourly(); // span [-24, 72): 96 bars; estimation [-744, -24)
        let bar0s = [10_000, 10_050, 10_500, 9_500];
        let scores: HashMap<usize, Option<f64>> = [
            (0, Some(5.0)),
            (1, Some(1.0)),
            (2, Some(2.0)),
            (3, Some(4.0)),
        ]
        .into();
        let c = confounders(&params, &bar0s, &scores);
        assert_eq!(c[0].0, vec![1], "10_000 and 10_050 overlap");
        assert_eq!(
            c[0].1,
            vec![3],
            "9_500 (score 4) lies in 10_000's estimation window"
        );
        assert_eq!(
            c[2].1,
            vec![0],
            "only the high-impact event within reach of 10_500"
        );
        assert!(c[3].0.is_empty() && c[3].1.is_empty());
    }
}
