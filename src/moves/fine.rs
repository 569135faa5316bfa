//! Placing a move's onset and extreme on the finest bars stored (5 m or 1 m). Pure.
//!
//! The scan finds moves on hourly bars, where every series has a comparable history.
//! Where finer bars cover the whole move (every bar present, from an hour before the
//! onset to an hour after the extreme), the onset is moved to the last high (low) of the
//! fine path within an hour of the hourly onset, and the extreme to the first trough
//! (peak) within an hour of the hourly extreme. Fine paths are raw prices (a category's:
//! the equal-weighted mean of its members' fine log returns, with at least 5 members
//! every bar): at minutes, a token's abnormal and raw paths turn at the same bars.

/// Cumulative log path on a fine grid: boundary `k` is at `start + k * step`.
#[derive(Debug, Clone, PartialEq)]
pub struct FinePath {
    pub start: i64,
    pub step: i64,
    pub cum: Vec<f64>,
}

/// Fewest members with a fine bar for a category's fine path.
pub const MIN_MEMBERS: usize = 5;
const HOUR: i64 = 3600;

impl FinePath {
    /// A path from each member's closes on one fine grid (`closes[j][i]`: member j, bar i
    /// opening at `open0 + i * step`; NaN = missing). Boundary 0 is the close of bar 0.
    /// None unless every bar has enough members with a return.
    pub fn from_closes(
        open0: i64,
        step: i64,
        closes: &[Vec<f64>],
        min_members: usize,
    ) -> Option<Self> {
        let n = closes.first()?.len();
        if n < 2 {
            return None;
        }
        let mut cum = vec![0.0; n];
        for i in 1..n {
            let rs: Vec<f64> = closes
                .iter()
                .map(|c| (c[i] / c[i - 1]).ln())
                .filter(|r| r.is_finite())
                .collect();
            if rs.len() < min_members {
                return None;
            }
            cum[i] = cum[i - 1] + rs.iter().sum::<f64>() / rs.len() as f64;
        }
        Some(FinePath {
            start: open0 + step,
            step,
            cum,
        })
    }

    fn at(&self, k: usize) -> i64 {
        self.start + k as i64 * self.step
    }

    /// Boundaries whose times lie in `[a, b]`.
    fn within(&self, a: i64, b: i64) -> impl Iterator<Item = usize> + '_ {
        (0..self.cum.len()).filter(move |&k| (a..=b).contains(&self.at(k)))
    }
}

/// The fine onset and extreme of a move (`direction` −1 fall, +1 rise; times in seconds),
/// or None when the path does not cover the hour around both.
pub fn refine(direction: i8, onset: i64, extreme: i64, path: &FinePath) -> Option<(i64, i64)> {
    let first = path.at(0);
    let last = path.at(path.cum.len().checked_sub(1)?);
    if first > onset - HOUR || last < extreme + HOUR {
        return None;
    }
    let d = f64::from(direction);
    let c = &path.cum;
    // The last high before a fall: on ties the later boundary.
    let on = path
        .within(onset - HOUR, onset + HOUR)
        .max_by(|&a, &b| (-d * c[a]).total_cmp(&(-d * c[b])).then(a.cmp(&b)))?;
    // The first trough of a fall: on ties the earlier boundary.
    let ex = path
        .within(extreme - HOUR, extreme + HOUR)
        .max_by(|&a, &b| (d * c[a]).total_cmp(&(d * c[b])).then(b.cmp(&a)))?;
    (ex > on).then(|| (path.at(on), path.at(ex)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fine_path_places_the_turning_points_inside_the_hour() {
        // 5-minute bars from 23:50: flat at 100, a high of 101 at the close of bar 17
        // (01:20), a fall to 90 at the close of bar 44 (03:35), then flat.
        let step = 300;
        let n = 72;
        let mut c = vec![100.0; n];
        c[17] = 101.0;
        for (i, v) in c.iter_mut().enumerate().take(45).skip(18) {
            *v = 101.0 - (i as f64 - 17.0) * 11.0 / 27.0;
        }
        for v in c.iter_mut().skip(45) {
            *v = 90.5;
        }
        c[44] = 90.0;
        let open0 = -600;
        let path = FinePath::from_closes(open0, step, &[c], 1).unwrap();
        // Hourly: onset at 01:00, extreme at 04:00.
        let (on, ex) = refine(-1, 3600, 4 * 3600, &path).unwrap();
        assert_eq!(on, open0 + 18 * step);
        assert_eq!(ex, open0 + 45 * step);
        // Not covered an hour past the extreme: no refinement.
        assert!(refine(-1, 3600, 5 * 3600 + 600, &path).is_none());
    }

    #[test]
    fn a_category_needs_enough_members_every_bar() {
        let a = vec![1.0, 1.1, 1.2];
        let mut b = a.clone();
        b[2] = f64::NAN;
        assert!(FinePath::from_closes(0, 60, &[a.clone(), a.clone()], 2).is_some());
        assert!(FinePath::from_closes(0, 60, &[a, b], 2).is_none());
    }
}
