//! The event study of one event over the universe. Pure: universe and event in, results out.
//!
//! Alignment. Bars are numbered by their opening time: bar `b` opens at `b * interval`
//! seconds since the Unix epoch (UTC). Bar 0 of an event is the first bar that opens at
//! or after the event time t0 (an event at 10:00:00 has bar 0 = the 10:00 bar; at
//! 10:00:01, the 11:00 bar).
//!
//! Returns. Bar `k`'s return runs from the close of bar `k − 1` to the close of bar `k`,
//! i.e. over the time span of bar `k` itself.
//!
//! Windows. `[a, b)` in bars relative to bar 0 covers bars a..b−1, so on hourly bars
//! `[−24, 24)` spans t0−24h to t0+24h. The estimation window `[−744, −24)` ends where
//! the earliest event window begins. A token missing any bar of an event window, or with
//! less than the minimum share of its estimation window, is dropped with a recorded
//! reason rather than interpolated.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{Fit, Model};
use super::series::{fit_on, market_fit, market_stat, token_fit, window_stat, Frame};
use super::significance::{
    bmp, corrado_rank, cross_sectional, generalized_sign, kolari_pynnonen, mean_cross_correlation,
    normal_two_sided_p, patell, single_series, standardised_ranks, Test,
};
use super::universe::{Proxy, ReturnKind, Universe};
use crate::prices::BarInterval;

/// An event window `[start, end)` in bars relative to bar 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    pub start: i32,
    pub end: i32,
}

impl Window {
    pub const fn new(start: i32, end: i32) -> Self {
        Window { start, end }
    }

    pub fn len(self) -> i32 {
        self.end - self.start
    }

    pub fn is_empty(self) -> bool {
        self.end <= self.start
    }

    /// `[-24h, +24h]` for hourly bars, `[-1d, +1d]` for daily.
    pub fn label(self, interval: BarInterval) -> String {
        let unit = match interval {
            BarInterval::Hour => "h",
            BarInterval::Day => "d",
            BarInterval::Minute | BarInterval::FiveMinutes => " bars",
        };
        let fmt = |v: i32| {
            if v == 0 {
                "0".to_string()
            } else {
                format!("{v:+}{unit}")
            }
        };
        format!("[{}, {}]", fmt(self.start), fmt(self.end))
    }
}

/// The bar number of a bar opening at `t` (floor), and bar 0 of an event at `t0` (ceil).
pub fn bar_of(t: DateTime<Utc>, interval: BarInterval) -> i64 {
    t.timestamp().div_euclid(interval.seconds())
}

pub fn bar_zero(t0: DateTime<Utc>, interval: BarInterval) -> i64 {
    let s = interval.seconds();
    let secs = t0.timestamp() + i64::from(t0.timestamp_subsec_nanos() > 0);
    secs.div_euclid(s) + i64::from(secs.rem_euclid(s) != 0)
}

/// Parameters of a study run, stored with the run (`study_runs.params`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyParams {
    pub model: Model,
    pub return_kind: ReturnKind,
    pub proxy: Proxy,
    #[serde(with = "interval_serde")]
    pub interval: BarInterval,
    /// Estimation window, bars relative to bar 0.
    pub estimation: Window,
    /// Share of the estimation window that must have returns.
    pub min_estimation_share: f64,
    pub windows: Vec<Window>,
    /// The summary window of the tables and the list's category figures ([-24h, +24h]).
    pub ranking_window: Window,
    /// Windows where a reaction to news lives: the impact score's windows, each measured
    /// from the close of the publication bar.
    #[serde(default = "default_score_windows")]
    pub score_windows: Vec<Window>,
    /// The move before the first report: a score component of its own, labelled. When the
    /// publication time falls inside a bar, that bar is the publication bar (neither before
    /// nor after) and this window moves one bar earlier.
    #[serde(default = "default_pre_window")]
    pub pre_window: Window,
    /// Ordinary hours sampled for the null of every statistic (at most).
    #[serde(default = "default_null_hours")]
    pub null_hours: usize,
    /// Seed of the ordinary-hour sample: a run is reproducible.
    #[serde(default)]
    pub null_seed: u64,
    /// The second market model the evidence must survive (the equal-weighted index, or
    /// BTC when the run's proxy is that index); `None` to skip the check.
    #[serde(default = "default_alternative_proxy")]
    pub alternative_proxy: Option<Proxy>,
    /// Categories with fewer tokens are shown but never enter the score.
    pub min_category_tokens: usize,
    /// An event whose |score| is at least this is "high-impact" for confounder flags.
    pub confounder_score: f64,
    /// Leave high-impact events' windows out of other events' estimation windows.
    pub exclude_confounders: bool,
}

