//! The fetch layer against a local server: retries, Retry-After, timeouts, redirect
//! loops, the body limit, charsets, robots.txt, conditional GET, compression, and the
//! per-host interval. No database.

mod common;
mod ingest_server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use catalyst::ingest::http::{FetchConfig, Fetched, Fetcher, HttpError, Request};
use ingest_server::{fixture_bytes, spawn, Log};

fn quick() -> FetchConfig {
    FetchConfig {
        user_agent: "catalyst-test/1.0".into(),
        timeout: Duration::from_secs(5),
        retries: 3,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_secs(3),
        host_interval: Duration::ZERO,
        max_body_bytes: 1024 * 1024,
        ..FetchConfig::default()
    }
}

async fn get_page(f: &Fetcher, url: &str) -> Result<Fetched, HttpError> {
    f.fetch(&Request {
        url,
        ..Default::default()
    })
    .await
}

fn page(r: Result<Fetched, HttpError>) -> catalyst::ingest::http::Page {
    match r {
        Ok(Fetched::Page(p)) => p,
        other => panic!("expected a page, got {other:?}"),
    }
}

/// Answers `fail` with `status` (and `extra` headers) for the first `n` requests, then 200.
fn flaky(
    log: Log,
    path: &'static str,
    n: usize,
    status: StatusCode,
    retry_after: Option<&'static str>,
) -> Router {
    let count = Arc::new(AtomicUsize::new(0));
    Router::new().route(
        path,
        get(move |headers: HeaderMap| {
            let log = log.clone();
            let count = count.clone();
            async move {
                log.push(path, &headers);
                if count.fetch_add(1, Ordering::SeqCst) < n {
                    let mut r = status.into_response();
                    if let Some(v) = retry_after {
                        r.headers_mut()
                            .insert(header::RETRY_AFTER, v.parse().unwrap());
                    }
                    r
                } else {
                    "recovered".into_response()
                }
            }
        }),
    )
}

#[tokio::test]
async fn a_500_then_success_is_retried() {
    let log = Log::default();
    let base = spawn(flaky(
        log.clone(),
        "/flaky",
        2,
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
    ))
    .await;
    let f = Fetcher::new(quick()).unwrap();
    let p = page(get_page(&f, &format!("{base}/flaky")).await);
    assert_eq!(p.body, b"recovered");
    assert_eq!(log.hits("/flaky"), 3);
}

#[tokio::test]
async fn a_server_that_keeps_failing_gives_up_after_the_retries_naming_the_url() {
    let log = Log::default();
    let base = spawn(flaky(
        log.clone(),
        "/down",
        100,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
    ))
    .await;
    let f = Fetcher::new(quick()).unwrap();
    let url = format!("{base}/down");
    let err = get_page(&f, &url).await.unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{url}: server answered 503 (after 4 attempts)")
    );
    assert_eq!(log.hits("/down"), 4);
}

#[tokio::test]
async fn a_404_is_not_retried() {
    let log = Log::default();
    let base = spawn(flaky(
        log.clone(),
        "/gone",
        100,
        StatusCode::NOT_FOUND,
        None,
    ))
    .await;
    let f = Fetcher::new(quick()).unwrap();
    let err = get_page(&f, &format!("{base}/gone")).await.unwrap_err();
    assert!(
        matches!(err, HttpError::Status { status: 404, .. }),
        "{err}"
    );
    assert_eq!(log.hits("/gone"), 1);
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let log = Log::default();
    let base = spawn(flaky(
        log.clone(),
        "/busy",
        1,
        StatusCode::TOO_MANY_REQUESTS,
        Some("1"),
    ))
    .await;
    let f = Fetcher::new(quick()).unwrap();
    let p = page(get_page(&f, &format!("{base}/busy")).await);
    assert_eq!(p.body, b"recovered");
    let t = log.times("/busy");
    assert_eq!(t.len(), 2);
    // Retry-After: 1 means a second, not the 10 ms backoff.
    assert!(
        t[1] - t[0] >= Duration::from_millis(950),
        "{:?}",
        t[1] - t[0]
    );
}

