//! The walking skeleton end to end: a feed served over real HTTP on 127.0.0.1, CSV prices,
//! the study, and the pages through the real router. Expected numbers come from
//! tests/fixtures/pipeline/expected.json, computed by make_fixture.py (numpy/scipy), not
//! by Catalyst.

mod common;

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use serde_json::Value;
use tower::ServiceExt;

use catalyst::ingest::{self, FeedLocation};
use catalyst::prices::{self, BarInterval};
use catalyst::study::{self, RunOptions, StudyParams, Window};
use catalyst::web::{self, format::pct, AppState};

/// symbol, window start, window end, CAR, variance, SCAR, alpha, beta, sigma
type TokenRow = (String, i32, i32, f64, f64, Option<f64>, f64, f64, f64);

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

use common::get_page;

fn html_escape(s: &str) -> String {
    // askama's escaping of the characters the fixture uses.
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// The fixture's study parameters (make_fixture.py computes the same): market model,
/// estimation [-48, -24), windows [-24, 0), [0, 4), [-24, 24), 3 tokens per category.
fn fixture_params() -> StudyParams {
    StudyParams {
        estimation: Window::new(-48, -24),
        windows: vec![Window::new(-24, 0), Window::new(0, 4), Window::new(-24, 24)],
        ranking_window: Window::new(-24, 24),
        min_category_tokens: 3,
        ..StudyParams::hourly()
    }
}

async fn load_everything(pool: &sqlx::PgPool, base: &str) -> ingest::IngestReport {
    let client = common::fetcher();
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
    study::run(pool, &fixture_params(), RunOptions::default())
        .await
        .unwrap();
    report
}

fn close(got: Option<f64>, want: &Value, what: &str) {
    let want = want
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: no expected value"));
    let got = got.unwrap_or_else(|| panic!("{what}: no value, expected {want}"));
    let tol = 1e-7 * want.abs().max(1.0);
    assert!((got - want).abs() < tol, "{what}: {got} vs {want}");
}

/// Stored (stat, p) against the fixture's [stat, p].
fn close_test(got: (Option<f64>, Option<f64>), want: Option<&Value>, what: &str) {
    match want {
        Some(w) => {
            close(got.0, &w[0], &format!("{what} statistic"));
            close(got.1, &w[1], &format!("{what} p"));
        }
        None => assert_eq!(got.0, None, "{what}: expected no statistic"),
    }
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
    let with_data = [
        "BTC", "DOGE", "ETH", "FET", "GRT", "NEAR", "PEPE", "RENDER", "SHIB", "TAO",
    ];

    for e in events {
        let title = e["title"].as_str().unwrap();
        let id = ids[title];

        // Tags, as the fixture says the rules must give them.
        let tokens: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT t.symbol FROM event_token_tags g JOIN tokens t ON t.id = g.token_id
             WHERE g.event_id = $1 AND NOT g.ambiguous ORDER BY 1",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert_eq!(tokens, strings(&e["tags"]["tokens"]), "{title}: token tags");
        let cats: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT c.slug FROM event_category_tags g JOIN categories c ON c.id = g.category_id
             WHERE g.event_id = $1 ORDER BY 1",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert_eq!(
            cats,
            strings(&e["tags"]["categories"]),
            "{title}: category tags"
        );

        // Tokens: model estimates and every window's CAR, variance and SCAR.
        let rows: Vec<TokenRow> = sqlx::query_as(
            "SELECT t.symbol, r.window_start, r.window_end, r.car, r.car_variance, r.scar,
                    s.alpha, s.beta, s.sigma
             FROM study_token_results r JOIN tokens t ON t.id = r.token_id
             JOIN study_token_estimates s ON s.run_id = r.run_id AND s.event_id = r.event_id
                                         AND s.token_id = r.token_id
             WHERE r.event_id = $1",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        let want = e["tokens"].as_object().unwrap();
        assert_eq!(rows.len(), want.len() * 3, "{title}: token-window results");
        for (sym, ws, we, car, var, scar, alpha, beta, sigma) in rows {
            let w = &want[&sym];
            let win = &w["windows"][format!("{ws},{we}")];
            let what = format!("{title} {sym} [{ws},{we})");
            close(Some(car), &win["car"], &format!("{what} car"));
            close(Some(var), &win["var"], &format!("{what} var"));
            close(scar, &win["scar"], &format!("{what} scar"));
            close(Some(alpha), &w["alpha"], &format!("{what} alpha"));
            close(Some(beta), &w["beta"], &format!("{what} beta"));
            close(Some(sigma), &w["sigma"], &format!("{what} sigma"));
        }
        let dropped: Vec<String> = sqlx::query_scalar(
            "SELECT t.symbol FROM study_dropped_tokens d JOIN tokens t ON t.id = d.token_id
             WHERE d.event_id = $1 AND t.symbol = ANY($2) ORDER BY 1",
        )
        .bind(id)
        .bind(&with_data[..])
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert_eq!(
            dropped,
            strings(&e["dropped"]),
            "{title}: dropped tokens with data"
        );

        // Categories: the whole battery, every window.
        let rows: Vec<sqlx::postgres::PgRow> = sqlx::query(
            "SELECT c.slug, r.* FROM study_category_results r JOIN categories c ON c.id = r.category_id
             WHERE r.event_id = $1",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        let want = e["categories"].as_object().unwrap();
        assert_eq!(
            rows.len(),
            want.len() * 3,
            "{title}: category-window results"
        );
        for row in rows {
            use sqlx::Row;
            let slug: String = row.get("slug");
            let key = format!(
                "{},{}",
                row.get::<i32, _>("window_start"),
                row.get::<i32, _>("window_end")
            );
            let w = &want[&slug][&key];
            let what = format!("{title} {slug} [{key})");
            let f = |c: &str| row.get::<Option<f64>, _>(c);
            assert_eq!(
                i64::from(row.get::<i32, _>("n_tokens")),
                w["n"].as_i64().unwrap(),
                "{what} n"
            );
            close(f("caar"), &w["caar"], &format!("{what} caar"));
            close_test(
                (f("t_stat"), f("p_value")),
                w.get("cs"),
                &format!("{what} cross-sectional"),
            );
            close_test(
                (f("patell_z"), f("patell_p")),
                w.get("patell"),
                &format!("{what} Patell"),
            );
            close_test(
                (f("bmp_t"), f("bmp_p")),
                w.get("bmp"),
                &format!("{what} BMP"),
            );
            close_test((f("kp_t"), f("kp_p")), w.get("kp"), &format!("{what} KP"));
            close_test(
                (f("portfolio_t"), f("portfolio_p")),
                w.get("portfolio"),
                &format!("{what} portfolio"),
            );
            close_test(
                (f("rank_z"), f("rank_p")),
                w.get("rank"),
                &format!("{what} rank"),
            );
            close_test(
                (f("sign_z"), f("sign_p")),
                w.get("sign"),
                &format!("{what} sign"),
            );
            if let Some(r) = w.get("rbar") {
                close(f("mean_cross_correlation"), r, &format!("{what} rbar"));
            }
            if let Some(c) = w.get("portfolio_car") {
                close(f("portfolio_car"), c, &format!("{what} portfolio car"));
            }
        }

        // The market's own move and the score.
        let moves: Vec<(i32, i32, f64, f64)> = sqlx::query_as(
            "SELECT window_start, window_end, market_return, z FROM study_market_moves WHERE event_id = $1",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert_eq!(moves.len(), 3);
        for (ws, we, ret, z) in moves {
            let w = &e["market"][format!("{ws},{we}")];
            close(Some(ret), &w["return"], &format!("{title} market return"));
            close(Some(z), &w["z"], &format!("{title} market z"));
        }
        let (impact, driver, not_ranked, calibrated): (
            Option<f64>,
            Option<String>,
            Option<String>,
            bool,
        ) = sqlx::query_as(
            "SELECT impact_score, driver, not_ranked_reason, calibrated
             FROM study_event_scores WHERE event_id = $1",
        )
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if e["score"]["impact"].is_null() {
            // No tag: kept, not ranked, and the reason is stored.
            assert_eq!(impact, None, "{title}: no tag, no score");
            assert!(not_ranked.is_some(), "{title}: the reason is stored");
        } else {
            // Nine days of prices leave too few ordinary hours to calibrate: the t-based
            // fallback, as the fixture computes it.
            assert!(!calibrated, "{title}: too few ordinary hours to calibrate");
            close(impact, &e["score"]["impact"], &format!("{title} impact"));
        }
        assert_eq!(
            driver.as_deref(),
            e["score"]["driver"].as_str(),
            "{title} driver"
        );
    }

    // The ranked page: every event, in the independent ranking order, escaped.
    let state = AppState::new(db.pool.clone());
    let (status, page) = get_page(&state, "/").await;
    assert_eq!(status, StatusCode::OK);
    // The rows (the timeline above them names the stories too, by date).
    let body = &page[page.find("<ol class=\"events\" id=\"ranked\">").unwrap()..];
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
        match e["score"]["impact"].as_f64() {
            Some(score) => assert!(
                body.contains(&format!("{score:.2}")),
                "score of {} shown",
                e["title"]
            ),
            None => assert!(body.contains("it names no tracked token or category")),
        }
    }

    // The AI event's page: the battery, estimates, tags and why it ranks.
    let ai = &events[0];
    let id = ids[ai["title"].as_str().unwrap()];
    let (status, page) = get_page(&state, &format!("/events/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let ai_cat = &ai["categories"]["ai"]["-24,24"];
    // The category table (the volume and volatility table has an AI row too).
    let ai_row = page
        .split("id=\"categories\"")
        .nth(1)
        .expect("the category table")
        .split("<tr")
        .find(|row| row.contains("/categories/ai\">AI</a> ★"))
        .expect("AI row in the category table");
    for needle in [
        pct(ai_cat["caar"].as_f64()),
        format!("{:.2}", ai_cat["portfolio"][0].as_f64().unwrap()),
        format!("{:.2}", ai_cat["kp"][0].as_f64().unwrap()),
    ] {
        assert!(
            ai_row.contains(&needle),
            "AI row lacks {needle:?}: {ai_row}"
        );
    }
    // The textbook tests sit in their own, secondary table.
    let naive_row = page
        .split("<tr")
        .find(|row| row.starts_with(" class=\"secondary\"><td>AI</td>"))
        .expect("AI row in the textbook tests");
    let cs = format!("{:.2}", ai_cat["cs"][0].as_f64().unwrap());
    assert!(naive_row.contains(&cs), "{naive_row}");
    for needle in [
        pct(ai["tokens"]["FET"]["windows"]["-24,24"]["car"].as_f64()),
        format!("{:.2}", ai["tokens"]["FET"]["beta"].as_f64().unwrap()),
        "https://news.test/ai-slide".to_string(),
        "RENDER (Render) ← “RNDR”".to_string(),
        "AI ← “DeepSeek” (keyword)".to_string(),
        "TAO: missing bar".to_string(),
        "the evidence behind the score".to_string(),
        // NEAR is only in the description: a passing mention, shown and not scored.
        "NEAR (NEAR Protocol) ← “NEAR” (ticker, passing mention: not scored)".to_string(),
        "only in the description, not in the headline".to_string(),
    ] {
        assert!(page.contains(&needle), "event page lacks {needle:?}");
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
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

/// event id; stored and expected overlapping events; stored and expected confounders
type ListsRow = (i64, Vec<i64>, Vec<i64>, Vec<i64>, Vec<i64>);

/// The confounder lists stored with each score (written in the scores' COPY since they
/// no longer travel as JSON updates) against their definition, computed here in SQL from
/// the events' times and the stored scores: overlapping = another event whose bar 0 is
/// within the span's length either side; estimation confounders = another event, not
/// overlapping, scoring at least `confounder_score`, whose span meets the estimation
/// window.
#[tokio::test]
async fn stored_confounder_lists_follow_their_definition() {
    let db = common::test_db().await;
    let base = feed_server().await;
    // Two stories of their own close in time to the feed's, so that lists are not empty.
    load_everything(&db.pool, &base).await;
    sqlx::query(
        "INSERT INTO events (event_time, headline) \
         SELECT event_time + interval '90 minutes', headline || ' (follow-up)' FROM events \
         ORDER BY id LIMIT 2",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let params = StudyParams {
        confounder_score: 0.0,
        ..fixture_params()
    };
    study::run(&db.pool, &params, RunOptions::default())
        .await
        .unwrap();
    let span = params.event_span();
    let est = params.estimation;
    let rows: Vec<ListsRow> = sqlx::query_as(
        r#"WITH b AS (
             SELECT id, ceil(extract(epoch FROM event_time) / 3600)::int8 AS bar0 FROM events)
           SELECT s.event_id,
                  ARRAY(SELECT x FROM unnest(s.overlapping_events) x ORDER BY x),
                  ARRAY(SELECT o.id FROM b o WHERE o.id <> me.id
                          AND abs(o.bar0 - me.bar0) < $1 ORDER BY o.id),
                  ARRAY(SELECT x FROM unnest(s.estimation_confounders) x ORDER BY x),
                  ARRAY(SELECT o.id FROM b o JOIN study_event_scores os
                          ON os.run_id = s.run_id AND os.event_id = o.id
                        WHERE o.id <> me.id AND abs(o.bar0 - me.bar0) >= $1
                          AND os.impact_score >= $6
                          AND o.bar0 + $2 < me.bar0 + $5 AND o.bar0 + $3 > me.bar0 + $4
                        ORDER BY o.id)
           FROM study_event_scores s JOIN b me ON me.id = s.event_id
           WHERE s.run_id = (SELECT max(id) FROM study_runs)
           ORDER BY s.event_id"#,
    )
    .bind(i64::from(span.len()))
    .bind(i64::from(span.start))
    .bind(i64::from(span.end))
    .bind(i64::from(est.start))
    .bind(i64::from(est.end))
    .bind(params.confounder_score)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 5);
    for (id, stored, expected, stored_est, expected_est) in &rows {
        assert_eq!(stored, expected, "overlapping events of event {id}");
        assert_eq!(
            stored_est, expected_est,
            "estimation confounders of event {id}"
        );
    }
    // The two follow-ups and their originals at least.
    assert!(
        rows.iter().filter(|r| !r.1.is_empty()).count() >= 4,
        "stories with a follow-up within their span: {rows:?}"
    );
}

#[tokio::test]
async fn bad_feeds_fail_with_the_input_named_and_keep_what_was_stored() {
    let db = common::test_db().await;
    let base = feed_server().await;
    load_everything(&db.pool, &base).await;
    let client = common::fetcher();
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

    // Every run is recorded, failures with their error; the sources page shows them.
    let runs: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT input, status, error FROM ingest_runs ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(runs.len(), 5);
    assert_eq!(runs[0].1, "ok");
    assert!(runs[1..].iter().all(|r| r.1 == "failed"));
    assert!(runs[1].2.as_deref().unwrap().contains("500"));
    let (_, page) = get_page(&AppState::new(db.pool.clone()), "/sources").await;
    assert!(
        page.contains("Recent runs")
            && page.contains("failed")
            && page.contains("server answered 500")
            && page.contains("ingested on demand"),
        "{page}"
    );
}

#[tokio::test]
async fn unknown_and_malformed_event_ids_get_error_pages() {
    let db = common::test_db().await;
    let state = AppState::new(db.pool.clone());
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

#[tokio::test]
async fn filters_search_pagination_history_pages_and_bad_parameters() {
    let db = common::test_db().await;
    let base = feed_server().await;
    load_everything(&db.pool, &base).await;
    let state = AppState::new(db.pool.clone());
    let exp = expected();
    let titles: Vec<String> = exp["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| html_escape(e["title"].as_str().unwrap()))
        .collect();
    let shown = |body: &str| -> Vec<bool> { titles.iter().map(|t| body.contains(t)).collect() };

    // Category and token filters follow the tags; search uses the headline.
    let (_, body) = get_page(&state, "/?category=meme").await;
    assert_eq!(shown(&body), vec![false, true, false]);
    let (_, body) = get_page(&state, "/?token=fet").await;
    assert_eq!(shown(&body), vec![true, false, false]);
    let (_, body) = get_page(&state, "/?source=Test+Wire&sort=time").await;
    assert_eq!(shown(&body), vec![true, true, true]);
    let (_, body) = get_page(&state, "/?source=Nobody").await;
    assert_eq!(shown(&body), vec![false, false, false]);
    let (_, body) = get_page(&state, "/?q=memecoin+mania").await;
    assert_eq!(shown(&body), vec![false, true, false]);
    let (_, body) = get_page(&state, "/?from=2025-01-05&to=2025-01-06").await;
    assert_eq!(shown(&body), vec![true, false, false]);
    // Search text that looks like SQL or tsquery syntax is just text.
    for q in ["%27%3B+DROP+TABLE+events%3B--", "%21%28%26%7C%3A*", "%5C"] {
        let (status, body) = get_page(&state, &format!("/?q={q}")).await;
        assert_eq!(status, StatusCode::OK, "{q}");
        assert!(body.contains("No events match"), "{q}");
    }
    // Minimum score against the independent scores.
    let scores: Vec<Option<f64>> = exp["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["score"]["impact"].as_f64())
        .collect();
    let cut = 6.0;
    let (_, body) = get_page(&state, &format!("/?min_score={cut}")).await;
    assert_eq!(
        shown(&body),
        scores
            .iter()
            .map(|s| s.is_some_and(|s| s >= cut))
            .collect::<Vec<_>>()
    );
    // Significant only: corrected p below 0.05, here both scored events.
    let (_, body) = get_page(&state, "/?significant=1").await;
    assert_eq!(
        shown(&body),
        scores
            .iter()
            .map(|s| s.is_some_and(|s| s >= 1.96))
            .collect::<Vec<_>>()
    );

    // Bad parameters: friendly 400 pages.
    for q in [
        "/?from=yesterday",
        "/?min_score=lots",
        "/?category=nope",
        "/?sort=random",
        "/?after=xyz",
        "/?per_page=1000000",
    ] {
        let (status, body) = get_page(&state, q).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
        // The list itself, its form kept, with what to fix.
        assert!(body.contains("role=\"alert\""), "{q}");
        assert!(body.contains("<form class=\"filters\""), "{q}");
    }

    // Keyset pagination is stable: pages of one by time cover every event once.
    let mut seen = Vec::new();
    let mut next = Some("/?sort=time&per_page=1".to_string());
    let mut pages = 0;
    while let Some(path) = next.take() {
        pages += 1;
        assert!(pages < 10);
        let (status, page) = get_page(&state, &path).await;
        assert_eq!(status, StatusCode::OK);
        // The rows (the timeline above them shows every matching story).
        let body = &page[page.find("<ol class=\"events\" id=\"ranked\">").unwrap()..];
        let on_page: Vec<String> = titles
            .iter()
            .filter(|t| body.contains(t.as_str()))
            .cloned()
            .collect();
        assert_eq!(on_page.len(), 1, "{path}");
        seen.extend(on_page);
        next = body
            .split("rel=\"next\" href=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .map(|s| s.replace("&#38;", "&"));
    }
    seen.sort();
    seen.dedup();
    assert_eq!((seen.len(), pages), (3, 3));

    // History pages, charts and the health check.
    let (status, body) = get_page(&state, "/categories/meme").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<svg") && body.contains(&titles[1]));
    let (status, body) = get_page(&state, "/tokens/FET").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&titles[0]));
    assert_eq!(
        get_page(&state, "/categories/nope").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_page(&state, "/tokens/NOPE").await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = get_page(&state, "/sources").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Test Wire") && body.contains("<td class=\"num\">3</td>"));
    let (status, body) = get_page(&state, "/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    let id: i64 = sqlx::query_scalar("SELECT id FROM events WHERE headline LIKE 'DeepSeek%'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let (_, page) = get_page(&state, &format!("/events/{id}")).await;
    // Each chart drawn wide and compact: CAAR and prices, and the reaction curve when
    // the story's subjects have bars around the report.
    let charts = if page.contains("id=\"reaction-curve\"") {
        6
    } else {
        4
    };
    assert_eq!(
        page.matches("<svg class=\"chart ").count(),
        charts,
        "CAAR, price and reaction charts"
    );
    assert!(page.contains("95% range with no event"));
}

#[tokio::test]
async fn pages_carry_security_and_cache_headers_and_revalidate() {
    let db = common::test_db().await;
    let state = AppState::new(db.pool.clone());
    let resp = web::router(state.clone())
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let h = resp.headers();
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let etag = h["etag"].clone();
    let resp = web::router(state.clone())
        .oneshot(
            Request::get("/")
                .header("if-none-match", etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    let resp = web::router(state)
        .oneshot(
            Request::get("/")
                .header("accept-encoding", "gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn json_api_and_csv_export_follow_the_list_filters() {
    let db = common::test_db().await;
    let base = feed_server().await;
    load_everything(&db.pool, &base).await;
    let state = AppState::new(db.pool.clone());
    let exp = expected();

    let (status, body) = get_page(&state, "/api/v1/events").await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    let titles: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["headline"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = exp["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(titles, want, "API order is the ranking");
    let first = &v["events"][0];
    let e = exp["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["title"] == first["headline"])
        .unwrap();
    let got = first["impact_score"].as_f64().unwrap();
    let want = e["score"]["impact"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-7);

    let (_, body) = get_page(&state, "/api/v1/events?category=meme").await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["events"].as_array().unwrap().len(), 1);
    let (status, body) = get_page(&state, "/api/v1/events?from=nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(serde_json::from_str::<Value>(&body).unwrap()["error"]
        .as_str()
        .unwrap()
        .contains("from"));

    let id = first["id"].as_i64().unwrap();
    let (status, body) = get_page(&state, &format!("/api/v1/events/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let d: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(d["headline"], first["headline"]);
    assert_eq!(d["market"].as_array().unwrap().len(), 3);
    assert!(d["categories"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["window_start"] == -24));
    assert_eq!(
        get_page(&state, "/api/v1/events/424242").await.0,
        StatusCode::NOT_FOUND
    );
    let (_, body) = get_page(&state, "/api/v1/categories").await;
    let cats: Value = serde_json::from_str(&body).unwrap();
    let ai = cats
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["slug"] == "ai")
        .unwrap();
    assert!(ai["tokens"].as_array().unwrap().iter().any(|t| t == "FET"));
    let (_, body) = get_page(&state, "/api/v1/tokens").await;
    let toks: Value = serde_json::from_str(&body).unwrap();
    let fet = toks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["symbol"] == "FET")
        .unwrap();
    assert_eq!(fet["bars"], 216);

    let (status, body) = get_page(&state, "/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let spec: Value = serde_json::from_str(&body).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/events",
        "/api/v1/events/{id}",
        "/api/v1/categories",
        "/api/v1/tokens",
        "/events.csv",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} documented");
    }
    let params: Vec<&str> = spec["paths"]["/api/v1/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in [
        "q",
        "category",
        "token",
        "from",
        "to",
        "min_score",
        "significant",
        "sort",
        "after",
        "per_page",
    ] {
        assert!(params.contains(&p), "{p} documented");
    }
    assert!(spec["components"]["schemas"]["ListItem"]["properties"]["impact_score"].is_object());

    let (status, csv) = get_page(&state, "/events.csv?sort=time").await;
    assert_eq!(status, StatusCode::OK);
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("id,event_time,time_precision,headline"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].contains("Dogecoin"), "newest first: {}", rows[0]);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_report_the_data() {
    let db = common::test_db().await;
    let base = feed_server().await;
    load_everything(&db.pool, &base).await;
    let state = AppState::new(db.pool.clone());
    let id: i64 = sqlx::query_scalar("SELECT min(id) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    get_page(&state, "/").await;
    get_page(&state, &format!("/events/{id}")).await;
    get_page(&state, &format!("/events/{}", id + 1)).await;
    get_page(&state, "/events/999999").await;
    let (status, text) = get_page(&state, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .to_string()
    };
    assert!(line(
        r#"catalyst_http_requests_total{route="/events/{id}",method="GET",status="200"}"#
    )
    .ends_with(" 2"));
    assert!(line(
        r#"catalyst_http_requests_total{route="/events/{id}",method="GET",status="404"}"#
    )
    .ends_with(" 1"));
    assert!(line(r#"catalyst_http_request_duration_seconds_count{route="/"}"#).ends_with(" 1"));
    assert_eq!(line("catalyst_events "), "catalyst_events 3");
    assert_eq!(line("catalyst_articles "), "catalyst_articles 3");
    assert!(text.trim_end().ends_with("# EOF"));
}

#[tokio::test]
async fn sorting_by_a_categorys_caar_in_a_window_uses_the_stored_results() {
    let db = common::test_db().await;
    let base = feed_server().await;
    load_everything(&db.pool, &base).await;
    let state = AppState::new(db.pool.clone());
    let exp = expected();
    // Independent: |CAAR| of the meme category in [0, 4) per event, largest first.
    let mut want: Vec<(f64, String)> = exp["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let c = e["categories"]["meme"]["0,4"]["caar"].as_f64()?;
            Some((c.abs(), html_escape(e["title"].as_str().unwrap())))
        })
        .collect();
    want.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (status, page) = get_page(&state, "/?sort=caar&sort_category=meme&window=0:4").await;
    assert_eq!(status, StatusCode::OK);
    let body = &page[page.find("<ol class=\"events\" id=\"ranked\">").unwrap()..];
    let pos: Vec<usize> = want
        .iter()
        .map(|(_, t)| body.find(t.as_str()).unwrap())
        .collect();
    assert!(
        pos.windows(2).all(|w| w[0] < w[1]),
        "order by |meme CAAR| in [0,4)"
    );
    assert!(body.contains(&pct(Some(
        exp["events"][1]["categories"]["meme"]["0,4"]["caar"]
            .as_f64()
            .unwrap()
    ))));
    assert!(body.contains("class=\"spark "), "sparklines drawn");
    // The count: the stories with a meme CAAR in [0, 4), independently; and the same
    // counts (stories, significant) as the filtered path's, taken by a filter that keeps
    // every story.
    let count = |page: &str, what: &str| -> String {
        let tag = format!("<strong data-count=\"{what}\">");
        let at = page.find(&tag).unwrap() + tag.len();
        page[at..at + page[at..].find('<').unwrap()].to_string()
    };
    assert_eq!(count(&page, "events"), want.len().to_string());
    let (_, all_times) = get_page(
        &state,
        "/?sort=caar&sort_category=meme&window=0:4&from=2000-01-01",
    )
    .await;
    for what in ["events", "significant"] {
        assert_eq!(count(&page, what), count(&all_times, what), "{what}");
    }
    assert_eq!(
        get_page(&state, "/?sort=caar").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get_page(&state, "/?sort=caar&sort_category=meme&window=4:0")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn cached_pages_follow_every_write() {
    let db = common::test_db().await;
    let base = feed_server().await;
    let state = AppState::new(db.pool.clone());
    let (_, empty) = get_page(&state, "/").await;
    assert!(empty.contains("No events yet"));
    let (_, again) = get_page(&state, "/").await;
    assert_eq!(empty, again, "served from the cache");
    let client = common::fetcher();
    ingest::ingest_feed(
        &db.pool,
        &client,
        &FeedLocation::parse(&format!("{base}/feed.xml")),
        None,
    )
    .await
    .unwrap();
    let (_, listed) = get_page(&state, "/").await;
    assert!(
        listed.contains("Dogecoin and $PEPE rally"),
        "a new article invalidates"
    );
    assert!(listed.contains("No study has run yet"));
    prices::import(
        &db.pool,
        &common::fixture("pipeline/prices"),
        None,
        BarInterval::Hour,
    )
    .await
    .unwrap();
    study::run(&db.pool, &fixture_params(), RunOptions::default())
        .await
        .unwrap();
    let (_, ranked) = get_page(&state, "/").await;
    assert!(
        !ranked.contains("No study has run yet"),
        "a study run invalidates"
    );
}
