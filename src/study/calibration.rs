//! Calibration against ordinary hours. Pure.
//!
//! A t-based p-value assumes normal, independent returns. Crypto returns are fat-tailed
//! and their volatility clusters, so |t| ≥ 1.96 happens at far more than 5% of ordinary
//! hours. Catalyst therefore judges every statistic by the same statistic computed at
//! ordinary hours (random hours outside every event's span): its *null*.
//!
//! - [`Calibrator`]: one statistic's null (one series, one window, one model). The
//!   calibrated two-sided p of a value t is the share of ordinary hours with |T| ≥ |t|
//!   ((1 + count)/(1 + n), never 0). Beyond the null's 90th percentile of |T| the share
//!   is read from a generalised Pareto tail fitted to the exceedances (probability-
//!   weighted moments, Hosking & Wallis 1987; shape floored at 0, an exponential tail),
//!   so a reaction stronger than every ordinary hour still gets a finite, ordered p.
//! - [`JointNull`]: an event's score takes the best of several components (targets, the
//!   market, windows), each judged by the weaker of two market models; that choice is
//!   calibrated as a whole. At every ordinary hour the same statistic S (the smallest over
//!   components of the larger p over models) is computed from leave-one-out p-values, and the
//!   corrected p of an observed S = s is 1 − (1 − s)^k with k fitted so that it is exact at
//!   the 5% level: P(S ≤ q) = 0.05 at the null's 5% quantile q. k is the *effective number
//!   of independent looks* (Šidák); it is smaller than the number of components because
//!   nested windows and overlapping targets move together.
//! - [`benjamini_hochberg`]: q-values across the ranked list.

/// Fewer ordinary hours than this and a statistic is not calibrated (shown, not scored).
pub const MIN_NULL_HOURS: usize = 200;

/// Share of the largest |T| modelled by the generalised Pareto tail.
const TAIL_SHARE: f64 = 0.10;

/// The power and level of the minimum detectable effect.
pub const MDE_POWER: f64 = 0.80;
pub const LEVEL: f64 = 0.05;

/// The null distribution of one statistic at ordinary hours.
#[derive(Debug, Clone)]
pub struct Calibrator {
    /// |T| ascending.
    abs_sorted: Vec<f64>,
    /// T ascending (for the power of a shifted test).
    signed_sorted: Vec<f64>,
    /// Tail threshold: the |T| above which the tail model applies.
    u: f64,
    /// Values strictly above `u`.
    n_tail: usize,
    /// Generalised Pareto shape (≥ 0) and scale of the exceedances |T| − u.
    xi: f64,
    scale: f64,
}

/// Generalised Pareto shape and scale by probability-weighted moments. `y` ascending,
/// all > 0. Hosking & Wallis (1987): with a0 = mean y and a1 = mean of (1 − p_i)·y_(i),
/// p_i = (i − 0.35)/m, the shape k = a0/(a0 − 2a1) − 2 (ξ = −k) and σ = 2·a0·a1/(a0 − 2a1).
pub fn gpd_pwm(y: &[f64]) -> Option<(f64, f64)> {
    let m = y.len();
    if m < 5 {
        return None;
    }
    let mf = m as f64;
    let a0 = y.iter().sum::<f64>() / mf;
    let a1 = y
        .iter()
        .enumerate()
        .map(|(i, v)| (1.0 - (i as f64 + 1.0 - 0.35) / mf) * v)
        .sum::<f64>()
        / mf;
    let d = a0 - 2.0 * a1;
    if d.is_nan() || d <= 0.0 {
        return None;
    }
    let k = a0 / d - 2.0;
    let scale = 2.0 * a0 * a1 / d;
    (scale > 0.0 && scale.is_finite()).then_some((-k, scale))
}

