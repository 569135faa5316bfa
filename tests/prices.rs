//! Prices at production grade: the real Binance and CoinGecko clients against local
//! servers on 127.0.0.1 that answer with the providers' documented JSON shapes (and
//! error bodies); backfills, gaps, renames, upkeep by two workers, bulk loads, proxies.
//! Expected values come from the servers' price formula or are worked out by hand.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use sqlx::PgPool;

use catalyst::prices::backfill::{self, BackfillEvent, BackfillReport};
use catalyst::prices::binance::Binance;
use catalyst::prices::coingecko::{ApiKey, CoinGecko};
use catalyst::prices::provider::{HttpPolicy, Provider};
use catalyst::prices::{self, proxies, registry, store, upkeep, BarInterval};
use catalyst::study::{self, RunOptions, StudyParams, Window};

const HOUR_MS: i64 = 3_600_000;

fn t(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

/// The servers' price of `symbol` at `ms`: a deterministic wiggle, distinct per symbol.
fn price(symbol: &str, ms: i64) -> f64 {
    let seed = symbol.bytes().map(f64::from).sum::<f64>();
    let h = (ms / HOUR_MS) as f64;
    10.0 + seed / 100.0 + (h * 0.7 + seed).sin()
}

/// What the fake Binance does.
#[derive(Default)]
struct BinanceState {
    /// symbol -> [listed from, delisted at) in ms.
    listings: HashMap<String, (i64, i64)>,
    /// Every request: (symbol, startTime).
    log: Mutex<Vec<(String, i64)>>,
    /// Answer 429 with Retry-After: 1 to the first request.
    rate_limit_first: AtomicBool,
    /// Answer 500 to requests starting at or after this time (ms), while set.
    fail_from: Mutex<Option<i64>>,
    /// Repeat every kline and reverse the order.
    messy: bool,
    /// Delay each answer (to make workers overlap).
    delay: Duration,
}

async fn klines(
    State(s): State<Arc<BinanceState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let symbol = q.get("symbol").cloned().unwrap_or_default();
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
    let (Some(start), Some(end)) = (num("startTime"), num("endTime")) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": -1102, "msg": "Mandatory parameter was not sent."})),
        )
            .into_response();
    };
    s.log.lock().unwrap().push((symbol.clone(), start));
    tokio::time::sleep(s.delay).await;
    if s.rate_limit_first.swap(false, Ordering::SeqCst) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            Json(json!({"code": -1003, "msg": "Too many requests; current limit is 6000 request weight per 1 MINUTE."})),
        )
            .into_response();
    }
    if s.fail_from.lock().unwrap().is_some_and(|f| start >= f) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "upstream down").into_response();
    }
    let Some(&(listed, delisted)) = s.listings.get(&symbol) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": -1121, "msg": "Invalid symbol."})),
        )
            .into_response();
    };
    assert_eq!(q.get("interval").map(String::as_str), Some("1h"));
    let limit = num("limit").unwrap_or(500).min(1000);
    let first = start.max(listed).div_euclid(HOUR_MS) * HOUR_MS;
    let first = if first < start.max(listed) {
        first + HOUR_MS
    } else {
        first
    };
    let mut rows = Vec::new();
    let mut open = first;
    while open <= end && open < delisted && (rows.len() as i64) < limit {
        let c = price(&symbol, open);
        let s = |x: f64| format!("{x:.8}");
        rows.push(json!([
            open,
            s(c),
            s(c * 1.01),
            s(c * 0.99),
            s(c),
            "10.0",
            open + HOUR_MS - 1,
            s(c * 10.0),
            5,
            "1.0",
            "1.0",
            "0"
        ]));
        open += HOUR_MS;
    }
    if s.messy {
        let copy = rows.clone();
        rows.extend(copy);
        rows.reverse();
    }
    ([("x-mbx-used-weight-1m", "12")], Json(rows)).into_response()
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn binance_server(state: BinanceState) -> (Provider, Arc<BinanceState>) {
    let state = Arc::new(state);
    let router = Router::new()
        .route("/api/v3/klines", get(klines))
        .with_state(state.clone());
    let base = serve(router).await;
    let policy = HttpPolicy {
        backoff: Duration::from_millis(10),
        max_attempts: 3,
        ..HttpPolicy::default()
    };
    (
        Provider::Binance(Binance::new(&base, policy).unwrap()),
        state,
    )
}

fn listed(symbols: &[&str]) -> HashMap<String, (i64, i64)> {
    symbols
        .iter()
        .map(|s| (s.to_string(), (0, i64::MAX)))
        .collect()
}

async fn db_with_registry() -> common::TestDb {
    let db = common::test_db().await;
    let text = std::fs::read_to_string(common::fixture("prices/registry.toml")).unwrap();
    let reg = registry::parse(&text, "registry.toml").unwrap();
    store::save_registry(&db.pool, &reg).await.unwrap();
    db
}

