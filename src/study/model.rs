//! Normal-return models fitted in O(1) per window from prefix sums. Pure.
//!
//! For one token (returns `y`) against its market proxy (returns `x`), on a common bar
//! grid, [`PairSums`] holds running sums of n, x, y, x², x·y and y² over the bars where
//! both returns exist. Any estimation window's α, β and σ then cost a few subtractions,
//! however long the window: no event rescans its 720 estimation bars.

use serde::{Deserialize, Serialize};

/// How "normal" returns are modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// AR = R − R_m (α = 0, β = 1 imposed).
    MarketAdjusted,
    /// AR = R − mean R over the estimation window.
    MeanAdjusted,
    /// AR = R − (α + β·R_m), α and β by OLS on the estimation window.
    #[default]
    MarketModel,
}

impl Model {
    pub fn as_str(self) -> &'static str {
        match self {
            Model::MarketAdjusted => "market-adjusted",
            Model::MeanAdjusted => "mean-adjusted",
            Model::MarketModel => "market-model",
        }
    }

    /// Parameters estimated: the residual degrees of freedom are m − k.
    pub fn estimated_params(self) -> usize {
        match self {
            Model::MarketModel => 2,
            _ => 1,
        }
    }
}

impl std::str::FromStr for Model {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "market-adjusted" => Ok(Model::MarketAdjusted),
            "mean-adjusted" => Ok(Model::MeanAdjusted),
            "market-model" => Ok(Model::MarketModel),
            other => Err(format!(
                "unknown model {other:?} (market-model, market-adjusted, mean-adjusted)"
            )),
        }
    }
}

/// Sums over a range of bars.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    pub n: f64,
    pub x: f64,
    pub y: f64,
    pub xx: f64,
    pub xy: f64,
    pub yy: f64,
}

impl Sums {
    fn sub(self, o: Sums) -> Sums {
        Sums {
            n: self.n - o.n,
            x: self.x - o.x,
            y: self.y - o.y,
            xx: self.xx - o.xx,
            xy: self.xy - o.xy,
            yy: self.yy - o.yy,
        }
    }

    fn add(self, o: Sums) -> Sums {
        Sums {
            n: self.n + o.n,
            x: self.x + o.x,
            y: self.y + o.y,
            xx: self.xx + o.xx,
            xy: self.xy + o.xy,
            yy: self.yy + o.yy,
        }
    }
}

/// Prefix sums of a token's and its proxy's returns on a grid of `len` bars.
#[derive(Debug, Clone, Default)]
pub struct PairSums {
    prefix: Vec<Sums>,
}

impl PairSums {
    /// `y[t]` and `x[t]` are the returns of bar `t` (NaN when missing).
    pub fn new(y: &[f64], x: &[f64]) -> Self {
        let mut prefix = Vec::with_capacity(y.len() + 1);
        let mut acc = Sums::default();
        prefix.push(acc);
        for (&yi, &xi) in y.iter().zip(x) {
            if yi.is_finite() && xi.is_finite() {
                acc = acc.add(Sums {
                    n: 1.0,
                    x: xi,
                    y: yi,
                    xx: xi * xi,
                    xy: xi * yi,
                    yy: yi * yi,
                });
            }
            prefix.push(acc);
        }
        PairSums { prefix }
    }

    /// Sums over bars `[a, b)` (clamped to the grid), minus the bars in `excluded`
    /// (sorted, non-overlapping ranges).
    pub fn range(&self, a: i64, b: i64, excluded: &[(i64, i64)]) -> Sums {
        let len = self.prefix.len() as i64 - 1;
        let clamp = |v: i64| v.clamp(0, len.max(0)) as usize;
        let (a, b) = (clamp(a), clamp(b));
        if b <= a {
            return Sums::default();
        }
        let mut s = self.prefix[b].sub(self.prefix[a]);
        for &(ea, eb) in excluded {
            let (ea, eb) = (clamp(ea).max(a), clamp(eb).min(b));
            if eb > ea {
                s = s.sub(self.prefix[eb].sub(self.prefix[ea]));
            }
        }
        s
    }
}

