//! Price providers: where bars come from. One trait, [`PriceSource`], fetches one page of
//! bars for one provider id; [`Provider`] dispatches to the three implementations
//! (Binance spot klines, CoinGecko market charts, CSV files) so the CLI can pick one at
//! run time. Paging is the caller's loop: each page is stored before the next is asked
//! for, which makes backfills resumable.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::binance::Binance;
use super::coingecko::CoinGecko;
use super::csv_source::CsvSource;
use super::{Bar, BarInterval};

/// One page of bars and where the next page starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// Bars opening in the requested range, in any order (the caller sorts and dedupes).
    pub bars: Vec<Bar>,
    /// Start of the next page; `None` when the range is exhausted.
    pub next: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{url}: request failed: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The provider answered with an error body (Binance `{"code","msg"}`, CoinGecko
    /// `{"status":{"error_code","error_message"}}` or `{"error"}`).
    #[error("{provider} refused {url} (HTTP {status}, code {code}): {message}")]
    Api {
        provider: &'static str,
        url: String,
        status: u16,
        code: i64,
        message: String,
    },
    /// Rate limited (429/418) or failing (5xx) on every attempt.
    #[error("{url}: gave up after {attempts} attempts (last answer HTTP {status}: rate limited or server error)")]
    GaveUp {
        url: String,
        status: u16,
        attempts: u32,
    },
    #[error("{url}: unexpected response: {message}")]
    Decode { url: String, message: String },
    /// The provider cannot give bars of this interval.
    #[error("{provider} has no {interval} bars: {why}")]
    Unsupported {
        provider: &'static str,
        interval: &'static str,
        why: &'static str,
    },
    #[error(transparent)]
    Csv(#[from] super::PriceError),
}

/// How a client talks to a remote API: retries and pacing.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    /// Attempts per request when rate limited (429/418) or on a server error (5xx).
    pub max_attempts: u32,
    /// Longest wait honoured from a `Retry-After` header (longer waits fail the request).
    pub max_retry_after: Duration,
    /// Wait before retrying a server error without `Retry-After` (doubles each time).
    pub backoff: Duration,
    pub timeout: Duration,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        HttpPolicy {
            max_attempts: 5,
            max_retry_after: Duration::from_secs(300),
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
        }
    }
}

impl HttpPolicy {
    pub fn client(&self) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .user_agent(concat!("catalyst/", env!("CARGO_PKG_VERSION")))
            .build()
    }
}

/// The `Retry-After` header as a wait (seconds form; HTTP dates are not used by either
/// provider).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// GET `url` with the policy's retries: 429 and 418 wait for `Retry-After` (or the
/// backoff), 5xx back off; any other answer is returned for the caller to decode.
pub async fn get_with_retries(
    request: impl Fn() -> reqwest::RequestBuilder,
    url: &str,
    policy: &HttpPolicy,
) -> Result<reqwest::Response, ProviderError> {
    let mut backoff = policy.backoff;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let response = request()
            .send()
            .await
            .map_err(|source| ProviderError::Http {
                url: url.to_string(),
                source,
            })?;
        let status = response.status().as_u16();
        let limited = status == 429 || status == 418;
        if !(limited || response.status().is_server_error()) {
            return Ok(response);
        }
        if attempt >= policy.max_attempts {
            return Err(ProviderError::GaveUp {
                url: url.to_string(),
                status,
                attempts: attempt,
            });
        }
        let wait = match retry_after(response.headers()) {
            Some(w) if w > policy.max_retry_after => {
                return Err(ProviderError::GaveUp {
                    url: url.to_string(),
                    status,
                    attempts: attempt,
                })
            }
            Some(w) => w,
            None => {
                let w = backoff;
                backoff *= 2;
                w
            }
        };
        tracing::warn!(
            url,
            status,
            wait_ms = wait.as_millis() as u64,
            "provider asks to wait"
        );
        tokio::time::sleep(wait).await;
    }
}

/// A source of bars for one provider id (a Binance symbol, a CoinGecko coin id, a CSV
/// file stem).
pub trait PriceSource {
    /// Registry key of the ids this source understands (`binance`, `coingecko`).
    fn registry_key(&self) -> &'static str;
    /// Tag stored in `price_bars.source` for bars fetched under `id`.
    fn source_tag(&self, id: &str) -> String;
    /// Bars of `id` opening in `[from, to)`, at most one page of them.
    fn fetch_page(
        &self,
        id: &str,
        interval: BarInterval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Page, ProviderError>> + Send;
}

/// The providers, for choosing one at run time.
#[derive(Debug, Clone)]
pub enum Provider {
    Binance(Binance),
    CoinGecko(CoinGecko),
    Csv(CsvSource),
}

impl Provider {
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Binance(_) => "binance",
            Provider::CoinGecko(_) => "coingecko",
            Provider::Csv(_) => "csv",
        }
    }
}

impl PriceSource for Provider {
    fn registry_key(&self) -> &'static str {
        match self {
            Provider::Binance(p) => p.registry_key(),
            Provider::CoinGecko(p) => p.registry_key(),
            Provider::Csv(p) => p.registry_key(),
        }
    }

    fn source_tag(&self, id: &str) -> String {
        match self {
            Provider::Binance(p) => p.source_tag(id),
            Provider::CoinGecko(p) => p.source_tag(id),
            Provider::Csv(p) => p.source_tag(id),
        }
    }

    async fn fetch_page(
        &self,
        id: &str,
        interval: BarInterval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Page, ProviderError> {
        match self {
            Provider::Binance(p) => p.fetch_page(id, interval, from, to).await,
            Provider::CoinGecko(p) => p.fetch_page(id, interval, from, to).await,
            Provider::Csv(p) => p.fetch_page(id, interval, from, to).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }
}
