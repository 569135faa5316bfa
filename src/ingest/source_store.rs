//! SQL for configured sources, their runs and job claims: syncing the sources file,
//! claiming a due source (`FOR UPDATE SKIP LOCKED` with a lease), finishing a run, and the
//! health summary. (Articles and events are in `store`.)

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::listing::Selectors;
use super::sources::{SourceConfig, SourceKind, SourcesFile};

/// What a sync changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub disabled: usize,
}

/// Make the `sources` table match the file: add or update each source by name (an ad-hoc
/// source with the same URL is adopted, keeping its articles); disable config sources no
/// longer in the file. One transaction, retried if it loses a deadlock to a worker.
pub async fn sync(pool: &PgPool, file: &SourcesFile) -> Result<SyncReport, sqlx::Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match sync_once(pool, file).await {
            Err(sqlx::Error::Database(e))
                if attempt < 5 && matches!(e.code().as_deref(), Some("40P01" | "40001")) => {}
            other => return other,
        }
    }
}

async fn sync_once(pool: &PgPool, file: &SourcesFile) -> Result<SyncReport, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Workers starting together sync the same rows in different orders: one at a time.
    sqlx::query!("SELECT name FROM writer_locks WHERE name = 'sources-sync' FOR UPDATE")
        .fetch_optional(&mut *tx)
        .await?;
    let mut report = SyncReport::default();
    for s in &file.sources {
        sqlx::query!(
            r#"UPDATE sources SET name = $1
               WHERE url = $2 AND name <> $1 AND NOT from_config
                 AND NOT EXISTS (SELECT 1 FROM sources WHERE name = $1)"#,
            s.name,
            s.url
        )
        .execute(&mut *tx)
        .await?;
        let sel = s.selectors.as_ref();
        // Insert, else update only when something differs: a sync that changes nothing
        // (every worker start) locks no row, so it cannot deadlock with the workers'
        // claims and stores, which lock source rows one at a time in their own order.
        // (One statement: the UPDATE does not see the INSERT's row, so at most one acts.)
        let done = sqlx::query!(
            r#"WITH wanted AS (
                 SELECT $1::text AS name, $2::text AS kind, $3::text AS url, $4::bool AS enabled,
                        $5::int AS poll_interval_secs, $6::text AS user_agent,
                        $7::text AS item_selector, $8::text AS link_selector,
                        $9::text AS title_selector, $10::text AS time_selector,
                        $11::int AS max_articles),
               inserted AS (
                 INSERT INTO sources (name, kind, url, enabled, from_config, poll_interval_secs,
                                      user_agent, item_selector, link_selector, title_selector,
                                      time_selector, max_articles)
                 SELECT name, kind, url, enabled, true, poll_interval_secs, user_agent,
                        item_selector, link_selector, title_selector, time_selector,
                        max_articles
                 FROM wanted
                 ON CONFLICT (name) DO NOTHING
                 RETURNING id),
               updated AS (
                 UPDATE sources s SET
                   kind = w.kind, url = w.url, enabled = w.enabled, from_config = true,
                   poll_interval_secs = w.poll_interval_secs, user_agent = w.user_agent,
                   item_selector = w.item_selector, link_selector = w.link_selector,
                   title_selector = w.title_selector, time_selector = w.time_selector,
                   max_articles = w.max_articles,
                   -- validators belong to the old URL
                   etag = CASE WHEN s.url = w.url THEN s.etag END,
                   last_modified = CASE WHEN s.url = w.url THEN s.last_modified END
                 FROM wanted w
                 WHERE s.name = w.name
                   AND (s.kind, s.url, s.enabled, s.from_config, s.poll_interval_secs,
                        s.user_agent, s.item_selector, s.link_selector, s.title_selector,
                        s.time_selector, s.max_articles)
                       IS DISTINCT FROM
                       (w.kind, w.url, w.enabled, true, w.poll_interval_secs, w.user_agent,
                        w.item_selector, w.link_selector, w.title_selector, w.time_selector,
                        w.max_articles)
                 RETURNING s.id)
               SELECT (SELECT count(*) FROM inserted) AS "inserted!",
                      (SELECT count(*) FROM updated) AS "updated!""#,
            s.name,
            s.kind.as_str(),
            s.url,
            s.enabled,
            s.poll_interval_secs as i32,
            s.user_agent,
            sel.map(|x| x.item.clone()),
            sel.map(|x| x.link.clone()),
            sel.and_then(|x| x.title.clone()),
            sel.and_then(|x| x.time.clone()),
            s.max_articles as i32
        )
        .fetch_one(&mut *tx)
        .await?;
        match (done.inserted, done.updated) {
            (0, 0) => report.unchanged += 1,
            (0, _) => report.updated += 1,
            _ => report.added += 1,
        }
    }
    let names: Vec<String> = file.sources.iter().map(|s| s.name.clone()).collect();
    report.disabled = sqlx::query!(
        "UPDATE sources SET enabled = false WHERE from_config AND enabled AND NOT (name = ANY($1))",
        &names
    )
    .execute(&mut *tx)
    .await?
    .rows_affected() as usize;
    if report.added + report.updated + report.disabled > 0 {
        crate::db::wake_workers(&mut *tx, "sources").await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// A source as a worker runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRow {
    pub id: i64,
    pub config: SourceConfig,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

struct Raw {
    id: i64,
    name: String,
    kind: String,
    url: String,
    enabled: bool,
    poll_interval_secs: i32,
    user_agent: Option<String>,
    item_selector: Option<String>,
    link_selector: Option<String>,
    title_selector: Option<String>,
    time_selector: Option<String>,
    max_articles: i32,
    etag: Option<String>,
    last_modified: Option<String>,
}

impl Raw {
    fn into_row(self) -> SourceRow {
        let selectors = match (self.item_selector, self.link_selector) {
            (Some(item), Some(link)) => Some(Selectors {
                item,
                link,
                title: self.title_selector,
                time: self.time_selector,
            }),
            _ => None,
        };
        SourceRow {
            id: self.id,
            config: SourceConfig {
                name: self.name,
                // The CHECK constraint allows only known kinds.
                kind: SourceKind::parse(&self.kind).unwrap_or(SourceKind::Feed),
                url: self.url,
                enabled: self.enabled,
                poll_interval_secs: self.poll_interval_secs.max(0) as u32,
                user_agent: self.user_agent,
                selectors,
                max_articles: self.max_articles.max(1) as u32,
            },
            etag: self.etag,
            last_modified: self.last_modified,
        }
    }
}

/// Claim the enabled source that is most overdue and not claimed by a live lease. Two
/// workers never get the same source: the row is locked (`FOR UPDATE SKIP LOCKED`) while
/// it is claimed, and the claim holds until `finish` or until the lease lapses (a killed
/// worker's claim expires and another worker takes the source).
pub async fn claim_next(
    pool: &PgPool,
    worker: &str,
    lease_secs: f64,
) -> Result<Option<SourceRow>, sqlx::Error> {
    let raw = sqlx::query_as!(
        Raw,
        r#"UPDATE sources SET claimed_by = $1, claim_expires_at = now() + make_interval(secs => $2)
           WHERE id = (SELECT id FROM sources
                       WHERE enabled AND next_due_at <= now()
                         AND (claim_expires_at IS NULL OR claim_expires_at < now())
                       ORDER BY next_due_at, id
                       FOR UPDATE SKIP LOCKED LIMIT 1)
           RETURNING id, name, kind, url, enabled, poll_interval_secs, user_agent, item_selector,
                     link_selector, title_selector, time_selector, max_articles, etag,
                     last_modified"#,
        worker,
        lease_secs
    )
    .fetch_optional(pool)
    .await?;
    Ok(raw.map(Raw::into_row))
}

/// Result of claiming one named source.
#[derive(Debug, Clone, PartialEq)]
pub enum NamedClaim {
    Claimed(Box<SourceRow>),
    /// Another worker holds it.
    Busy {
        by: String,
    },
    NotFound,
}

/// Claim the source called `name` now, due or not (one-shot `catalyst ingest`).
pub async fn claim_named(
    pool: &PgPool,
    name: &str,
    worker: &str,
    lease_secs: f64,
) -> Result<NamedClaim, sqlx::Error> {
    let raw = sqlx::query_as!(
        Raw,
        r#"UPDATE sources SET claimed_by = $2, claim_expires_at = now() + make_interval(secs => $3)
           WHERE id = (SELECT id FROM sources WHERE name = $1
                         AND (claim_expires_at IS NULL OR claim_expires_at < now())
                       FOR UPDATE SKIP LOCKED)
           RETURNING id, name, kind, url, enabled, poll_interval_secs, user_agent, item_selector,
                     link_selector, title_selector, time_selector, max_articles, etag,
                     last_modified"#,
        name,
        worker,
        lease_secs
    )
    .fetch_optional(pool)
    .await?;
    if let Some(r) = raw {
        return Ok(NamedClaim::Claimed(Box::new(r.into_row())));
    }
    let holder = sqlx::query_scalar!("SELECT claimed_by FROM sources WHERE name = $1", name)
        .fetch_optional(pool)
        .await?;
    Ok(match holder {
        None => NamedClaim::NotFound,
        Some(by) => NamedClaim::Busy {
            by: by.unwrap_or_else(|| "another worker".into()),
        },
    })
}

/// How a run ended, for `finish` and `record_run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Ok,
    NotModified,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::NotModified => "not_modified",
            RunStatus::Failed => "failed",
        }
    }
}

