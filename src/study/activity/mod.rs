//! Abnormal volume, abnormal volatility and taker flow per event, token and category,
//! calibrated at ordinary hours like the returns. Pure: the series come in, rows go out.
//!
//! - **Volume**: log volume (base-asset volume, else quote volume) per hourly bar.
//! - **Volatility**: the Parkinson range variance of each hourly bar,
//!   ln(high/low)² / (4 ln 2): an unbiased variance estimate from one bar's range,
//!   about five times as efficient as a squared return.
//! - **Taker-buy share**: taker-buy base volume / base volume per UTC day (daily klines):
//!   who was in a hurry, buyers or sellers.
//!
//! Each is measured against its normal level fitted on the event's estimation window
//! (`seasonal.rs`: hour-of-day and weekday profile) over the activity windows (the score
//! windows and the summary window; days [0, 1) and [0, 2) for the taker share). A
//! category's series is the mean of its members' series, each first divided by (variance)
//! or diminished by (log volume, share) its own estimation mean, so that no member's
//! level dominates. Its test statistic z is calibrated at the study's ordinary hours
//! (the same sample as the returns' null): the p-value is the share of ordinary hours
//! where the same series and window showed a z at least as extreme.

pub mod seasonal;

use std::collections::HashMap;

use rayon::prelude::*;

use super::calibration::Calibrator;
use super::engine::{StudyParams, Window};
use seasonal::{excess, Calendar, Frame, Seasonal, Shape, Stretches};

/// Ordinary hours calibrating each activity statistic (of the study's sample, evenly
/// spread): enough for p-values near 5% (25 hours beyond it, and a fitted tail above the
/// 90th percentile), at an eighth of the cost of the full sample.
pub const NULL_HOURS: usize = 500;
/// Window-long stretches of the estimation window needed to measure a spread.
const MIN_STRETCHES_HOURLY: usize = 100;
const MIN_STRETCHES_DAILY: usize = 10;
/// Taker-buy share: estimation days before the event's day, and the windows in days.
pub const TAKER_ESTIMATION_DAYS: Window = Window::new(-31, -1);
pub const TAKER_WINDOWS: [Window; 2] = [Window::new(0, 1), Window::new(0, 2)];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    Volume,
    Volatility,
    TakerBuy,
}

impl Measure {
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Volume => "volume",
            Measure::Volatility => "volatility",
            Measure::TakerBuy => "taker-buy",
        }
    }

    fn shape(self) -> Shape {
        match self {
            Measure::Volatility => Shape::Multiplicative,
            Measure::Volume | Measure::TakerBuy => Shape::Additive,
        }
    }

    fn daily(self) -> bool {
        self == Measure::TakerBuy
    }
}

/// A token's own series or a category's aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    Token(i32),
    Category(i32),
}

/// One token's activity series.
#[derive(Debug, Clone)]
pub struct TokenSeries {
    pub token_id: i32,
    pub categories: Vec<i32>,
    /// ln volume per hourly bar of the grid (NaN: unknown or zero).
    pub log_volume: Vec<f64>,
    /// Parkinson range variance per hourly bar (NaN: no high/low).
    pub range_variance: Vec<f64>,
    /// Taker-buy share per day of the daily grid (empty: no daily klines).
    pub taker_share: Vec<f64>,
}

/// Every token's series on two grids: hourly bars from `first_bar`, days from
/// `first_day` (bar numbers count from the Unix epoch).
#[derive(Debug, Clone)]
pub struct ActivityData {
    pub first_bar: i64,
    pub bar_seconds: i64,
    pub first_day: i64,
    pub tokens: Vec<TokenSeries>,
}

