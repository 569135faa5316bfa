//! Market proxies, materialised in market_proxy_bars: the return series a study can
//! measure against. Pure computation here; `build` reads and writes through `store`.
//!
//! - `btc`, `eth`: the coin's close; return = close / previous close − 1 where the
//!   previous grid bar exists.
//! - `ew`: equal-weighted index: per bar, the mean simple return of every token that
//!   enters aggregates (stablecoins never do) and has this bar and the one before; the
//!   level chains from 100 at the first bar.
//! - `vw`: value-weighted index: the same returns weighted by each token's market cap at
//!   the previous bar; tokens without a cap there are left out of that bar. Built only
//!   when some bars carry market caps (CoinGecko gives them; the shared Binance CSVs do
//!   not, and then no `vw` rows exist: there is no silent fallback to equal weights).
//! - `total-cap`: sum of the market caps of the tracked tokens that have one at the bar
//!   (a tracked-universe total, not CoinGecko's global figure); its return compares
//!   the same tokens at both bars, so a token's first cap is not a market move.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::{store, BarInterval};

/// Per-bar aggregates over the tokens that enter aggregates (see [`InputSums`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyInputRow {
    pub open_time: DateTime<Utc>,
    /// Mean return of tokens with this bar and the previous one.
    pub ew: Option<f64>,
    pub n_ew: i64,
    /// Previous-cap-weighted mean return.
    pub vw: Option<f64>,
    pub n_vw: i64,
    /// Sum of caps at this bar.
    pub cap: Option<f64>,
    pub n_cap: i64,
    /// Return of the summed caps of tokens with a cap at both bars.
    pub cap_ret: Option<f64>,
}

/// Builds the [`ProxyInputRow`]s from the bars of the tokens that enter aggregates, fed
/// one token at a time in time order (as `store::each_aggregate_bar` streams them). The
/// figures are SQL's aggregates over the bars opening at one time (sums of the rows that
/// are not NULL; no row, no figure), so a rebuild reads each bar once and does the
/// grouping here rather than in a window-and-hash plan on the server.
#[derive(Debug)]
pub struct InputSums {
    step_secs: i64,
    /// Only bars opening at or after it get a row (the bar before is read for its return).
    from: Option<DateTime<Utc>>,
    /// The previous bar fed: token, open time, close, market cap.
    prev: Option<(i32, DateTime<Utc>, f64, Option<f64>)>,
    by_time: HashMap<DateTime<Utc>, BarSums>,
}

/// The sums behind one [`ProxyInputRow`].
#[derive(Debug, Default, Clone, Copy)]
struct BarSums {
    /// Returns (bar and the grid bar before it both stored).
    ret: f64,
    n_ret: i64,
    /// Returns with a positive cap at the bar before: Σ ret × previous cap, Σ previous cap.
    ret_x_prev_cap: f64,
    prev_cap: f64,
    n_vw: i64,
    /// Positive caps at this bar.
    cap: f64,
    n_cap: i64,
    /// Tokens with a return and a positive cap at both bars: their caps now and before.
    both_caps_now: f64,
    both_caps_before: f64,
    n_both: i64,
}

impl InputSums {
    pub fn new(interval: BarInterval, from: Option<DateTime<Utc>>) -> Self {
        InputSums {
            step_secs: interval.seconds(),
            from,
            prev: None,
            by_time: HashMap::new(),
        }
    }

    /// One bar; a token's bars must come in time order, after all of the previous
    /// token's.
    pub fn push(&mut self, token: i32, open_time: DateTime<Utc>, close: f64, cap: Option<f64>) {
        let before = self.prev.replace((token, open_time, close, cap));
        if self.from.is_some_and(|from| open_time < from) {
            return;
        }
        // The return needs the same token's bar exactly one step earlier.
        let (ret, prev_cap) = match before {
            Some((t, pt, pc, pcap))
                if t == token && (open_time - pt).num_seconds() == self.step_secs =>
            {
                (Some(close / pc - 1.0), pcap)
            }
            _ => (None, None),
        };
        let s = self.by_time.entry(open_time).or_default();
        let cap = cap.filter(|c| *c > 0.0);
        if let Some(c) = cap {
            s.cap += c;
            s.n_cap += 1;
        }
        let Some(ret) = ret else { return };
        s.ret += ret;
        s.n_ret += 1;
        if let Some(pc) = prev_cap.filter(|c| *c > 0.0) {
            s.ret_x_prev_cap += ret * pc;
            s.prev_cap += pc;
            s.n_vw += 1;
            if let Some(c) = cap {
                s.both_caps_now += c;
                s.both_caps_before += pc;
                s.n_both += 1;
            }
        }
    }