/// One finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord<'a> {
    pub source_id: i64,
    pub input: &'a str,
    pub worker: &'a str,
    pub started: DateTime<Utc>,
    pub status: RunStatus,
    pub fetched: usize,
    pub new: usize,
    pub duplicates: usize,
    pub skipped: usize,
    pub error: Option<&'a str>,
    /// New validators from a 200 answer (kept as they were otherwise).
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
}

/// Record the run in `ingest_runs`, update the source's health and validators, schedule
/// its next poll (failures back off: interval × 2^failures, at most × 8), and release the
/// claim if this worker still holds it. One transaction.
pub async fn finish(pool: &PgPool, run: &RunRecord<'_>) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let failed = run.status == RunStatus::Failed;
    sqlx::query!(
        r#"UPDATE sources SET
             last_status = $2, last_run_at = now(), last_error = $3,
             consecutive_failures = CASE WHEN $4 THEN consecutive_failures + 1 ELSE 0 END,
             etag = CASE WHEN $5::text IS NOT NULL OR $6::text IS NOT NULL THEN $5 ELSE etag END,
             last_modified = CASE WHEN $5::text IS NOT NULL OR $6::text IS NOT NULL THEN $6
                                  ELSE last_modified END,
             next_due_at = now() + make_interval(secs => poll_interval_secs *
                 CASE WHEN $4 THEN LEAST(power(2, consecutive_failures + 1), 8) ELSE 1 END),
             claimed_by = CASE WHEN claimed_by = $7 THEN NULL ELSE claimed_by END,
             claim_expires_at = CASE WHEN claimed_by = $7 THEN NULL ELSE claim_expires_at END
           WHERE id = $1"#,
        run.source_id,
        run.status.as_str(),
        run.error,
        failed,
        run.etag,
        run.last_modified,
        run.worker
    )
    .execute(&mut *tx)
    .await?;
    // After the source's row lock (taken above): a sync waiting on that row cannot be
    // part of a lock cycle with this transaction's foreign-key lock.
    sqlx::query!(
        r#"INSERT INTO ingest_runs (source_id, input, started_at, status, fetched, new, duplicates,
                                    skipped, error, worker)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
        run.source_id,
        run.input,
        run.started,
        run.status.as_str(),
        run.fetched as i32,
        run.new as i32,
        run.duplicates as i32,
        run.skipped as i32,
        run.error,
        run.worker
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Extend `worker`'s claim on a source it is still running (the worker's heartbeat), so
/// a run longer than one lease is not taken over. False when the claim is no longer held.
pub async fn renew_claim(
    pool: &PgPool,
    source_id: i64,
    worker: &str,
    lease_secs: f64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        r#"UPDATE sources SET claim_expires_at = now() + make_interval(secs => $3)
           WHERE id = $1 AND claimed_by = $2"#,
        source_id,
        worker,
        lease_secs
    )
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// Release `worker`'s claim on one source, leaving it due as it was (a job that ended
/// without recording its outcome: the source is not left to wait out the lease).
pub async fn release(pool: &PgPool, source_id: i64, worker: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        "UPDATE sources SET claimed_by = NULL, claim_expires_at = NULL WHERE id = $1 AND claimed_by = $2",
        source_id,
        worker
    )
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// Release every claim `worker` holds (on shutdown), leaving the sources due as they were.
pub async fn release_all(pool: &PgPool, worker: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "UPDATE sources SET claimed_by = NULL, claim_expires_at = NULL WHERE claimed_by = $1",
        worker
    )
    .execute(pool)
    .await?
    .rows_affected())
}