/// A fitted normal-return model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub alpha: f64,
    pub beta: f64,
    /// Residual standard deviation.
    pub sigma: f64,
    /// Residual degrees of freedom: m − 2 (market model) or m − 1.
    pub df: f64,
    /// Bars in the estimation window with both returns (m).
    pub m: f64,
    /// Mean market return over the estimation window.
    pub mean_x: f64,
    /// Σ (x − mean x)² over the estimation window.
    pub ss_x: f64,
}

/// Why a model could not be fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitError {
    TooShort,
    ConstantPrices,
    ConstantMarket,
}

/// Fit `model` on sums `s`, requiring at least `min_bars` bars.
pub fn fit(model: Model, s: Sums, min_bars: f64) -> Result<Fit, FitError> {
    let k = model.estimated_params() as f64;
    if s.n < min_bars.max(k + 2.0) {
        return Err(FitError::TooShort);
    }
    let n = s.n;
    let ss_x = (s.xx - s.x * s.x / n).max(0.0);
    let ss_y = (s.yy - s.y * s.y / n).max(0.0);
    let sp_xy = s.xy - s.x * s.y / n;
    if ss_y <= f64::EPSILON * s.yy.max(1e-300) || ss_y == 0.0 {
        return Err(FitError::ConstantPrices);
    }
    let (alpha, beta, ssr) = match model {
        Model::MarketModel => {
            if ss_x <= 0.0 {
                return Err(FitError::ConstantMarket);
            }
            let beta = sp_xy / ss_x;
            let alpha = (s.y - beta * s.x) / n;
            (alpha, beta, (ss_y - beta * sp_xy).max(0.0))
        }
        Model::MeanAdjusted => (s.y / n, 0.0, ss_y),
        Model::MarketAdjusted => {
            // Residual d = y − x: Σd = Σy − Σx, Σd² = Σy² − 2Σxy + Σx².
            let sd = s.y - s.x;
            let sdd = s.yy - 2.0 * s.xy + s.xx;
            (0.0, 1.0, (sdd - sd * sd / n).max(0.0))
        }
    };
    // A residual sum of squares at rounding-error level is an exact fit (a series
    // regressed on itself): report σ = 0, which no test divides by.
    let ssr = if ssr <= 1e-12 * ss_y { 0.0 } else { ssr };
    let df = n - k;
    Ok(Fit {
        alpha,
        beta,
        sigma: (ssr / df).sqrt(),
        df,
        m: n,
        mean_x: s.x / n,
        ss_x,
    })
}

impl Fit {
    /// The normal (expected) return given the market's return.
    pub fn expected(&self, model: Model, x: f64) -> f64 {
        match model {
            Model::MarketModel => self.alpha + self.beta * x,
            Model::MeanAdjusted => self.alpha,
            Model::MarketAdjusted => x,
        }
    }

