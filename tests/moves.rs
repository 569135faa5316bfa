//! Moves against a real database: real hourly closes (BTC and five AI tokens, January to
//! June 2024) with a synthetic fall inserted into one token's copy. The scan finds the
//! fall with its onset and trough, lists it as unexplained, and a story about the token
//! reported at that time takes it off the unexplained list with its news lag.

mod common;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use catalyst::ingest::feed::FeedLocation;
use catalyst::moves::{self, detect::Params};
use catalyst::prices::{self, BarInterval};

const TOKENS: [&str; 6] = ["BTC", "FET", "NEAR", "WLD", "TAO", "ARKM"];
/// The synthetic fall: FET loses 4% an hour for three hours from this bar on.
const JUMP: &str = "2024-06-12T14:00:00Z";

/// Copy the real closes of the first half of 2024, with FET's fall, into `dir`.
fn write_closes(dir: &std::path::Path) {
    let data = common::shared_data_dir();
    let jump: DateTime<Utc> = JUMP.parse().unwrap();
    for sym in TOKENS {
        let text = std::fs::read_to_string(
            data.join(format!("prices/binance-hourly-close/{sym}USDT.csv")),
        )
        .unwrap();
        let mut out = String::from("open_time,close\n");
        for line in text.lines().skip(1) {
            let (t, close) = line.split_once(',').unwrap();
            let at = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc();
            if at >= "2024-07-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() {
                break;
            }
            let mut c: f64 = close.parse().unwrap();
            if sym == "FET" && at >= jump {
                // Bars 14:00, 15:00 and 16:00 close 4% lower each; later bars keep it.
                let hours = ((at - jump).num_hours() + 1).min(3) as i32;
                c *= 0.96f64.powi(hours);
            }
            out.push_str(&format!("{t},{c}\n"));
        }
        std::fs::write(dir.join(format!("{sym}USDT.csv")), out).unwrap();
    }
}

#[derive(sqlx::FromRow, Debug)]
struct Row {
    move_id: i64,
    onset: DateTime<Utc>,
    extreme_at: DateTime<Utc>,
    direction: i16,
    basis: String,
    size_log: f64,
    p_value: f64,
    explained: bool,
    best_lag_s: Option<i64>,
}