/// When the next enabled source becomes claimable, if any is enabled.
pub async fn next_wakeup(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT min(GREATEST(next_due_at, COALESCE(claim_expires_at, next_due_at)))
           FROM sources WHERE enabled"#
    )
    .fetch_one(pool)
    .await
}

/// Names of enabled sources (what one-shot `catalyst ingest` runs).
pub async fn enabled_names(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT name FROM sources WHERE enabled ORDER BY name")
        .fetch_all(pool)
        .await
}

/// Which of `urls` are already stored as articles (so listing pages skip fetching them).
pub async fn known_urls(pool: &PgPool, urls: &[String]) -> Result<HashSet<String>, sqlx::Error> {
    let rows = sqlx::query_scalar!(
        r#"SELECT canonical_url AS "url!" FROM articles WHERE canonical_url = ANY($1)"#,
        urls
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// One line of `catalyst sources list`.
#[derive(Debug, Clone)]
pub struct SourceHealth {
    pub name: String,
    pub kind: String,
    pub url: String,
    pub enabled: bool,
    /// From the sources file; false for ad-hoc `ingest --feed` sources.
    pub from_config: bool,
    pub poll_interval_secs: i32,
    pub last_status: Option<String>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: i32,
    pub next_due_at: DateTime<Utc>,
    pub claimed_by: Option<String>,
    pub runs: i64,
    pub failed_runs: i64,
    pub articles: i64,
    /// Events its articles belong to.
    pub events: i64,
    /// Publication time of its newest article.
    pub latest_article: Option<DateTime<Utc>>,
}

/// Every source with its health and counts (`catalyst sources list`, `/sources`).
pub async fn health(pool: &PgPool) -> Result<Vec<SourceHealth>, sqlx::Error> {
    sqlx::query_as!(
        SourceHealth,
        r#"SELECT s.name, s.kind, s.url, s.enabled, s.from_config, s.poll_interval_secs,
                  s.last_status, s.last_run_at, s.last_error, s.consecutive_failures,
                  s.next_due_at, s.claimed_by,
                  (SELECT count(*) FROM ingest_runs r WHERE r.source_id = s.id) AS "runs!",
                  (SELECT count(*) FROM ingest_runs r WHERE r.source_id = s.id
                     AND r.status = 'failed') AS "failed_runs!",
                  a.articles AS "articles!", a.events AS "events!", a.latest AS latest_article
           FROM sources s
           CROSS JOIN LATERAL (SELECT count(*) AS articles, count(DISTINCT event_id) AS events,
                                      max(published_at) AS latest
                               FROM articles WHERE source_id = s.id) a
           ORDER BY s.name"#
    )
    .fetch_all(pool)
    .await
}

/// One row of `ingest_runs` with its source's name, as `/sources` lists them.
#[derive(Debug, Clone)]
pub struct RecentRun {
    /// The source's name ("–" for a run whose feed never became a source).
    pub source: String,
    pub input: String,
    pub finished_at: DateTime<Utc>,
    pub status: String,
    pub fetched: i32,
    pub new: i32,
    pub duplicates: i32,
    pub skipped: i32,
    pub error: Option<String>,
}

/// The newest `limit` runs of all sources.
pub async fn recent_runs(pool: &PgPool, limit: i64) -> Result<Vec<RecentRun>, sqlx::Error> {
    sqlx::query_as!(
        RecentRun,
        r#"SELECT COALESCE(s.name, '–') AS "source!", r.input, r.finished_at, r.status,
                  r.fetched, r.new, r.duplicates, r.skipped, r.error
           FROM ingest_runs r LEFT JOIN sources s ON s.id = r.source_id
           ORDER BY r.started_at DESC, r.id DESC LIMIT $1"#,
        limit
    )
    .fetch_all(pool)
    .await
}
