//! The null at ordinary hours: every score statistic (each token, each category with
//! enough tokens, the market; each score window) computed at random hours outside every
//! event's span, once per run and model, and reused by every event. Pure.

use std::collections::HashMap;

use rayon::prelude::*;

use super::calibration::Calibrator;
use super::engine::{StudyParams, Window};
use super::series::{
    fit_on, market_fit, market_stat, token_fit, window_stat, Frame, Series, WindowStat,
};
use super::universe::Universe;

/// One statistic's null: its calibrator and, per ordinary hour, its leave-one-out ln p
/// (NaN where the statistic did not exist at that hour).
#[derive(Debug)]
pub struct NullStat {
    pub calibrator: Calibrator,
    pub loo: Vec<f64>,
}

/// Every statistic's null for one model.
#[derive(Debug, Default)]
pub struct NullTable {
    /// Bar 0 of each ordinary hour (absolute bar numbers), ascending.
    pub hours: Vec<i64>,
    pub stats: HashMap<(Series, Window), NullStat>,
    /// Statistics with too few ordinary hours to calibrate: hours they had.
    pub thin: HashMap<(Series, Window), usize>,
}

impl NullTable {
    pub fn get(&self, series: Series, window: Window) -> Option<&NullStat> {
        self.stats.get(&(series, window))
    }
}

/// Bars eligible as ordinary hours: the whole estimation window and event span lie on the
/// grid, the market proxy has every bar of the span, and the span is apart from every
/// event's span (`event_bars`: bar 0 of each event).
pub fn eligible_hours(u: &Universe, params: &StudyParams, event_bars: &[i64]) -> Vec<i64> {
    let span = params.event_span();
    let est = params.estimation;
    let mut events = event_bars.to_vec();
    events.sort_unstable();
    let gap = i64::from(span.len());
    let first = u.first_bar - i64::from(est.start.min(span.start)) + 1;
    let last = u.first_bar + u.len as i64 - i64::from(span.end);
    let market = &u.markets[0];
    (first..=last)
        .filter(|&b| {
            let i = events.partition_point(|&e| e <= b - gap);
            events.get(i).is_none_or(|&e| e >= b + gap)
        })
        .filter(|&b| {
            let (a, z) = (
                u.idx(b + i64::from(span.start)),
                u.idx(b + i64::from(span.end)),
            );
            (a..z).all(|i| Universe::at(market, i).is_finite())
        })
        .collect()
}

/// `n` of `eligible` drawn without replacement with `seed`, ascending.
pub fn sample_hours(eligible: &[i64], n: usize, seed: u64) -> Vec<i64> {
    let mut pool = eligible.to_vec();
    let mut rng = fastrand::Rng::with_seed(seed);
    let take = n.min(pool.len());
    for i in 0..take {
        let j = rng.usize(i..pool.len());
        pool.swap(i, j);
    }
    pool.truncate(take);
    pool.sort_unstable();
    pool
}

/// The series that can be score components: the market, every token, every category
/// with at least `min_category_tokens` members.
pub fn candidate_series(u: &Universe, params: &StudyParams) -> Vec<Series> {
    std::iter::once(Series::Market)
        .chain(u.tokens.iter().map(|t| Series::Token { token_id: t.id }))
        .chain(
            u.categories
                .iter()
                .filter(|c| c.members.len() >= params.min_category_tokens)
                .map(|c| Series::Category { category_id: c.id }),
        )
        .collect()
}

