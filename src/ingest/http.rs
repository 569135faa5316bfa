//! The one place Catalyst fetches news over HTTP, politely and robustly: robots.txt
//! (RFC 9309, parsed by `texting_robots`), a minimum interval between requests to one
//! host (or the site's Crawl-delay, if longer), a configurable User-Agent, conditional GET
//! (ETag / Last-Modified), timeouts, retries with exponential backoff and jitter on 5xx,
//! 429 (honouring Retry-After) and timeouts, a redirect limit (loops end as errors), a
//! body size limit enforced while streaming, gzip/brotli (reqwest), and charsets.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How the fetcher behaves; `[fetch]` in the sources file sets these.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub user_agent: String,
    /// Whole request, body included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Extra attempts after the first.
    pub retries: u32,
    pub backoff_base: Duration,
    /// Longest wait between attempts, Retry-After included.
    pub backoff_max: Duration,
    pub max_body_bytes: usize,
    /// Minimum time between two requests to one host.
    pub host_interval: Duration,
    pub max_redirects: usize,
    /// How long a host's robots.txt is trusted before it is fetched again.
    pub robots_ttl: Duration,
}

pub const DEFAULT_USER_AGENT: &str = concat!(
    "catalyst/",
    env!("CARGO_PKG_VERSION"),
    " (news impact tracker)"
);

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            user_agent: DEFAULT_USER_AGENT.to_string(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            host_interval: Duration::from_secs(1),
            max_redirects: 5,
            robots_ttl: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{url}: not a valid http(s) URL")]
    BadUrl { url: String },
    #[error("{url}: disallowed by the site's robots.txt for our User-Agent")]
    Robots { url: String },
    #[error("{url}: not fetched, the site's robots.txt could not be read ({reason})")]
    RobotsUnavailable { url: String, reason: String },
    #[error("{url}: server answered {status} (after {attempts} attempts)")]
    Status {
        url: String,
        status: u16,
        attempts: u32,
    },
    #[error("{url}: request failed after {attempts} attempts: {reason}")]
    Request {
        url: String,
        reason: String,
        attempts: u32,
    },
    #[error("{url}: body larger than {limit} bytes; stopped reading")]
    TooLarge { url: String, limit: usize },
    #[error("could not build the HTTP client: {0}")]
    Client(String),
}

