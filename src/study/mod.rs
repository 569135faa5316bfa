//! The event study: load events and prices, build the in-memory universe, study every
//! event whose inputs changed (the pure `engine`), flag confounders, store the run.

pub mod activity;
pub mod activity_store;
pub mod attribution;
pub mod calibration;
pub mod engine;
pub mod export;
pub mod model;
pub mod null;
pub mod placebo;
pub mod score;
pub mod series;
pub mod significance;
pub mod stats;
pub mod store;
pub mod universe;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use attribution::Claim;
use engine::{bar_of, bar_zero, EventInput, EventOutcome};
pub use engine::{StudyParams, Window};
use score::{EventScore, ModelCtx, ScoreInput, Scorer, Targets};
use universe::{TokenInput, Universe, UniverseError};

use crate::prices::BarInterval;

/// Events computed, encoded and written together: memory holds two batches (the one being
/// written and the next being computed), whatever the number of events.
const SAVE_BATCH: usize = 250;

#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error(transparent)]
    Universe(#[from] UniverseError),
    #[error("no price bars to study: import prices first (catalyst prices import)")]
    NoPrices,
    #[error("database error in the study: {0}")]
    Db(#[from] sqlx::Error),
    #[error("writing the study's results: {0}")]
    Store(#[from] store::StoreError),
    #[error("the study's computing thread failed: {0}")]
    Worker(String),
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

/// The per-event tables a run writes when it recomputes events.
const STUDY_TABLES: [&str; 5] = [
    "study_token_outcomes",
    "study_dropped_tokens",
    "study_category_outcomes",
    "study_market_moves",
    "study_activity",
];

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
        store::save_windows(&mut tx, run_id, params).await?;
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
    // Every score is rewritten each run; the per-event tables only when events were
    // recomputed. Fresh statistics keep the list's plans right at once. The tables the
    // pages count from are also vacuumed: the scores (the live status, the list's header)
    // and the category rows (the list sorted by a category's |CAAR| counts the stories
    // with one). Until their pages are marked all-visible, each count reads the table
    // (5 ms for the scores at 10,000 events, 31 ms for the category rows) instead of an
    // index (under 2 ms). A vacuum passes over the pages written since the last one.
    let mut vacuumed = vec!["study_event_scores"];
    if computed > 0 {
        vacuumed.push("study_category_outcomes");
        let rest: Vec<&'static str> = STUDY_TABLES
            .into_iter()
            .filter(|t| !vacuumed.contains(t))
            .collect();
        crate::db::analyze(pool, &rest).await;
    }
    crate::db::vacuum_analyze(pool, &vacuumed).await;
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
        store::clear_scores(&mut *tx, run_id).await?;
        return Ok((hex::encode(Sha256::digest(b"")), 0, 0));
    }
    let Loaded {
        universe,
        closes,
        alternative,
    } = load_universe(pool, params, events).await?;
    // Shared with the thread that computes the tables while batches are written.
    let universe = Arc::new(universe);
    let interval = params.interval;
    let bar0s: Vec<i64> = events
        .iter()
        .map(|e| bar_zero(e.event_time, interval))
        .collect();
    let fingerprints: Vec<String> = events
        .iter()
        .zip(&bar0s)
        .map(|(e, &b)| fingerprint(&closes, params, e, b))
        .collect();
    let mut run_fp = Sha256::new();
    for f in &fingerprints {
        run_fp.update(f.as_bytes());
    }
    let run_fp = hex::encode(run_fp.finalize());

    // The null: ordinary hours outside every event's span, per model, built once.
    let started = std::time::Instant::now();
    let eligible = null::eligible_hours(&universe, params, &bar0s);
    let hours = null::sample_hours(&eligible, params.null_hours, params.null_seed);
    let null_primary = null::build(&universe, params, &hours);
    let null_alternative = alternative.as_ref().map(|u| null::build(u, params, &hours));
    let mut models = vec![ModelCtx {
        u: &universe,
        null: &null_primary,
    }];
    if let (Some(u), Some(n)) = (&alternative, &null_alternative) {
        models.push(ModelCtx { u, null: n });
    }
    let scorer = Scorer::new(params, models);
    tracing::info!(
        ordinary_hours = hours.len(),
        eligible = eligible.len(),
        thin = null_primary.thin.len(),
        secs = started.elapsed().as_secs_f64(),
        "null of ordinary hours built"
    );

    let score_input = |i: usize, excluded: Vec<(i64, i64)>| ScoreInput {
        bar0: bar0s[i],
        mid_bar: events[i].event_time.timestamp() % interval.seconds() != 0
            || events[i].event_time.timestamp_subsec_nanos() > 0,
        targets: Targets {
            tokens: events[i].subject_tokens.clone(),
            categories: events[i].subject_categories.clone(),
            market_wide: events[i].market_wide,
            tagged: events[i].tagged,
        },
        excluded,
    };
    let started = std::time::Instant::now();
    let mut scores: Vec<EventScore> = (0..events.len())
        .into_par_iter()
        .map(|i| scorer.score(&score_input(i, Vec::new())))
        .collect();
    let impact: HashMap<usize, Option<f64>> = scores
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s.impact))
        .collect();
    let confounders = ConfounderIndex::new(params, &bar0s, &impact);
    let span = params.event_span();
    let excluded_of = |i: usize| -> Vec<(i64, i64)> {
        if !params.exclude_confounders {
            return Vec::new();
        }
        confounders
            .of(i)
            .1
            .iter()
            .map(|&j| {
                (
                    bar0s[j] + i64::from(span.start),
                    bar0s[j] + i64::from(span.end),
                )
            })
            .collect()
    };
    if params.exclude_confounders {
        scores = (0..events.len())
            .into_par_iter()
            .map(|i| scorer.score(&score_input(i, excluded_of(i))))
            .collect();
    }
    tracing::info!(
        events = events.len(),
        secs = started.elapsed().as_secs_f64(),
        "events scored"
    );
    // A story whose windows read bars not in yet is awaiting prices (and says until
    // when), not "unmeasurable": the next run after they arrive scores it.
    if let Some(newest) = newest_close(&universe, interval) {
        for (e, s) in events.iter().zip(scores.iter_mut()) {
            let maturity = params.maturity(e.event_time);
            if s.unmeasurable() && maturity.complete_at > newest {
                s.not_ranked = Some(score::awaiting_reason(&maturity, interval));
            }
        }
    }

    // The tables, for events whose inputs changed.
    let todo: Vec<usize> = (0..events.len())
        .filter(|&i| {
            opts.all
                || params.exclude_confounders
                || stored.get(&events[i].id).map(|s| &s.0) != Some(&fingerprints[i])
        })
        .collect();
    let computed = todo.len();
    let jobs: Vec<(i64, EventInput)> = todo
        .iter()
        .map(|&i| {
            (
                events[i].id,
                EventInput {
                    bar0: bar0s[i],
                    excluded: excluded_of(i),
                },
            )
        })
        .collect();
    write_outcomes(&mut *tx, run_id, params, &universe, jobs).await?;

    // A move shared by several stories is credited to one (attribution.rs).
    let bar_seconds = interval.seconds();
    // Every ranked story claims the move behind its score, significant or not: stories
    // about one thing at one time are grouped whatever the strength of the move.
    let (claimants, claims): (Vec<usize>, Vec<Claim>) = (0..events.len())
        .filter(|&i| scores[i].not_ranked.is_none() && scores[i].ln_p.is_some())
        .filter_map(|i| {
            let s = &scores[i];
            let top = s.top_component()?;
            Some((
                i,
                Claim {
                    reported_at: events[i].event_time.timestamp(),
                    series: top.series,
                    direction: if top.primary().abnormal >= 0.0 { 1 } else { -1 },
                    bars: (
                        bar0s[i] + i64::from(top.window.start),
                        bar0s[i] + i64::from(top.window.end),
                    ),
                    peak_bar: s.peak_bar.unwrap_or(bar0s[i]),
                    ln_p: s.ln_p.unwrap_or(0.0),
                },
            ))
        })
        .unzip();
    let credits = attribution::attribute(&claims, bar_seconds);
    let mut credited_to: HashMap<usize, (Option<i64>, usize)> = HashMap::new();
    for (k, c) in credits.iter().enumerate() {
        let i = claimants[k];
        let lead = claimants[c.credited];
        credited_to.insert(i, ((lead != i).then(|| events[lead].id), c.episode_size));
    }

    // Benjamini–Hochberg across the ranked events.
    let ranked: Vec<usize> = (0..events.len())
        .filter(|&i| scores[i].ln_p.is_some() && scores[i].not_ranked.is_none())
        .collect();
    let ps: Vec<f64> = ranked
        .iter()
        .map(|&i| scores[i].ln_p.unwrap_or(0.0).exp())
        .collect();
    let q: HashMap<usize, f64> = ranked
        .iter()
        .copied()
        .zip(calibration::benjamini_hochberg(&ps))
        .collect();

    let summary = params.ranking_window;
    let alt_label = alternative.as_ref().map(|u| u.proxy.as_str());
    let ids = |js: Vec<usize>| js.into_iter().map(|j| events[j].id).collect::<Vec<i64>>();
    store::clear_scores(&mut *tx, run_id).await?;
    // In chunks, each row with its confounder lists: every event's lists at once are too
    // many at 100,000 events (about 1,800 overlapping stories each).
    for chunk in (0..events.len()).collect::<Vec<_>>().chunks(1000) {
        let score_rows: Vec<store::ScoreRow> = chunk
            .par_iter()
            .map(|&i| {
                let frame = series::Frame::new(&universe, params, bar0s[i], &[]);
                let market = series::market_fit(&universe, &frame, &[]).and_then(|f| {
                    series::market_stat(&universe, &f, frame.window(&universe, summary))
                        .map(|st| (st.raw, st.t))
                });
                let (credited, episode_size) = credited_to.get(&i).copied().unwrap_or((None, 1));
                let (overlapping, estimation) = confounders.of(i);
                store::ScoreRow {
                    event_id: events[i].id,
                    fingerprint: &fingerprints[i],
                    score: &scores[i],
                    market,
                    q_value: q.get(&i).copied(),
                    credited_to: credited,
                    episode_size,
                    move_peak_at: scores[i]
                        .peak_bar
                        .and_then(|b| DateTime::from_timestamp(b * bar_seconds, 0)),
                    overlapping_events: ids(overlapping),
                    estimation_confounders: ids(estimation),
                }
            })
            .collect();
        store::copy_scores(&mut *tx, run_id, alt_label, &score_rows).await?;
    }

    // Volume, volatility and taker flow (hourly runs), calibrated at the same ordinary
    // hours as the returns.
    if interval == BarInterval::Hour {
        let started = std::time::Instant::now();
        let data = activity_store::load(pool, &universe).await?;
        let loaded = started.elapsed().as_secs_f64();
        // Only the tokens some event keeps need a null of their own.
        let mut wanted: Vec<i32> = events
            .iter()
            .flat_map(|e| activity_tokens(&universe, e))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let null = activity::ActivityNull::build(&data, params, &hours, Some(&wanted));
        let null_secs = started.elapsed().as_secs_f64() - loaded;
        // In chunks of events: dozens of rows per event add up at 100,000 events.
        let mut written = 0;
        activity_store::clear(&mut *tx, run_id).await?;
        for chunk in (0..events.len()).collect::<Vec<_>>().chunks(2000) {
            let rows: Vec<(i64, activity::ActivityRow)> = chunk
                .par_iter()
                .flat_map_iter(|&i| {
                    let tokens = activity_tokens(&universe, &events[i]);
                    activity::event_rows(&data, params, &null, bar0s[i], &tokens)
                        .into_iter()
                        .map(move |r| (events[i].id, r))
                })
                .collect();
            activity_store::insert(&mut *tx, run_id, &rows).await?;
            written += rows.len();
        }
        tracing::info!(
            rows = written,
            load_secs = loaded,
            null_secs,
            secs = started.elapsed().as_secs_f64(),
            "volume and volatility measured"
        );
    }
    let scored = ranked.len();

    Ok((run_fp, computed, scored))
}