fn quiet(_: BackfillEvent<'_>) {}

async fn run_backfill(
    pool: &PgPool,
    p: &Provider,
    tokens: &[&str],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> BackfillReport {
    let tokens: Vec<String> = tokens.iter().map(|s| s.to_string()).collect();
    backfill::backfill(pool, p, Some(&tokens), BarInterval::Hour, from, to, &quiet)
        .await
        .unwrap()
}

async fn bars_of(pool: &PgPool, symbol: &str) -> Vec<(DateTime<Utc>, f64, String)> {
    sqlx::query_as(
        "SELECT p.open_time, p.close, p.source FROM price_bars p JOIN tokens t ON t.id = p.token_id
         WHERE t.symbol = $1 ORDER BY p.open_time",
    )
    .bind(symbol)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn binance_pages_across_the_1000_bar_limit() {
    let db = db_with_registry().await;
    let (p, server) = binance_server(BinanceState {
        listings: listed(&["FETUSDT"]),
        ..Default::default()
    })
    .await;
    let from = t(2024, 1, 1, 0);
    let to = from + chrono::Duration::hours(2500);
    let r = run_backfill(&db.pool, &p, &["FET"], from, to).await;
    assert_eq!(
        (r.missing_before, r.stored, r.missing_after),
        (2500, 2500, 0)
    );
    let starts: Vec<i64> = server.log.lock().unwrap().iter().map(|l| l.1).collect();
    let ms = from.timestamp_millis();
    assert_eq!(starts, vec![ms, ms + 1000 * HOUR_MS, ms + 2000 * HOUR_MS]);
    let bars = bars_of(&db.pool, "FET").await;
    assert_eq!(bars.len(), 2500);
    for (open, close, source) in [&bars[0], &bars[999], &bars[1000], &bars[2499]] {
        let want = price("FETUSDT", open.timestamp_millis());
        assert!((close - want).abs() < 1e-7, "{open}: {close} vs {want}");
        assert_eq!(source, "binance:FETUSDT");
    }
    // Nothing missing: a rerun asks for nothing.
    let again = run_backfill(&db.pool, &p, &["FET"], from, to).await;
    assert_eq!((again.requests, again.stored), (0, 0));
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let db = db_with_registry().await;
    let (p, server) = binance_server(BinanceState {
        listings: listed(&["NEARUSDT"]),
        rate_limit_first: AtomicBool::new(true),
        ..Default::default()
    })
    .await;
    let from = t(2024, 3, 1, 0);
    let started = std::time::Instant::now();
    let r = run_backfill(
        &db.pool,
        &p,
        &["NEAR"],
        from,
        from + chrono::Duration::hours(10),
    )
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After"
    );
    assert_eq!((r.stored, r.failures.len()), (10, 0));
    assert_eq!(server.log.lock().unwrap().len(), 2, "one 429, one retry");
}

#[tokio::test]
async fn provider_error_bodies_are_reported_and_other_tokens_go_on() {
    let db = db_with_registry().await;
    // NEARUSDT is unknown to this exchange: Binance's -1121 body.
    let (p, _) = binance_server(BinanceState {
        listings: listed(&["FETUSDT"]),
        ..Default::default()
    })
    .await;
    let from = t(2024, 3, 1, 0);
    let r = run_backfill(
        &db.pool,
        &p,
        &["NEAR", "FET"],
        from,
        from + chrono::Duration::hours(5),
    )
    .await;
    assert_eq!(r.stored, 5, "FET still fetched");
    assert_eq!(r.failures.len(), 1);
    let (symbol, error) = &r.failures[0];
    assert_eq!(symbol, "NEAR");
    assert!(
        error.contains("code -1121") && error.contains("Invalid symbol."),
        "{error}"
    );
    assert!(error.contains("symbol=NEARUSDT"), "names the URL: {error}");

    // CoinGecko's two error shapes.
    let router = Router::new().route(
        "/coins/{id}/market_chart/range",
        get(|Path(id): Path<String>| async move {
            if id == "fetch-ai" {
                (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"status": {"error_code": 10002, "error_message": "API Key Missing"}})),
                )
            } else {
                (StatusCode::NOT_FOUND, Json(json!({"error": "coin not found"})))
            }
        }),
    );
    let base = serve(router).await;
    let cg = Provider::CoinGecko(CoinGecko::new(&base, None, HttpPolicy::default()).unwrap());
    // FET's first hours are stored now: ask for later ones.
    let later = from + chrono::Duration::days(10);
    let r = run_backfill(
        &db.pool,
        &cg,
        &["FET", "NEAR"],
        later,
        later + chrono::Duration::hours(5),
    )
    .await;
    let errors: HashMap<String, String> = r.failures.into_iter().collect();
    assert!(errors["FET"].contains("code 10002") && errors["FET"].contains("API Key Missing"));
    assert!(
        errors["NEAR"].contains("coin not found"),
        "{}",
        errors["NEAR"]
    );
}

#[tokio::test]
async fn duplicate_and_out_of_order_bars_are_stored_once_in_order() {
    let db = db_with_registry().await;
    let (p, _) = binance_server(BinanceState {
        listings: listed(&["ETHUSDT"]),
        messy: true,
        ..Default::default()
    })
    .await;
    let from = t(2024, 5, 1, 0);
    let r = run_backfill(
        &db.pool,
        &p,
        &["ETH"],
        from,
        from + chrono::Duration::hours(30),
    )
    .await;
    assert_eq!(r.stored, 30);
    let bars = bars_of(&db.pool, "ETH").await;
    assert_eq!(bars.len(), 30);
    for (i, (open, close, _)) in bars.iter().enumerate() {
        assert_eq!(*open, from + chrono::Duration::hours(i as i64));
        assert!((close - price("ETHUSDT", open.timestamp_millis())).abs() < 1e-7);
    }
}

#[tokio::test]
async fn a_rename_keeps_one_continuous_history() {
    let db = db_with_registry().await;
    let switch = t(2024, 7, 26, 8).timestamp_millis();
    let mut listings = HashMap::new();
    listings.insert("RNDRUSDT".to_string(), (0, switch));
    listings.insert("RENDERUSDT".to_string(), (switch, i64::MAX));
    let (p, server) = binance_server(BinanceState {
        listings,
        ..Default::default()
    })
    .await;
    let from = t(2024, 7, 25, 0);
    // Asked for by its former ticker (an alias in the taxonomy).
    let r = run_backfill(
        &db.pool,
        &p,
        &["RNDR"],
        from,
        from + chrono::Duration::hours(48),
    )
    .await;
    assert_eq!((r.stored, r.missing_after, r.failures.len()), (48, 0, 0));
    let asked: Vec<String> = server
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|l| l.0.clone())
        .collect();
    assert_eq!(asked, vec!["RNDRUSDT", "RENDERUSDT"]);
    let bars = bars_of(&db.pool, "RENDER").await;
    assert_eq!(bars.len(), 48);
    let old = bars.iter().filter(|b| b.2 == "binance:RNDRUSDT").count();
    assert_eq!(
        old, 32,
        "2024-07-25 00:00 to 2024-07-26 08:00 under the old ticker"
    );
    for (open, close, source) in &bars {
        let id = source.trim_start_matches("binance:");
        assert!((close - price(id, open.timestamp_millis())).abs() < 1e-7);
    }
}

