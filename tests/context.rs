//! The equities context (docs/context.md) on real PostgreSQL: import idempotence and
//! bad input; the DeepSeek event's page and API showing NVDA's −16.97% session; the
//! `event_context` view agreeing with the pages' Rust computation, both agreeing with
//! scripts/check_context.py (pandas, its own time-zone database) on every curated event
//! and with its betas; the worked queries of docs/sql.md, "Equities context".

mod common;

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::{PgPool, Row};

use catalyst::context::{self, config, ContextError};
use catalyst::ingest::{self, FeedLocation};
use catalyst::prices::{self, BarInterval};
use catalyst::web::AppState;

const BUILTIN: &str = "built-in config/context.toml";

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1e-6),
        "{what}: {got} vs {want}"
    );
}

fn equities_dir() -> std::path::PathBuf {
    common::shared_data_dir().join(context::EQUITIES_SUBDIR)
}

/// A close of a shared daily file, read directly.
fn shared_close(symbol: &str, date: &str) -> f64 {
    let text = std::fs::read_to_string(equities_dir().join(format!("{symbol}.csv"))).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "close").unwrap();
    let line = lines.find(|l| l.starts_with(date)).unwrap();
    line.split(',').nth(col).unwrap().parse().unwrap()
}

async fn ingest_curated(pool: &PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("curated.rss");
    let rss = catalyst::cli::demo::curated_to_rss(catalyst::cli::demo::CURATED_EVENTS).unwrap();
    std::fs::write(&feed, rss).unwrap();
    ingest::ingest_feed(
        pool,
        &common::fetcher(),
        &FeedLocation::File(feed),
        Some("curated"),
    )
    .await
    .unwrap();
}

async fn import_builtin(pool: &PgPool) -> context::ImportReport {
    let assets = config::parse(config::BUILTIN_CONTEXT, BUILTIN).unwrap();
    context::import(pool, &assets, BUILTIN, &equities_dir())
        .await
        .unwrap()
}

