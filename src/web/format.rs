//! Number and time formatting for pages. Pure.

use chrono::{DateTime, Utc};

/// A fraction as a signed percentage: -0.0451 -> "-4.51%". `None` -> "–".
pub fn pct(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{:+.2}%", x * 100.0),
        _ => "–".to_string(),
    }
}

/// A statistic with two decimals, or "–".
pub fn num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.2}"),
        _ => "–".to_string(),
    }
}

/// A p-value: three decimals, "<0.001" below that.
pub fn p_value(v: Option<f64>) -> String {
    match v {
        Some(x) if x < 0.001 => "<0.001".to_string(),
        Some(x) if x.is_finite() => format!("{x:.3}"),
        _ => "–".to_string(),
    }
}

/// CSS class for a signed number: "neg", "pos" or "".
pub fn sign_class(v: Option<f64>) -> &'static str {
    match v {
        Some(x) if x < 0.0 => "neg",
        Some(x) if x > 0.0 => "pos",
        _ => "",
    }
}

pub fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(pct(Some(-0.045153)), "-4.52%");
        assert_eq!(pct(Some(0.1)), "+10.00%");
        assert_eq!(pct(None), "–");
        assert_eq!(num(Some(-1.23456)), "-1.23");
        assert_eq!(p_value(Some(0.0004)), "<0.001");
        assert_eq!(p_value(Some(0.04512)), "0.045");
        assert_eq!(sign_class(Some(-1.0)), "neg");
    }
}
