//! US trading sessions in UTC, and where a piece of news falls among them. Pure.
//!
//! The regular session is 09:30–16:00 in New York: 14:30–21:00 UTC in winter (EST,
//! UTC−5) and 13:30–20:00 UTC in summer (EDT, UTC−4). Daylight saving time follows the
//! US rule in force since 2007: from the second Sunday of March to the first Sunday of
//! November, switching at 02:00 local time. It is written out here rather than taken
//! from a time-zone database so the rule is visible and tested; PostgreSQL's own
//! `America/New_York` is checked against it in tests/context.rs.
//!
//! An event's session is the first session whose close is after its publication: the
//! move from the last close before the news to the first close after it. News at the
//! closing minute itself (a 16:00 announcement) belongs to the next session: that close
//! was struck before anyone could trade on it. Which days
//! have sessions comes from the stored bars: a weekday without a bar, between two that
//! have one, is a market holiday.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};

/// The `n`-th (1-based) `weekday` of a month.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n as u8).unwrap_or(NaiveDate::MIN)
}

/// The UTC instants at which New York daylight saving time starts and ends in `year`:
/// 02:00 EST (07:00 UTC) on the second Sunday of March, 02:00 EDT (06:00 UTC) on the
/// first Sunday of November.
pub fn dst_bounds(year: i32) -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |d: NaiveDate, hour: i64| {
        Utc.from_utc_datetime(&(NaiveDateTime::from(d) + Duration::hours(hour)))
    };
    (
        at(nth_weekday(year, 3, Weekday::Sun, 2), 7),
        at(nth_weekday(year, 11, Weekday::Sun, 1), 6),
    )
}

/// New York's offset from UTC at an instant, in hours (−4 in summer, −5 in winter).
pub fn new_york_offset_hours(at: DateTime<Utc>) -> i64 {
    let (start, end) = dst_bounds(at.year());
    if at >= start && at < end {
        -4
    } else {
        -5
    }
}

/// The New York wall-clock time of an instant.
pub fn new_york_time(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc() + Duration::hours(new_york_offset_hours(at))
}

/// Whether a New York date is in summer time (all of its trading hours are: the
/// switches happen on Sundays at 02:00).
pub fn is_summer_time(date: NaiveDate) -> bool {
    let year = date.year();
    date >= nth_weekday(year, 3, Weekday::Sun, 2) && date < nth_weekday(year, 11, Weekday::Sun, 1)
}

/// A New York wall-clock time on `date`, in UTC.
fn new_york_to_utc(date: NaiveDate, h: i64, m: i64) -> DateTime<Utc> {
    let offset = if is_summer_time(date) { 4 } else { 5 };
    let utc = NaiveDateTime::from(date) + Duration::hours(h + offset) + Duration::minutes(m);
    Utc.from_utc_datetime(&utc)
}

/// One trading session: its New York date and its regular hours in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub date: NaiveDate,
    pub open_at: DateTime<Utc>,
    pub close_at: DateTime<Utc>,
}

impl Session {
    /// The regular session of a trading day: 09:30 to 16:00 New York time.
    pub fn on(date: NaiveDate) -> Session {
        Session {
            date,
            open_at: new_york_to_utc(date, 9, 30),
            close_at: new_york_to_utc(date, 16, 0),
        }
    }
}

/// When the news came relative to its session. The names are the `timing` column of
/// the `event_context` view and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    BeforeOpen,
    DuringSession,
    /// After the close of the previous session, on its day.
    AfterClose,
    /// On a Saturday or Sunday.
    Weekend,
    /// On a weekday without a session.
    Holiday,
}

impl Timing {
    pub fn as_str(self) -> &'static str {
        match self {
            Timing::BeforeOpen => "before-open",
            Timing::DuringSession => "during-session",
            Timing::AfterClose => "after-close",
            Timing::Weekend => "weekend",
            Timing::Holiday => "holiday",
        }
    }
}

/// Where a publication falls among the stored sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The event's session: the first whose close is after the publication.
    pub session: Option<Session>,
    /// The session before it: the last close before the news.
    pub previous: Option<Session>,
    /// None when either session is missing.
    pub timing: Option<Timing>,
    /// The timing in words, the same as the view's `note`.
    pub note: String,
}

/// "Monday 2025-01-27": the date format of every note (the view's
/// `to_char(d, 'FMDay YYYY-MM-DD')`).
pub fn day_label(d: NaiveDate) -> String {
    d.format("%A %Y-%m-%d").to_string()
}