    /// One row per open time fed (from `from` on), in time order.
    pub fn rows(self) -> Vec<ProxyInputRow> {
        let mut rows: Vec<ProxyInputRow> = self
            .by_time
            .into_iter()
            .map(|(open_time, s)| ProxyInputRow {
                open_time,
                ew: (s.n_ret > 0).then(|| s.ret / s.n_ret as f64),
                n_ew: s.n_ret,
                vw: (s.n_vw > 0).then(|| s.ret_x_prev_cap / s.prev_cap),
                n_vw: s.n_vw,
                cap: (s.n_cap > 0).then_some(s.cap),
                n_cap: s.n_cap,
                cap_ret: (s.n_both > 0).then(|| s.both_caps_now / s.both_caps_before - 1.0),
            })
            .collect();
        rows.sort_unstable_by_key(|r| r.open_time);
        rows
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProxyBar {
    pub proxy: String,
    pub open_time: DateTime<Utc>,
    pub level: f64,
    pub ret: Option<f64>,
    pub n_tokens: i32,
}

/// Index level at the first bar of `ew` and `vw`.
pub const BASE_LEVEL: f64 = 100.0;

/// A coin's own series: level = close, return where the previous grid bar exists.
pub fn from_closes(proxy: &str, closes: &[(DateTime<Utc>, f64)], step_secs: i64) -> Vec<ProxyBar> {
    let mut out = Vec::with_capacity(closes.len());
    for (i, &(t, c)) in closes.iter().enumerate() {
        let ret = i
            .checked_sub(1)
            .map(|j| closes[j])
            .filter(|(pt, _)| (t - *pt).num_seconds() == step_secs)
            .map(|(_, pc)| c / pc - 1.0);
        out.push(ProxyBar {
            proxy: proxy.to_string(),
            open_time: t,
            level: c,
            ret,
            n_tokens: 1,
        });
    }
    out
}

/// The `ew`, `vw` and `total-cap` series from the per-bar aggregates.
pub fn indices(rows: &[ProxyInputRow]) -> Vec<ProxyBar> {
    indices_from(rows, Levels::default()).0
}

/// The chained indices' levels at the last bar before some rows (`None`: not started).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Levels {
    pub ew: Option<f64>,
    pub vw: Option<f64>,
}

/// [`indices`] continuing from `start` (the levels at the bar before `rows`), and the
/// levels after the last row. From `Levels::default()` this is the full series.
pub fn indices_from(rows: &[ProxyInputRow], start: Levels) -> (Vec<ProxyBar>, Levels) {
    let mut out = Vec::new();
    let bar = |proxy: &str, r: &ProxyInputRow, level: f64, ret: Option<f64>, n: i64| ProxyBar {
        proxy: proxy.to_string(),
        open_time: r.open_time,
        level,
        ret,
        n_tokens: i32::try_from(n).unwrap_or(i32::MAX),
    };
    // Equal-weighted: base at the first bar, then chained on every bar with a return.
    let mut level = start.ew;
    for r in rows {
        match (level, r.ew) {
            (None, _) => {
                level = Some(BASE_LEVEL);
                out.push(bar("ew", r, BASE_LEVEL, None, 0));
            }
            (Some(l), Some(ret)) => {
                let l = l * (1.0 + ret);
                level = Some(l);
                out.push(bar("ew", r, l, Some(ret), r.n_ew));
            }
            (Some(_), None) => {}
        }
    }
    let ew = level;
    // Value-weighted: base at the first bar with a cap.
    let mut level = start.vw;
    for r in rows {
        match (level, r.vw) {
            (None, _) if r.cap.is_some() => {
                level = Some(BASE_LEVEL);
                out.push(bar("vw", r, BASE_LEVEL, None, 0));
            }
            (Some(l), Some(ret)) => {
                let l = l * (1.0 + ret);
                level = Some(l);
                out.push(bar("vw", r, l, Some(ret), r.n_vw));
            }
            _ => {}
        }
    }
    let vw = level;
    for r in rows {
        if let Some(cap) = r.cap.filter(|c| *c > 0.0) {
            out.push(bar("total-cap", r, cap, r.cap_ret, r.n_cap));
        }
    }
    (out, Levels { ew, vw })
}

/// Chain a chained index's stored rows after a rebuilt range on the level the range ended
/// at, with the same arithmetic as [`indices_from`] (their returns did not change, their
/// levels did). `None` when the stored rows cannot follow that level (a return with no
/// level before it: the stored series is not what a build would have made).
pub fn rechain(stored: &[ProxyBar], mut level: Option<f64>) -> Option<Vec<ProxyBar>> {
    let mut out = Vec::with_capacity(stored.len());
    for b in stored {
        match (level, b.ret) {
            // The index's base row: still its base when nothing came before.
            (None, None) => {
                level = Some(b.level);
                out.push(b.clone());
            }
            // A former base row, now after an earlier base: a build skips a bar without a
            // return once the index has started.
            (Some(_), None) => {}
            (Some(l), Some(ret)) => {
                let l = l * (1.0 + ret);
                level = Some(l);
                out.push(ProxyBar {
                    level: l,
                    ..b.clone()
                });
            }
            (None, Some(_)) => return None,
        }
    }
    Some(out)
}

/// Rows per proxy built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyReport {
    pub rows: Vec<(String, usize)>,
}