impl ActivityData {
    /// A token's series of one measure: (bar of its first value, values).
    fn series<'a>(&'a self, t: &'a TokenSeries, m: Measure) -> (i64, &'a [f64]) {
        match m {
            Measure::Volume => (self.first_bar, &t.log_volume),
            Measure::Volatility => (self.first_bar, &t.range_variance),
            Measure::TakerBuy => (self.first_day, &t.taker_share),
        }
    }

    /// Category id → indices of its tokens.
    fn categories(&self) -> Vec<(i32, Vec<usize>)> {
        let mut by: HashMap<i32, Vec<usize>> = HashMap::new();
        for (i, t) in self.tokens.iter().enumerate() {
            for &c in &t.categories {
                by.entry(c).or_default().push(i);
            }
        }
        let mut v: Vec<(i32, Vec<usize>)> = by.into_iter().collect();
        v.sort_unstable_by_key(|(c, _)| *c);
        v
    }
}

/// One measured statistic at one bar 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub subject: Subject,
    pub measure: Measure,
    pub window: Window,
    pub n_tokens: usize,
    pub raw: f64,
    pub abnormal: f64,
    pub z: Option<f64>,
}

/// A stored row: the measurement and its calibrated p.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivityRow {
    pub m: Measured,
    pub p: Option<f64>,
    pub null_hours: usize,
}

/// The activity windows of a run: its score windows and its summary window (hours).
pub fn windows(params: &StudyParams) -> Vec<Window> {
    let mut w = params.score_windows.clone();
    if !w.contains(&params.ranking_window) {
        w.push(params.ranking_window);
    }
    w
}

/// What to measure at one bar 0.
struct Plan<'a> {
    data: &'a ActivityData,
    params: &'a StudyParams,
    windows: Vec<Window>,
    categories: Vec<(i32, Vec<usize>)>,
    cal_hourly: Calendar,
    cal_daily: Calendar,
}

impl<'a> Plan<'a> {
    fn new(data: &'a ActivityData, params: &'a StudyParams) -> Self {
        Plan {
            data,
            params,
            windows: windows(params),
            categories: data.categories(),
            cal_hourly: Calendar::new(data.bar_seconds),
            cal_daily: Calendar::new(86_400),
        }
    }

    /// Bar 0, the frame (estimation window to the last window's end), the windows and
    /// the stretches a spread needs, of a measure at an hourly bar 0.
    fn frame(&self, m: Measure, bar0: i64) -> (i64, Frame, Vec<Window>, usize) {
        let (b0, est, windows, cal, min_stretches) = if m.daily() {
            let day0 = (bar0 * self.data.bar_seconds).div_euclid(86_400);
            let e = TAKER_ESTIMATION_DAYS;
            let est = (day0 + i64::from(e.start), day0 + i64::from(e.end));
            (
                day0,
                est,
                TAKER_WINDOWS.to_vec(),
                self.cal_daily,
                MIN_STRETCHES_DAILY,
            )
        } else {
            let e = self.params.estimation;
            let est = (bar0 + i64::from(e.start), bar0 + i64::from(e.end));
            (
                bar0,
                est,
                self.windows.clone(),
                self.cal_hourly,
                MIN_STRETCHES_HOURLY,
            )
        };
        let first = windows.iter().map(|w| w.start).min().unwrap_or(0);
        let last = windows.iter().map(|w| w.end).max().unwrap_or(0);
        let from = est.0.min(b0 + i64::from(first));
        let to = (b0 + i64::from(last)).max(est.1);
        (
            b0,
            Frame::new(cal, (from, to), est.1),
            windows,
            min_stretches,
        )
    }

    fn min_bars(&self, len: i64) -> usize {
        (self.params.min_estimation_share * len as f64).ceil() as usize
    }

    /// Measure one series (a slice over the frame) in every window.
    #[allow(clippy::too_many_arguments)]
    fn measure_series(
        &self,
        x: &[f64],
        fit: &Seasonal,
        frame: &Frame,
        subject: Subject,
        m: Measure,
        n_tokens: usize,
        bar0: i64,
        windows: &[Window],
        min_stretches: usize,
        out: &mut Vec<Measured>,
    ) {
        let stretches = Stretches::new(x, fit, frame);
        for &w in windows {
            let len = i64::from(w.len());
            let span = (
                frame.index(bar0 + i64::from(w.start)),
                frame.index(bar0 + i64::from(w.end)),
            );
            let Some(e) = excess(x, fit, frame, span, self.min_bars(len)) else {
                continue;
            };
            let z = stretches
                .spread(len, min_stretches)
                .map(|(mean, sd)| (e.abnormal - mean) / sd);
            out.push(Measured {
                subject,
                measure: m,
                window: w,
                n_tokens,
                raw: e.raw,
                abnormal: e.abnormal,
                z,
            });
        }
    }

