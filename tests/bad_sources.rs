//! Sources that hang, flood or return garbage do not hold up the others: a worker runs
//! several jobs at once, so a hanging fetch holds one slot until its timeout while the
//! good sources are polled and stored; each bad source fails with a recorded reason.

mod common;

use std::process::{Command as Std, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::get;
use axum::Router;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_flooding_and_garbage_sources_do_not_hold_up_the_good_ones() {
    let db = common::test_db().await;
    let hang_started = Arc::new(AtomicUsize::new(0));
    let hang_finished = Arc::new(AtomicUsize::new(0));
    let (started, finished) = (hang_started.clone(), hang_finished.clone());
    let mut router = Router::new()
        .route("/robots.txt", get(|| async { "User-agent: *\nAllow: /\n" }))
        .route(
            "/hang.xml",
            get(move || {
                let (started, finished) = (started.clone(), finished.clone());
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    finished.fetch_add(1, Ordering::SeqCst);
                    "never"
                }
            }),
        )
        .route(
            "/flood.xml",
            get(|| async {
                // An endless body.
                let chunk = axum::body::Bytes::from(vec![b'<'; 64 * 1024]);
                let stream = futures_util::stream::repeat_with(move || {
                    Ok::<_, std::io::Error>(chunk.clone())
                });
                Body::from_stream(stream)
            }),
        )
        .route(
            "/garbage.xml",
            get(|| async {
                (0..50_000u32)
                    .map(|i| (i * 7919 % 251) as u8)
                    .collect::<Vec<u8>>()
            }),
        );
    let good = [
        "SEC approves spot ether ETF listings",
        "Bybit hacked for about 1.5 billion dollars in ether",
        "Fed cuts rates but signals fewer cuts",
    ];
    for (n, headline) in good.iter().enumerate() {
        let body = format!(
            r#"<rss version="2.0"><channel><title>Good {n}</title>
<item><title>{headline}</title><link>https://good.example/{n}</link>
<pubDate>Mon, 03 Feb 2025 1{n}:00:00 +0000</pubDate></item></channel></rss>"#
        );
        router = router.route(
            &format!("/good/{n}.xml"),
            get(move || {
                let body = body.clone();
                async move { body }
            }),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    // The bad sources come first in the file, so they are claimed first.
    let mut text = String::from(
        "[fetch]\nuser_agent = \"catalyst-test/1.0\"\nhost_interval_ms = 0\nretries = 0\ntimeout_secs = 15\nmax_body_bytes = 1048576\n",
    );
    for (name, path) in [
        ("hang", "/hang.xml"),
        ("flood", "/flood.xml"),
        ("garbage", "/garbage.xml"),
        ("good-0", "/good/0.xml"),
        ("good-1", "/good/1.xml"),
        ("good-2", "/good/2.xml"),
    ] {
        text.push_str(&format!(
            "[[source]]\nname = \"{name}\"\nkind = \"rss\"\nurl = \"{base}{path}\"\npoll_interval_secs = 3600\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let sources = dir.path().join("sources.toml");
    std::fs::write(&sources, text).unwrap();

    let worker = Std::new(env!("CARGO_BIN_EXE_catalyst"))
        .args(["worker", "--id", "w1", "--sources"])
        .arg(&sources)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "catalyst=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The good sources are all stored while the hanging fetch is still waiting.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM articles")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        if stored == good.len() as i64 {
            break;
        }
        assert!(Instant::now() < deadline, "good sources not stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        hang_started.load(Ordering::SeqCst),
        1,
        "the hanging source was fetched"
    );
    assert_eq!(
        hang_finished.load(Ordering::SeqCst),
        0,
        "the good sources were stored while the hanging fetch was in flight"
    );

    // Stop: the worker finishes the hanging job (it times out) and exits cleanly.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(worker.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || worker.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let runs: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT s.name, r.status, r.error FROM ingest_runs r JOIN sources s ON s.id = r.source_id
         ORDER BY s.name",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let find = |name: &str| {
        runs.iter()
            .find(|r| r.0 == name)
            .unwrap_or_else(|| panic!("no run of {name}: {runs:?}"))
            .clone()
    };
    for n in 0..good.len() {
        assert_eq!(find(&format!("good-{n}")).1, "ok");
    }
    for bad in ["hang", "flood", "garbage"] {
        let (_, status, error) = find(bad);
        assert_eq!(status, "failed", "{bad}");
        assert!(
            error.is_some_and(|e| e.contains(&base)),
            "{bad}: the error names the URL"
        );
    }
}