#[tokio::test]
async fn a_slow_server_times_out_and_is_retried_then_given_up() {
    let log = Log::default();
    let l = log.clone();
    let router = Router::new().route(
        "/slow",
        get(move |h: HeaderMap| async move {
            l.push("/slow", &h);
            tokio::time::sleep(Duration::from_secs(10)).await;
            "too late"
        }),
    );
    let base = spawn(router).await;
    let f = Fetcher::new(FetchConfig {
        timeout: Duration::from_millis(300),
        retries: 1,
        ..quick()
    })
    .unwrap();
    let url = format!("{base}/slow");
    let err = get_page(&f, &url).await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{url}: request failed after 2 attempts")),
        "{err}"
    );
    assert!(err.contains("timed out"), "{err}");
    assert_eq!(log.hits("/slow"), 2);
}

#[tokio::test]
async fn a_redirect_loop_ends_in_an_error() {
    let log = Log::default();
    let l = log.clone();
    let router = Router::new().route(
        "/loop",
        get(move |h: HeaderMap| async move {
            l.push("/loop", &h);
            (StatusCode::FOUND, [(header::LOCATION, "/loop")])
        }),
    );
    let base = spawn(router).await;
    let f = Fetcher::new(quick()).unwrap();
    let url = format!("{base}/loop");
    let err = get_page(&f, &url).await.unwrap_err().to_string();
    assert!(err.starts_with(&url), "{err}");
    assert!(err.contains("redirect"), "{err}");
    // The first request and five redirects; no retries for a loop.
    assert_eq!(log.hits("/loop"), 6);
}

#[tokio::test]
async fn a_50_mb_body_is_cut_off_without_being_read() {
    const TOTAL: usize = 50 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let produced = Arc::new(AtomicUsize::new(0));
    let p = produced.clone();
    let router = Router::new().route(
        "/huge.xml",
        get(move || {
            let p = p.clone();
            async move {
                // No Content-Length: the limit must hold while streaming.
                let stream = futures_stream(p, TOTAL, CHUNK);
                Response::new(Body::from_stream(stream))
            }
        }),
    );
    let base = spawn(router).await;
    let f = Fetcher::new(quick()).unwrap();
    let url = format!("{base}/huge.xml");
    let err = get_page(&f, &url).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{url}: body larger than 1048576 bytes; stopped reading")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = produced.load(Ordering::SeqCst);
    assert!(sent < TOTAL / 5, "the server produced {sent} bytes");
}

/// A body stream of `total` bytes in `chunk`-byte pieces, counting what was produced.
fn futures_stream(
    produced: Arc<AtomicUsize>,
    total: usize,
    chunk: usize,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    futures_util::stream::unfold(0usize, move |sent| {
        let produced = produced.clone();
        async move {
            if sent >= total {
                return None;
            }
            produced.fetch_add(chunk, Ordering::SeqCst);
            Some((Ok::<_, std::io::Error>(vec![b'x'; chunk]), sent + chunk))
        }
    })
}

#[tokio::test]
async fn iso_8859_1_pages_decode_by_header_and_by_meta() {
    let latin1 = fixture_bytes("article-latin1.html");
    let l2 = latin1.clone();
    let router = Router::new()
        .route(
            "/header",
            get(move || {
                let b = latin1.clone();
                async move { ([(header::CONTENT_TYPE, "text/html; charset=ISO-8859-1")], b) }
            }),
        )
        .route(
            "/meta",
            get(move || {
                let b = l2.clone();
                async move { ([(header::CONTENT_TYPE, "text/html")], b) }
            }),
        );
    let base = spawn(router).await;
    let f = Fetcher::new(quick()).unwrap();
    for path in ["/header", "/meta"] {
        let text = page(get_page(&f, &format!("{base}{path}")).await).text();
        assert!(
            text.contains("Société Générale lance un stablecoin en euros sur Ethereum"),
            "{path}: {text}"
        );
        assert!(text.contains("café, crème et brûlée"), "{path}");
    }
}

