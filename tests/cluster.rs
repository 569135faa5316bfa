//! Past one process: two workers and two web servers (separate `catalyst` processes)
//! against one database. Each source is fetched by one worker, nothing is stored twice,
//! and both web servers, which cache pages, show the new events as soon as they land.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command as Std, Stdio};
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;

const SOURCES: usize = 4;

fn catalyst(url: &str, args: &[&str]) -> Std {
    let mut cmd = Std::new(env!("CARGO_BIN_EXE_catalyst"));
    cmd.args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "catalyst=warn")
        .env_remove("CATALYST_CONFIG")
        .current_dir(std::env::temp_dir());
    cmd
}

/// Start `catalyst serve --no-worker` on a free port; return the process and its base URL.
fn web_server(url: &str) -> (Child, String) {
    let mut child = catalyst(url, &["serve", "--no-worker", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches('/')
        .to_string();
    (child, base)
}

fn sigterm(child: &Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_and_two_web_servers_share_one_database() {
    let db = common::test_db().await;
    // Four sources, each with its own story and one story they all carry.
    let headlines = [
        "SEC approves spot ether ETF listings",
        "Bybit hacked for about 1.5 billion dollars in ether",
        "Fed cuts rates but signals fewer cuts",
        "DeepSeek releases its open-source R1 reasoning model",
    ];
    let mut router = Router::new();
    for (n, headline) in headlines.iter().enumerate() {
        let body = format!(
            r#"<rss version="2.0"><channel><title>Feed {n}</title>
<item><title>{headline}</title><link>https://cluster.example/{n}</link>
<pubDate>Mon, 03 Feb 2025 1{n}:00:00 +0000</pubDate></item>
<item><title>Bitcoin tops 100000 dollars for the first time</title><link>https://cluster.example/shared</link>
<pubDate>Thu, 05 Dec 2024 02:30:00 +0000</pubDate></item></channel></rss>"#
        );
        router = router.route(
            &format!("/feed/{n}.xml"),
            get(move || {
                let body = body.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    body
                }
            }),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let feeds = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let mut text = String::from(
        "[fetch]\nuser_agent = \"catalyst-test/1.0\"\nhost_interval_ms = 0\nretries = 0\n",
    );
    for n in 0..SOURCES {
        text.push_str(&format!(
            "[[source]]\nname = \"feed-{n}\"\nkind = \"rss\"\nurl = \"{feeds}/feed/{n}.xml\"\npoll_interval_secs = 3600\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let sources = dir.path().join("sources.toml");
    std::fs::write(&sources, text).unwrap();

    // The web servers first: their caches hold the empty list.
    let (web1, base1) = web_server(&db.url);
    let (web2, base2) = web_server(&db.url);
    let http = reqwest::Client::new();
    let page = |base: String| {
        let http = http.clone();
        async move {
            let r = http.get(format!("{base}/?sort=time")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    for base in [&base1, &base2] {
        assert!(!page(base.clone()).await.contains(headlines[0]));
    }

    let worker = |id: &str| {
        catalyst(&db.url, &["worker", "--id", id, "--sources"])
            .arg(&sources)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let workers = [worker("w1"), worker("w2")];
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&db.pool, "SELECT count(*) FROM ingest_runs").await < SOURCES as i64 {
        assert!(
            Instant::now() < deadline,
            "workers did not get through the sources"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Each source once; its story and the shared one stored once each.
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(DISTINCT source_id) FROM ingest_runs"
        )
        .await,
        SOURCES as i64
    );
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM articles").await,
        SOURCES as i64 + 1
    );
    let by: Vec<String> = sqlx::query_scalar("SELECT DISTINCT worker FROM ingest_runs")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert!(!by.is_empty());

    // Both web servers see every event (their caches noticed the new data).
    for base in [&base1, &base2] {
        let html = page(base.clone()).await;
        for h in headlines {
            assert!(html.contains(h), "{base} misses {h}");
        }
        let api: serde_json::Value = serde_json::from_str(
            &http
                .get(format!("{base}/api/v1/events?sort=time"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            api["events"].as_array().map(Vec::len),
            Some(SOURCES + 1),
            "{api}"
        );
    }

    for child in workers.iter().chain([&web1, &web2]) {
        sigterm(child);
    }
    for child in workers.into_iter().chain([web1, web2]) {
        let status = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap()
            .status;
        assert!(status.success(), "{status}");
    }
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM sources WHERE claimed_by IS NOT NULL"
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_loses_its_claim_and_another_finishes_the_job() {
    let db = common::test_db().await;
    // A slow feed: the first worker is killed while it waits for the answer.
    let router = Router::new().route(
        "/slow.xml",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            r#"<rss version="2.0"><channel><title>Slow</title>
<item><title>Trump signs order creating a Strategic Bitcoin Reserve</title><link>https://slow.example/1</link>
<pubDate>Fri, 07 Mar 2025 00:00:00 +0000</pubDate></item></channel></rss>"#
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let feeds = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let dir = tempfile::tempdir().unwrap();
    let sources = dir.path().join("sources.toml");
    std::fs::write(
        &sources,
        format!(
            "[fetch]\nhost_interval_ms = 0\nretries = 0\n[[source]]\nname = \"slow\"\nkind = \"rss\"\nurl = \"{feeds}/slow.xml\"\npoll_interval_secs = 3600\n"
        ),
    )
    .unwrap();
    let worker = |id: &str| {
        catalyst(
            &db.url,
            &["worker", "--id", id, "--lease-secs", "2", "--sources"],
        )
        .arg(&sources)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
    };

    let mut first = worker("doomed");
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(
        &db.pool,
        "SELECT count(*) FROM sources WHERE claimed_by = 'doomed'",
    )
    .await
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "the first worker never claimed the source"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill().unwrap(); // SIGKILL: no chance to release the claim
    first.wait().unwrap();
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM sources WHERE claimed_by = 'doomed'"
        )
        .await,
        1,
        "the dead worker's claim is still there"
    );

    let second = worker("rescuer");
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&db.pool, "SELECT count(*) FROM articles").await == 0 {
        assert!(Instant::now() < deadline, "nobody finished the job");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sigterm(&second);
    let status = tokio::task::spawn_blocking(move || second.wait_with_output())
        .await
        .unwrap()
        .unwrap()
        .status;
    assert!(status.success());
    let runs: Vec<(String, String)> =
        sqlx::query_as("SELECT worker, status FROM ingest_runs ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(runs, [("rescuer".to_string(), "ok".to_string())]);
    assert_eq!(count(&db.pool, "SELECT count(*) FROM articles").await, 1);
}
