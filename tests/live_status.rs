//! A new story before and after its windows close, on real prices: at once it is listed
//! as awaiting prices, with when its first window closes and when it will be scored; the
//! study says "awaiting prices" (not "unmeasurable"); once the bars are in, the study
//! scores and ranks it. The backfill's progress shows on the list and on /sources.

mod common;
#[path = "support/fake_sources.rs"]
mod fake_sources;

use catalyst::ingest::{self, FeedLocation};
use catalyst::prices::{self, BarInterval};
use catalyst::study::{self, RunOptions, StudyParams};
use catalyst::web::AppState;
use chrono::{DateTime, Utc};

/// BTC, ETH, a few majors and eight AI tokens: the AI category has enough members.
pub const TOKENS: &[&str] = &[
    "BTC", "ETH", "SOL", "XRP", "DOGE", "ICP", "NEAR", "FET", "RENDER", "GRT", "TAO", "WLD", "ARKM",
];

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// Write the shared closes of [`TOKENS`] in [from, to) as CSV files into `dir`.
fn write_prices(
    closes: &fake_sources::Closes,
    dir: &std::path::Path,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) {
    for (pair, rows) in closes {
        let mut csv = String::from("open_time,close\n");
        for &(ms, close) in rows {
            if ms >= from.timestamp_millis() && ms < to.timestamp_millis() {
                let t = DateTime::from_timestamp_millis(ms).unwrap();
                csv.push_str(&format!("{},{close}\n", t.format("%Y-%m-%d %H:%M:%S")));
            }
        }
        std::fs::write(dir.join(format!("{pair}.csv")), csv).unwrap();
    }
}

