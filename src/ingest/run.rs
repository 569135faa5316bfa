//! One run of one configured source: fetch (conditionally), parse the feed or scrape the
//! listing and its article pages, store the new articles, record the run. `collect` is
//! the part without writes, shared with `catalyst sources check`.

use std::collections::HashSet;

use chrono::Utc;
use sqlx::PgPool;

use super::article;
use super::charset::xml_as_utf8;
use super::feed::{self, NewsItem};
use super::http::{Fetched, Fetcher, Request};
use super::listing::{self, ListingError};
use super::published::implausible;
use super::source_store::{self, RunRecord, RunStatus, SourceRow};
use super::sources::SourceKind;
use super::tagging::{Tagger, Tags};
use super::{store, IngestError, IngestReport};

/// What one fetch of a source yielded.
#[derive(Debug, Clone)]
pub enum Collected {
    /// 304 to a conditional GET.
    NotModified,
    Batch(Batch),
}

#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub items: Vec<NewsItem>,
    /// Why other items were left out (no title or date, implausible time, page unreadable).
    pub skipped: Vec<String>,
    /// Listing items whose article is already stored (their pages were not fetched).
    pub already_stored: usize,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl From<ListingError> for IngestError {
    fn from(e: ListingError) -> Self {
        IngestError::Source(e.to_string())
    }
}

/// Fetch and parse `source`. With `known` (a database), listing items already stored are
/// not fetched again; `conditional` sends the stored ETag / Last-Modified.
pub async fn collect(
    fetcher: &Fetcher,
    source: &SourceRow,
    known: Option<&PgPool>,
    conditional: bool,
) -> Result<Collected, IngestError> {
    let cfg = &source.config;
    let req = Request {
        url: &cfg.url,
        user_agent: cfg.user_agent.as_deref(),
        etag: source.etag.as_deref().filter(|_| conditional),
        last_modified: source.last_modified.as_deref().filter(|_| conditional),
    };
    let page = match fetcher.fetch(&req).await? {
        Fetched::NotModified => return Ok(Collected::NotModified),
        Fetched::Page(p) => p,
    };
    let now = Utc::now();
    let mut batch = Batch {
        etag: page.etag.clone(),
        last_modified: page.last_modified.clone(),
        ..Default::default()
    };
    if cfg.kind != SourceKind::Html {
        let text = page.text();
        let parsed = feed::parse_at(xml_as_utf8(&text).as_bytes(), &cfg.url, now)?;
        batch.items = parsed.items;
        batch.skipped = parsed.skipped;
        return Ok(Collected::Batch(batch));
    }

    let selectors = cfg
        .selectors
        .as_ref()
        .ok_or_else(|| IngestError::Source(format!("{}: html source without selectors", cfg.name)))?
        .compile()?;
    let mut entries = listing::parse_listing(&page.text(), &page.url, &selectors);
    entries.truncate(cfg.max_articles as usize);
    let known: HashSet<String> = match known {
        Some(pool) => {
            let urls: Vec<String> = entries.iter().map(|e| e.url.clone()).collect();
            source_store::known_urls(pool, &urls)
                .await
                .map_err(|source| IngestError::Db {
                    input: cfg.url.clone(),
                    source,
                })?
        }
        None => HashSet::new(),
    };
    for entry in entries {
        if known.contains(&entry.url) {
            batch.already_stored += 1;
            continue;
        }
        let art_req = Request {
            url: &entry.url,
            user_agent: cfg.user_agent.as_deref(),
            ..Default::default()
        };
        let art_page = match fetcher.fetch(&art_req).await {
            Ok(Fetched::Page(p)) => p,
            Ok(Fetched::NotModified) => continue,
            Err(e) => {
                batch.skipped.push(format!("article {}: {e}", entry.url));
                continue;
            }
        };
        let meta = article::extract(&art_page.text(), &art_page.url);
        let Some(title) = meta.title.or(entry.title) else {
            batch
                .skipped
                .push(format!("article {}: no title", entry.url));
            continue;
        };
        let Some(published_at) = meta.published_at.or(entry.published_at) else {
            let why = match meta.unparsed_time {
                Some(t) => format!("unreadable publication time {t:?}"),
                None => "no publication time".into(),
            };
            batch
                .skipped
                .push(format!("article {} ({title}): {why}", entry.url));
            continue;
        };
        if let Some(why) = implausible(published_at, now) {
            batch
                .skipped
                .push(format!("article {} ({title}): {why}", entry.url));
            continue;
        }
        let item = NewsItem {
            title,
            summary: meta.summary,
            url: meta.canonical_url.or(Some(entry.url.clone())),
            guid: None,
            published_at,
            author: meta.author,
            categories: Vec::new(),
            declared_tickers: meta.tickers,
            time_precision: Default::default(),
        };
        match super::limits::clean_item(item, &format!("article {}", entry.url)) {
            Ok(item) => batch.items.push(item),
            Err(why) => batch.skipped.push(why),
        }
    }
    Ok(Collected::Batch(batch))
}