/// One request: the URL and what to send with it.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    pub url: &'a str,
    /// Overrides the configured User-Agent (a source's own setting).
    pub user_agent: Option<&'a str>,
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Page {
    /// The URL after redirects.
    pub url: String,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Page {
    /// The body as text, in the charset the server or the document declares.
    pub fn text(&self) -> String {
        super::charset::decode(&self.body, self.content_type.as_deref())
    }
}

#[derive(Debug, Clone)]
pub enum Fetched {
    /// 304: what we have is current.
    NotModified,
    Page(Page),
}

#[derive(Debug, Clone)]
enum Robots {
    AllowAll,
    /// robots.txt unreachable (5xx, network), with why: RFC 9309 says assume a complete
    /// disallow. Kept only [`UNAVAILABLE_ROBOTS_TTL`], so a passing fault does not shut the
    /// host out for the whole robots TTL.
    Unavailable(String),
    Rules(Arc<Vec<u8>>),
}

/// How long an unreadable robots.txt is remembered before it is asked for again.
const UNAVAILABLE_ROBOTS_TTL: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Host {
    next_allowed: Instant,
    robots: Option<(Robots, Instant)>,
}

/// The fetcher; cheap to share by reference across one process's work.
pub struct Fetcher {
    client: reqwest::Client,
    config: FetchConfig,
    hosts: Mutex<HashMap<String, Host>>,
    /// Book per-host slots in the database, so the spacing holds across processes.
    shared_spacing: Option<sqlx::PgPool>,
}

/// Outcome of one attempt: done, or worth another try after an optional wait.
enum Attempt {
    Done(Result<Fetched, HttpError>),
    Retry {
        error: HttpError,
        after: Option<Duration>,
    },
}

impl Fetcher {
    pub fn new(config: FetchConfig) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::limited(config.max_redirects))
            .build()
            .map_err(|e| HttpError::Client(error_chain(&e)))?;
        Ok(Fetcher {
            client,
            config,
            hosts: Mutex::new(HashMap::new()),
            shared_spacing: None,
        })
    }

    /// Keep the per-host spacing across every process using `pool`'s database (workers,
    /// one-shot ingests), not only within this one: each request books its host's next
    /// slot in `fetch_hosts`. Should the database not answer, spacing falls back to this
    /// process's own.
    pub fn with_shared_spacing(mut self, pool: sqlx::PgPool) -> Self {
        self.shared_spacing = Some(pool);
        self
    }

    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// GET `req.url`, honouring robots.txt and the host's rate limit, retrying what is
    /// worth retrying.
    pub async fn fetch(&self, req: &Request<'_>) -> Result<Fetched, HttpError> {
        let url = url::Url::parse(req.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| HttpError::BadUrl {
                url: req.url.to_string(),
            })?;
        let agent = req.user_agent.unwrap_or(&self.config.user_agent);
        self.robots_allow(&url, req.url, agent).await?;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            self.wait_turn(&url).await;
            match self.attempt(req, agent, attempt).await {
                Attempt::Done(r) => return r,
                Attempt::Retry { error, after } => {
                    if attempt > self.config.retries {
                        return Err(error);
                    }
                    let wait = after
                        .unwrap_or_else(|| backoff(&self.config, attempt))
                        .min(self.config.backoff_max);
                    tracing::info!(
                        url = req.url,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying: {error}"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn attempt(&self, req: &Request<'_>, agent: &str, attempt: u32) -> Attempt {
        let url = req.url;
        let failed = |e: reqwest::Error| HttpError::Request {
            url: url.to_string(),
            reason: error_chain(&e),
            attempts: attempt,
        };
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(agent) {
            headers.insert(header::USER_AGENT, v);
        }
        if let Some(v) = req.etag.and_then(|e| HeaderValue::from_str(e).ok()) {
            headers.insert(header::IF_NONE_MATCH, v);
        }
        if let Some(v) = req
            .last_modified
            .and_then(|e| HeaderValue::from_str(e).ok())
        {
            headers.insert(header::IF_MODIFIED_SINCE, v);
        }
        let mut resp = match self.client.get(url).headers(headers).send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() || e.is_connect() => {
                return Attempt::Retry {
                    error: failed(e),
                    after: None,
                }
            }
            Err(e) => return Attempt::Done(Err(failed(e))),
        };
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Attempt::Done(Ok(Fetched::NotModified));
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Attempt::Retry {
                error: HttpError::Status {
                    url: url.to_string(),
                    status: status.as_u16(),
                    attempts: attempt,
                },
                after: retry_after(resp.headers()),
            };
        }
        if !status.is_success() {
            return Attempt::Done(Err(HttpError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                attempts: attempt,
            }));
        }
        let limit = self.config.max_body_bytes;
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Attempt::Done(Err(HttpError::TooLarge {
                url: url.to_string(),
                limit,
            }));
        }
        let text_header = |name: header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = text_header(header::CONTENT_TYPE);
        let etag = text_header(header::ETAG);
        let last_modified = text_header(header::LAST_MODIFIED);
        let final_url = resp.url().to_string();
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        // Dropping the response closes the connection: the rest is never read.
                        return Attempt::Done(Err(HttpError::TooLarge {
                            url: url.to_string(),
                            limit,
                        }));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => {
                    return Attempt::Retry {
                        error: failed(e),
                        after: None,
                    }
                }
                Err(e) => return Attempt::Done(Err(failed(e))),
            }
        }
        Attempt::Done(Ok(Fetched::Page(Page {
            url: final_url,
            body,
            content_type,
            etag,
            last_modified,
        })))
    }

    /// Wait until this host may be asked again, and book the next slot.
    async fn wait_turn(&self, url: &url::Url) {
        let key = host_key(url);
        let interval = self.host_interval(&key).await;
        if interval.is_zero() {
            return;
        }
        if let Some(pool) = &self.shared_spacing {
            match super::host_store::book(pool, &key, interval).await {
                Ok(wait) => {
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                    return;
                }
                Err(e) => {
                    tracing::warn!(host = %key, "shared host spacing unavailable, spacing this process only: {e}")
                }
            }
        }
        let wait = {
            let mut hosts = self.hosts.lock().await;
            let now = Instant::now();
            let host = hosts.entry(key).or_insert(Host {
                next_allowed: now,
                robots: None,
            });
            let start = host.next_allowed.max(now);
            host.next_allowed = start + interval;
            start - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// The configured interval, or the site's Crawl-delay when longer.
    async fn host_interval(&self, key: &str) -> Duration {
        let hosts = self.hosts.lock().await;
        let delay = match hosts.get(key).and_then(|h| h.robots.as_ref()) {
            Some((Robots::Rules(txt), _)) => {
                texting_robots::Robot::new(robot_name(&self.config.user_agent), txt)
                    .ok()
                    .and_then(|r| r.delay)
                    .map(|d| Duration::from_secs_f32(d.clamp(0.0, 60.0)))
            }
            _ => None,
        };
        delay.map_or(self.config.host_interval, |d| {
            d.max(self.config.host_interval)
        })
    }

    async fn robots_allow(
        &self,
        url: &url::Url,
        asked: &str,
        agent: &str,
    ) -> Result<(), HttpError> {
        let key = host_key(url);
        let cached = {
            let hosts = self.hosts.lock().await;
            hosts
                .get(&key)
                .and_then(|h| h.robots.clone())
                .filter(|(r, at)| {
                    let ttl = match r {
                        Robots::Unavailable(_) => {
                            UNAVAILABLE_ROBOTS_TTL.min(self.config.robots_ttl)
                        }
                        _ => self.config.robots_ttl,
                    };
                    at.elapsed() < ttl
                })
                .map(|(r, _)| r)
        };
        let robots = match cached {
            Some(r) => r,
            None => {
                let r = self.fetch_robots(url, agent).await;
                let mut hosts = self.hosts.lock().await;
                let now = Instant::now();
                hosts
                    .entry(key)
                    .or_insert(Host {
                        next_allowed: now,
                        robots: None,
                    })
                    .robots = Some((r.clone(), now));
                r
            }
        };
        let allowed = match robots {
            Robots::AllowAll => true,
            Robots::Unavailable(reason) => {
                return Err(HttpError::RobotsUnavailable {
                    url: asked.to_string(),
                    reason,
                })
            }
            Robots::Rules(txt) => match texting_robots::Robot::new(robot_name(agent), &txt) {
                Ok(robot) => robot.allowed(url.as_str()),
                // A file the parser cannot read says nothing we could honour.
                Err(_) => true,
            },
        };
        if allowed {
            Ok(())
        } else {
            Err(HttpError::Robots {
                url: asked.to_string(),
            })
        }
    }

    async fn fetch_robots(&self, url: &url::Url, agent: &str) -> Robots {
        let mut robots_url = url.clone();
        robots_url.set_path("/robots.txt");
        robots_url.set_query(None);
        robots_url.set_fragment(None);
        let resp = self
            .client
            .get(robots_url.as_str())
            .header(header::USER_AGENT, agent)
            .send()
            .await;
        match resp {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(b) if b.len() <= 512 * 1024 => Robots::Rules(Arc::new(b.to_vec())),
                // RFC 9309: at least 500 KiB must be parsed; larger or unreadable, allow.
                _ => Robots::AllowAll,
            },
            Ok(r)
                if r.status().is_client_error() && r.status() != StatusCode::TOO_MANY_REQUESTS =>
            {
                Robots::AllowAll
            }
            Ok(r) => {
                let reason = format!("{robots_url} answered {}", r.status().as_u16());
                tracing::warn!(
                    "robots.txt unavailable; not fetching from this host for now: {reason}"
                );
                Robots::Unavailable(reason)
            }
            Err(e) => {
                let reason = format!("{robots_url}: {}", error_chain(&e));
                tracing::warn!(
                    "robots.txt unreachable; not fetching from this host for now: {reason}"
                );
                Robots::Unavailable(reason)
            }
        }
    }
}

