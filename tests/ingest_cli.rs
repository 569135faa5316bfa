//! `catalyst ingest`, `sources list|check` and `worker` as processes, against the local
//! fixture site: exit codes, output, and two workers sharing one database.

mod common;
mod ingest_server;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use ingest_server::{news_site, sources_toml, spawn, Log, BROKEN_SOURCE};

fn catalyst(db_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_catalyst"));
    cmd.env("DATABASE_URL", db_url)
        .env("RUST_LOG", "off")
        .env_remove("CATALYST_SOURCES");
    cmd
}

fn write_sources(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("sources.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A `catalyst` process whose output is read as it comes (a full pipe would stall it),
/// kept for the failure message.
struct Worker {
    child: std::process::Child,
    output: Arc<std::sync::Mutex<String>>,
}

impl Worker {
    fn spawn(mut cmd: Command) -> Worker {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(std::sync::Mutex::new(String::new()));
        let out: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().unwrap());
        for pipe in [out, err] {
            let output = output.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut o = output.lock().unwrap();
                    o.push_str(&line);
                    o.push('\n');
                }
            });
        }
        Worker { child, output }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Whether the process catches SIGTERM yet (Linux: the `SigCgt` mask of
    /// /proc/PID/status).
    fn catches_sigterm(&self) -> bool {
        let bit = 1u64 << (nix::sys::signal::Signal::SIGTERM as i32 - 1);
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|status| {
                let mask = status.lines().find_map(|l| l.strip_prefix("SigCgt:"))?;
                u64::from_str_radix(mask.trim(), 16).ok()
            })
            .is_some_and(|mask| mask & bit != 0)
    }

    /// SIGTERM, then wait for the exit: its status and everything it printed.
    async fn stop(mut self) -> (std::process::ExitStatus, String) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        tokio::task::spawn_blocking(move || {
            let status = self.child.wait().unwrap();
            (status, self.output())
        })
        .await
        .unwrap()
    }
}

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[test]
fn new_commands_have_help() {
    for args in [
        vec!["sources", "list", "--help"],
        vec!["sources", "check", "--help"],
        vec!["worker", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_catalyst"))
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_exit_codes_and_a_failing_source_does_not_stop_the_others() {
    let db = common::test_db().await;
    let base = spawn(news_site(Log::default())).await;
    let dir = tempfile::tempdir().unwrap();

    // One broken source among good ones: exit 3, the others stored.
    let text = format!(
        "{}{}",
        sources_toml(&base),
        BROKEN_SOURCE.replace("BASE", &base)
    );
    let file = write_sources(&dir, &text);
    let out = catalyst(&db.url)
        .arg("ingest")
        .arg("--sources")
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "broken: FAILED: {base}/truncated.xml: not a valid"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("wire-rss: 6 items, 3 new, 0 already stored, 3 skipped"),
        "{stdout}"
    );
    assert!(stdout.contains("daily-html: "), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim(), "error: 1 of 5 sources failed");
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM articles").await,
        3 + 2 + 2 + 2
    );

    // Only named sources; all fine: exit 0. The RSS feed is unchanged (304).
    let out = catalyst(&db.url)
        .args([
            "ingest",
            "--source",
            "wire-rss",
            "--source",
            "atom",
            "--sources",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("wire-rss: not modified"), "{stdout}");
    assert!(
        stdout.contains("atom: 2 items, 0 new, 2 already stored"),
        "{stdout}"
    );

    // Configuration errors: exit 1, one line naming the file (or the source).
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[source]]\nname = \"x\"\nkind = \"rss\"\nurl = \"ftp://nope/\"\n",
    )
    .unwrap();
    let out = catalyst(&db.url)
        .arg("ingest")
        .arg("--sources")
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: {}: source \"x\": url", bad.display())),
        "{stderr}"
    );
    let out = catalyst(&db.url)
        .args(["ingest", "--source", "nosuch", "--sources"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no source named \"nosuch\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_check_prints_what_it_would_ingest_and_stores_nothing() {
    let db = common::test_db().await;
    let base = spawn(news_site(Log::default())).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_sources(&dir, &sources_toml(&base));
    let out = catalyst(&db.url)
        .args(["sources", "check", "daily-html", "--sources"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.starts_with("daily-html: 2 items would be ingested, 2 skipped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2025-01-27 10:00 UTC  Crypto market nosedives 6.4%"),
        "{stdout}"
    );
    assert!(stdout.contains("tickers: FET, RENDER"), "{stdout}");
    assert!(stdout.contains("problem: article"), "{stdout}");
    assert_eq!(count(&db.pool, "SELECT count(*) FROM articles").await, 0);
    assert_eq!(count(&db.pool, "SELECT count(*) FROM ingest_runs").await, 0);

    let broken = write_sources(
        &dir,
        &format!(
            "{}{}",
            sources_toml(&base),
            BROKEN_SOURCE.replace("BASE", &base)
        ),
    );
    let out = catalyst(&db.url)
        .args(["sources", "check", "broken", "--sources"])
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("broken: FAILED: "));

    // list shows every source with its health.
    catalyst(&db.url)
        .args(["ingest", "--source", "atom", "--sources"])
        .arg(&broken)
        .output()
        .unwrap();
    let out = catalyst(&db.url)
        .args(["sources", "list", "--sources"])
        .arg(&broken)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let atom = stdout.lines().find(|l| l.starts_with("atom ")).unwrap();
    assert!(atom.contains(" ok ") && atom.contains(" 1/0 "), "{atom}");
    let broken_line = stdout.lines().find(|l| l.starts_with("broken ")).unwrap();
    assert!(broken_line.contains("never run"), "{broken_line}");
}

/// An ad-hoc `ingest --feed` source is ingested when asked and never polled: a later
/// one-shot `catalyst ingest` of every enabled source leaves it alone (a file feed would
/// fail at every poll), and `/sources` says it is on demand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_hoc_feeds_are_not_polled_afterwards() {
    let db = common::test_db().await;
    let base = spawn(news_site(Log::default())).await;
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("one.rss");
    std::fs::write(
        &feed,
        r#"<rss version="2.0"><channel><title>One</title>
<item><title>SEC approves spot ether ETFs</title><link>https://adhoc.example/1</link>
<pubDate>Thu, 23 May 2024 21:00:00 +0000</pubDate></item></channel></rss>"#,
    )
    .unwrap();
    let out = catalyst(&db.url)
        .args(["ingest", "--feed"])
        .arg(&feed)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = write_sources(&dir, &sources_toml(&base));
    let out = catalyst(&db.url)
        .arg("ingest")
        .arg("--sources")
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("one.rss"), "{stdout}");
    let ad_hoc: (bool, i64) = sqlx::query_as(
        "SELECT s.enabled, (SELECT count(*) FROM ingest_runs r WHERE r.source_id = s.id)
         FROM sources s WHERE NOT from_config",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(ad_hoc, (false, 1), "one run: the ad-hoc one");
}

