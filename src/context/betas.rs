//! Crypto categories against equities: each category's session returns regressed on an
//! asset's. Pure.
//!
//! Both series are measured between the same instants, the US session closes: the
//! asset's return is close to close between consecutive stored sessions (so Friday to
//! Monday spans the weekend), and a token's return runs between its hourly closes at
//! the same two instants (21:00 UTC in winter, 20:00 in summer). The category's return
//! is the equal-weighted mean of its tokens' returns that session (the tokens with both
//! closes). The regression is ordinary least squares over the last [`WINDOW_SESSIONS`]
//! sessions that have both returns.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use super::sessions::Session;

/// Sessions in the regression window: about a year of US trading days.
pub const WINDOW_SESSIONS: usize = 250;
/// Fewer sessions than this give no beta.
pub const MIN_SESSIONS: usize = 20;

/// A least-squares fit of y on x.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub beta: f64,
    /// None below three points.
    pub beta_se: Option<f64>,
    pub alpha: f64,
    /// None when either series is constant.
    pub correlation: Option<f64>,
    pub n: usize,
}

/// Ordinary least squares of `y` on `x` (same length). None when x does not vary.
pub fn ols(x: &[f64], y: &[f64]) -> Option<Fit> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mx = x[..n].iter().sum::<f64>() / nf;
    let my = y[..n].iter().sum::<f64>() / nf;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x[..n].iter().zip(&y[..n]) {
        sxx += (a - mx) * (a - mx);
        sxy += (a - mx) * (b - my);
        syy += (b - my) * (b - my);
    }
    if sxx <= 0.0 {
        return None;
    }
    let beta = sxy / sxx;
    let rss = (syy - beta * sxy).max(0.0);
    Some(Fit {
        beta,
        beta_se: (n > 2).then(|| (rss / (nf - 2.0) / sxx).sqrt()),
        alpha: my - beta * mx,
        correlation: (syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0)),
        n,
    })
}

/// One session's pair of returns.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPair {
    pub date: NaiveDate,
    /// The asset's return from the previous session's close.
    pub asset: f64,
    /// The category's equal-weighted return between the same two closes.
    pub category: f64,
    /// Tokens that had both closes.
    pub tokens: Vec<i32>,
}

/// The session pairs of one asset and one category. `closes` are the asset's stored
/// sessions (date, close) in date order; `token_close` a token's hourly close at an
/// instant (the close of the bar ending then).
pub fn session_pairs(
    closes: &[(NaiveDate, f64)],
    members: &[i32],
    token_close: &HashMap<(i32, DateTime<Utc>), f64>,
) -> Vec<SessionPair> {
    let mut out = Vec::new();
    for w in closes.windows(2) {
        let ((d0, c0), (d1, c1)) = (w[0], w[1]);
        let (t0, t1) = (Session::on(d0).close_at, Session::on(d1).close_at);
        let mut sum = 0.0;
        let mut tokens = Vec::new();
        for &m in members {
            if let (Some(a), Some(b)) = (token_close.get(&(m, t0)), token_close.get(&(m, t1))) {
                let r = b / a - 1.0;
                if r.is_finite() {
                    sum += r;
                    tokens.push(m);
                }
            }
        }
        if tokens.is_empty() {
            continue;
        }
        out.push(SessionPair {
            date: d1,
            asset: c1 / c0 - 1.0,
            category: sum / tokens.len() as f64,
            tokens,
        });
    }
    out
}

/// A category's beta to an asset over its window.
#[derive(Debug, Clone, PartialEq)]
pub struct BetaEstimate {
    pub fit: Fit,
    pub first_session: NaiveDate,
    pub last_session: NaiveDate,
    pub n_tokens: usize,
}

