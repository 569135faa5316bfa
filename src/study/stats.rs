//! Basic statistics shared by the study: mean, sample SD, two-sided p-values of t and z
//! that stay exact in the far tail, and the z of a p given as its logarithm. Pure.
//!
//! Why logarithms: a CAR t of 9 has a two-sided p near 1e-17, and `1 − cdf(t)` rounds it
//! to 0, whose z is infinite. The p-values here come from the survival function (no
//! cancellation) and, beyond the smallest double, from the leading term of its
//! asymptotic series in log space, so every score stays finite and ordered for any t.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
use statrs::function::beta::{beta_reg, ln_beta};

pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample standard deviation (n - 1); `None` for fewer than two values.
pub fn sample_sd(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs);
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// Two-sided p-value of `t` with `df` degrees of freedom (exact in the tail; may
/// underflow to 0 beyond t ≈ 10^154 / df: use [`t_two_sided_ln_p`] for ordering).
pub fn t_two_sided_p(t: f64, df: f64) -> Option<f64> {
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * dist.sf(t.abs())).clamp(0.0, 1.0))
}

/// ln of the two-sided p-value of `t` with `df` degrees of freedom, finite for every
/// finite `t`. Two-sided p = I_h(df/2, 1/2) with h = df/(df + t²); where that underflows,
/// ln I_h(a, b) = a·ln h + b·ln(1 − h) − ln a − ln B(a, b) + ln CF(h), CF the continued
/// fraction of the incomplete beta function (no underflow).
pub fn t_two_sided_ln_p(t: f64, df: f64) -> Option<f64> {
    if !t.is_finite() || df.is_nan() || df <= 0.0 {
        return None;
    }
    let (a, b) = (df / 2.0, 0.5);
    let t2 = t * t;
    let h = df / (df + t2);
    let p = beta_reg(a, b, h);
    if p > 1e-280 {
        return Some(p.min(1.0).ln());
    }
    // ln h and ln(1 − h) without cancellation: h = df/(df + t²), 1 − h = t²/(df + t²).
    let ln_h = df.ln() - (df + t2).ln();
    let ln_1mh = t2.ln() - (df + t2).ln();
    // I_h(a, b) = h^a (1 − h)^b / (a B(a, b)) · CF(h): only the prefactor underflows.
    Some(a * ln_h + b * ln_1mh - a.ln() - ln_beta(a, b) + beta_continued_fraction(a, b, h).ln())
}

/// The continued fraction of the regularised incomplete beta function (modified Lentz),
/// convergent for x < (a + 1)/(a + b + 2), where every tiny p lies.
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// Two-sided p-value of a standard normal `z`, from the survival function.
pub fn normal_two_sided_p(z: f64) -> f64 {
    (2.0 * Normal::standard().sf(z.abs())).clamp(0.0, 1.0)
}

/// ln of the two-sided normal p-value of `z`, finite for every finite `z`.
pub fn normal_two_sided_ln_p(z: f64) -> f64 {
    let x = z.abs();
    let p = 2.0 * Normal::standard().sf(x);
    if p > 1e-280 {
        return p.min(1.0).ln();
    }
    ln_two_sided_tail_asymptotic(x)
}

/// ln(2·Φc(x)) for large x: −x²/2 − ln(x·√(2π)) + ln(1 − 1/x² + 3/x⁴ − 15/x⁶) + ln 2.
fn ln_two_sided_tail_asymptotic(x: f64) -> f64 {
    let x2 = x * x;
    let series = 1.0 - 1.0 / x2 + 3.0 / (x2 * x2) - 15.0 / (x2 * x2 * x2);
    -x2 / 2.0 - (x * (2.0 * std::f64::consts::PI).sqrt()).ln()
        + series.ln()
        + std::f64::consts::LN_2
}

