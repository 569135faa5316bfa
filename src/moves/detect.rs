//! Finding moves in one hourly series. Pure.
//!
//! A *move* is a run of hours over which a series went one way by more than its own
//! volatility makes ordinary. The method (docs/moves.md has the reasoning and the
//! false-alarm rates):
//!
//! 1. Returns `x` are hourly log returns, raw or abnormal (`r - alpha - beta m`, alpha
//!    and beta fitted on the 720 hours ending 24 hours before the bar's UTC day).
//! 2. Volatility `sigma` is robust: 1.4826 × the median absolute deviation of `x` over
//!    the 720 hours ending 24 hours before the UTC day (at least 360 of them present).
//!    The fat tails of crypto returns would inflate a standard deviation.
//! 3. For every window `[s, e)` of `L` = 1 to 24 whole hours with every return present,
//!    `Z = sum(x[s..e)) / (sigma(day of s) sqrt(L))`.
//! 4. Calibration at ordinary hours, like the study's: an end hour is *ordinary* when no
//!    event lies within 48 hours of its longest window. For each `L`, `p_L(e)` is the
//!    share of ordinary ends whose `|Z_L|` is at least as large; `m(e) = min_L p_L(e)`
//!    (p within 1% count as a tie, won by the largest `|Z|`);
//!    and the move's p is the share of ordinary ends whose `m` is at least as small (the
//!    minimum over 24 window lengths is calibrated again, so it is not 24 tries at 5%).
//! 5. Ends with p ≤ `alpha` are taken greedily, strongest first. Each window is widened
//!    to the move's turning points: the onset is the last high before a fall (low before
//!    a rise) within 6 hours before the window, the extreme the first
//!    trough (peak) within 6 hours after its end (the strongest window is often a burst
//!    inside a longer move). A window, or its widened span, that
//!    overlaps a move already taken is the same move and is dropped.

use serde::Serialize;

/// Hours of history behind sigma and beta, and how far it ends before the day.
pub const EST_HOURS: usize = 720;
pub const EST_GAP_HOURS: usize = 24;
/// Fewest present returns for sigma or beta.
pub const EST_MIN: usize = 360;
/// Longest detection window.
pub const MAX_WINDOW: usize = 24;
/// Hours around an event's time that are not ordinary (beyond the window itself).
pub const EVENT_GUARD_HOURS: i64 = 48;
/// How far the onset and the extreme may move beyond the detection window.
pub const MAX_PAD: usize = 6;
/// Relative difference under which two window lengths' p count as a tie.
const TIE: f64 = 0.01;
/// Scale of the MAD to a normal sd.
const MAD_SCALE: f64 = 1.4826;
const H: i64 = 3600;

/// The scan's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {
    /// A move is kept when its calibrated p is at most this.
    pub alpha: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { alpha: 0.05 }
    }
}

/// An hourly grid: bar `i` opens at `start + i * 3600`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    pub start: i64,
    pub len: usize,
}

impl Grid {
    /// Time of boundary `k` of the cumulative path: the open of bar `k`, which is the
    /// close of bar `k - 1`.
    pub fn at(&self, k: usize) -> i64 {
        self.start + k as i64 * H
    }

    /// Index of the first bar of the UTC day of bar `i` (may be negative).
    fn day_start(&self, i: usize) -> i64 {
        let t = self.at(i);
        (t.div_euclid(86_400) * 86_400 - self.start).div_euclid(H)
    }
}

/// One move found on hourly bars.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourlyMove {
    /// -1 a fall, +1 a rise.
    pub direction: i8,
    /// Path boundaries of the onset and the extreme (`Grid::at` gives their times).
    pub onset: usize,
    pub extreme: usize,
    /// Detection window `[s, e)` (bars).
    pub window: (usize, usize),
    /// The bar of the window with the largest return in the move's direction.
    pub peak_bar: usize,
    /// Basis move from onset to extreme (log).
    pub size_log: f64,
    /// Raw move over the same boundaries (log).
    pub raw_log: f64,
    pub z: f64,
    pub p_value: f64,
    pub null_hours: usize,
}