fn robots_site(log: Log) -> Router {
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    Router::new()
        .route(
            "/robots.txt",
            get(move |h: HeaderMap| async move {
                l1.push("/robots.txt", &h);
                "User-agent: *\nDisallow: /\n\nUser-agent: catalyst-test\nDisallow: /private/\nAllow: /\n"
            }),
        )
        .route(
            "/private/feed.xml",
            get(move |h: HeaderMap| async move {
                l2.push("/private/feed.xml", &h);
                "secret"
            }),
        )
        .route(
            "/public/feed.xml",
            get(move |h: HeaderMap| async move {
                l3.push("/public/feed.xml", &h);
                "public"
            }),
        )
}

#[tokio::test]
async fn robots_txt_disallow_is_honoured_for_our_agent() {
    let log = Log::default();
    let base = spawn(robots_site(log.clone())).await;
    let f = Fetcher::new(quick()).unwrap();
    let url = format!("{base}/private/feed.xml");
    let err = get_page(&f, &url).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{url}: disallowed by the site's robots.txt for our User-Agent")
    );
    assert_eq!(log.hits("/private/feed.xml"), 0);
    let p = page(get_page(&f, &format!("{base}/public/feed.xml")).await);
    assert_eq!(p.body, b"public");
    // robots.txt is fetched once per host, then cached.
    assert_eq!(log.hits("/robots.txt"), 1);

    // Another agent falls in the `*` group, which disallows everything.
    let other = Fetcher::new(FetchConfig {
        user_agent: "SomeoneElse/2.0".into(),
        ..quick()
    })
    .unwrap();
    let err = get_page(&other, &format!("{base}/public/feed.xml"))
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Robots { .. }), "{err}");
}

#[tokio::test]
async fn an_unreadable_robots_txt_stops_fetching_and_says_why() {
    let log = Log::default();
    let (l1, l2) = (log.clone(), log.clone());
    let router = Router::new()
        .route(
            "/robots.txt",
            get(move |h: HeaderMap| async move {
                l1.push("/robots.txt", &h);
                (StatusCode::SERVICE_UNAVAILABLE, "down")
            }),
        )
        .route(
            "/feed.xml",
            get(move |h: HeaderMap| async move {
                l2.push("/feed.xml", &h);
                "feed"
            }),
        );
    let base = spawn(router).await;
    let f = Fetcher::new(quick()).unwrap();
    let url = format!("{base}/feed.xml");
    let err = get_page(&f, &url).await.unwrap_err();
    assert!(matches!(err, HttpError::RobotsUnavailable { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{url}: not fetched")) && text.contains("answered 503"),
        "{text}"
    );
    assert_eq!(log.hits("/feed.xml"), 0);

    // Nothing listens on port 9: the reason names the connection failure.
    let err = get_page(&f, "http://127.0.0.1:9/feed.xml")
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::RobotsUnavailable { .. }), "{err}");
    assert!(err.to_string().contains("127.0.0.1:9/robots.txt"), "{err}");
}

