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
use sqlx::PgPool;

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
    let mut out = Vec::new();
    let bar = |proxy: &str, r: &ProxyInputRow, level: f64, ret: Option<f64>, n: i64| ProxyBar {
        proxy: proxy.to_string(),
        open_time: r.open_time,
        level,
        ret,
        n_tokens: i32::try_from(n).unwrap_or(i32::MAX),
    };
    // Equal-weighted: base at the first bar, then chained on every bar with a return.
    let mut level: Option<f64> = None;
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
    // Value-weighted: base at the first bar with a cap.
    let mut level: Option<f64> = None;
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
    for r in rows {
        if let Some(cap) = r.cap.filter(|c| *c > 0.0) {
            out.push(bar("total-cap", r, cap, r.cap_ret, r.n_cap));
        }
    }
    out
}

/// Rows per proxy built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyReport {
    pub rows: Vec<(String, usize)>,
}

/// Recompute every proxy of `interval` from price_bars and replace the stored ones.
pub async fn build(pool: &PgPool, interval: BarInterval) -> Result<ProxyReport, sqlx::Error> {
    let step = interval.seconds();
    let mut bars = Vec::new();
    for (proxy, symbol) in [("btc", "BTC"), ("eth", "ETH")] {
        let closes = store::closes_of(pool, symbol, interval).await?;
        bars.extend(from_closes(proxy, &closes, step));
    }
    let rows = store::proxy_inputs(pool, interval).await?;
    bars.extend(indices(&rows));
    store::save_proxies(pool, interval, &bars).await?;
    let mut report = ProxyReport::default();
    for name in ["btc", "eth", "ew", "vw", "total-cap"] {
        let n = bars.iter().filter(|b| b.proxy == name).count();
        report.rows.push((name.to_string(), n));
    }
    Ok(report)
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