    /// Every measurement at bar 0 for the tokens `wanted` (all when `None`) and every
    /// category with enough measurable members.
    fn at(&self, bar0: i64, wanted: Option<&[i32]>, categories: bool) -> Vec<Measured> {
        let mut out = Vec::new();
        for m in [Measure::Volume, Measure::Volatility, Measure::TakerBuy] {
            let (b0, frame, windows, min_stretches) = self.frame(m, bar0);
            let seasonal = !m.daily();
            let min_est = self.min_bars(frame.est_len as i64);
            let slices: Vec<Option<std::borrow::Cow<[f64]>>> = self
                .data
                .tokens
                .iter()
                .map(|t| {
                    let (first, values) = self.data.series(t, m);
                    (!values.is_empty()).then(|| frame.slice(first, values))
                })
                .collect();
            let fits: Vec<Option<Seasonal>> = slices
                .iter()
                .map(|x| {
                    x.as_ref()
                        .and_then(|x| Seasonal::fit(x, &frame, m.shape(), min_est, seasonal))
                })
                .collect();
            for ((t, x), fit) in self.data.tokens.iter().zip(&slices).zip(&fits) {
                let (Some(x), Some(fit)) = (x, fit) else {
                    continue;
                };
                if wanted.is_some_and(|w| !w.contains(&t.token_id)) {
                    continue;
                }
                self.measure_series(
                    x,
                    fit,
                    &frame,
                    Subject::Token(t.token_id),
                    m,
                    1,
                    b0,
                    &windows,
                    min_stretches,
                    &mut out,
                );
            }
            for (cat, members) in self.categories.iter().filter(|_| categories) {
                let used: Vec<(&[f64], &Seasonal)> = members
                    .iter()
                    .filter_map(|&i| match (&slices[i], &fits[i]) {
                        (Some(x), Some(f)) => Some((x.as_ref(), f)),
                        _ => None,
                    })
                    .collect();
                if used.len() < self.params.min_category_tokens {
                    continue;
                }
                let x = aggregate(&used, m.shape(), frame.len());
                let Some(fit) = Seasonal::fit(&x, &frame, m.shape(), min_est, seasonal) else {
                    continue;
                };
                self.measure_series(
                    &x,
                    &fit,
                    &frame,
                    Subject::Category(*cat),
                    m,
                    used.len(),
                    b0,
                    &windows,
                    min_stretches,
                    &mut out,
                );
            }
        }
        out
    }
}

/// A category's series over the frame: the mean over members with a value of each
/// member's value relative to its own estimation mean.
fn aggregate(used: &[(&[f64], &Seasonal)], shape: Shape, len: usize) -> Vec<f64> {
    let mut sum = vec![0.0; len];
    let mut n = vec![0u32; len];
    for (x, fit) in used {
        for (i, &v) in x.iter().enumerate().take(len) {
            if v.is_finite() {
                sum[i] += match shape {
                    Shape::Additive => v - fit.mean,
                    Shape::Multiplicative => v / fit.mean,
                };
                n[i] += 1;
            }
        }
    }
    sum.iter()
        .zip(&n)
        .map(|(&s, &c)| if c > 0 { s / f64::from(c) } else { f64::NAN })
        .collect()
}

/// Every statistic's null: z at ordinary hours, per subject, measure and window.
pub struct ActivityNull {
    stats: HashMap<(Subject, Measure, Window), Calibrator>,
}