/// Compute, encode and write the tables of `jobs` in batches of [`SAVE_BATCH`] events: a
/// blocking thread computes and encodes batch k + 1 (on all cores but one, with rayon)
/// while the connection writes batch k, so the database's work and ours overlap and at
/// most two batches are in memory.
async fn write_outcomes(
    tx: &mut PgConnection,
    run_id: i64,
    params: &StudyParams,
    universe: &Arc<Universe>,
    jobs: Vec<(i64, EventInput)>,
) -> Result<(), StudyError> {
    let copy_limit = crate::db::statement_timeout(
        crate::db::STATEMENT_TIMEOUT_VAR,
        crate::db::STATEMENT_TIMEOUT,
    )
    .unwrap_or(crate::db::STATEMENT_TIMEOUT);
    let copy_limit = if copy_limit.is_zero() {
        std::time::Duration::from_secs(u64::from(u32::MAX))
    } else {
        copy_limit
    };
    let started = std::time::Instant::now();
    let mut batches = jobs
        .chunks(SAVE_BATCH)
        .map(<[(i64, EventInput)]>::to_vec)
        .collect::<Vec<_>>()
        .into_iter();
    // The database takes a core to store the rows (its per-row work is the bottleneck), so
    // the computation leaves it one: on 2 cores, one computes while the server stores.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(cores.saturating_sub(1).max(1))
            .build()
            .map_err(|e| StudyError::Worker(e.to_string()))?,
    );
    let spawn = |batch: Vec<(i64, EventInput)>| {
        let universe = Arc::clone(universe);
        let params = params.clone();
        let threads = Arc::clone(&threads);
        tokio::task::spawn_blocking(move || {
            let outcomes: Vec<(i64, EventOutcome)> = threads.install(|| {
                batch
                    .into_par_iter()
                    .map(|(id, input)| (id, engine::study_event(&universe, &input, &params)))
                    .collect()
            });
            store::encode_batch(run_id, &params, &outcomes)
        })
    };
    let mut pairs = 0;
    let mut timings = store::WriteTimings::default();
    let mut waited = 0.0;
    let mut next = batches.next().map(spawn);
    while let Some(handle) = next.take() {
        let wait = std::time::Instant::now();
        let encoded = handle
            .await
            .map_err(|e| StudyError::Worker(e.to_string()))?;
        waited += wait.elapsed().as_secs_f64();
        next = batches.next().map(spawn);
        pairs += encoded.pairs;
        store::write_batch(&mut *tx, run_id, encoded, copy_limit, &mut timings).await?;
    }
    tracing::info!(
        pairs,
        secs = started.elapsed().as_secs_f64(),
        waiting_for_compute_secs = waited,
        %timings,
        "token-event results written"
    );
    Ok(())
}

