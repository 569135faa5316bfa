//! The public SQL interface: every view and column documented, the ten worked queries of
//! docs/sql.md run against the demo data with results checked against independent
//! figures (the numpy/scipy DeepSeek fixture, the price CSV files, the curated events
//! file), and read-only roles that can read everything and write nothing.

mod common;

use std::collections::{BTreeMap, HashMap};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection, Row};
use tower::ServiceExt;

use catalyst::db::roles;
use catalyst::study::{self, model::Model, RunOptions, StudyParams, Window};
use catalyst::web::{self, AppState};

/// The `<!-- query: NAME -->` + ```sql blocks of docs/sql.md, in order.
fn documented_queries() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sql.md"),
    )
    .unwrap();
    let mut out = Vec::new();
    let mut rest = doc.as_str();
    while let Some(i) = rest.find("<!-- query: ") {
        rest = &rest[i + "<!-- query: ".len()..];
        let name_end = rest.find(" -->").unwrap();
        let name = rest[..name_end].to_string();
        let start = rest.find("```sql\n").unwrap() + "```sql\n".len();
        let end = start + rest[start..].find("```").unwrap();
        out.push((name, rest[start..end].to_string()));
        rest = &rest[end..];
    }
    out
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() < 1e-8 * want.abs().max(1.0),
        "{what}: {got} vs {want}"
    );
}

fn f(row: &PgRow, col: &str) -> f64 {
    row.try_get::<f64, _>(col)
        .unwrap_or_else(|e| panic!("{col}: {e}"))
}