/// The regression over the last `window` session pairs; None below [`MIN_SESSIONS`].
pub fn estimate(pairs: &[SessionPair], window: usize) -> Option<BetaEstimate> {
    let used = &pairs[pairs.len().saturating_sub(window)..];
    if used.len() < MIN_SESSIONS {
        return None;
    }
    let x: Vec<f64> = used.iter().map(|p| p.asset).collect();
    let y: Vec<f64> = used.iter().map(|p| p.category).collect();
    let fit = ols(&x, &y)?;
    let tokens: BTreeSet<i32> = used.iter().flat_map(|p| p.tokens.iter().copied()).collect();
    Some(BetaEstimate {
        fit,
        first_session: used.first()?.date,
        last_session: used.last()?.date,
        n_tokens: tokens.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ols_recovers_a_known_line_and_its_textbook_standard_error() {
        let x = [0.01, -0.02, 0.03, 0.0, -0.01, 0.02];
        let noise = [0.001, -0.002, 0.0015, -0.001, 0.0005, 0.0];
        let y: Vec<f64> = x
            .iter()
            .zip(noise)
            .map(|(a, e)| 0.002 + 1.5 * a + e)
            .collect();
        let f = ols(&x, &y).unwrap();
        // By hand: mean x 0.005, Sxx 0.00175, Sxy 0.002715 → beta 1.551429.
        assert!((f.beta - 1.551_428_571).abs() < 1e-8, "{}", f.beta);
        assert!((f.alpha - (y.iter().sum::<f64>() / 6.0 - f.beta * 0.005)).abs() < 1e-12);
        let rss: f64 = x
            .iter()
            .zip(&y)
            .map(|(a, b)| (b - f.alpha - f.beta * a).powi(2))
            .sum();
        let se = (rss / 4.0 / 0.00175).sqrt();
        assert!((f.beta_se.unwrap() - se).abs() < 1e-12);
        assert!(f.correlation.unwrap() > 0.99);
        assert_eq!(ols(&[1.0, 1.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn tokens_are_read_at_the_session_closes_and_averaged() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        // Friday 24 and Monday 27 January 2025: closes at 21:00 UTC.
        let closes = [(d("2025-01-24"), 100.0), (d("2025-01-27"), 90.0)];
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let mut tc = HashMap::new();
        tc.insert((1, t("2025-01-24T21:00:00Z")), 10.0);
        tc.insert((1, t("2025-01-27T21:00:00Z")), 9.0);
        tc.insert((2, t("2025-01-24T21:00:00Z")), 4.0);
        tc.insert((2, t("2025-01-27T21:00:00Z")), 3.0);
        // Token 3 has no close at Friday's session close: left out.
        tc.insert((3, t("2025-01-24T20:00:00Z")), 1.0);
        tc.insert((3, t("2025-01-27T21:00:00Z")), 2.0);
        let pairs = session_pairs(&closes, &[1, 2, 3], &tc);
        assert_eq!(pairs.len(), 1);
        assert!((pairs[0].asset + 0.1).abs() < 1e-12);
        assert!((pairs[0].category - (-0.1 - 0.25) / 2.0).abs() < 1e-12);
        assert_eq!(pairs[0].tokens, vec![1, 2]);
        assert_eq!(estimate(&pairs, WINDOW_SESSIONS), None);
    }

    #[test]
    fn the_window_keeps_the_last_sessions() {
        let d0 = "2024-01-01".parse::<NaiveDate>().unwrap();
        let pairs: Vec<SessionPair> = (0..300)
            .map(|i| {
                let x = ((i * 7919) % 101) as f64 / 1000.0 - 0.05;
                // The slope changes after session 100: only the last 250 count.
                let b = if i < 100 { 0.5 } else { 2.0 };
                SessionPair {
                    date: d0 + chrono::Duration::days(i),
                    asset: x,
                    category: b * x,
                    tokens: vec![(i % 3) as i32],
                }
            })
            .collect();
        let e = estimate(&pairs, 200).unwrap();
        assert!((e.fit.beta - 2.0).abs() < 1e-12);
        assert_eq!(e.fit.n, 200);
        assert_eq!(e.first_session, d0 + chrono::Duration::days(100));
        assert_eq!(e.n_tokens, 3);
    }
}
