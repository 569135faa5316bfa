//! The demo on the real shared data (../shared/data): all 31 curated events ranked, and the
//! DeepSeek R1 event's numbers equal to tests/fixtures/deepseek/independent.py's (numpy/scipy).
//! The move scan finds the sell-off and the 2024-08-05 crash in the prices (docs/moves.md).

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use catalyst::study::{self, model::Model, RunOptions, StudyParams, Window};
use catalyst::web::{self, format::pct, AppState};

/// slug, window start, window end, N, CAAR, portfolio CAR, portfolio t
type CategoryRow = (String, i32, i32, i32, f64, Option<f64>, Option<f64>);

const DEEPSEEK: &str =
    "Crypto market nosedives 6.4% as DeepSeek R1 triggers AI sell-off and liquidations";

fn close(got: f64, want: &Value, what: &str) {
    let want = want
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: no expected value"));
    assert!(
        (got - want).abs() < 1e-8 * want.abs().max(1.0),
        "{what}: {got} vs {want}"
    );
}

#[tokio::test]
async fn demo_ranks_all_curated_events_and_matches_the_independent_deepseek_figures() {
    let db = common::test_db().await;
    let data = common::shared_data_dir();
    let report = catalyst::cli::demo::setup(&db.pool, &data).await.unwrap();
    // 31 curated events and 72 real headlines (two of which are one story).
    assert_eq!(report.events_new, 31 + 72);
    assert_eq!(report.price_files, 82);
    assert_eq!(report.study_events, 31 + 71);

    // The demo builds the market proxies too: the BTC series' return over the DeepSeek
    // hour equals the one read straight from the CSV file.
    let csv =
        std::fs::read_to_string(data.join("prices/binance-hourly-close/BTCUSDT.csv")).unwrap();
    let close_at = |t: &str| -> f64 {
        let line = csv.lines().find(|l| l.starts_with(t)).unwrap();
        line.split(',').nth(1).unwrap().parse().unwrap()
    };
    let expected_ret = close_at("2025-01-27 15:00:00") / close_at("2025-01-27 14:00:00") - 1.0;
    let (level, ret): (f64, f64) = sqlx::query_as(
        "SELECT level, ret FROM market_proxy_bars
         WHERE proxy = 'btc' AND interval = '1h' AND open_time = '2025-01-27 15:00:00+00'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!((level - 101112.03).abs() < 1e-6, "{level}");
    assert!(
        (ret - expected_ret).abs() < 1e-12,
        "{ret} vs {expected_ret}"
    );
    let ew: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM market_proxy_bars WHERE proxy = 'ew' AND n_tokens > 50",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(ew > 10_000, "{ew}");
    check_ew_against_pandas(&db.pool).await;

    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("deepseek/expected.json")).unwrap(),
    )
    .unwrap();
    let event_id: i64 = sqlx::query_scalar("SELECT id FROM events WHERE headline = $1")
        .bind(DEEPSEEK)
        .fetch_one(&db.pool)
        .await
        .unwrap();

    // Every token's estimates and CAR in every default window.
    let rows: Vec<(String, i32, i32, f64, f64, f64)> = sqlx::query_as(
        "SELECT t.symbol, r.window_start, r.window_end, r.car, s.alpha, s.beta
         FROM study_token_results r JOIN tokens t ON t.id = r.token_id
         JOIN study_token_estimates s ON s.run_id = r.run_id AND s.event_id = r.event_id
                                     AND s.token_id = r.token_id
         WHERE r.event_id = $1",
    )
    .bind(event_id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let want = expected["tokens"].as_object().unwrap();
    assert_eq!(rows.len(), want.len() * 6);
    for (sym, ws, we, car, alpha, beta) in rows {
        let w = &want[&sym];
        close(
            car,
            &w["car"][format!("{ws},{we}")],
            &format!("{sym} car [{ws},{we})"),
        );
        close(alpha, &w["alpha"], &format!("{sym} alpha"));
        close(beta, &w["beta"], &format!("{sym} beta"));
    }
    // Every category's CAAR and portfolio test in every window.
    let rows: Vec<CategoryRow> = sqlx::query_as(
        "SELECT c.slug, r.window_start, r.window_end, r.n_tokens, r.caar, r.portfolio_car, r.portfolio_t
         FROM study_category_results r JOIN categories c ON c.id = r.category_id
         WHERE r.event_id = $1",
    )
    .bind(event_id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let want = expected["categories"].as_object().unwrap();
    assert_eq!(rows.len(), want.len() * 6);
    for (slug, ws, we, n, caar, pcar, pt) in rows {
        let w = &want[&slug][format!("{ws},{we}")];
        let what = format!("{slug} [{ws},{we})");
        assert_eq!(i64::from(n), w["n"].as_i64().unwrap(), "{what} n");
        close(caar, &w["caar"], &format!("{what} caar"));
        match (pcar, pt) {
            (Some(c), Some(t)) => {
                close(c, &w["portfolio_car"], &format!("{what} portfolio car"));
                close(t, &w["portfolio_t"], &format!("{what} portfolio t"));
            }
            _ => assert!(
                w.get("portfolio_t").is_none(),
                "{what}: portfolio test missing"
            ),
        }
    }
    let ai = expected["categories"]["ai"]["-24,24"]["caar"]
        .as_f64()
        .unwrap();
    assert!(
        ai < 0.0,
        "the AI tokens fell beyond what their betas explain: {ai}"
    );

    // The pages: 31 ranked rows, and the event page's AI row shows the CAAR.
    let state = AppState::new(db.pool.clone());
    let get = |path: String| {
        let state = state.clone();
        async move {
            let resp = web::router(state)
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            String::from_utf8(
                resp.into_body()
                    .collect()
                    .await
                    .unwrap()
                    .to_bytes()
                    .to_vec(),
            )
            .unwrap()
        }
    };
    let list = get("/".into()).await;
    // A page of 50 of the 102 stories, the strongest first: ADA's +28% in the hour after
    // the crypto-reserve post.
    let rows: Vec<&str> = list.split("<li class=\"event ").skip(1).collect();
    assert_eq!(rows.len(), 50);
    assert!(list.contains("rel=\"next\""));
    assert!(
        rows[0].contains("Trump says a US crypto strategic reserve"),
        "{}",
        rows[0]
    );
    assert!(
        rows[0].contains("<span class=\"asset\">ADA</span>")
            && rows[0].contains("<span class=\"window\">in the first hour</span>"),
        "{}",
        rows[0]
    );
    // The curated file has 8 events of kind "macro".
    let want = catalyst::cli::demo::CURATED_EVENTS
        .lines()
        .filter(|l| l.contains(",macro,"))
        .count();
    let macro_list = get("/?kind=macro".into()).await;
    assert_eq!(macro_list.split("<li class=\"event ").skip(1).count(), want);
    let page = get(format!("/events/{event_id}")).await;
    // The category table (the volume and volatility table has an AI row too).
    let ai_row = page
        .split("id=\"categories\"")
        .nth(1)
        .expect("the category table")
        .split("<tr")
        .find(|row| row.contains("/categories/ai\">AI</a> ★"))
        .expect("AI row in the category table");
    assert!(ai_row.contains(&pct(Some(ai))), "{ai_row}");

    // The skeleton's figure: market-adjusted against BTC, all 17 AI tokens (a short
    // estimation window keeps the three January 2025 listings), about -4.5%.
    let naive = StudyParams {
        model: Model::MarketAdjusted,
        estimation: Window::new(-48, -24),
        ..StudyParams::hourly()
    };
    study::run(&db.pool, &naive, RunOptions::default())
        .await
        .unwrap();
    let (n, caar): (i32, f64) = sqlx::query_as(
        "SELECT r.n_tokens, r.caar FROM study_category_results r
         JOIN categories c ON c.id = r.category_id JOIN study_runs s ON s.id = r.run_id
         WHERE s.model = 'market-adjusted' AND r.event_id = $1 AND c.slug = 'ai'
           AND r.window_start = -24 AND r.window_end = 24",
    )
    .bind(event_id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let want = &expected["ai_market_adjusted_caar"];
    assert_eq!(i64::from(n), want["n"].as_i64().unwrap());
    close(caar, &want["caar"], "market-adjusted AI CAAR");

    // Daily mode (UTC days, resampled from the hourly closes): the market's move over
    // [0, 1) is BTC's return over the day after the event day, from the 23:00 closes.
    study::run(&db.pool, &StudyParams::daily(), RunOptions::default())
        .await
        .unwrap();
    let btc =
        std::fs::read_to_string(data.join("prices/binance-hourly-close/BTCUSDT.csv")).unwrap();
    let close_at = |t: &str| -> f64 {
        btc.lines()
            .find(|l| l.starts_with(t))
            .and_then(|l| l.split(',').nth(1))
            .unwrap()
            .parse()
            .unwrap()
    };
    let want = close_at("2025-01-28 23:00:00") / close_at("2025-01-27 23:00:00") - 1.0;
    let got: f64 = sqlx::query_scalar(
        "SELECT m.market_return FROM study_market_moves m JOIN study_runs s ON s.id = m.run_id
         WHERE s.interval = '1d' AND m.event_id = $1 AND m.window_start = 0 AND m.window_end = 1",
    )
    .bind(event_id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        (got - want).abs() < 1e-12,
        "daily market move {got} vs {want}"
    );

    // The move scan finds the sell-off in the prices (docs/moves.md): the market and the
    // AI category (raw), onset on the evening of the 26th, trough late in the morning of
    // the 27th; the curated story and the Quartz article are matched with their lags.
    type MoveRow = (i64, String, DateTime<Utc>, DateTime<Utc>, f64, String);
    let deepseek: Vec<MoveRow> = sqlx::query_as(
        "SELECT move_id, series, onset, extreme_at, size_log, resolution FROM market_moves
         WHERE series IN ('market', 'ai') AND basis = 'raw' AND direction = -1
           AND onset BETWEEN '2025-01-26 18:00Z' AND '2025-01-26 22:00Z'
           AND extreme_at BETWEEN '2025-01-27 09:00Z' AND '2025-01-27 13:00Z'
         ORDER BY series",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(deepseek.len(), 2, "{deepseek:?}");
    let (ai_move, market_move) = (&deepseek[0], &deepseek[1]);
    assert_eq!(
        (ai_move.1.as_str(), market_move.1.as_str()),
        ("ai", "market")
    );
    assert!((-0.17..-0.15).contains(&ai_move.4), "{ai_move:?}");
    assert!((-0.075..-0.06).contains(&market_move.4), "{market_move:?}");
    let lag_h = |headline: &'static str, move_id: i64| {
        let pool = db.pool.clone();
        async move {
            let lag: i64 = sqlx::query_scalar(
                "SELECT x.lag_s FROM move_matches x JOIN events e ON e.id = x.event_id
                 WHERE x.move_id = $1 AND e.headline LIKE $2",
            )
            .bind(move_id)
            .bind(format!("{headline}%"))
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|e| panic!("{headline}: not matched with move {move_id}: {e}"));
            lag as f64 / 3600.0
        }
    };
    // On hourly bars the AI fall begins at 20:00: the curated story (placeholder 10:00)
    // comes 14 h later, Quartz (13:37) 17.6 h later; finer bars move the onset within
    // the hour.
    let curated = lag_h("Crypto market nosedives", ai_move.0).await;
    assert!(
        (13.0..=15.0).contains(&curated),
        "curated DeepSeek lag {curated} h"
    );
    let quartz = lag_h("Bitcoin briefly falls below $100,000", ai_move.0).await;
    assert!((16.6..=18.6).contains(&quartz), "Quartz lag {quartz} h");

    // The 2024-08-05 crash, placed on BTC's intraday bars: the demo also stores BTC's
    // 1-minute bars of those days, which place the onset and the trough within an hour of
    // where the independent script puts them on the 5-minute bars (the pure check of the
    // 5-minute placement is tests/moves_independent.rs).
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("moves/expected.json")).unwrap(),
    )
    .unwrap();
    let crash = &expected["market_5m_2024_08"][1];
    let at = |v: &Value| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    let (onset, extreme, resolution): (DateTime<Utc>, DateTime<Utc>, String) = sqlx::query_as(
        "SELECT onset, extreme_at, resolution FROM market_moves
         WHERE series = 'market' AND direction = -1
           AND onset BETWEEN '2024-08-04 12:00Z' AND '2024-08-05 06:00Z'
         ORDER BY size_log LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(resolution, "1m");
    assert!(
        (onset - at(&crash["fine"][0])).num_minutes().abs() <= 60,
        "onset {onset} vs {}",
        crash["fine"][0]
    );
    assert!(
        (extreme - at(&crash["fine"][1])).num_minutes().abs() <= 60,
        "trough {extreme} vs {}",
        crash["fine"][1]
    );

    // A second demo set-up adds nothing, skips the stored prices and recomputes nothing.
    let again = catalyst::cli::demo::setup(&db.pool, &data).await.unwrap();
    assert_eq!((again.events_new, again.bars, again.computed), (0, 0, 0));
    assert_eq!(
        again.intraday_bars, 0,
        "the 1m and 5m files are stored already"
    );
}

