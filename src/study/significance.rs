//! The test battery for a category's abnormal returns in one window. Pure.
//!
//! Crypto tokens move together and every token of a category shares the event date, so
//! the tests that assume independent tokens (cross-sectional t, Patell, BMP) overstate
//! significance. The dependence-robust ones are the portfolio test (the category as one
//! series) and Kolari–Pynnönen's adjusted BMP; Catalyst ranks on those and shows the
//! others beside them, labelled naive.

use super::stats::{mean, sample_sd, t_two_sided_p};
pub use super::stats::{normal_two_sided_p, z_of_two_sided_p};

/// A statistic and its two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Test {
    pub stat: f64,
    pub p: f64,
}

fn t_test(stat: f64, df: f64) -> Option<Test> {
    (stat.is_finite() && df > 0.0).then(|| Test {
        stat,
        p: t_two_sided_p(stat, df).unwrap_or(f64::NAN),
    })
}

fn z_test(stat: f64) -> Option<Test> {
    stat.is_finite().then(|| Test {
        stat,
        p: normal_two_sided_p(stat),
    })
}

/// Cross-sectional t of the CARs: CAAR / (SD/√N), N − 1 df. Naive.
pub fn cross_sectional(cars: &[f64]) -> Option<Test> {
    let sd = sample_sd(cars)?;
    let m = mean(cars);
    t_test(
        m / (sd / (cars.len() as f64).sqrt()),
        cars.len() as f64 - 1.0,
    )
}

/// Patell Z: Σ SCAR_i / √(Σ d_i/(d_i − 2)), with SCAR_i = CAR_i/√var(CAR_i) and d_i the
/// residual degrees of freedom. Naive (assumes independent tokens).
pub fn patell(scars: &[f64], dfs: &[f64]) -> Option<Test> {
    if scars.is_empty() || dfs.iter().any(|d| *d <= 2.0) {
        return None;
    }
    let var: f64 = dfs.iter().map(|d| d / (d - 2.0)).sum();
    z_test(scars.iter().sum::<f64>() / var.sqrt())
}

/// Boehmer–Musumeci–Poulsen: the cross-sectional t of the standardised CARs. Robust to
/// event-induced variance, naive about cross-correlation.
pub fn bmp(scars: &[f64]) -> Option<Test> {
    cross_sectional(scars)
}

/// Kolari–Pynnönen adjustment of BMP for the average cross-correlation `r̄` of the
/// tokens' residuals: t·√((1 − r̄)/(1 + (N − 1)·r̄)).
pub fn kolari_pynnonen(bmp: Test, n: usize, rbar: f64) -> Option<Test> {
    let nf = n as f64;
    let denom = 1.0 + (nf - 1.0) * rbar;
    if n < 2 || denom <= 0.0 || rbar >= 1.0 {
        return None;
    }
    t_test(bmp.stat * ((1.0 - rbar) / denom).sqrt(), nf - 1.0)
}

/// Average pairwise correlation of standardised residuals. `u[i][t]` is token i's
/// residual at estimation bar t divided by its σ (NaN when missing). Uses
/// Σ_t (Σ_i u_it)² = Σ u² + Σ_{i≠j} u_it·u_jt, so it costs O(N·m), not O(N²·m).
pub fn mean_cross_correlation(u: &[&[f64]]) -> Option<f64> {
    let n = u.len();
    if n < 2 {
        return None;
    }
    let len = u.iter().map(|s| s.len()).min()?;
    let (mut cross, mut pairs) = (0.0, 0.0);
    for t in 0..len {
        let (mut s, mut ss, mut k) = (0.0, 0.0, 0.0);
        for series in u {
            let v = series[t];
            if v.is_finite() {
                s += v;
                ss += v * v;
                k += 1.0;
            }
        }
        cross += s * s - ss;
        pairs += k * (k - 1.0);
    }
    (pairs > 0.0).then(|| cross / pairs)
}

