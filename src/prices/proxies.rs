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

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::{store, BarInterval};

/// Per-bar aggregates over the tokens that enter aggregates (see `store::proxy_inputs`).
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
    let rows = store::proxy_inputs(conn, interval, None).await?;
    bars.extend(indices(&rows));
    Ok(bars)
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
    let rows = store::proxy_inputs(conn, interval, Some(span)).await?;
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
