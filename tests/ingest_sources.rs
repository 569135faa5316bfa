//! Configured sources against the local fixture site and real PostgreSQL: every feed
//! kind, an HTML listing with its article pages, conditional GET, bad dates, malformed
//! feeds, and job claims.

mod common;
mod ingest_server;

use catalyst::ingest::http::Fetcher;
use catalyst::ingest::run::run_source;
use catalyst::ingest::source_store::{self, NamedClaim, RunStatus, SourceRow};
use catalyst::ingest::sources;
use ingest_server::{news_site, sources_toml, spawn, Log, BROKEN_SOURCE};
use sqlx::PgPool;

async fn setup(extra: &str) -> (common::TestDb, Fetcher, String, Log) {
    let db = common::test_db().await;
    let log = Log::default();
    let base = spawn(news_site(log.clone())).await;
    let text = format!("{}{}", sources_toml(&base), extra.replace("BASE", &base));
    let file = sources::parse(&text, "test-sources.toml").unwrap();
    source_store::sync(&db.pool, &file).await.unwrap();
    let fetcher = Fetcher::new(file.fetch.clone()).unwrap();
    (db, fetcher, base, log)
}

async fn claim(pool: &PgPool, name: &str) -> SourceRow {
    match source_store::claim_named(pool, name, "test-worker", 60.0)
        .await
        .unwrap()
    {
        NamedClaim::Claimed(s) => *s,
        other => panic!("{name}: {other:?}"),
    }
}

async fn published(pool: &PgPool, title_prefix: &str) -> String {
    let t: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT published_at FROM articles WHERE title LIKE $1 || '%'")
            .bind(title_prefix)
            .fetch_one(pool)
            .await
            .unwrap();
    t.to_rfc3339()
}

#[tokio::test]
async fn rss_atom_and_json_feed_are_ingested_with_bad_dates_skipped() {
    let (db, f, _base, _log) = setup("").await;
    let pool = &db.pool;

    let rss = run_source(pool, &f, &claim(pool, "wire-rss").await, "test-worker").await;
    assert_eq!(rss.status, RunStatus::Ok, "{:?}", rss.error);
    assert_eq!((rss.report.fetched, rss.report.new), (6, 3));
    let reasons = rss.report.skipped.join("\n");
    assert_eq!(rss.report.skipped.len(), 3, "{reasons}");
    assert!(
        reasons.contains("(A date nobody can read): no publication date"),
        "{reasons}"
    );
    assert!(
        reasons
            .contains("(Dated in the far future): time 2100-01-01T00:00:00+00:00 is in the future"),
        "{reasons}"
    );
    assert!(
        reasons.contains(
            "(Dated before bitcoin existed): time 2001-01-01T00:00:00+00:00 is before 2009"
        ),
        "{reasons}"
    );
    // RFC 2822 with +0200 and with GMT, normalised to UTC.
    assert_eq!(
        published(pool, "Bitcoin completes").await,
        "2024-04-20T00:09:00+00:00"
    );
    assert_eq!(
        published(pool, "DMM Bitcoin").await,
        "2024-05-31T06:00:00+00:00"
    );
    let url: String =
        sqlx::query_scalar("SELECT canonical_url FROM articles WHERE title LIKE 'SEC approves%'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(
        url,
        "https://wire.example/2024/01/10/sec-approves-spot-bitcoin-etfs"
    );

    let atom = run_source(pool, &f, &claim(pool, "atom").await, "test-worker").await;
    assert_eq!((atom.status, atom.report.new), (RunStatus::Ok, 2));
    assert_eq!(
        published(pool, "Bybit hacked").await,
        "2025-02-21T14:15:00+00:00"
    );

    let json = run_source(pool, &f, &claim(pool, "jsonfeed").await, "test-worker").await;
    assert_eq!(
        (json.status, json.report.new, json.report.skipped.len()),
        (RunStatus::Ok, 2, 1)
    );
    assert_eq!(
        published(pool, "OpenAI, SoftBank").await,
        "2025-01-21T21:00:00+00:00"
    );

    let runs: Vec<(String, String, i32, i32, Option<String>)> = sqlx::query_as(
        "SELECT s.name, r.status, r.new, r.skipped, r.worker FROM ingest_runs r
         JOIN sources s ON s.id = r.source_id ORDER BY r.id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let w = Some("test-worker".to_string());
    assert_eq!(
        runs,
        vec![
            ("wire-rss".into(), "ok".into(), 3, 3, w.clone()),
            ("atom".into(), "ok".into(), 2, 0, w.clone()),
            ("jsonfeed".into(), "ok".into(), 2, 1, w),
        ]
    );
    // Claims were released when the runs finished.
    let claimed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sources WHERE claimed_by IS NOT NULL")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(claimed, 0);
}

#[tokio::test]
async fn an_unchanged_feed_answers_304_and_the_run_is_not_modified() {
    let (db, f, _base, log) = setup("").await;
    let pool = &db.pool;
    let first = run_source(pool, &f, &claim(pool, "wire-rss").await, "test-worker").await;
    assert_eq!(first.status, RunStatus::Ok);
    let etag: Option<String> =
        sqlx::query_scalar("SELECT etag FROM sources WHERE name = 'wire-rss'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(etag.as_deref(), Some("\"rss-v1\""));
    let second = run_source(pool, &f, &claim(pool, "wire-rss").await, "test-worker").await;
    assert_eq!(second.status, RunStatus::NotModified);
    assert_eq!(log.headers("/rss.xml")[1]["if-none-match"], "\"rss-v1\"");
    let (status, last): (String, Option<String>) = sqlx::query_as(
        "SELECT (SELECT status FROM ingest_runs ORDER BY id DESC LIMIT 1), last_status
         FROM sources WHERE name = 'wire-rss'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), last.as_deref()),
        ("not_modified", Some("not_modified"))
    );
    let articles: i64 = sqlx::query_scalar("SELECT count(*) FROM articles")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(articles, 3);
}