impl Calibrator {
    /// The null of `values` (NaN = the statistic did not exist at that hour).
    pub fn new(values: &[f64]) -> Option<Self> {
        let mut signed: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if signed.len() < MIN_NULL_HOURS {
            return None;
        }
        signed.sort_by(f64::total_cmp);
        let mut abs: Vec<f64> = signed.iter().map(|v| v.abs()).collect();
        abs.sort_by(f64::total_cmp);
        let n = abs.len();
        let n_tail = ((n as f64 * TAIL_SHARE).floor() as usize).max(5);
        let u = abs[n - n_tail - 1];
        let exceed: Vec<f64> = abs[n - n_tail..]
            .iter()
            .map(|v| v - u)
            .filter(|v| *v > 0.0)
            .collect();
        let (xi, scale) = gpd_pwm(&exceed)?;
        Some(Calibrator {
            n_tail: exceed.len(),
            abs_sorted: abs,
            signed_sorted: signed,
            u,
            xi: xi.max(0.0),
            scale,
        })
    }

    /// Ordinary hours in the null.
    pub fn n(&self) -> usize {
        self.abs_sorted.len()
    }

    /// Ordinary hours with |T| ≥ x.
    fn count_at_least(&self, x: f64) -> usize {
        self.abs_sorted.len() - self.abs_sorted.partition_point(|v| *v < x)
    }

    /// ln of the generalised Pareto survival of an exceedance y ≥ 0.
    fn ln_tail_sf(&self, y: f64) -> f64 {
        if self.xi < 1e-9 {
            -y / self.scale
        } else {
            -(1.0 / self.xi) * (self.xi * y / self.scale).ln_1p()
        }
    }

    /// ln of the calibrated two-sided p of a statistic `t` observed outside the null.
    pub fn ln_p(&self, t: f64) -> f64 {
        let x = t.abs();
        let n = self.n() as f64;
        if x <= self.u {
            return ((1.0 + self.count_at_least(x) as f64) / (1.0 + n)).ln();
        }
        (self.n_tail as f64 / n).ln() + self.ln_tail_sf(x - self.u)
    }

    /// The calibrated p of one of the null's own values, leaving that value out: the
    /// share r/n of ordinary hours at least as strong (r counts itself), or the tail.
    pub fn ln_p_leave_one_out(&self, t: f64) -> f64 {
        let x = t.abs();
        let n = self.n() as f64;
        if x <= self.u {
            return (self.count_at_least(x).max(1) as f64 / n).ln();
        }
        (self.n_tail as f64 / n).ln() + self.ln_tail_sf(x - self.u)
    }

    /// Share of ordinary hours weaker than `t` (|T| < |t|): "stronger than 99.3% of
    /// ordinary hours".
    pub fn weaker_share(&self, t: f64) -> f64 {
        self.abs_sorted.partition_point(|v| *v < t.abs()) as f64 / self.n() as f64
    }

    /// The |t| whose calibrated p is `p`: the critical value of a test at level `p`.
    pub fn critical(&self, p: f64) -> f64 {
        let n = self.n() as f64;
        let tail_p = self.n_tail as f64 / n;
        if p >= tail_p {
            // Body: the smallest x with (1 + #{|T| ≥ x})/(1 + n) ≤ p.
            let allowed = (p * (1.0 + n) - 1.0).floor().max(0.0) as usize;
            let idx = self.abs_sorted.len().saturating_sub(allowed);
            return self.abs_sorted.get(idx).copied().unwrap_or(self.u);
        }
        // Tail: invert (n_tail/n)·sf(x − u) = p.
        let r = p / tail_p;
        let y = if self.xi < 1e-9 {
            -self.scale * r.ln()
        } else {
            self.scale / self.xi * (r.powf(-self.xi) - 1.0)
        };
        self.u + y
    }

    /// The signed null quantile of T at probability `q` (nearest rank).
    pub fn quantile(&self, q: f64) -> f64 {
        let n = self.signed_sorted.len();
        let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
        self.signed_sorted[i]
    }