async fn score_of(pool: &sqlx::PgPool, headline_start: &str) -> (Option<f64>, Option<String>) {
    sqlx::query_as(
        "SELECT sc.impact_score, sc.not_ranked_reason FROM study_event_scores sc
         JOIN events e ON e.id = sc.event_id
         JOIN current_study_run r ON r.run_id = sc.run_id
         WHERE e.headline LIKE $1 || '%'",
    )
    .bind(headline_start)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_story_awaits_prices_then_is_scored_once_its_windows_close() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let shared = common::shared_data_dir().join("prices/binance-hourly-close");
    let closes = fake_sources::load_closes(&shared, TOKENS).unwrap();
    let history_from = t("2024-07-01T00:00:00Z");
    let now = t("2025-01-28T00:00:00Z");

    // Prices up to "now"; two stories: one whose windows have closed, one of this morning.
    let dir = tempfile::tempdir().unwrap();
    let prices_dir = dir.path().join("prices");
    std::fs::create_dir(&prices_dir).unwrap();
    write_prices(&closes, &prices_dir, history_from, now);
    prices::import(pool, &prices_dir, None, BarInterval::Hour)
        .await
        .unwrap();
    let stories = fake_sources::curated_stories(catalyst::cli::demo::CURATED_EVENTS);
    let pick = |start: &str| {
        stories
            .iter()
            .find(|s| s.title.starts_with(start))
            .cloned()
            .unwrap()
    };
    let fake = fake_sources::Fake::new(
        catalyst::clock::Replay {
            start: now,
            at: Utc::now(),
            speed: 1.0,
        },
        vec![
            pick("OpenAI, SoftBank and Oracle"),
            pick("Crypto market nosedives"),
        ],
        Default::default(),
    );
    let feed = dir.path().join("news.rss");
    std::fs::write(&feed, fake.feed_at("https://news.example", now)).unwrap();
    let got = ingest::ingest_feed(
        pool,
        &common::fetcher(),
        &FeedLocation::File(feed),
        Some("news"),
    )
    .await
    .unwrap();
    assert_eq!(got.new, 2);

    // Before any study: both are listed as awaiting; the older one only the study.
    let state = AppState::new(pool.clone());
    let (_, page) = common::get_page(&state, "/").await;
    let section = &page[page
        .find("New stories awaiting prices")
        .expect("the awaiting section")..];
    let row = |start: &str| {
        let at = section
            .find(start)
            .unwrap_or_else(|| panic!("{start} listed"));
        let rest = &section[at..];
        rest[..rest.find("</li>").unwrap()].to_string()
    };
    let deepseek = row("Crypto market nosedives");
    assert!(
        deepseek.contains("awaiting prices: first window [0, +1h] closes 2025-01-27 11:00 UTC; scored after 2025-01-30 10:00 UTC"),
        "{deepseek}"
    );
    assert!(row("OpenAI, SoftBank").contains("awaiting the study"));

    // The study: the matured story is scored, the new one awaits prices (and says until).
    study::run(pool, &StudyParams::default(), RunOptions::default())
        .await
        .unwrap();
    let (score, why) = score_of(pool, "Crypto market nosedives").await;
    assert_eq!(score, None);
    assert_eq!(
        why.as_deref(),
        Some("awaiting prices: scored once its last window [-24h, +72h] closes, at 2025-01-30 10:00 UTC")
    );
    let (_, why) = score_of(pool, "OpenAI, SoftBank").await;
    assert!(!why.unwrap_or_default().starts_with("awaiting"));
    let (_, page) = common::get_page(&state, "/").await;
    let section = &page[page
        .find("New stories awaiting prices")
        .expect("still awaiting")..];
    let section = &section[..section.find("</details>").unwrap()];
    assert!(section.contains("Crypto market nosedives"));
    assert!(
        !section.contains("OpenAI, SoftBank"),
        "scored: no longer awaiting"
    );
    let deepseek_id: i64 =
        sqlx::query_scalar("SELECT id FROM events WHERE headline LIKE 'Crypto market nosedives%'")
            .fetch_one(pool)
            .await
            .unwrap();
    let (_, awaiting_page) = common::get_page(&state, &format!("/events/{deepseek_id}")).await;
    assert!(
        awaiting_page.contains("<strong>awaiting prices</strong>: the first window [0, +1h] closes 2025-01-27 11:00 UTC"),
        "the event page says what it awaits"
    );

    // A backfill in progress shows on the list (until one has completed: the daily
    // check after it is no news) and on /sources.
    use catalyst::worker::store;
    assert!(store::claim(
        pool,
        catalyst::worker::PRICE_BACKFILL_JOB,
        "w",
        600.0,
        Default::default()
    )
    .await
    .unwrap());
    store::progress(pool, catalyst::worker::PRICE_BACKFILL_JOB, "w", 41, 82)
        .await
        .unwrap();
    let (_, page) = common::get_page(&state, "/").await;
    assert!(page.contains("backfilling prices: 41 of 82 tokens"));
    let (_, sources) = common::get_page(&state, "/sources").await;
    assert!(sources.contains("running: 41 of 82 tokens"));
    store::finish(
        pool,
        catalyst::worker::PRICE_BACKFILL_JOB,
        "w",
        true,
        "done",
        60.0,
    )
    .await
    .unwrap();
    let (_, page) = common::get_page(&state, "/").await;
    assert!(!page.contains("backfilling prices"));
    // The next day's check runs quietly on the list, visibly on /sources.
    sqlx::query("UPDATE worker_jobs SET next_due_at = now() WHERE name = 'prices-backfill'")
        .execute(pool)
        .await
        .unwrap();
    assert!(store::claim(
        pool,
        catalyst::worker::PRICE_BACKFILL_JOB,
        "w",
        600.0,
        Default::default()
    )
    .await
    .unwrap());
    store::progress(pool, catalyst::worker::PRICE_BACKFILL_JOB, "w", 5, 82)
        .await
        .unwrap();
    let (_, page) = common::get_page(&state, "/").await;
    assert!(!page.contains("backfilling prices"));
    let (_, sources) = common::get_page(&state, "/sources").await;
    assert!(
        sources.contains("running: 5 of 82 tokens (last run: done)"),
        "{sources}"
    );

    // Three days of bars later the windows have closed: scored and ranked.
    let later = dir.path().join("later");
    std::fs::create_dir(&later).unwrap();
    write_prices(&closes, &later, now, t("2025-01-31T00:00:00Z"));
    prices::import(pool, &later, None, BarInterval::Hour)
        .await
        .unwrap();
    study::run(pool, &StudyParams::default(), RunOptions::default())
        .await
        .unwrap();
    let (score, why) = score_of(pool, "Crypto market nosedives").await;
    assert_eq!(why, None, "ranked");
    assert!(score.is_some_and(f64::is_finite));
    let (_, page) = common::get_page(&state, "/").await;
    assert!(!page.contains("New stories awaiting prices"));
    let ranked = &page[page.find("id=\"ranked\"").unwrap()..];
    let row = &ranked[ranked
        .find("Crypto market nosedives")
        .expect("in the ranked list")..];
    let row = &row[..row.find("</li>").unwrap()];
    assert!(!row.contains("not ranked"), "{row}");
}
