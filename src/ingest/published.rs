//! Publication times: the forms sites write them in, normalised to UTC, and the check
//! that a time is plausible. Pure: `now` is passed in.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Times this far ahead of the clock are accepted (servers' clocks and ours drift).
pub const FUTURE_SKEW: chrono::Duration = chrono::Duration::minutes(10);

/// Nothing Catalyst tracks was published before Bitcoin's genesis block: earlier times are
/// a parsing accident (a zero epoch, a two-digit year).
pub fn earliest_plausible() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2009, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Parse a publication time as sites write it: RFC 3339 / ISO 8601 with `Z` or an offset,
/// RFC 2822 (`Mon, 27 Jan 2025 10:00:00 +0000`), epoch milliseconds (13 digits) or
/// seconds (10 digits), and offset-less ISO forms, read as UTC. A date alone is its
/// midnight UTC. `None` when the text is none of these.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        return match s.len() {
            13 => DateTime::from_timestamp_millis(n),
            10 => DateTime::from_timestamp(n, 0),
            _ => None,
        };
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    // ISO 8601 variants RFC 3339 refuses: a space for the T, a `+0000` offset.
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Why `t` cannot be a publication time, if it cannot: later than `now` plus
/// [`FUTURE_SKEW`], or before 2009.
pub fn implausible(t: DateTime<Utc>, now: DateTime<Utc>) -> Option<String> {
    if t > now + FUTURE_SKEW {
        Some(format!(
            "time {} is in the future (now {})",
            t.to_rfc3339(),
            now.to_rfc3339()
        ))
    } else if t < earliest_plausible() {
        Some(format!("time {} is before 2009", t.to_rfc3339()))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_one_instant_agrees() {
        // 2025-01-27T10:00:00Z = 1737972000 s since the epoch (date -d @1737972000 -u).
        let expected = Utc.with_ymd_and_hms(2025, 1, 27, 10, 0, 0).unwrap();
        for form in [
            "2025-01-27T10:00:00Z",
            "2025-01-27T10:00:00+00:00",
            "2025-01-27T12:00:00+02:00",
            "2025-01-27T05:00:00-05:00",
            "2025-01-27T10:00:00.000Z",
            "Mon, 27 Jan 2025 10:00:00 +0000",
            "Mon, 27 Jan 2025 10:00:00 GMT",
            "Mon, 27 Jan 2025 11:00:00 +0100",
            "1737972000000",
            "1737972000",
            "2025-01-27 10:00:00",
            "2025-01-27T10:00:00+0000",
            " 2025-01-27T10:00:00Z\n",
        ] {
            assert_eq!(parse_time(form), Some(expected), "{form:?}");
        }
        assert_eq!(
            parse_time("2025-01-27"),
            Utc.with_ymd_and_hms(2025, 1, 27, 0, 0, 0).single()
        );
    }

    #[test]
    fn garbage_is_no_time() {
        for bad in [
            "",
            "yesterday",
            "2025-13-01T00:00:00Z",
            "12345",
            "99999999999999999999",
            "Mon, 32 Jan 2025",
        ] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn future_and_pre_2009_times_are_implausible() {
        let now = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
        assert!(implausible(now, now).is_none());
        assert!(implausible(now + chrono::Duration::minutes(5), now).is_none());
        let why = implausible(now + chrono::Duration::hours(2), now).unwrap();
        assert!(why.contains("future"), "{why}");
        let why = implausible(parse_time("0").unwrap_or(DateTime::UNIX_EPOCH), now);
        assert!(why.unwrap().contains("before 2009"));
        assert!(implausible(parse_time("2008-12-31T23:59:59Z").unwrap(), now).is_some());
        assert!(implausible(parse_time("2009-01-03T18:15:05Z").unwrap(), now).is_none());
    }
}