impl ActivityNull {
    /// z of every category and of the tokens `tokens` (all when `None`) at each of
    /// `hours` (bar 0 of each; `NULL_HOURS` of them at most, evenly spread over the
    /// sample).
    pub fn build(
        data: &ActivityData,
        params: &StudyParams,
        hours: &[i64],
        tokens: Option<&[i32]>,
    ) -> Self {
        let plan = Plan::new(data, params);
        let step = (hours.len() as f64 / NULL_HOURS as f64).max(1.0);
        let picked: Vec<i64> = (0..hours.len().min(NULL_HOURS))
            .filter_map(|k| hours.get((k as f64 * step) as usize).copied())
            .collect();
        let per_hour: Vec<Vec<Measured>> = picked
            .par_iter()
            .map(|&b| plan.at(b, tokens, true))
            .collect();
        let mut zs: HashMap<(Subject, Measure, Window), Vec<f64>> = HashMap::new();
        let mut add = |rows: &[Vec<Measured>]| {
            for m in rows.iter().flatten() {
                if let Some(z) = m.z {
                    zs.entry((m.subject, m.measure, m.window))
                        .or_default()
                        .push(z);
                }
            }
        };
        add(&per_hour);
        // Tokens with volume for part of the history only (listed later, or a source that
        // covers one year) had no data at many of those hours: they get more hours, from
        // the rest of the sample, until they too have about NULL_HOURS.
        let mut have: HashMap<i32, usize> = HashMap::new();
        for m in per_hour.iter().flatten() {
            if let (Subject::Token(t), Some(_)) = (m.subject, m.z) {
                if m.measure == Measure::Volume && m.window == plan.windows[0] {
                    *have.entry(t).or_default() += 1;
                }
            }
        }
        let thin: Vec<i32> = data
            .tokens
            .iter()
            .map(|t| t.token_id)
            .filter(|t| tokens.is_none_or(|w| w.contains(t)))
            .filter(|t| have.get(t).copied().unwrap_or(0) < NULL_HOURS * 4 / 5)
            .collect();
        if !thin.is_empty() && hours.len() > picked.len() {
            let rest: Vec<i64> = hours
                .iter()
                .copied()
                .filter(|h| picked.binary_search(h).is_err())
                .collect();
            let step = (rest.len() as f64 / (3 * NULL_HOURS) as f64).max(1.0);
            let more: Vec<i64> = (0..rest.len().min(3 * NULL_HOURS))
                .filter_map(|k| rest.get((k as f64 * step) as usize).copied())
                .collect();
            let extra: Vec<Vec<Measured>> = more
                .par_iter()
                .map(|&b| plan.at(b, Some(&thin), false))
                .collect();
            add(&extra);
        }
        let stats = zs
            .into_iter()
            .filter_map(|(k, v)| Calibrator::new(&v).map(|c| (k, c)))
            .collect();
        ActivityNull { stats }
    }

    /// The calibrated two-sided p of a measurement and the ordinary hours behind it.
    pub fn p(&self, m: &Measured) -> (Option<f64>, usize) {
        match (self.stats.get(&(m.subject, m.measure, m.window)), m.z) {
            (Some(c), Some(z)) => (Some(c.ln_p(z).exp().min(1.0)), c.n()),
            (Some(c), None) => (None, c.n()),
            _ => (None, 0),
        }
    }
}

/// Every activity row of an event at bar 0: the tokens `tokens` and every category.
pub fn event_rows(
    data: &ActivityData,
    params: &StudyParams,
    null: &ActivityNull,
    bar0: i64,
    tokens: &[i32],
) -> Vec<ActivityRow> {
    Plan::new(data, params)
        .at(bar0, Some(tokens), true)
        .into_iter()
        .map(|m| {
            let (p, null_hours) = null.p(&m);
            ActivityRow { m, p, null_hours }
        })
        .collect()
}