/// When a story's windows close (see [`StudyParams::maturity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Maturity {
    /// The score window that closes first ([0, 1h) by default).
    pub first_window: Window,
    pub first_window_closes: DateTime<Utc>,
    /// The window that closes last ([−24h, +72h) by default).
    pub last_window: Window,
    /// When the last bar the story's score reads has closed: from then on the next study
    /// (after the next price upkeep) scores it.
    pub complete_at: DateTime<Utc>,
}

/// The summary window: t0−24h to t0+24h.
pub const RANKING_WINDOW: Window = Window::new(-24, 24);

fn default_score_windows() -> Vec<Window> {
    vec![Window::new(0, 1), Window::new(0, 4), Window::new(0, 24)]
}

fn default_pre_window() -> Window {
    Window::new(-24, 0)
}

fn default_null_hours() -> usize {
    4000
}

fn default_alternative_proxy() -> Option<Proxy> {
    Some(Proxy::EqualWeighted)
}

impl Default for StudyParams {
    fn default() -> Self {
        Self::hourly()
    }
}

impl StudyParams {
    /// Hourly defaults: estimation [−31 d, −1 d) (720 bars, 80% present), windows
    /// [−24h, 0), [0, +1h), [0, +4h), [0, +24h), [−24h, +24h), [−24h, +72h).
    pub fn hourly() -> Self {
        StudyParams {
            model: Model::MarketModel,
            return_kind: ReturnKind::Simple,
            proxy: Proxy::Btc,
            interval: BarInterval::Hour,
            estimation: Window::new(-744, -24),
            min_estimation_share: 0.8,
            windows: vec![
                Window::new(-24, 0),
                Window::new(0, 1),
                Window::new(0, 4),
                Window::new(0, 24),
                RANKING_WINDOW,
                Window::new(-24, 72),
            ],
            ranking_window: RANKING_WINDOW,
            score_windows: default_score_windows(),
            pre_window: default_pre_window(),
            null_hours: default_null_hours(),
            null_seed: 0,
            alternative_proxy: default_alternative_proxy(),
            min_category_tokens: 5,
            confounder_score: 3.0,
            exclude_confounders: false,
        }
    }

    /// Daily defaults (UTC days): estimation [−91 d, −1 d), windows [−1, 0), [0, 1),
    /// [0, 3), [−1, 1) (ranking), [−1, 3), [0, 7).
    pub fn daily() -> Self {
        StudyParams {
            interval: BarInterval::Day,
            estimation: Window::new(-91, -1),
            windows: vec![
                Window::new(-1, 0),
                Window::new(0, 1),
                Window::new(0, 3),
                Window::new(-1, 1),
                Window::new(-1, 3),
                Window::new(0, 7),
            ],
            ranking_window: Window::new(-1, 1),
            score_windows: vec![Window::new(0, 1), Window::new(0, 3)],
            pre_window: Window::new(-1, 0),
            ..Self::hourly()
        }
    }