/// The tokens whose own volume and volatility an event keeps: its subject tokens, the
/// members of its subject categories, and BTC and ETH (the market's own activity).
fn activity_tokens(u: &Universe, e: &store::EventRow) -> Vec<i32> {
    let mut v: Vec<i32> = u
        .tokens
        .iter()
        .filter(|t| {
            e.subject_tokens.contains(&t.id)
                || t.categories
                    .iter()
                    .any(|c| e.subject_categories.contains(c))
                || t.symbol == "BTC"
                || t.symbol == "ETH"
        })
        .map(|t| t.id)
        .collect();
    v.sort_unstable();
    v
}

/// The close of the newest bar with a market return: the prices are in up to there.
fn newest_close(u: &Universe, interval: BarInterval) -> Option<DateTime<Utc>> {
    let last = u.markets.first()?.iter().rposition(|r| r.is_finite())?;
    DateTime::from_timestamp((u.first_bar + last as i64 + 1) * interval.seconds(), 0)
}

/// The false-positive rates of the score at ordinary hours (`placebo.rs`), averaged over
/// `splits` random splits of the ordinary hours: in each, `hours` placebo hours per story
/// (from a pool a quarter larger, since a story cannot be scored at every hour) judged by
/// a null of at most `null_hours` of the other ordinary hours. Split k uses seed `seed + k`.
pub async fn placebo_report(
    pool: &PgPool,
    params: &StudyParams,
    hours: usize,
    null_hours: usize,
    splits: usize,
    seed: u64,
) -> Result<Vec<placebo::FprRow>, StudyError> {
    let events = store::load_events(pool).await?;
    let Loaded {
        universe,
        alternative,
        ..
    } = load_universe(pool, params, &events).await?;
    let bar0s: Vec<i64> = events
        .iter()
        .map(|e| bar_zero(e.event_time, params.interval))
        .collect();
    let eligible = null::eligible_hours(&universe, params, &bar0s);
    let slugs = store::category_slugs(pool).await?;
    let slug = |id: i32| slugs.get(&id).cloned().unwrap_or_else(|| id.to_string());
    let stories = placebo::stories(&universe, params, &slug);
    let runs: Vec<Vec<placebo::FprRow>> = (0..splits.max(1) as u64)
        .map(|k| {
            let (pool_hours, null_set) =
                placebo::split_hours(&eligible, hours + hours / 4, null_hours, seed + k);
            let split = placebo::Split {
                pool: &pool_hours,
                n_test: hours,
                null_hours: &null_set,
                seed: seed + k,
            };
            placebo::evaluate(&universe, alternative.as_ref(), params, &split, &stories)
        })
        .collect();
    Ok(placebo::average(&runs))
}