/// Corrado's rank test for a multi-bar window, in the form of Cowan (1992): with
/// `k[t]` the mean over tokens of (rank of AR_it among token i's bars)/(1 + M_i) − 0.5
/// over the estimation and event bars, z = Σ_{t ∈ window} k_t / (√L · S_K), where
/// S_K = √(mean of k_t² over all bars). `window` indexes into `k`.
pub fn corrado_rank(k: &[f64], window: std::ops::Range<usize>) -> Option<Test> {
    let valid: Vec<f64> = k.iter().copied().filter(|v| v.is_finite()).collect();
    if valid.is_empty() || window.is_empty() || window.end > k.len() {
        return None;
    }
    let s_k = (valid.iter().map(|v| v * v).sum::<f64>() / valid.len() as f64).sqrt();
    let in_window: Vec<f64> = k[window]
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if s_k == 0.0 || in_window.is_empty() {
        return None;
    }
    let l = in_window.len() as f64;
    z_test(in_window.iter().sum::<f64>() / (l.sqrt() * s_k))
}

/// Standardised ranks of one token's abnormal returns: rank/(1 + M) − 0.5, NaN kept.
/// Ties get their average rank.
///
/// Called once per token and event (the estimation and event bars, ~800 values): the
/// values are sorted as (order-preserving integer key, position) pairs, compared directly
/// rather than through an index into `ar`, with an unstable sort (ties share one rank
/// whatever their order). About 4× faster than an indirect stable sort, which made this
/// the study's hottest function.
pub fn standardised_ranks(ar: &[f64]) -> Vec<f64> {
    let mut keyed: Vec<u128> = ar
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, v)| (u128::from(order_key(*v)) << 64) | i as u128)
        .collect();
    keyed.sort_unstable();
    let m = keyed.len() as f64;
    let pos = |k: u128| (k & u128::from(u64::MAX)) as usize;
    let mut out = vec![f64::NAN; ar.len()];
    let mut i = 0;
    while i < keyed.len() {
        let mut j = i;
        while j + 1 < keyed.len() && ar[pos(keyed[j + 1])] == ar[pos(keyed[i])] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &keyed[i..=j] {
            out[pos(k)] = rank / (1.0 + m) - 0.5;
        }
        i = j + 1;
    }
    out
}

/// An integer whose order is `f64::total_cmp`'s: negative values have their magnitude
/// bits flipped, and the sign bit is flipped so that negatives sort first.
fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Cowan's generalised sign test: `positive` of `n` tokens have a positive CAR, against
/// the expected fraction `p_hat` of positive ARs in the estimation window.
pub fn generalized_sign(positive: usize, n: usize, p_hat: f64) -> Option<Test> {
    if n == 0 || !(0.0..1.0).contains(&p_hat) || p_hat == 0.0 {
        return None;
    }
    let nf = n as f64;
    z_test((positive as f64 - nf * p_hat) / (nf * p_hat * (1.0 - p_hat)).sqrt())
}

