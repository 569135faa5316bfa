//! The `catalyst` binary: help everywhere, one-line errors that name the bad input, a
//! non-zero exit, and nothing already stored lost.

mod common;

use assert_cmd::Command;
use std::io::Write;

fn catalyst(db_url: &str) -> Command {
    let mut cmd = Command::cargo_bin("catalyst").unwrap();
    cmd.env("DATABASE_URL", db_url).env("RUST_LOG", "off");
    cmd
}

/// Run and expect failure; returns stderr, which must be a single `error:` line.
fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "expected a failure");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

async fn bars(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM price_bars")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["ingest", "--help"],
        vec!["prices", "import", "--help"],
        vec!["study", "--help"],
        vec!["serve", "--help"],
        vec!["demo", "--help"],
        vec!["migrate", "--help"],
        vec!["taxonomy", "load", "--help"],
    ] {
        let out = Command::cargo_bin("catalyst")
            .unwrap()
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

#[tokio::test]
async fn bad_price_files_name_file_line_and_field_and_store_nothing() {
    let db = common::test_db().await;
    let prices = common::fixture("pipeline/prices");
    catalyst(&db.url)
        .args(["prices", "import"])
        .arg(prices.join("BTCUSDT.csv"))
        .assert()
        .success();
    let stored = bars(&db.pool).await;
    assert!(stored > 0);

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(prices.join("ETHUSDT.csv"), dir.path().join("ETHUSDT.csv")).unwrap();
    let bad = dir.path().join("SOLUSDT.csv");
    let mut f = std::fs::File::create(&bad).unwrap();
    writeln!(
        f,
        "open_time,close\n2025-01-01 00:00:00,190.5\n2025-01-01 01:00:00,n/a"
    )
    .unwrap();

    let err = fails(catalyst(&db.url).args(["prices", "import"]).arg(&bad));
    assert!(err.contains("SOLUSDT.csv, line 3, field close"), "{err}");
    // A directory with one good and one bad file stores neither.
    let err = fails(catalyst(&db.url).args(["prices", "import"]).arg(dir.path()));
    assert!(err.contains("SOLUSDT.csv, line 3, field close"), "{err}");
    let err = fails(catalyst(&db.url).args(["prices", "import", "/no/such/file.csv"]));
    assert!(err.contains("/no/such/file.csv"), "{err}");
    assert_eq!(bars(&db.pool).await, stored);
}

#[tokio::test]
async fn bad_feeds_name_the_input() {
    let db = common::test_db().await;
    catalyst(&db.url)
        .args(["ingest", "--feed"])
        .arg(common::fixture("pipeline/feed.xml"))
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "4 items, 3 new, 1 already stored",
        ));

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.xml");
    std::fs::write(
        &broken,
        "<rss version=\"2.0\"><channel><item><title>cut off",
    )
    .unwrap();
    let err = fails(catalyst(&db.url).args(["ingest", "--feed"]).arg(&broken));
    assert!(
        err.contains("broken.xml") && err.contains("not a valid"),
        "{err}"
    );
    let err = fails(catalyst(&db.url).args(["ingest", "--feed", "/no/such/feed.xml"]));
    assert!(err.contains("/no/such/feed.xml"), "{err}");
    let err = fails(catalyst(&db.url).args(["ingest", "--feed", "http://127.0.0.1:9/feed.xml"]));
    assert!(err.contains("http://127.0.0.1:9/feed.xml"), "{err}");

    let articles: i64 = sqlx::query_scalar("SELECT count(*) FROM articles")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(articles, 3);
}

