//! Basic statistics shared by the study: mean, sample SD, Student-t p-values. Pure.

use statrs::distribution::{ContinuousCDF, StudentsT};

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
}
