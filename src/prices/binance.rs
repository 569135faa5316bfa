//! Binance spot klines: `GET /api/v3/klines?symbol&interval&startTime&endTime&limit`.
//!
//! A kline is `[openTime ms, "open", "high", "low", "close", "volume", closeTime ms,
//! "quoteAssetVolume", trades, "takerBuyBase", "takerBuyQuote", "ignore"]`; we keep all of
//! it (a kline without the trailing fields keeps its prices and quote volume). At most 1000 klines per request, so a
//! long range takes several pages. Rate limits: every answer carries
//! `X-MBX-USED-WEIGHT-1M`; near the limit the client waits for the next minute, and a
//! 429 (or 418, an IP ban) is retried after its `Retry-After`. Errors come as
//! `{"code": -1121, "msg": "Invalid symbol."}`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;

use super::provider::{get_with_retries, HttpPolicy, Page, PriceSource, ProviderError};
use super::{Bar, BarInterval, Flow};

pub const DEFAULT_BASE_URL: &str = "https://api.binance.com";
/// Klines per request: Binance's maximum.
pub const PAGE_LIMIT: usize = 1000;
/// Binance's default request weight budget per minute per IP.
pub const DEFAULT_WEIGHT_LIMIT: u32 = 6000;

#[derive(Debug, Clone)]
pub struct Binance {
    base_url: String,
    client: reqwest::Client,
    policy: Arc<HttpPolicy>,
    weight_limit: u32,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: i64,
    msg: String,
}

impl Binance {
    pub fn new(base_url: &str, policy: HttpPolicy) -> Result<Self, reqwest::Error> {
        Ok(Binance {
            base_url: base_url.trim_end_matches('/').to_string(),
            client: policy.client()?,
            policy: Arc::new(policy),
            weight_limit: DEFAULT_WEIGHT_LIMIT,
        })
    }

    /// Override the per-minute weight budget (Binance may grant more or less).
    pub fn with_weight_limit(mut self, limit: u32) -> Self {
        self.weight_limit = limit;
        self
    }
}

/// How long to pause after a response that reported `used` weight this minute: past 90%
/// of the budget, until the next minute starts (Binance's window is the clock minute).
pub fn weight_pause(used: u32, limit: u32, now: DateTime<Utc>) -> Option<Duration> {
    if u64::from(used) * 10 < u64::from(limit) * 9 {
        return None;
    }
    let into_minute = now.timestamp_millis().rem_euclid(60_000) as u64;
    Some(Duration::from_millis(60_000 - into_minute + 250))
}

/// Binance names its kline intervals as Catalyst does (`1m`, `5m`, `1h`, `1d`).
fn kline_interval(interval: BarInterval) -> &'static str {
    interval.as_str()
}

/// Decode a klines body into bars.
pub fn parse_klines(body: &[u8], url: &str) -> Result<Vec<Bar>, ProviderError> {
    let decode = |message: String| ProviderError::Decode {
        url: url.to_string(),
        message,
    };
    let rows: Vec<Vec<serde_json::Value>> =
        serde_json::from_slice(body).map_err(|e| decode(format!("not a klines array: {e}")))?;
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let num = |k: usize, name: &str| -> Result<f64, ProviderError> {
                let v = row
                    .get(k)
                    .ok_or_else(|| decode(format!("kline {i}: no {name}")))?;
                let parsed = match v {
                    serde_json::Value::String(s) => s.parse::<f64>().ok(),
                    serde_json::Value::Number(n) => n.as_f64(),
                    _ => None,
                };
                parsed
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| decode(format!("kline {i}: {name} {v} is not a number")))
            };
            // Volume fields: absent or unreadable is unknown, not an error.
            let optional = |k: usize| num(k, "volume").ok().filter(|v| *v >= 0.0);
            let ms = row
                .first()
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| decode(format!("kline {i}: no open time")))?;
            let open_time = Utc
                .timestamp_millis_opt(ms)
                .single()
                .ok_or_else(|| decode(format!("kline {i}: open time {ms} out of range")))?;
            let positive = |x: f64| (x > 0.0).then_some(x);
            let close = num(4, "close")?;
            if close <= 0.0 {
                return Err(decode(format!("kline {i}: close {close} is not positive")));
            }
            Ok(Bar {
                open_time,
                open: positive(num(1, "open")?),
                high: positive(num(2, "high")?),
                low: positive(num(3, "low")?),
                close,
                volume: Some(num(7, "quote volume")?).filter(|v| *v >= 0.0),
                market_cap: None,
                flow: Flow {
                    base_volume: optional(5),
                    trades: row
                        .get(8)
                        .and_then(serde_json::Value::as_i64)
                        .filter(|n| *n >= 0),
                    taker_buy_base: optional(9),
                    taker_buy_quote: optional(10),
                    volume_24h: None,
                },
            })
        })
        .collect()
}

