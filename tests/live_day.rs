//! A live day, compressed: `catalyst serve` (web, source polling, prices, study) runs
//! against a local fake news site whose stories appear as market time passes and a local
//! fake Binance serving the real shared hourly closes up to the market's now, on a replay
//! clock running 3,600 times faster than the wall clock (an hour a second).
//!
//! It checks that the first start backfills the history the study needs; that a story is
//! listed at once as awaiting prices, with when its first window closes and when it will
//! be scored; that it is scored and ranked once its windows close, with nobody running a
//! command; and that killing the process (SIGKILL) mid-day and starting it again loses
//! nothing (a story published while it was down is stored, the bars of the downtime are
//! filled) and duplicates nothing.

mod common;
#[path = "support/fake_sources.rs"]
mod fake_sources;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use catalyst::clock::Replay;
use chrono::{DateTime, Utc};

/// Market hours per wall-clock second.
const SPEED: f64 = 3600.0;
/// BTC, ETH, a few majors and eight AI tokens (the AI category has enough members).
const TOKENS: &[&str] = &[
    "BTC", "ETH", "SOL", "XRP", "DOGE", "ICP", "NEAR", "FET", "RENDER", "GRT", "TAO", "WLD", "ARKM",
];
/// The longest any step may take (a guard against a hang, not a measurement).
const STEP_LIMIT: Duration = Duration::from_secs(240);

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// The built-in registry's entries of `symbols` only.
fn registry_of(symbols: &[&str]) -> String {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tokens.toml"),
    )
    .unwrap();
    text.split("[[token]]")
        .skip(1)
        .filter(|block| {
            symbols
                .iter()
                .any(|s| block.contains(&format!("symbol = \"{s}\"\n")))
        })
        .map(|block| format!("[[token]]{block}"))
        .collect()
}

/// The live tracker as a process: its web address, and its log file.
struct Live {
    child: Child,
    addr: String,
}

