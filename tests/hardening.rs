//! A hostile world: malformed and oversized feeds, hostile text, abusive HTTP, a database
//! that stops answering, a read-only role probing its limits. Each test fails on the code
//! before the fix it names (issue 14).

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

use catalyst::db::roles;
use catalyst::ingest::{self, FeedLocation};
use catalyst::web::{self, AppState};

async fn status_of(state: &AppState, method: Method, path: &str) -> StatusCode {
    web::router(state.clone())
        .oneshot(
            Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
}

fn rss(title: &str, items: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{title}</title>{}</channel></rss>",
        items.concat()
    )
}

fn item(title: &str, link: Option<&str>, guid: Option<&str>) -> String {
    format!(
        "<item><title>{title}</title>{}{}<pubDate>Mon, 27 Jan 2025 10:00:00 +0000</pubDate></item>",
        link.map(|l| format!("<link>{l}</link>"))
            .unwrap_or_default(),
        guid.map(|g| format!("<guid isPermaLink=\"false\">{g}</guid>"))
            .unwrap_or_default()
    )
}

/// 1. One bad item never loses a feed: a NUL in a title, a 10 KB link, a 10 KB id, a
/// 2 MB title and a 10 KB feed title (each past a PostgreSQL limit) cost only what they
/// must; the good items are stored, the run is recorded ok with the skip counted, and the
/// pages and the CSV export show what was stored. A JSON Feed with `\u0000` and a lone
/// surrogate is stored too.
#[tokio::test]
async fn one_bad_item_never_loses_a_feed() {
    let db = common::test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let long = "a".repeat(10_000);
    let items = vec![
        item(
            "Good one: Bitcoin rises",
            Some("https://news.example/1"),
            None,
        ),
        item(
            "NUL \u{0} in the title",
            Some("https://news.example/2"),
            None,
        ),
        item(
            "Link too long",
            Some(&format!("https://news.example/{long}")),
            None,
        ),
        item(
            "Link too long, with an id",
            Some(&format!("https://news.example/x{long}")),
            Some("id-4"),
        ),
        item("Id too long", Some("https://news.example/5"), Some(&long)),
        item(&"T".repeat(2_000_000), Some("https://news.example/6"), None),
        item(
            "Good two: Ether falls",
            Some("https://news.example/7"),
            None,
        ),
        format!(
            "<item><title>Four megabytes of description</title><link>https://news.example/8</link>\
             <description>{}</description><pubDate>Mon, 27 Jan 2025 10:00:00 +0000</pubDate></item>",
            "d ".repeat(2_000_000)
        ),
    ];
    let path = dir.path().join("feed.xml");
    std::fs::write(&path, rss(&"F".repeat(10_000), &items)).unwrap();
    let report = ingest::ingest_feed(
        &db.pool,
        &common::fetcher(),
        &FeedLocation::File(path),
        None,
    )
    .await
    .expect("the feed is stored");
    // Every item is stored; a link too long for the link index is dropped (the item keeps
    // its feed id: feed-rs gives one to items without), the rest is cut or hashed.
    assert_eq!(report.new, 8, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
    let links: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT canonical_url FROM articles WHERE title LIKE 'Link too long%' ORDER BY title",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(links, [None, None]);
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM articles ORDER BY title")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert!(
        titles.contains(&"NUL in the title".to_string()),
        "{titles:?}"
    );
    let longest = titles.iter().map(|t| t.chars().count()).max().unwrap();
    assert_eq!(longest, ingest::limits::TITLE_MAX_CHARS);
    let (status, new): (String, i32) =
        sqlx::query_as("SELECT status, new FROM ingest_runs ORDER BY id DESC LIMIT 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), new), ("ok", 8));
    let summary: i32 = sqlx::query_scalar(
        "SELECT length(summary) FROM articles WHERE title LIKE 'Four megabytes%'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(summary as usize <= ingest::limits::SUMMARY_MAX_CHARS);
    let name: String = sqlx::query_scalar("SELECT name FROM sources ORDER BY id DESC LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        name.chars().count() <= ingest::limits::FEED_TITLE_MAX_CHARS,
        "{}",
        name.len()
    );

    let json = dir.path().join("feed.json");
    std::fs::write(
        &json,
        r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
          {"id":"j1","title":"Nul \u0000 and lone \ud800 half","url":"https://json.example/1","date_published":"2025-01-27T10:00:00Z"},
          {"id":"j2","title":"Fine","url":"https://json.example/2","date_published":"2025-01-27T10:00:00Z"}]}"#,
    )
    .unwrap();
    let report = ingest::ingest_feed(
        &db.pool,
        &common::fetcher(),
        &FeedLocation::File(json),
        None,
    )
    .await
    .expect("the JSON feed is stored");
    assert_eq!(report.new, 2);

    let state = AppState::new(db.pool.clone());
    for path in [
        "/",
        "/?sort=time",
        "/events.csv",
        "/api/v1/events",
        "/sources",
    ] {
        assert_eq!(
            common::get_page(&state, path).await.0,
            StatusCode::OK,
            "{path}"
        );
    }
}

