//! Stories, deduplication and auditable tags, end to end: feeds served over real HTTP on
//! 127.0.0.1 (and feed files built from the real NewsAPI headlines in
//! ../shared/data/news), stored in PostgreSQL, split from the CLI's code path, and the
//! event page through the real router.
//!
//! Which articles are the same story is decided here by reading them (the curated Bybit
//! hack of 2025-02-21 told by three wires; the SEC dropping its Coinbase case 75 minutes
//! earlier is another story), never by running the clustering code.

mod common;

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::routing::get;
use chrono::{DateTime, Utc};

use catalyst::ingest::{self, story_store, FeedLocation};
use catalyst::web::AppState;

/// One feed item: title, link, description, RFC 3339 time.
type Item<'a> = (&'a str, &'a str, &'a str, &'a str);

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn rss(title: &str, items: &[Item]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>{}</title>\
         <link>https://example.test/</link><description>test</description>\n",
        xml_escape(title)
    );
    for (t, link, desc, time) in items {
        let time = DateTime::parse_from_rfc3339(time).unwrap().to_rfc2822();
        out.push_str(&format!(
            "<item><title>{}</title><link>{}</link><description>{}</description><pubDate>{}</pubDate></item>\n",
            xml_escape(t),
            xml_escape(link),
            xml_escape(desc),
            time
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// The curated Bybit hack (2025-02-21 14:15 UTC) as three wires told it, the SEC/Coinbase
/// story of the same hour, a follow-up the next day, and a GRT headline.
fn wires() -> Vec<(&'static str, String)> {
    let wire_a = rss(
        "Wire A",
        &[
            (
                "Bybit hacked for about 1.5 billion dollars in ether",
                "https://wire-a.test/markets/bybit-hack",
                "The largest exchange hack on record; funds are traced to North Korea's Lazarus Group.",
                "2025-02-21T14:15:00Z",
            ),
            (
                "SEC agrees to drop its lawsuit against Coinbase",
                "https://wire-a.test/policy/sec-coinbase",
                "Coinbase says SEC staff agreed to dismiss the enforcement case.",
                "2025-02-21T13:00:00Z",
            ),
        ],
    );
    let wire_b = rss(
        "Wire B",
        &[
            (
                "Crypto exchange Bybit loses $1.5 billion in ether hack",
                "https://wire-b.test/bybit-loses-1-5-billion",
                "Hackers linked to North Korea's Lazarus Group drained an ether cold wallet at Bybit.",
                "2025-02-21T15:05:00Z",
            ),
            // Wire A's article again, through tracking parameters and a fragment.
            (
                "Bybit hacked for about 1.5 billion dollars in ether (via Wire A)",
                "HTTPS://Wire-A.test:443/markets/bybit-hack/?utm_source=wireb&utm_medium=rss&fbclid=XYZ#top",
                "Syndicated.",
                "2025-02-21T14:20:00Z",
            ),
            (
                "Bybit hack: Lazarus Group launders stolen ether",
                "https://wire-b.test/bybit-lazarus-laundering",
                "A day after the 1.5 billion dollar Bybit hack, the Lazarus Group is laundering the stolen ether through exchanges.",
                "2025-02-22T16:00:00Z",
            ),
        ],
    );
    let wire_c = rss(
        "Wire C",
        &[
            (
                "Bybit hack: $1.5 billion in ether stolen from exchange cold wallet",
                "https://wire-c.test/news/bybit?id=77&ref=homepage",
                "Bybit says the largest hack on record drained its ether cold wallet; North Korea's Lazarus Group is suspected.",
                "2025-02-21T14:02:00Z",
            ),
            (
                "GRT surges 20% after exchange listing",
                "https://wire-c.test/news/grt",
                "Traders pile in.",
                "2025-02-21T09:00:00Z",
            ),
        ],
    );
    vec![("a", wire_a), ("b", wire_b), ("c", wire_c)]
}

/// Serve the three wires on 127.0.0.1; returns the base URL.
async fn wire_server() -> String {
    let mut app = axum::Router::new();
    for (name, body) in wires() {
        app = app.route(
            &format!("/{name}.xml"),
            get(move || {
                let body = body.clone();
                async move { ([("content-type", "application/rss+xml")], body) }
            }),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn ingest_wires(
    pool: &sqlx::PgPool,
    base: &str,
    order: &[&str],
) -> Vec<ingest::IngestReport> {
    let client = common::fetcher();
    let mut reports = Vec::new();
    for name in order {
        let loc = FeedLocation::parse(&format!("{base}/{name}.xml"));
        reports.push(
            ingest::ingest_feed(pool, &client, &loc, None)
                .await
                .unwrap(),
        );
    }
    reports
}

/// Event id of the article with this title.
async fn event_of(pool: &sqlx::PgPool, title: &str) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT event_id FROM articles WHERE title = $1")
        .bind(title)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{title}: {e}"))
}

async fn event_row(pool: &sqlx::PgPool, id: i64) -> (DateTime<Utc>, String) {
    sqlx::query_as::<_, (DateTime<Utc>, String)>(
        "SELECT event_time, headline FROM events WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const HACK_A: &str = "Bybit hacked for about 1.5 billion dollars in ether";
const HACK_B: &str = "Crypto exchange Bybit loses $1.5 billion in ether hack";
const HACK_C: &str = "Bybit hack: $1.5 billion in ether stolen from exchange cold wallet";
const HACK_LATE: &str = "Bybit hack: Lazarus Group launders stolen ether";
const SEC: &str = "SEC agrees to drop its lawsuit against Coinbase";
const GRT: &str = "GRT surges 20% after exchange listing";

#[tokio::test]
async fn the_same_story_from_three_wires_is_one_event_and_a_late_article_joins() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let base = wire_server().await;
    // Wire C (the earliest hack article, 14:02) comes last: the event moves back to it.
    let reports = ingest_wires(pool, &base, &["a", "b", "c"]).await;
    let new: Vec<usize> = reports.iter().map(|r| r.new).collect();
    assert_eq!(new, vec![2, 2, 2], "{reports:?}");
    assert_eq!(
        reports[1].duplicates, 1,
        "the tracking-parameter link is Wire A's article"
    );

    let hack = event_of(pool, HACK_A).await;
    for title in [HACK_B, HACK_C, HACK_LATE] {
        assert_eq!(event_of(pool, title).await, hack, "{title}");
    }
    assert_ne!(
        event_of(pool, SEC).await,
        hack,
        "another story, 75 minutes earlier"
    );
    assert_ne!(event_of(pool, GRT).await, hack);
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(events, 3);

    // Event time = earliest publication; the headline follows it.
    let (time, headline) = event_row(pool, hack).await;
    assert_eq!(time, utc("2025-02-21T14:02:00Z"));
    assert_eq!(headline, HACK_C);

    // Each join is recorded with its reason and score.
    let rows: Vec<(String, String, Option<f64>, Option<i64>)> = sqlx::query_as(
        "SELECT a.title, s.reason, s.similarity, s.matched_article_id
         FROM articles a JOIN article_stories s ON s.article_id = a.id WHERE a.event_id = $1",
    )
    .bind(hack)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 4);
    for (title, reason, sim, matched) in rows {
        if title == HACK_A {
            assert_eq!((reason.as_str(), sim, matched), ("new", None, None));
        } else {
            assert_eq!(reason, "similar", "{title}");
            assert!(sim.unwrap() >= ingest::stories::JOIN_THRESHOLD, "{title}");
            assert!(matched.is_some());
        }
    }
}

#[tokio::test]
async fn duplicates_via_tracking_parameters_and_content_across_feeds_store_one_article() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let base = wire_server().await;
    ingest_wires(pool, &base, &["a", "b"]).await;
    let urls: Vec<String> = sqlx::query_scalar(
        "SELECT canonical_url FROM articles WHERE canonical_url LIKE 'https://wire-a.test/%' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        urls,
        vec![
            "https://wire-a.test/markets/bybit-hack",
            "https://wire-a.test/policy/sec-coinbase"
        ]
    );

    // The same title and summary under another URL, from another feed: a duplicate by
    // content hash.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mirror.xml");
    std::fs::write(
        &file,
        rss(
            "Mirror",
            &[(
                "  SEC agrees to drop its LAWSUIT against Coinbase ",
                "https://mirror.test/sec-coinbase-copy",
                "Coinbase says SEC staff agreed to dismiss the enforcement case.",
                "2025-02-21T13:30:00Z",
            )],
        ),
    )
    .unwrap();
    let client = common::fetcher();
    let r = ingest::ingest_feed(pool, &client, &FeedLocation::File(file), None)
        .await
        .unwrap();
    assert_eq!((r.new, r.duplicates), (0, 1));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM articles")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 4);
}

#[tokio::test]
async fn split_moves_articles_recomputes_both_events_and_survives_reingest() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let base = wire_server().await;
    ingest_wires(pool, &base, &["a", "b", "c"]).await;
    let hack = event_of(pool, HACK_A).await;
    let id_of = |title: &'static str| async move {
        sqlx::query_scalar::<_, i64>("SELECT id FROM articles WHERE title = $1")
            .bind(title)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    let c = id_of(HACK_C).await;
    let late = id_of(HACK_LATE).await;

    // Bad requests name what is wrong and change nothing.
    let sec_article = id_of(SEC).await;
    let err = story_store::split(pool, hack, &[sec_article])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("article {sec_article} is not in event {hack}")
    );
    let all = [id_of(HACK_A).await, id_of(HACK_B).await, c, late];
    assert!(matches!(
        story_store::split(pool, hack, &all).await,
        Err(story_store::SplitError::WouldEmpty(_))
    ));
    assert!(matches!(
        story_store::split(pool, 999_999, &[c]).await,
        Err(story_store::SplitError::NoEvent(999_999))
    ));

    let new_event = story_store::split(pool, hack, &[c, late]).await.unwrap();
    assert_eq!(event_of(pool, HACK_C).await, new_event);
    assert_eq!(event_of(pool, HACK_LATE).await, new_event);
    assert_eq!(event_of(pool, HACK_B).await, hack);
    // Both events follow their own earliest article now.
    assert_eq!(
        event_row(pool, hack).await,
        (utc("2025-02-21T14:15:00Z"), HACK_A.to_string())
    );
    assert_eq!(
        event_row(pool, new_event).await,
        (utc("2025-02-21T14:02:00Z"), HACK_C.to_string())
    );
    let (_, _, listed) = story_store::event_articles(pool, new_event)
        .await
        .unwrap()
        .unwrap();
    let reasons: Vec<Option<String>> = listed.iter().map(|a| a.reason.clone()).collect();
    assert_eq!(reasons, vec![Some("split".into()), Some("split".into())]);
    let splits: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM event_splits WHERE from_event_id = $1 AND to_event_id = $2",
    )
    .bind(hack)
    .bind(new_event)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(splits, 1);

    // Re-ingesting every wire, in another order, adds nothing and moves nothing back.
    let reports = ingest_wires(pool, &base, &["c", "b", "a"]).await;
    assert!(reports.iter().all(|r| r.new == 0), "{reports:?}");
    assert_eq!(event_of(pool, HACK_C).await, new_event);
    assert_eq!(event_of(pool, HACK_LATE).await, new_event);
    assert_eq!(event_of(pool, HACK_A).await, hack);
}

use common::get_page;

#[tokio::test]
async fn the_event_page_says_why_each_tag_was_made() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let base = wire_server().await;
    ingest_wires(pool, &base, &["a", "b", "c"]).await;
    let state = AppState::new(pool.clone());

    let hack = event_of(pool, HACK_A).await;
    let (status, page) = get_page(&state, &format!("/events/{hack}")).await;
    assert_eq!(status, StatusCode::OK);
    let why = &page[page.find("id=\"why-tags\"").expect("the section is there")..];
    // Per article: its title, then each tag with matched text and rule.
    assert!(
        why.contains("Bybit hack: $1.5 billion in ether stolen"),
        "{why}"
    );
    assert!(
        why.contains("<td>ETH (Ethereum)</td><td>“ether”</td><td>alias</td><td>subject</td>"),
        "{why}"
    );
    assert!(
        why.contains("<td>Hacks and exploits</td><td>“hacked”</td><td>keyword</td>"),
        "{why}"
    );
    assert!(
        why.contains("<td>Hacks and exploits</td><td>“Lazarus”</td><td>keyword</td>"),
        "{why}"
    );
    // The articles say why they are in the event.
    assert!(page.contains("Story: first article of this story"));
    assert!(page.contains("Story: joined: similarity 0."));

    // A colliding ticker: kept, flagged, and the reason shown.
    let grt = event_of(pool, GRT).await;
    let (_, page) = get_page(&state, &format!("/events/{grt}")).await;
    let why = &page[page.find("id=\"why-tags\"").unwrap()..];
    assert!(why.contains("<tr class=\"ambiguous\"><td>GRT (The Graph)</td><td>“GRT”</td><td>ticker</td><td>–</td><td>ambiguous: GRT is also the ticker"), "{why}");
    let stored: (bool, Option<String>) = sqlx::query_as(
        "SELECT ambiguous, note FROM article_token_tags g JOIN tokens t ON t.id = g.token_id WHERE t.symbol = 'GRT'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(stored.0);
    assert!(stored.1.unwrap().contains("The Graph is not named"));
}

/// The real NewsAPI headlines of January 2025, one RSS file per publisher, read from
/// ../shared/data/news at run time (never copied into the repository).
fn newsapi_feeds(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let path = common::shared_data_dir().join("news/newsapi-crypto-2025-01.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut by_source: HashMap<String, Vec<(String, String, String, String)>> = HashMap::new();
    for a in json["articles"].as_array().unwrap() {
        let s = |k: &str| a[k].as_str().unwrap_or("").to_string();
        by_source
            .entry(a["source"]["name"].as_str().unwrap().to_string())
            .or_default()
            .push((s("title"), s("url"), s("description"), s("publishedAt")));
    }
    let mut files = Vec::new();
    let mut sources: Vec<_> = by_source.into_iter().collect();
    sources.sort();
    for (i, (source, items)) in sources.iter().enumerate() {
        let items: Vec<Item> = items
            .iter()
            .map(|(t, u, d, p)| (t.as_str(), u.as_str(), d.as_str(), p.as_str()))
            .collect();
        let file = dir.join(format!("source{i}.xml"));
        std::fs::write(&file, rss(source, &items)).unwrap();
        files.push(file);
    }
    files
}

#[tokio::test]
async fn real_headlines_group_the_same_story_and_keep_others_apart() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let dir = tempfile::tempdir().unwrap();
    let client = common::fetcher();
    for file in newsapi_feeds(dir.path()) {
        ingest::ingest_feed(pool, &client, &FeedLocation::File(file), None)
            .await
            .unwrap();
    }
    // Yahoo and Quartz ran the same MicroStrategy piece eight minutes apart.
    let yahoo = event_of(
        pool,
        "MicroStrategy keeps buying more Bitcoin. Here's how much it owns now",
    )
    .await;
    let quartz = event_of(
        pool,
        "MicroStrategy keeps buying more Bitcoin. Here's how much it owns.",
    )
    .await;
    assert_eq!(yahoo, quartz);
    let (time, _) = event_row(pool, yahoo).await;
    assert_eq!(time, utc("2025-01-31T16:19:00Z"), "the earlier of the two");
    // 25 minutes apart, both about bitcoin, different happenings.
    assert_ne!(
        event_of(pool, "Jamie Dimon says Bitcoin has 'no intrinsic value'").await,
        event_of(
            pool,
            "Bitcoin falls below $92,000 as crypto's Trump boost goes backwards"
        )
        .await
    );
    // Nearly the same words eleven days apart: outside the window, two events.
    assert_ne!(
        event_of(
            pool,
            "Bitcoin surges above $100,000, eyeing Trump’s inauguration"
        )
        .await,
        event_of(
            pool,
            "Bitcoin rises above $100,000 again ahead of Trump's inauguration"
        )
        .await
    );
}

/// The curated events' own kinds (written by a person) against the event-type categories
/// tagging gives them from config/tagging.toml.
#[test]
fn curated_event_kinds_get_their_category_from_the_tagging_file() {
    use catalyst::ingest::tagging::Tagger;
    use catalyst::taxonomy::{parse_tagging, parse_taxonomy, BUILTIN_TAGGING, BUILTIN_TAXONOMY};
    let tagger = Tagger::new(
        &parse_taxonomy(BUILTIN_TAXONOMY, "taxonomy.csv").unwrap(),
        &parse_tagging(BUILTIN_TAGGING, "tagging.toml").unwrap(),
    );
    let path = common::shared_data_dir().join("news/curated-events-2024-2025.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let mut checked = 0;
    for row in reader.records() {
        let row = row.unwrap();
        let (kind, title, summary) = (&row[2], &row[3], &row[4]);
        let slug = match kind {
            "etf" => "etf",
            "hack" => "hacks",
            "macro" => "macro",
            "regulation" => "regulation",
            _ => continue,
        };
        let tags = tagger.tag(&format!("{title}\n{summary}"));
        assert!(tags.slugs().contains(&slug), "{title}: {:?}", tags.slugs());
        checked += 1;
    }
    assert_eq!(checked, 18);
}

/// The 31 curated events are 31 different happenings (a person chose them), several
/// within a day of another; clustering them with the shipped rule keeps them apart.
#[test]
fn the_curated_events_stay_separate_events() {
    use catalyst::ingest::stories::{Story, StoryIndex};
    use catalyst::ingest::tagging::Tagger;
    use catalyst::taxonomy::{parse_tagging, parse_taxonomy, BUILTIN_TAGGING, BUILTIN_TAXONOMY};
    let tagger = Tagger::new(
        &parse_taxonomy(BUILTIN_TAXONOMY, "taxonomy.csv").unwrap(),
        &parse_tagging(BUILTIN_TAGGING, "tagging.toml").unwrap(),
    );
    let path = common::shared_data_dir().join("news/curated-events-2024-2025.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let mut index = StoryIndex::new();
    let mut events = std::collections::BTreeSet::new();
    for row in reader.records() {
        let row = row.unwrap();
        let (title, summary) = (&row[3], &row[4]);
        let tags = tagger.tag(&format!("{title}\n{summary}"));
        let story = Story::new(
            title,
            Some(summary),
            ingest::store::story_entities(&tags),
            utc(&row[0]),
        );
        let (event, matched) = index.insert(story);
        assert!(matched.is_none(), "{title} joined {matched:?}");
        events.insert(event);
    }
    assert_eq!(events.len(), 31);
}

/// The CLI: `ingest --feed FILE` for the three wires, `events show`, `events split`, and
/// a one-line error naming the bad input.
#[tokio::test]
async fn events_show_and_split_from_the_command_line() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let dir = tempfile::tempdir().unwrap();
    let catalyst = || {
        let mut cmd = assert_cmd::Command::cargo_bin("catalyst").unwrap();
        cmd.env("DATABASE_URL", &db.url).env("RUST_LOG", "off");
        cmd
    };
    for (name, body) in wires() {
        let file = dir.path().join(format!("{name}.xml"));
        std::fs::write(&file, body).unwrap();
        catalyst()
            .args(["ingest", "--feed", file.to_str().unwrap()])
            .assert()
            .success();
    }
    let hack = event_of(pool, HACK_A).await;
    let out = catalyst()
        .args(["events", "show", &hack.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("event {hack}: {HACK_C}")),
        "{text}"
    );
    assert_eq!(text.matches("first article").count(), 1, "{text}");
    assert_eq!(text.matches("similar 0.").count(), 3, "{text}");

    let late: i64 = sqlx::query_scalar("SELECT id FROM articles WHERE title = $1")
        .bind(HACK_LATE)
        .fetch_one(pool)
        .await
        .unwrap();
    let out = catalyst()
        .args([
            "events",
            "split",
            &hack.to_string(),
            "--article",
            &late.to_string(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let moved_to = event_of(pool, HACK_LATE).await;
    assert_ne!(moved_to, hack);
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains(&format!("to new event {moved_to}")));

    let out = catalyst()
        .args(["events", "split", &hack.to_string(), "--article", "987654"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("article 987654 is not in event {hack}")),
        "{err}"
    );
}

/// Two workers storing articles of the same new story at the same moment make one event,
/// not two (each would otherwise decide before seeing the other's article).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_new_story_stored_by_two_workers_at_once_is_one_event() {
    use catalyst::ingest::feed::NewsItem;
    use catalyst::ingest::run::store_batch;

    let db = common::test_db().await;
    let pool = &db.pool;
    let mut sources = Vec::new();
    for name in ["wire-a", "wire-b"] {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sources (name, kind, url) VALUES ($1, 'rss', $2) RETURNING id",
        )
        .bind(name)
        .bind(format!("https://{name}.example/feed"))
        .fetch_one(pool)
        .await
        .unwrap();
        sources.push(id);
    }
    const ROUNDS: usize = 12;
    let subjects = [
        "Bybit", "Coinbase", "Kraken", "Binance", "OKX", "Bitfinex", "Gemini", "Bitstamp", "Upbit",
        "Bithumb", "KuCoin", "Gate",
    ];
    for (round, subject) in subjects.iter().enumerate().take(ROUNDS) {
        let item = |wire: &str, summary: &str| NewsItem {
            title: format!(
                "{subject} exchange hacked as attackers drain ether from its cold wallet"
            ),
            summary: Some(summary.to_string()),
            url: Some(format!("https://{wire}.example/{round}")),
            guid: None,
            published_at: utc("2025-02-21T14:15:00Z") + chrono::Duration::days(round as i64),
            author: None,
            categories: Vec::new(),
            declared_tickers: Vec::new(),
            time_precision: Default::default(),
        };
        let a = [item("wire-a", "The exchange says client funds are safe.")];
        let b = [item(
            "wire-b",
            "Withdrawals were paused while the exchange investigates.",
        )];
        let (ra, rb) = tokio::join!(
            store_batch(pool, sources[0], &a),
            store_batch(pool, sources[1], &b)
        );
        assert_eq!((ra.unwrap(), rb.unwrap()), ((1, 0), (1, 0)));
        let events: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT event_id) FROM articles WHERE canonical_url LIKE $1",
        )
        .bind(format!("%.example/{round}"))
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(
            events, 1,
            "round {round} ({subject}): two events for one story"
        );
    }
}

