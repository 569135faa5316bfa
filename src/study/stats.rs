//! Test statistics over cross-sections of abnormal returns. Pure.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// The cross-sectional summary of one category's CARs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossSection {
    pub n: usize,
    /// Equal-weighted mean CAR (CAAR).
    pub mean: f64,
    /// Sample standard deviation (divisor n - 1); `None` when n < 2.
    pub sd: Option<f64>,
    /// t = mean / (sd / sqrt(n)); `None` when n < 2 or sd = 0.
    pub t: Option<f64>,
    /// Two-sided p-value of t under Student's t with n - 1 degrees of freedom.
    pub p: Option<f64>,
}

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

/// Two-sided p-value of `t` with `df` degrees of freedom.
pub fn t_two_sided_p(t: f64, df: f64) -> Option<f64> {
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * (1.0 - dist.cdf(t.abs()))).clamp(0.0, 1.0))
}

/// Cross-sectional t test of the mean of `xs` against zero. `None` for an empty slice.
pub fn cross_section(xs: &[f64]) -> Option<CrossSection> {
    if xs.is_empty() {
        return None;
    }
    let n = xs.len();
    let m = mean(xs);
    let sd = sample_sd(xs);
    let t = sd.filter(|s| *s > 0.0).map(|s| m / (s / (n as f64).sqrt()));
    let p = t.and_then(|t| t_two_sided_p(t, (n - 1) as f64));
    Some(CrossSection {
        n,
        mean: m,
        sd,
        t,
        p,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn hand_worked_t_test() {
        // xs = 1, 2, 3, 4: mean 2.5, sd sqrt(5/3) = 1.290994, t = 2.5 / (1.290994 / 2) = 3.872983.
        let cs = cross_section(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(cs.n, 4);
        assert!(close(cs.mean, 2.5, 1e-12));
        assert!(close(cs.sd.unwrap(), (5.0f64 / 3.0).sqrt(), 1e-12));
        assert!(close(cs.t.unwrap(), 3.872_983_346_207_417, 1e-12));
        // Closed form for 3 df: F(t) = 1/2 + (x/(1+x^2) + atan x)/pi with x = t/sqrt(3).
        assert!(
            close(cs.p.unwrap(), 0.030_466_291_662_171, 1e-9),
            "{}",
            cs.p.unwrap()
        );
    }

    #[test]
    fn degenerate_cross_sections() {
        let one = cross_section(&[0.05]).unwrap();
        assert_eq!((one.sd, one.t, one.p), (None, None, None));
        let flat = cross_section(&[0.1, 0.1]).unwrap();
        assert_eq!(flat.sd, Some(0.0));
        assert_eq!(flat.t, None);
        assert!(cross_section(&[]).is_none());
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
}
