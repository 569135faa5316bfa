//! The normal level of a volume or volatility series and a window's excess over it. Pure.
//!
//! Crypto volume and volatility follow the clock: US hours trade more than Asian nights,
//! weekends less than weekdays. A window that starts on a quiet Sunday looks calm against
//! a plain estimation-window mean even when the market is busy for a Sunday. So each
//! series' normal level at a bar is fitted on the estimation window as
//! mean + hour-of-day effect + weekday effect (log volume: additive; range variance:
//! the same, as multiplicative factors), and a window is judged against the sum of its
//! bars' normal levels.
//!
//! The test divides the window's abnormal value by the spread of the same quantity over
//! every window-long stretch of the estimation window (overlapping), which carries the
//! series' own persistence (volume and volatility cluster, so bar-level variances would
//! understate it). Whatever misfit remains is absorbed by calibrating the statistic at
//! ordinary hours (`super::ActivityNull`).

use std::borrow::Cow;

/// Bars per day and the weekday of a bar, on a grid of `bar_seconds` bars counted from
/// the Unix epoch (a Thursday).
#[derive(Debug, Clone, Copy)]
pub struct Calendar {
    pub bars_per_day: i64,
}

impl Calendar {
    pub fn new(bar_seconds: i64) -> Self {
        Calendar {
            bars_per_day: (86_400 / bar_seconds.max(1)).max(1),
        }
    }

    /// Slot of the day (the hour, on hourly bars).
    pub fn slot(&self, bar: i64) -> usize {
        bar.rem_euclid(self.bars_per_day) as usize
    }

    /// Monday = 0.
    pub fn weekday(&self, bar: i64) -> usize {
        (bar.div_euclid(self.bars_per_day) + 3).rem_euclid(7) as usize
    }
}

/// The bars `[from, to)` read at one bar 0: the estimation window first (`est_len` bars),
/// then up to the end of the last window. Every series is read as a slice over it, and
/// each bar's slot of the day and weekday are looked up once for all series.
pub struct Frame {
    pub from: i64,
    pub est_len: usize,
    slot: Vec<u8>,
    weekday: Vec<u8>,
    n_slots: usize,
}

impl Frame {
    pub fn new(cal: Calendar, (from, to): (i64, i64), est_end: i64) -> Self {
        let bars = from..to.max(from);
        Frame {
            from,
            est_len: (est_end - from).clamp(0, to - from) as usize,
            slot: bars.clone().map(|b| cal.slot(b) as u8).collect(),
            weekday: bars.map(|b| cal.weekday(b) as u8).collect(),
            n_slots: cal.bars_per_day as usize,
        }
    }

    pub fn len(&self) -> usize {
        self.slot.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slot.is_empty()
    }

    /// Index of an absolute bar (clamped to the frame).
    pub fn index(&self, bar: i64) -> usize {
        (bar - self.from).clamp(0, self.len() as i64) as usize
    }

    /// A series on a grid starting at `first` read over the frame: borrowed when the grid
    /// covers it, else padded with NaN.
    pub fn slice<'a>(&self, first: i64, values: &'a [f64]) -> Cow<'a, [f64]> {
        let start = self.from - first;
        let end = start + self.len() as i64;
        if start >= 0 && end <= values.len() as i64 {
            return Cow::Borrowed(&values[start as usize..end as usize]);
        }
        Cow::Owned(
            (start..end)
                .map(|i| {
                    if i >= 0 {
                        values.get(i as usize).copied().unwrap_or(f64::NAN)
                    } else {
                        f64::NAN
                    }
                })
                .collect(),
        )
    }
}

/// How the normal level combines its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Log volume: mean + hour effect + weekday effect; excess in log units.
    Additive,
    /// Range variance: mean × hour factor × weekday factor; excess as a log ratio.
    Multiplicative,
}

/// The fitted normal level of one series over one estimation window.
#[derive(Debug, Clone)]
pub struct Seasonal {
    pub shape: Shape,
    pub mean: f64,
    slot: Vec<f64>,
    day: [f64; 7],
}

