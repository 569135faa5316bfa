//! How often the detector raises an alarm on ordinary days. Pure.
//!
//! Ordinary end hours are split by the parity of their UTC day. The null is built from
//! one half only and the other half is judged with it (then the halves swap), so no hour
//! is judged by a null that contains it. Two rates per series:
//! - per hour: the share of judged hours whose p is at most alpha (a calibrated test
//!   gives alpha);
//! - per day: the share of judged days (24 ordinary hours) with at least one such hour,
//!   that is, days on which the scan would report a move of this series with no news.

use super::detect::{end_stats, ordinary_ends, robust_sigma, Grid};

/// One series' false-alarm rates (both halves pooled).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub hours: usize,
    pub hour_alarms: usize,
    pub days: usize,
    pub day_alarms: usize,
}

impl Rates {
    pub fn per_hour(&self) -> f64 {
        self.hour_alarms as f64 / self.hours.max(1) as f64
    }
    pub fn per_day(&self) -> f64 {
        self.day_alarms as f64 / self.days.max(1) as f64
    }
    pub fn add(&mut self, o: &Rates) {
        self.hours += o.hours;
        self.hour_alarms += o.hour_alarms;
        self.days += o.days;
        self.day_alarms += o.day_alarms;
    }
}

/// The rates of one series' basis returns `x`.
pub fn rates(grid: &Grid, x: &[f64], events: &[i64], alpha: f64) -> Rates {
    let sigma = robust_sigma(grid, x);
    let ordinary = ordinary_ends(grid, events);
    let day = |e: usize| (grid.at(e) - 1).div_euclid(86_400);
    let mut out = Rates::default();
    for half in 0..2i64 {
        let calib: Vec<bool> = (0..ordinary.len())
            .map(|e| ordinary[e] && day(e).rem_euclid(2) == half)
            .collect();
        let st = end_stats(grid, x, &sigma, &calib);
        let mut days: std::collections::BTreeMap<i64, (usize, bool)> = Default::default();
        for (e, &ord) in ordinary.iter().enumerate() {
            if !ord || day(e).rem_euclid(2) == half || !st.p[e].is_finite() {
                continue;
            }
            let alarm = st.p[e] <= alpha;
            out.hours += 1;
            out.hour_alarms += usize::from(alarm);
            let d = days.entry(day(e)).or_default();
            d.0 += 1;
            d.1 |= alarm;
        }
        for (n, alarm) in days.into_values() {
            if n == 24 {
                out.days += 1;
                out.day_alarms += usize::from(alarm);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_alarms_at_about_alpha_per_hour() {
        let grid = Grid {
            start: 1_700_006_400,
            len: 8000,
        };
        let mut s: u64 = 11;
        let x: Vec<f64> = (0..grid.len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
            })
            .collect();
        let r = rates(&grid, &x, &[], 0.05);
        assert!(r.hours > 7000, "{r:?}");
        assert!((0.03..0.07).contains(&r.per_hour()), "{}", r.per_hour());
        assert!(r.per_day() > r.per_hour());
    }
}