/// Median with numpy's rule for an even count (mean of the two middle values).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The estimation range of bar `i`'s day: `[d0 - 744, d0 - 24)` clipped to the grid.
fn est_range(grid: &Grid, i: usize) -> (usize, usize) {
    let d0 = grid.day_start(i);
    let a = (d0 - (EST_HOURS + EST_GAP_HOURS) as i64).clamp(0, grid.len as i64) as usize;
    let b = (d0 - EST_GAP_HOURS as i64).clamp(0, grid.len as i64) as usize;
    (a, b)
}

/// Robust sigma per bar (constant within a UTC day); NaN where too little history.
pub fn robust_sigma(grid: &Grid, x: &[f64]) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    let mut i = 0;
    while i < x.len() {
        let (a, b) = est_range(grid, i);
        let mut v: Vec<f64> = x[a..b].iter().copied().filter(|v| v.is_finite()).collect();
        let s = if v.len() >= EST_MIN {
            let med = median(&mut v);
            let mut dev: Vec<f64> = v.iter().map(|y| (y - med).abs()).collect();
            MAD_SCALE * median(&mut dev)
        } else {
            f64::NAN
        };
        // Every bar of the same day shares the value.
        let next_day = (grid.day_start(i) + 24).max(i as i64 + 1) as usize;
        let end = next_day.min(x.len());
        out[i..end].fill(s);
        i = end;
    }
    out
}

/// Abnormal returns `r - alpha - beta m`, alpha and beta fitted per UTC day on its
/// estimation range (OLS over the hours where both are present); NaN where too little.
pub fn abnormal(grid: &Grid, r: &[f64], m: &[f64]) -> Vec<f64> {
    let mut out = vec![f64::NAN; r.len()];
    let mut i = 0;
    while i < r.len() {
        let (a, b) = est_range(grid, i);
        let pairs: Vec<(f64, f64)> = (a..b)
            .filter(|&k| r[k].is_finite() && m[k].is_finite())
            .map(|k| (r[k], m[k]))
            .collect();
        let fit = (pairs.len() >= EST_MIN).then(|| {
            let n = pairs.len() as f64;
            let mr = pairs.iter().map(|p| p.0).sum::<f64>() / n;
            let mm = pairs.iter().map(|p| p.1).sum::<f64>() / n;
            let sxy: f64 = pairs.iter().map(|p| (p.0 - mr) * (p.1 - mm)).sum();
            let sxx: f64 = pairs.iter().map(|p| (p.1 - mm).powi(2)).sum();
            let beta = if sxx > 0.0 { sxy / sxx } else { 0.0 };
            (mr - beta * mm, beta)
        });
        let next_day = (grid.day_start(i) + 24).max(i as i64 + 1) as usize;
        let end = next_day.min(r.len());
        if let Some((alpha, beta)) = fit {
            for k in i..end {
                out[k] = r[k] - alpha - beta * m[k];
            }
        }
        i = end;
    }
    out
}

/// Which end hours are ordinary: no event time within `EVENT_GUARD_HOURS` of the
/// longest window ending there (`events`: seconds since the epoch, any order).
pub fn ordinary_ends(grid: &Grid, events: &[i64]) -> Vec<bool> {
    let mut ev = events.to_vec();
    ev.sort_unstable();
    (0..=grid.len)
        .map(|e| {
            let lo = grid.at(e) - (MAX_WINDOW as i64 + EVENT_GUARD_HOURS) * H;
            let hi = grid.at(e) + EVENT_GUARD_HOURS * H;
            let i = ev.partition_point(|&t| t < lo);
            ev.get(i).is_none_or(|&t| t >= hi)
        })
        .collect()
}

/// Empirical upper-tail p of each value against the null sample (sorted ascending):
/// `(1 + #{null >= v}) / (n + 1)`.
fn upper_p(sorted_null: &[f64], v: f64) -> f64 {
    let ge = sorted_null.len() - sorted_null.partition_point(|&y| y < v);
    (1 + ge) as f64 / (sorted_null.len() + 1) as f64
}