/// False positives of the activity tests at ordinary hours: the null built on
/// `null_hours`, every series judged at each of `test_hours`. Per measure, level
/// (token, category) and window: (hours tested, share with p < `level`).
pub fn false_positive_rates(
    data: &ActivityData,
    params: &StudyParams,
    null_hours: &[i64],
    test_hours: &[i64],
    level: f64,
) -> Vec<FprRow> {
    let null = ActivityNull::build(data, params, null_hours, None);
    let plan = Plan::new(data, params);
    let per_hour: Vec<Vec<Measured>> = test_hours
        .par_iter()
        .map(|&b| plan.at(b, None, true))
        .collect();
    // (tests, calibrated rejections, rejections reading z as a normal deviate)
    let mut acc: HashMap<(Measure, bool, Window), (usize, usize, usize)> = HashMap::new();
    let z_crit = 1.959_963_984_540_054;
    for m in per_hour.iter().flatten() {
        let (Some(p), _) = null.p(m) else { continue };
        let e = acc
            .entry((m.measure, matches!(m.subject, Subject::Token(_)), m.window))
            .or_default();
        e.0 += 1;
        e.1 += usize::from(p < level);
        e.2 += usize::from(m.z.is_some_and(|z| z.abs() >= z_crit));
    }
    let mut rows: Vec<FprRow> = acc
        .into_iter()
        .map(|((measure, token, window), (n, hits, naive))| FprRow {
            measure,
            level: if token { "token" } else { "category" },
            window,
            tests: n,
            naive: naive as f64 / n.max(1) as f64,
            rate: hits as f64 / n.max(1) as f64,
            range: (hits as f64 / n.max(1) as f64, hits as f64 / n.max(1) as f64),
        })
        .collect();
    rows.sort_by_key(|r| (r.measure, r.level, r.window.start, r.window.end));
    rows
}

/// The table as Markdown: the mean rate over splits, its range, and the 99% binomial
/// interval around 5% for `hours` hours.
pub fn fpr_markdown(rows: &[FprRow], hours: usize) -> String {
    let (lo, hi) = super::placebo::binomial_interval_99(hours.max(1));
    let mut out = String::from(
        "| measure | series | window | tests per split (series × hours) | \\|z\\| ≥ 1.96, uncalibrated | significant at 5% (mean) | range over splits | 99% interval around 5% for the hours |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let inside = if r.rate >= lo && r.rate <= hi {
            ""
        } else {
            " (outside)"
        };
        let window = if r.measure == Measure::TakerBuy {
            format!("days [{}, {})", r.window.start, r.window.end)
        } else {
            format!("[{}h, {}h)", r.window.start, r.window.end)
        };
        out.push_str(&format!(
            "| {} | {} | {window} | {} | {:.1}% | {:.1}%{inside} | {:.1}–{:.1}% | {:.1}–{:.1}% |\n",
            r.measure.as_str(),
            r.level,
            r.tests,
            r.naive * 100.0,
            r.rate * 100.0,
            r.range.0 * 100.0,
            r.range.1 * 100.0,
            lo * 100.0,
            hi * 100.0
        ));
    }
    out
}

/// One row of the activity false-positive table.
#[derive(Debug, Clone, PartialEq)]
pub struct FprRow {
    pub measure: Measure,
    pub level: &'static str,
    pub window: Window,
    /// Series × ordinary hours tested (per split).
    pub tests: usize,
    /// Share with |z| ≥ 1.96: z read as a normal deviate, uncalibrated (mean over splits).
    pub naive: f64,
    /// Share with p below the level (the mean over splits).
    pub rate: f64,
    /// The lowest and highest rate over splits.
    pub range: (f64, f64),
}