/// Hourly closes of one shared price file, read directly.
fn csv_closes(symbol: &str) -> BTreeMap<DateTime<Utc>, f64> {
    let path =
        common::shared_data_dir().join(format!("prices/binance-hourly-close/{symbol}USDT.csv"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (t, c) = l.split_once(',').unwrap();
            let t = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc();
            (t, c.trim().parse::<f64>().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn every_view_and_column_is_documented() {
    let db = common::test_db().await;
    let missing: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname || '.' || coalesce(a.attname, '(view)')
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE n.nspname = 'public' AND c.relkind = 'v'
           AND (obj_description(c.oid, 'pg_class') IS NULL
                OR (a.attnum IS NOT NULL AND col_description(c.oid, a.attnum) IS NULL))",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(missing.is_empty(), "undocumented: {missing:?}");
    for view in [
        "event_impact",
        "category_reaction",
        "token_reaction",
        "price_bars_hourly",
        "current_study_run",
        "activity_reaction",
        "activity_reaction_all_runs",
    ] {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_views WHERE schemaname = 'public' AND viewname = $1",
        )
        .bind(view)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(n, 1, "{view}");
    }
}

#[tokio::test]
async fn the_ten_documented_queries_give_the_independent_figures() {
    let db = common::test_db().await;
    let data = common::shared_data_dir();
    catalyst::cli::demo::setup(&db.pool, &data).await.unwrap();
    // A second parameter set for the side-by-side query: market-adjusted against BTC with
    // a short estimation window (the skeleton's naive figure, also in the fixture).
    let naive = StudyParams {
        model: Model::MarketAdjusted,
        estimation: Window::new(-48, -24),
        ..StudyParams::hourly()
    };
    study::run(&db.pool, &naive, RunOptions::default())
        .await
        .unwrap();

    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("deepseek/expected.json")).unwrap(),
    )
    .unwrap();
    let curated = catalyst::cli::demo::CURATED_EVENTS;
    let t0: DateTime<Utc> = expected["event_time"].as_str().unwrap().parse().unwrap();

    let queries = documented_queries();
    assert_eq!(queries.len(), 12, "docs/sql.md has twelve worked queries");
    let activity: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("activity/expected.json")).unwrap(),
    )
    .unwrap();
    let activity_event = |name: &str| {
        activity["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap()
            .clone()
    };
    let mut checked = Vec::new();
    for (name, sql) in &queries {
        let rows = sqlx::query(sql)
            .fetch_all(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("query {name}: {e}"));
        match name.as_str() {
            "top-events-2025" => {
                // Independently: the 2025 events' scores straight from the score table.
                let want: Vec<(String, f64)> = sqlx::query_as(
                    "SELECT e.headline, s.impact_score FROM study_event_scores s
                     JOIN events e ON e.id = s.event_id JOIN study_runs r ON r.id = s.run_id
                     WHERE r.model = 'market-model' AND s.impact_score IS NOT NULL
                       AND e.event_time >= '2025-01-01' AND e.event_time < '2026-01-01'
                     ORDER BY s.impact_score DESC LIMIT 10",
                )
                .fetch_all(&db.pool)
                .await
                .unwrap();
                assert_eq!(rows.len(), 10);
                for (row, (headline, _)) in rows.iter().zip(&want) {
                    assert_eq!(&row.get::<String, _>("headline"), headline);
                }
            }
            "ai-after-regulation-2025" => {
                // The curated file's regulation events of 2025.
                let want = curated
                    .lines()
                    .filter(|l| l.starts_with("2025-") && l.contains(",regulation,"))
                    .count() as i64;
                assert_eq!(want, 4);
                let row = &rows[0];
                assert_eq!(row.get::<i64, _>("events"), want);
                let caars: Vec<f64> = sqlx::query_scalar(
                    "SELECT r.caar FROM study_category_results r
                     JOIN events e ON e.id = r.event_id JOIN categories c ON c.id = r.category_id
                     JOIN study_runs s ON s.id = r.run_id
                     WHERE s.model = 'market-model' AND c.slug = 'ai' AND e.kind = 'regulation'
                       AND r.window_start = 0 AND r.window_end = 24
                       AND e.event_time >= '2025-01-01'",
                )
                .fetch_all(&db.pool)
                .await
                .unwrap();
                assert_eq!(caars.len() as i64, want);
                let mean = caars.iter().sum::<f64>() / caars.len() as f64;
                close(f(row, "avg_ai_caar_24h"), mean, "average AI CAAR");
            }
            "deepseek-categories" => {
                let want = expected["categories"].as_object().unwrap();
                assert_eq!(rows.len(), want.len());
                let mut last_t = f64::NEG_INFINITY;
                for row in &rows {
                    let slug: String = row.get("category");
                    let w = &want[&slug]["-24,24"];
                    close(f(row, "caar"), w["caar"].as_f64().unwrap(), &slug);
                    assert_eq!(
                        i64::from(row.get::<i32, _>("n_tokens")),
                        w["n"].as_i64().unwrap()
                    );
                    if let Some(t) = w["portfolio_t"].as_f64() {
                        close(f(row, "portfolio_t"), t, &format!("{slug} portfolio t"));
                        assert!(t >= last_t, "ordered by portfolio t");
                        last_t = t;
                    }
                }
            }
            "deepseek-worst-tokens" => {
                let mut want: Vec<(String, f64)> = expected["tokens"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(s, v)| (s.clone(), v["car"]["0,24"].as_f64().unwrap()))
                    .collect();
                want.sort_by(|a, b| a.1.total_cmp(&b.1));
                assert_eq!(rows.len(), 10);
                for (row, (sym, car)) in rows.iter().zip(&want) {
                    assert_eq!(&row.get::<String, _>("token"), sym);
                    close(f(row, "car"), *car, sym);
                }
            }
            "spillovers" => {
                assert!(!rows.is_empty(), "the demo has significant spillovers");
                for row in &rows {
                    assert!(f(row, "portfolio_p") < 0.01);
                }
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM study_category_results r JOIN study_runs s ON s.id = r.run_id
                     WHERE s.model = 'market-model' AND r.window_start = -24 AND r.window_end = 24
                       AND r.n_tokens >= $1 AND r.portfolio_p < 0.01
                       AND NOT EXISTS (SELECT 1 FROM event_category_tags g
                                       WHERE g.event_id = r.event_id AND g.category_id = r.category_id)",
                )
                .bind(StudyParams::default().min_category_tokens as i32)
                .fetch_one(&db.pool)
                .await
                .unwrap();
                assert_eq!(rows.len() as i64, n);
            }
            "market-moves" => {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM study_event_scores s JOIN study_runs r ON r.id = s.run_id
                     WHERE r.model = 'market-model' AND abs(s.market_z) > 2",
                )
                .fetch_one(&db.pool)
                .await
                .unwrap();
                assert!(n > 0);
                assert_eq!(rows.len() as i64, n);
            }
            "fet-around-deepseek" => {
                let closes = csv_closes("FET");
                let (from, to) = (t0 - Duration::hours(24), t0 + Duration::hours(48));
                let bars: Vec<(&DateTime<Utc>, &f64)> = closes.range(from..to).collect();
                let mut logs = Vec::new();
                for (t, c) in &bars {
                    if let Some(prev) = closes.get(&(**t - Duration::hours(1))) {
                        logs.push((**c / prev).ln());
                    }
                }
                let row = &rows[0];
                assert_eq!(row.get::<i64, _>("bars"), bars.len() as i64);
                assert_eq!(row.get::<i64, _>("returns"), logs.len() as i64);
                close(
                    f(row, "cumulative_log_return"),
                    logs.iter().sum(),
                    "FET log return",
                );
                close(
                    f(row, "realised_volatility"),
                    logs.iter().map(|r| r * r).sum::<f64>().sqrt(),
                    "FET realised volatility",
                );
                let low = bars.iter().map(|b| *b.1).fold(f64::INFINITY, f64::min);
                close(f(row, "low_close"), low, "FET low");
            }
            "daily-closes" => {
                let closes = csv_closes("BTC");
                let mut want: BTreeMap<chrono::NaiveDate, f64> = BTreeMap::new();
                let from: DateTime<Utc> = "2025-01-25T00:00:00Z".parse().unwrap();
                let to: DateTime<Utc> = "2025-02-01T00:00:00Z".parse().unwrap();
                for (t, c) in closes.range(from..to) {
                    want.insert(t.date_naive(), *c); // later hours overwrite earlier ones
                }
                assert_eq!(rows.len(), want.len());
                for (row, (day, c)) in rows.iter().zip(&want) {
                    assert_eq!(row.get::<chrono::NaiveDate, _>("day"), *day);
                    close(f(row, "close"), *c, &day.to_string());
                }
            }
            "models-side-by-side" => {
                let by_model: HashMap<String, f64> = rows
                    .iter()
                    .map(|r| (r.get::<String, _>("model"), f(r, "caar")))
                    .collect();
                assert_eq!(by_model.len(), 2);
                close(
                    by_model["market-model"],
                    expected["categories"]["ai"]["-24,24"]["caar"]
                        .as_f64()
                        .unwrap(),
                    "market model AI CAAR",
                );
                close(
                    by_model["market-adjusted"],
                    expected["ai_market_adjusted_caar"]["caar"]
                        .as_f64()
                        .unwrap(),
                    "market-adjusted AI CAAR",
                );
            }
            "impact-by-kind" => {
                let mut want: HashMap<String, i64> = HashMap::new();
                for line in curated.lines().skip(1) {
                    let kind = line.split(',').nth(2).unwrap();
                    *want.entry(kind.to_string()).or_default() += 1;
                }
                // The 71 stories of the real headlines come without a kind.
                want.insert("(none)".into(), 71);
                let got: HashMap<String, i64> = rows
                    .iter()
                    .map(|r| (r.get::<String, _>("kind"), r.get::<i64, _>("events")))
                    .collect();
                assert_eq!(got, want);
                // Of the curated events, the first (2024-01-10) has no estimation window
                // before it, and the LIBRA story names no tracked token: 29 are scored.
                let scored: i64 = rows
                    .iter()
                    .filter(|r| r.get::<String, _>("kind") != "(none)")
                    .map(|r| r.get::<i64, _>("scored"))
                    .sum();
                assert_eq!(scored, 29);
            }
            "deepseek-volume-volatility" => {
                // The independent numpy figures (tests/fixtures/activity).
                let want = activity_event("deepseek-sell-off");
                let mut n = 0;
                for r in &rows {
                    let series: String = r.get("series");
                    let key = if series == "ai" {
                        "category:ai".to_string()
                    } else {
                        series.clone()
                    };
                    let measure: String = r.get("measure");
                    let window: String = r.get("window_label");
                    let v = &want["series"][&key][&measure][&window];
                    let what = format!("{key} {measure} {window}");
                    close(f(r, "raw_excess"), v["raw"].as_f64().unwrap(), &what);
                    close(f(r, "abnormal"), v["abnormal"].as_f64().unwrap(), &what);
                    close(f(r, "z_exact"), v["z"].as_f64().unwrap(), &what);
                    n += 1;
                }
                // ai and BTC, volume and volatility, four windows each.
                assert_eq!(n, 16);
            }
            "yen-unwind-range-variance" => {
                let want = activity_event("yen-carry-unwind");
                let raw = want["series"]["BTC"]["volatility"]["[-24,24)"]["raw"]
                    .as_f64()
                    .unwrap();
                close(
                    f(&rows[0], "variance_ratio").ln(),
                    raw,
                    "BTC variance ratio",
                );
                let ratio = f(&rows[0], "variance_ratio");
                assert!((7.0..9.5).contains(&ratio), "{ratio}");
            }
            other => panic!("no check for documented query {other}"),
        }
        checked.push(name.clone());
    }
    assert_eq!(checked.len(), 12);
}