const COINS: [(&str, &str); 2] = [("btc", "BTC"), ("eth", "ETH")];
/// Proxies whose level chains from bar to bar.
const CHAINED: [&str; 2] = ["ew", "vw"];

impl ProxyReport {
    fn of(bars: &[ProxyBar]) -> Self {
        let mut report = ProxyReport::default();
        for name in ["btc", "eth", "ew", "vw", "total-cap"] {
            let n = bars.iter().filter(|b| b.proxy == name).count();
            report.rows.push((name.to_string(), n));
        }
        report
    }
}

/// Recompute every proxy of `interval` from price_bars and replace the stored ones.
pub async fn build(pool: &PgPool, interval: BarInterval) -> Result<ProxyReport, sqlx::Error> {
    let mut tx = pool.begin().await?;
    store::lock_proxies(&mut tx).await?;
    let bars = full(&mut tx, interval).await?;
    store::replace_proxies(&mut tx, interval, None, &CHAINED, &bars).await?;
    tx.commit().await?;
    store::analyze(pool, store::AnalyzedTable::MarketProxyBars).await?;
    Ok(ProxyReport::of(&bars))
}

async fn full(
    conn: &mut PgConnection,
    interval: BarInterval,
) -> Result<Vec<ProxyBar>, sqlx::Error> {
    let step = interval.seconds();
    let mut bars = Vec::new();
    for (proxy, symbol) in COINS {
        let closes = store::closes_of(conn, symbol, interval, None).await?;
        bars.extend(from_closes(proxy, &closes, step));
    }
    let rows = inputs(conn, interval, None).await?;
    bars.extend(indices(&rows));
    Ok(bars)
}

/// The per-bar aggregates of the bars opening in `span` (all with `None`), each from one
/// pass over the stored bars in key order.
async fn inputs(
    conn: &mut PgConnection,
    interval: BarInterval,
    span: Option<store::Span>,
) -> Result<Vec<ProxyInputRow>, sqlx::Error> {
    let mut sums = InputSums::new(interval, span.map(|s| s.0));
    store::each_aggregate_bar(conn, interval, span, |token, t, close, cap| {
        sums.push(token, t, close, cap)
    })
    .await?;
    Ok(sums.rows())
}

/// Rebuild the proxies of `interval` after the bars opening in `changed` (both ends
/// included) were written: the same rows a full [`build`] would store, computed from the
/// changed bars and the bar after them (whose return looks back at the last changed
/// bar). The coins and `total-cap` are per bar; `ew` and `vw` continue from their
/// stored level before the range, and their later rows are chained again from stored
/// returns (no price is read for them). Falls back to a full build when nothing is
/// stored before the range (a first build, or bars added before the first one) or the
/// stored rows do not chain. Reports the rows written.
pub async fn rebuild(
    pool: &PgPool,
    interval: BarInterval,
    changed: store::Span,
) -> Result<ProxyReport, sqlx::Error> {
    let step = chrono::Duration::seconds(interval.seconds());
    let span = (changed.0, changed.1 + step);
    let mut tx = pool.begin().await?;
    store::lock_proxies(&mut tx).await?;
    let bars = match incremental(&mut tx, interval, span).await? {
        Some(bars) => {
            store::replace_proxies(&mut tx, interval, Some(span), &CHAINED, &bars).await?;
            bars
        }
        None => {
            let bars = full(&mut tx, interval).await?;
            store::replace_proxies(&mut tx, interval, None, &CHAINED, &bars).await?;
            bars
        }
    };
    tx.commit().await?;
    store::analyze(pool, store::AnalyzedTable::MarketProxyBars).await?;
    Ok(ProxyReport::of(&bars))
}