#[tokio::test]
async fn an_interrupted_backfill_resumes_without_duplicates() {
    let db = db_with_registry().await;
    let from = t(2024, 1, 1, 0);
    let to = from + chrono::Duration::hours(3000);
    let (p, server) = binance_server(BinanceState {
        listings: listed(&["BTCUSDT", "ETHUSDT"]),
        ..Default::default()
    })
    .await;
    // The exchange breaks after the first page of every token.
    *server.fail_from.lock().unwrap() = Some(from.timestamp_millis() + 1000 * HOUR_MS);
    let first = run_backfill(&db.pool, &p, &["BTC", "ETH"], from, to).await;
    assert_eq!(first.stored, 2000);
    assert_eq!(first.failures.len(), 2);
    *server.fail_from.lock().unwrap() = None;
    server.log.lock().unwrap().clear();
    let second = run_backfill(&db.pool, &p, &["BTC", "ETH"], from, to).await;
    assert_eq!(
        (second.missing_before, second.stored, second.missing_after),
        (4000, 4000, 0)
    );
    // It asked only for what was missing.
    assert!(server
        .log
        .lock()
        .unwrap()
        .iter()
        .all(|(_, start)| *start >= from.timestamp_millis() + 1000 * HOUR_MS));
    // The same as one clean run into a fresh database.
    let clean_db = db_with_registry().await;
    let clean = run_backfill(&clean_db.pool, &p, &["BTC", "ETH"], from, to).await;
    assert_eq!(clean.stored, 6000);
    let count = |pool: PgPool| async move {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM price_bars")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(count(db.pool.clone()).await, 6000);
    assert_eq!(count(clean_db.pool.clone()).await, 6000);
}

#[tokio::test]
async fn coingecko_chunks_long_ranges_and_resamples_to_the_grid() {
    let db = db_with_registry().await;
    let log: Arc<Mutex<Vec<(i64, i64)>>> = Arc::default();
    let state = log.clone();
    let router = Router::new().route(
        "/coins/{id}/market_chart/range",
        get(
            move |Path(id): Path<String>,
                  Query(q): Query<HashMap<String, String>>,
                  headers: HeaderMap| {
                let log = state.clone();
                async move {
                    assert_eq!(headers.get("x-cg-demo-api-key").unwrap(), "k-123");
                    assert_eq!(q["vs_currency"], "usd");
                    let from: i64 = q["from"].parse().unwrap();
                    let to: i64 = q["to"].parse().unwrap();
                    log.lock().unwrap().push((from, to));
                    assert!(
                        to - from <= 90 * 86_400,
                        "hourly data needs ranges of at most 90 days"
                    );
                    // Hourly points three minutes past the hour, like CoinGecko's.
                    let mut prices = Vec::new();
                    let mut caps = Vec::new();
                    let mut ms = (from * 1000).div_euclid(HOUR_MS) * HOUR_MS + 180_000;
                    while ms <= to * 1000 {
                        if ms >= from * 1000 {
                            prices.push(json!([ms, price(&id, ms)]));
                            caps.push(json!([ms, price(&id, ms) * 1e6]));
                        }
                        ms += HOUR_MS;
                    }
                    Json(json!({"prices": prices, "market_caps": caps, "total_volumes": []}))
                }
            },
        ),
    );
    let base = serve(router).await;
    let cg = Provider::CoinGecko(
        CoinGecko::new(
            &base,
            Some(ApiKey::Demo("k-123".into())),
            HttpPolicy::default(),
        )
        .unwrap(),
    );
    let from = t(2024, 1, 1, 0);
    let to = from + chrono::Duration::days(100);
    let r = run_backfill(&db.pool, &cg, &["FET"], from, to).await;
    assert_eq!((r.stored, r.missing_after, r.requests), (2400, 0, 2));
    let log = log.lock().unwrap().clone();
    assert_eq!(log[0], (from.timestamp(), from.timestamp() + 90 * 86_400));
    let bars = bars_of(&db.pool, "FET").await;
    let (open, close, source) = &bars[1234];
    // The bar's close is the last observation inside it: hh:03.
    let want = price("fetch-ai", open.timestamp_millis() + 180_000);
    assert!((close - want).abs() < 1e-9);
    assert_eq!(source, "coingecko:fetch-ai");
    let cap: f64 = sqlx::query_scalar(
        "SELECT market_cap FROM price_bars p JOIN tokens t ON t.id = p.token_id
         WHERE t.symbol = 'FET' AND p.open_time = $1",
    )
    .bind(open)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!((cap - want * 1e6).abs() < 1e-3);
}

#[tokio::test]
async fn gaps_are_found_and_the_study_drops_a_token_with_one_in_its_window() {
    let db = db_with_registry().await;
    let dir = tempfile::tempdir().unwrap();
    let start = t(2024, 2, 1, 0);
    let event_bar = 60;
    for symbol in ["BTC", "ETH", "FET", "NEAR", "RENDER", "STBL"] {
        let mut text = String::from("open_time,close\n");
        for i in 0..100i64 {
            // FET misses bar +2 of the event.
            if symbol == "FET" && i == event_bar + 2 {
                continue;
            }
            let open = start + chrono::Duration::hours(i);
            let c = price(symbol, open.timestamp_millis()) * (1.0 + 0.001 * (i as f64 * 1.3).cos());
            text.push_str(&format!("{},{c}\n", open.format("%Y-%m-%d %H:%M:%S")));
        }
        let path = dir.path().join(format!("{symbol}.csv"));
        std::fs::write(&path, text).unwrap();
        prices::import(&db.pool, &path, Some(symbol), BarInterval::Hour)
            .await
            .unwrap();
    }
    let fet = store::tracked_tokens(&db.pool, "binance", Some(&["FET".to_string()]))
        .await
        .unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    let gaps = store::missing_ranges(
        &mut conn,
        fet[0].id,
        BarInterval::Hour,
        start,
        start + chrono::Duration::hours(100),
    )
    .await
    .unwrap();
    let gap_at = start + chrono::Duration::hours(event_bar + 2);
    assert_eq!(
        gaps,
        vec![store::MissingRange {
            start: gap_at,
            end: gap_at + chrono::Duration::hours(1),
            bars: 1
        }]
    );

    let event_time = start + chrono::Duration::hours(event_bar);
    sqlx::query("INSERT INTO events (event_time, headline) VALUES ($1, 'AI news')")
        .bind(event_time)
        .execute(&db.pool)
        .await
        .unwrap();
    let params = StudyParams {
        estimation: Window::new(-48, -24),
        windows: vec![Window::new(-24, 0), Window::new(0, 4)],
        ranking_window: Window::new(0, 4),
        min_category_tokens: 2,
        ..StudyParams::hourly()
    };
    study::run(&db.pool, &params, RunOptions::default())
        .await
        .unwrap();
    let dropped: Vec<(String, String)> = sqlx::query_as(
        "SELECT t.symbol, d.reason FROM study_dropped_tokens d JOIN tokens t ON t.id = d.token_id
         ORDER BY t.symbol",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let fet_reason = dropped.iter().find(|d| d.0 == "FET").map(|d| d.1.clone());
    assert!(
        fet_reason
            .as_deref()
            .is_some_and(|r| r.contains("missing bar +2")),
        "{dropped:?}"
    );
    let studied: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT t.symbol FROM study_token_results r JOIN tokens t ON t.id = r.token_id ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(studied.contains(&"NEAR".to_string()) && studied.contains(&"RENDER".to_string()));
    assert!(!studied.contains(&"FET".to_string()));
    // The stablecoin flag keeps STBL out of the study altogether (not even dropped).
    assert!(!studied.contains(&"STBL".to_string()));
    assert!(dropped.iter().all(|d| d.0 != "STBL"));
}

#[tokio::test]
async fn a_bad_row_names_file_line_and_field_and_stores_nothing() {
    let db = common::test_db().await;
    let err = prices::import(
        &db.pool,
        &common::fixture("prices/bad"),
        None,
        BarInterval::Hour,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("BBBUSDT.csv, line 3, field close"), "{err}");
    // A failure inside the database (a symbol longer than tokens allow) after the first
    // file was already streamed: the whole load rolls back.
    let err = prices::import(
        &db.pool,
        &common::fixture("prices/bad_db"),
        None,
        BarInterval::Hour,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("database error"), "{err}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM price_bars")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn proxies_are_materialised_as_documented() {
    let db = db_with_registry().await;
    prices::import(
        &db.pool,
        &common::fixture("prices/caps"),
        None,
        BarInterval::Hour,
    )
    .await
    .unwrap();
    proxies::build(&db.pool, BarInterval::Hour).await.unwrap();
    type Row = (String, DateTime<Utc>, f64, Option<f64>, i32);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT proxy, open_time, level, ret, n_tokens FROM market_proxy_bars
         WHERE interval = '1h' ORDER BY proxy, open_time",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let series = |p: &str| -> Vec<(f64, Option<f64>)> {
        rows.iter()
            .filter(|r| r.0 == p)
            .map(|r| (r.2, r.3))
            .collect()
    };
    let near = |a: f64, b: f64| (a - b).abs() < 1e-9 * b.abs().max(1.0);
    let check = |p: &str, want: &[(f64, Option<f64>)]| {
        let got = series(p);
        assert_eq!(got.len(), want.len(), "{p}: {got:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(near(g.0, w.0), "{p} level: {got:?} vs {want:?}");
            match (g.1, w.1) {
                (Some(a), Some(b)) => assert!(near(a, b), "{p} return: {got:?} vs {want:?}"),
                (a, b) => assert_eq!(a.is_some(), b.is_some(), "{p}: {got:?} vs {want:?}"),
            }
        }
    };
    // Hand-worked from the fixture (STBL is a stablecoin: never in an index).
    check(
        "btc",
        &[
            (100.0, None),
            (110.0, Some(0.1)),
            (99.0, Some(-0.1)),
            (99.0, Some(0.0)),
        ],
    );
    let ew1 = (0.1 + 0.0 + 0.1) / 3.0; // AAA, BBB, BTC
    let ew2 = (0.1 + 0.5 - 0.1) / 3.0;
    let ew3 = (11.0 / 12.1 - 1.0 + 0.0) / 2.0; // BBB has no hour 3
    check(
        "ew",
        &[
            (100.0, None),
            (100.0 * (1.0 + ew1), Some(ew1)),
            (100.0 * (1.0 + ew1) * (1.0 + ew2), Some(ew2)),
            (100.0 * (1.0 + ew1) * (1.0 + ew2) * (1.0 + ew3), Some(ew3)),
        ],
    );
    let vw1 = (100.0 * 0.1 + 300.0 * 0.0) / 400.0; // weights: caps at the previous bar
    let vw2 = (110.0 * 0.1 + 300.0 * 0.5) / 410.0;
    let vw3 = 11.0 / 12.1 - 1.0;
    check(
        "vw",
        &[
            (100.0, None),
            (100.0 * (1.0 + vw1), Some(vw1)),
            (100.0 * (1.0 + vw1) * (1.0 + vw2), Some(vw2)),
            (100.0 * (1.0 + vw1) * (1.0 + vw2) * (1.0 + vw3), Some(vw3)),
        ],
    );
    check(
        "total-cap",
        &[
            (400.0, None),
            (410.0, Some(410.0 / 400.0 - 1.0)),
            (571.0, Some(571.0 / 410.0 - 1.0)),
            (110.0, Some(110.0 / 121.0 - 1.0)),
        ],
    );
    assert!(series("eth").is_empty(), "no ETH bars, no eth proxy");
}

#[tokio::test]
async fn two_upkeep_workers_at_once_fetch_each_token_once() {
    let db = db_with_registry().await;
    let (p, server) = binance_server(BinanceState {
        listings: listed(&[
            "BTCUSDT",
            "ETHUSDT",
            "FETUSDT",
            "NEARUSDT",
            "RENDERUSDT",
            "STBLUSDT",
        ]),
        delay: Duration::from_millis(100),
        ..Default::default()
    })
    .await;
    let now = Utc::now();
    let mut opts = upkeep::UpkeepOptions::new(now);
    opts.lookback = chrono::Duration::hours(24);
    let providers = [p];
    let (a, b) = tokio::join!(
        upkeep::run_once(&db.pool, &providers, &opts),
        upkeep::run_once(&db.pool, &providers, &opts)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.failures.is_empty() && b.failures.is_empty());
    assert_eq!(a.stored + b.stored, 6 * 24);
    assert!(
        a.locked_elsewhere + b.locked_elsewhere > 0,
        "the workers met"
    );
    let log = server.log.lock().unwrap().clone();
    let mut per_symbol: HashMap<String, usize> = HashMap::new();
    for (s, _) in &log {
        *per_symbol.entry(s.clone()).or_default() += 1;
    }
    assert_eq!(per_symbol.len(), 6);
    assert!(per_symbol.values().all(|&n| n == 1), "{per_symbol:?}");
    let (n, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT (token_id, open_time)) FROM price_bars")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((n, distinct), (144, 144));
    // A third pass finds everything current.
    let c = upkeep::run_once(&db.pool, &providers, &opts).await.unwrap();
    assert_eq!((c.requests, c.stored), (0, 0));
    // The per-token session locks were all given back (none left on pooled connections).
    let held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
         WHERE l.locktype = 'advisory' AND l.classid = 28786 AND d.datname = current_database()",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(held, 0);
}

#[test]
fn every_taxonomy_token_has_a_registry_entry_with_its_categories() {
    let tax = catalyst::taxonomy::parse_taxonomy(catalyst::taxonomy::BUILTIN_TAXONOMY, "taxonomy")
        .unwrap();
    let reg = registry::parse(registry::BUILTIN_REGISTRY, "tokens.toml").unwrap();
    assert_eq!(tax.len(), 82);
    for tok in &tax {
        let entry = reg
            .tokens
            .iter()
            .find(|r| r.symbol == tok.symbol)
            .unwrap_or_else(|| panic!("{} has no registry entry", tok.symbol));
        let mut a = entry.categories.clone();
        let mut b = tok.categories.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{}", tok.symbol);
        assert!(!entry.binance.is_empty(), "{}", tok.symbol);
        assert!(!entry.coingecko.is_empty(), "{}", tok.symbol);
        assert_eq!(entry.stablecoin, b.contains(&"stablecoin".to_string()));
    }
}

#[tokio::test]
async fn the_cli_backfills_from_csv_files_and_reports_gaps() {
    let db = common::test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let start = t(2024, 2, 1, 0);
    let mut text = String::from("open_time,close\n");
    for i in 0..48i64 {
        // Hours 20 and 21 do not exist at the source.
        if i == 20 || i == 21 {
            continue;
        }
        let open = start + chrono::Duration::hours(i);
        let c = price("FETUSDT", open.timestamp_millis());
        text.push_str(&format!("{},{c}\n", open.format("%Y-%m-%d %H:%M:%S")));
    }
    std::fs::write(dir.path().join("FETUSDT.csv"), text).unwrap();
    let catalyst = || {
        let mut cmd = assert_cmd::Command::cargo_bin("catalyst").unwrap();
        cmd.env("DATABASE_URL", &db.url).env("RUST_LOG", "off");
        cmd
    };
    let out = catalyst()
        .args(["prices", "backfill", "--provider", "csv", "--tokens", "FET"])
        .args(["--from", "2024-02-01", "--to", "2024-02-03"])
        .arg("--csv-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    // Not a terminal: plain log lines, then the summary.
    assert!(stderr.contains("48 bars missing over 1 tokens"), "{stderr}");
    assert!(
        stderr.contains("FET (FETUSDT): 46 bars stored of 48 missing"),
        "{stderr}"
    );
    assert!(
        stdout
            .contains("1 tokens, 48 bars missing before, 46 stored in 1 requests, 2 still missing"),
        "{stdout}"
    );
    let out = catalyst()
        .args(["prices", "gaps", "--tokens", "FET"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "FET: 2 missing bars: 2024-02-01 20:00:00 UTC .. 2024-02-01 22:00:00 UTC (2)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 missing bars in 1 of 1 tokens"),
        "{stdout}"
    );
}

#[tokio::test]
async fn the_builtin_registry_loads_with_renames_and_stablecoin_flags() {
    let db = common::test_db().await;
    prices::load_builtin_registry(&db.pool).await.unwrap();
    // Twice: idempotent.
    prices::load_builtin_registry(&db.pool).await.unwrap();
    let render = store::tracked_tokens(&db.pool, "binance", Some(&["RNDR".to_string()]))
        .await
        .unwrap();
    assert_eq!(render.len(), 1);
    assert_eq!(render[0].symbol, "RENDER");
    let ids: Vec<&str> = render[0].listings.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(ids, vec!["RNDRUSDT", "RENDERUSDT"]);
    assert_eq!(render[0].listings[0].2, render[0].listings[1].1);
    let flagged: Vec<String> = sqlx::query_scalar(
        "SELECT symbol FROM tokens WHERE exclude_from_aggregates ORDER BY symbol",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(flagged, vec!["FDUSD", "USDC"]);
    let n: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT token_id) FROM token_provider_ids WHERE provider = 'coingecko'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(n, 82);
}

/// A fresh token's file is copied straight into price_bars; a later, overlapping file of
/// the same token goes through the staging merge: corrected closes replace the stored
/// ones, new hours are added, and the rest is untouched.
#[tokio::test]
async fn a_fresh_file_is_copied_and_an_overlapping_one_merged() {
    let db = common::test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, rows: &[(&str, f64)]| {
        let mut text = String::from("open_time,close\n");
        for (t, c) in rows {
            text.push_str(&format!("{t},{c}\n"));
        }
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let a = write(
        "FETUSDT.csv",
        &[
            ("2025-01-27 00:00:00", 1.0),
            ("2025-01-27 01:00:00", 2.0),
            ("2025-01-27 02:00:00", 3.0),
        ],
    );
    let r = prices::import(&db.pool, &a, None, BarInterval::Hour)
        .await
        .unwrap();
    assert_eq!(r.bars, 3);
    let b = write(
        "FETUSDT-fix.csv",
        &[("2025-01-27 02:00:00", 3.5), ("2025-01-27 03:00:00", 4.0)],
    );
    prices::import(&db.pool, &b, Some("FET"), BarInterval::Hour)
        .await
        .unwrap();
    let closes: Vec<(String, f64)> = sqlx::query_as(
        "SELECT to_char(open_time AT TIME ZONE 'UTC', 'HH24'), close FROM price_bars_hourly
         WHERE token = 'FET' ORDER BY open_time",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let want: Vec<(String, f64)> = [("00", 1.0), ("01", 2.0), ("02", 3.5), ("03", 4.0)]
        .iter()
        .map(|(h, c)| (h.to_string(), *c))
        .collect();
    assert_eq!(closes, want);
    // Importing the first file again restores its close and changes nothing else.
    prices::import(&db.pool, &a, None, BarInterval::Hour)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM price_bars")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 4);
}

/// (base volume, quote volume, trades, taker-buy base, taker-buy quote, high) per bar of
/// one token and interval, in time order.
type Fields = (
    Option<f64>,
    Option<f64>,
    Option<i64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

async fn fields_of(pool: &PgPool, symbol: &str, interval: &str) -> Vec<(f64, Fields)> {
    use sqlx::Row;
    sqlx::query(
        "SELECT p.close, p.base_volume, p.volume, p.trades, p.taker_buy_base, p.taker_buy_quote,
                p.high
         FROM price_bars p JOIN tokens t ON t.id = p.token_id
         WHERE t.symbol = $1 AND p.interval = $2 ORDER BY p.open_time",
    )
    .bind(symbol)
    .bind(interval)
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.get(0),
            (r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6)),
        )
    })
    .collect()
}

#[tokio::test]
async fn every_field_of_a_kline_file_is_stored_and_fewer_fields_never_erase_them() {
    let db = common::test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let (closes, klines) = (dir.path().join("closes"), dir.path().join("klines"));
    std::fs::create_dir_all(&closes).unwrap();
    std::fs::create_dir_all(&klines).unwrap();
    std::fs::write(
        klines.join("XYZUSDT.csv"),
        "open_time,open,high,low,close,volume,quote_asset_volume,trades,taker_buy_base,taker_buy_quote\n\
         2025-01-01 00:00:00,1,1.2,0.9,1.1,100,110,7,60,66\n\
         2025-01-02 00:00:00,1.1,1.3,1.0,1.2,200,240,9,80,96\n",
    )
    .unwrap();
    // A table that is not a price file sits beside it, as in the shared data.
    std::fs::write(klines.join("coverage.csv"), "symbol,rows\nXYZ,2\n").unwrap();
    let r = prices::import(&db.pool, &klines, None, BarInterval::Day)
        .await
        .unwrap();
    assert_eq!((r.files, r.bars), (1, 2));
    let want = vec![
        (
            1.1,
            (
                Some(100.0),
                Some(110.0),
                Some(7),
                Some(60.0),
                Some(66.0),
                Some(1.2),
            ),
        ),
        (
            1.2,
            (
                Some(200.0),
                Some(240.0),
                Some(9),
                Some(80.0),
                Some(96.0),
                Some(1.3),
            ),
        ),
    ];
    assert_eq!(fields_of(&db.pool, "XYZ", "1d").await, want);

    // Closes only, one of them revised: the close changes, nothing else is lost.
    std::fs::write(
        closes.join("XYZUSDT.csv"),
        "open_time,close\n2025-01-01 00:00:00,1.15\n2025-01-02 00:00:00,1.2\n",
    )
    .unwrap();
    prices::import(&db.pool, &closes, None, BarInterval::Day)
        .await
        .unwrap();
    let got = fields_of(&db.pool, "XYZ", "1d").await;
    assert_eq!(got[0].0, 1.15);
    assert_eq!(got[0].1, want[0].1);
    assert_eq!(got[1], want[1]);

    // The same closes again: nothing to do, the file is skipped as stored.
    let again = prices::import(&db.pool, &closes, None, BarInterval::Day)
        .await
        .unwrap();
    assert_eq!((again.bars, again.unchanged_files), (0, 1));
}

#[tokio::test]
async fn binance_backfills_store_base_volume_trades_and_taker_flow() {
    let db = db_with_registry().await;
    let (p, _server) = binance_server(BinanceState {
        listings: listed(&["FETUSDT"]),
        ..Default::default()
    })
    .await;
    let from = t(2024, 1, 1, 0);
    run_backfill(
        &db.pool,
        &p,
        &["FET"],
        from,
        from + chrono::Duration::hours(3),
    )
    .await;
    let got = fields_of(&db.pool, "FET", "1h").await;
    assert_eq!(got.len(), 3);
    for (close, (base, quote, trades, taker_base, taker_quote, high)) in got {
        // The local server's klines: base 10, quote 10 × close, 5 trades, taker 1 and 1.
        let c = (close * 1e8).round() / 1e8;
        assert_eq!(
            (base, trades, taker_base, taker_quote),
            (Some(10.0), Some(5), Some(1.0), Some(1.0))
        );
        assert!((quote.unwrap() - 10.0 * c).abs() < 1e-6, "{quote:?} vs {c}");
        assert!((high.unwrap() - 1.01 * c).abs() < 1e-6);
    }
}

/// An OHLCV file of `n` bars `step` seconds apart from `start`, closes from `close(i)`;
/// `volume` is the base volume, as in the shared intraday files.
fn ohlcv_file(start: DateTime<Utc>, step: i64, n: i64, close: impl Fn(i64) -> f64) -> String {
    let mut text = String::from("open_time,open,high,low,close,volume\n");
    for i in 0..n {
        let t = start + chrono::Duration::seconds(i * step);
        let c = close(i);
        text.push_str(&format!(
            "{},{c},{},{},{c},{}\n",
            t.format("%Y-%m-%d %H:%M:%S"),
            c * 1.01,
            c * 0.99,
            1.5 + i as f64
        ));
    }
    text
}

/// Rows and summed closes per interval.
async fn per_interval(pool: &PgPool) -> Vec<(String, i64, f64)> {
    sqlx::query_as(
        "SELECT interval, count(*), sum(close) FROM price_bars GROUP BY interval ORDER BY interval",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn intraday_files_are_stored_under_their_interval_and_once() {
    let db = common::test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let day = t(2025, 1, 27, 0);
    let write = |sub: &str, name: &str, text: String| {
        let d = dir.path().join(sub);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), text).unwrap();
        d
    };
    let hourly = write(
        "1h",
        "BTCUSDT.csv",
        ohlcv_file(day, 3600, 24, |i| 100.0 + i as f64),
    );
    let five = write(
        "5m",
        "BTCUSDT.csv",
        ohlcv_file(day, 300, 288, |i| 200.0 + i as f64),
    );
    write(
        "5m",
        "ETHUSDT.csv",
        ohlcv_file(day, 300, 100, |i| 50.0 + i as f64),
    );
    // As in the shared folders: a coverage table beside the price files is skipped.
    write(
        "5m",
        "coverage.csv",
        "symbol,first,last,rows\nBTCUSDT,2025-01-27 00:00:00,2025-01-27 23:55:00,288\n".into(),
    );
    let one = write(
        "1m",
        "BTCUSDT.csv",
        ohlcv_file(day, 60, 600, |i| 300.0 + i as f64),
    );

    prices::import(&db.pool, &hourly, None, BarInterval::Hour)
        .await
        .unwrap();
    let hourly_before = per_interval(&db.pool).await;
    let r = prices::import(&db.pool, &five, None, "5m".parse().unwrap())
        .await
        .unwrap();
    assert_eq!((r.files, r.bars, r.unchanged_files), (2, 388, 0));
    let last5 = day + chrono::Duration::minutes(5 * 287);
    assert_eq!(r.changed, Some((day, last5)));
    let r = prices::import(&db.pool, &one, None, "1m".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(r.bars, 600);

    let sum = |a: i64, n: i64| (0..n).map(|i| (a + i) as f64).sum::<f64>();
    let got = per_interval(&db.pool).await;
    let want = vec![
        ("1h".to_string(), 24, sum(100, 24)),
        ("1m".to_string(), 600, sum(300, 600)),
        ("5m".to_string(), 388, sum(200, 288) + sum(50, 100)),
    ];
    assert_eq!(got, want);
    assert_eq!(got[0], hourly_before[0], "the hourly bars are untouched");
    // One 5-minute bar, every field where the file put it (`volume` is base volume).
    let bar: (f64, f64, f64, Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT p.open, p.high, p.close, p.base_volume, p.volume FROM price_bars p
         JOIN tokens t ON t.id = p.token_id
         WHERE t.symbol = 'BTC' AND p.interval = '5m' AND p.open_time = '2025-01-27 00:10:00+00'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(bar, (202.0, 202.0 * 1.01, 202.0, Some(3.5), None));

    // A second import finds everything stored and writes nothing.
    for (path, interval) in [(&five, "5m"), (&one, "1m")] {
        let r = prices::import(&db.pool, path, None, interval.parse().unwrap())
            .await
            .unwrap();
        assert_eq!((r.bars, r.changed), (0, None), "{interval}");
        assert_eq!(r.unchanged_files, r.files, "{interval}");
    }
    assert_eq!(per_interval(&db.pool).await, got);

    // Off the grid: 00:03 in a 5-minute file, and a 1-minute file read as 5-minute.
    let bad = write(
        "bad",
        "SOLUSDT.csv",
        "open_time,close\n2025-01-27 00:00:00,1\n2025-01-27 00:03:00,2\n".into(),
    );
    let err = prices::import(&db.pool, &bad, None, BarInterval::FiveMinutes)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("SOLUSDT.csv, line 3, field open_time") && err.contains("5m grid"),
        "{err}"
    );
    let err = prices::import(&db.pool, &one, None, BarInterval::FiveMinutes)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("BTCUSDT.csv, line 3, field open_time"),
        "{err}"
    );
    assert_eq!(
        per_interval(&db.pool).await,
        got,
        "a bad file stores nothing"
    );
    assert!("15m".parse::<BarInterval>().is_err());
}

/// Stored proxy rows: (proxy, open time) -> (level, return, tokens).
type ProxyRows = std::collections::BTreeMap<(String, DateTime<Utc>), (f64, Option<f64>, i32)>;
type ProxyRow = (String, DateTime<Utc>, f64, Option<f64>, i32);

/// Every stored proxy row of `interval`.
async fn proxy_rows(pool: &PgPool, interval: &str) -> ProxyRows {
    let rows: Vec<ProxyRow> = sqlx::query_as(
        "SELECT proxy, open_time, level, ret, n_tokens FROM market_proxy_bars WHERE interval = $1",
    )
    .bind(interval)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(p, t, l, r, n)| ((p, t), (l, r, n)))
        .collect()
}

/// The incremental rows equal a full build's: same keys and token counts, the same bits
/// of every level and return (both sum a bar's returns in token order and chain levels
/// with the same arithmetic).
fn assert_same_proxies(incremental: &ProxyRows, full: &ProxyRows, step: &str) {
    let keys = |m: &ProxyRows| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(incremental), keys(full), "{step}: the same rows");
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits();
    for (k, (l, r, n)) in incremental {
        let (fl, fr, fn_) = full[k];
        assert!(same(*l, fl), "{step}: {k:?} level {l} vs {fl}");
        assert_eq!(*n, fn_, "{step}: {k:?} tokens");
        match (r, fr) {
            (Some(a), Some(b)) => assert!(same(*a, b), "{step}: {k:?} return {a} vs {b}"),
            (a, b) => assert_eq!(a.is_some(), b.is_some(), "{step}: {k:?} return"),
        }
    }
}

