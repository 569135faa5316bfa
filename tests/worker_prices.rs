//! Prices in the worker: two `catalyst worker --prices` processes against one database
//! fetch the history the study needs once (the backfill job), then keep the recent bars
//! current once (the upkeep job), through the job claims, and stop cleanly on SIGTERM.

mod common;

use std::process::{Command as Std, Stdio};
use std::time::{Duration, Instant};

use chrono::{DurationRound, Utc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_keep_recent_bars_current_once() {
    let db = common::test_db().await;
    // The CSV provider reads <BINANCE SYMBOL>.csv: 72 hours of closes up to the last
    // complete bar (a real provider would be Binance or CoinGecko).
    let dir = tempfile::tempdir().unwrap();
    let last = Utc::now()
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap()
        - chrono::Duration::hours(1);
    for (symbol, base) in [("BTCUSDT", 90_000.0), ("ETHUSDT", 3_000.0)] {
        let mut csv = String::from("open_time,close\n");
        for h in (0..72).rev() {
            let t = last - chrono::Duration::hours(h);
            csv.push_str(&format!(
                "{},{}\n",
                t.format("%Y-%m-%d %H:%M:%S"),
                base + h as f64
            ));
        }
        std::fs::write(dir.path().join(format!("{symbol}.csv")), csv).unwrap();
    }
    let sources = dir.path().join("sources.toml");
    std::fs::write(&sources, "").unwrap();

    let spawn = |id: &str| {
        Std::new(env!("CARGO_BIN_EXE_catalyst"))
            .args([
                "worker",
                "--id",
                id,
                "--prices",
                "--provider",
                "csv",
                "--csv-dir",
            ])
            .arg(dir.path())
            .arg("--sources")
            .arg(&sources)
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "catalyst=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let workers = [spawn("w1"), spawn("w2")];

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done: Option<String> =
            sqlx::query_scalar("SELECT last_status FROM worker_jobs WHERE name = 'prices-upkeep'")
                .fetch_optional(&db.pool)
                .await
                .unwrap()
                .flatten();
        if done.is_some() {
            assert_eq!(done.as_deref(), Some("ok"));
            break;
        }
        assert!(Instant::now() < deadline, "no upkeep run within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for w in &workers {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(w.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
    }
    for w in workers {
        let out = w.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The backfill ran first (upkeep waits for it) and stored all 72 hours of each token
    // of the two files (the study wants 200 days; the files have 3), once; it is due
    // again in a day.
    let (status, summary, hours): (Option<String>, Option<String>, f64) = sqlx::query_as(
        "SELECT last_status, last_summary,
                extract(epoch FROM next_due_at - last_finished_at)::float8 / 3600
         FROM worker_jobs WHERE name = 'prices-backfill'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(status.as_deref(), Some("ok"));
    assert!(
        summary
            .as_deref()
            .unwrap_or_default()
            .contains(" 144 bars stored"),
        "{summary:?}"
    );
    assert!((hours - 24.0).abs() < 0.01, "{hours}");
    // Each bar once; the upkeep job is released and scheduled 15 minutes on.
    let bars: Vec<(String, i64)> = sqlx::query_as(
        "SELECT t.symbol, count(*) FROM price_bars p JOIN tokens t ON t.id = p.token_id
         GROUP BY t.symbol ORDER BY t.symbol",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(bars, [("BTC".to_string(), 72), ("ETH".to_string(), 72)]);
    let (claimed, minutes): (Option<String>, f64) = sqlx::query_as(
        "SELECT claimed_by, extract(epoch FROM next_due_at - last_finished_at)::float8 / 60
         FROM worker_jobs WHERE name = 'prices-upkeep'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(claimed, None);
    assert!((minutes - 15.0).abs() < 0.1, "{minutes}");
    let close: f64 = sqlx::query_scalar(
        "SELECT close FROM price_bars_hourly WHERE token = 'BTC' ORDER BY open_time DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(close, 90_000.0);

    // `/sources` shows the job: healthy, when it ran, its outcome, when it runs next.
    let (_, page) =
        common::get_page(&catalyst::web::AppState::new(db.pool.clone()), "/sources").await;
    let section = &page[page.find("Worker jobs").expect("a worker jobs table")..];
    let row = &section[section.find("prices-upkeep").expect("the upkeep job")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains(">ok<"), "{row}");
    assert!(row.contains("bars stored"), "{row}");
    assert!(
        row.contains("in 14 minutes") || row.contains("in 15 minutes"),
        "{row}"
    );
}
