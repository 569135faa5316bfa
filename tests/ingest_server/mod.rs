//! A local news site for ingest tests: an axum router on 127.0.0.1, port 0, serving the
//! fixtures in tests/fixtures/ingest and misbehaving on request (errors, slowness,
//! redirect loops, huge bodies), counting what it was asked.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;

/// Requests seen, per path, with their time and headers.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<(String, Instant, axum::http::HeaderMap)>>>);

impl Log {
    pub fn push(&self, path: &str, headers: &axum::http::HeaderMap) {
        self.0
            .lock()
            .unwrap()
            .push((path.to_string(), Instant::now(), headers.clone()));
    }
    pub fn hits(&self, path: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _, _)| p == path)
            .count()
    }
    pub fn times(&self, path: &str) -> Vec<Instant> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, t, _)| *t)
            .collect()
    }
    pub fn headers(&self, path: &str) -> Vec<axum::http::HeaderMap> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, _, h)| h.clone())
            .collect()
    }
    pub fn counts(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for (p, _, _) in self.0.lock().unwrap().iter() {
            *m.entry(p.clone()).or_insert(0) += 1;
        }
        m
    }
}

/// Serve `router` on 127.0.0.1 (a free port); returns the base URL.
pub async fn spawn(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

pub fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/ingest")
            .join(name),
    )
    .unwrap()
}

/// The fixture news site: feeds of every kind (the RSS one with an ETag), a truncated
/// feed, an HTML listing and its article pages (one ISO-8859-1, one future-dated, one
/// missing). Every request is logged.
pub fn news_site(log: Log) -> Router {
    use axum::http::{header, HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;

    fn file(
        log: &Log,
        path: &'static str,
        name: &'static str,
        content_type: &'static str,
    ) -> axum::routing::MethodRouter {
        let log = log.clone();
        get(move |h: HeaderMap| async move {
            log.push(path, &h);
            ([(header::CONTENT_TYPE, content_type)], fixture_bytes(name))
        })
    }
    let l = log.clone();
    Router::new()
        .route(
            "/rss.xml",
            get(move |h: HeaderMap| async move {
                l.push("/rss.xml", &h);
                if h.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some("\"rss-v1\"")
                {
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                (
                    [
                        (header::CONTENT_TYPE, "application/rss+xml"),
                        (header::ETAG, "\"rss-v1\""),
                    ],
                    fixture_bytes("rss.xml"),
                )
                    .into_response()
            }),
        )
        .route(
            "/atom.xml",
            file(&log, "/atom.xml", "atom.xml", "application/atom+xml"),
        )
        .route(
            "/feed.json",
            file(&log, "/feed.json", "feed.json", "application/feed+json"),
        )
        .route(
            "/truncated.xml",
            file(
                &log,
                "/truncated.xml",
                "truncated.xml",
                "application/rss+xml",
            ),
        )
        .route(
            "/latest/",
            file(&log, "/latest/", "listing.html", "text/html; charset=utf-8"),
        )
        .route(
            "/news/deepseek-selloff",
            file(
                &log,
                "/news/deepseek-selloff",
                "article-deepseek.html",
                "text/html",
            ),
        )
        .route(
            "/news/societe-generale",
            file(
                &log,
                "/news/societe-generale",
                "article-latin1.html",
                "text/html",
            ),
        )
        .route(
            "/news/future-dated",
            file(
                &log,
                "/news/future-dated",
                "article-future.html",
                "text/html",
            ),
        )
}

/// A sources file for the fixture site at `base`.
pub fn sources_toml(base: &str) -> String {
    format!(
        r#"
[fetch]
user_agent = "catalyst-test/1.0"
timeout_secs = 5
retries = 1
backoff_base_ms = 10
host_interval_ms = 0

[[source]]
name = "wire-rss"
kind = "rss"
url = "{base}/rss.xml"

[[source]]
name = "atom"
kind = "atom"
url = "{base}/atom.xml"

[[source]]
name = "jsonfeed"
kind = "json"
url = "{base}/feed.json"

[[source]]
name = "daily-html"
kind = "html"
url = "{base}/latest/"
[source.html]
item = "article.card"
link = "a.title"
time = "time"
"#
    )
}

pub const BROKEN_SOURCE: &str = r#"
[[source]]
name = "broken"
kind = "rss"
url = "BASE/truncated.xml"
"#;