#[test]
fn the_seed_moves_are_best_reproduced_by_the_24_hours_to_07_00_utc() {
    // The curated event's 10:00 UTC is a placeholder ("day" precision). The independent
    // script ranks the 24-hour windows of hourly closes by how well they reproduce the
    // seed's four moves; the best ends at 07:00 UTC on the 27th, within 0.4 points.
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("deepseek/expected.json")).unwrap(),
    )
    .unwrap();
    let windows = expected["seed_windows"].as_array().unwrap();
    assert!(!windows.is_empty());
    let best = &windows[0];
    assert_eq!(best["from"], "2025-01-26T07:00:00Z");
    assert!(best["worst_gap"].as_f64().unwrap() < 0.005);
    assert_eq!(best["to"], "2025-01-27T07:00:00Z");
}

/// The stored `ew` index against tests/fixtures/proxies/independent.py (pandas over the
/// shared closes): row count, the DeepSeek day's returns, token counts and levels, and
/// the last level after 12,707 chained hours.
async fn check_ew_against_pandas(pool: &sqlx::PgPool) {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("proxies/expected.json")).unwrap(),
    )
    .unwrap();
    let rows: Vec<(String, f64, Option<f64>, i32)> = sqlx::query_as(
        "SELECT to_char(open_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00',
                level, ret, n_tokens
         FROM market_proxy_bars WHERE proxy = 'ew' AND interval = '1h' ORDER BY open_time",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(rows.len() as u64, expected["rows"].as_u64().unwrap());
    // Sums in another order (numpy's pairwise sum): equal to the last bits; the level
    // carries that through every product.
    let rel = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b.abs().max(1e-300);
    let by_time: std::collections::HashMap<&str, &(String, f64, Option<f64>, i32)> =
        rows.iter().map(|r| (r.0.as_str(), r)).collect();
    let day = expected["day"].as_array().unwrap();
    assert_eq!(day.len(), 24);
    for want in day {
        let t = want["open_time"].as_str().unwrap();
        let got = by_time.get(t).unwrap_or_else(|| panic!("no ew row at {t}"));
        let ret = want["ret"].as_f64().unwrap();
        assert!(
            rel(got.2.unwrap(), ret, 1e-12),
            "{t}: ret {:?} vs {ret}",
            got.2
        );
        assert_eq!(i64::from(got.3), want["n_tokens"].as_i64().unwrap(), "{t}");
        let level = want["level"].as_f64().unwrap();
        assert!(rel(got.1, level, 1e-10), "{t}: level {} vs {level}", got.1);
    }
    let last = rows.last().unwrap();
    assert_eq!(last.0, expected["last"]["open_time"].as_str().unwrap());
    let level = expected["last"]["level"].as_f64().unwrap();
    assert!(
        rel(last.1, level, 1e-10),
        "last level {} vs {level}",
        last.1
    );
}