/// 2. A headline that starts a spreadsheet formula is text in the CSV export.
#[tokio::test]
async fn csv_cells_cannot_start_a_formula() {
    let db = common::test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<String> = [
        "=HYPERLINK(\"http://evil\")",
        "+1+1 rally",
        "-2 coins",
        "@SUM(A1)",
    ]
    .iter()
    .enumerate()
    .map(|(i, t)| item(t, Some(&format!("https://news.example/f{i}")), None))
    .collect();
    let path = dir.path().join("feed.xml");
    std::fs::write(&path, rss("Formulas", &items)).unwrap();
    ingest::ingest_feed(
        &db.pool,
        &common::fetcher(),
        &FeedLocation::File(path),
        None,
    )
    .await
    .unwrap();
    let (status, csv) = common::get_page(&AppState::new(db.pool.clone()), "/events.csv").await;
    assert_eq!(status, StatusCode::OK);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let col = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "headline")
        .unwrap();
    let mut headlines: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[col].to_string())
        .collect();
    headlines.sort();
    assert_eq!(
        headlines,
        [
            "'+1+1 rally",
            "'-2 coins",
            "'=HYPERLINK(\"http://evil\")",
            "'@SUM(A1)"
        ]
    );
}

/// 3. Pages larger than the page cache holds are served, uncached, not 500.
#[tokio::test]
async fn pages_over_the_cache_limit_are_served() {
    let db = common::test_db().await;
    // Headlines of 100 KB each (stored before ingest cut titles, or written by SQL).
    sqlx::query(
        "INSERT INTO events (event_time, headline)
         SELECT '2025-01-27 10:00+00'::timestamptz + g * interval '1 hour', repeat('w ', 50000) || g
         FROM generate_series(1, 60) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let state = AppState::new(db.pool.clone());
    for path in [
        "/?sort=time&per_page=100",
        "/api/v1/events?sort=time&per_page=100",
        "/events.csv?sort=time&per_page=100",
    ] {
        let (status, body) = common::get_page(&state, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(body.len() > 5_000_000, "{path}: {} bytes", body.len());
    }
}

/// 4. No input reaches a 500: every route, every query parameter, hostile values (NUL,
/// invalid UTF-8, years out of range, huge numbers, very long text) get a page or a 400.
#[tokio::test]
async fn no_query_or_path_answers_500() {
    let db = common::test_db().await;
    let state = AppState::new(db.pool.clone());
    // Every route of the router (web::router), with a sample path for each parameter.
    let routes = [
        "/",
        "/about",
        "/events/1",
        "/categories/ai",
        "/tokens/BTC",
        "/sources",
        "/events.csv",
        "/api/v1/events",
        "/api/v1/events/1",
        "/api/v1/categories",
        "/api/v1/tokens",
        "/api/v1/openapi.json",
        "/healthz",
        "/metrics",
    ];
    let params = [
        "q",
        "category",
        "token",
        "from",
        "to",
        "min_score",
        "significant",
        "sort",
        "after",
        "per_page",
        "sort_category",
        "kind",
        "source",
        "window",
    ];
    let long = "z".repeat(5_000);
    let values = [
        "%00",
        "a%00b",
        "%FF%FE",
        "-9999-01-01",
        "99999-12-31",
        "0000-01-01",
        "1e309",
        "NaN",
        "-1",
        "999999999999999999999",
        "%27%3B--",
        "%E2%80%AE",
        "1_%00",
        long.as_str(),
    ];
    for route in routes {
        for p in params {
            for v in values {
                let path = format!("{route}?{p}={v}");
                let status = status_of(&state, Method::GET, &path).await;
                assert!(!status.is_server_error(), "{path}: {status}");
            }
        }
    }
    for segment in [
        "%00",
        "a%00",
        "%FF",
        long.as_str(),
        "-1",
        "9223372036854775808",
    ] {
        for route in ["/events/", "/categories/", "/tokens/", "/api/v1/events/"] {
            let path = format!("{route}{segment}");
            let status = status_of(&state, Method::GET, &path).await;
            assert!(!status.is_server_error(), "{path}: {status}");
        }
    }
}

/// 5. Made-up HTTP methods share one metrics series: the scrape cannot grow without bound.
#[tokio::test]
async fn made_up_methods_do_not_grow_the_metrics() {
    let db = common::test_db().await;
    let state = AppState::new(db.pool.clone());
    for i in 0..50 {
        let m = Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
        status_of(&state, m, "/").await;
    }
    let (_, metrics) = common::get_page(&state, "/metrics").await;
    assert!(!metrics.contains("MADEUP"), "{metrics}");
    assert!(metrics.contains("method=\"other\""));
}

/// 6. Idle and slow clients are closed, and past the connection limit new clients wait
/// instead of being locked out.
#[tokio::test]
async fn idle_and_slow_clients_are_closed() {
    let db = common::test_db().await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let limits = web::server::Limits {
        header_timeout: Duration::from_secs(1),
        max_connections: 20,
    };
    let server = tokio::spawn(web::serve_with_limits(
        db.pool.clone(),
        "127.0.0.1:0".parse().unwrap(),
        limits,
        move |addr| {
            let _ = tx.send(addr);
        },
        async {
            let _ = stop_rx.await;
        },
    ));
    let addr = rx.await.unwrap();
    // 30 idle sockets (more than the limit) and 10 that send half a request head.
    let mut idle = Vec::new();
    for _ in 0..30 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    for _ in 0..10 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        idle.push(s);
    }
    // A real client still gets its page: it waits for a slot, never for ever.
    let started = Instant::now();
    let body = tokio::time::timeout(Duration::from_secs(10), async {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    })
    .await
    .expect("a client is not locked out");
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(8));
    // The idle and slow sockets are closed by the server (EOF, or a reset).
    for mut s in idle {
        let mut buf = [0u8; 512];
        let read = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
        assert!(read.is_ok(), "an idle socket is still open");
    }
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}