async fn fet_moves(pool: &sqlx::PgPool) -> Vec<Row> {
    sqlx::query_as(
        "SELECT move_id, onset, extreme_at, direction, basis, size_log, p_value, explained, best_lag_s
         FROM market_moves WHERE series = 'FET' AND onset BETWEEN $1 AND $2",
    )
    .bind(JUMP.parse::<DateTime<Utc>>().unwrap() - Duration::hours(12))
    .bind(JUMP.parse::<DateTime<Utc>>().unwrap() + Duration::hours(12))
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_fall_inserted_into_real_bars_is_found_and_explained_by_a_story() {
    let db = common::test_db().await;
    let dir = tempfile::tempdir().unwrap();
    write_closes(dir.path());
    prices::import(&db.pool, dir.path(), None, BarInterval::Hour)
        .await
        .unwrap();

    let r = moves::scan(&db.pool, &Params::default()).await.unwrap();
    // The market, the AI category raw and abnormal, and five tokens.
    assert_eq!(r.series, 8, "{r:?}");
    assert!(r.moves > 0);
    let found = fet_moves(&db.pool).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let m = &found[0];
    let jump: DateTime<Utc> = JUMP.parse().unwrap();
    // The fall starts at the 14:00 bar's open (13:00's close) give or take an hour of
    // real noise. It ends at the 16:00 bar's close or at the trough where FET's own
    // price took it in the next hours (the extreme is searched up to 6 hours on).
    assert!(
        (m.onset - jump).num_hours().abs() <= 1,
        "onset {} for a fall from {jump}",
        m.onset
    );
    let end = jump + Duration::hours(3);
    assert!(
        m.extreme_at >= end - Duration::hours(1) && m.extreme_at <= end + Duration::hours(6),
        "trough {}",
        m.extreme_at
    );
    assert_eq!(m.direction, -1);
    assert_eq!(m.basis, "abnormal");
    assert!(m.size_log < -0.10, "{m:?}");
    assert!(m.p_value <= 0.01, "{m:?}");
    assert!(!m.explained);
    let unexplained: i64 =
        sqlx::query_scalar("SELECT count(*) FROM unexplained_moves WHERE move_id = $1")
            .bind(m.move_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(unexplained, 1);
    // The /moves page lists it, with its chart.
    let state = catalyst::web::AppState::new(db.pool.clone());
    let (status, page) = common::get_page(&state, "/moves?series=FET").await;
    assert_eq!(status, 200);
    let item = format!("data-move=\"{}\"", m.move_id);
    let at = page.find(&item).expect("/moves lists the fall");
    assert!(page[at..].contains("<svg"), "the move has its chart");

    // A story about FET, reported an hour after the fall began, explains it.
    let reported = jump + Duration::hours(1);
    let csv = format!(
        "published_at,time_precision,kind,title,summary\n{},exact,hack,Fetch.ai (FET) drops after an exploit,FET falls as Fetch.ai reports an exploit.\n",
        reported.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let feed = dir.path().join("story.rss");
    std::fs::write(&feed, catalyst::cli::demo::curated_to_rss(&csv).unwrap()).unwrap();
    let ingested = catalyst::ingest::ingest_feed(
        &db.pool,
        &common::fetcher(),
        &FeedLocation::File(feed),
        Some("Test wire"),
    )
    .await
    .unwrap();
    assert_eq!(ingested.new, 1);
    moves::scan(&db.pool, &Params::default()).await.unwrap();
    let found = fet_moves(&db.pool).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let m = &found[0];
    assert!(m.explained, "{m:?}");
    assert_eq!(m.best_lag_s, Some((reported - m.onset).num_seconds()));
    let unexplained: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM unexplained_moves WHERE series = 'FET' AND onset = $1",
    )
    .bind(m.onset)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(unexplained, 0);
    // Off the unexplained list on /moves (the page cache follows the data version), on
    // the explained one with its story.
    let (_, page) = common::get_page(&state, "/moves?series=FET").await;
    assert!(!page.contains(&format!("data-move=\"{}\"", m.move_id)));
    let (_, page) = common::get_page(&state, "/moves?series=FET&explained=true").await;
    assert!(
        page.contains(&format!("data-move=\"{}\"", m.move_id)),
        "explained list"
    );
    assert!(page.contains("Fetch.ai (FET) drops after an exploit"));
    // The story's article carries its lag, and its source counts one move reported.
    let (lag, first): (i64, bool) =
        sqlx::query_as("SELECT lag_s, first_for_move FROM article_move_lags WHERE move_id = $1")
            .bind(m.move_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(lag, (reported - m.onset).num_seconds());
    assert!(first);
    let (reported_moves, median): (i64, f64) = sqlx::query_as(
        "SELECT moves_reported, median_lag_s FROM source_timeliness WHERE source = 'Test wire'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    // Every move the story is a candidate for (FET's and the AI category's within a day)
    // counts; the median is over their onsets' lags, computed here from the onsets.
    let onsets: Vec<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT m.onset FROM moves m JOIN move_matches x ON x.move_id = m.id
         JOIN articles a ON a.event_id = x.event_id JOIN sources s ON s.id = a.source_id
         WHERE s.name = 'Test wire'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(reported_moves, onsets.len() as i64);
    let mut lags: Vec<f64> = onsets
        .iter()
        .map(|o| (reported - *o).num_seconds() as f64)
        .collect();
    lags.sort_by(f64::total_cmp);
    let n = lags.len();
    let want = if n % 2 == 1 {
        lags[n / 2]
    } else {
        (lags[n / 2 - 1] + lags[n / 2]) / 2.0
    };
    assert_eq!(median, want);

    // The documented queries (docs/sql.md, "Moves and news lag") run and find this move.
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sql.md"),
    )
    .unwrap();
    let mut queries = Vec::new();
    let mut rest = docs.as_str();
    while let Some(i) = rest.find("<!-- moves-query: ") {
        rest = &rest[i + "<!-- moves-query: ".len()..];
        let name = rest[..rest.find(" -->").unwrap()].to_string();
        let start = rest.find("```sql\n").unwrap() + "```sql\n".len();
        let end = start + rest[start..].find("```").unwrap();
        queries.push((name, rest[start..end].to_string()));
    }
    assert_eq!(
        queries.len(),
        3,
        "docs/sql.md documents three moves queries"
    );
    for (name, sql) in &queries {
        let rows = sqlx::query(sql)
            .fetch_all(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!rows.is_empty(), "{name}: no rows");
        use sqlx::Row;
        match name.as_str() {
            // The explained FET move is no longer among them.
            "largest-unexplained" => assert!(rows.iter().all(|r| {
                r.get::<String, _>("series") != "FET"
                    || r.get::<DateTime<Utc>, _>("onset") != m.onset
            })),
            "source-timeliness" => assert!(rows
                .iter()
                .any(|r| r.get::<String, _>("source") == "Test wire"
                    && r.get::<i64, _>("moves_reported") == reported_moves)),
            "token-move-stories" => assert!(rows.iter().any(|r| {
                r.get::<String, _>("series") == "FET"
                    && r.get::<DateTime<Utc>, _>("onset") == m.onset
                    && r.get::<bool, _>("is_best")
            })),
            other => panic!("an unchecked query {other}"),
        }
    }
}