async fn deepseek_id(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT id FROM events WHERE headline LIKE 'Crypto market nosedives%'")
        .fetch_one(pool)
        .await
        .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[tokio::test]
async fn importing_twice_changes_nothing_and_bad_input_names_its_file_and_line() {
    let db = common::test_db().await;
    let dir = tempfile::tempdir().unwrap();
    // Synthetic files: Friday 24 and Monday 27 January 2025 (winter: 21:00 UTC closes).
    write(
        dir.path(),
        "AAA.csv",
        "date,open,high,low,close,volume\n2025-01-24,10,11,9,10,100\n2025-01-27,9,9.5,8,8.5,300\n",
    );
    write(
        dir.path(),
        "BBB.csv",
        "date,open,high,low,close,adj_close,volume\n2025-06-13,5,5,5,5,4.9,1\n2025-06-16,5,6,5,6,5.9,2\n",
    );
    let toml = "[[asset]]\nsymbol = \"AAA\"\nname = \"A\"\nkind = \"equity\"\nfile = \"AAA.csv\"\ncategories = [\"ai\"]\n\n\
                [[asset]]\nsymbol = \"BBB\"\nname = \"B\"\nkind = \"index\"\nfile = \"BBB.csv\"\nmarket_wide = true\n";
    let assets = config::parse(toml, "ctx.toml").unwrap();
    let first = context::import(&db.pool, &assets, "ctx.toml", dir.path())
        .await
        .unwrap();
    assert_eq!((first.assets, first.bars, first.changed), (2, 4, 4));
    let again = context::import(&db.pool, &assets, "ctx.toml", dir.path())
        .await
        .unwrap();
    assert_eq!(
        (again.bars, again.changed),
        (4, 0),
        "a re-import writes nothing"
    );

    // The session times: winter and summer.
    let rows: Vec<(NaiveDate, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT session_date, open_at, close_at FROM context_bars ORDER BY session_date",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let fmt = |t: DateTime<Utc>| t.format("%H:%M").to_string();
    assert_eq!(
        (fmt(rows[0].1), fmt(rows[0].2)),
        ("14:30".into(), "21:00".into())
    );
    assert_eq!(
        (fmt(rows[3].1), fmt(rows[3].2)),
        ("13:30".into(), "20:00".into())
    );
    let cats: Vec<String> = sqlx::query_scalar(
        "SELECT c.slug FROM context_asset_categories ac JOIN context_assets a ON a.id = ac.asset_id
         JOIN categories c ON c.id = ac.category_id WHERE a.symbol = 'AAA'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(cats, vec!["ai".to_string()]);

    // A changed close is an update of that one row.
    write(
        dir.path(),
        "AAA.csv",
        "date,open,high,low,close,volume\n2025-01-24,10,11,9,10,100\n2025-01-27,9,9.5,8,8.6,300\n",
    );
    let changed = context::import(&db.pool, &assets, "ctx.toml", dir.path())
        .await
        .unwrap();
    assert_eq!(changed.changed, 1);

    // A bad row: nothing of the import is written, the error names file, line, field.
    write(
        dir.path(),
        "BBB.csv",
        "date,open,high,low,close,adj_close,volume\n2025-06-13,5,5,5,5,4.9,1\n2025-06-17,5,6,5,0,5.9,2\n",
    );
    write(
        dir.path(),
        "AAA.csv",
        "date,open,high,low,close,volume\n2025-01-24,10,11,9,10,100\n2025-01-28,9,9.5,8,8.6,300\n",
    );
    let e = context::import(&db.pool, &assets, "ctx.toml", dir.path())
        .await
        .unwrap_err();
    let bbb = dir.path().join("BBB.csv").display().to_string();
    assert_eq!(
        e.to_string(),
        format!("{bbb}, line 3, field close: 0 must be positive")
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM context_bars")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        n, 4,
        "the good file of a failed import is not written either"
    );

    // An unknown category: named at the asset's line of the assets file.
    let toml = "[[asset]]\nsymbol = \"AAA\"\nname = \"A\"\nkind = \"equity\"\nfile = \"AAA.csv\"\ncategories = [\"robots\"]\n";
    let assets = config::parse(toml, "ctx.toml").unwrap();
    let e = context::import(&db.pool, &assets, "ctx.toml", dir.path())
        .await
        .unwrap_err();
    assert!(matches!(e, ContextError::Config { line: 2, .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "ctx.toml, line 2: AAA: no category \"robots\" in the taxonomy"
    );
    // A missing file.
    let toml = "[[asset]]\nsymbol = \"ZZZ\"\nname = \"Z\"\nkind = \"equity\"\nfile = \"ZZZ.csv\"\n";
    let assets = config::parse(toml, "ctx.toml").unwrap();
    let e = context::import(&db.pool, &assets, "ctx.toml", dir.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("ZZZ.csv") && e.contains("No such file"), "{e}");
}

#[tokio::test]
async fn deepseek_shows_nvdas_minus_17_percent_session_on_its_page_and_in_the_api() {
    let db = common::test_db().await;
    ingest_curated(&db.pool).await;
    let report = import_builtin(&db.pool).await;
    assert_eq!(report.assets, 6);
    let id = deepseek_id(&db.pool).await;
    // Independently, from the shared file: Monday's close over Friday's.
    let want = shared_close("NVDA", "2025-01-27") / shared_close("NVDA", "2025-01-24") - 1.0;
    // The files hold single-precision values (118.41999816894531): the same to 1e-6.
    assert!((want - (118.42 / 142.62 - 1.0)).abs() < 1e-6, "{want}");

    let state = AppState::new(db.pool.clone());
    let (status, page) = common::get_page(&state, &format!("/events/{id}")).await;
    assert_eq!(status, 200);
    let section = &page[page.find("Equities around the news").expect("the section")..];
    let nvda = &section[section.find("<strong>NVDA</strong>").expect("NVDA")..];
    let nvda = &nvda[..nvda.find("</li>").unwrap()];
    assert!(nvda.contains(">-16.97%<"), "{nvda}");
    assert!(
        nvda.contains("on Mon 27 Jan 2025 session (close 21:00 UTC)"),
        "{nvda}"
    );
    assert!(
        nvda.contains("previous close 142.62 (Fri 24 Jan 2025) → close 118.42"),
        "{nvda}"
    );
    assert!(nvda.contains("published before the open of Monday 2025-01-27"));
    // AI assets first (NVDA and SMH), then the market-wide ones; SOXX (betas only) and
    // BOTZ (ai-agents: the story is not about AI agents) are not shown.
    let order: Vec<usize> = ["NVDA", "SMH", "QQQ", "SPY"]
        .iter()
        .map(|s| section.find(&format!("<strong>{s}</strong>")).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(!section.contains("<strong>SOXX</strong>"));

    let (status, json) = common::get_page(&state, &format!("/api/v1/events/{id}")).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&json).unwrap();
    let ctx = doc["context"].as_array().unwrap();
    let nvda = ctx.iter().find(|c| c["symbol"] == "NVDA").unwrap();
    close(nvda["session_return"].as_f64().unwrap(), want, "API NVDA");
    assert_eq!(nvda["session_date"], "2025-01-27");
    assert_eq!(nvda["previous_session_date"], "2025-01-24");
    assert_eq!(nvda["session_close_at"], "2025-01-27T21:00:00Z");
    assert_eq!(nvda["timing"], "before-open");
    assert_eq!(nvda["relevance"], "category");
    assert_eq!(nvda["for_categories"], serde_json::json!(["ai"]));
    let spy = ctx.iter().find(|c| c["symbol"] == "SPY").unwrap();
    assert_eq!(spy["relevance"], "market-wide");

    // The OpenAPI document describes the array.
    let (_, spec) = common::get_page(&state, "/api/v1/openapi.json").await;
    let spec: Value = serde_json::from_str(&spec).unwrap();
    assert!(spec
        .pointer("/components/schemas/ContextMoveOut/properties/session_return")
        .is_some());
}

/// The curated events, the equities and the AI tokens' hourly prices (the categories the
/// independent script computes betas for, complete).
async fn real_context_db() -> common::TestDb {
    let db = common::test_db().await;
    ingest_curated(&db.pool).await;
    let prices_dir = common::shared_data_dir().join("prices/binance-hourly-close");
    let ai: Vec<String> = sqlx::query_scalar(
        "SELECT t.symbol FROM tokens t JOIN token_categories tc ON tc.token_id = t.id
         JOIN categories c ON c.id = tc.category_id WHERE c.slug IN ('ai', 'ai-agents')",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    for symbol in ai {
        let file = prices_dir.join(format!("{symbol}USDT.csv"));
        prices::import(&db.pool, &file, None, BarInterval::Hour)
            .await
            .unwrap();
    }
    import_builtin(&db.pool).await;
    db
}

fn expected() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(common::fixture("context/expected.json")).unwrap(),
    )
    .unwrap()
}

/// The independent script's output, run afresh when python3 has pandas and numpy: it
/// must still give the committed figures.
fn script_output() -> Option<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check_context.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(common::shared_data_dir())
        .output()
        .ok()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("No module named"),
            "scripts/check_context.py failed: {err}"
        );
        eprintln!("python3 lacks pandas or numpy: comparing with the committed figures only");
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[tokio::test]
async fn the_view_the_pages_and_the_independent_script_agree() {
    let db = real_context_db().await;
    let pool = &db.pool;
    let expected = expected();
    if let Some(fresh) = script_output() {
        let (a, b) = (&fresh["sessions"], &expected["sessions"]);
        assert_eq!(a.as_array().unwrap().len(), b.as_array().unwrap().len());
        for (x, y) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()) {
            assert_eq!(x["session_date"], y["session_date"]);
            close(
                x["session_return"].as_f64().unwrap(),
                y["session_return"].as_f64().unwrap(),
                "script rerun",
            );
        }
        for (x, y) in fresh["betas"]
            .as_array()
            .unwrap()
            .iter()
            .zip(expected["betas"].as_array().unwrap())
        {
            close(
                x["beta"].as_f64().unwrap(),
                y["beta"].as_f64().unwrap(),
                "script rerun beta",
            );
        }
    }

    // PostgreSQL's America/New_York agrees with the stored session times (our US rule).
    let wrong: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM context_bars b JOIN context_assets a ON a.id = b.asset_id
         WHERE b.close_at <> (b.session_date + time '16:00') AT TIME ZONE a.exchange_timezone
            OR b.open_at <> (b.session_date + time '09:30') AT TIME ZONE a.exchange_timezone",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(wrong, 0);

    // Every row of the view: the same as the pages' computation, and the script's.
    let script: HashMap<(String, String), &Value> = expected["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                (
                    s["published_at"].as_str().unwrap().to_string(),
                    s["symbol"].as_str().unwrap().to_string(),
                ),
                s,
            )
        })
        .collect();
    let view = context::store::event_context_rows(pool).await.unwrap();
    assert!(view.len() > 31, "{} rows", view.len());
    let mut timings: HashMap<String, usize> = HashMap::new();
    let mut checked_against_script = 0;
    for row in &view {
        let moves = context::moves_for_event(pool, row.event_id, row.event_time)
            .await
            .unwrap();
        let m = moves
            .iter()
            .find(|m| m.symbol == row.symbol)
            .unwrap_or_else(|| panic!("event {} {} not on the page", row.event_id, row.symbol));
        let what = format!("event {} {}", row.event_id, row.symbol);
        assert_eq!(m.placement.note, row.note, "{what}");
        assert_eq!(
            m.placement.timing.map(|t| t.as_str().to_string()),
            row.timing,
            "{what}"
        );
        assert_eq!(
            m.placement.session.map(|s| s.date),
            row.session_date,
            "{what}"
        );
        assert_eq!(m.relevance, row.relevance, "{what}");
        assert_eq!(m.session_return, row.session_return, "{what}");
        assert_eq!(m.gap_return, row.gap_return, "{what}");
        *timings
            .entry(row.timing.clone().unwrap_or_default())
            .or_default() += 1;
        let key = (
            row.event_time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            row.symbol.clone(),
        );
        if let Some(s) = script.get(&key) {
            assert_eq!(
                row.session_date.map(|d| d.to_string()).as_deref(),
                s["session_date"].as_str(),
                "{what}"
            );
            assert_eq!(
                row.previous_session_date.map(|d| d.to_string()).as_deref(),
                s["previous_session_date"].as_str(),
                "{what}"
            );
            close(
                row.session_return.unwrap(),
                s["session_return"].as_f64().unwrap(),
                &what,
            );
            checked_against_script += 1;
        }
    }
    assert_eq!(
        checked_against_script,
        view.len(),
        "every row has the script's figures"
    );
    // The curated events cover every kind of timing.
    for t in [
        "before-open",
        "during-session",
        "after-close",
        "weekend",
        "holiday",
    ] {
        assert!(timings.get(t).is_some_and(|n| *n > 0), "{t}: {timings:?}");
    }
    // The Saturday-morning (UTC) TRUMP memecoin story came on Friday evening in New
    // York, and waited through Martin Luther King Day.
    let trump = view
        .iter()
        .find(|r| r.event_time.to_rfc3339() == "2025-01-18T02:00:00+00:00" && r.symbol == "SPY")
        .unwrap();
    assert_eq!(
        trump.note,
        "published after the close of Friday 2025-01-17: first session Tuesday 2025-01-21 \
         (market closed on Monday 2025-01-20: holiday)"
    );

    // Betas: the Rust job's rows against the script's.
    let betas = sqlx::query(
        "SELECT category, symbol, beta, beta_se, alpha, correlation, n_sessions, n_tokens,
                first_session, last_session FROM category_equity_betas
         WHERE category IN ('ai', 'ai-agents')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let want = expected["betas"].as_array().unwrap();
    assert_eq!(betas.len(), want.len());
    assert_eq!(want.len(), 12);
    for w in want {
        let r = betas
            .iter()
            .find(|r| {
                r.get::<String, _>("category") == w["category"].as_str().unwrap()
                    && r.get::<String, _>("symbol") == w["symbol"].as_str().unwrap()
            })
            .unwrap();
        let what = format!("{} on {}", w["category"], w["symbol"]);
        for col in ["beta", "beta_se", "alpha", "correlation"] {
            close(
                r.get::<f64, _>(col),
                w[col].as_f64().unwrap(),
                &format!("{what} {col}"),
            );
        }
        assert_eq!(
            i64::from(r.get::<i32, _>("n_sessions")),
            w["n_sessions"].as_i64().unwrap()
        );
        assert_eq!(
            i64::from(r.get::<i32, _>("n_tokens")),
            w["n_tokens"].as_i64().unwrap()
        );
        assert_eq!(
            r.get::<NaiveDate, _>("first_session").to_string(),
            w["first_session"].as_str().unwrap()
        );
    }

    // The AI category's page shows them.
    let state = AppState::new(pool.clone());
    let (_, page) = common::get_page(&state, "/categories/ai").await;
    let table = &page[page.find("Against equities").expect("the betas table")..];
    let nvda = want
        .iter()
        .find(|w| w["category"] == "ai" && w["symbol"] == "NVDA")
        .unwrap();
    let shown = format!(
        "{:.2} <span class=\"muted\">± {:.2}</span>",
        nvda["beta"].as_f64().unwrap(),
        nvda["beta_se"].as_f64().unwrap()
    );
    assert!(table.contains(&shown), "{shown} not in the table");
}