/// 7. `/healthz` answers within a second when the database does not answer at all.
#[tokio::test]
async fn healthz_answers_within_a_second_whatever_the_database_does() {
    // A "database" that accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(30))
        .connect_lazy(&format!("postgres://nobody@127.0.0.1:{port}/nothing"))
        .unwrap();
    let state = AppState::new(pool);
    let started = Instant::now();
    let (status, body) = common::get_page(&state, "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(body.contains("no answer within"), "{body}");
}

/// 8 and 9. A read-only role: `config check` accepts it, and it can neither write a
/// large object nor take the lock ingest writers take (so it cannot stall them).
#[tokio::test]
async fn a_read_only_role_is_read_only_and_config_check_accepts_it() {
    let db = common::test_db().await;
    let role = format!("catalyst_hard_{}", std::process::id());
    let report = roles::grant_readonly(&db.pool, &role, true, None)
        .await
        .unwrap();
    assert!(report.large_objects_revoked, "tests run as a superuser");
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_username(&role).unwrap();
    let ro_url = url.to_string();

    let mut conn = PgConnection::connect(&ro_url).await.unwrap();
    sqlx::query("SET default_transaction_read_only = off")
        .execute(&mut conn)
        .await
        .unwrap();
    for attempt in [
        "SELECT lo_from_bytea(0, '\\x78'::bytea)",
        "SELECT lo_create(0)",
        "SELECT name FROM writer_locks WHERE name = 'stories' FOR UPDATE",
    ] {
        let mut tx = conn.begin().await.unwrap();
        let err = sqlx::query(attempt)
            .execute(&mut *tx)
            .await
            .expect_err(attempt)
            .to_string();
        assert!(err.contains("permission denied"), "{attempt}: {err}");
        tx.rollback().await.unwrap();
    }
    conn.close().await.unwrap();

    // While the role is connected, a writer stores a feed without waiting on it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.xml");
    std::fs::write(
        &path,
        rss("W", &[item("Stored", Some("https://w.example/1"), None)]),
    )
    .unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        ingest::ingest_feed(
            &db.pool,
            &common::fetcher(),
            &FeedLocation::File(path),
            None,
        ),
    )
    .await
    .expect("ingest does not wait on a reader")
    .unwrap();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_catalyst"))
        .args(["config", "check"])
        .env("DATABASE_URL", &db.url)
        .env("CATALYST_WEB_DATABASE_URL", &ro_url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("reads and cannot write"), "{stdout}");

    sqlx::query(&format!("DROP OWNED BY {role}"))
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query(&format!("DROP ROLE {role}"))
        .execute(&db.pool)
        .await
        .unwrap();
}

