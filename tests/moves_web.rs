//! The moves on the web (issue 16): `/moves`, `/api/v1/moves`, `/moves.csv`, the
//! timeliness of `/sources` and the event page's moves, over real HTTP against the app
//! on 127.0.0.1, on rows written with SQL as `catalyst moves scan` would write them.

mod common;

use serde_json::Value;
use sqlx::PgPool;

/// 2025-03-10 12:00 UTC, the first report of the FET story.
const T0: &str = "2025-03-10 12:00:00+00";

async fn token(pool: &PgPool, symbol: &str) -> i32 {
    sqlx::query_scalar("SELECT id FROM tokens WHERE symbol = $1")
        .bind(symbol)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("token {symbol}: {e}"))
}

async fn source(pool: &PgPool, name: &str) -> i64 {
    sqlx::query_scalar("INSERT INTO sources (name, kind, url) VALUES ($1, 'rss', $2) RETURNING id")
        .bind(name)
        .bind(format!("https://{}.example/feed", name.replace(' ', "-")))
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn event(pool: &PgPool, headline: &str, at: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO events (event_time, headline) VALUES ($1::timestamptz, $2) RETURNING id",
    )
    .bind(at)
    .bind(headline)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn article(pool: &PgPool, event: i64, source: i64, title: &str, at: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO articles (source_id, event_id, canonical_url, title, published_at, content_hash)
         VALUES ($1, $2, $3, $4, $5::timestamptz, md5($4)) RETURNING id",
    )
    .bind(source)
    .bind(event)
    .bind(format!("https://news.example/{}", title.replace(' ', "-")))
    .bind(title)
    .bind(at)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A move of `kind`, its path a ramp from 0 to `size` between the onset and the extreme.
#[allow(clippy::too_many_arguments)]
async fn a_move(
    pool: &PgPool,
    kind: &str,
    token: Option<i32>,
    category: Option<i32>,
    basis: &str,
    onset: &str,
    hours: i32,
    size: f64,
) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO moves (series_kind, token_id, category_id, basis, direction, onset,
                            extreme_at, resolution, size_log, raw_log, z, window_hours, p_value,
                            null_hours, n_tokens, path_start, path_step_s, path)
         VALUES ($1, $2, $3, $4, sign($7)::smallint, $5::timestamptz,
                 $5::timestamptz + make_interval(hours => $6), '5m', $7, $7, 4.5 * sign($7),
                 $6, 0.002, 5000, 1, $5::timestamptz - interval '2 hours', 3600,
                 ARRAY(SELECT (CASE WHEN k <= 2 THEN 0 WHEN k >= 2 + $6 THEN $7
                                    ELSE $7 * (k - 2) / $6 END)::real
                       FROM generate_series(0, $6 + 4) k))
         RETURNING id",
    )
    .bind(kind)
    .bind(token)
    .bind(category)
    .bind(basis)
    .bind(onset)
    .bind(hours)
    .bind(size)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn matched(pool: &PgPool, mv: i64, ev: i64, share: f64) {
    sqlx::query(
        "INSERT INTO move_matches (move_id, event_id, first_report, lag_s, share_before, is_best)
         SELECT m.id, e.id, e.event_time, EXTRACT(EPOCH FROM e.event_time - m.onset)::bigint,
                $3, true
         FROM moves m, events e WHERE m.id = $1 AND e.id = $2",
    )
    .bind(mv)
    .bind(ev)
    .bind(share)
    .execute(pool)
    .await
    .unwrap();
}

/// Bars of `symbol` at `interval` every `step_min` minutes from 7 hours before `around`
/// to 13 hours after: flat, then a climb from the report on.
async fn bars(pool: &PgPool, symbol: &str, interval: &str, step_min: i32, around: &str) {
    sqlx::query(
        "INSERT INTO price_bars (token_id, interval, open_time, close, source)
         SELECT t.id, $2, g, CASE WHEN g < $4::timestamptz THEN 100
                                  ELSE 100 + EXTRACT(EPOCH FROM g - $4::timestamptz) / 3600 END,
                'test'
         FROM tokens t,
              generate_series($4::timestamptz - interval '7 hours',
                              $4::timestamptz + interval '13 hours',
                              make_interval(mins => $3)) g
         WHERE t.symbol = $1",
    )
    .bind(symbol)
    .bind(interval)
    .bind(step_min)
    .bind(around)
    .execute(pool)
    .await
    .unwrap();
}