#[test]
fn a_bad_database_url_is_a_one_line_error_naming_the_server_and_the_variable() {
    let err = fails(catalyst("postgres://nobody:secret@127.0.0.1:1/none").arg("migrate"));
    assert!(
        err.contains("127.0.0.1:1, database none") && err.contains("DATABASE_URL"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}

#[tokio::test]
async fn a_missing_file_is_named_with_its_cause_once() {
    let db = common::test_db().await;
    for args in [
        vec!["prices", "import", "/no/such/BTCUSDT.csv"],
        vec!["ingest", "--feed", "/no/such/feed.xml"],
        vec!["taxonomy", "load", "--file", "/no/such/taxonomy.csv"],
    ] {
        let err = fails(catalyst(&db.url).args(&args));
        let path = args.iter().find(|a| a.starts_with("/no/such")).unwrap();
        assert_eq!(err.matches(path).count(), 1, "{err}");
        assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    }
}

#[tokio::test]
async fn a_missing_price_directory_is_said_missing_once() {
    let db = common::test_db().await;
    let err = fails(catalyst(&db.url).args(["prices", "import", "/no/such/prices/"]));
    assert!(err.contains("/no/such/prices/"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert!(!err.contains("cannot tell the token"), "{err}");
}

#[test]
fn a_busy_port_is_reported_before_any_set_up() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    // The database is unreachable and the demo data would take seconds: the port comes
    // first, so the error is the port's.
    for args in [
        vec!["demo", "--addr", &addr],
        vec!["serve", "--addr", &addr],
    ] {
        let err = fails(catalyst("postgres://nobody@127.0.0.1:1/none").args(&args));
        assert!(
            err.contains(&format!("cannot listen on {addr}")) && err.contains("--addr"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn study_help_shows_its_own_options_apart_from_the_global_ones_with_defaults() {
    let out = Command::cargo_bin("catalyst")
        .unwrap()
        .args(["study", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let (own, global) = help
        .split_once("Global options:")
        .expect("a global section");
    assert!(
        own.contains("--windows") && !own.contains("--pg-dir"),
        "{help}"
    );
    assert!(global.contains("--pg-dir") && global.contains("--log-format"));
    assert!(
        own.contains("[default: -24:0,0:1,0:4,0:24,-24:24,-24:72 hourly"),
        "{help}"
    );
}

#[test]
fn demo_with_a_wrong_data_dir_says_what_to_pass() {
    let err = fails(catalyst("postgres://nobody@127.0.0.1:1/none").args([
        "demo",
        "--no-serve",
        "--data-dir",
        "/no/such/dir",
    ]));
    assert!(
        err.contains("/no/such/dir") && err.contains("--data-dir"),
        "{err}"
    );
}

#[tokio::test]
async fn study_runs_incrementally_and_exports_csv_and_json() {
    let db = common::test_db().await;
    let prices = common::fixture("pipeline/prices");
    catalyst(&db.url)
        .args(["ingest", "--feed"])
        .arg(common::fixture("pipeline/feed.xml"))
        .assert()
        .success();
    catalyst(&db.url)
        .args(["prices", "import"])
        .arg(&prices)
        .assert()
        .success();
    let study = [
        "study",
        "--estimation=-48:-24",
        "--windows=-24:0,0:4",
        "--min-category-tokens",
        "3",
    ];
    catalyst(&db.url)
        .args(study)
        .assert()
        .success()
        .stdout(predicates::str::contains("3 events, 3 recomputed"));
    // Nothing changed: nothing recomputed; --all recomputes everything.
    catalyst(&db.url)
        .args(study)
        .assert()
        .success()
        .stdout(predicates::str::contains("3 events, 0 recomputed"));
    catalyst(&db.url)
        .args(study)
        .arg("--all")
        .assert()
        .success()
        .stdout(predicates::str::contains("3 events, 3 recomputed"));

    let out = catalyst(&db.url)
        .args([
            "study",
            "export",
            "--format",
            "csv",
            "--table",
            "categories",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        catalyst::study::export::CATEGORY_COLUMNS.join(",")
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM study_category_results")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(lines.count() as i64, stored);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.jsonl");
    catalyst(&db.url)
        .args([
            "study", "export", "--format", "json", "--table", "tokens", "--out",
        ])
        .arg(&file)
        .assert()
        .success();
    let text = std::fs::read_to_string(&file).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = catalyst::study::export::TOKEN_COLUMNS.to_vec();
    want.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, want);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM study_token_results")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(text.lines().count() as i64, stored);

    // Argument errors are clap's: usage error status 2, naming the value.
    let out = catalyst(&db.url)
        .args(["study", "--windows", "5:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"5:1\": the window is empty"));
}