/// 10. `/sources` shows no credentials from a source's URL, nor from its errors.
#[tokio::test]
async fn the_sources_page_shows_no_credentials() {
    let db = common::test_db().await;
    sqlx::query(
        "INSERT INTO sources (name, kind, url, last_status, last_error, consecutive_failures)
         VALUES ('secret feed', 'rss', 'https://user:hunter2@news.example/rss?auth_token=s3cret&page=1',
                 'failed', 'https://user:hunter2@news.example/rss?auth_token=s3cret&page=1: server answered 500', 2)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let (status, page) = common::get_page(&AppState::new(db.pool.clone()), "/sources").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !page.contains("s3cret") && !page.contains("hunter2"),
        "{page}"
    );
    assert!(page.contains("auth_token=***"), "{page}");
    let resp = web::router(AppState::new(db.pool.clone()))
        .oneshot(Request::get("/sources").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(!String::from_utf8_lossy(&body).contains("s3cret"));
}

/// Issue 17: concurrent requests for one page that is not cached yet render it once; the
/// others wait for that render and are served from the cache (all 64 cold requests to a
/// filtered page used to render it, and time out).
#[tokio::test]
async fn concurrent_cold_requests_render_a_page_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let db = common::test_db().await;
    let state = AppState::new(db.pool.clone());
    let renders = Arc::new(AtomicUsize::new(0));
    let counter = renders.clone();
    let app = axum::Router::new()
        .route(
            "/slow",
            axum::routing::get(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    // Long enough for the other requests to arrive while it renders (a late
                    // one finds the page cached: one render either way).
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    axum::response::Html("rendered")
                }
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::cache::serve_cached,
        ));
    let requests: Vec<_> = (0..32)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                let resp = app
                    .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                let status = resp.status();
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                (status, body)
            })
        })
        .collect();
    for request in requests {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..], b"rendered");
    }
    assert_eq!(
        renders.load(Ordering::SeqCst),
        1,
        "one render for 32 requests"
    );
    assert_eq!(state.cache.len(), 1);
}