fn host_key(url: &url::Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// The product token robots.txt groups are matched on: `catalyst/0.1 (…)` → `catalyst`.
fn robot_name(user_agent: &str) -> &str {
    user_agent
        .split(['/', ' '])
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(user_agent)
}

/// Exponential backoff with jitter: base·2^(n-1), plus up to half that again at random
/// (so workers that failed together do not retry together), capped.
pub fn backoff(config: &FetchConfig, attempt: u32) -> Duration {
    let exp = config
        .backoff_base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(config.backoff_max);
    let jitter_ms = fastrand::u64(0..=(capped.as_millis() as u64 / 2));
    (capped + Duration::from_millis(jitter_ms)).min(config.backoff_max)
}

/// Retry-After as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// reqwest's top-level message hides the cause ("error sending request"); add it.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_capped() {
        let c = FetchConfig {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            ..FetchConfig::default()
        };
        for _ in 0..50 {
            let b1 = backoff(&c, 1);
            assert!(b1 >= Duration::from_millis(100) && b1 <= Duration::from_millis(150));
            let b3 = backoff(&c, 3);
            assert!(b3 >= Duration::from_millis(400) && b3 <= Duration::from_millis(600));
            assert!(backoff(&c, 30) <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn robot_name_is_the_product_token() {
        assert_eq!(robot_name("catalyst/0.1 (news)"), "catalyst");
        assert_eq!(robot_name("MyBot"), "MyBot");
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }
}
