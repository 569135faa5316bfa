//! CoinGecko market charts: `GET /coins/{id}/market_chart/range?vs_currency=usd&from&to`
//! (UNIX seconds) answers `{"prices": [[ms, v], ...], "market_caps": [...],
//! "total_volumes": [...]}`.
//!
//! Granularity is CoinGecko's choice, by range length: 5-minute points for a range of
//! up to a day near the present, hourly for up to 90 days, daily (00:00 UTC) beyond. To
//! get hourly points for long ranges the client asks for at most [`CHUNK_DAYS`] days per
//! request (one page per chunk). Points are then resampled to the bar grid: a bar's
//! close (and market cap) is the **last observation inside the bar**, `[open_time,
//! open_time + interval)`; bars without an observation are left missing (a gap, never
//! interpolated). CoinGecko's points fall a few minutes after the hour, so a close is
//! the price up to an hour before the bar's end: about one bar later than a Binance
//! close. `total_volumes` is a rolling 24-hour volume, not a per-bar one: it is stored
//! as the bar's `volume_24h` (last observation in the bar), never as its volume. Errors come as `{"status": {"error_code": 429, "error_message": "..."}}` or
//! `{"error": "coin not found"}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Deserialize;

use super::provider::{get_with_retries, HttpPolicy, Page, PriceSource, ProviderError};
use super::{Bar, BarInterval, Flow};

pub const DEFAULT_BASE_URL: &str = "https://api.coingecko.com/api/v3";
pub const PRO_BASE_URL: &str = "https://pro-api.coingecko.com/api/v3";
/// Longest range per request that CoinGecko still answers with hourly points.
pub const CHUNK_DAYS: i64 = 90;

/// An API key and the plan it belongs to (they use different headers).
#[derive(Clone)]
pub enum ApiKey {
    /// `x-cg-demo-api-key` (env `COINGECKO_DEMO_API_KEY`).
    Demo(String),
    /// `x-cg-pro-api-key` (env `COINGECKO_PRO_API_KEY`).
    Pro(String),
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ApiKey::Demo(_) => "Demo(..)",
            ApiKey::Pro(_) => "Pro(..)",
        })
    }
}