/// Issue 17: every statement of the pages has a limit; one that runs past it is a 503
/// that says so, not a generic 500 (and not a request hanging for minutes).
#[tokio::test]
async fn a_statement_past_its_limit_is_a_503_that_says_so() {
    use axum::extract::State;
    let db = common::test_db().await;
    let pool = catalyst::db::connect_limited(&db.url, Duration::from_millis(100))
        .await
        .unwrap();
    let app = axum::Router::new()
        .route(
            "/sleepy",
            axum::routing::get(|State(state): State<AppState>| async move {
                sqlx::query("SELECT pg_sleep(30)")
                    .execute(&state.pool)
                    .await?;
                Ok::<_, web::WebError>(axum::response::Html("never"))
            }),
        )
        .with_state(AppState::new(pool.clone()));
    let resp = app
        .oneshot(Request::get("/sleepy").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(
        String::from_utf8_lossy(&body).contains("took longer"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    // The pool's connections keep their limit.
    let limit: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(limit, "100ms");
    // And always plan with their parameters' values (the list's NULL filters pruned).
    let mode: String = sqlx::query_scalar("SHOW plan_cache_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode, "force_custom_plan");
    // And are never JIT-compiled (compiling cost more than the page's queries).
    let jit: String = sqlx::query_scalar("SHOW jit")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(jit, "off");
    // The pool beside it for the queries keyed by ids: the same limit, one generic plan
    // per statement and connection (planned once, whatever the id), no JIT.
    let keyed = catalyst::db::keyed_pool_of(&pool).await.unwrap();
    for (setting, expected) in [
        ("statement_timeout", "100ms"),
        ("plan_cache_mode", "force_generic_plan"),
        ("jit", "off"),
    ] {
        let value: String = sqlx::query_scalar(&format!("SHOW {setting}"))
            .fetch_one(&keyed)
            .await
            .unwrap();
        assert_eq!(value, expected, "{setting}");
    }
    // Commands and jobs keep PostgreSQL's default: their bulk writes' foreign-key checks
    // are prepared statements, planned once rather than once a row.
    let jobs = catalyst::db::connect(&db.url).await.unwrap();
    let mode: String = sqlx::query_scalar("SHOW plan_cache_mode")
        .fetch_one(&jobs)
        .await
        .unwrap();
    assert_eq!(mode, "auto");
}

/// Issue 17: the list's filters moved from event_matches (row by row) to matching_events
/// (inlined, on indexes); both select the same events for every combination of filters.
#[tokio::test]
async fn matching_events_selects_what_event_matches_does() {
    let db = common::test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<String> = [
        "Bitcoin ETF approved by the SEC",
        "Ethereum upgrade goes live; ether rallies",
        "DeepSeek model shakes AI tokens",
        "Solana outage halts the chain",
        "Fed holds rates, bitcoin dips",
        "Render (RNDR) jumps on GPU demand",
    ]
    .iter()
    .enumerate()
    .map(|(i, t)| item(t, Some(&format!("https://news.example/m{i}")), None))
    .collect();
    let path = dir.path().join("feed.xml");
    std::fs::write(&path, rss("Matching", &items)).unwrap();
    ingest::ingest_feed(
        &db.pool,
        &common::fetcher(),
        &FeedLocation::File(path),
        None,
    )
    .await
    .unwrap();
    let (differ, non_empty, combos): (i64, i64, i64) = sqlx::query_as(
        "WITH f AS (
           SELECT * FROM
             unnest(ARRAY[NULL, 'bitcoin', 'ether', 'ETH', 'rndr', 'etf -bitcoin', '\"goes live\"', 'zzz']) q
             CROSS JOIN (SELECT NULL AS category UNION ALL
                         (SELECT c.slug FROM categories c
                          ORDER BY EXISTS (SELECT 1 FROM event_category_tags g WHERE g.category_id = c.id) DESC, c.slug
                          LIMIT 5)) c
             CROSS JOIN unnest(ARRAY[NULL, 'BTC', 'ETH', 'RENDER']) token
             CROSS JOIN unnest(ARRAY[NULL, (SELECT min(name) FROM sources), 'nowhere']) source
             CROSS JOIN unnest(ARRAY[NULL, now() - interval '100 years']::timestamptz[]) from_time
             CROSS JOIN unnest(ARRAY[NULL, 'ai']) kind
         ), compared AS (
           SELECT ARRAY(SELECT e.id FROM events e
                        WHERE event_matches(e.id, e.event_time, e.headline_tsv, e.kind, f.q, f.category,
                                            f.token, f.from_time, NULL, f.kind, f.source)
                        ORDER BY e.id) AS old,
                  ARRAY(SELECT m.id FROM matching_events(f.q, f.category, f.token, f.from_time, NULL,
                                                         f.kind, f.source) m
                        ORDER BY m.id) AS new
           FROM f
         )
         SELECT count(*) FILTER (WHERE old IS DISTINCT FROM new),
                count(*) FILTER (WHERE cardinality(new) > 0), count(*)
         FROM compared",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(differ, 0, "of {combos} filters");
    assert!(
        non_empty >= 20,
        "{non_empty} of {combos} filters match something"
    );
}
