//! The pages and the API on the demo data, through the real router: the Atom feed (read
//! back by feed-rs), aliases and names that resolve, traps that used to lose the reader
//! (a bad sort, a silently ignored window), pages both ways, the CSV's counts, the typed
//! API documents and JSON errors under /api/.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use catalyst::web::{self, AppState};

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn get(state: &AppState, path: &str) -> Resp {
    let resp = web::router(state.clone())
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    Resp {
        status,
        headers,
        body,
    }
}

async fn json(state: &AppState, path: &str) -> Value {
    let r = get(state, path).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

fn ids(v: &Value) -> Vec<i64> {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_demo_through_the_pages_feed_and_api() {
    let db = common::test_db().await;
    catalyst::cli::demo::setup(&db.pool, &common::shared_data_dir())
        .await
        .unwrap();
    let state = AppState::new(db.pool.clone());

    // The feed: valid Atom, only significant stories not credited to another's move,
    // newest first, each linking to its page; filterable like the list.
    let all: Value = json(&state, "/api/v1/events?per_page=200").await;
    let by_id: std::collections::HashMap<i64, &Value> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_i64().unwrap(), e))
        .collect();
    let feed = get(&state, "/feed.xml").await;
    assert_eq!(feed.status, StatusCode::OK);
    assert!(feed.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/atom+xml"));
    let parsed = feed_rs::parser::parse(feed.body.as_bytes()).expect("valid Atom");
    assert_eq!(parsed.feed_type, feed_rs::model::FeedType::Atom);
    let want: Vec<i64> = {
        let mut v: Vec<&&Value> = by_id
            .values()
            .filter(|e| e["significant"] == true && e["credited_to"].is_null())
            .collect();
        v.sort_by_key(|e| std::cmp::Reverse(e["event_time"].as_str().unwrap().to_string()));
        v.iter().map(|e| e["id"].as_i64().unwrap()).collect()
    };
    assert!(want.len() >= 5, "{want:?}");
    let got: Vec<i64> = parsed
        .entries
        .iter()
        .map(|e| {
            let link = &e.links[0].href;
            link.rsplit('/').next().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(got, want, "the feed's entries");
    for e in &parsed.entries {
        assert!(e.summary.as_ref().unwrap().content.contains("significant"));
    }
    let ai_feed = get(&state, "/feed.xml?category=ai").await;
    let ai = feed_rs::parser::parse(ai_feed.body.as_bytes()).unwrap();
    assert!(ai.entries.len() < parsed.entries.len());
    let ai_list = json(
        &state,
        "/api/v1/events?category=ai&significant=1&per_page=200",
    )
    .await;
    for e in &ai.entries {
        let id: i64 = e.links[0].href.rsplit('/').next().unwrap().parse().unwrap();
        assert!(ids(&ai_list).contains(&id), "{id} is an AI story");
    }

    // Aliases and names: a token page by its old ticker redirects to the symbol's; the
    // list's token filter takes an alias; a search for a token's name finds its stories.
    let r = get(&state, "/tokens/RNDR").await;
    assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.headers["location"], "/tokens/RENDER");
    assert_eq!(
        get(&state, "/tokens/render").await.headers["location"],
        "/tokens/RENDER"
    );
    assert_eq!(get(&state, "/tokens/RENDER").await.status, StatusCode::OK);
    assert_eq!(
        get(&state, "/tokens/NOPE").await.status,
        StatusCode::NOT_FOUND
    );
    let by_alias = json(&state, "/api/v1/events?token=rndr&per_page=200").await;
    let by_symbol = json(&state, "/api/v1/events?token=RENDER&per_page=200").await;
    assert!(!ids(&by_symbol).is_empty());
    assert_eq!(ids(&by_alias), ids(&by_symbol));
    let ether = json(&state, "/api/v1/events?q=ether&per_page=200").await;
    let ethereum = json(&state, "/api/v1/events?q=ethereum&per_page=200").await;
    assert!(!ids(&ether).is_empty());
    for id in ids(&ether) {
        assert!(
            ids(&ethereum).contains(&id),
            "q=ethereum finds the ether story {id}"
        );
    }

    // Traps: a bad sort keeps the page and its form and names the fix; a window without
    // the sort it belongs to is refused, not ignored.
    let r = get(&state, "/?sort=caar&q=bitcoin").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("role=\"alert\""), "{}", r.body);
    assert!(r.body.contains("choose sort_category"));
    assert!(r.body.contains("<form class=\"filters\""));
    assert!(r.body.contains("value=\"bitcoin\""), "the search is kept");
    let r = get(&state, "/api/v1/events?window=0:24").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("sort=caar"), "{}", r.body);
    let r = get(&state, "/?token=NOPE").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("there is no token"), "{}", r.body);

    // Pages both ways: the second page's previous page is the first; a middle page's
    // previous page holds exactly the rows before it.
    let p1 = json(&state, "/api/v1/events?per_page=10").await;
    assert!(p1["prev"].is_null());
    let next = p1["next"].as_str().unwrap();
    let p2 = json(&state, &format!("/api/v1/events?per_page=10&after={next}")).await;
    assert_eq!(p2["prev"], "");
    let next2 = p2["next"].as_str().unwrap();
    let p3 = json(&state, &format!("/api/v1/events?per_page=10&after={next2}")).await;
    let prev = p3["prev"].as_str().unwrap();
    let back = json(&state, &format!("/api/v1/events?per_page=10&after={prev}")).await;
    assert_eq!(ids(&back), ids(&p2));
    assert_eq!(p3["counts"]["events"], 102);
    let html = get(&state, &format!("/?per_page=10&after={next2}"))
        .await
        .body;
    assert!(html.contains("rel=\"prev\""));
    let doc = scraper::Html::parse_document(&html);
    let href = |css: &str| {
        let sel = scraper::Selector::parse(css).unwrap();
        doc.select(&sel)
            .next()
            .and_then(|a| a.value().attr("href"))
            .map(str::to_string)
    };
    assert_eq!(
        href("a[rel=prev]"),
        Some(format!("/?per_page=10&after={prev}"))
    );
    // The list's CSV link is this page's, and the CSV says how many rows it holds.
    assert_eq!(
        href("a[download]"),
        Some(format!("/events.csv?per_page=10&after={next2}"))
    );
    let csv = get(&state, &format!("/events.csv?per_page=10&after={next2}")).await;
    assert_eq!(csv.headers["x-row-count"], "10");
    assert_eq!(csv.headers["x-total-count"], "102");
    assert!(csv.headers["link"]
        .to_str()
        .unwrap()
        .contains("rel=\"next\""));
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    let csv_ids: Vec<i64> = reader
        .records()
        .map(|r| r.unwrap()[0].parse().unwrap())
        .collect();
    assert_eq!(csv_ids, ids(&p3));

    // The API: typed documents, JSON errors everywhere under /api/, history endpoints.
    let id = ids(&p1)[0];
    let detail = json(&state, &format!("/api/v1/events/{id}")).await;
    assert!(detail["score"]["impact_score"].is_number());
    assert!(detail["time_precision"].is_string());
    for path in ["/api/v1/nothing", "/api/v2/events", "/api/v1/events/999999"] {
        let r = get(&state, path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        let v: Value = serde_json::from_str(&r.body).expect("a JSON error");
        assert!(v["error"].is_string(), "{path}");
    }
    let h = json(&state, "/api/v1/tokens/RNDR/events").await;
    assert_eq!(h["subject"], "RENDER");
    assert!(!h["subject_events"].as_array().unwrap().is_empty());
    let c = json(&state, "/api/v1/categories/ai/events?window=0:24").await;
    assert_eq!(
        (c["window_start"].as_i64(), c["window_end"].as_i64()),
        (Some(0), Some(24))
    );
    for row in c["subject_events"].as_array().unwrap() {
        assert_eq!(row["subject"], true);
        assert!(row["caar"].is_number());
    }
    let spec = json(&state, "/api/v1/openapi.json").await;
    let params = spec["paths"]["/api/v1/events"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let kind = |n: &str| {
        params
            .iter()
            .find(|p| p["name"] == n)
            .map(|p| p["schema"].to_string())
            .unwrap()
    };
    assert!(kind("per_page").contains("integer"));
    assert!(kind("min_score").contains("number"));
    let reference = get(&state, "/api").await;
    assert_eq!(reference.status, StatusCode::OK);
    assert!(reference.body.contains("/api/v1/tokens/{symbol}/events"));

    // Sharing: the event page has link-preview tags; the favicon is served.
    let page = get(&state, &format!("/events/{id}")).await.body;
    assert!(page.contains("<meta property=\"og:title\""));
    assert!(page.contains("<meta property=\"og:description\" content=\"Significant"));
    assert_eq!(get(&state, "/favicon.svg").await.status, StatusCode::OK);
    // The glossary defines every label the pages explain.
    let glossary = get(&state, "/glossary").await.body;
    for t in catalyst::web::glossary::TERMS {
        assert!(glossary.contains(&format!("id=\"{}\"", t.id)), "{}", t.id);
    }
    assert_eq!(
        get(&state, "/about").await.status,
        StatusCode::PERMANENT_REDIRECT
    );
}