/// Every candidate series' statistic in each of `windows` at one bar 0, the way an event
/// at that bar would be scored. `None` where the series is not measurable there.
pub fn stats_at(
    u: &Universe,
    params: &StudyParams,
    series: &[Series],
    windows: &[Window],
    bar0: i64,
    excluded: &[(i64, i64)],
) -> HashMap<Series, Vec<Option<WindowStat>>> {
    let frame = Frame::new(u, params, bar0, excluded);
    let model = params.model;
    let fits: Vec<Option<super::model::Fit>> = u
        .tokens
        .iter()
        .map(|t| token_fit(u, t, params, &frame, excluded).ok())
        .collect();
    let mut out = HashMap::with_capacity(series.len());
    for &s in series {
        let per_window: Vec<Option<WindowStat>> = match s {
            Series::Market => match market_fit(u, &frame, excluded) {
                Some(f) => windows
                    .iter()
                    .map(|&w| market_stat(u, &f, frame.window(u, w)))
                    .collect(),
                None => vec![None; windows.len()],
            },
            Series::Token { token_id } => match u.tokens.iter().position(|t| t.id == token_id) {
                Some(i) if fits[i].is_some() => {
                    let (tok, f) = (&u.tokens[i], fits[i].as_ref().expect("checked"));
                    windows
                        .iter()
                        .map(|&w| {
                            window_stat(
                                u,
                                model,
                                f,
                                &tok.returns,
                                &u.markets[tok.market],
                                frame.window(u, w),
                            )
                        })
                        .collect()
                }
                _ => vec![None; windows.len()],
            },
            Series::Category { category_id } => {
                let kept: Vec<usize> = u
                    .categories
                    .iter()
                    .find(|c| c.id == category_id)
                    .map(|c| {
                        c.members
                            .iter()
                            .copied()
                            .filter(|&i| fits[i].is_some())
                            .collect()
                    })
                    .unwrap_or_default();
                if kept.len() < params.min_category_tokens {
                    vec![None; windows.len()]
                } else {
                    let p = u.portfolio(&kept);
                    match fit_on(model, &p.sums, &frame, excluded) {
                        Ok(f) => windows
                            .iter()
                            .map(|&w| {
                                window_stat(
                                    u,
                                    model,
                                    &f,
                                    &p.returns,
                                    &u.markets[0],
                                    frame.window(u, w),
                                )
                            })
                            .collect(),
                        Err(_) => vec![None; windows.len()],
                    }
                }
            }
        };
        out.insert(s, per_window);
    }
    out
}

/// The null of every candidate statistic at `hours`.
pub fn build(u: &Universe, params: &StudyParams, hours: &[i64]) -> NullTable {
    let series = candidate_series(u, params);
    let windows = params.calibrated_windows();
    let per_hour: Vec<HashMap<Series, Vec<Option<WindowStat>>>> = hours
        .par_iter()
        .map(|&h| stats_at(u, params, &series, &windows, h, &[]))
        .collect();
    let keys: Vec<(Series, usize)> = series
        .iter()
        .flat_map(|&s| (0..windows.len()).map(move |w| (s, w)))
        .collect();
    let built: Vec<((Series, Window), Result<NullStat, usize>)> = keys
        .par_iter()
        .map(|&(s, wi)| {
            let values: Vec<f64> = per_hour
                .iter()
                .map(|m| {
                    m.get(&s)
                        .and_then(|v| v[wi])
                        .map(|st| st.t)
                        .filter(|t| t.is_finite())
                        .unwrap_or(f64::NAN)
                })
                .collect();
            let key = (s, windows[wi]);
            match Calibrator::new(&values) {
                Some(c) => {
                    let loo = values
                        .iter()
                        .map(|&v| {
                            if v.is_finite() {
                                c.ln_p_leave_one_out(v)
                            } else {
                                f64::NAN
                            }
                        })
                        .collect();
                    (key, Ok(NullStat { calibrator: c, loo }))
                }
                None => (key, Err(values.iter().filter(|v| v.is_finite()).count())),
            }
        })
        .collect();
    let mut table = NullTable {
        hours: hours.to_vec(),
        ..Default::default()
    };
    for (key, r) in built {
        match r {
            Ok(stat) => {
                table.stats.insert(key, stat);
            }
            Err(n) => {
                table.thin.insert(key, n);
            }
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_reproducible_and_without_replacement() {
        let eligible: Vec<i64> = (0..1000).collect();
        let a = sample_hours(&eligible, 100, 7);
        assert_eq!(a, sample_hours(&eligible, 100, 7));
        assert_ne!(a, sample_hours(&eligible, 100, 8));
        let mut d = a.clone();
        d.dedup();
        assert_eq!(d.len(), 100);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample_hours(&eligible, 5000, 1).len(), 1000);
    }
}
