//! The statistic of one series over one window at one bar 0. Pure.
//!
//! A series is a token (against its market series), a category portfolio made of
//! exactly the tokens kept for that bar 0, or the market proxy's own move. The event
//! study's tables, the impact score and the null at ordinary hours all call these
//! functions, so an event is judged against exactly the statistic computed at ordinary
//! hours, and a page shows one number for one thing.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::engine::{DropReason, StudyParams, Window};
use super::model::{fit, Fit, FitError, Model, PairSums};
use super::universe::{UToken, Universe};

/// What a score component measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "series", rename_all = "kebab-case")]
pub enum Series {
    /// The market proxy's own move against its volatility.
    Market,
    Token {
        token_id: i32,
    },
    Category {
        category_id: i32,
    },
}

/// Grid indices of one bar 0's estimation window and event span, and the bars a fit needs.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub bar0: i64,
    pub est: (i64, i64),
    pub span: (i64, i64),
    pub need: f64,
}

impl Frame {
    /// `excluded`: grid-index ranges left out of the estimation window.
    pub fn new(u: &Universe, params: &StudyParams, bar0: i64, excluded: &[(i64, i64)]) -> Self {
        let (est, span) = (params.estimation, params.event_span());
        let at = |k: i32| u.idx(bar0 + i64::from(k));
        let est_r = (at(est.start), at(est.end));
        let excluded_bars: i64 = excluded
            .iter()
            .map(|&(a, b)| (b.min(est_r.1) - a.max(est_r.0)).max(0))
            .sum();
        let need = (params.min_estimation_share
            * (i64::from(est.len()) - excluded_bars).max(0) as f64)
            .ceil();
        Frame {
            bar0,
            est: est_r,
            span: (at(span.start), at(span.end)),
            need,
        }
    }

    /// Grid range of window `w`.
    pub fn window(&self, u: &Universe, w: Window) -> (i64, i64) {
        (
            u.idx(self.bar0 + i64::from(w.start)),
            u.idx(self.bar0 + i64::from(w.end)),
        )
    }
}

/// Fit `model` on the estimation window of `sums`.
pub fn fit_on(
    model: Model,
    sums: &PairSums,
    f: &Frame,
    excluded: &[(i64, i64)],
) -> Result<Fit, FitError> {
    fit(model, sums.range(f.est.0, f.est.1, excluded), f.need)
}

/// A token's model at this frame, if the token is kept: its fit succeeds and it has
/// every bar of the event span (no interpolation).
pub fn token_fit(
    u: &Universe,
    tok: &UToken,
    params: &StudyParams,
    f: &Frame,
    excluded: &[(i64, i64)],
) -> Result<Fit, DropReason> {
    if !tok.has_data {
        return Err(DropReason::NoData);
    }
    let sums = tok.sums.range(f.est.0, f.est.1, excluded);
    let fitted = fit(params.model, sums, f.need).map_err(|e| match e {
        FitError::TooShort => DropReason::EstimationTooShort {
            have: sums.n as usize,
            need: f.need as usize,
        },
        FitError::ConstantPrices => DropReason::ConstantPrices,
        FitError::ConstantMarket => DropReason::ConstantMarket,
    })?;
    let span_len = (f.span.1 - f.span.0) as f64;
    if tok.sums.range(f.span.0, f.span.1, &[]).n < span_len {
        let market = &u.markets[tok.market];
        let span = params.event_span();
        let missing = (f.span.0..f.span.1)
            .position(|i| {
                !Universe::at(&tok.returns, i).is_finite() || !Universe::at(market, i).is_finite()
            })
            .unwrap_or(0) as i32;
        let bar = span.start + missing;
        let window = params
            .windows
            .iter()
            .copied()
            .find(|w| w.start <= bar && bar < w.end)
            .unwrap_or(span);
        return Err(DropReason::Gap { window, bar });
    }
    Ok(fitted)
}

/// One window of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowStat {
    /// The abnormal return summed over the window (a CAR); for the market, the proxy's
    /// summed return less its estimation-window mean.
    pub abnormal: f64,
    /// Standard deviation of `abnormal` under the model (estimation error included).
    pub sd: f64,
    /// abnormal / sd: the statistic that is calibrated.
    pub t: f64,
    /// Residual degrees of freedom of the fit (for the t-based p).
    pub df: f64,
    /// The series' own compounded return over the window.
    pub raw: f64,
    /// The market series' compounded return over the window.
    pub market_raw: f64,
    /// Σ(y − x): the naive market-adjusted CAR.
    pub market_adjusted: f64,
    /// Grid index of the bar with the largest abnormal return in the direction of the move.
    pub peak: i64,
}

/// The statistic of series `y` against market series `x` under `fitted`, over grid
/// bars `[a, b)`. `None` if a bar is missing. The abnormal return is summed bar by bar in
/// order, exactly as the AR path of the event study, so both give the same number.
pub fn window_stat(
    u: &Universe,
    model: Model,
    fitted: &Fit,
    y: &[f64],
    x: &[f64],
    (a, b): (i64, i64),
) -> Option<WindowStat> {
    let (mut car, mut sum_x, mut sum_y) = (0.0, 0.0, 0.0);
    let (mut best, mut peak) = (f64::NEG_INFINITY, a);
    let mut ars = Vec::with_capacity((b - a).max(0) as usize);
    for i in a..b {
        let (yi, xi) = (Universe::at(y, i), Universe::at(x, i));
        if !yi.is_finite() || !xi.is_finite() {
            return None;
        }
        let ar = yi - fitted.expected(model, xi);
        ars.push(ar);
        car += ar;
        sum_x += xi;
        sum_y += yi;
    }
    let direction = if car >= 0.0 { 1.0 } else { -1.0 };
    for (k, ar) in ars.iter().enumerate() {
        if ar * direction > best {
            best = ar * direction;
            peak = a + k as i64;
        }
    }
    let l = (b - a) as f64;
    let var = fitted.car_variance(model, l, sum_x);
    let sd = var.sqrt();
    let compound = |s: &[f64]| u.kind.compound((a..b).map(|i| Universe::at(s, i)));
    Some(WindowStat {
        abnormal: car,
        sd,
        t: if sd > 0.0 { car / sd } else { f64::NAN },
        df: fitted.df,
        raw: compound(y),
        market_raw: compound(x),
        market_adjusted: sum_y - sum_x,
        peak,
    })
}