struct App {
    base: String,
    client: reqwest::Client,
}

impl App {
    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    async fn page(&self, path: &str) -> String {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    async fn json(&self, path: &str) -> Value {
        serde_json::from_str(&self.page(path).await).unwrap()
    }
}

fn lists_move(page: &str, id: i64) -> bool {
    page.contains(&format!("data-move=\"{id}\""))
}

/// The text of the first `data-field="{field}"` element after `after` in `page`.
fn field_after<'a>(page: &'a str, after: &str, field: &str) -> &'a str {
    let from = page
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} not on the page"));
    let rest = &page[from..];
    let marker = format!("data-field=\"{field}\">");
    let at = rest
        .find(&marker)
        .unwrap_or_else(|| panic!("no {field} after {after:?}"));
    let value = &rest[at + marker.len()..];
    &value[..value.find('<').unwrap_or(value.len())]
}

#[tokio::test]
async fn moves_pages_api_sources_and_the_event_page() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let (fet, ai) = (
        token(pool, "FET").await,
        sqlx::query_scalar::<_, i32>("SELECT id FROM categories WHERE slug = 'ai'")
            .fetch_one(pool)
            .await
            .unwrap(),
    );
    let fast = source(pool, "Fast Wire").await;
    let slow = source(pool, "Slow Daily").await;

    // Story 1 (FET), first reported at T0: its move began 2 hours before.
    let e1 = event(pool, "FET jumps on a partnership", T0).await;
    let a1 = article(pool, e1, fast, "FET jumps", T0).await;
    article(pool, e1, slow, "FET jumped today", "2025-03-10 15:37:00+00").await;
    sqlx::query(
        "INSERT INTO article_token_tags (article_id, token_id, rule, matched_text, salience)
         VALUES ($1, $2, 'ticker', 'FET', 'subject')",
    )
    .bind(a1)
    .bind(fet)
    .execute(pool)
    .await
    .unwrap();
    let m1 = a_move(
        pool,
        "token",
        Some(fet),
        None,
        "abnormal",
        "2025-03-10 10:00:00+00",
        4,
        0.12,
    )
    .await;
    matched(pool, m1, e1, 0.4).await;

    // Story 2 (FET again): the slow source first, 30 minutes before the onset.
    let e2 = event(
        pool,
        "FET listed on a new exchange",
        "2025-03-20 09:30:00+00",
    )
    .await;
    article(pool, e2, slow, "FET to list", "2025-03-20 09:30:00+00").await;
    article(pool, e2, fast, "FET listed", "2025-03-20 11:00:00+00").await;
    let m4 = a_move(
        pool,
        "token",
        Some(fet),
        None,
        "abnormal",
        "2025-03-20 10:00:00+00",
        3,
        0.08,
    )
    .await;
    matched(pool, m4, e2, 0.0).await;

    // Two moves no story explains: the AI category (raw, a fall) and the market.
    let m2 = a_move(
        pool,
        "category",
        None,
        Some(ai),
        "raw",
        "2025-03-12 04:00:00+00",
        5,
        -0.16,
    )
    .await;
    let m3 = a_move(
        pool,
        "market",
        None,
        None,
        "raw",
        "2025-03-15 18:00:00+00",
        2,
        -0.05,
    )
    .await;

    // Prices for the reaction curves: FET on 5m and 1h bars around story 1, only 1h
    // bars around story 2; the market on 1h bars.
    bars(pool, "FET", "5m", 5, T0).await;
    bars(pool, "FET", "1h", 60, T0).await;
    bars(pool, "BTC", "1h", 60, T0).await;
    bars(pool, "FET", "1h", 60, "2025-03-20 09:30:00+00").await;

    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(catalyst::web::serve(
        pool.clone(),
        "127.0.0.1:0".parse().unwrap(),
        move |addr| {
            let _ = addr_tx.send(addr);
        },
        async {
            let _ = stop_rx.await;
        },
    ));
    let addr = addr_rx.await.unwrap();
    let app = App {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
    };

    // /moves: the unexplained moves, the largest first, the explained ones not.
    let page = app.page("/moves").await;
    assert!(
        page.contains("href=\"/moves\">Moves</a>"),
        "in the navigation"
    );
    assert!(lists_move(&page, m2) && lists_move(&page, m3), "{page}");
    assert!(!lists_move(&page, m1) && !lists_move(&page, m4));
    assert!(page.find(&format!("data-move=\"{m2}\"")) < page.find(&format!("data-move=\"{m3}\"")));
    assert!(page.contains("2 moves in the last"), "the answer first");
    assert!(page.contains("that none of your sources explains"));
    // exp(-0.16) - 1 = -14.79%, a raw move.
    assert_eq!(
        field_after(&page, &format!("data-move=\"{m2}\""), "size_pct"),
        "↓ -14.79%"
    );
    assert_eq!(
        field_after(&page, &format!("data-move=\"{m2}\""), "basis"),
        "raw"
    );
    assert_eq!(
        field_after(&page, &format!("data-move=\"{m2}\""), "duration"),
        "5 h"
    );
    assert!(
        page.contains("class=\"spark move down\""),
        "the path is drawn"
    );
    let newest = app.page("/moves?sort=newest").await;
    assert!(
        newest.find(&format!("data-move=\"{m3}\"")) < newest.find(&format!("data-move=\"{m2}\""))
    );
    let ai_only = app.page("/moves?series=ai").await;
    assert!(lists_move(&ai_only, m2) && !lists_move(&ai_only, m3));
    let (status, body) = app.get("/moves?series=nosuchthing").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("series"));
    // Paging: one move a page, both ways.
    let first = app.page("/moves?limit=1").await;
    assert!(lists_move(&first, m2) && !lists_move(&first, m3));
    let next = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a next page")
        // Askama escapes the ampersands in attributes.
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let second = app.page(&next).await;
    assert!(lists_move(&second, m3) && !lists_move(&second, m2));
    assert!(second.contains("rel=\"prev\""));
    // The explained moves, each with its story and news lag.
    let explained = app.page("/moves?explained=true").await;
    assert!(lists_move(&explained, m1) && lists_move(&explained, m4));
    assert!(explained.contains(&format!("href=\"/events/{e1}\"")));
    assert_eq!(
        field_after(&explained, &format!("data-move=\"{m1}\""), "news_lag"),
        "2 h"
    );
    assert_eq!(
        field_after(&explained, &format!("data-move=\"{m4}\""), "news_lag"),
        "30 min before the onset"
    );

    // The API: the same moves and labels.
    let doc = app.json("/api/v1/moves?explained=false").await;
    let moves = doc["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 2);
    assert_eq!(
        (doc["unexplained"].as_i64(), doc["explained"].as_i64()),
        (Some(2), Some(2))
    );
    let ai_move = &moves[0];
    assert_eq!(ai_move["id"].as_i64(), Some(m2));
    assert_eq!(ai_move["series"], "ai");
    assert_eq!(ai_move["series_kind"], "category");
    assert_eq!(ai_move["basis"], "raw");
    assert_eq!(ai_move["direction"].as_i64(), Some(-1));
    assert!((ai_move["size_pct"].as_f64().unwrap() - ((-0.16f64).exp() - 1.0)).abs() < 1e-9);
    assert_eq!(ai_move["size_label"], "-14.79% raw");
    assert_eq!(ai_move["duration_s"].as_i64(), Some(5 * 3600));
    assert_eq!(ai_move["explained"], false);
    assert!(ai_move["best_event_id"].is_null() && ai_move["news_lag"].is_null());
    let doc = app.json("/api/v1/moves?explained=true&sort=newest").await;
    let one = &doc["moves"][1];
    assert_eq!(one["id"].as_i64(), Some(m1));
    assert_eq!(one["best_event_id"].as_i64(), Some(e1));
    assert_eq!(one["news_lag_s"].as_i64(), Some(7200));
    assert_eq!(one["news_lag"], "2 h");
    assert_eq!(one["share_before"].as_f64(), Some(0.4));
    let doc = app.json("/api/v1/moves?limit=1").await;
    assert_eq!(doc["moves"].as_array().unwrap().len(), 1);
    assert!(doc["next"].is_string());
    let (status, body) = app.get("/api/v1/moves?sort=biggest").await;
    assert_eq!(status, 400);
    assert!(
        body.contains("\"error\"") && body.contains("sort"),
        "{body}"
    );
    let csv = app.page("/moves.csv?explained=false").await;
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("id,series,series_kind,basis,direction"));
    assert_eq!(lines.count(), 2);
    let api_ref = app.page("/api").await;
    assert!(api_ref.contains("/api/v1/moves") && api_ref.contains("/moves.csv"));

    // /sources: the median lag of each source's first article to the onsets.
    // Fast Wire: +2 h (move 1) and +1 h (move 4): median 1 h 30 min, first once.
    // Slow Daily: +5 h 37 min (20,220 s) and -30 min (-1,800 s): median 9,210 s,
    // 2 h 33.5 min, to the minute 2 h 34 min; first once.
    let sources = app.page("/sources").await;
    let fast_row = "<tr><td>Fast Wire</td>";
    let slow_row = "<tr><td>Slow Daily</td>";
    assert_eq!(field_after(&sources, fast_row, "moves_reported"), "2");
    assert_eq!(field_after(&sources, fast_row, "median_lag"), "1 h 30 min");
    assert_eq!(field_after(&sources, fast_row, "first_to_report"), "1");
    assert_eq!(field_after(&sources, slow_row, "median_lag"), "2 h 34 min");
    assert_eq!(field_after(&sources, slow_row, "first_to_report"), "1");

    // The event page: the move matched, each article's lag, the reaction curve on the
    // finest bars stored (5m here), the part before the report shaded.
    let ev = app.page(&format!("/events/{e1}")).await;
    assert!(ev.contains("Moves matched"));
    assert_eq!(
        field_after(&ev, &format!("data-move=\"{m1}\""), "news_lag"),
        "2 h"
    );
    assert_eq!(
        field_after(&ev, &format!("data-move=\"{m1}\""), "share_before"),
        "40.0%"
    );
    assert_eq!(field_after(&ev, "<td>Fast Wire", "article_lag"), "2 h");
    assert_eq!(
        field_after(&ev, "<td>Slow Daily", "article_lag"),
        "5 h 37 min"
    );
    let curve = &ev[ev.find("id=\"reaction-curve\"").expect("a reaction curve")..];
    assert!(
        curve.starts_with("id=\"reaction-curve\" data-interval=\"5m\""),
        "{}",
        &curve[..200]
    );
    assert!(curve.contains("Reaction curve, 5m bars"));
    assert!(curve.contains("<rect class=\"before\""));
    assert!(curve.contains("Time to half the move"));
    let ev2 = app.page(&format!("/events/{e2}")).await;
    assert!(
        ev2.contains("id=\"reaction-curve\" data-interval=\"1h\""),
        "no 5m bars there"
    );
    let glossary = app.page("/glossary").await;
    for id in ["news-lag", "share-before", "move-onset", "unexplained-move"] {
        assert!(glossary.contains(&format!("id=\"{id}\"")), "{id} defined");
    }

    // A story matched with the market's move explains it: the next /moves (same server,
    // same page cache) no longer lists it, through the data-version triggers.
    let e3 = event(pool, "Fed surprise sinks crypto", "2025-03-15 18:20:00+00").await;
    article(pool, e3, fast, "Fed surprise", "2025-03-15 18:20:00+00").await;
    matched(pool, m3, e3, 0.1).await;
    let page = app.page("/moves").await;
    assert!(
        lists_move(&page, m2) && !lists_move(&page, m3),
        "explained now"
    );
    assert!(page.contains("1 move in the last"));
    let explained = app.page("/moves?explained=true").await;
    assert!(lists_move(&explained, m3));

    let _ = stop_tx.send(());
    let _ = server.await;
}