#[tokio::test]
async fn an_incremental_proxy_rebuild_equals_a_full_one() {
    let db = common::test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let day = t(2025, 1, 27, 0);
    let interval = BarInterval::FiveMinutes;
    // Closes and market caps per token; a gap in AAA at bars 40..45.
    let file = |name: &str, from: i64, n: i64, seed: f64, skip: &[i64]| {
        let mut text = String::from("open_time,close,market_cap\n");
        for i in from..from + n {
            if skip.contains(&i) {
                continue;
            }
            let t = day + chrono::Duration::minutes(5 * i);
            let c = 10.0 + seed + (i as f64 * 0.37 + seed).sin();
            text.push_str(&format!(
                "{},{c},{}\n",
                t.format("%Y-%m-%d %H:%M:%S"),
                c * 1e6
            ));
        }
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let gap: Vec<i64> = (40..45).collect();
    for (name, seed) in [
        ("BTCUSDT.csv", 1.0),
        ("ETHUSDT.csv", 2.0),
        ("AAAUSDT.csv", 3.0),
    ] {
        let skip = if name.starts_with("AAA") {
            &gap[..]
        } else {
            &[]
        };
        let r = prices::import(&db.pool, &file(name, 0, 200, seed, skip), None, interval)
            .await
            .unwrap();
        proxies::rebuild(&db.pool, interval, r.changed.unwrap())
            .await
            .unwrap();
    }
    let loaded = proxy_rows(&db.pool, "5m").await;
    proxies::build(&db.pool, interval).await.unwrap();
    assert_same_proxies(&loaded, &proxy_rows(&db.pool, "5m").await, "first loads");

    // Each change, rebuilt incrementally, then compared with a full build of the same bars.
    let steps: Vec<(&str, std::path::PathBuf, Option<&str>)> = vec![
        // New closes and caps in the middle: later ew/vw levels all move.
        (
            "middle",
            file("AAA-fix.csv", 100, 10, 7.0, &[]),
            Some("AAA"),
        ),
        // The gap filled.
        ("gap", file("AAA-gap.csv", 40, 5, 3.5, &[]), Some("AAA")),
        // Appended bars, a new token starting in the middle.
        (
            "append",
            file("BTC-next.csv", 200, 50, 1.0, &[]),
            Some("BTC"),
        ),
        ("new token", file("BBBUSDT.csv", 150, 60, 4.0, &[]), None),
        // Before the first bar: only a full build can say (the rebuild falls back to one).
        (
            "before",
            file("ETH-early.csv", -20, 20, 2.0, &[]),
            Some("ETH"),
        ),
    ];
    for (step, path, symbol) in steps {
        let r = prices::import(&db.pool, &path, symbol, interval)
            .await
            .unwrap();
        let changed = r.changed.unwrap();
        let written = proxies::rebuild(&db.pool, interval, changed).await.unwrap();
        let incremental = proxy_rows(&db.pool, "5m").await;
        let written: usize = written.rows.iter().map(|(_, n)| n).sum();
        if step != "before" {
            assert!(
                written < incremental.len(),
                "{step}: {written} of {} rows rewritten",
                incremental.len()
            );
        }
        proxies::build(&db.pool, interval).await.unwrap();
        assert_same_proxies(&incremental, &proxy_rows(&db.pool, "5m").await, step);
    }
    // The hourly proxies were never built from the 5-minute bars.
    assert!(proxy_rows(&db.pool, "1h").await.is_empty());
}

#[tokio::test]
async fn a_copy_blocked_by_a_lock_times_out_naming_the_file() {
    let db = common::test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("BTCUSDT.csv");
    std::fs::write(
        &path,
        ohlcv_file(t(2025, 1, 27, 0), 300, 12, |i| 1.0 + i as f64),
    )
    .unwrap();
    let files = prices::read_files(&path, None, BarInterval::FiveMinutes).unwrap();
    // Another session holds a lock that lets the import read price_bars but not write.
    let mut holder = db.pool.begin().await.unwrap();
    sqlx::raw_sql("LOCK TABLE price_bars IN SHARE MODE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let err = store::save_files_within(
        &db.pool,
        &files,
        BarInterval::FiveMinutes,
        store::ImportMode::Upsert,
        Duration::from_millis(500),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, prices::PriceError::CopyTimeout { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("BTCUSDT.csv"), "{err}");
    holder.rollback().await.unwrap();
    // Nothing was stored, and the pool still works: the import goes through now.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM price_bars")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let r = prices::import(&db.pool, &path, None, BarInterval::FiveMinutes)
        .await
        .unwrap();
    assert_eq!(r.bars, 12);
}