/// Per end `e` (0..=len): the best window's length, its signed Z and the calibrated p
/// (NaN where no window exists), and the number of ordinary ends behind the p.
pub struct EndStats {
    pub best_len: Vec<usize>,
    pub z: Vec<f64>,
    pub p: Vec<f64>,
    pub null_hours: usize,
}

/// Z of every window, its per-length p and the calibrated p of each end.
pub fn end_stats(grid: &Grid, x: &[f64], sigma: &[f64], ordinary: &[bool]) -> EndStats {
    let n = x.len();
    let mut cs = vec![0.0; n + 1];
    let mut present = vec![0usize; n + 1];
    for i in 0..n {
        let ok = x[i].is_finite();
        cs[i + 1] = cs[i] + if ok { x[i] } else { 0.0 };
        present[i + 1] = present[i] + usize::from(ok);
    }
    let _ = grid;
    let zl = |l: usize, e: usize| -> f64 {
        if e < l {
            return f64::NAN;
        }
        let s = e - l;
        if present[e] - present[s] != l {
            return f64::NAN;
        }
        let sg = sigma[s];
        if !(sg.is_finite() && sg > 0.0) {
            return f64::NAN;
        }
        (cs[e] - cs[s]) / (sg * (l as f64).sqrt())
    };
    let mut best_p = vec![f64::NAN; n + 1];
    let mut best_len = vec![0usize; n + 1];
    let mut best_z = vec![f64::NAN; n + 1];
    for l in 1..=MAX_WINDOW {
        let z: Vec<f64> = (0..=n).map(|e| zl(l, e)).collect();
        let mut null: Vec<f64> = (0..=n)
            .filter(|&e| ordinary[e] && z[e].is_finite())
            .map(|e| z[e].abs())
            .collect();
        null.sort_by(f64::total_cmp);
        if null.is_empty() {
            continue;
        }
        for e in 0..=n {
            if !z[e].is_finite() {
                continue;
            }
            let p = upper_p(&null, z[e].abs());
            // p within 1% of each other are the same evidence (typically several lengths
            // beyond every ordinary hour, at the floor 2/(n+1) whose n differs a little
            // with missing bars): the largest |Z|, the length that fits the move best,
            // wins.
            let b = best_p[e];
            if !b.is_finite()
                || p < b * (1.0 - TIE)
                || (p <= b * (1.0 + TIE) && z[e].abs() > best_z[e].abs())
            {
                best_p[e] = p;
                best_len[e] = l;
                best_z[e] = z[e];
            }
        }
    }
    // Calibrate the minimum again: small m is extreme, so count ordinary m <= v.
    let mut null_m: Vec<f64> = (0..=n)
        .filter(|&e| ordinary[e] && best_p[e].is_finite())
        .map(|e| best_p[e])
        .collect();
    null_m.sort_by(f64::total_cmp);
    let p: Vec<f64> = best_p
        .iter()
        .map(|&m| {
            if !m.is_finite() || null_m.is_empty() {
                return f64::NAN;
            }
            let le = null_m.partition_point(|&y| y <= m);
            (1 + le) as f64 / (null_m.len() + 1) as f64
        })
        .collect();
    EndStats {
        best_len,
        z: best_z,
        p,
        null_hours: null_m.len(),
    }
}

/// Cumulative path: `c[k] = sum x[0..k)`, missing returns counting as 0.
pub fn cumulative(x: &[f64]) -> Vec<f64> {
    let mut c = vec![0.0; x.len() + 1];
    for i in 0..x.len() {
        c[i + 1] = c[i] + if x[i].is_finite() { x[i] } else { 0.0 };
    }
    c
}

