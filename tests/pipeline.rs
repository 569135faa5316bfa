//! The walking skeleton end to end: a feed served over real HTTP on 127.0.0.1, CSV prices,
//! the study, and the pages through the real router. Expected numbers come from
//! tests/fixtures/pipeline/expected.json, computed by make_fixture.py (numpy/scipy), not
//! by Catalyst.

mod common;

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use catalyst::ingest::{self, FeedLocation};
use catalyst::prices::{self, BarInterval};
use catalyst::study::{self, StudyParams};
use catalyst::web::{self, format::pct, AppState};

const TOL: f64 = 1e-9;

/// slug, N, CAAR, t, p
type CategoryRow = (String, i32, f64, Option<f64>, Option<f64>);

fn expected() -> Value {
    let text = std::fs::read_to_string(common::fixture("pipeline/expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Serve the fixture feed (and a failing URL) on 127.0.0.1; returns the base URL.
async fn feed_server() -> String {
    let feed = std::fs::read_to_string(common::fixture("pipeline/feed.xml")).unwrap();
    let app = axum::Router::new()
        .route(
            "/feed.xml",
            get(move || {
                let feed = feed.clone();
                async move { ([("content-type", "application/rss+xml")], feed) }
            }),
        )
        .route(
            "/broken.xml",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/not-a-feed",
            get(|| async { "<html><body>hello</body></html>" }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn get_page(state: &AppState, path: &str) -> (StatusCode, String) {
    let resp = web::router(state.clone())
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn html_escape(s: &str) -> String {
    // askama's escaping of the characters the fixture uses.
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

async fn load_everything(pool: &sqlx::PgPool, base: &str) -> ingest::IngestReport {
    let client = ingest::feed::http_client().unwrap();
    let feed = FeedLocation::parse(&format!("{base}/feed.xml"));
    let report = ingest::ingest_feed(pool, &client, &feed, None)
        .await
        .unwrap();
    prices::import(
        pool,
        &common::fixture("pipeline/prices"),
        None,
        BarInterval::Hour,
    )
    .await
    .unwrap();
    study::run(pool, &StudyParams::default()).await.unwrap();
    report
}

#[tokio::test]
async fn feed_prices_study_and_pages_agree_with_the_independent_computation() {
    let db = common::test_db().await;
    let base = feed_server().await;
    let report = load_everything(&db.pool, &base).await;
    // Four items, one a tracking-parameter variant of the first.
    assert_eq!((report.fetched, report.new, report.duplicates), (4, 3, 1));

    let exp = expected();
    let events = exp["events"].as_array().unwrap();
    let ids: HashMap<String, i64> =
        sqlx::query_as::<_, (String, i64)>("SELECT headline, id FROM events")
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(ids.len(), 3);

    // Stored numbers against the independent ones.
    for e in events {
        let id = ids[e["title"].as_str().unwrap()];
        let cars: Vec<(String, f64)> = sqlx::query_as(
            "SELECT t.symbol, r.car FROM study_token_results r JOIN tokens t ON t.id = r.token_id
             WHERE r.event_id = $1 AND r.window_start = -24 AND r.window_end = 24",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        let want = e["cars"].as_object().unwrap();
        assert_eq!(
            cars.len(),
            want.len(),
            "tokens with results for {}",
            e["title"]
        );
        for (sym, car) in cars {
            let w = want
                .get(&sym)
                .and_then(Value::as_f64)
                .unwrap_or_else(|| panic!("{sym} not expected in {want:?}"));
            assert!((car - w).abs() < TOL, "{sym}: {car} vs {w}");
        }
        let dropped: Vec<String> = sqlx::query_scalar(
            "SELECT t.symbol FROM study_dropped_tokens d JOIN tokens t ON t.id = d.token_id
             WHERE d.event_id = $1 ORDER BY 1",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        let tokens_with_data = 10;
        let dropped_with_data: Vec<String> = dropped
            .iter()
            .filter(|s| ["BTC", "TAO"].contains(&s.as_str()))
            .cloned()
            .collect();
        let want_dropped: Vec<String> = e["dropped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(dropped_with_data, want_dropped);
        assert_eq!(
            dropped.len(),
            80 - tokens_with_data + want_dropped.len(),
            "every taxonomy token without prices is listed as dropped (80 non-stablecoin tokens)"
        );

        let cats: Vec<CategoryRow> = sqlx::query_as(
            "SELECT c.slug, r.n_tokens, r.caar, r.t_stat, r.p_value
             FROM study_category_results r JOIN categories c ON c.id = r.category_id
             WHERE r.event_id = $1",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        let want = e["categories"].as_object().unwrap();
        assert_eq!(cats.len(), want.len());
        for (slug, n, caar, t, p) in cats {
            let w = &want[&slug];
            assert_eq!(i64::from(n), w["n"].as_i64().unwrap(), "{slug}");
            assert!(
                (caar - w["caar"].as_f64().unwrap()).abs() < TOL,
                "{slug} caar"
            );
            match w.get("t") {
                Some(wt) => {
                    assert!((t.unwrap() - wt.as_f64().unwrap()).abs() < 1e-7, "{slug} t");
                    assert!(
                        (p.unwrap() - w["p"].as_f64().unwrap()).abs() < 1e-7,
                        "{slug} p"
                    );
                }
                None => assert_eq!((t, p), (None, None), "{slug}: one token, no test"),
            }
        }
        let (impact, top, market): (Option<f64>, Option<String>, Option<f64>) = sqlx::query_as(
            "SELECT s.impact_score, c.slug, s.market_return FROM study_event_scores s
             LEFT JOIN categories c ON c.id = s.top_category_id WHERE s.event_id = $1",
        )
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(top.as_deref(), e["top_category"].as_str());
        assert!((impact.unwrap() - e["impact"].as_f64().unwrap()).abs() < TOL);
        assert!((market.unwrap() - e["market_return"].as_f64().unwrap()).abs() < TOL);
    }

    // The ranked page: every event, in the independent ranking order, escaped.
    let state = AppState {
        pool: db.pool.clone(),
    };
    let (status, body) = get_page(&state, "/").await;
    assert_eq!(status, StatusCode::OK);
    let positions: Vec<usize> = exp["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let escaped = html_escape(t.as_str().unwrap());
            body.find(&escaped)
                .unwrap_or_else(|| panic!("{escaped} not on the page"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "ranking order");
    assert!(!body.contains("<script>alert(1)</script>"));
    assert!(!body.contains("<img src=x"));
    for e in events {
        let caar = e["categories"][e["top_category"].as_str().unwrap()]["caar"]
            .as_f64()
            .unwrap();
        assert!(body.contains(&pct(Some(caar))), "CAAR {caar} shown");
    }

    // The AI event's page: tables and tags.
    let ai = &events[0];
    let id = ids[ai["title"].as_str().unwrap()];
    let (status, page) = get_page(&state, &format!("/events/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let ai_cat = &ai["categories"]["ai"];
    for needle in [
        pct(ai_cat["caar"].as_f64()),
        format!("{:.2}", ai_cat["t"].as_f64().unwrap()),
        format!("{:.3}", ai_cat["p"].as_f64().unwrap()),
        pct(ai["cars"]["FET"].as_f64()),
        "https://news.test/ai-slide".to_string(),
        "RENDER (Render) ← “RNDR”".to_string(),
        "AI ← “DeepSeek” (keyword)".to_string(),
        "TAO: missing bar".to_string(),
    ] {
        assert!(page.contains(&needle), "event page lacks {needle:?}");
    }
}

#[tokio::test]
async fn reingesting_a_feed_adds_nothing_and_rerunning_the_study_replaces_results() {
    let db = common::test_db().await;
    let base = feed_server().await;
    load_everything(&db.pool, &base).await;
    let count = |sql: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let before = (
        count("SELECT count(*) FROM articles").await,
        count("SELECT count(*) FROM events").await,
        count("SELECT count(*) FROM price_bars").await,
        count("SELECT count(*) FROM study_token_results").await,
    );
    let report = load_everything(&db.pool, &base).await;
    assert_eq!((report.new, report.duplicates), (0, 4));
    let after = (
        count("SELECT count(*) FROM articles").await,
        count("SELECT count(*) FROM events").await,
        count("SELECT count(*) FROM price_bars").await,
        count("SELECT count(*) FROM study_token_results").await,
    );
    assert_eq!(before, after);
    assert_eq!(count("SELECT count(*) FROM study_runs").await, 1);
}

#[tokio::test]
async fn bad_feeds_fail_with_the_input_named_and_keep_what_was_stored() {
    let db = common::test_db().await;
    let base = feed_server().await;
    load_everything(&db.pool, &base).await;
    let client = ingest::feed::http_client().unwrap();
    for (path, needle) in [
        ("/broken.xml", "500"),
        ("/not-a-feed", "not a valid"),
        ("/missing", "404"),
    ] {
        let url = format!("{base}{path}");
        let err = ingest::ingest_feed(&db.pool, &client, &FeedLocation::parse(&url), None)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&url) && err.contains(needle), "{err}");
    }
    let unreachable = "http://127.0.0.1:9/feed.xml";
    let err = ingest::ingest_feed(&db.pool, &client, &FeedLocation::parse(unreachable), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(unreachable), "{err}");
    let articles: i64 = sqlx::query_scalar("SELECT count(*) FROM articles")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(articles, 3);
}

#[tokio::test]
async fn unknown_and_malformed_event_ids_get_error_pages() {
    let db = common::test_db().await;
    let state = AppState {
        pool: db.pool.clone(),
    };
    let (status, body) = get_page(&state, "/events/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("There is no event 999999"));
    let (status, _) = get_page(&state, "/events/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = get_page(&state, "/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = get_page(&state, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("No events yet"));
}