/// The single-series test: a CAR against its own prediction-error variance, t with the
/// model's residual degrees of freedom. Used for the category portfolio, single tokens
/// and the market's own move.
pub fn single_series(car: f64, variance: f64, df: f64) -> Option<Test> {
    (variance > 0.0)
        .then(|| t_test(car / variance.sqrt(), df))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn cross_sectional_t_by_hand() {
        // xs = 1, 2, 3, 4: mean 2.5, sd sqrt(5/3) = 1.290994, t = 2.5 / (1.290994 / 2) = 3.872983.
        let t = cross_sectional(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!(close(t.stat, 3.872_983_346_207_417, 1e-12));
        // Closed form for 3 df: F(t) = 1/2 + (x/(1+x^2) + atan x)/pi with x = t/sqrt(3).
        assert!(close(t.p, 0.030_466_291_662_171, 1e-9), "{}", t.p);
        // One token, or identical CARs: no test.
        assert!(cross_sectional(&[0.05]).is_none());
        assert!(cross_sectional(&[0.1, 0.1]).is_none());
        assert!(cross_sectional(&[]).is_none());
    }

    #[test]
    fn patell_and_bmp_by_hand() {
        // SCARs 1, 2, 3 with 10 df each: Patell = 6 / √(3·10/8) = 3.0984.
        let z = patell(&[1.0, 2.0, 3.0], &[10.0, 10.0, 10.0]).unwrap();
        assert!(close(z.stat, 6.0 / (3.75f64).sqrt(), 1e-12));
        // BMP: mean 2, sd 1 → t = 2/(1/√3) = 3.4641, df 2.
        let t = bmp(&[1.0, 2.0, 3.0]).unwrap();
        assert!(close(t.stat, 2.0 * 3f64.sqrt(), 1e-12));
        // Two-sided p of t(2) = 3.4641: 2·(1 − F) with F = 1/2 + t/(2√(2 + t²)).
        let f = 0.5 + t.stat / (2.0 * (2.0 + t.stat * t.stat).sqrt());
        assert!(close(t.p, 2.0 * (1.0 - f), 1e-9));
    }

    #[test]
    fn kp_shrinks_with_correlation() {
        let t = Test { stat: 4.0, p: 0.0 };
        assert!(close(kolari_pynnonen(t, 10, 0.0).unwrap().stat, 4.0, 1e-12));
        // r̄ = 0.5, N = 10: 4·√(0.5/5.5) = 1.2060
        let kp = kolari_pynnonen(t, 10, 0.5).unwrap();
        assert!(close(kp.stat, 4.0 * (0.5f64 / 5.5).sqrt(), 1e-12));
    }

    #[test]
    fn cross_correlation_of_identical_and_opposite_series() {
        let a = [1.0, -1.0, 1.0, -1.0];
        let b = [-1.0, 1.0, -1.0, 1.0];
        assert!(close(
            mean_cross_correlation(&[&a, &a]).unwrap(),
            1.0,
            1e-12
        ));
        assert!(close(
            mean_cross_correlation(&[&a, &b]).unwrap(),
            -1.0,
            1e-12
        ));
        assert!(mean_cross_correlation(&[&a]).is_none());
    }

    #[test]
    fn standardised_ranks_match_a_plain_count_on_mixed_values() {
        // Signs, zeros of both signs, ties and NaN: each rank is checked against counting
        // the values below and equal (the average rank of a tie), not against a sort.
        let ar = [
            0.5,
            -0.25,
            0.0,
            -0.0,
            f64::NAN,
            1e-12,
            -1e-12,
            0.5,
            -3.0,
            2.0,
            0.5,
            -0.25,
            7e-300,
        ];
        let valid: Vec<f64> = ar.iter().copied().filter(|v| v.is_finite()).collect();
        let m = valid.len() as f64;
        let r = standardised_ranks(&ar);
        for (x, got) in ar.iter().zip(&r) {
            if x.is_nan() {
                assert!(got.is_nan());
                continue;
            }
            let below = valid.iter().filter(|v| **v < *x).count() as f64;
            let equal = valid.iter().filter(|v| **v == *x).count() as f64;
            let rank = below + (equal + 1.0) / 2.0;
            assert!(close(*got, rank / (1.0 + m) - 0.5, 1e-15), "{x}: {got}");
        }
    }

    #[test]
    fn ranks_handle_ties_and_gaps() {
        let r = standardised_ranks(&[0.3, f64::NAN, 0.1, 0.3, 0.2]);
        // Valid M = 4: ranks 3.5, –, 1, 3.5, 2 → /5 − 0.5
        assert!(close(r[0], 3.5 / 5.0 - 0.5, 1e-12));
        assert!(r[1].is_nan());
        assert!(close(r[2], 1.0 / 5.0 - 0.5, 1e-12));
        assert!(close(r[4], 2.0 / 5.0 - 0.5, 1e-12));
    }

    #[test]
    fn sign_and_normal_p() {
        // 9 of 10 positive against p̂ = 0.5: z = 4/√2.5 = 2.5298, p = 0.01141.
        let g = generalized_sign(9, 10, 0.5).unwrap();
        assert!(close(g.stat, 4.0 / 2.5f64.sqrt(), 1e-12));
        assert!(close(g.p, 0.011_412_036, 1e-7), "{}", g.p);
        assert!(close(normal_two_sided_p(1.959_963_984_540_054), 0.05, 1e-9));
        assert!(close(z_of_two_sided_p(0.05), 1.959_963_984_540_054, 1e-9));
    }
}
