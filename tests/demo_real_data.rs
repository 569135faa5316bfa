//! The demo on the real shared data (../shared/data): all 31 curated events ranked, and the
//! DeepSeek R1 event's numbers equal to tests/fixtures/deepseek/independent.py's.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use catalyst::web::{self, format::pct, AppState};

const DEEPSEEK: &str =
    "Crypto market nosedives 6.4% as DeepSeek R1 triggers AI sell-off and liquidations";

#[tokio::test]
async fn demo_ranks_all_curated_events_and_matches_the_independent_deepseek_figures() {
    let db = common::test_db().await;
    let data = common::shared_data_dir();
    let report = catalyst::cli::demo::setup(&db.pool, &data).await.unwrap();
    assert_eq!(report.events_new, 31);
    assert_eq!(report.price_files, 82);
    assert_eq!(report.study_events, 31);

    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("deepseek/expected.json")).unwrap(),
    )
    .unwrap();

    let event_id: i64 = sqlx::query_scalar("SELECT id FROM events WHERE headline = $1")
        .bind(DEEPSEEK)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let cars: Vec<(String, f64)> = sqlx::query_as(
        "SELECT t.symbol, r.car FROM study_token_results r JOIN tokens t ON t.id = r.token_id
         WHERE r.event_id = $1",
    )
    .bind(event_id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let want = expected["token_car"].as_object().unwrap();
    assert_eq!(cars.len(), want.len());
    for (sym, car) in &cars {
        assert!((car - want[sym].as_f64().unwrap()).abs() < 1e-9, "{sym}");
    }
    let categories: Vec<(String, i32, f64)> = sqlx::query_as(
        "SELECT c.slug, r.n_tokens, r.caar FROM study_category_results r
         JOIN categories c ON c.id = r.category_id WHERE r.event_id = $1",
    )
    .bind(event_id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let want = expected["category_caar"].as_object().unwrap();
    assert_eq!(categories.len(), want.len());
    for (slug, n, caar) in &categories {
        assert_eq!(i64::from(*n), want[slug]["n"].as_i64().unwrap(), "{slug}");
        assert!(
            (caar - want[slug]["caar"].as_f64().unwrap()).abs() < 1e-9,
            "{slug}"
        );
    }
    let ai = want["ai"]["caar"].as_f64().unwrap();
    assert!((-0.05..-0.04).contains(&ai), "about -4.5%: {ai}");

    // The pages: 31 ranked rows, and the event page shows the AI CAAR.
    let state = AppState {
        pool: db.pool.clone(),
    };
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
    assert_eq!(list.matches("<a href=\"/events/").count(), 31);
    let page = get(format!("/events/{event_id}")).await;
    let ai_row = page
        .split("<tr")
        .find(|row| row.contains("<td>AI ★</td>"))
        .expect("AI row in the category table");
    assert!(ai_row.contains(&pct(Some(ai))), "{ai_row}");
    assert!(ai_row.contains("class=\"num neg\""));

    // A second demo set-up adds nothing and skips the stored price files.
    let again = catalyst::cli::demo::setup(&db.pool, &data).await.unwrap();
    assert_eq!((again.events_new, again.bars), (0, 0));
}