impl Seasonal {
    /// Fit on the frame's estimation bars of `x` (a slice over the frame); `None` with
    /// fewer than `min_bars` values (or a zero mean variance: constant prices). Without
    /// `seasonal` the normal level is the plain mean (a short daily estimation window
    /// cannot carry seven weekday effects).
    pub fn fit(
        x: &[f64],
        f: &Frame,
        shape: Shape,
        min_bars: usize,
        seasonal: bool,
    ) -> Option<Self> {
        let est = &x[..f.est_len.min(x.len())];
        let (mut sum, mut n) = (0.0, 0usize);
        let mut slot_sum = vec![0.0; f.n_slots];
        let mut slot_n = vec![0usize; f.n_slots];
        for (i, &v) in est.iter().enumerate() {
            if v.is_finite() {
                sum += v;
                n += 1;
                let k = f.slot[i] as usize;
                slot_sum[k] += v;
                slot_n[k] += 1;
            }
        }
        if n < min_bars.max(2) {
            return None;
        }
        let mean = sum / n as f64;
        if shape == Shape::Multiplicative && mean <= 0.0 {
            return None;
        }
        let neutral = match shape {
            Shape::Additive => 0.0,
            Shape::Multiplicative => 1.0,
        };
        if !seasonal {
            return Some(Seasonal {
                shape,
                mean,
                slot: vec![neutral; f.n_slots],
                day: [neutral; 7],
            });
        }
        // Two-way means: the hour effect, then the weekday effect of what it leaves.
        let slot: Vec<f64> = slot_sum
            .iter()
            .zip(&slot_n)
            .map(|(&s, &c)| {
                if c == 0 {
                    return neutral;
                }
                let m = s / c as f64;
                match shape {
                    Shape::Additive => m - mean,
                    Shape::Multiplicative => m / mean,
                }
            })
            .collect();
        let mut day_sum = [0.0; 7];
        let mut day_n = [0usize; 7];
        for (i, &v) in est.iter().enumerate() {
            if v.is_finite() {
                let s = slot[f.slot[i] as usize];
                let d = f.weekday[i] as usize;
                day_sum[d] += match shape {
                    Shape::Additive => v - mean - s,
                    Shape::Multiplicative if s > 0.0 => v / (mean * s),
                    Shape::Multiplicative => 1.0,
                };
                day_n[d] += 1;
            }
        }
        let mut day = [neutral; 7];
        for d in 0..7 {
            if day_n[d] > 0 {
                day[d] = day_sum[d] / day_n[d] as f64;
            }
        }
        Some(Seasonal {
            shape,
            mean,
            slot,
            day,
        })
    }

    /// The normal level at frame index `i`.
    #[inline]
    pub fn expected(&self, f: &Frame, i: usize) -> f64 {
        let (s, d) = (
            self.slot[f.slot[i] as usize],
            self.day[f.weekday[i] as usize],
        );
        match self.shape {
            Shape::Additive => self.mean + s + d,
            Shape::Multiplicative => self.mean * s * d,
        }
    }
}

/// A window's excess: `raw` against the plain estimation mean, `abnormal` against the
/// seasonal normal; log units for both shapes (a log ratio for variance).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Excess {
    pub raw: f64,
    pub abnormal: f64,
    /// Bars of the window with a value.
    pub bars: usize,
}

/// The excess over frame indices `[a, b)`, if at least `min_bars` of them have a value.
pub fn excess(
    x: &[f64],
    fit: &Seasonal,
    f: &Frame,
    (a, b): (usize, usize),
    min_bars: usize,
) -> Option<Excess> {
    let (mut sv, mut se, mut n) = (0.0, 0.0, 0usize);
    for (i, &v) in x.iter().enumerate().take(b).skip(a) {
        if v.is_finite() {
            sv += v;
            se += fit.expected(f, i);
            n += 1;
        }
    }
    if n < min_bars.max(1) {
        return None;
    }
    let nf = n as f64;
    let (raw, abnormal) = match fit.shape {
        Shape::Additive => (sv / nf - fit.mean, (sv - se) / nf),
        Shape::Multiplicative => {
            if sv <= 0.0 || se <= 0.0 {
                return None;
            }
            ((sv / nf / fit.mean).ln(), (sv / se).ln())
        }
    };
    Some(Excess {
        raw,
        abnormal,
        bars: n,
    })
}

/// Prefix sums of a series and its normal level over the estimation window, built once
/// per series and bar 0 and shared by every window length.
pub struct Stretches {
    shape: Shape,
    values: Vec<f64>,
    normal: Vec<f64>,
    count: Vec<usize>,
}

impl Stretches {
    pub fn new(x: &[f64], fit: &Seasonal, f: &Frame) -> Self {
        let n = f.est_len.min(x.len());
        let mut values = vec![0.0; n + 1];
        let mut normal = vec![0.0; n + 1];
        let mut count = vec![0usize; n + 1];
        for i in 0..n {
            let v = x[i];
            let ok = v.is_finite();
            values[i + 1] = values[i] + if ok { v } else { 0.0 };
            normal[i + 1] = normal[i] + if ok { fit.expected(f, i) } else { 0.0 };
            count[i + 1] = count[i] + usize::from(ok);
        }
        Stretches {
            shape: fit.shape,
            values,
            normal,
            count,
        }
    }

