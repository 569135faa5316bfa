//! The market clock: what time it is for the price jobs of the live tracker (which bars
//! are complete, how far back the first backfill reaches, how often upkeep runs).
//!
//! Normally the system clock. A **replay** clock starts at a given market time and runs
//! `speed` times faster than the wall clock, so the live tracker can be rehearsed against
//! recorded data served as if it were live (the live-day test runs a day in a minute
//! against a local fake exchange). Job scheduling in the database stays in wall-clock
//! time; only the intervals of market-time work are divided by the speed.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A replay: market time `start` at the wall-clock instant `at`, running `speed` times
/// faster. Two processes given the same replay agree on the market time (the live-day
/// test restarts the tracker mid-day on the same timeline).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Replay {
    pub start: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub speed: f64,
}

/// The market clock.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Clock {
    replay: Option<Replay>,
}

impl Clock {
    pub fn system() -> Self {
        Clock { replay: None }
    }

    pub fn replay(replay: Replay) -> Self {
        Clock {
            replay: Some(replay),
        }
    }

    pub fn is_replay(&self) -> bool {
        self.replay.is_some()
    }

    /// The market time now.
    pub fn now(&self) -> DateTime<Utc> {
        let wall = Utc::now();
        match self.replay {
            None => wall,
            Some(r) => r.market_time(wall),
        }
    }

    /// How long `market` of market time lasts on the wall clock.
    pub fn wall(&self, market: Duration) -> Duration {
        match self.replay {
            None => market,
            Some(r) => market.div_f64(r.speed),
        }
    }
}

impl Replay {
    /// The market time at the wall-clock instant `wall`.
    pub fn market_time(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        let elapsed_ms = (wall - self.at).num_milliseconds() as f64 * self.speed;
        self.start + chrono::Duration::milliseconds(elapsed_ms.round() as i64)
    }

    /// Parse `START[,speed=N][,at=WALL]`: START and WALL are RFC 3339 times (WALL may also
    /// be UNIX seconds); `speed` defaults to 1 and `at` to `now` (the process start).
    pub fn parse(spec: &str, now: DateTime<Utc>) -> Result<Replay, String> {
        let time = |s: &str, what: &str| -> Result<DateTime<Utc>, String> {
            if let Ok(secs) = s.parse::<i64>() {
                return DateTime::from_timestamp(secs, 0)
                    .ok_or_else(|| format!("{what} {s:?}: out of range"));
            }
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| format!("{what} {s:?}: not an RFC 3339 time ({e})"))
        };
        let mut parts = spec.split(',').map(str::trim);
        let start = time(parts.next().unwrap_or_default(), "replay start")?;
        let mut replay = Replay {
            start,
            at: now,
            speed: 1.0,
        };
        for part in parts {
            match part.split_once('=') {
                Some(("speed", v)) => {
                    replay.speed = v
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s > 0.0)
                        .ok_or_else(|| format!("replay speed {v:?}: a positive number"))?;
                }
                Some(("at", v)) => replay.at = time(v, "replay wall-clock start")?,
                _ => {
                    return Err(format!(
                        "{part:?}: expected speed=N or at=TIME (replay START[,speed=N][,at=TIME])"
                    ))
                }
            }
        }
        Ok(replay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_replay_runs_from_its_start_at_its_speed() {
        let now = t("2026-03-01T12:00:00Z");
        let r = Replay::parse("2025-01-27T06:00:00Z,speed=3600", now).unwrap();
        assert_eq!(r.market_time(now), t("2025-01-27T06:00:00Z"));
        // One wall-clock second is an hour of market time.
        assert_eq!(
            r.market_time(now + chrono::Duration::seconds(30)),
            t("2025-01-28T12:00:00Z")
        );
        let clock = Clock::replay(r);
        assert_eq!(
            clock.wall(Duration::from_secs(15 * 60)),
            Duration::from_millis(250)
        );
        assert_eq!(
            Clock::system().wall(Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn two_processes_given_the_same_start_instant_agree() {
        let a = Replay::parse("2025-01-27T06:00:00Z,speed=10,at=1772366400", Utc::now()).unwrap();
        let b = Replay::parse(
            "2025-01-27T06:00:00Z, speed=10, at=2026-03-01T12:00:00Z",
            t("2030-01-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let now = Utc::now();
        assert!(Replay::parse("yesterday", now)
            .unwrap_err()
            .contains("replay start"));
        assert!(Replay::parse("2025-01-27T06:00:00Z,speed=0", now)
            .unwrap_err()
            .contains("positive"));
        assert!(Replay::parse("2025-01-27T06:00:00Z,pace=2", now)
            .unwrap_err()
            .contains("speed=N"));
    }
}
