//! Moves: the market's own moves, found in the prices, and the stories that explain them.
//!
//! The study starts from a story and asks what the market did; this stage starts from
//! the market. `scan` loads every hourly series (the market proxy, every category
//! portfolio of at least 5 tokens, every token), finds its abnormal moves against
//! ordinary hours (`detect`), places each on the finest bars stored (`fine`), matches
//! it with the stories about the moved series (`matching`, with the ranking's own
//! attribution rule) and stores the lot (`store`). See docs/moves.md.

pub mod detect;
pub mod false_alarms;
pub mod fine;
pub mod matching;
pub mod series;
pub mod store;

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use rayon::prelude::*;
use sqlx::PgPool;

use self::detect::{Grid, HourlyMove, Params};
use self::series::{build, ScanSeries};
use crate::study::series::Series;

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error("no hourly price bars stored: import prices first (catalyst prices import)")]
    NoBars,
    #[error("the market proxy BTC has no hourly bars: the scan measures moves against it")]
    NoMarket,
    #[error("database error while scanning moves: {0}")]
    Db(#[from] sqlx::Error),
}

/// What a scan did.
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    pub series: usize,
    pub hours: usize,
    pub moves: usize,
    pub refined: usize,
    pub explained: usize,
}

/// One move found, before it is stored.
#[derive(Debug, Clone)]
pub struct Found {
    pub series: usize,
    pub hourly: HourlyMove,
    pub onset: i64,
    pub extreme: i64,
    pub resolution: &'static str,
}

fn ts(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).single().unwrap_or_default()
}

/// Find every series' moves on the hourly grid (both cores).
pub fn detect_all(
    grid: &Grid,
    series: &[ScanSeries],
    events: &[i64],
    params: &Params,
) -> Vec<Found> {
    series
        .par_iter()
        .enumerate()
        .flat_map_iter(|(i, s)| {
            detect::scan_series(grid, &s.basis, &s.raw, events, params)
                .into_iter()
                .map(move |m| Found {
                    series: i,
                    onset: grid.at(m.onset),
                    extreme: grid.at(m.extreme),
                    hourly: m,
                    resolution: "1h",
                })
        })
        .collect()
}

/// Everything a scan reads: the hourly grid, the series, the tokens and the stories.
pub struct Loaded {
    pub grid: Grid,
    pub series: Vec<ScanSeries>,
    pub tokens: Vec<crate::study::store::TokenRow>,
    pub events: Vec<crate::study::store::EventRow>,
}

/// Load the stored hourly bars and stories and build the series.
pub async fn load(pool: &PgPool) -> Result<Loaded, MoveError> {
    use crate::prices::BarInterval;
    let tokens = crate::study::store::load_tokens(pool).await?;
    let (from, to) = crate::study::store::bar_span(pool, BarInterval::Hour)
        .await?
        .ok_or(MoveError::NoBars)?;
    let bars = crate::study::store::load_bars(pool, BarInterval::Hour, from, to).await?;
    let events = crate::study::store::load_events(pool).await?;
    let grid = Grid {
        start: from.timestamp(),
        len: ((to - from).num_seconds() / 3600 + 1) as usize,
    };
    let mut closes: HashMap<i32, Vec<f64>> = HashMap::new();
    for b in &bars {
        let i = ((b.open_time.timestamp() - grid.start) / 3600) as usize;
        if let Some(slot) = closes
            .entry(b.token_id)
            .or_insert_with(|| vec![f64::NAN; grid.len])
            .get_mut(i)
        {
            *slot = b.close;
        }
    }
    drop(bars);
    let series = build(&grid, &tokens, &closes).ok_or(MoveError::NoMarket)?;
    Ok(Loaded {
        grid,
        series,
        tokens,
        events,
    })
}

/// The grid, the series and the event times (what the false-alarm measure needs).
pub async fn load_series(pool: &PgPool) -> Result<(Grid, Vec<ScanSeries>, Vec<i64>), MoveError> {
    let l = load(pool).await?;
    let times = l.events.iter().map(|e| e.event_time.timestamp()).collect();
    Ok((l.grid, l.series, times))
}

/// Two moves of one series and basis never share an onset (the stored key): keep the
/// stronger.
fn dedupe(found: &mut Vec<Found>) {
    found.sort_by(|a, b| {
        (a.series, a.onset)
            .cmp(&(b.series, b.onset))
            .then(a.hourly.p_value.total_cmp(&b.hourly.p_value))
    });
    found.dedup_by(|later, kept| later.series == kept.series && later.onset == kept.onset);
}