/// Place a publication among the sessions of `dates` (the trading days stored for an
/// asset, in any order). Holidays are the weekdays missing between two stored sessions.
pub fn session_for(publication: DateTime<Utc>, dates: &[NaiveDate]) -> Placement {
    let mut sessions: Vec<Session> = dates.iter().map(|d| Session::on(*d)).collect();
    sessions.sort_by_key(|s| s.close_at);
    let i = sessions.partition_point(|s| s.close_at <= publication);
    let session = sessions.get(i).copied();
    let previous = i.checked_sub(1).and_then(|j| sessions.get(j)).copied();
    let local_date = new_york_time(publication).date();
    let (Some(s), Some(p)) = (session, previous) else {
        let note = match session {
            None => "no stored session closes after the news",
            Some(_) => "no stored session before the news",
        };
        return Placement {
            session,
            previous,
            timing: None,
            note: note.to_string(),
        };
    };
    let timing = if publication >= s.open_at {
        Timing::DuringSession
    } else if local_date == s.date {
        Timing::BeforeOpen
    } else if local_date == p.date {
        Timing::AfterClose
    } else if matches!(local_date.weekday(), Weekday::Sat | Weekday::Sun) {
        Timing::Weekend
    } else {
        Timing::Holiday
    };
    let first = day_label(s.date);
    let mut note = match timing {
        Timing::DuringSession => format!(
            "published during the session of {first} (its return includes the hours before the news)"
        ),
        Timing::BeforeOpen => format!("published before the open of {first}"),
        Timing::AfterClose => format!(
            "published after the close of {}: first session {first}",
            day_label(p.date)
        ),
        Timing::Weekend => format!(
            "published on {}: first session {first}",
            local_date.format("%A")
        ),
        Timing::Holiday => format!(
            "published on {}, a market holiday: first session {first}",
            day_label(local_date)
        ),
    };
    // Weekdays after the publication day without a session: holidays the news waited
    // through (a Saturday story before a Monday holiday).
    let closed: Vec<String> = local_date
        .iter_days()
        .skip(1)
        .take_while(|d| *d < s.date)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .map(day_label)
        .collect();
    if !closed.is_empty() {
        note.push_str(&format!(
            " (market closed on {}: holiday)",
            closed.join(", ")
        ));
    }
    Placement {
        session,
        previous,
        timing: Some(timing),
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// The weekdays of January–July 2025 except the NYSE holidays of that span.
    fn calendar_2025() -> Vec<NaiveDate> {
        let holidays = [
            "2025-01-01",
            "2025-01-09",
            "2025-01-20",
            "2025-02-17",
            "2025-04-18",
            "2025-05-26",
            "2025-06-19",
            "2025-07-04",
        ]
        .map(d);
        d("2024-12-30")
            .iter_days()
            .take_while(|x| *x <= d("2025-07-31"))
            .filter(|x| !matches!(x.weekday(), Weekday::Sat | Weekday::Sun))
            .filter(|x| !holidays.contains(x))
            .collect()
    }

    #[test]
    fn winter_sessions_are_14_30_to_21_00_utc_and_summer_13_30_to_20_00() {
        let w = Session::on(d("2025-01-27"));
        assert_eq!(w.open_at, utc("2025-01-27T14:30:00Z"));
        assert_eq!(w.close_at, utc("2025-01-27T21:00:00Z"));
        let s = Session::on(d("2025-06-16"));
        assert_eq!(s.open_at, utc("2025-06-16T13:30:00Z"));
        assert_eq!(s.close_at, utc("2025-06-16T20:00:00Z"));
    }

    #[test]
    fn the_dst_switch_days_follow_the_second_sunday_of_march_and_first_of_november() {
        // 2025: 9 March and 2 November; 2024: 10 March and 3 November.
        assert_eq!(
            dst_bounds(2025),
            (utc("2025-03-09T07:00:00Z"), utc("2025-11-02T06:00:00Z"))
        );
        assert_eq!(
            dst_bounds(2024),
            (utc("2024-03-10T07:00:00Z"), utc("2024-11-03T06:00:00Z"))
        );
        // The Friday before the switch is winter, the Monday after summer.
        assert_eq!(
            Session::on(d("2025-03-07")).close_at,
            utc("2025-03-07T21:00:00Z")
        );
        assert_eq!(
            Session::on(d("2025-03-10")).close_at,
            utc("2025-03-10T20:00:00Z")
        );
        assert_eq!(
            Session::on(d("2024-10-31")).close_at,
            utc("2024-10-31T20:00:00Z")
        );
        assert_eq!(
            Session::on(d("2024-11-04")).close_at,
            utc("2024-11-04T21:00:00Z")
        );
        // Around the switch instant itself.
        assert_eq!(new_york_offset_hours(utc("2025-03-09T06:59:00Z")), -5);
        assert_eq!(new_york_offset_hours(utc("2025-03-09T07:00:00Z")), -4);
        assert_eq!(new_york_offset_hours(utc("2025-11-02T05:59:00Z")), -4);
        assert_eq!(new_york_offset_hours(utc("2025-11-02T06:00:00Z")), -5);
    }

    #[test]
    fn deepseek_monday_morning_falls_in_mondays_session() {
        let p = session_for(utc("2025-01-27T10:00:00Z"), &calendar_2025());
        assert_eq!(p.session.unwrap().date, d("2025-01-27"));
        assert_eq!(p.previous.unwrap().date, d("2025-01-24"));
        assert_eq!(p.timing, Some(Timing::BeforeOpen));
        assert_eq!(p.note, "published before the open of Monday 2025-01-27");
    }

    #[test]
    fn during_the_session_counts_for_it_and_the_closing_minute_for_the_next() {
        let cal = calendar_2025();
        let p = session_for(utc("2025-01-27T15:00:00Z"), &cal);
        assert_eq!(p.timing, Some(Timing::DuringSession));
        assert_eq!(p.session.unwrap().date, d("2025-01-27"));
        let p = session_for(utc("2025-01-27T20:59:00Z"), &cal);
        assert_eq!(p.session.unwrap().date, d("2025-01-27"));
        // At the close: the next day's session.
        let p = session_for(utc("2025-01-27T21:00:00Z"), &cal);
        assert_eq!(p.session.unwrap().date, d("2025-01-28"));
        assert_eq!(p.timing, Some(Timing::AfterClose));
        assert_eq!(
            p.note,
            "published after the close of Monday 2025-01-27: first session Tuesday 2025-01-28"
        );
        // In summer the close is 20:00 UTC.
        let p = session_for(utc("2025-06-16T20:30:00Z"), &cal);
        assert_eq!(p.session.unwrap().date, d("2025-06-17"));
    }

    #[test]
    fn friday_evening_and_saturday_news_wait_for_monday() {
        let cal = calendar_2025();
        let p = session_for(utc("2025-01-24T23:00:00Z"), &cal);
        assert_eq!(p.session.unwrap().date, d("2025-01-27"));
        assert_eq!(p.previous.unwrap().date, d("2025-01-24"));
        assert_eq!(p.timing, Some(Timing::AfterClose));
        assert_eq!(
            p.note,
            "published after the close of Friday 2025-01-24: first session Monday 2025-01-27"
        );
        let p = session_for(utc("2025-01-25T12:00:00Z"), &cal);
        assert_eq!(p.session.unwrap().date, d("2025-01-27"));
        assert_eq!(p.timing, Some(Timing::Weekend));
        assert_eq!(
            p.note,
            "published on Saturday: first session Monday 2025-01-27"
        );
        // Sunday 23:30 UTC is still Sunday in New York.
        let p = session_for(utc("2025-01-26T23:30:00Z"), &cal);
        assert_eq!(
            p.note,
            "published on Sunday: first session Monday 2025-01-27"
        );
        // Monday 02:00 UTC is Sunday evening in New York.
        let p = session_for(utc("2025-01-27T02:00:00Z"), &cal);
        assert_eq!(p.timing, Some(Timing::Weekend));
    }

    #[test]
    fn holidays_are_the_weekdays_missing_from_the_stored_sessions() {
        let cal = calendar_2025();
        // Martin Luther King Day, Monday 20 January 2025.
        let p = session_for(utc("2025-01-20T16:00:00Z"), &cal);
        assert_eq!(p.session.unwrap().date, d("2025-01-21"));
        assert_eq!(p.previous.unwrap().date, d("2025-01-17"));
        assert_eq!(p.timing, Some(Timing::Holiday));
        assert_eq!(
            p.note,
            "published on Monday 2025-01-20, a market holiday: first session Tuesday 2025-01-21"
        );
        // Saturday before it: the holiday is named too.
        let p = session_for(utc("2025-01-18T12:00:00Z"), &cal);
        assert_eq!(
            p.note,
            "published on Saturday: first session Tuesday 2025-01-21 \
             (market closed on Monday 2025-01-20: holiday)"
        );
        // Thursday evening before Good Friday.
        let p = session_for(utc("2025-04-17T22:00:00Z"), &cal);
        assert_eq!(
            p.note,
            "published after the close of Thursday 2025-04-17: first session Monday 2025-04-21 \
             (market closed on Friday 2025-04-18: holiday)"
        );
    }

    #[test]
    fn news_outside_the_stored_span_says_so() {
        let cal = calendar_2025();
        let p = session_for(utc("2025-09-01T12:00:00Z"), &cal);
        assert_eq!(p.session, None);
        assert_eq!(p.timing, None);
        assert_eq!(p.note, "no stored session closes after the news");
        let p = session_for(utc("2024-12-01T12:00:00Z"), &cal);
        assert_eq!(p.session.unwrap().date, d("2024-12-30"));
        assert_eq!(p.previous, None);
        assert_eq!(p.note, "no stored session before the news");
        assert_eq!(session_for(utc("2025-01-01T00:00:00Z"), &[]).session, None);
    }
}