#[tokio::test]
async fn an_html_listing_is_scraped_and_each_article_page_read() {
    let (db, f, base, log) = setup("").await;
    let pool = &db.pool;
    let run = run_source(pool, &f, &claim(pool, "daily-html").await, "test-worker").await;
    assert_eq!(run.status, RunStatus::Ok, "{:?}", run.error);
    assert_eq!(run.report.new, 2, "{:?}", run.report);
    let reasons = run.report.skipped.join("\n");
    assert_eq!(run.report.skipped.len(), 2, "{reasons}");
    assert!(reasons.contains(&format!("article {base}/news/future-dated (Tomorrow's news today): time 2099-01-01T00:00:00+00:00 is in the future")), "{reasons}");
    assert!(
        reasons.contains(&format!(
            "article {base}/news/missing: {base}/news/missing: server answered 404"
        )),
        "{reasons}"
    );

    let row: (String, String, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT canonical_url, title, author, summary FROM articles WHERE title LIKE 'Crypto market%'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(row.0, "https://daily.example/markets/deepseek-selloff");
    assert_eq!(
        row.1,
        "Crypto market nosedives 6.4% as DeepSeek R1 triggers AI sell-off and liquidations"
    );
    assert_eq!(row.2.as_deref(), Some("Fixture Reporter"));
    // JSON-LD 11:00+01:00.
    assert_eq!(
        published(pool, "Crypto market").await,
        "2025-01-27T10:00:00+00:00"
    );
    let tags: Vec<String> = sqlx::query_scalar(
        "SELECT t.symbol FROM article_token_tags g JOIN tokens t ON t.id = g.token_id
         JOIN articles a ON a.id = g.article_id WHERE a.title LIKE 'Crypto market%' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for declared in ["FET", "RENDER"] {
        assert!(tags.contains(&declared.to_string()), "{tags:?}");
    }

    // ISO-8859-1 page, charset from its <meta http-equiv>, time in epoch milliseconds.
    let (url, title, summary): (String, String, Option<String>) = sqlx::query_as(
        "SELECT canonical_url, title, summary FROM articles WHERE title LIKE 'Soci%'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(url, format!("{base}/news/societe-generale"));
    assert_eq!(
        title,
        "Société Générale lance un stablecoin en euros sur Ethereum"
    );
    assert!(summary.unwrap().contains("café, crème et brûlée"));
    assert_eq!(published(pool, "Soci").await, "2023-04-26T12:00:00+00:00");

    // A second run does not fetch again an article page whose URL is stored.
    let again = run_source(pool, &f, &claim(pool, "daily-html").await, "test-worker").await;
    assert_eq!((again.status, again.report.new), (RunStatus::Ok, 0));
    assert_eq!(log.hits("/news/societe-generale"), 1);
    let articles: i64 = sqlx::query_scalar("SELECT count(*) FROM articles")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(articles, 2);
}

#[tokio::test]
async fn a_truncated_feed_fails_its_run_with_the_url_and_nothing_panics() {
    let (db, f, base, _log) = setup(BROKEN_SOURCE).await;
    let pool = &db.pool;
    let run = run_source(pool, &f, &claim(pool, "broken").await, "test-worker").await;
    assert_eq!(run.status, RunStatus::Failed);
    let err = run.error.unwrap();
    assert!(
        err.starts_with(&format!(
            "{base}/truncated.xml: not a valid RSS/Atom/JSON feed"
        )),
        "{err}"
    );
    let (status, error, failures, due_later): (String, Option<String>, i32, bool) = sqlx::query_as(
        "SELECT r.status, r.error, s.consecutive_failures, s.next_due_at > now() + interval '20 minutes'
         FROM ingest_runs r JOIN sources s ON s.id = r.source_id WHERE s.name = 'broken'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), error.as_deref(), failures),
        ("failed", Some(err.as_str()), 1)
    );
    // 900 s interval doubled after one failure.
    assert!(due_later);
}

#[tokio::test]
async fn claims_are_exclusive_and_a_dead_workers_lease_lapses() {
    let (db, _f, _base, _log) = setup("").await;
    let pool = &db.pool;
    let a = source_store::claim_next(pool, "w1", 60.0)
        .await
        .unwrap()
        .unwrap();
    let b = source_store::claim_next(pool, "w2", 60.0)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(a.id, b.id);
    match source_store::claim_named(pool, &a.config.name, "w3", 60.0)
        .await
        .unwrap()
    {
        NamedClaim::Busy { by } => assert_eq!(by, "w1"),
        other => panic!("{other:?}"),
    }
    // Four sources: two more, then none.
    assert!(source_store::claim_next(pool, "w2", 60.0)
        .await
        .unwrap()
        .is_some());
    assert!(source_store::claim_next(pool, "w2", 60.0)
        .await
        .unwrap()
        .is_some());
    assert!(source_store::claim_next(pool, "w2", 60.0)
        .await
        .unwrap()
        .is_none());
    // w1 is SIGKILLed: its lease runs out and w2 takes the source over.
    sqlx::query(
        "UPDATE sources SET claim_expires_at = now() - interval '1 second' WHERE claimed_by = 'w1'",
    )
    .execute(pool)
    .await
    .unwrap();
    let taken = source_store::claim_next(pool, "w2", 60.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.id, a.id);
    // Shutdown releases everything w2 holds.
    assert_eq!(source_store::release_all(pool, "w2").await.unwrap(), 4);
}

#[tokio::test]
async fn syncing_updates_sources_and_disables_removed_ones() {
    let (db, _f, base, _log) = setup("").await;
    let pool = &db.pool;
    let mut text = sources_toml(&base);
    text = text.replace(
        "name = \"atom\"\nkind = \"atom\"",
        "name = \"atom\"\nkind = \"atom\"\npoll_interval_secs = 60",
    );
    let cut = text.find("[[source]]\nname = \"jsonfeed\"").unwrap();
    let file = sources::parse(&text[..cut], "t.toml").unwrap();
    let r = source_store::sync(pool, &file).await.unwrap();
    // The atom source's interval changed; the other kept source is left alone (no row
    // lock); two were removed from the file.
    assert_eq!((r.added, r.updated, r.unchanged, r.disabled), (0, 1, 1, 2));
    let rows: Vec<(String, bool, i32)> =
        sqlx::query_as("SELECT name, enabled, poll_interval_secs FROM sources ORDER BY name")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![
            ("atom".into(), true, 60),
            ("daily-html".into(), false, 900),
            ("jsonfeed".into(), false, 900),
            ("wire-rss".into(), true, 900),
        ]
    );
}