#[tokio::test]
async fn a_read_only_role_reads_every_view_and_cannot_write() {
    let db = common::test_db().await;
    let data = common::shared_data_dir();
    // Enough data for the pages: the curated events and two tokens' prices.
    let dir = tempfile::tempdir().unwrap();
    for sym in ["BTC", "FET"] {
        std::fs::copy(
            data.join(format!("prices/binance-hourly-close/{sym}USDT.csv")),
            dir.path().join(format!("{sym}USDT.csv")),
        )
        .unwrap();
    }
    catalyst::prices::import(
        &db.pool,
        dir.path(),
        None,
        catalyst::prices::BarInterval::Hour,
    )
    .await
    .unwrap();

    let role = format!("catalyst_ro_{}", std::process::id());
    let missing = roles::grant_readonly(&db.pool, &role, false, None).await;
    assert!(matches!(missing, Err(roles::RoleError::Missing(_))));
    let bad = roles::grant_readonly(&db.pool, "Robert'); DROP TABLE events;--", true, None).await;
    assert!(matches!(bad, Err(roles::RoleError::BadName(_))));

    let report = roles::grant_readonly(&db.pool, &role, true, Some("pa'ss"))
        .await
        .unwrap();
    assert!(report.created && report.password_set);
    // Idempotent.
    let again = roles::grant_readonly(&db.pool, &role, true, None)
        .await
        .unwrap();
    assert!(!again.created);

    // A table created after the grant (as a later migration would) is readable too.
    sqlx::query("CREATE TABLE later_table (x int)")
        .execute(&db.pool)
        .await
        .unwrap();

    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_username(&role).unwrap();
    let ro_url = url.to_string();
    let mut conn = PgConnection::connect(&ro_url).await.unwrap();
    for view in [
        "event_impact",
        "category_reaction",
        "token_reaction",
        "price_bars_hourly",
        "category_reaction_all_runs",
        "token_reaction_all_runs",
        "current_study_run",
        "activity_reaction",
        "events",
        "later_table",
    ] {
        sqlx::query(&format!("SELECT * FROM {view} LIMIT 1"))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{view}: {e}"));
    }
    let bars: i64 = sqlx::query_scalar("SELECT count(*) FROM price_bars_hourly")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        bars as usize,
        csv_closes("BTC").len() + csv_closes("FET").len()
    );
    for write in [
        "INSERT INTO sources (name, kind, url) VALUES ('x', 'feed', 'http://x')",
        "UPDATE events SET headline = 'x'",
        "DELETE FROM price_bars",
        "CREATE TABLE mine (x int)",
        "TRUNCATE events",
    ] {
        let err = sqlx::query(write)
            .execute(&mut conn)
            .await
            .expect_err(write)
            .to_string();
        assert!(
            err.contains("read-only") || err.contains("permission denied"),
            "{write}: {err}"
        );
    }
    // Even outside the default read-only transaction mode, the grants refuse writes.
    sqlx::query("SET default_transaction_read_only = off")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = sqlx::query("DELETE FROM price_bars")
        .execute(&mut conn)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("permission denied"), "{err}");
    conn.close().await.unwrap();

    // The web app reads through the role: the list and the API answer.
    let ro_pool = catalyst::db::connect(&ro_url).await.unwrap();
    for path in ["/", "/api/v1/events", "/sources", "/healthz"] {
        let resp = web::router(AppState::new(ro_pool.clone()))
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }
    ro_pool.close().await;

    // Roles are cluster-wide: remove it.
    sqlx::query(&format!("DROP OWNED BY {role}"))
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query(&format!("DROP ROLE {role}"))
        .execute(&db.pool)
        .await
        .unwrap();
}
