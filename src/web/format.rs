//! Number and time formatting for pages. Pure.

use chrono::{DateTime, Utc};

use crate::prices::BarInterval;
use crate::study::engine::Window;

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

/// A p-value that keeps its magnitude: three decimals, then one significant digit in
/// scientific form ("2e-5"), "0" only for an exact zero.
pub fn p_small(v: Option<f64>) -> String {
    match v {
        Some(x) if x >= 0.001 && x.is_finite() => format!("{x:.3}"),
        Some(x) if x > 0.0 => format!("{x:.0e}"),
        Some(x) if x.is_finite() => "0".to_string(),
        _ => "–".to_string(),
    }
}

/// A share as a percentage with one decimal, capped below 100% unless it is exactly 1:
/// 0.9934 -> "99.3%", 0.99996 -> "99.99%".
pub fn share(v: Option<f64>) -> String {
    match v {
        Some(x) if x >= 1.0 => "100%".to_string(),
        Some(x) if x > 0.999 && x.is_finite() => format!("{:.2}%", (x * 100.0).min(99.99)),
        Some(x) if x.is_finite() => format!("{:.1}%", x * 100.0),
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

/// A score window in words: "the first hour", "the first 4 hours", "the 24 hours before the
/// report"; other windows as `[-24h, +24h]`.
pub fn window_words(w: Window, pre_report: bool, interval: BarInterval) -> String {
    let (one, many) = match interval {
        BarInterval::Hour => ("hour", "hours"),
        BarInterval::Day => ("day", "days"),
        BarInterval::Minute | BarInterval::FiveMinutes => ("bar", "bars"),
    };
    let n = w.len();
    let span = if n == 1 {
        one.to_string()
    } else {
        format!("{n} {many}")
    };
    if pre_report {
        format!("the {span} before the report")
    } else if w.start == 0 {
        format!("the first {span}")
    } else {
        w.label(interval)
    }
}

/// Query parameters whose values are credentials, by the words in their names.
const SECRET_PARAM_WORDS: &[&str] = &[
    "token",
    "key",
    "secret",
    "pass",
    "auth",
    "sig",
    "credential",
    "session",
    "jwt",
];

/// A URL as a public page may show it: no user name or password, and the values of
/// query parameters that look like credentials (`?auth_token=…`, `api_key`, `sig`)
/// replaced by `***`. Text that is not a URL is returned as it is.
pub fn redact_url(s: &str) -> String {
    let Ok(mut url) = url::Url::parse(s) else {
        return s.to_string();
    };
    let mut changed = false;
    if !url.username().is_empty() || url.password().is_some() {
        let _ = url.set_username("***");
        let _ = url.set_password(None);
        changed = true;
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let lower = k.to_ascii_lowercase();
            if SECRET_PARAM_WORDS.iter().any(|w| lower.contains(w)) {
                changed = true;
                (k.into_owned(), "***".to_string())
            } else {
                (k.into_owned(), v.into_owned())
            }
        })
        .collect();
    if !changed {
        return s.to_string();
    }
    if url.query().is_some() {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// `text` with every occurrence of `url` replaced by its redacted form (errors name the
/// URL they failed on).
pub fn redact_url_in(text: &str, url: &str) -> String {
    let redacted = redact_url(url);
    if redacted == url || url.is_empty() {
        text.to_string()
    } else {
        text.replace(url, &redacted)
    }
}

pub fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A time as its precision allows: "2025-01-27 14:05 UTC", "2025-01-27 14:00 UTC (to the
/// hour)", "2025-01-27 (time of day unknown)".
pub fn utc_with_precision(t: DateTime<Utc>, precision: &str) -> String {
    match precision {
        "day" => t.format("%Y-%m-%d (time of day unknown)").to_string(),
        "hour" => t.format("%Y-%m-%d %H:00 UTC (to the hour)").to_string(),
        _ => utc(t),
    }
}

/// A `<time>` element for a report's time with its precision; the page script shows
/// exact times in the reader's time zone too.
pub fn time_html(t: DateTime<Utc>, precision: &str) -> String {
    format!(
        r#"<time datetime="{}" data-precision="{}">{}</time>"#,
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        html_escape(precision),
        html_escape(&utc_with_precision(t, precision))
    )
}

/// Text made safe inside HTML elements and attribute values.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A number with its CSS sign class.
pub struct Cell {
    pub text: String,
    pub class: &'static str,
}

/// A fraction as a signed percentage with its sign class.
pub fn pct_cell(v: Option<f64>) -> Cell {
    Cell {
        text: pct(v),
        class: sign_class(v),
    }
}

/// "3 days ago", "5 hours ago", "in 2 days".
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    match secs {
        0..60 => return "just now".to_string(),
        -59..0 => return "in under a minute".to_string(),
        _ => {}
    }
    let (n, unit) = match secs.unsigned_abs() {
        s if s < 3_600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3_600, "hour"),
        s if s < 86_400 * 60 => (s / 86_400, "day"),
        s if s < 86_400 * 730 => (s / (86_400 * 30), "month"),
        s => (s / (86_400 * 365), "year"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if secs >= 0 {
        format!("{n} {unit}{plural} ago")
    } else {
        format!("in {n} {unit}{plural}")
    }
}

/// A span of time in words, to the minute from a minute on: "45 s", "36 min",
/// "17 h 36 min", "2 d 3 h". Negative spans read as their size.
pub fn duration_words(secs: i64) -> String {
    let s = secs.unsigned_abs();
    if s < 60 {
        return format!("{s} s");
    }
    // Rounded to the minute: a lag is no more exact than the bars that placed the onset.
    let minutes = (s + 30) / 60;
    let (d, h, m) = (minutes / 1_440, minutes / 60 % 24, minutes % 60);
    match (d, h, m) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// A news lag (report time minus the move's onset) in words: "17 h 36 min" after the
/// onset, "2 h 5 min before the onset" when the report came first.
pub fn lag_words(secs: i64) -> String {
    if secs < 0 {
        format!("{} before the onset", duration_words(secs))
    } else {
        duration_words(secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(duration_words(63_360), "17 h 36 min");
        assert_eq!(duration_words(45), "45 s");
        assert_eq!(duration_words(2_160), "36 min");
        assert_eq!(duration_words(7_200), "2 h");
        assert_eq!(duration_words(183_600), "2 d 3 h");
        assert_eq!(lag_words(-7_500), "2 h 5 min before the onset");
        assert_eq!(lag_words(63_389), "17 h 36 min");
        assert_eq!(pct(Some(-0.045153)), "-4.52%");
        assert_eq!(pct(Some(0.1)), "+10.00%");
        assert_eq!(pct(None), "–");
        assert_eq!(num(Some(-1.23456)), "-1.23");
        assert_eq!(p_value(Some(0.0004)), "<0.001");
        assert_eq!(p_value(Some(0.04512)), "0.045");
        assert_eq!(sign_class(Some(-1.0)), "neg");
        assert_eq!(p_small(Some(0.0412)), "0.041");
        assert_eq!(p_small(Some(0.000021)), "2e-5");
        assert_eq!(share(Some(0.9934)), "99.3%");
        assert_eq!(share(Some(0.99996)), "99.99%");
        let h = BarInterval::Hour;
        assert_eq!(window_words(Window::new(0, 1), false, h), "the first hour");
        assert_eq!(
            window_words(Window::new(0, 4), false, h),
            "the first 4 hours"
        );
        assert_eq!(
            window_words(Window::new(-25, -1), true, h),
            "the 24 hours before the report"
        );
    }

    #[test]
    fn times_say_how_exactly_they_are_known() {
        let t = chrono::DateTime::parse_from_rfc3339("2025-01-27T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(utc_with_precision(t, "exact"), "2025-01-27 10:00 UTC");
        assert_eq!(
            utc_with_precision(t, "hour"),
            "2025-01-27 10:00 UTC (to the hour)"
        );
        assert_eq!(
            utc_with_precision(t, "day"),
            "2025-01-27 (time of day unknown)"
        );
        assert_eq!(
            time_html(t, "day"),
            r#"<time datetime="2025-01-27T10:00:00Z" data-precision="day">2025-01-27 (time of day unknown)</time>"#
        );
        assert_eq!(
            html_escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn ago_reads_naturally_both_ways() {
        use chrono::{Duration, TimeZone};
        let now = Utc.with_ymd_and_hms(2025, 1, 27, 12, 0, 0).unwrap();
        assert_eq!(ago(now - Duration::seconds(20), now), "just now");
        assert_eq!(ago(now + Duration::seconds(20), now), "in under a minute");
        assert_eq!(ago(now - Duration::minutes(1), now), "1 minute ago");
        assert_eq!(ago(now + Duration::minutes(14), now), "in 14 minutes");
        assert_eq!(ago(now - Duration::hours(5), now), "5 hours ago");
        assert_eq!(ago(now - Duration::days(3), now), "3 days ago");
        assert_eq!(ago(now - Duration::days(400), now), "13 months ago");
        assert_eq!(ago(now - Duration::days(800), now), "2 years ago");
    }
}