    /// Canonical text of the parameters: one run per distinct key.
    pub fn key(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The span of bars any window reads, relative to bar 0: the tables' windows, the
    /// score's windows and the pre-report window one bar earlier (a publication inside a
    /// bar). A token missing any bar of it is left out of the event.
    pub fn event_span(&self) -> Window {
        let all = self
            .windows
            .iter()
            .chain(&self.score_windows)
            .chain([&self.ranking_window, &self.pre_window]);
        let start = all.clone().map(|w| w.start).min().unwrap_or(0);
        let end = all.map(|w| w.end).max().unwrap_or(0);
        Window::new(start.min(self.pre_window.start - 1), end)
    }

    /// Bars of history a calibrated score needs behind the newest bar: the estimation
    /// window and event span of each of `null_hours` ordinary hours (hourly defaults:
    /// 745 + 72 + 4,000 = 4,817 bars, about 201 days). The live tracker's first start
    /// and `catalyst prices backfill` without dates fetch this much.
    pub fn history_bars(&self) -> i64 {
        let span = self.event_span();
        let before = -i64::from(self.estimation.start.min(span.start)) + 1;
        before + i64::from(span.end) + self.null_hours as i64
    }

    /// When a story published at `t0` can be scored: its windows are counted from bar 0
    /// and every token it keeps needs every bar of the event span, so the story is
    /// scored once the last bar of the span has closed (hourly defaults: 72 hours after
    /// bar 0) and a study has run on it. Its first reaction window closes much sooner.
    pub fn maturity(&self, t0: DateTime<Utc>) -> Maturity {
        let bar0 = bar_zero(t0, self.interval);
        let secs = self.interval.seconds();
        let close =
            |end: i32| DateTime::from_timestamp((bar0 + i64::from(end)) * secs, 0).unwrap_or(t0);
        let first_window = self
            .score_windows
            .iter()
            .copied()
            .min_by_key(|w| (w.end, w.start))
            .unwrap_or(self.ranking_window);
        let span = self.event_span();
        let last_window = self
            .windows
            .iter()
            .chain(&self.score_windows)
            .copied()
            .filter(|w| w.end == span.end)
            .min_by_key(|w| w.start)
            .unwrap_or(span);
        Maturity {
            first_window,
            first_window_closes: close(first_window.end),
            last_window,
            complete_at: close(span.end),
        }
    }

    /// [`StudyParams::history_bars`] as a duration.
    pub fn history(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.history_bars() * self.interval.seconds())
    }

    /// The pre-report window of an event whose publication time is (`mid_bar`) or is not
    /// inside a bar.
    pub fn pre_window_for(&self, mid_bar: bool) -> Window {
        let shift = i32::from(mid_bar);
        Window::new(self.pre_window.start - shift, self.pre_window.end - shift)
    }

    /// Every window a score component may use: the score windows and both placements of
    /// the pre-report window.
    pub fn calibrated_windows(&self) -> Vec<Window> {
        let mut w = self.score_windows.clone();
        w.push(self.pre_window_for(false));
        w.push(self.pre_window_for(true));
        w
    }

    /// The alternative market model's proxy, unless the model has no proxy.
    pub fn alternative(&self) -> Option<Proxy> {
        if self.model == Model::MeanAdjusted {
            return None;
        }
        match self.alternative_proxy {
            Some(p) if p == self.proxy => Some(if p == Proxy::EqualWeighted {
                Proxy::Btc
            } else {
                Proxy::EqualWeighted
            }),
            other => other,
        }
    }
}