    /// Variance of a CAR over `l` bars, corrected for estimation error:
    /// σ²·(L + L²/m + (Σx_event − L·mean x_est)²/SS_x) for the market model,
    /// σ²·(L + L²/m) for the others. `sum_x` is the market's summed return over the window.
    pub fn car_variance(&self, model: Model, l: f64, sum_x: f64) -> f64 {
        let s2 = self.sigma * self.sigma;
        match model {
            Model::MarketModel => {
                let d = sum_x - l * self.mean_x;
                s2 * (l + l * l / self.m + d * d / self.ss_x)
            }
            _ => s2 * (l + l * l / self.m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-worked: y = 1 + 2x + e with x = 0..4 and e = (0, 1, −1, 1, −1)·0.1.
    #[test]
    fn ols_matches_hand_computation() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0];
        let e = [0.0, 0.1, -0.1, 0.1, -0.1];
        let y: Vec<f64> = x.iter().zip(e).map(|(x, e)| 1.0 + 2.0 * x + e).collect();
        let sums = PairSums::new(&y, &x).range(0, 5, &[]);
        let f = fit(Model::MarketModel, sums, 3.0).unwrap();
        // Σ(x−2)(e) = (−2)(0)+(−1)(.1)+0+(1)(.1)+(2)(−.1) = −0.2; SSx = 10 → β = 2 − 0.02.
        assert!((f.beta - 1.98).abs() < 1e-12, "{f:?}");
        // ȳ = 5 + mean e (= 0) → α = 5 − 1.98·2 = 1.04.
        assert!((f.alpha - 1.04).abs() < 1e-12);
        // Residuals e − (−0.02)(x − 2) − 0: (−.04, .08, −.1, .12, −.06); SSR = 0.036; σ² = .036/3.
        assert!((f.sigma * f.sigma - 0.012).abs() < 1e-12, "{}", f.sigma);
        assert_eq!((f.df, f.m), (3.0, 5.0));
    }

    #[test]
    fn gaps_and_exclusions_leave_bars_out() {
        let y = [0.01, f64::NAN, 0.03, -0.02, 0.05, 0.0];
        let x = [0.0, 0.01, 0.02, -0.01, f64::NAN, 0.01];
        let p = PairSums::new(&y, &x);
        assert_eq!(p.range(0, 6, &[]).n, 4.0);
        let s = p.range(0, 6, &[(2, 4)]);
        assert_eq!(s.n, 2.0);
        assert!((s.y - 0.01).abs() < 1e-15);
        assert_eq!(p.range(-10, 100, &[]).n, 4.0);
    }

    #[test]
    fn mean_and_market_adjusted_fits() {
        let y = [0.01, 0.03, -0.01, 0.05];
        let x = [0.0, 0.01, -0.02, 0.03];
        let s = PairSums::new(&y, &x).range(0, 4, &[]);
        let mean = fit(Model::MeanAdjusted, s, 2.0).unwrap();
        assert!((mean.alpha - 0.02).abs() < 1e-15);
        // var(y) = ((−.01)²+(.01)²+(−.03)²+(.03)²)/3 = .002/3
        assert!((mean.sigma.powi(2) - 0.002 / 3.0).abs() < 1e-15);
        let adj = fit(Model::MarketAdjusted, s, 2.0).unwrap();
        // d = (.01, .02, .01, .02): mean .015, var = 4·.005²/3
        assert!((adj.sigma.powi(2) - 4.0 * 0.005f64.powi(2) / 3.0).abs() < 1e-15);
        assert_eq!(adj.df, 3.0);
    }

    #[test]
    fn degenerate_windows_are_errors() {
        let flat = [0.0; 10];
        let x: Vec<f64> = (0..10).map(|i| i as f64 * 0.001).collect();
        let s = PairSums::new(&flat, &x).range(0, 10, &[]);
        assert_eq!(
            fit(Model::MarketModel, s, 5.0),
            Err(FitError::ConstantPrices)
        );
        let s = PairSums::new(&x, &x).range(0, 3, &[]);
        assert_eq!(fit(Model::MarketModel, s, 5.0), Err(FitError::TooShort));
    }

    #[test]
    fn car_variance_formulae() {
        let f = Fit {
            alpha: 0.0,
            beta: 1.0,
            sigma: 0.1,
            df: 8.0,
            m: 10.0,
            mean_x: 0.01,
            ss_x: 0.5,
        };
        // 0.01·(4 + 1.6 + (0.1 − 0.04)²/0.5) = 0.01·5.6072
        assert!((f.car_variance(Model::MarketModel, 4.0, 0.1) - 0.056072).abs() < 1e-15);
        assert!((f.car_variance(Model::MeanAdjusted, 4.0, 0.1) - 0.056).abs() < 1e-15);
    }
}