    /// Minimum detectable effect in the statistic's own units (t): the smallest shift δ
    /// that a test at calibrated level `p` detects with [`MDE_POWER`] at ordinary hours,
    /// in either direction: P(T + δ ≥ c) = 0.8 gives δ = c − Q(0.2); a fall, δ = c + Q(0.8);
    /// the larger of the two. Multiply by the statistic's standard deviation for a move.
    pub fn mde(&self, p: f64) -> f64 {
        let c = self.critical(p);
        (c - self.quantile(1.0 - MDE_POWER)).max(c + self.quantile(MDE_POWER))
    }

    /// The tail model, for reports: threshold, exceedances, shape, scale.
    pub fn tail(&self) -> (f64, usize, f64, f64) {
        (self.u, self.n_tail, self.xi, self.scale)
    }
}

/// The calibration of an event-level statistic over its components: for each model, each
/// component's leave-one-out ln p at every ordinary hour (NaN where absent).
#[derive(Debug, Clone)]
pub struct JointNull {
    /// S at each usable ordinary hour, ascending.
    s_sorted: Vec<f64>,
    /// Effective number of independent looks.
    pub k_eff: f64,
}

/// The event statistic of component ln p-values, `per_component[c][m]` under model m: the
/// smallest over components of the largest over models (the best component that holds
/// under every model). A component absent under some model (NaN) counts only when absent
/// under all; `None` when no component is there.
pub fn event_ln_s(per_component: &[Vec<f64>]) -> Option<f64> {
    let s = per_component
        .iter()
        .filter(|models| !models.is_empty() && models.iter().all(|v| !v.is_nan()))
        .map(|models| models.iter().copied().fold(f64::NEG_INFINITY, f64::max))
        .fold(f64::INFINITY, f64::min);
    (s < f64::INFINITY).then_some(s)
}

