//! Ingest: fetch a feed, parse it, tag its items, store new articles and their events.

pub mod article;
pub mod charset;
pub mod feed;
pub mod host_store;
pub mod http;
pub mod limits;
pub mod listing;
pub mod normalize;
pub mod published;
pub mod run;
pub mod salience;
pub mod source_store;
pub mod sources;
pub mod store;
pub mod stories;
pub mod story_store;
pub mod tagging;

use sqlx::PgPool;

pub use feed::FeedLocation;
use tagging::Tagger;

use crate::taxonomy::{self, TokenDef};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Feed(#[from] feed::FeedError),
    #[error("database error while ingesting {input}: {source}")]
    Db { input: String, source: sqlx::Error },
    #[error(transparent)]
    Http(#[from] http::HttpError),
    #[error("{0}")]
    Source(String),
}

/// Counts from one ingest run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub source_id: i64,
    pub fetched: usize,
    pub new: usize,
    pub duplicates: usize,
    pub skipped: Vec<String>,
}

/// New articles from which a feed counts as a bulk load (a file of generated or archived
/// events): the planner's statistics are refreshed after it.
const BULK_ARTICLES: usize = 1_000;
/// The tables an ingest writes, and the list's filters read.
const INGEST_TABLES: [&str; 4] = [
    "events",
    "articles",
    "article_token_tags",
    "article_category_tags",
];

/// Fetch, parse and store one feed. All of a feed's new articles are stored in one
/// transaction; running it again adds nothing. Every run, failed or not, is recorded in
/// `ingest_runs`.
pub async fn ingest_feed(
    pool: &PgPool,
    fetcher: &http::Fetcher,
    location: &FeedLocation,
    source_name: Option<&str>,
) -> Result<IngestReport, IngestError> {
    let started = chrono::Utc::now();
    let result = ingest_feed_once(pool, fetcher, location, source_name).await;
    let input = location.to_string();
    if let Err(e) = store::record_run(
        pool,
        &input,
        &location.as_source_url(),
        started,
        result.as_ref().map_err(|e| e.to_string()),
    )
    .await
    {
        tracing::warn!(feed = %input, "could not record the ingest run: {e}");
    }
    result
}

async fn ingest_feed_once(
    pool: &PgPool,
    fetcher: &http::Fetcher,
    location: &FeedLocation,
    source_name: Option<&str>,
) -> Result<IngestReport, IngestError> {
    let input = location.to_string();
    let db = |source| IngestError::Db {
        input: input.clone(),
        source,
    };
    let bytes = feed::fetch(fetcher, location).await?;
    let parsed = feed::parse(&bytes, &input)?;
    for reason in &parsed.skipped {
        tracing::warn!(feed = %input, "skipped {reason}");
    }

    let tagger = load_tagger(pool).await.map_err(db)?;
    let (token_ids, category_ids) = store::id_maps(pool).await.map_err(db)?;
    let name = source_name
        .map(str::to_string)
        .or_else(|| parsed.title.clone())
        .unwrap_or_else(|| location.default_name());

    let mut tx = pool.begin().await.map_err(db)?;
    store::lock_stories(&mut tx).await.map_err(db)?;
    let source_id = store::upsert_source(&mut tx, &name, &location.as_source_url())
        .await
        .map_err(db)?;
    let mut report = IngestReport {
        source_id,
        fetched: parsed.items.len(),
        skipped: parsed.skipped.clone(),
        ..Default::default()
    };
    for item in &parsed.items {
        let tags = run::tag_item(&tagger, item);
        match store::store_item(&mut tx, source_id, item, &tags, &token_ids, &category_ids)
            .await
            .map_err(db)?
        {
            store::Stored::New { .. } => report.new += 1,
            store::Stored::Duplicate => report.duplicates += 1,
        }
    }
    tx.commit().await.map_err(db)?;
    if report.new >= BULK_ARTICLES {
        crate::db::vacuum_analyze(pool, &INGEST_TABLES).await;
    }
    tracing::info!(
        feed = %input,
        fetched = report.fetched,
        new = report.new,
        duplicates = report.duplicates,
        skipped = report.skipped.len(),
        "ingested"
    );
    Ok(report)
}

/// Compute the story features of articles stored before stories existed (migration
/// 0003), so that new articles are compared with them. Their events stay as they are.
/// Runs in batches, each one transaction; returns how many articles it did.
pub async fn backfill_stories(pool: &PgPool) -> Result<usize, sqlx::Error> {
    const BATCH: i64 = 500;
    let tagger = load_tagger(pool).await?;
    let mut done = 0;
    loop {
        let batch = story_store::without_story(pool, BATCH).await?;
        if batch.is_empty() {
            return Ok(done);
        }
        let mut tx = pool.begin().await?;
        store::lock_stories(&mut tx).await?;
        for a in &batch {
            let text = match &a.summary {
                Some(s) => format!("{}\n{s}", a.title),
                None => a.title.clone(),
            };
            let entities = store::story_entities(&tagger.tag(&text));
            let story =
                stories::Story::new(&a.title, a.summary.as_deref(), entities, a.published_at);
            let keys = stories::band_keys(&story.terms);
            story_store::save_backfill(&mut tx, a.id, &story, &keys).await?;
        }
        tx.commit().await?;
        done += batch.len();
        tracing::info!(articles = done, "story features computed");
    }
}

/// Recompute every stored article's tags with the rules now stored (after changing the
/// tagging rules, or after the upgrade that added salience). Batches of 500 articles, one
/// transaction each; events are not regrouped. Returns the articles retagged.
pub async fn retag_all(pool: &PgPool) -> Result<usize, sqlx::Error> {
    const BATCH: i64 = 500;
    let tagger = load_tagger(pool).await?;
    let (token_ids, category_ids) = store::id_maps(pool).await?;
    let (mut after, mut done) = (0, 0);
    loop {
        let batch = store::articles_after(pool, after, BATCH).await?;
        let Some(last) = batch.last() else {
            crate::db::analyze(pool, &INGEST_TABLES[2..]).await;
            return Ok(done);
        };
        after = last.id;
        let mut tx = pool.begin().await?;
        for a in &batch {
            // A cashtag the text does not contain was declared by the page.
            let text = format!("{} {}", a.title, a.summary.as_deref().unwrap_or(""));
            let declared: Vec<String> = a
                .cashtags
                .iter()
                .filter(|c| !text.contains(c.as_str()))
                .map(|c| c.trim_start_matches('$').to_string())
                .collect();
            let tags = tagger.tag_article(&a.title, a.summary.as_deref(), &declared);
            store::replace_tags(&mut tx, a.id, &tags, &token_ids, &category_ids).await?;
        }
        tx.commit().await?;
        done += batch.len();
        tracing::info!(articles = done, "retagged");
    }
}

/// The tagger for the taxonomy stored in the database.
pub async fn load_tagger(pool: &PgPool) -> Result<Tagger, sqlx::Error> {
    let tokens: Vec<TokenDef> = taxonomy::store::load_tokens(pool)
        .await?
        .into_iter()
        .map(|t| TokenDef {
            symbol: t.symbol,
            name: t.name,
            categories: t.categories,
            aliases: t.aliases,
        })
        .collect();
    let rules = taxonomy::store::load_rules(pool).await?;
    Ok(Tagger::new(&tokens, &rules))
}