fn start(args: &[String], env: &[(&str, String)], log: &std::path::Path) -> Live {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_catalyst"));
    cmd.args(args)
        .env("RUST_LOG", "catalyst=info")
        .stdout(Stdio::piped())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap(),
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("serving on http://").nth(1) {
                let _ = tx.send(rest.split('/').next().unwrap_or_default().to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(STEP_LIMIT)
        .unwrap_or_else(|_| panic!("the tracker did not start: {}", tail(log)));
    Live { child, addr }
}

fn tail(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Wait until `check` gives a value (every 200 ms), failing after [`STEP_LIMIT`].
async fn wait_for<T, F, Fut>(what: &str, log: &std::path::Path, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + STEP_LIMIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {STEP_LIMIT:?}\n{}",
            tail(log)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_until_market(fake: &fake_sources::Fake, when: DateTime<Utc>) {
    while fake.now() < when {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (score, not-ranked reason) of the event whose headline starts with `start`, in the
/// run the pages show; `None` before the study has seen it.
async fn score_of(pool: &sqlx::PgPool, start: &str) -> Option<(Option<f64>, Option<String>)> {
    sqlx::query_as(
        "SELECT sc.impact_score, sc.not_ranked_reason FROM study_event_scores sc
         JOIN events e ON e.id = sc.event_id
         JOIN current_study_run r ON r.run_id = sc.run_id
         WHERE e.headline LIKE $1 || '%'",
    )
    .bind(start)
    .fetch_optional(pool)
    .await
    .unwrap()
}

async fn get(addr: &str, path: &str) -> String {
    reqwest::get(format!("http://{addr}{path}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

const DEEPSEEK: &str = "Crypto market nosedives";
const QUARTZ: &str = "Bitcoin briefly falls below $100,000";
const WHILE_DOWN: &str = "Someone Sent Nearly $200 Million In Bitcoin";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_day_stories_are_listed_at_once_scored_when_their_windows_close_and_a_restart_loses_nothing(
) {
    let db = common::test_db().await;
    let pool = &db.pool;
    let data = common::shared_data_dir();
    let closes =
        fake_sources::load_closes(&data.join("prices/binance-hourly-close"), TOKENS).unwrap();
    let curated = fake_sources::curated_stories(catalyst::cli::demo::CURATED_EVENTS);
    let newsapi = fake_sources::newsapi_stories(
        &std::fs::read_to_string(data.join("news/newsapi-crypto-2025-01.json")).unwrap(),
    );
    let pick = |from: &[fake_sources::Story], start: &str| {
        from.iter()
            .find(|s| s.title.starts_with(start))
            .cloned()
            .unwrap_or_else(|| panic!("no story {start:?}"))
    };
    // The DeepSeek sell-off (10:00), a report of the same rout (13:37), and a story the
    // next day published while the tracker is down (12:30).
    let stories = vec![
        pick(&curated, DEEPSEEK),
        pick(&newsapi, QUARTZ),
        pick(&newsapi, WHILE_DOWN),
    ];
    let replay = Replay {
        start: t("2025-01-27T06:00:00Z"),
        at: Utc::now(),
        speed: SPEED,
    };
    let fake = fake_sources::Fake::new(replay, stories.clone(), closes);
    let (fake_addr, _server) = fake_sources::serve(fake.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let sources = dir.path().join("sources.toml");
    std::fs::write(
        &sources,
        format!(
            "[fetch]\nhost_interval_ms = 0\nretries = 1\ntimeout_secs = 10\n\n\
             [[source]]\nname = \"fake-news\"\nkind = \"rss\"\nurl = \"http://{fake_addr}/feed.xml\"\n\
             poll_interval_secs = 10\n"
        ),
    )
    .unwrap();
    let registry = dir.path().join("tokens.toml");
    std::fs::write(&registry, registry_of(TOKENS)).unwrap();
    let log = dir.path().join("catalyst.log");
    let spec = format!(
        "{},speed={SPEED},at={}",
        replay.start.to_rfc3339(),
        replay.at.to_rfc3339()
    );
    let args = |id: &str| -> Vec<String> {
        [
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--sources",
            sources.to_str().unwrap(),
            "--registry",
            registry.to_str().unwrap(),
            "--id",
            id,
            "--lease-secs",
            "6",
            "--prices-every-mins",
            "60",
            "--study-min-gap-secs",
            "2",
            "--replay",
            &spec,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let env = [
        ("DATABASE_URL", db.url.clone()),
        ("CATALYST_BINANCE_URL", format!("http://{fake_addr}")),
    ];
    let mut live = start(&args("live-1"), &env, &log);

    // First start: the history the study needs (200 days before the market's now) is
    // fetched before the study or upkeep runs.
    let summary: String = wait_for("the first-start backfill", &log, || async {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT last_summary FROM worker_jobs WHERE name = 'prices-backfill' AND last_status = 'ok'",
        )
        .fetch_optional(pool)
        .await
        .unwrap()
        .flatten()
    })
    .await;
    assert!(summary.starts_with("13 tokens"), "{summary}");
    let btc_from: DateTime<Utc> =
        sqlx::query_scalar("SELECT min(open_time) FROM price_bars_hourly WHERE token = 'BTC'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(
        btc_from <= t("2024-07-11T06:00:00Z") && btc_from >= t("2024-07-09T00:00:00Z"),
        "{btc_from}: 200 days before 2025-01-27"
    );

    // The DeepSeek story appears: at once on the list as awaiting prices, with when its
    // first window closes and when it will be scored; not scored yet.
    wait_for("the DeepSeek story is ingested", &log, || async {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM events WHERE headline LIKE $1 || '%'")
                .bind(DEEPSEEK)
                .fetch_one(pool)
                .await
                .unwrap();
        (n > 0).then_some(())
    })
    .await;
    let page = get(&live.addr, "/").await;
    let section = &page[page
        .find("New stories awaiting prices")
        .unwrap_or_else(|| panic!("no awaiting section:\n{page}"))..];
    let row = &section[section.find(DEEPSEEK).expect("the story is listed")..];
    let row = &row[..row.find("</li>").unwrap()];
    assert!(
        row.contains("awaiting prices: first window [0, +1h] closes 2025-01-27 11:00 UTC; scored after 2025-01-30 10:00 UTC"),
        "{row}"
    );
    assert!(matches!(
        score_of(pool, DEEPSEEK).await,
        None | Some((None, _))
    ));

    // Mid-day the process is killed; a story is published while it is down.
    wait_until_market(&fake, t("2025-01-28T10:00:00Z")).await;
    live.child.kill().unwrap();
    live.child.wait().unwrap();
    let stored_before_kill: i64 =
        sqlx::query_scalar("SELECT count(*) FROM articles WHERE title LIKE $1 || '%'")
            .bind(WHILE_DOWN)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(stored_before_kill, 0, "not yet published at the kill");
    wait_until_market(&fake, t("2025-01-28T14:00:00Z")).await;
    let mut live = start(&args("live-2"), &env, &log);

    // Nothing lost: the story of the downtime is stored once the dead process's claim
    // has lapsed.
    wait_for("the story published while down", &log, || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM articles WHERE title LIKE $1 || '%'")
            .bind(WHILE_DOWN)
            .fetch_one(pool)
            .await
            .unwrap();
        (n > 0).then_some(())
    })
    .await;

    // The DeepSeek story is scored once its last window has closed (2025-01-30 10:00),
    // with no command run, and ranks: on the live list without "not ranked".
    let (score, why) = wait_for("the DeepSeek story scored", &log, || async {
        score_of(pool, DEEPSEEK)
            .await
            .filter(|(score, _)| score.is_some())
    })
    .await;
    assert!(fake.now() >= t("2025-01-30T10:00:00Z"));
    assert_eq!(why, None, "ranked");
    assert!(score.is_some_and(f64::is_finite));
    let page = get(&live.addr, "/").await;
    let ranked = &page[page.find("id=\"ranked\"").unwrap()..];
    let row = &ranked[ranked.find(DEEPSEEK).expect("on the ranked list")..];
    let row = &row[..row.find("</li>").unwrap()];
    assert!(!row.contains("not ranked"), "{row}");
    if let Some(at) = page.find("New stories awaiting prices") {
        let section = &page[at..page[at..].find("</details>").map_or(page.len(), |e| at + e)];
        assert!(!section.contains(DEEPSEEK), "scored: no longer awaiting");
    }

    // The story of the downtime is studied too: awaiting prices until its own windows
    // close (2025-01-31 13:00), or not ranked for a reason of its own (what it names).
    let (_, why) = wait_for("the downtime's story studied", &log, || async {
        score_of(pool, WHILE_DOWN).await
    })
    .await;
    let why = why.unwrap_or_default();
    assert!(
        !why.starts_with("awaiting prices") || why.ends_with("at 2025-01-31 13:00 UTC"),
        "{why}"
    );

    // A clean stop: SIGTERM, exit 0, no claim left.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(live.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(live.child.wait().unwrap().success(), "{}", tail(&log));
    let final_market = fake.now();

    // Nothing duplicated: each published story's article once, each event once.
    let titles: Vec<(String, i64)> =
        sqlx::query_as("SELECT title, count(*) FROM articles GROUP BY title ORDER BY title")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert!(titles.iter().all(|(_, n)| *n == 1), "{titles:?}");
    let dup_events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT headline FROM events GROUP BY headline HAVING count(*) > 1) d",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(dup_events, 0);
    // Nothing lost in the prices: every hour of BTC from the day of the first start to the
    // last bar fetched before the stop (the DeepSeek story's last window needed up to
    // 2025-01-30 09:00), the downtime included, each once.
    let (bars, first, last): (i64, DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "SELECT count(*), min(open_time), max(open_time) FROM price_bars_hourly
         WHERE token = 'BTC' AND open_time >= '2025-01-27 00:00:00+00'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(first, t("2025-01-27T00:00:00Z"));
    assert!(
        last >= t("2025-01-30T09:00:00Z") && last < final_market,
        "{last}"
    );
    assert_eq!(bars, (last - first).num_hours() + 1, "no gap, no duplicate");
    let claimed: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM sources WHERE claimed_by IS NOT NULL)
              + (SELECT count(*) FROM worker_jobs WHERE claimed_by IS NOT NULL)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(claimed, 0, "claims released at the stop");
    let runs: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT name, last_summary FROM worker_jobs ORDER BY name")
            .fetch_all(pool)
            .await
            .unwrap();
    eprintln!(
        "live day: stopped at market time {final_market}; DeepSeek score {score:?}; \
         the downtime's story: {why:?}; {} feed and {} klines requests; jobs {runs:?}",
        fake.feed_requests
            .load(std::sync::atomic::Ordering::Relaxed),
        fake.kline_requests
            .load(std::sync::atomic::Ordering::Relaxed),
    );
}
