//! A cache of rendered pages, valid while the data version is unchanged.
//!
//! Every write to a table the pages read bumps `data_version` (statement-level triggers,
//! see the migration), so a page rendered at version v is exactly what a new render would
//! give while the version is still v. A hit costs one primary-key read instead of the
//! page's queries and rendering. Requests that arrive together share that read
//! ([`super::data_version`]).
//!
//! The cache is bounded per key: at most [`MAX_ENTRIES`] pages and [`MAX_TOTAL_BYTES`]
//! in all, the least recently used page going first. No client can flush it by asking
//! for many distinct URLs: a page read since keeps its place.
//!
//! Concurrent misses of one page at one version render it once: the first request renders
//! and stores it, the others wait for that render (at most [`COALESCE_WAIT`], then render
//! themselves) and are served from the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hashlink::LruCache;
use sha2::Digest;
use tokio::sync::watch;

use super::data_version::VersionReads;
use super::AppState;

/// Pages kept at most.
const MAX_ENTRIES: usize = 2_048;
/// Bytes of pages kept at most (2,048 pages of the largest size would be 8 GiB).
const MAX_TOTAL_BYTES: usize = 256 * 1024 * 1024;
/// Larger pages are not cached.
const MAX_BYTES: usize = 4 * 1024 * 1024;
/// How long the data version may take before the cached page is served as it is.
const VERSION_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a request waits for another request's render of the same page before it
/// renders the page itself (below the router's 30 s deadline, so it still has time to).
const COALESCE_WAIT: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Page {
    version: i64,
    content_type: HeaderValue,
    etag: HeaderValue,
    body: Bytes,
}

impl Page {
    fn response(self) -> Response {
        (
            [
                (header::CONTENT_TYPE, self.content_type),
                (header::ETAG, self.etag),
            ],
            self.body,
        )
            .into_response()
    }
}

/// Pages by URL, least recently used first out, within a count and a byte budget.
struct Pages {
    lru: LruCache<String, Page>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl Pages {
    fn new(max_entries: usize, max_bytes: usize) -> Self {
        Pages {
            lru: LruCache::new_unbounded(),
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    /// The page of `key`, at `version` when one is given (any version otherwise: the
    /// database does not answer). A hit makes the page the most recently used.
    fn get(&mut self, key: &str, version: Option<i64>) -> Option<Page> {
        self.lru
            .get(key)
            .filter(|p| version.is_none_or(|v| p.version == v))
            .cloned()
    }

    /// Store a page, then evict the least recently used ones until both budgets hold.
    fn insert(&mut self, key: String, page: Page) {
        self.bytes += page.body.len();
        if let Some(old) = self.lru.insert(key, page) {
            self.bytes -= old.body.len();
        }
        while self.lru.len() > self.max_entries || self.bytes > self.max_bytes {
            match self.lru.remove_lru() {
                Some((_, evicted)) => self.bytes -= evicted.body.len(),
                None => break,
            }
        }
    }

    fn len(&self) -> usize {
        self.lru.len()
    }
}

/// A render in progress, by URL and data version.
type FlightKey = (String, i64);
/// The renders in progress; a follower clones the receiver and waits on it.
type Flights = Arc<Mutex<HashMap<FlightKey, watch::Receiver<()>>>>;

/// What a request that missed the cache does.
enum Flight {
    /// Render the page; the requests waiting for it wake when this guard is dropped
    /// (after the page is stored, or when the render failed or was cancelled).
    Leader(FlightGuard),
    /// Another request renders the page: wait for it.
    Follower(watch::Receiver<()>),
}

struct FlightGuard {
    flights: Flights,
    key: FlightKey,
    /// Never sent on: dropping it is the signal.
    _done: watch::Sender<()>,
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if let Ok(mut flights) = self.flights.lock() {
            flights.remove(&self.key);
        }
    }
}

#[derive(Clone)]
pub struct PageCache {
    pages: Arc<Mutex<Pages>>,
    flights: Flights,
    /// The data version, read once for the requests that arrive together.
    versions: VersionReads,
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache {
            pages: Arc::new(Mutex::new(Pages::new(MAX_ENTRIES, MAX_TOTAL_BYTES))),
            flights: Default::default(),
            versions: Default::default(),
        }
    }
}

impl PageCache {
    fn get(&self, key: &str, version: Option<i64>) -> Option<Page> {
        self.pages.lock().ok()?.get(key, version)
    }

    fn insert(&self, key: String, page: Page) {
        if let Ok(mut pages) = self.pages.lock() {
            pages.insert(key, page);
        }
    }