/// A worker with nothing due sleeps up to 30 s between looks at the queue; a sources
/// sync (here by `catalyst sources list` with a longer file) wakes it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sources_sync_wakes_an_idle_worker() {
    let db = common::test_db().await;
    let mut router = Router::new();
    for n in 0..2 {
        let path: &'static str = Box::leak(format!("/wake/{n}.xml").into_boxed_str());
        router = router.route(
            path,
            get(move || async move {
                format!(
                    r#"<rss version="2.0"><channel><title>Wake {n}</title>
<item><title>Wake-up story number {n}</title><link>https://wake.example/{n}</link>
<pubDate>Mon, 03 Feb 2025 17:00:00 +0000</pubDate></item></channel></rss>"#
                )
            }),
        );
    }
    let base = spawn(router).await;
    let source = |n: usize| {
        format!(
            "[[source]]\nname = \"wake-{n}\"\nkind = \"rss\"\nurl = \"{base}/wake/{n}.xml\"\npoll_interval_secs = 3600\n"
        )
    };
    let head = "[fetch]\nuser_agent = \"catalyst-test/1.0\"\nhost_interval_ms = 0\nretries = 0\n";
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.toml");
    std::fs::write(&one, format!("{head}{}", source(0))).unwrap();
    let two = dir.path().join("two.toml");
    std::fs::write(&two, format!("{head}{}{}", source(0), source(1))).unwrap();

    let mut cmd = catalyst(&db.url);
    cmd.env("RUST_LOG", "catalyst=debug")
        .args(["worker", "--id", "idle", "--sources"])
        .arg(&one);
    let worker = Worker::spawn(cmd);
    let runs =
        |pool: sqlx::PgPool| async move { count(&pool, "SELECT count(*) FROM ingest_runs").await };
    let deadline = Instant::now() + Duration::from_secs(30);
    while runs(db.pool.clone()).await < 1 {
        assert!(
            Instant::now() < deadline,
            "first run missing:\n{}",
            worker.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The worker now has nothing due for an hour: it sleeps its longest (30 s).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let synced = Instant::now();
    let out = catalyst(&db.url)
        .args(["sources", "list", "--sources"])
        .arg(&two)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    while runs(db.pool.clone()).await < 2 {
        assert!(
            synced.elapsed() < Duration::from_secs(15),
            "the new source waited for the worker's next poll:\n{}",
            worker.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, output) = worker.stop().await;
    assert!(status.success(), "{output}");
}

/// SIGTERM while a worker is still starting (opening the database, syncing sources) is a
/// request to stop like any other: exit 0, no claim left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_while_starting_exits_cleanly() {
    let db = common::test_db().await;
    let base = spawn(news_site(Log::default())).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_sources(&dir, &sources_toml(&base));
    // Handlers are in place before the database is even reached: against a "server" that
    // accepts connections and never answers, the process is stuck connecting, and
    // already catches SIGTERM.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("postgres://nobody@{}/none", silent.local_addr().unwrap());
    let mut cmd = catalyst(&silent_url);
    cmd.args(["worker", "--sources"]).arg(&file);
    let mut stuck = Worker::spawn(cmd);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stuck.catches_sigterm() {
        assert!(
            Instant::now() < deadline,
            "SIGTERM not caught while connecting:\n{}",
            stuck.output()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stuck.child.kill().unwrap();
    stuck.child.wait().unwrap();

    for delay_ms in [0, 150] {
        let mut cmd = catalyst(&db.url);
        cmd.args(["worker", "--sources"]).arg(&file);
        let worker = Worker::spawn(cmd);
        // Before its first line `main` cannot do anything about a signal (exec, loading);
        // from the moment it catches SIGTERM, a signal must mean a clean stop.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !worker.catches_sigterm() {
            assert!(Instant::now() < deadline, "SIGTERM never caught");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        let (status, output) = worker.stop().await;
        assert!(
            status.success(),
            "after {delay_ms} ms: {status:?}\n{output}"
        );
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

/// Twelve feeds, each slow to answer; two `catalyst worker` processes share them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_fetch_each_source_once_and_insert_nothing_twice() {
    const SOURCES: usize = 12;
    let db = common::test_db().await;
    let log = Log::default();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let mut router = Router::new();
    for n in 0..SOURCES {
        let (log, in_flight, max_in_flight) =
            (log.clone(), in_flight.clone(), max_in_flight.clone());
        let path: &'static str = Box::leak(format!("/feed/{n}.xml").into_boxed_str());
        router = router.route(
            path,
            get(move |h: HeaderMap| async move {
                log.push(path, &h);
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                max_in_flight.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(400)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                // Every feed also carries one story shared by all, to test dedupe under races.
                format!(
                    r#"<rss version="2.0"><channel><title>Feed {n}</title>
<item><title>Story {n}: Trump pauses tariffs on Mexico and Canada</title><link>https://multi.example/{n}</link>
<pubDate>Mon, 03 Feb 2025 17:0{d}:00 +0000</pubDate></item>
<item><title>Bitcoin tops 100000 dollars for the first time</title><link>https://multi.example/shared</link>
<pubDate>Thu, 05 Dec 2024 02:30:00 +0000</pubDate></item></channel></rss>"#,
                    d = n % 10
                )
            }),
        );
    }
    let base = spawn(router).await;
    let mut text = String::from(
        "[fetch]\nuser_agent = \"catalyst-test/1.0\"\nhost_interval_ms = 0\nretries = 0\n",
    );
    for n in 0..SOURCES {
        text.push_str(&format!(
            "[[source]]\nname = \"feed-{n}\"\nkind = \"rss\"\nurl = \"{base}/feed/{n}.xml\"\npoll_interval_secs = 3600\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write_sources(&dir, &text);

    let spawn_worker = |id: &str| {
        let mut cmd = catalyst(&db.url);
        cmd.env("RUST_LOG", "catalyst=info")
            .args(["worker", "--id", id, "--sources"])
            .arg(&file);
        Worker::spawn(cmd)
    };
    let mut w1 = spawn_worker("w1");
    let mut w2 = spawn_worker("w2");

    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&db.pool, "SELECT count(*) FROM ingest_runs").await < SOURCES as i64 {
        for (name, w) in [("w1", &mut w1), ("w2", &mut w2)] {
            if let Some(status) = w.child.try_wait().unwrap() {
                panic!("{name} exited early ({status}):\n{}", w.output());
            }
        }
        if Instant::now() > deadline {
            let state: Vec<(String, Option<String>, Option<String>)> =
                sqlx::query_as("SELECT name, claimed_by, last_status FROM sources ORDER BY id")
                    .fetch_all(&db.pool)
                    .await
                    .unwrap();
            panic!(
                "workers did not get through the sources in 60 s\nsources: {state:?}\nrequests: {:?}\nw1:\n{}\nw2:\n{}",
                log.counts(),
                w1.output(),
                w2.output()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let a due period's worth of polling pass: nothing is due again for an hour.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (name, w) in [("w1", w1), ("w2", w2)] {
        let (status, output) = w.stop().await;
        assert!(status.success(), "{name}: {status:?}\n{output}");
    }

    let counts = log.counts();
    for n in 0..SOURCES {
        assert_eq!(
            counts.get(&format!("/feed/{n}.xml")),
            Some(&1),
            "feed {n}: {counts:?}"
        );
    }
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM ingest_runs").await,
        SOURCES as i64
    );
    let failed: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT worker, error FROM ingest_runs WHERE status <> 'ok'")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    // Twelve own stories and the shared one, once.
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM articles").await,
        SOURCES as i64 + 1
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM sources WHERE claimed_by IS NOT NULL"
        )
        .await,
        0
    );
    // Both workers were fetching at the same time (one worker fetches one at a time).
    assert!(max_in_flight.load(Ordering::SeqCst) >= 2);
    let workers = count(&db.pool, "SELECT count(DISTINCT worker) FROM ingest_runs").await;
    assert_eq!(workers, 2);
}