/// Scan the stored prices and replace the stored moves and matches.
pub async fn scan(pool: &PgPool, params: &Params) -> Result<ScanReport, MoveError> {
    let Loaded {
        grid,
        series: all,
        tokens,
        events,
    } = load(pool).await?;
    let event_times: Vec<i64> = events.iter().map(|e| e.event_time.timestamp()).collect();
    let (found, all) = tokio::task::spawn_blocking({
        let params = *params;
        move || {
            let f = detect_all(&grid, &all, &event_times, &params);
            (f, all)
        }
    })
    .await
    .map_err(|e| MoveError::Db(sqlx::Error::Protocol(format!("scan thread: {e}"))))?;
    let mut found = found;
    dedupe(&mut found);
    let refined = place_on_fine_bars(pool, &all, &mut found).await?;
    dedupe(&mut found);

    // Rows and matching.
    let mut rows = Vec::with_capacity(found.len());
    let mut for_match = Vec::with_capacity(found.len());
    for f in &found {
        let s = &all[f.series];
        let c = detect::cumulative(&s.basis);
        let k0 = f.hourly.onset.saturating_sub(6);
        let k1 = (f.hourly.extreme + 6).min(grid.len);
        let base = c[k0];
        let path: Vec<f64> = c[k0..=k1].iter().map(|v| v - base).collect();
        rows.push(store::MoveRow {
            series_kind: match s.series {
                Series::Market => "market",
                Series::Category { .. } => "category",
                Series::Token { .. } => "token",
            },
            token_id: match s.series {
                Series::Token { token_id } => Some(token_id),
                _ => None,
            },
            category_id: match s.series {
                Series::Category { category_id } => Some(category_id),
                _ => None,
            },
            basis: s.basis_name,
            direction: i16::from(f.hourly.direction),
            onset: ts(f.onset),
            extreme_at: ts(f.extreme),
            resolution: f.resolution,
            size_log: f.hourly.size_log,
            raw_log: f.hourly.raw_log,
            z: f.hourly.z,
            window_hours: (f.hourly.window.1 - f.hourly.window.0) as i32,
            p_value: f.hourly.p_value,
            null_hours: f.hourly.null_hours as i32,
            n_tokens: s.n_tokens as i32,
            path_start: ts(grid.at(k0)),
            path_step_s: 3600,
            path: path.iter().map(|&v| v as f32).collect(),
        });
        for_match.push(matching::MoveForMatch {
            series: s.series,
            direction: f.hourly.direction,
            onset: f.onset,
            extreme: f.extreme,
            peak_at: grid.at(f.hourly.peak_bar),
            path_start: grid.at(k0),
            path_step: 3600,
            path,
        });
    }
    let stories: Vec<matching::StoryForMatch> = events
        .iter()
        .map(|e| matching::StoryForMatch {
            event_id: e.id,
            reported_at: e.event_time.timestamp(),
            subject_tokens: e.subject_tokens.clone(),
            subject_categories: e.subject_categories.clone(),
            market_wide: e.market_wide,
        })
        .collect();
    let token_cats: HashMap<i32, &Vec<i32>> =
        tokens.iter().map(|t| (t.id, &t.categories)).collect();
    let is_member = |c: i32, t: i32| token_cats.get(&t).is_some_and(|cs| cs.contains(&c));
    let matches = matching::match_moves(&for_match, &stories, &is_member);
    let match_rows: Vec<store::MatchRow> = matches
        .iter()
        .map(|m| store::MatchRow {
            move_index: m.move_index,
            event_id: m.event_id,
            first_report: ts(m.reported_at),
            lag_s: m.lag_s,
            share_before: m.share_before,
            is_best: m.is_best,
        })
        .collect();
    let explained = matches.iter().filter(|m| m.is_best).count();
    store::save(pool, &rows, &match_rows).await?;
    Ok(ScanReport {
        series: all.len(),
        hours: grid.len,
        moves: rows.len(),
        refined,
        explained,
    })
}

/// Move each onset and extreme to the finest bars that cover the move; returns how many.
async fn place_on_fine_bars(
    pool: &PgPool,
    all: &[ScanSeries],
    found: &mut [Found],
) -> Result<usize, MoveError> {
    let coverage = store::fine_coverage(pool).await?;
    if coverage.is_empty() {
        return Ok(0);
    }
    let covers = |token: i32, interval: &str, a: i64, b: i64| {
        coverage.iter().any(|(t, i, first, last)| {
            *t == token && i == interval && first.timestamp() <= a && last.timestamp() >= b
        })
    };
    let mut refined = 0;
    for f in found.iter_mut() {
        let s = &all[f.series];
        for (interval, step) in [("1m", 60i64), ("5m", 300i64)] {
            let (a, b) = (f.onset - 3600 - step, f.extreme + 3600);
            let members: Vec<i32> = s
                .tokens
                .iter()
                .copied()
                .filter(|&t| covers(t, interval, a, b))
                .collect();
            let need = if s.tokens.len() == 1 {
                1
            } else {
                fine::MIN_MEMBERS
            };
            if members.len() < need {
                continue;
            }
            let bars = store::fine_closes(pool, interval, &members, ts(a), ts(b + step)).await?;
            let n = ((b + step - a) / step) as usize;
            let mut by_token: HashMap<i32, Vec<f64>> = HashMap::new();
            for (t, at, close) in bars {
                let i = ((at.timestamp() - a) / step) as usize;
                if i < n {
                    by_token.entry(t).or_insert_with(|| vec![f64::NAN; n])[i] = close;
                }
            }
            let closes: Vec<Vec<f64>> = by_token.into_values().collect();
            let Some(path) = fine::FinePath::from_closes(a, step, &closes, need) else {
                continue;
            };
            if let Some((on, ex)) = fine::refine(f.hourly.direction, f.onset, f.extreme, &path) {
                f.onset = on;
                f.extreme = ex;
                f.resolution = interval;
                refined += 1;
                break;
            }
        }
    }
    Ok(refined)
}