    /// Mean and sample standard deviation of the abnormal value over every complete
    /// stretch of `len` bars: the spread an ordinary window of that length shows. `None`
    /// with fewer than `min_stretches` stretches or no spread.
    pub fn spread(&self, len: i64, min_stretches: usize) -> Option<(f64, f64)> {
        let n = self.count.len() - 1;
        let len_u = len.max(1) as usize;
        if n < len_u {
            return None;
        }
        let (mut k, mut sum, mut sum_sq) = (0usize, 0.0, 0.0);
        for s in 0..=(n - len_u) {
            let e = s + len_u;
            if self.count[e] - self.count[s] < len_u {
                continue;
            }
            let (sv, se) = (
                self.values[e] - self.values[s],
                self.normal[e] - self.normal[s],
            );
            let y = match self.shape {
                Shape::Additive => (sv - se) / len_u as f64,
                Shape::Multiplicative => {
                    if sv <= 0.0 || se <= 0.0 {
                        continue;
                    }
                    (sv / se).ln()
                }
            };
            k += 1;
            sum += y;
            sum_sq += y * y;
        }
        if k < min_stretches.max(2) {
            return None;
        }
        let m = sum / k as f64;
        let var = ((sum_sq - k as f64 * m * m) / (k - 1) as f64).max(0.0);
        let sd = var.sqrt();
        (sd > 1e-12 && sd.is_finite()).then_some((m, sd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_of_known_days() {
        let cal = Calendar::new(3600);
        // 2025-01-27 10:00 UTC, a Monday.
        let bar = 1_737_972_000 / 3600;
        assert_eq!(cal.slot(bar), 10);
        assert_eq!(cal.weekday(bar), 0);
        assert_eq!(cal.weekday(bar - 24), 6, "Sunday");
        let daily = Calendar::new(86_400);
        assert_eq!(daily.slot(1_737_936_000 / 86_400), 0);
        assert_eq!(daily.weekday(1_737_936_000 / 86_400), 0);
    }

    /// A series that is exactly mean + hour effect + weekday effect is fitted exactly,
    /// and a window of it has no abnormal excess even where its raw excess is not zero.
    #[test]
    fn exact_seasonal_series_has_no_abnormal_excess() {
        let cal = Calendar::new(3600);
        let first = 480_000;
        let f = |b: i64| {
            5.0 + 0.3 * ((cal.slot(b) as f64) / 23.0) - 0.4 * f64::from(cal.weekday(b) >= 5)
        };
        let values: Vec<f64> = (0..2000).map(|i| f(first + i)).collect();
        let frame = Frame::new(cal, (first, first + 2000), first + 24 * 28);
        let x = frame.slice(first, &values);
        let fit = Seasonal::fit(&x, &frame, Shape::Additive, 100, true).unwrap();
        for i in 0..200 {
            assert!((fit.expected(&frame, i) - f(first + i as i64)).abs() < 1e-9);
        }
        let e = excess(&x, &fit, &frame, (1000, 1004), 4).unwrap();
        assert!(e.abnormal.abs() < 1e-9);
        let plain: f64 = (1000..1004).map(|i| f(first + i)).sum::<f64>() / 4.0 - fit.mean;
        assert!((e.raw - plain).abs() < 1e-12);
    }

    #[test]
    fn variance_ratio_is_a_log_ratio() {
        let cal = Calendar::new(3600);
        let mut values = vec![1.0; 1000];
        for v in values.iter_mut().skip(900).take(10) {
            *v = 8.0;
        }
        let frame = Frame::new(cal, (0, 1000), 720);
        let x = frame.slice(0, &values);
        let fit = Seasonal::fit(&x, &frame, Shape::Multiplicative, 100, true).unwrap();
        let e = excess(&x, &fit, &frame, (900, 910), 10).unwrap();
        assert!((e.raw - 8f64.ln()).abs() < 1e-12);
        assert!((e.abnormal - 8f64.ln()).abs() < 1e-12);
        assert!(
            Stretches::new(&x, &fit, &frame).spread(10, 10).is_none(),
            "no spread"
        );
    }

    #[test]
    fn stretch_spread_matches_a_direct_computation() {
        let cal = Calendar::new(3600);
        let values: Vec<f64> = (0..800).map(|i| ((i * 37 % 101) as f64).sin()).collect();
        let frame = Frame::new(cal, (0, 800), 720);
        let x = frame.slice(0, &values);
        let fit = Seasonal::fit(&x, &frame, Shape::Additive, 100, true).unwrap();
        let (m, sd) = Stretches::new(&x, &fit, &frame).spread(4, 10).unwrap();
        let ys: Vec<f64> = (0..=716)
            .map(|s| {
                (s..s + 4)
                    .map(|i| values[i] - fit.expected(&frame, i))
                    .sum::<f64>()
                    / 4.0
            })
            .collect();
        let mm = ys.iter().sum::<f64>() / ys.len() as f64;
        let v = ys.iter().map(|y| (y - mm).powi(2)).sum::<f64>() / (ys.len() - 1) as f64;
        assert!((m - mm).abs() < 1e-12 && (sd - v.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn a_frame_pads_what_the_grid_does_not_cover() {
        let frame = Frame::new(Calendar::new(3600), (8, 14), 10);
        let values = [1.0, 2.0, 3.0];
        let x = frame.slice(10, &values);
        assert_eq!(x.len(), 6);
        assert!(x[0].is_nan() && x[1].is_nan() && x[5].is_nan());
        assert_eq!(&x[2..5], &[1.0, 2.0, 3.0]);
        assert!(matches!(frame.slice(8, &[0.0; 10]), Cow::Borrowed(_)));
    }
}