/// The market proxy's own model at this frame: its mean and volatility.
pub fn market_fit(u: &Universe, f: &Frame, excluded: &[(i64, i64)]) -> Option<Fit> {
    fit_on(Model::MeanAdjusted, &u.market_sums, f, excluded).ok()
}

/// The market's own move over `[a, b)`: z = (ΣR_m − L·mean)/(σ·√L).
pub fn market_stat(u: &Universe, fitted: &Fit, (a, b): (i64, i64)) -> Option<WindowStat> {
    let m = &u.markets[0];
    let mut s = window_stat(u, Model::MeanAdjusted, fitted, m, m, (a, b))?;
    // The mean-adjusted variance adds estimation error; the market's z is the plain one.
    s.sd = fitted.sigma * ((b - a) as f64).sqrt();
    s.t = if s.sd > 0.0 {
        s.abnormal / s.sd
    } else {
        f64::NAN
    };
    s.market_raw = s.raw;
    s.market_adjusted = 0.0;
    Some(s)
}

/// A category portfolio: the mean return, bar by bar, of a fixed set of tokens (those
/// with a return that bar), with its prefix sums against the market proxy.
#[derive(Debug)]
pub struct Portfolio {
    pub members: Vec<usize>,
    pub returns: Vec<f64>,
    pub sums: PairSums,
}

impl Universe {
    /// The portfolio of exactly `members` (token indices, sorted): built once per
    /// distinct set and shared by every event and ordinary hour that keeps that set.
    pub fn portfolio(&self, members: &[usize]) -> Arc<Portfolio> {
        if let Some(p) = self
            .portfolios
            .read()
            .ok()
            .and_then(|c| c.get(members).cloned())
        {
            return p;
        }
        let series: Vec<&[f64]> = members
            .iter()
            .map(|&i| self.tokens[i].returns.as_slice())
            .collect();
        let returns = super::universe::mean_across(&series, self.len);
        let sums = PairSums::new(&returns, &self.markets[0]);
        let built = Arc::new(Portfolio {
            members: members.to_vec(),
            returns,
            sums,
        });
        if let Ok(mut cache) = self.portfolios.write() {
            cache
                .entry(members.to_vec())
                .or_insert_with(|| built.clone());
        }
        built
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::universe::{Proxy, ReturnKind, TokenInput};

    fn token(id: i32, sym: &str, cats: &[i32], closes: Vec<f64>) -> TokenInput {
        TokenInput {
            id,
            symbol: sym.into(),
            categories: cats.to_vec(),
            closes,
            caps: None,
        }
    }

    /// The portfolio of a subset averages only those tokens, even where another member
    /// of the category has a return.
    #[test]
    fn portfolio_of_a_subset_leaves_other_members_out() {
        let u = Universe::build(
            0,
            3,
            vec![
                token(1, "BTC", &[], vec![100.0, 101.0, 102.0]),
                token(2, "A", &[7], vec![10.0, 11.0, 11.0]),
                token(3, "B", &[7], vec![10.0, 10.0, 12.0]),
            ],
            ReturnKind::Simple,
            Proxy::Btc,
        )
        .unwrap();
        let only_a = u.portfolio(&[1]);
        assert!((only_a.returns[1] - 0.1).abs() < 1e-12);
        assert!((only_a.returns[2] - 0.0).abs() < 1e-12);
        let both = u.portfolio(&[1, 2]);
        assert!((both.returns[2] - 0.1).abs() < 1e-12);
        // Cached: the same set gives the same allocation.
        assert!(Arc::ptr_eq(&both, &u.portfolio(&[1, 2])));
    }

    #[test]
    fn window_stat_sums_in_order_and_finds_the_peak() {
        let u = Universe::build(
            0,
            5,
            vec![
                token(1, "BTC", &[], vec![100.0, 100.0, 100.0, 100.0, 100.0]),
                token(2, "A", &[], vec![10.0, 10.0, 9.0, 8.5, 8.5]),
            ],
            ReturnKind::Simple,
            Proxy::Btc,
        )
        .unwrap();
        let f = Fit {
            alpha: 0.0,
            beta: 1.0,
            sigma: 0.1,
            df: 10.0,
            m: 12.0,
            mean_x: 0.0,
            ss_x: 1.0,
        };
        let s = window_stat(
            &u,
            Model::MarketAdjusted,
            &f,
            &u.tokens[1].returns,
            &u.markets[0],
            (1, 5),
        )
        .unwrap();
        // Returns 0, −10%, −5.56%, 0: the −10% bar is the peak of the fall.
        assert!((s.abnormal - (-0.1 + (8.5 / 9.0 - 1.0))).abs() < 1e-12);
        assert_eq!(s.peak, 2);
        assert!((s.raw - (0.85 - 1.0)).abs() < 1e-12);
        assert!(window_stat(
            &u,
            Model::MarketAdjusted,
            &f,
            &u.tokens[1].returns,
            &u.markets[0],
            (0, 2)
        )
        .is_none());
    }
}