#[tokio::test]
async fn conditional_get_sends_validators_and_304_is_not_modified() {
    let log = Log::default();
    let l = log.clone();
    let router = Router::new().route(
        "/feed.xml",
        get(move |h: HeaderMap| async move {
            l.push("/feed.xml", &h);
            let fresh =
                h.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some("\"v1\"");
            if fresh {
                StatusCode::NOT_MODIFIED.into_response()
            } else {
                (
                    [
                        (header::ETAG, "\"v1\""),
                        (header::LAST_MODIFIED, "Mon, 27 Jan 2025 10:00:00 GMT"),
                    ],
                    "feed",
                )
                    .into_response()
            }
        }),
    );
    let base = spawn(router).await;
    let f = Fetcher::new(quick()).unwrap();
    let url = format!("{base}/feed.xml");
    let p = page(get_page(&f, &url).await);
    assert_eq!(p.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        p.last_modified.as_deref(),
        Some("Mon, 27 Jan 2025 10:00:00 GMT")
    );
    let again = f
        .fetch(&Request {
            url: &url,
            etag: p.etag.as_deref(),
            last_modified: p.last_modified.as_deref(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(matches!(again, Fetched::NotModified), "{again:?}");
    let sent = &log.headers("/feed.xml")[1];
    assert_eq!(
        sent[header::IF_MODIFIED_SINCE],
        "Mon, 27 Jan 2025 10:00:00 GMT"
    );
}

#[tokio::test]
async fn gzip_bodies_are_decoded_and_the_user_agent_is_sent() {
    let log = Log::default();
    let l = log.clone();
    let router = Router::new()
        .route(
            "/big.xml",
            get(move |h: HeaderMap| async move {
                l.push("/big.xml", &h);
                (
                    [(header::CONTENT_TYPE, "application/xml")],
                    "<rss>".repeat(2000),
                )
            }),
        )
        .layer(tower_http::compression::CompressionLayer::new());
    let base = spawn(router).await;
    let f = Fetcher::new(quick()).unwrap();
    let p = page(get_page(&f, &format!("{base}/big.xml")).await);
    assert_eq!(p.body.len(), 10_000);
    let sent = &log.headers("/big.xml")[0];
    let accept = sent[header::ACCEPT_ENCODING].to_str().unwrap();
    assert!(accept.contains("gzip") && accept.contains("br"), "{accept}");
    assert_eq!(sent[header::USER_AGENT], "catalyst-test/1.0");

    // A per-request User-Agent (a source's own) replaces the default.
    f.fetch(&Request {
        url: &format!("{base}/big.xml"),
        user_agent: Some("SourceBot/3"),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        log.headers("/big.xml")[1][header::USER_AGENT],
        "SourceBot/3"
    );
}

#[tokio::test]
async fn requests_to_one_host_are_spaced_by_the_host_interval() {
    let log = Log::default();
    let l = log.clone();
    let router = Router::new().route(
        "/a",
        get(move |h: HeaderMap| async move {
            l.push("/a", &h);
            "a"
        }),
    );
    let base = spawn(router).await;
    let f = Fetcher::new(FetchConfig {
        host_interval: Duration::from_millis(400),
        ..quick()
    })
    .unwrap();
    for _ in 0..3 {
        page(get_page(&f, &format!("{base}/a")).await);
    }
    let t = log.times("/a");
    assert!(
        t[1] - t[0] >= Duration::from_millis(380),
        "{:?}",
        t[1] - t[0]
    );
    assert!(
        t[2] - t[1] >= Duration::from_millis(380),
        "{:?}",
        t[2] - t[1]
    );
}

/// Two fetchers (two workers) on one database keep the host's spacing between them, not
/// only each within its own requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_spacing_holds_across_fetchers_sharing_a_database() {
    let db = common::test_db().await;
    let log = Log::default();
    let l = log.clone();
    let router = Router::new().route(
        "/page",
        get(move |h: HeaderMap| async move {
            l.push("/page", &h);
            "ok"
        }),
    );
    let base = spawn(router).await;
    let spacing = Duration::from_millis(300);
    let fetcher = || {
        Fetcher::new(FetchConfig {
            host_interval: spacing,
            ..quick()
        })
        .unwrap()
        .with_shared_spacing(db.pool.clone())
    };
    let (a, b) = (fetcher(), fetcher());
    let url = format!("{base}/page");
    let three = |f: &'static Fetcher| {
        let url = url.clone();
        async move {
            for _ in 0..3 {
                page(get_page(f, &url).await);
            }
        }
    };
    let (a, b): (&'static Fetcher, &'static Fetcher) =
        (Box::leak(Box::new(a)), Box::leak(Box::new(b)));
    tokio::join!(three(a), three(b));
    let mut times = log.times("/page");
    assert_eq!(times.len(), 6);
    times.sort();
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        // A little slack for the time between the booking and the request being logged.
        assert!(
            gap >= spacing - Duration::from_millis(50),
            "gap {gap:?} in {times:?}"
        );
    }
    let hosts: i64 = sqlx::query_scalar("SELECT count(*) FROM fetch_hosts")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(hosts, 1);
}