/// The false-positive rates of the volume, volatility and taker-buy tests at ordinary
/// hours, averaged over `splits` random splits (split k uses seed `seed + k`): in each,
/// `hours` test hours, and a null of [`activity::NULL_HOURS`] other ordinary hours (as a
/// study run builds it).
pub async fn activity_placebo_report(
    pool: &PgPool,
    params: &StudyParams,
    hours: usize,
    splits: usize,
    seed: u64,
) -> Result<Vec<activity::FprRow>, StudyError> {
    let events = store::load_events(pool).await?;
    let Loaded { universe, .. } = load_universe(pool, params, &events).await?;
    let bar0s: Vec<i64> = events
        .iter()
        .map(|e| bar_zero(e.event_time, params.interval))
        .collect();
    let eligible = null::eligible_hours(&universe, params, &bar0s);
    let data = activity_store::load(pool, &universe).await?;
    let runs: Vec<Vec<activity::FprRow>> = (0..splits.max(1) as u64)
        .map(|k| {
            let (test, null_set) =
                placebo::split_hours(&eligible, hours, activity::NULL_HOURS * 8, seed + k);
            activity::false_positive_rates(&data, params, &null_set, &test, 0.05)
        })
        .collect();
    Ok(activity::average(&runs))
}

/// Per event: the events whose event spans overlap its own, and the high-impact events
/// (|score| ≥ `confounder_score`) whose spans fall inside its estimation window.
pub fn confounders(
    params: &StudyParams,
    bar0s: &[i64],
    scores: &HashMap<usize, Option<f64>>,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    let index = ConfounderIndex::new(params, bar0s, scores);
    (0..bar0s.len()).map(|i| index.of(i)).collect()
}