/// The |z| whose two-sided normal p-value has logarithm `ln_p` (≤ 0): the impact
/// score's scale. Finite for every finite `ln_p`; 0 for p ≥ 1.
pub fn z_of_two_sided_ln_p(ln_p: f64) -> f64 {
    if ln_p.is_nan() || ln_p >= 0.0 {
        return 0.0;
    }
    if ln_p > -600.0 {
        // Φ⁻¹ of the lower tail p/2 is accurate for small arguments (no 1 − p/2).
        let half = (ln_p.exp() / 2.0).max(f64::MIN_POSITIVE);
        return (-Normal::standard().inverse_cdf(half)).max(0.0);
    }
    // Far tail: Newton's method on ln(2·Φc(z)) = ln_p from z ≈ √(−2 ln p).
    let mut z = (-2.0 * ln_p).sqrt();
    for _ in 0..50 {
        let f = ln_two_sided_tail_asymptotic(z) - ln_p;
        // d/dz ln(2Φc(z)) ≈ −z − 1/z for large z.
        let step = f / (-z - 1.0 / z);
        z -= step;
        if step.abs() < 1e-12 * z {
            break;
        }
    }
    z
}

/// The |z| of a two-sided p-value.
pub fn z_of_two_sided_p(p: f64) -> f64 {
    if p <= 0.0 {
        return z_of_two_sided_ln_p(-745.0);
    }
    z_of_two_sided_ln_p(p.min(1.0).ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn sample_sd_by_hand() {
        // 1, 2, 3, 4: mean 2.5, sum of squares 5, sd = sqrt(5/3).
        assert!(close(mean(&[1.0, 2.0, 3.0, 4.0]), 2.5, 1e-12));
        assert!(close(
            sample_sd(&[1.0, 2.0, 3.0, 4.0]).unwrap(),
            (5.0f64 / 3.0).sqrt(),
            1e-12
        ));
        assert_eq!(sample_sd(&[0.05]), None);
    }

    #[test]
    fn p_values_of_known_quantiles() {
        // The 97.5% quantile of t(10) is 2.228139: two-sided p = 0.05.
        assert!(close(
            t_two_sided_p(2.228_138_851_986_274, 10.0).unwrap(),
            0.05,
            1e-9
        ));
        assert!(close(t_two_sided_p(0.0, 5.0).unwrap(), 1.0, 1e-12));
    }

    /// Reference values from scipy (`stats.t.logsf`, `stats.norm.logsf`, plus ln 2 for two
    /// sides) and, where scipy returns -inf, mpmath at 50 digits
    /// (`log(betainc(df/2, 1/2, 0, df/(df+t²), regularized=True))`).
    #[test]
    fn far_tail_p_values_are_exact_and_finite() {
        let ln2 = std::f64::consts::LN_2;
        let cases = [
            (9.0, -41.449_024_577_752_94 + ln2),
            (40.0, -424.767_366_539_791_45 + ln2),
            (60.0, -647.497_738_985_918_4),
            (100.0, -973.932_295_166_246_8),
            (1000.0, -2_602.587_400_981_084_6),
        ];
        for (t, want) in cases {
            let got = t_two_sided_ln_p(t, 718.0).unwrap();
            assert!(
                close(got, want, 1e-9 * want.abs()),
                "t {t}: {got} vs {want}"
            );
        }
        assert!(close(
            t_two_sided_ln_p(12.0, 3.0).unwrap(),
            -7.381_754_238_308_889 + ln2,
            1e-9
        ));
        assert!(close(
            normal_two_sided_ln_p(40.0),
            -803.915_294_833_193_8,
            1e-9 * 804.0
        ));
    }

    #[test]
    fn z_of_ln_p_round_trips_in_and_beyond_double_range() {
        for z in [
            0.5,
            1.959_963_984_540_054,
            5.0,
            8.3,
            12.0,
            30.0,
            40.0,
            100.0,
        ] {
            let back = z_of_two_sided_ln_p(normal_two_sided_ln_p(z));
            assert!(close(back, z, 1e-6 * z.max(1.0)), "{z} -> {back}");
        }
        assert!(close(z_of_two_sided_p(0.05), 1.959_963_984_540_054, 1e-9));
        assert_eq!(z_of_two_sided_ln_p(0.0), 0.0);
        assert!(z_of_two_sided_p(0.0).is_finite());
    }
}