impl PriceSource for Binance {
    fn registry_key(&self) -> &'static str {
        "binance"
    }

    fn source_tag(&self, id: &str) -> String {
        format!("binance:{id}")
    }

    async fn fetch_page(
        &self,
        id: &str,
        interval: BarInterval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Page, ProviderError> {
        if from >= to {
            return Ok(Page::default());
        }
        let endpoint = format!("{}/api/v3/klines", self.base_url);
        let query = [
            ("symbol", id.to_string()),
            ("interval", kline_interval(interval).to_string()),
            ("startTime", from.timestamp_millis().to_string()),
            // endTime is inclusive: stop just before `to`.
            ("endTime", (to.timestamp_millis() - 1).to_string()),
            ("limit", PAGE_LIMIT.to_string()),
        ];
        let url = format!(
            "{endpoint}?{}",
            query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        );
        let response = get_with_retries(
            || self.client.get(&endpoint).query(&query),
            &url,
            &self.policy,
        )
        .await?;
        let status = response.status();
        let used = response
            .headers()
            .get("x-mbx-used-weight-1m")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok());
        let body = response
            .bytes()
            .await
            .map_err(|source| ProviderError::Http {
                url: url.clone(),
                source,
            })?;
        if !status.is_success() {
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
                Ok(e) => (e.code, e.msg),
                Err(_) => (
                    0,
                    String::from_utf8_lossy(&body).chars().take(200).collect(),
                ),
            };
            return Err(ProviderError::Api {
                provider: "binance",
                url,
                status: status.as_u16(),
                code,
                message,
            });
        }
        let mut bars = parse_klines(&body, &url)?;
        bars.retain(|b| b.open_time >= from && b.open_time < to);
        let full = bars.len() >= PAGE_LIMIT;
        let next = bars
            .iter()
            .map(|b| b.open_time)
            .max()
            .map(|t| t + chrono::Duration::seconds(interval.seconds()))
            .filter(|&t| full && t < to);
        if let Some(pause) = used.and_then(|u| weight_pause(u, self.weight_limit, Utc::now())) {
            tracing::info!(
                used = used.unwrap_or(0),
                limit = self.weight_limit,
                "Binance weight budget nearly spent: waiting for the next minute"
            );
            tokio::time::sleep(pause).await;
        }
        Ok(Page { bars, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn klines_decode() {
        let body = br#"[[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",1499644799999,"2434.19055334",308,"1756.87402397","28.46694368","0"]]"#;
        let bars = parse_klines(body, "u").unwrap();
        assert_eq!(bars[0].open_time.timestamp(), 1_499_040_000);
        assert_eq!(bars[0].close, 0.015771);
        assert_eq!(bars[0].high, Some(0.8));
        assert_eq!(bars[0].volume, Some(2434.19055334));
        assert_eq!(bars[0].flow.base_volume, Some(148976.11427815));
        assert_eq!(bars[0].flow.trades, Some(308));
        assert_eq!(bars[0].flow.taker_buy_base, Some(1756.87402397));
        assert_eq!(bars[0].flow.taker_buy_quote, Some(28.46694368));
        assert!(parse_klines(br#"{"code":-1121}"#, "u").is_err());
        assert!(parse_klines(br#"[[1,"1","1","1","x","1",2,"1"]]"#, "u").is_err());
    }

    #[test]
    fn weight_pacing() {
        let t = Utc.with_ymd_and_hms(2025, 1, 27, 10, 0, 45).unwrap();
        assert_eq!(weight_pause(100, 6000, t), None);
        assert_eq!(weight_pause(5399, 6000, t), None);
        // 15 s left in the minute, plus a margin.
        assert_eq!(
            weight_pause(5400, 6000, t),
            Some(Duration::from_millis(15_250))
        );
    }
}
