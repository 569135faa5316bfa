//! The event study in memory. Pure: price series and events in, results out.
//!
//! Alignment. Bars are numbered by their opening time: bar `b` opens at `b * interval`
//! seconds since the Unix epoch (UTC). Bar 0 of an event is the first bar that opens at
//! or after the event time t0 (an event at 10:00:00 has bar 0 = the 10:00 bar; at
//! 10:00:01, the 11:00 bar).
//!
//! Returns. The simple return of bar `k` runs from the close of bar `k - 1` to the close
//! of bar `k`: r_k = C_k / C_{k-1} - 1, i.e. over the time span of bar `k` itself.
//!
//! Windows. `[a, b)` in bars relative to bar 0 covers bars a..b-1, so on hourly bars
//! `[-24, 24)` spans t0-24h to t0+24h (48 returns, 49 closes). The market-adjusted
//! abnormal return is AR_k = r_k - r_m,k with BTC as the market; CAR = sum of AR_k over
//! the window. A token needs every close of the window (and the one before it): a gap
//! drops it with a recorded reason rather than interpolating.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::stats::{cross_section, CrossSection};
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

    /// `[-24h, +24h]` style label for hourly bars, `[-1d, +1d]` for daily.
    pub fn label(self, interval: BarInterval) -> String {
        let unit = match interval {
            BarInterval::Hour => "h",
            BarInterval::Day => "d",
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

/// Closes of one token on a regular grid; `NaN` marks a missing bar.
#[derive(Debug, Clone, Default)]
pub struct Series {
    first_bar: i64,
    closes: Vec<f64>,
}

impl Series {
    /// Build from (bar number, close) points in any order.
    pub fn from_points(points: &[(i64, f64)]) -> Self {
        let Some(first) = points.iter().map(|p| p.0).min() else {
            return Series::default();
        };
        let last = points.iter().map(|p| p.0).max().unwrap_or(first);
        let mut closes = vec![f64::NAN; (last - first + 1) as usize];
        for &(bar, close) in points {
            closes[(bar - first) as usize] = close;
        }
        Series {
            first_bar: first,
            closes,
        }
    }

    pub fn close(&self, bar: i64) -> Option<f64> {
        let i = bar.checked_sub(self.first_bar)?;
        let c = *self.closes.get(usize::try_from(i).ok()?)?;
        (c.is_finite() && c > 0.0).then_some(c)
    }

    pub fn is_empty(&self) -> bool {
        self.closes.is_empty()
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

/// Why a token is left out of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    NoData,
    Gap { window: Window, bar: i32 },
    IsProxy,
}

impl DropReason {
    pub fn describe(&self, interval: BarInterval) -> String {
        match self {
            DropReason::NoData => "no price data".to_string(),
            DropReason::Gap { window, bar } => {
                format!("missing bar {bar:+} in window {}", window.label(interval))
            }
            DropReason::IsProxy => {
                "is the market proxy (its abnormal return is 0 by construction)".to_string()
            }
        }
    }
}

/// One token's result in one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowReturn {
    pub car: f64,
    pub token_return: f64,
    pub market_return: f64,
    pub n_bars: i32,
}

/// CAR of `token` against `market` over `w` around `bar0`. Errors name the first bar
/// missing in either series.
pub fn window_car(
    token: &Series,
    market: &Series,
    bar0: i64,
    w: Window,
) -> Result<WindowReturn, DropReason> {
    let gap = |k: i32| DropReason::Gap { window: w, bar: k };
    let mut car = 0.0;
    for k in w.start..w.end {
        let b = bar0 + i64::from(k);
        let (Some(p0), Some(p1)) = (token.close(b - 1), token.close(b)) else {
            return Err(gap(if token.close(b - 1).is_none() {
                k - 1
            } else {
                k
            }));
        };
        let (Some(m0), Some(m1)) = (market.close(b - 1), market.close(b)) else {
            return Err(gap(if market.close(b - 1).is_none() {
                k - 1
            } else {
                k
            }));
        };
        car += (p1 / p0 - 1.0) - (m1 / m0 - 1.0);
    }
    let first = bar0 + i64::from(w.start) - 1;
    let last = bar0 + i64::from(w.end) - 1;
    // Present: checked in the loop (a non-empty window reads both ends).
    let ratio = |s: &Series| match (s.close(first), s.close(last)) {
        (Some(a), Some(b)) => b / a - 1.0,
        _ => 0.0,
    };
    Ok(WindowReturn {
        car,
        token_return: ratio(token),
        market_return: ratio(market),
        n_bars: w.len(),
    })
}

/// Parameters of a study run. Serialised canonically into `study_runs.params_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudyParams {
    pub model: String,
    pub return_kind: String,
    pub market_proxy: String,
    #[serde(with = "interval_serde")]
    pub interval: BarInterval,
    pub windows: Vec<Window>,
    pub ranking_window: Window,
    /// Categories with fewer tokens than this get no score (a mean of one or two
    /// high-beta tokens is noise, not a category move).
    pub min_category_tokens: usize,
}

/// The ranking window: t0-24h to t0+24h. It starts before the event on purpose: news
/// often reports a move already under way.
pub const RANKING_WINDOW: Window = Window::new(-24, 24);
pub const MIN_CATEGORY_TOKENS: usize = 3;

impl Default for StudyParams {
    fn default() -> Self {
        StudyParams {
            model: "market-adjusted".into(),
            return_kind: "simple".into(),
            market_proxy: "BTC".into(),
            interval: BarInterval::Hour,
            windows: vec![RANKING_WINDOW],
            ranking_window: RANKING_WINDOW,
            min_category_tokens: MIN_CATEGORY_TOKENS,
        }
    }
}

impl StudyParams {
    pub fn key(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
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

/// A token as the study sees it.
#[derive(Debug, Clone)]
pub struct StudyToken<'a> {
    pub token_id: i32,
    pub series: Option<&'a Series>,
    /// Categories that aggregate this token (excluded categories already removed).
    pub categories: &'a [i32],
    pub is_proxy: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TokenResult {
    pub token_id: i32,
    pub window: Window,
    pub ret: WindowReturn,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CategoryResult {
    pub category_id: i32,
    pub window: Window,
    pub stat: CrossSection,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Largest |CAAR| in the ranking window over categories with enough tokens.
    pub impact: Option<f64>,
    pub top_category: Option<i32>,
    pub top_caar: Option<f64>,
    pub market_return: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventOutcome {
    pub tokens: Vec<TokenResult>,
    pub dropped: Vec<(i32, DropReason)>,
    pub categories: Vec<CategoryResult>,
    pub score: Score,
}

/// Study one event: every token's CAR in every window, the categories' CAARs, the score.
/// A token missing any bar of any window is dropped from the event, so every window
/// averages over the same tokens.
pub fn study_event(
    bar0: i64,
    tokens: &[StudyToken<'_>],
    market: &Series,
    params: &StudyParams,
) -> EventOutcome {
    let mut results = Vec::new();
    let mut dropped = Vec::new();
    // (category, window) -> CARs
    let mut by_category: BTreeMap<(i32, Window), Vec<f64>> = BTreeMap::new();
    for t in tokens {
        if t.is_proxy {
            dropped.push((t.token_id, DropReason::IsProxy));
            continue;
        }
        let Some(series) = t.series.filter(|s| !s.is_empty()) else {
            dropped.push((t.token_id, DropReason::NoData));
            continue;
        };
        let computed: Result<Vec<(Window, WindowReturn)>, DropReason> = params
            .windows
            .iter()
            .map(|&w| window_car(series, market, bar0, w).map(|r| (w, r)))
            .collect();
        match computed {
            Ok(rs) => {
                for (w, r) in rs {
                    for &c in t.categories {
                        by_category.entry((c, w)).or_default().push(r.car);
                    }
                    results.push(TokenResult {
                        token_id: t.token_id,
                        window: w,
                        ret: r,
                    });
                }
            }
            Err(reason) => dropped.push((t.token_id, reason)),
        }
    }
    let categories: Vec<CategoryResult> = by_category
        .into_iter()
        .filter_map(|((category_id, window), cars)| {
            cross_section(&cars).map(|stat| CategoryResult {
                category_id,
                window,
                stat,
            })
        })
        .collect();
    let top = categories
        .iter()
        .filter(|c| c.window == params.ranking_window && c.stat.n >= params.min_category_tokens)
        .max_by(|a, b| a.stat.mean.abs().total_cmp(&b.stat.mean.abs()))
        .map(|c| (c.category_id, c.stat.mean));
    let market_return = {
        let w = params.ranking_window;
        let first = market.close(bar0 + i64::from(w.start) - 1);
        let last = market.close(bar0 + i64::from(w.end) - 1);
        first.zip(last).map(|(a, b)| b / a - 1.0)
    };
    EventOutcome {
        tokens: results,
        dropped,
        categories,
        score: Score {
            impact: top.map(|(_, caar)| caar.abs()),
            top_category: top.map(|(id, _)| id),
            top_caar: top.map(|(_, caar)| caar),
            market_return,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
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
        // Midnight crossings.
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

    #[test]
    fn hand_worked_car() {
        // Bars 9..12. Token closes 100, 110, 99, 99; market 10, 10, 10.5, 10.5.
        // Window [0, 3) around bar0 = 10 reads closes of bars 9..12:
        // token returns 0.10, -0.10, 0; market 0, 0.05, 0 -> ARs 0.10, -0.15, 0 -> CAR -0.05.
        let token = Series::from_points(&[(9, 100.0), (10, 110.0), (11, 99.0), (12, 99.0)]);
        let market = Series::from_points(&[(9, 10.0), (10, 10.0), (11, 10.5), (12, 10.5)]);
        let r = window_car(&token, &market, 10, Window::new(0, 3)).unwrap();
        assert!((r.car - -0.05).abs() < 1e-12, "{r:?}");
        assert!((r.token_return - -0.01).abs() < 1e-12);
        assert!((r.market_return - 0.05).abs() < 1e-12);
        assert_eq!(r.n_bars, 3);
    }

    #[test]
    fn gaps_drop_the_token_and_say_where() {
        let token = Series::from_points(&[(9, 100.0), (10, 110.0), (12, 99.0)]);
        let market = Series::from_points(&[(9, 10.0), (10, 10.0), (11, 10.5), (12, 10.5)]);
        let e = window_car(&token, &market, 10, Window::new(0, 3)).unwrap_err();
        assert_eq!(
            e,
            DropReason::Gap {
                window: Window::new(0, 3),
                bar: 1
            }
        );
        assert_eq!(
            e.describe(BarInterval::Hour),
            "missing bar +1 in window [0, +3h]"
        );
    }

    #[test]
    fn categories_average_and_score_needs_enough_tokens() {
        let market = Series::from_points(&[(0, 1.0), (1, 1.0)]);
        let up = |c: f64| Series::from_points(&[(0, 1.0), (1, c)]);
        let (a, b, c, d) = (up(1.1), up(1.2), up(1.3), up(0.5));
        let big = [1];
        let small = [2];
        let params = StudyParams {
            windows: vec![Window::new(0, 1)],
            ranking_window: Window::new(0, 1),
            ..Default::default()
        };
        let tokens = [
            StudyToken {
                token_id: 1,
                series: Some(&a),
                categories: &big,
                is_proxy: false,
            },
            StudyToken {
                token_id: 2,
                series: Some(&b),
                categories: &big,
                is_proxy: false,
            },
            StudyToken {
                token_id: 3,
                series: Some(&c),
                categories: &big,
                is_proxy: false,
            },
            StudyToken {
                token_id: 4,
                series: Some(&d),
                categories: &small,
                is_proxy: false,
            },
            StudyToken {
                token_id: 5,
                series: None,
                categories: &small,
                is_proxy: false,
            },
            StudyToken {
                token_id: 6,
                series: Some(&market),
                categories: &small,
                is_proxy: true,
            },
        ];
        let out = study_event(1, &tokens, &market, &params);
        assert_eq!(
            out.dropped,
            vec![(5, DropReason::NoData), (6, DropReason::IsProxy)]
        );
        let big_cat = out.categories.iter().find(|c| c.category_id == 1).unwrap();
        assert_eq!(big_cat.stat.n, 3);
        assert!((big_cat.stat.mean - 0.2).abs() < 1e-12);
        // Category 2 moved more (-50%) but has one token: below the minimum of 3.
        assert_eq!(out.score.top_category, Some(1));
        assert!((out.score.impact.unwrap() - 0.2).abs() < 1e-12);
        assert_eq!(out.score.market_return, Some(0.0));
    }
}