/// Articles stored before stories existed have no features, so a new article of their
/// story starts an event of its own; `events backfill-stories` computes the features and
/// the next article joins.
#[tokio::test]
async fn backfilled_story_features_let_new_articles_join_old_events() {
    use catalyst::ingest::feed::NewsItem;
    use catalyst::ingest::run::store_batch;

    let db = common::test_db().await;
    let pool = &db.pool;
    let source: i64 = sqlx::query_scalar(
        "INSERT INTO sources (name, kind, url) VALUES ('old', 'rss', 'https://old.example/feed')
         RETURNING id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let item = |subject: &str, n: usize, summary: &str| NewsItem {
        title: format!("{subject} exchange hacked as attackers drain ether from its cold wallet"),
        summary: Some(summary.to_string()),
        url: Some(format!("https://old.example/{subject}/{n}")),
        guid: None,
        // Ten days apart: the two stories are outside each other's 48-hour window.
        published_at: utc("2025-02-21T14:15:00Z")
            + chrono::Duration::days(if subject == "Bybit" { 0 } else { 10 })
            + chrono::Duration::hours(n as i64),
        author: None,
        categories: Vec::new(),
        declared_tickers: Vec::new(),
        time_precision: Default::default(),
    };
    // Two old articles, as a database from before migration 0003 holds them.
    for subject in ["Bybit", "Kraken"] {
        store_batch(
            pool,
            source,
            &[item(subject, 0, "The exchange says funds are safe.")],
        )
        .await
        .unwrap();
    }
    sqlx::query("DELETE FROM article_stories")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM article_story_bands")
        .execute(pool)
        .await
        .unwrap();
    let events_of = |subject: &'static str| async move {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(DISTINCT event_id) FROM articles WHERE canonical_url LIKE $1",
        )
        .bind(format!("https://old.example/{subject}/%"))
        .fetch_one(pool)
        .await
        .unwrap()
    };

    // Without features the follow-up is not compared with the old article.
    store_batch(
        pool,
        source,
        &[item("Bybit", 1, "Withdrawals were paused.")],
    )
    .await
    .unwrap();
    assert_eq!(events_of("Bybit").await, 2);

    // Backfilled (both old articles), the Kraken follow-up joins its old article.
    assert_eq!(ingest::backfill_stories(pool).await.unwrap(), 2);
    assert_eq!(
        ingest::backfill_stories(pool).await.unwrap(),
        0,
        "idempotent"
    );
    store_batch(
        pool,
        source,
        &[item("Kraken", 1, "Withdrawals were paused.")],
    )
    .await
    .unwrap();
    assert_eq!(events_of("Kraken").await, 1);
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT s.reason FROM article_stories s JOIN articles a ON a.id = s.article_id
         WHERE a.canonical_url LIKE 'https://old.example/Kraken/%' ORDER BY a.published_at",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(reasons, ["backfill", "similar"]);
}