/// The moves of one series: `x` the basis returns, `raw` the series' own returns (the
/// same slice for a raw basis), `events` the event times that make hours not ordinary.
pub fn scan_series(
    grid: &Grid,
    x: &[f64],
    raw: &[f64],
    events: &[i64],
    params: &Params,
) -> Vec<HourlyMove> {
    let sigma = robust_sigma(grid, x);
    let ordinary = ordinary_ends(grid, events);
    let st = end_stats(grid, x, &sigma, &ordinary);
    let mut ends: Vec<usize> = (0..=x.len())
        .filter(|&e| st.p[e].is_finite() && st.p[e] <= params.alpha)
        .collect();
    ends.sort_by(|&a, &b| {
        st.p[a]
            .total_cmp(&st.p[b])
            .then(st.z[b].abs().total_cmp(&st.z[a].abs()))
            .then(a.cmp(&b))
    });
    let c = cumulative(x);
    let craw = cumulative(raw);
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut out = Vec::new();
    for e in ends {
        let s = e - st.best_len[e];
        let overlaps = |lo: usize, hi: usize| taken.iter().any(|&(a, b)| lo < b && a < hi);
        if overlaps(s, e) {
            continue;
        }
        let dir: i8 = if st.z[e] < 0.0 { -1 } else { 1 };
        let d = f64::from(dir);
        let pad = MAX_PAD;
        // Onset: the last high before a fall (low before a rise).
        let onset = (s.saturating_sub(pad)..=s)
            .rev()
            .max_by(|&a, &b| (-d * c[a]).total_cmp(&(-d * c[b])).then(a.cmp(&b)))
            .unwrap_or(s);
        // Extreme: the first lowest point of a fall (highest of a rise).
        let extreme = (e..=(e + pad).min(x.len()))
            .max_by(|&a, &b| (d * c[a]).total_cmp(&(d * c[b])).then(b.cmp(&a)))
            .unwrap_or(e);
        // Widened into a move already taken: the same move, seen through a weaker window.
        if overlaps(onset, extreme) {
            continue;
        }
        taken.push((onset, extreme));
        let peak_bar = (s..e)
            .max_by(|&a, &b| (d * x[a]).total_cmp(&(d * x[b])).then(b.cmp(&a)))
            .unwrap_or(s);
        out.push(HourlyMove {
            direction: dir,
            onset,
            extreme,
            window: (s, e),
            peak_bar,
            size_log: c[extreme] - c[onset],
            raw_log: craw[extreme] - craw[onset],
            z: st.z[e],
            p_value: st.p[e],
            null_hours: st.null_hours,
        });
    }
    out.sort_by_key(|m| m.onset);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic, fat-ish tailed noise (no rand dependency in a pure test).
    fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = ((s >> 11) as f64) / ((1u64 << 53) as f64) - 0.5;
                0.003 * u * (1.0 + 4.0 * u * u)
            })
            .collect()
    }

    #[test]
    fn a_jump_inserted_into_noise_is_found_at_its_hours() {
        let grid = Grid {
            start: 1_700_006_400, // a UTC midnight
            len: 8000,
        };
        let mut x = noise(grid.len, 7);
        // A fall of 6% spread over bars 2000..2006.
        for v in &mut x[2000..2006] {
            *v -= 0.01;
        }
        let moves = scan_series(&grid, &x, &x, &[], &Params { alpha: 0.001 });
        let m = moves
            .iter()
            .find(|m| m.window.0 < 2006 && 2000 < m.window.1)
            .expect("the jump is found");
        assert_eq!(m.direction, -1);
        assert!(m.window.0 >= 2000 && m.window.1 <= 2006, "{m:?}");
        // The turning points of the noisy path around the jump.
        assert!((1998..=2000).contains(&m.onset), "{m:?}");
        assert!((2006..=2012).contains(&m.extreme), "{m:?}");
        assert!(m.size_log < -0.05, "{m:?}");
        assert!(m.p_value < 0.001);
    }

    #[test]
    fn an_event_near_the_jump_keeps_it_out_of_the_null() {
        let grid = Grid {
            start: 1_700_006_400,
            len: 3000,
        };
        let x = noise(grid.len, 3);
        let ord = ordinary_ends(&grid, &[grid.at(2000)]);
        // Ends whose longest window reaches within 48 h of the event are not ordinary.
        assert!(!ord[2000] && !ord[2072] && !ord[1953]);
        assert!(ord[2073] && ord[1952]);
        let st = end_stats(&grid, &x, &robust_sigma(&grid, &x), &ord);
        assert!(st.null_hours > 2000);
    }

    #[test]
    fn median_uses_the_mean_of_the_middle_pair() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0, 10.0]), 2.5);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
    }
}