mod interval_serde {
    use crate::prices::BarInterval;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(i: &BarInterval, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(i.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BarInterval, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a token is left out of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    NoData,
    EstimationTooShort { have: usize, need: usize },
    ConstantPrices,
    ConstantMarket,
    Gap { window: Window, bar: i32 },
}

impl DropReason {
    pub fn describe(&self, interval: BarInterval) -> String {
        match self {
            DropReason::NoData => "no price data".to_string(),
            DropReason::EstimationTooShort { have, need } => {
                format!("estimation window too short ({have} of {need} bars needed)")
            }
            DropReason::ConstantPrices => "constant prices in the estimation window".to_string(),
            DropReason::ConstantMarket => {
                "the market proxy is constant in the estimation window".to_string()
            }
            DropReason::Gap { window, bar } => {
                format!("missing bar {bar:+} in window {}", window.label(interval))
            }
        }
    }
}

/// One event as the engine sees it.
#[derive(Debug, Clone, Default)]
pub struct EventInput {
    /// Absolute bar number of bar 0.
    pub bar0: i64,
    /// Absolute bar ranges left out of the estimation window (confounding events).
    pub excluded: Vec<(i64, i64)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenWindow {
    pub window: Window,
    pub car: f64,
    pub variance: f64,
    /// CAR / √variance.
    pub scar: f64,
    /// The token's own compounded return over the window.
    pub token_return: f64,
    /// Its market series' compounded return over the window.
    pub market_return: f64,
    /// Σ (R − R_m): the market-adjusted CAR, shown beside the model's.
    pub car_market_adjusted: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TokenOutcome {
    pub token_id: i32,
    pub fit: Fit,
    /// AR path over the event span, from `path_start` (relative to bar 0).
    pub path_start: i32,
    pub ar_path: Vec<f64>,
    pub windows: Vec<TokenWindow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CategoryOutcome {
    pub category_id: i32,
    pub window: Window,
    /// Tokens kept for the event: the CAAR, the tests and the portfolio all use exactly
    /// these.
    pub n: usize,
    pub caar: f64,
    pub caar_value_weighted: Option<f64>,
    /// Cross-sectional sample SD of the CARs.
    pub cross_sd: Option<f64>,
    pub cross_sectional: Option<Test>,
    pub patell: Option<Test>,
    pub bmp: Option<Test>,
    pub kolari_pynnonen: Option<Test>,
    pub mean_cross_correlation: Option<f64>,
    pub portfolio_car: Option<f64>,
    pub portfolio: Option<Test>,
    /// The portfolio's residual σ per bar on the estimation window.
    pub portfolio_sigma: Option<f64>,
    pub rank: Option<Test>,
    pub sign: Option<Test>,
    pub n_positive: usize,
    /// The equal-weighted CAAR path over the event span (mean AR per bar, cumulated).
    pub caar_path: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarketMove {
    pub window: Window,
    /// The proxy's compounded return over the window.
    pub market_return: f64,
    /// (Σ R_m − L·mean) / (σ_m·√L) against its estimation-window volatility.
    pub z: f64,
    pub p: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventOutcome {
    pub tokens: Vec<TokenOutcome>,
    pub dropped: Vec<(i32, DropReason)>,
    pub categories: Vec<CategoryOutcome>,
    pub market: Vec<MarketMove>,
}

/// The core of the study for one event: every token's fit, AR path and CARs (no category
/// tests). O(1) per fit thanks to the prefix sums, O(span) per token for the ARs.
pub fn token_results(
    u: &Universe,
    ev: &EventInput,
    params: &StudyParams,
) -> Vec<Result<TokenOutcome, DropReason>> {
    let frame = Frame::new(u, params, ev.bar0, &[]);
    u.tokens
        .iter()
        .map(|tok| study_token(u, tok, params, &frame, &[]).map(|(o, _)| o))
        .collect()
}

/// Per-token scratch for the category tests.
struct Scratch {
    /// Residuals over [estimation start, span end), NaN where missing or excluded.
    residuals: Vec<f64>,
    sigma: f64,
    /// Share of positive residuals in the estimation window.
    p_positive: f64,
    ranks: Vec<f64>,
}

/// Grid-index ranges of an event's excluded bars.
pub fn excluded_grid(u: &Universe, ev: &EventInput) -> Vec<(i64, i64)> {
    ev.excluded
        .iter()
        .map(|&(a, b)| (u.idx(a), u.idx(b)))
        .collect()
}

/// Study one event.
pub fn study_event(u: &Universe, ev: &EventInput, params: &StudyParams) -> EventOutcome {
    let model = params.model;
    let span = params.event_span();
    let excluded = excluded_grid(u, ev);
    let frame = Frame::new(u, params, ev.bar0, &excluded);
    let (est_a, est_b) = frame.est;
    let span_b = frame.span.1;
    let is_excluded = |i: i64| excluded.iter().any(|&(a, b)| i >= a && i < b);

    let mut tokens = Vec::new();
    let mut dropped = Vec::new();
    let mut scratch: Vec<Option<Scratch>> = Vec::with_capacity(u.tokens.len());
    for tok in &u.tokens {
        match study_token(u, tok, params, &frame, &excluded) {
            Ok((outcome, fitted)) => {
                let market = &u.markets[tok.market];
                let combined: Vec<f64> = (est_a..span_b)
                    .map(|i| {
                        let (y, x) = (Universe::at(&tok.returns, i), Universe::at(market, i));
                        if (i < est_b && is_excluded(i)) || !y.is_finite() || !x.is_finite() {
                            f64::NAN
                        } else {
                            y - fitted.expected(model, x)
                        }
                    })
                    .collect();
                let est_len = (est_b - est_a) as usize;
                let est_part = &combined[..est_len.min(combined.len())];
                let valid = est_part.iter().filter(|v| v.is_finite()).count();
                let positive = est_part.iter().filter(|v| **v > 0.0).count();
                scratch.push(Some(Scratch {
                    ranks: standardised_ranks(&combined),
                    residuals: combined,
                    sigma: fitted.sigma,
                    p_positive: positive as f64 / valid.max(1) as f64,
                }));
                tokens.push(outcome);
            }
            Err(reason) => {
                scratch.push(None);
                dropped.push((tok.id, reason));
            }
        }
    }

    let by_id: std::collections::HashMap<i32, (usize, &TokenOutcome)> = tokens
        .iter()
        .map(|t| (t.token_id, t))
        .filter_map(|(id, t)| {
            u.tokens
                .iter()
                .position(|x| x.id == id)
                .map(|i| (id, (i, t)))
        })
        .collect();

    let mut categories = Vec::new();
    for cat in &u.categories {
        let members: Vec<(usize, &TokenOutcome)> = cat
            .members
            .iter()
            .filter_map(|&i| by_id.get(&u.tokens[i].id).copied())
            .collect();
        if members.is_empty() {
            continue;
        }
        let std_resid: Vec<Vec<f64>> = members
            .iter()
            .filter_map(|(i, _)| scratch[*i].as_ref())
            .map(|s| {
                let est_len = ((est_b - est_a) as usize).min(s.residuals.len());
                s.residuals[..est_len].iter().map(|e| e / s.sigma).collect()
            })
            .collect();
        let refs: Vec<&[f64]> = std_resid.iter().map(Vec::as_slice).collect();
        let rbar = mean_cross_correlation(&refs);
        // Mean standardised rank per bar of the combined period.
        let combined_len = (span_b - est_a).max(0) as usize;
        let k: Vec<f64> = (0..combined_len)
            .map(|t| {
                let (s, n) = members
                    .iter()
                    .filter_map(|(i, _)| scratch[*i].as_ref())
                    .map(|s| s.ranks[t])
                    .filter(|v| v.is_finite())
                    .fold((0.0, 0.0), |(s, n), v| (s + v, n + 1.0));
                if n > 0.0 {
                    s / n
                } else {
                    f64::NAN
                }
            })
            .collect();
        let p_hat = members
            .iter()
            .filter_map(|(i, _)| scratch[*i].as_ref())
            .map(|s| s.p_positive)
            .sum::<f64>()
            / members.len() as f64;
        // The portfolio of exactly the kept tokens: the tokens counted in N.
        let kept: Vec<usize> = members.iter().map(|(i, _)| *i).collect();
        let portfolio = u.portfolio(&kept);
        let portfolio_fit = fit_on(model, &portfolio.sums, &frame, &excluded).ok();
        let span_len = span.len() as usize;
        let caar_path = {
            let mut acc = 0.0;
            (0..span_len)
                .map(|j| {
                    let (s, n) = members
                        .iter()
                        .map(|(_, t)| t.ar_path[j])
                        .fold((0.0, 0.0), |(s, n), v| (s + v, n + 1.0));
                    acc += s / n;
                    acc
                })
                .collect::<Vec<f64>>()
        };

        for (wi, &w) in params.windows.iter().enumerate() {
            let cars: Vec<f64> = members.iter().map(|(_, t)| t.windows[wi].car).collect();
            let scars: Vec<f64> = members.iter().map(|(_, t)| t.windows[wi].scar).collect();
            let dfs: Vec<f64> = members.iter().map(|(_, t)| t.fit.df).collect();
            let n = cars.len();
            let caar = cars.iter().sum::<f64>() / n as f64;
            let caps_at = ev.bar0 + i64::from(w.start) - 1;
            let weights: Option<Vec<f64>> = members
                .iter()
                .map(|(i, _)| {
                    u.tokens[*i]
                        .caps
                        .as_ref()
                        .map(|c| Universe::at(c, u.idx(caps_at)))
                        .filter(|c| c.is_finite() && *c > 0.0)
                })
                .collect();
            let caar_value_weighted = weights.map(|ws| {
                let total: f64 = ws.iter().sum();
                ws.iter().zip(&cars).map(|(w, c)| w * c).sum::<f64>() / total
            });
            let bmp_test = bmp(&scars);
            let (wa, wb) = frame.window(u, w);
            let stat = portfolio_fit.and_then(|f| {
                window_stat(u, model, &f, &portfolio.returns, &u.markets[0], (wa, wb))
            });
            let rank_range = ((wa - est_a).max(0) as usize)..((wb - est_a).max(0) as usize);
            categories.push(CategoryOutcome {
                category_id: cat.id,
                window: w,
                n,
                caar,
                caar_value_weighted,
                cross_sd: super::stats::sample_sd(&cars),
                cross_sectional: cross_sectional(&cars),
                patell: patell(&scars, &dfs),
                bmp: bmp_test,
                kolari_pynnonen: bmp_test
                    .zip(rbar)
                    .and_then(|(t, r)| kolari_pynnonen(t, n, r)),
                mean_cross_correlation: rbar,
                portfolio_car: stat.map(|s| s.abnormal),
                portfolio: stat.and_then(|s| single_series(s.abnormal, s.sd * s.sd, s.df)),
                portfolio_sigma: portfolio_fit.map(|f| f.sigma),
                rank: corrado_rank(&k, rank_range),
                sign: generalized_sign(cars.iter().filter(|c| **c > 0.0).count(), n, p_hat),
                n_positive: cars.iter().filter(|c| **c > 0.0).count(),
                caar_path: caar_path.clone(),
            });
        }
    }

    let market = market_moves(u, params, &frame, &excluded);
    EventOutcome {
        tokens,
        dropped,
        categories,
        market,
    }
}

fn study_token(
    u: &Universe,
    tok: &super::universe::UToken,
    params: &StudyParams,
    frame: &Frame,
    excluded: &[(i64, i64)],
) -> Result<(TokenOutcome, Fit), DropReason> {
    let fitted = token_fit(u, tok, params, frame, excluded)?;
    let model = params.model;
    let market = &u.markets[tok.market];
    let span = params.event_span();
    let (span_a, span_b) = frame.span;
    let ar_path: Vec<f64> = (span_a..span_b)
        .map(|i| Universe::at(&tok.returns, i) - fitted.expected(model, Universe::at(market, i)))
        .collect();
    let mut windows = Vec::with_capacity(params.windows.len());
    for &w in &params.windows {
        let a = (w.start - span.start) as usize;
        let b = (w.end - span.start) as usize;
        let car: f64 = ar_path[a..b].iter().sum();
        let (lo, hi) = ((span_a + a as i64) as usize, (span_a + b as i64) as usize);
        // In range: token_fit checked that every bar of the span is on the grid.
        let (xs, ys) = (&market[lo..hi], &tok.returns[lo..hi]);
        let sum_x: f64 = xs.iter().sum();
        let variance = fitted.car_variance(model, f64::from(w.len()), sum_x);
        windows.push(TokenWindow {
            window: w,
            car,
            variance,
            scar: car / variance.sqrt(),
            token_return: u.kind.compound(ys.iter().copied()),
            market_return: u.kind.compound(xs.iter().copied()),
            car_market_adjusted: ys.iter().sum::<f64>() - sum_x,
        });
    }
    Ok((
        TokenOutcome {
            token_id: tok.id,
            fit: fitted,
            path_start: span.start,
            ar_path,
            windows,
        },
        fitted,
    ))
}

fn market_moves(
    u: &Universe,
    params: &StudyParams,
    frame: &Frame,
    excluded: &[(i64, i64)],
) -> Vec<MarketMove> {
    let Some(f) = market_fit(u, frame, excluded) else {
        return Vec::new();
    };
    params
        .windows
        .iter()
        .filter_map(|&w| {
            let s = market_stat(u, &f, frame.window(u, w))?;
            Some(MarketMove {
                window: w,
                market_return: s.raw,
                z: s.t,
                p: normal_two_sided_p(s.t),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::universe::TokenInput;
    use chrono::TimeZone;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_story_matures_when_its_last_window_closes() {
        let p = StudyParams::hourly();
        let m = p.maturity(t("2025-01-27T10:00:00Z"));
        assert_eq!(m.first_window, Window::new(0, 1));
        assert_eq!(m.first_window_closes, t("2025-01-27T11:00:00Z"));
        assert_eq!(m.last_window, Window::new(-24, 72));
        assert_eq!(m.complete_at, t("2025-01-30T10:00:00Z"));
        // Inside a bar: bar 0 is the next one.
        let m = p.maturity(t("2025-01-27T10:20:00Z"));
        assert_eq!(m.first_window_closes, t("2025-01-27T12:00:00Z"));
        // The history a calibrated score needs: 31 days and the span before each of
        // 4,000 ordinary hours.
        assert_eq!(p.history_bars(), 745 + 72 + 4000);
        assert_eq!(p.history().num_days(), 200);
    }

    #[test]
    fn bar_zero_is_the_first_bar_opening_at_or_after_t0() {
        let h = BarInterval::Hour;
        let ten = bar_of(t("2025-01-27T10:00:00Z"), h);
        assert_eq!(bar_zero(t("2025-01-27T10:00:00Z"), h), ten);
        assert_eq!(bar_zero(t("2025-01-27T09:59:59Z"), h), ten);
        assert_eq!(bar_zero(t("2025-01-27T09:00:01Z"), h), ten);
        let ms = Utc
            .timestamp_millis_opt(t("2025-01-27T10:00:00Z").timestamp_millis() + 1)
            .unwrap();
        assert_eq!(bar_zero(ms, h), ten + 1);
        let midnight = bar_of(t("2025-01-28T00:00:00Z"), h);
        assert_eq!(bar_zero(t("2025-01-27T23:59:59Z"), h), midnight);
        assert_eq!(bar_zero(t("2025-01-28T00:00:01Z"), h), midnight + 1);
        let d = BarInterval::Day;
        assert_eq!(
            bar_zero(t("2025-01-27T00:00:00Z"), d),
            bar_of(t("2025-01-27T00:00:00Z"), d)
        );
        assert_eq!(
            bar_zero(t("2025-01-27T00:00:01Z"), d),
            bar_of(t("2025-01-28T00:00:00Z"), d)
        );
    }

    /// A tiny universe where the arithmetic can be followed by hand: market-adjusted,
    /// estimation [−4, −1), window [0, 2).
    #[test]
    fn hand_worked_market_adjusted_event() {
        let btc = [100.0, 101.0, 100.0, 101.0, 100.0, 100.0, 110.0, 110.0];
        let tok = [10.0, 10.2, 10.0, 10.1, 10.0, 10.0, 12.0, 12.6];
        let u = Universe::build(
            0,
            8,
            vec![
                TokenInput {
                    id: 1,
                    symbol: "BTC".into(),
                    categories: vec![],
                    closes: btc.to_vec(),
                    caps: None,
                },
                TokenInput {
                    id: 2,
                    symbol: "X".into(),
                    categories: vec![9],
                    closes: tok.to_vec(),
                    caps: None,
                },
            ],
            ReturnKind::Simple,
            Proxy::Btc,
        )
        .unwrap();
        let params = StudyParams {
            model: Model::MarketAdjusted,
            estimation: Window::new(-4, -1),
            windows: vec![Window::new(0, 2)],
            ranking_window: Window::new(0, 2),
            score_windows: vec![],
            pre_window: Window::new(0, 0),
            min_category_tokens: 1,
            min_estimation_share: 1.0,
            ..StudyParams::hourly()
        };
        let out = study_event(
            &u,
            &EventInput {
                bar0: 6,
                ..Default::default()
            },
            &params,
        );
        // BTC has no ETH to be measured against: dropped.
        assert_eq!(out.dropped.len(), 1);
        let x = &out.tokens[0];
        // Bar 6: X +20%, BTC +10% → AR 0.10; bar 7: X +5%, BTC 0 → AR 0.05.
        assert!(
            (x.windows[0].car - 0.15).abs() < 1e-12,
            "{:?}",
            x.windows[0]
        );
        assert!((x.windows[0].token_return - 0.26).abs() < 1e-12);
        assert!((x.windows[0].market_return - 0.10).abs() < 1e-12);
        // Estimation bars 2..4: returns X (−1.9608%, +1%, −0.9901%), BTC (−0.9901%, +1%, −0.9901%).
        let d = [10.0 / 10.2 - 1.0 - (100.0 / 101.0 - 1.0), 0.0, 0.0];
        let mean = d.iter().sum::<f64>() / 3.0;
        let var = d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2.0;
        assert!((x.fit.sigma.powi(2) - var).abs() < 1e-15);
        assert!((x.windows[0].variance - var * (2.0 + 4.0 / 3.0)).abs() < 1e-15);
        assert_eq!(out.categories.len(), 1);
        assert!((out.categories[0].caar - 0.15).abs() < 1e-12);
    }

    /// Two tokens with market caps: the value-weighted CAAR weights their CARs by the caps
    /// at the bar before the window; excluding bars shrinks the estimation sample.
    #[test]
    fn value_weighting_and_excluded_estimation_bars() {
        let n = 40;
        let btc: Vec<f64> = (0..n).map(|i| 100.0 + (i % 3) as f64).collect();
        let a: Vec<f64> = (0..n).map(|i| 10.0 + (i % 5) as f64 * 0.1).collect();
        let b: Vec<f64> = (0..n).map(|i| 5.0 + (i % 4) as f64 * 0.1).collect();
        let cap = |v: f64| Some(vec![v; n]);
        let u = Universe::build(
            0,
            n,
            vec![
                TokenInput {
                    id: 1,
                    symbol: "BTC".into(),
                    categories: vec![],
                    closes: btc,
                    caps: None,
                },
                TokenInput {
                    id: 2,
                    symbol: "A".into(),
                    categories: vec![5],
                    closes: a,
                    caps: cap(300.0),
                },
                TokenInput {
                    id: 3,
                    symbol: "B".into(),
                    categories: vec![5],
                    closes: b,
                    caps: cap(100.0),
                },
            ],
            ReturnKind::Simple,
            Proxy::Btc,
        )
        .unwrap();
        let params = StudyParams {
            estimation: Window::new(-20, -2),
            windows: vec![Window::new(-2, 4)],
            ranking_window: Window::new(-2, 4),
            score_windows: vec![],
            pre_window: Window::new(-1, -1),
            ..StudyParams::hourly()
        };
        let ev = EventInput {
            bar0: 30,
            ..Default::default()
        };
        let out = study_event(&u, &ev, &params);
        let car = |id: i32| {
            out.tokens
                .iter()
                .find(|t| t.token_id == id)
                .unwrap()
                .windows[0]
                .car
        };
        let cat = &out.categories[0];
        assert!((cat.caar - (car(2) + car(3)) / 2.0).abs() < 1e-15);
        let vw = cat.caar_value_weighted.unwrap();
        assert!((vw - (0.75 * car(2) + 0.25 * car(3))).abs() < 1e-15);
        // Leave bars 12..16 out of the estimation window [10, 28): 14 of 18 bars remain,
        // and 80% of 14 (12) are needed.
        let excluded = EventInput {
            excluded: vec![(12, 16)],
            ..ev
        };
        let out = study_event(&u, &excluded, &params);
        let a = out.tokens.iter().find(|t| t.token_id == 2).unwrap();
        assert_eq!(a.fit.m, 14.0);
    }

    #[test]
    fn gaps_and_short_estimation_drop_tokens_with_reasons() {
        let n = 40;
        let btc: Vec<f64> = (0..n).map(|i| 100.0 + (i % 3) as f64).collect();
        let mut gap: Vec<f64> = (0..n).map(|i| 10.0 + (i % 5) as f64 * 0.1).collect();
        gap[31] = f64::NAN;
        let mut short: Vec<f64> = (0..n).map(|i| 5.0 + (i % 4) as f64 * 0.1).collect();
        short[..13].fill(f64::NAN);
        let flat = vec![1.0; n];
        let u = Universe::build(
            0,
            n,
            vec![
                TokenInput {
                    id: 1,
                    symbol: "BTC".into(),
                    categories: vec![],
                    closes: btc,
                    caps: None,
                },
                TokenInput {
                    id: 2,
                    symbol: "GAP".into(),
                    categories: vec![],
                    closes: gap,
                    caps: None,
                },
                TokenInput {
                    id: 3,
                    symbol: "SHORT".into(),
                    categories: vec![],
                    closes: short,
                    caps: None,
                },
                TokenInput {
                    id: 4,
                    symbol: "FLAT".into(),
                    categories: vec![],
                    closes: flat,
                    caps: None,
                },
            ],
            ReturnKind::Simple,
            Proxy::Btc,
        )
        .unwrap();
        let params = StudyParams {
            estimation: Window::new(-20, -2),
            windows: vec![Window::new(-2, 4)],
            ranking_window: Window::new(-2, 4),
            score_windows: vec![],
            pre_window: Window::new(-1, -1),
            ..StudyParams::hourly()
        };
        let out = study_event(
            &u,
            &EventInput {
                bar0: 30,
                ..Default::default()
            },
            &params,
        );
        let reason = |id: i32| out.dropped.iter().find(|d| d.0 == id).map(|d| d.1.clone());
        assert_eq!(
            reason(2),
            Some(DropReason::Gap {
                window: Window::new(-2, 4),
                bar: 1
            })
        );
        assert_eq!(
            reason(3),
            Some(DropReason::EstimationTooShort { have: 14, need: 15 })
        );
        assert_eq!(reason(4), Some(DropReason::ConstantPrices));
        assert_eq!(
            reason(3).unwrap().describe(BarInterval::Hour),
            "estimation window too short (14 of 15 bars needed)"
        );
    }
}