/// Store a batch for `source_id` in one transaction; returns (new, duplicates).
///
/// Batches are stored one at a time (`store::lock_stories`). Should two still meet on the
/// same article (a writer that does not take the lock), the loser's insert hits the
/// unique canonical URL and its transaction rolls back; it is then run again, and sees
/// the winner's article as a duplicate.
pub async fn store_batch(
    pool: &PgPool,
    source_id: i64,
    items: &[NewsItem],
) -> Result<(usize, usize), sqlx::Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match store_batch_once(pool, source_id, items).await {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() && attempt < 3 => {
                tracing::debug!("concurrent insert of the same article; storing the batch again");
            }
            // A deadlock victim or a dropped connection: the batch is one transaction,
            // so storing it again is safe.
            Err(e) if crate::db::is_transient(&e) && attempt < 4 => {
                tracing::warn!("storing the batch again after: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
            }
            other => return other,
        }
    }
}

async fn store_batch_once(
    pool: &PgPool,
    source_id: i64,
    items: &[NewsItem],
) -> Result<(usize, usize), sqlx::Error> {
    let tagger = super::load_tagger(pool).await?;
    let (token_ids, category_ids) = store::id_maps(pool).await?;
    let mut tx = pool.begin().await?;
    store::lock_stories(&mut tx).await?;
    let (mut new, mut duplicates) = (0, 0);
    for item in items {
        let tags = tag_item(&tagger, item);
        match store::store_item(&mut tx, source_id, item, &tags, &token_ids, &category_ids).await? {
            store::Stored::New { .. } => new += 1,
            store::Stored::Duplicate => duplicates += 1,
        }
    }
    tx.commit().await?;
    Ok((new, duplicates))
}

/// The text tagging reads: title, summary, and the tickers the page declares, written as
/// cashtags so the tagger's cashtag rule picks them up.
/// Tag a feed item: headline, summary and the tickers its page declares.
pub fn tag_item(tagger: &Tagger, item: &NewsItem) -> Tags {
    tagger.tag_article(&item.title, item.summary.as_deref(), &item.declared_tickers)
}

/// Run `source` (already claimed by `worker`): collect, store, record, release. Never
/// fails: errors become a failed run, recorded and returned in the report.
pub async fn run_source(
    pool: &PgPool,
    fetcher: &Fetcher,
    source: &SourceRow,
    worker: &str,
) -> SourceRun {
    let started = Utc::now();
    let outcome = async {
        match collect(fetcher, source, Some(pool), true).await? {
            Collected::NotModified => Ok((RunStatus::NotModified, IngestReport::default(), None)),
            Collected::Batch(batch) => {
                let (new, duplicates) =
                    store_batch(pool, source.id, &batch.items)
                        .await
                        .map_err(|e| IngestError::Db {
                            input: source.config.url.clone(),
                            source: e,
                        })?;
                let report = IngestReport {
                    source_id: source.id,
                    fetched: batch.items.len() + batch.skipped.len() + batch.already_stored,
                    new,
                    duplicates: duplicates + batch.already_stored,
                    skipped: batch.skipped,
                };
                Ok::<_, IngestError>((
                    RunStatus::Ok,
                    report,
                    Some((batch.etag, batch.last_modified)),
                ))
            }
        }
    }
    .await;
    let (status, report, validators, error) = match outcome {
        Ok((s, r, v)) => (s, r, v, None),
        Err(e) => (
            RunStatus::Failed,
            IngestReport::default(),
            None,
            Some(e.to_string()),
        ),
    };
    for reason in &report.skipped {
        tracing::warn!(source = %source.config.name, "skipped {reason}");
    }
    let (etag, last_modified) = validators.unwrap_or((None, None));
    let record = RunRecord {
        source_id: source.id,
        input: &source.config.url,
        worker,
        started,
        status,
        fetched: report.fetched,
        new: report.new,
        duplicates: report.duplicates,
        skipped: report.skipped.len(),
        error: error.as_deref(),
        etag: etag.as_deref(),
        last_modified: last_modified.as_deref(),
    };
    // Recording the run also releases the claim: a write lost to a passing database
    // fault would leave the source claimed until its lease lapses, so try for a while.
    let recorded = crate::db::retry_transient("recording the run", 6, || {
        source_store::finish(pool, &record)
    })
    .await;
    if let Err(e) = recorded {
        tracing::error!(source = %source.config.name, "could not record the run: {e}");
    }
    match &error {
        Some(e) => tracing::warn!(source = %source.config.name, "failed: {e}"),
        None => tracing::info!(
            source = %source.config.name,
            status = status.as_str(),
            fetched = report.fetched,
            new = report.new,
            duplicates = report.duplicates,
            skipped = report.skipped.len(),
            "ingested"
        ),
    }
    SourceRun {
        name: source.config.name.clone(),
        status,
        report,
        error,
    }
}

/// What `run_source` did.
#[derive(Debug, Clone)]
pub struct SourceRun {
    pub name: String,
    pub status: RunStatus,
    pub report: IngestReport,
    pub error: Option<String>,
}