    /// Pages held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.pages.lock().map(|p| p.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lead the render of `key` at `version`, or follow the one in progress.
    fn join(&self, key: &str, version: i64) -> Flight {
        let key = (key.to_string(), version);
        let Ok(mut flights) = self.flights.lock() else {
            // A poisoned map: render without coalescing (a guard whose removal is a no-op).
            let (tx, _) = watch::channel(());
            return Flight::Leader(FlightGuard {
                flights: Default::default(),
                key,
                _done: tx,
            });
        };
        if let Some(done) = flights.get(&key) {
            return Flight::Follower(done.clone());
        }
        let (tx, rx) = watch::channel(());
        flights.insert(key.clone(), rx);
        Flight::Leader(FlightGuard {
            flights: self.flights.clone(),
            key,
            _done: tx,
        })
    }
}

/// Paths whose responses are not cached (they must be live).
fn uncacheable(path: &str) -> bool {
    matches!(path, "/healthz" | "/metrics")
}

/// Whether a body's size is known and at most `max` bytes (rendered pages, JSON and CSV
/// all know theirs).
pub fn fits(body: &axum::body::Body, max: usize) -> bool {
    http_body::Body::size_hint(body)
        .exact()
        .is_some_and(|n| n <= max as u64)
}

/// A weak ETag over a body (also used by the ETag middleware).
pub fn etag_of(body: &[u8]) -> String {
    format!("W/\"{}\"", &hex::encode(sha2::Sha256::digest(body))[..32])
}

pub async fn serve_cached(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::GET || uncacheable(req.uri().path()) {
        return next.run(req).await;
    }
    let cache = &state.cache;
    let key = req.uri().to_string();
    let version = cache.versions.current(&state.pool, VERSION_TIMEOUT).await;
    let version = match version {
        Some(v) => v,
        // The database is down or stuck: a page rendered before is better than none (it
        // was right when the database last answered); without one, render live.
        _ => {
            return match cache.get(&key, None) {
                Some(p) => p.response(),
                None => next.run(req).await,
            };
        }
    };
    if let Some(p) = cache.get(&key, Some(version)) {
        return p.response();
    }
    // Held until the page is stored (the end of this function): the requests that wait
    // for it then find it in the cache.
    let _flight = match cache.join(&key, version) {
        Flight::Leader(guard) => {
            // A render may have finished between the miss above and joining.
            if let Some(p) = cache.get(&key, Some(version)) {
                return p.response();
            }
            Some(guard)
        }
        Flight::Follower(mut done) => {
            // Err (the leader is gone) and a timeout both end the wait.
            let _ = tokio::time::timeout(COALESCE_WAIT, done.changed()).await;
            if let Some(p) = cache.get(&key, Some(version)) {
                return p.response();
            }
            // The render failed, was not cacheable, or is slower than the wait: render
            // here (and store it, if it can be).
            None
        }
    };
    let resp = next.run(req).await;
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // Only a body of known size within the limit is cached; a larger page (or a streamed
    // one) goes out as it is, uncached.
    if !fits(&body, MAX_BYTES) {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BYTES).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "response body failed").into_response();
    };
    let etag = HeaderValue::from_str(&etag_of(&bytes)).ok();
    if let (Some(etag), Some(ct)) = (etag, parts.headers.get(header::CONTENT_TYPE).cloned()) {
        parts.headers.insert(header::ETAG, etag.clone());
        cache.insert(
            key,
            Page {
                version,
                content_type: ct,
                etag,
                body: bytes.clone(),
            },
        );
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(version: i64, bytes: usize) -> Page {
        Page {
            version,
            content_type: HeaderValue::from_static("text/html"),
            etag: HeaderValue::from_static("W/\"x\""),
            body: Bytes::from(vec![b'x'; bytes]),
        }
    }

    #[test]
    fn distinct_urls_do_not_flush_a_page_in_use() {
        let mut pages = Pages::new(MAX_ENTRIES, MAX_TOTAL_BYTES);
        pages.insert("/".into(), page(1, 100));
        for i in 0..5_000 {
            pages.insert(format!("/?q=word{i}"), page(1, 100));
            // The front page is read all the time; the scan's pages are read once.
            if i % 500 == 0 {
                assert!(pages.get("/", Some(1)).is_some(), "lost at {i}");
            }
        }
        assert!(pages.get("/", Some(1)).is_some());
        assert_eq!(pages.len(), MAX_ENTRIES);
        // The oldest of the scan went first; the newest are kept.
        assert!(pages.get("/?q=word0", Some(1)).is_none());
        assert!(pages.get("/?q=word4999", Some(1)).is_some());
    }

    #[test]
    fn the_byte_budget_evicts_the_least_recently_used() {
        let mut pages = Pages::new(100, 1_000);
        pages.insert("/a".into(), page(1, 400));
        pages.insert("/b".into(), page(1, 400));
        assert!(pages.get("/a", Some(1)).is_some());
        pages.insert("/c".into(), page(1, 400));
        assert!(
            pages.get("/b", None).is_none(),
            "/b was the least recently used"
        );
        assert!(pages.get("/a", None).is_some() && pages.get("/c", None).is_some());
        assert_eq!(pages.bytes, 800);
        // Replacing a page counts its new size only.
        pages.insert("/a".into(), page(2, 100));
        assert_eq!(pages.bytes, 500);
    }

    #[test]
    fn a_page_of_another_version_is_not_served_unless_any_will_do() {
        let mut pages = Pages::new(10, 1_000);
        pages.insert("/".into(), page(1, 10));
        assert!(pages.get("/", Some(2)).is_none());
        assert!(pages.get("/", None).is_some());
    }

    #[tokio::test]
    async fn one_render_leads_and_the_others_wait_for_it() {
        let cache = PageCache::default();
        let Flight::Leader(guard) = cache.join("/", 1) else {
            panic!("the first request leads");
        };
        let Flight::Follower(mut done) = cache.join("/", 1) else {
            panic!("the second request follows");
        };
        // Another version is another render.
        assert!(matches!(cache.join("/", 2), Flight::Leader(_)));
        cache.insert("/".into(), page(1, 10));
        drop(guard);
        assert!(done.changed().await.is_err(), "the leader is gone");
        assert!(cache.get("/", Some(1)).is_some());
        // The next miss leads again.
        assert!(matches!(cache.join("/", 1), Flight::Leader(_)));
    }
}