/// The events by bar 0, to list one event's confounders at a time: with many events the
/// lists of all of them do not fit in memory (100,000 events over 15 months overlap
/// about 1,800 others each).
pub struct ConfounderIndex<'a> {
    params: &'a StudyParams,
    bar0s: &'a [i64],
    scores: &'a HashMap<usize, Option<f64>>,
    order: Vec<usize>,
    sorted: Vec<i64>,
}

impl<'a> ConfounderIndex<'a> {
    pub fn new(
        params: &'a StudyParams,
        bar0s: &'a [i64],
        scores: &'a HashMap<usize, Option<f64>>,
    ) -> Self {
        let mut order: Vec<usize> = (0..bar0s.len()).collect();
        order.sort_by_key(|&i| bar0s[i]);
        let sorted: Vec<i64> = order.iter().map(|&i| bar0s[i]).collect();
        ConfounderIndex {
            params,
            bar0s,
            scores,
            order,
            sorted,
        }
    }

    /// Event `i`'s overlapping events and its estimation-window confounders.
    pub fn of(&self, i: usize) -> (Vec<usize>, Vec<usize>) {
        let params = self.params;
        let span = params.event_span();
        let est = params.estimation;
        let b = self.bar0s[i];
        let within = |lo: i64, hi: i64| {
            let from = self.sorted.partition_point(|&x| x < lo);
            let to = self.sorted.partition_point(|&x| x < hi);
            self.order[from..to]
                .iter()
                .copied()
                .filter(|&j| j != i)
                .collect::<Vec<usize>>()
        };
        let len = i64::from(span.len());
        let (lo, hi) = (b - len + 1, b + len);
        let overlapping = within(lo, hi);
        // Another event's span [bj+span.start, bj+span.end) meets [b+est.start, b+est.end).
        let in_estimation = within(
            b + i64::from(est.start) - i64::from(span.end) + 1,
            b + i64::from(est.end) - i64::from(span.start),
        )
        .into_iter()
        .filter(|j| {
            self.scores
                .get(j)
                .copied()
                .flatten()
                .is_some_and(|s| s >= params.confounder_score)
        })
        // Not already listed as overlapping (a range test: the list is ~1,800 long at
        // 100,000 events).
        .filter(|&j| !(lo..hi).contains(&self.bar0s[j]))
        .collect();
        (overlapping, in_estimation)
    }
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
    h.update(
        format!(
            "{:?}{:?}{}{}",
            e.subject_categories, e.subject_tokens, e.market_wide, e.tagged
        )
        .as_bytes(),
    );
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

/// The universes of a run: the run's market model and the alternative one, over the
/// whole price history (the null needs ordinary hours from all of it).
struct Loaded {
    universe: Universe,
    closes: CloseIndex,
    alternative: Option<Universe>,
}

/// Load every token's closes and build the universes.
async fn load_universe(
    pool: &PgPool,
    params: &StudyParams,
    events: &[store::EventRow],
) -> Result<Loaded, StudyError> {
    let interval = params.interval;
    let tokens = store::load_tokens(pool).await?;
    let span = params.event_span();
    let step = Duration::seconds(interval.seconds());
    // Daily studies use stored daily bars, else each UTC day's last hourly close.
    let resample = interval == BarInterval::Day && !store::has_bars(pool, interval).await?;
    let source_interval = if resample {
        BarInterval::Hour
    } else {
        interval
    };
    let Some((first_price, last_price)) = store::bar_span(pool, source_interval).await? else {
        return Err(StudyError::NoPrices);
    };
    let first = events
        .iter()
        .map(|e| e.event_time)
        .min()
        .unwrap_or(first_price)
        .min(first_price);
    let last = events
        .iter()
        .map(|e| e.event_time)
        .max()
        .unwrap_or(last_price)
        .max(last_price);
    let from = first + step * (params.estimation.start.min(span.start).min(0) - 2);
    let to = last + step * (span.end + 2);
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
    let inputs: Vec<TokenInput> = tokens
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
    let alternative = match params.alternative() {
        Some(proxy) => {
            match Universe::build(first_bar, len, inputs.clone(), params.return_kind, proxy) {
                Ok(u) => Some(u),
                Err(e) => {
                    tracing::warn!("no alternative market model ({}): {e}", proxy.as_str());
                    None
                }
            }
        }
        None => None,
    };
    let universe = Universe::build(first_bar, len, inputs, params.return_kind, params.proxy)?;
    Ok(Loaded {
        universe,
        closes: CloseIndex {
            first_bar,
            by_token,
        },
        alternative,
    })
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