/// The `<!-- context-query: NAME -->` + ```sql blocks of docs/sql.md.
fn documented_context_queries() -> Vec<(String, String)> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sql.md")).unwrap();
    let mut out = Vec::new();
    let mut rest = doc.as_str();
    while let Some(i) = rest.find("<!-- context-query: ") {
        rest = &rest[i + "<!-- context-query: ".len()..];
        let name = rest[..rest.find(" -->").unwrap()].to_string();
        let start = rest.find("```sql\n").unwrap() + "```sql\n".len();
        let end = start + rest[start..].find("```").unwrap();
        out.push((name, rest[start..end].to_string()));
        rest = &rest[end..];
    }
    out
}

#[tokio::test]
async fn the_equities_queries_of_docs_sql_give_the_independent_figures() {
    let db = real_context_db().await;
    let expected = expected();
    let queries = documented_context_queries();
    assert_eq!(
        queries.len(),
        3,
        "docs/sql.md, Equities context: three queries"
    );
    for (name, sql) in &queries {
        let rows = sqlx::query(sql)
            .fetch_all(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("query {name}: {e}"));
        match name.as_str() {
            "deepseek-equities" => {
                let nvda = rows
                    .iter()
                    .find(|r| r.get::<String, _>("symbol") == "NVDA")
                    .unwrap();
                let want = 100.0
                    * (shared_close("NVDA", "2025-01-27") / shared_close("NVDA", "2025-01-24")
                        - 1.0);
                let got: f64 = nvda.get("session_return_pct");
                assert!((got - want).abs() < 0.005, "{got} vs {want}");
                assert_eq!(rows.len(), 4, "NVDA, SMH, QQQ, SPY");
            }
            "closed-market-news" => {
                // The script's sessions of SPY for the same stories.
                assert!(!rows.is_empty());
                for r in &rows {
                    let t: DateTime<Utc> = r.get("event_time");
                    let key = t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
                    let s = expected["sessions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|s| s["published_at"] == key.as_str() && s["symbol"] == "SPY")
                        .unwrap();
                    let d: NaiveDate = r.get("session_date");
                    assert_eq!(d.to_string(), s["session_date"].as_str().unwrap());
                    let timing: String = r.get("timing");
                    assert!(timing == "weekend" || timing == "holiday", "{timing}");
                }
            }
            "ai-equity-betas" => {
                assert_eq!(rows.len(), 6);
                for r in &rows {
                    let symbol: String = r.get("symbol");
                    let w = expected["betas"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|b| b["category"] == "ai" && b["symbol"] == symbol.as_str())
                        .unwrap();
                    let got: f64 = r.get("beta");
                    assert!(
                        (got - w["beta"].as_f64().unwrap()).abs() < 0.005,
                        "{symbol}"
                    );
                }
            }
            other => panic!("no check for documented query {other}"),
        }
    }
}

/// The command: one-line errors naming the bad input, then an import and the CSV export.
#[tokio::test]
async fn the_context_commands_import_and_export_and_name_bad_input() {
    let db = common::test_db().await;
    ingest_curated(&db.pool).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("catalyst")
            .unwrap()
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "off")
            .args(args)
            .output()
            .unwrap()
    };
    write(
        dir.path(),
        "ctx.toml",
        "[[asset]]\nsymbol = \"SPY\"\nname = \"S&P 500\"\nkind = \"fund\"\nfile = \"SPY.csv\"\n",
    );
    let toml = dir.path().join("ctx.toml");
    let out = run(&[
        "context",
        "import",
        "--file",
        toml.to_str().unwrap(),
        "--dir",
        ".",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: {}, line 4: ", toml.display())),
        "{stderr}"
    );

    write(
        dir.path(),
        "ctx.toml",
        "[[asset]]\nsymbol = \"SPY\"\nname = \"S&P 500\"\nkind = \"etf\"\nfile = \"SPY.csv\"\nmarket_wide = true\n",
    );
    let equities = equities_dir();
    let out = run(&[
        "context",
        "import",
        "--file",
        toml.to_str().unwrap(),
        "--dir",
        equities.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("context: 1 assets, 502 bars from "),
        "{stdout}"
    );

    let csv_path = dir.path().join("context.csv");
    let out = run(&["context", "export", "--out", csv_path.to_str().unwrap()]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&csv_path).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    // SPY is market-wide: one row per curated event.
    assert_eq!(rows.len(), 31);
    let deepseek = rows
        .iter()
        .find(|r| &r[col("event_time")] == "2025-01-27T10:00:00+00:00")
        .unwrap();
    let want = shared_close("SPY", "2025-01-27") / shared_close("SPY", "2025-01-24") - 1.0;
    close(
        deepseek[col("session_return")].parse().unwrap(),
        want,
        "CSV SPY",
    );
    assert_eq!(
        &deepseek[col("note")],
        "published before the open of Monday 2025-01-27"
    );
}