impl JointNull {
    /// `ln_p_at(h)[c][m]`: component c's leave-one-out ln p under model m at ordinary hour
    /// h. Hours where some component is absent are left out, unless that leaves fewer than
    /// [`MIN_NULL_HOURS`]: then hours with at least one whole component count.
    pub fn new(ln_p_at: impl Fn(usize) -> Vec<Vec<f64>>, n_hours: usize) -> Option<Self> {
        let mut complete = Vec::with_capacity(n_hours);
        let mut partial = Vec::with_capacity(n_hours);
        for h in 0..n_hours {
            let comps = ln_p_at(h);
            let Some(s) = event_ln_s(&comps) else {
                continue;
            };
            partial.push(s);
            if comps.iter().all(|c| c.iter().all(|v| !v.is_nan())) {
                complete.push(s);
            }
        }
        let mut s = if complete.len() >= MIN_NULL_HOURS {
            complete
        } else {
            partial
        };
        if s.len() < MIN_NULL_HOURS {
            return None;
        }
        s.sort_by(f64::total_cmp);
        // The null's 5% quantile q of S (in p units), and k with 1 − (1 − q)^k = 0.05.
        let i = ((LEVEL * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
        let q = s[i].exp().clamp(1e-12, 1.0 - 1e-12);
        let k_eff = (1.0 - LEVEL).ln() / (-q).ln_1p();
        Some(JointNull { s_sorted: s, k_eff })
    }

    /// Ordinary hours behind the calibration.
    pub fn n(&self) -> usize {
        self.s_sorted.len()
    }

    /// ln of the corrected p of an observed statistic with ln value `ln_s`:
    /// ln(1 − (1 − s)^k), computed without cancellation for tiny s.
    pub fn corrected_ln_p(&self, ln_s: f64) -> f64 {
        if ln_s < -30.0 {
            // 1 − (1 − s)^k = k·s·(1 + O(s)).
            return (self.k_eff.ln() + ln_s).min(0.0);
        }
        let s = ln_s.exp().min(1.0);
        let v = -(self.k_eff * (-s).ln_1p()).exp_m1();
        v.clamp(f64::MIN_POSITIVE, 1.0).ln()
    }

    /// Share of ordinary hours whose S is weaker (larger) than the observed one.
    pub fn weaker_share(&self, ln_s: f64) -> f64 {
        let stronger_or_equal = self.s_sorted.partition_point(|v| *v <= ln_s);
        1.0 - stronger_or_equal as f64 / self.n() as f64
    }

    /// The component p at which the event becomes significant at `level`:
    /// 1 − (1 − level)^(1/k).
    pub fn component_level(&self, level: f64) -> f64 {
        -((-level).ln_1p() / self.k_eff).exp_m1()
    }
}

/// Benjamini–Hochberg q-values (the FDR-adjusted p-values), in the input's order.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let mut q = vec![0.0; m];
    let mut running = 1.0f64;
    for (k, &i) in order.iter().enumerate() {
        let rank = (m - k) as f64;
        running = running.min(p[i] * m as f64 / rank);
        q[i] = running.min(1.0);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// A deterministic stand-in for draws: Student-t-like values by inverse transform.
    fn sample(n: usize, scale: f64) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let u = (i as f64 + 0.5) / n as f64;
                // Laplace quantile: fat enough tails for the tail fit to matter.
                let v = if u < 0.5 {
                    (2.0 * u).ln()
                } else {
                    -(2.0 * (1.0 - u)).ln()
                };
                v * scale
            })
            .collect()
    }

    #[test]
    fn body_p_is_the_share_of_ordinary_hours_at_least_as_strong() {
        let null: Vec<f64> = (1..=1000)
            .map(|i| i as f64 * if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let c = Calibrator::new(&null).unwrap();
        // |T| ≥ 500.5: 500 hours (501..=1000) → (1 + 500)/(1 + 1000).
        assert!(close(c.ln_p(500.5).exp(), 501.0 / 1001.0, 1e-12));
        assert!(close(c.weaker_share(-500.5), 0.5, 1e-12));
        // Leave-one-out for the null's own 800: 201 values ≥ 800 including itself → 201/1000.
        assert!(close(c.ln_p_leave_one_out(800.0).exp(), 0.201, 1e-12));
    }

    #[test]
    fn laplace_tail_is_exponential_and_p_stays_finite() {
        // |T| of a Laplace(0, 1) is Exp(1): P(|T| ≥ x) = e^(−x).
        let c = Calibrator::new(&sample(20_000, 1.0)).unwrap();
        let (u, _, xi, scale) = c.tail();
        assert!(xi < 0.1, "shape {xi}");
        assert!(close(scale, 1.0, 0.1), "scale {scale}");
        assert!(u > 2.0);
        for x in [3.0, 6.0, 12.0] {
            assert!(close(c.ln_p(x), -x, 0.35), "x {x}: {}", c.ln_p(x));
        }
        let far = c.ln_p(1e6);
        assert!(far.is_finite() && far < c.ln_p(50.0));
        // critical() inverts ln_p in the body and the tail.
        for p in [0.2, 0.05, 0.001, 1e-8] {
            let x = c.critical(p);
            assert!(
                close(c.ln_p(x).exp(), p, 0.02 * p.max(1e-3)),
                "p {p}: x {x}"
            );
        }
    }

    #[test]
    fn too_few_hours_give_no_calibration() {
        assert!(Calibrator::new(&sample(MIN_NULL_HOURS - 1, 1.0)).is_none());
        assert!(Calibrator::new(&sample(MIN_NULL_HOURS, 1.0)).is_some());
    }

    #[test]
    fn mde_of_a_laplace_null() {
        // Laplace(0, 1): P(|T| ≥ c) = e^(−c), so the 5% critical value is ln 20; its 20%
        // quantile is ln 0.4, so δ = ln 20 − ln 0.4 = ln 50.
        let c = Calibrator::new(&sample(40_000, 1.0)).unwrap();
        assert!(
            close(c.critical(0.05), 20f64.ln(), 0.02),
            "{}",
            c.critical(0.05)
        );
        assert!(
            close(c.quantile(0.2), 0.4f64.ln(), 0.01),
            "{}",
            c.quantile(0.2)
        );
        assert!(close(c.mde(0.05), 50f64.ln(), 0.03), "{}", c.mde(0.05));
    }

    /// A bounded null (uniform) gets an exponential tail (shape floored at 0): critical
    /// values are never below what the data show.
    #[test]
    fn bounded_nulls_get_a_conservative_tail() {
        let null: Vec<f64> = (0..2001).map(|i| -1.0 + i as f64 / 1000.0).collect();
        let c = Calibrator::new(&null).unwrap();
        assert!(c.critical(0.05) >= 0.95, "{}", c.critical(0.05));
        assert!(c.ln_p(2.0).is_finite());
    }

    #[test]
    fn joint_null_is_exact_at_five_percent_and_counts_independent_looks() {
        // Two independent uniform components: min p of two is Šidák with k = 2.
        let n = 4000;
        let p1: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % n) as f64 / n as f64 + 0.5 / n as f64)
            .collect();
        let p2: Vec<f64> = (0..n)
            .map(|i| ((i * 104_729) % n) as f64 / n as f64 + 0.5 / n as f64)
            .collect();
        let j = JointNull::new(|h| vec![vec![p1[h].ln()], vec![p2[h].ln()]], n).unwrap();
        assert!(close(j.k_eff, 2.0, 0.35), "k {}", j.k_eff);
        // Identical components are one look.
        let j1 = JointNull::new(|h| vec![vec![p1[h].ln()], vec![p1[h].ln()]], n).unwrap();
        assert!(close(j1.k_eff, 1.0, 0.05), "k {}", j1.k_eff);
        // Exact at the 5% level by construction.
        let s = j.component_level(0.05);
        assert!(close(j.corrected_ln_p(s.ln()).exp(), 0.05, 1e-9));
        // Tiny s: k·s, finite.
        assert!(close(
            j.corrected_ln_p(-1000.0),
            j.k_eff.ln() - 1000.0,
            1e-9
        ));
    }

    #[test]
    fn best_component_under_the_weaker_model() {
        // Component 1 holds at −2 under both models, component 2 only at −1.
        let s = event_ln_s(&[vec![-5.0, -2.0], vec![-1.0, -3.0], vec![-9.0, f64::NAN]]).unwrap();
        assert_eq!(s, -2.0);
        assert!(event_ln_s(&[vec![f64::NAN]]).is_none());
        // One model: the smallest p.
        assert_eq!(event_ln_s(&[vec![-5.0], vec![-1.0]]), Some(-5.0));
    }

    /// Two models that see the same thing cost nothing; requiring both of two independent
    /// models to agree makes a p of 0.05 from one model rarer than 5% (k below 1).
    #[test]
    fn agreeing_models_are_one_look_and_independent_ones_are_stricter() {
        let n = 4000;
        let p1: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % n) as f64 / n as f64 + 0.5 / n as f64)
            .collect();
        let p2: Vec<f64> = (0..n)
            .map(|i| ((i * 104_729) % n) as f64 / n as f64 + 0.5 / n as f64)
            .collect();
        let same = JointNull::new(|h| vec![vec![p1[h].ln(), p1[h].ln()]], n).unwrap();
        assert!(close(same.k_eff, 1.0, 0.05), "k {}", same.k_eff);
        let indep = JointNull::new(|h| vec![vec![p1[h].ln(), p2[h].ln()]], n).unwrap();
        assert!(indep.k_eff < 0.5, "k {}", indep.k_eff);
    }

    /// scipy.stats.false_discovery_control([0.01, 0.04, 0.03, 0.5, 0.002]) =
    /// [0.025, 0.05, 0.05, 0.5, 0.01].
    #[test]
    fn benjamini_hochberg_matches_scipy() {
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.5, 0.002]);
        for (a, b) in q.iter().zip([0.025, 0.05, 0.05, 0.5, 0.01]) {
            assert!(close(*a, b, 1e-12), "{q:?}");
        }
    }
}