impl ApiKey {
    /// The key from the environment, if any (pro wins over demo).
    pub fn from_env() -> Option<ApiKey> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        get("COINGECKO_PRO_API_KEY")
            .map(ApiKey::Pro)
            .or_else(|| get("COINGECKO_DEMO_API_KEY").map(ApiKey::Demo))
    }

    fn header(&self) -> (&'static str, &str) {
        match self {
            ApiKey::Demo(k) => ("x-cg-demo-api-key", k),
            ApiKey::Pro(k) => ("x-cg-pro-api-key", k),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CoinGecko {
    base_url: String,
    client: reqwest::Client,
    policy: Arc<HttpPolicy>,
    key: Option<ApiKey>,
}

#[derive(Deserialize)]
struct Chart {
    prices: Vec<(f64, Option<f64>)>,
    #[serde(default)]
    market_caps: Vec<(f64, Option<f64>)>,
    #[serde(default)]
    total_volumes: Vec<(f64, Option<f64>)>,
}

#[derive(Deserialize)]
struct StatusBody {
    status: StatusInner,
}

#[derive(Deserialize)]
struct StatusInner {
    error_code: i64,
    error_message: String,
}

#[derive(Deserialize)]
struct PlainError {
    error: String,
}

impl CoinGecko {
    pub fn new(
        base_url: &str,
        key: Option<ApiKey>,
        policy: HttpPolicy,
    ) -> Result<Self, reqwest::Error> {
        Ok(CoinGecko {
            base_url: base_url.trim_end_matches('/').to_string(),
            client: policy.client()?,
            policy: Arc::new(policy),
            key,
        })
    }
}

/// Resample `(ms, value)` observations to bars opening in `[from, to)`: each bar takes
/// the last observation inside it. Caps and rolling 24-hour volumes are matched to bars
/// the same way.
pub fn resample(
    prices: &[(f64, Option<f64>)],
    caps: &[(f64, Option<f64>)],
    volumes_24h: &[(f64, Option<f64>)],
    interval: BarInterval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Bar> {
    let step = interval.seconds() * 1000;
    let bucket = |ms: f64| -> Option<i64> {
        let ms = ms as i64;
        (ms >= from.timestamp_millis() && ms < to.timestamp_millis())
            .then(|| ms.div_euclid(step) * step)
    };
    // Per bar: (time of the last observation, value).
    let last_in_bar = |points: &[(f64, Option<f64>)]| {
        let mut out: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
        for &(ms, v) in points {
            let (Some(b), Some(v)) = (bucket(ms), v) else {
                continue;
            };
            if !v.is_finite() {
                continue;
            }
            let slot = out.entry(b).or_insert((ms, v));
            if ms >= slot.0 {
                *slot = (ms, v);
            }
        }
        out
    };
    let closes = last_in_bar(prices);
    let caps = last_in_bar(caps);
    let volumes_24h = last_in_bar(volumes_24h);
    closes
        .into_iter()
        .filter(|(_, (_, close))| *close > 0.0)
        .filter_map(|(b, (_, close))| {
            Some(Bar {
                open_time: Utc.timestamp_millis_opt(b).single()?,
                open: None,
                high: None,
                low: None,
                close,
                volume: None,
                market_cap: caps.get(&b).map(|c| c.1).filter(|c| *c >= 0.0),
                flow: Flow {
                    volume_24h: volumes_24h.get(&b).map(|v| v.1).filter(|v| *v >= 0.0),
                    ..Flow::default()
                },
            })
        })
        .collect()
}

impl PriceSource for CoinGecko {
    fn registry_key(&self) -> &'static str {
        "coingecko"
    }

    fn source_tag(&self, id: &str) -> String {
        format!("coingecko:{id}")
    }

    async fn fetch_page(
        &self,
        id: &str,
        interval: BarInterval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Page, ProviderError> {
        // Its chunks of 90 days come back hourly: minute bars would be silently sparse.
        if interval.is_intraday() {
            return Err(ProviderError::Unsupported {
                provider: "coingecko",
                interval: interval.as_str(),
                why: "market_chart gives hourly points for any range longer than a day; use --provider binance",
            });
        }
        if from >= to {
            return Ok(Page::default());
        }
        let end = (from + Duration::days(CHUNK_DAYS)).min(to);
        let endpoint = format!("{}/coins/{id}/market_chart/range", self.base_url);
        let query = [
            ("vs_currency", "usd".to_string()),
            ("from", from.timestamp().to_string()),
            ("to", end.timestamp().to_string()),
        ];
        let url = format!(
            "{endpoint}?vs_currency=usd&from={}&to={}",
            from.timestamp(),
            end.timestamp()
        );
        let response = get_with_retries(
            || {
                let r = self.client.get(&endpoint).query(&query);
                match &self.key {
                    Some(k) => {
                        let (name, value) = k.header();
                        r.header(name, value)
                    }
                    None => r,
                }
            },
            &url,
            &self.policy,
        )
        .await?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|source| ProviderError::Http {
                url: url.clone(),
                source,
            })?;
        if !status.is_success() {
            let (code, message) = if let Ok(b) = serde_json::from_slice::<StatusBody>(&body) {
                (b.status.error_code, b.status.error_message)
            } else if let Ok(b) = serde_json::from_slice::<PlainError>(&body) {
                (i64::from(status.as_u16()), b.error)
            } else {
                (
                    i64::from(status.as_u16()),
                    String::from_utf8_lossy(&body).chars().take(200).collect(),
                )
            };
            return Err(ProviderError::Api {
                provider: "coingecko",
                url,
                status: status.as_u16(),
                code,
                message,
            });
        }
        let chart: Chart = serde_json::from_slice(&body).map_err(|e| ProviderError::Decode {
            url: url.clone(),
            message: format!("not a market chart: {e}"),
        })?;
        Ok(Page {
            bars: resample(
                &chart.prices,
                &chart.market_caps,
                &chart.total_volumes,
                interval,
                from,
                end,
            ),
            next: (end < to).then_some(end),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_observation_in_each_bar() {
        let t0 = Utc.with_ymd_and_hms(2025, 1, 27, 0, 0, 0).unwrap();
        let ms = |min: i64| (t0.timestamp_millis() + min * 60_000) as f64;
        let prices = [
            (ms(5), Some(1.0)),
            (ms(55), Some(2.0)),
            (ms(30), Some(1.5)),
            (ms(65), Some(3.0)),
            (ms(185), Some(4.0)),
            (ms(245), Some(9.0)), // after `to`
        ];
        let caps = [(ms(55), Some(200.0)), (ms(185), Some(400.0))];
        let volumes = [(ms(50), Some(7.0e9)), (ms(65), Some(8.0e9))];
        let bars = resample(
            &prices,
            &caps,
            &volumes,
            BarInterval::Hour,
            t0,
            t0 + Duration::hours(4),
        );
        let got: Vec<(i64, f64, Option<f64>)> = bars
            .iter()
            .map(|b| ((b.open_time - t0).num_hours(), b.close, b.market_cap))
            .collect();
        // Hour 2 has no observation: missing, not interpolated.
        assert_eq!(
            got,
            vec![(0, 2.0, Some(200.0)), (1, 3.0, None), (3, 4.0, Some(400.0))]
        );
        let v24: Vec<Option<f64>> = bars.iter().map(|b| b.flow.volume_24h).collect();
        assert_eq!(v24, vec![Some(7.0e9), Some(8.0e9), None]);
        assert!(bars.iter().all(|b| b.volume.is_none()));
    }
}