/// The mean of several splits' tables, with the range of each rate.
pub fn average(splits: &[Vec<FprRow>]) -> Vec<FprRow> {
    let mut out: Vec<FprRow> = Vec::new();
    for rows in splits {
        for r in rows {
            match out
                .iter_mut()
                .find(|o| o.measure == r.measure && o.level == r.level && o.window == r.window)
            {
                Some(o) => {
                    o.tests += r.tests;
                    o.naive += r.naive;
                    o.rate += r.rate;
                    o.range = (o.range.0.min(r.rate), o.range.1.max(r.rate));
                }
                None => out.push(r.clone()),
            }
        }
    }
    let k = splits.len().max(1);
    for o in &mut out {
        o.tests /= k;
        o.naive /= k as f64;
        o.rate /= k as f64;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Token series with a seasonal profile and noise, and one burst of volume at bar 0.
    fn synthetic(burst: f64) -> (ActivityData, i64) {
        let first_bar = 480_000;
        let n = 24 * 400;
        let mut rng = fastrand::Rng::with_seed(7);
        let bar0 = first_bar + 24 * 300 + 10;
        let tokens = (0..6)
            .map(|k| {
                let mut lv = Vec::with_capacity(n);
                let mut rv = Vec::with_capacity(n);
                let mut ar = 0.0;
                for i in 0..n as i64 {
                    let b = first_bar + i;
                    let hour = b.rem_euclid(24) as f64;
                    ar = 0.8 * ar + 0.3 * (rng.f64() - 0.5);
                    let mut v =
                        10.0 + k as f64 + 0.5 * (hour / 24.0 * std::f64::consts::TAU).sin() + ar;
                    if (bar0..bar0 + 4).contains(&b) {
                        v += burst;
                    }
                    lv.push(v);
                    rv.push(
                        (1e-4 * (1.0 + rng.f64()))
                            * if (bar0..bar0 + 4).contains(&b) {
                                (2.0 * burst).exp()
                            } else {
                                1.0
                            },
                    );
                }
                TokenSeries {
                    token_id: k,
                    categories: vec![1],
                    log_volume: lv,
                    range_variance: rv,
                    taker_share: Vec::new(),
                }
            })
            .collect();
        (
            ActivityData {
                first_bar,
                bar_seconds: 3600,
                first_day: first_bar / 24,
                tokens,
            },
            bar0,
        )
    }

    #[test]
    fn a_burst_is_measured_and_significant() {
        let (data, bar0) = synthetic(1.0);
        let params = StudyParams::default();
        let hours: Vec<i64> = (0..400)
            .map(|k| data.first_bar + 24 * 40 + k * 11)
            .collect();
        let null = ActivityNull::build(&data, &params, &hours, None);
        let rows = event_rows(&data, &params, &null, bar0, &[0, 1]);
        let find = |s: Subject, m: Measure, w: Window| {
            rows.iter()
                .find(|r| r.m.subject == s && r.m.measure == m && r.m.window == w)
                .copied()
                .unwrap()
        };
        let v = find(Subject::Token(0), Measure::Volume, Window::new(0, 4));
        assert!((v.m.abnormal - 1.0).abs() < 0.2, "{v:?}");
        assert!(v.p.unwrap() < 0.01, "{v:?}");
        let c = find(Subject::Category(1), Measure::Volume, Window::new(0, 4));
        assert_eq!(c.m.n_tokens, 6);
        assert!((c.m.raw - 1.0).abs() < 0.2, "{c:?}");
        let vol = find(Subject::Token(1), Measure::Volatility, Window::new(0, 4));
        assert!((vol.m.raw - 2.0).abs() < 0.3, "{vol:?}");
        // Token 2 was not asked for.
        assert!(!rows.iter().any(|r| r.m.subject == Subject::Token(2)));
    }

    #[test]
    fn no_burst_no_signal() {
        let (data, bar0) = synthetic(0.0);
        let params = StudyParams::default();
        let hours: Vec<i64> = (0..400)
            .map(|k| data.first_bar + 24 * 40 + k * 11)
            .collect();
        let null = ActivityNull::build(&data, &params, &hours, None);
        let rows = event_rows(&data, &params, &null, bar0, &[0]);
        let v = rows
            .iter()
            .find(|r| r.m.measure == Measure::Volume && r.m.window == Window::new(0, 4))
            .unwrap();
        assert!(v.p.unwrap() > 0.01, "{v:?}");
    }
}