/// The rows replacing those of `span` (and the chained indices' rows after it), or `None`
/// when only a full build can say.
async fn incremental(
    conn: &mut PgConnection,
    interval: BarInterval,
    span: store::Span,
) -> Result<Option<Vec<ProxyBar>>, sqlx::Error> {
    let step = interval.seconds();
    // `ew` has a row at the first bar of all: none before the range means the range
    // starts the series (or the table is not built yet).
    let Some(ew_before) = store::proxy_before(conn, interval, "ew", span.0).await? else {
        return Ok(None);
    };
    let vw_before = store::proxy_before(conn, interval, "vw", span.0).await?;
    let mut bars = Vec::new();
    for (proxy, symbol) in COINS {
        // One bar before the range for the first return.
        let read = (span.0 - chrono::Duration::seconds(step), span.1);
        let closes = store::closes_of(conn, symbol, interval, Some(read)).await?;
        bars.extend(
            from_closes(proxy, &closes, step)
                .into_iter()
                .filter(|b| b.open_time >= span.0),
        );
    }
    let rows = inputs(conn, interval, Some(span)).await?;
    let start = Levels {
        ew: Some(ew_before.level),
        vw: vw_before.map(|b| b.level),
    };
    let (range, end) = indices_from(&rows, start);
    bars.extend(range);
    let after = span.1 + chrono::Duration::seconds(1);
    for (proxy, level) in [("ew", end.ew), ("vw", end.vw)] {
        let stored = store::stored_proxies(conn, interval, proxy, Some(after)).await?;
        match rechain(&stored, level) {
            Some(tail) => bars.extend(tail),
            None => return Ok(None),
        }
    }
    Ok(Some(bars))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn coin_returns_only_across_adjacent_bars() {
        let b = from_closes("btc", &[(t(0), 100.0), (t(1), 110.0), (t(3), 99.0)], 3600);
        assert_eq!(b[0].ret, None);
        assert!((b[1].ret.unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(b[2].ret, None, "hour 2 is missing");
        assert_eq!(b[2].level, 99.0);
    }

    #[test]
    fn input_sums_follow_sql_aggregates() {
        // Token 1: hours 0, 1, 3 (no hour 2); token 2: hours 1, 2, 3 with a zero cap at 2.
        let mut sums = InputSums::new(BarInterval::Hour, Some(t(1)));
        for (token, h, close, cap) in [
            (1, 0, 10.0, Some(100.0)),
            (1, 1, 11.0, Some(110.0)),
            (1, 3, 12.0, Some(120.0)),
            (2, 1, 4.0, None),
            (2, 2, 5.0, Some(0.0)),
            (2, 3, 6.0, Some(60.0)),
        ] {
            sums.push(token, t(h), close, cap);
        }
        let rows = sums.rows();
        let times: Vec<_> = rows.iter().map(|r| r.open_time).collect();
        assert_eq!(
            times,
            vec![t(1), t(2), t(3)],
            "hour 0 only feeds hour 1's return"
        );
        // Hour 1: token 1's return 0.1 with cap 100 before; token 2 starts (no return).
        let r = &rows[0];
        assert!((r.ew.unwrap() - 0.1).abs() < 1e-15 && r.n_ew == 1);
        assert!((r.vw.unwrap() - 0.1).abs() < 1e-15 && r.n_vw == 1);
        assert_eq!((r.cap, r.n_cap), (Some(110.0), 1));
        assert!((r.cap_ret.unwrap() - 0.1).abs() < 1e-15);
        // Hour 2: token 2's return 0.25, no positive cap before, a zero cap now.
        let r = &rows[1];
        assert_eq!((r.ew, r.n_ew), (Some(0.25), 1));
        assert_eq!(
            (r.vw, r.n_vw, r.cap, r.n_cap, r.cap_ret),
            (None, 0, None, 0, None)
        );
        // Hour 3: token 1 has no hour 2 (no return); token 2's 0.2 after a zero cap.
        let r = &rows[2];
        assert!((r.ew.unwrap() - 0.2).abs() < 1e-15 && r.n_ew == 1);
        assert_eq!((r.vw, r.n_vw), (None, 0));
        assert_eq!((r.cap, r.n_cap, r.cap_ret), (Some(180.0), 2, None));
    }

    #[test]
    fn indices_chain_from_100() {
        let row = |h, ew, vw, cap: Option<f64>, cap_ret| ProxyInputRow {
            open_time: t(h),
            ew,
            n_ew: 2,
            vw,
            n_vw: 2,
            cap,
            n_cap: 2,
            cap_ret,
        };
        let rows = [
            row(0, None, None, None, None),
            row(1, Some(0.1), None, Some(1000.0), None),
            row(2, Some(-0.5), Some(0.2), Some(1200.0), Some(0.2)),
        ];
        let out = indices(&rows);
        let get = |p: &str| -> Vec<(f64, Option<f64>)> {
            out.iter()
                .filter(|b| b.proxy == p)
                .map(|b| (b.level, b.ret))
                .collect()
        };
        let ew = get("ew");
        assert_eq!(ew.len(), 3);
        assert!((ew[1].0 - 110.0).abs() < 1e-9 && (ew[2].0 - 55.0).abs() < 1e-9);
        let vw = get("vw");
        assert_eq!(vw.len(), 2, "vw starts at the first bar with caps");
        assert_eq!(vw[0], (100.0, None));
        assert!((vw[1].0 - 120.0).abs() < 1e-9);
        assert_eq!(get("total-cap"), vec![(1000.0, None), (1200.0, Some(0.2))]);
    }
}
