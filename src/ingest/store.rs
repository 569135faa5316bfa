//! SQL for the news tables: sources, articles, events, article tags.

use std::collections::HashMap;

use sqlx::{PgConnection, PgPool};

use super::feed::NewsItem;
use super::normalize::content_hash;
use super::stories::{self, Story};
use super::story_store;
use super::tagging::{CategoryRule, Tags};

/// What clustering counts as an article's entities: its unambiguous tokens and the
/// category keywords it contains (lower-cased by `Story::new`).
pub fn story_entities(tags: &Tags) -> Vec<String> {
    tags.symbols()
        .into_iter()
        .map(str::to_string)
        .chain(
            tags.categories
                .iter()
                .filter(|c| c.rule == CategoryRule::Keyword)
                .map(|c| c.matched_text.clone()),
        )
        .collect()
}

/// Find or create the source for `url`. The name is kept once set; a name already used
/// by another URL gets the URL's hash appended. A source created here (ad hoc, by
/// `ingest --feed`) is not enabled: it is ingested when asked, not polled by workers.
pub async fn upsert_source(
    conn: &mut PgConnection,
    name: &str,
    url: &str,
) -> Result<i64, sqlx::Error> {
    if let Some(id) = sqlx::query_scalar!("SELECT id FROM sources WHERE url = $1", url)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok(id);
    }
    let taken = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM sources WHERE name = $1) AS "taken!""#,
        name
    )
    .fetch_one(&mut *conn)
    .await?;
    let name = if taken {
        format!("{name} ({})", &content_hash(url, None)[..8])
    } else {
        name.to_string()
    };
    sqlx::query_scalar!(
        r#"INSERT INTO sources (name, kind, url, enabled) VALUES ($1, 'feed', $2, false)
           ON CONFLICT (url) DO UPDATE SET url = EXCLUDED.url
           RETURNING id"#,
        name,
        url
    )
    .fetch_one(&mut *conn)
    .await
}

/// Take the story lock for the rest of the transaction. Which event an article joins is
/// decided from the articles already stored; two workers storing articles of the same
/// new story at once would each see none of the other's and start two events. So the
/// transactions that store articles run one at a time. They are short (no network
/// inside) and take this lock before any row lock, so waiting on it cannot deadlock.
pub async fn lock_stories(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    // A row lock (migration 0012): a read-only role cannot take it, so cannot stall ingest.
    sqlx::query!("SELECT name FROM writer_locks WHERE name = 'stories' FOR UPDATE")
        .fetch_optional(conn)
        .await?;
    Ok(())
}

/// What happened to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New { article_id: i64, event_id: i64 },
    Duplicate,
}

/// Store one item with its tags, unless it is already stored (same canonical URL, same
/// guid from the same source, or same title and summary). Joins the event of the most
/// similar recent article (see [`stories`]), or starts a new one.
pub async fn store_item(
    conn: &mut PgConnection,
    source_id: i64,
    item: &NewsItem,
    tags: &Tags,
    token_ids: &HashMap<String, i32>,
    category_ids: &HashMap<String, i32>,
) -> Result<Stored, sqlx::Error> {
    let hash = content_hash(&item.title, item.summary.as_deref());
    let duplicate = sqlx::query_scalar!(
        r#"SELECT EXISTS (
             SELECT 1 FROM articles
             WHERE canonical_url = $1 OR (source_id = $2 AND guid = $3) OR content_hash = $4
           ) AS "dup!""#,
        item.url,
        source_id,
        item.guid,
        hash
    )
    .fetch_one(&mut *conn)
    .await?;
    if duplicate {
        // A feed may correct how exactly it knows an item's time (a curated list later
        // marking a placeholder hour as day-precision): take that, nothing else.
        let fixed = sqlx::query_scalar!(
            r#"UPDATE articles SET time_precision = $3
               WHERE (canonical_url = $1 OR (source_id = $2 AND guid = $4))
                 AND time_precision <> $3
               RETURNING event_id"#,
            item.url,
            source_id,
            item.time_precision.as_str(),
            item.guid
        )
        .fetch_all(&mut *conn)
        .await?;
        if !fixed.is_empty() {
            sqlx::query!(
                r#"UPDATE events e SET time_precision = COALESCE(
                     (SELECT a.time_precision FROM articles a WHERE a.event_id = e.id
                      ORDER BY a.published_at, a.id LIMIT 1), e.time_precision)
                   WHERE e.id = ANY($1)"#,
                &fixed
            )
            .execute(&mut *conn)
            .await?;
        }
        return Ok(Stored::Duplicate);
    }

    // Which story: the most similar article sharing an LSH band key within the window
    // (stories.rs has the rule), else a new event.
    let story = Story::new(
        &item.title,
        item.summary.as_deref(),
        story_entities(tags),
        item.published_at,
    );
    let keys = stories::band_keys(&story.terms);
    let candidates = story_store::candidates(&mut *conn, &story, &keys).await?;
    let matched = stories::best_match(&story, &candidates);
    let kind = item.categories.first().map(|k| k.to_lowercase());
    let event_id = match &matched {
        Some(m) => m.event_id,
        None => {
            sqlx::query_scalar!(
                "INSERT INTO events (event_time, headline, kind) VALUES ($1, $2, $3) RETURNING id",
                item.published_at,
                item.title,
                kind
            )
            .fetch_one(&mut *conn)
            .await?
        }
    };

    let article_id = sqlx::query_scalar!(
        r#"INSERT INTO articles
             (source_id, event_id, canonical_url, guid, title, summary, author, published_at,
              content_hash, time_precision)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           RETURNING id"#,
        source_id,
        event_id,
        item.url,
        item.guid,
        item.title,
        item.summary,
        item.author,
        item.published_at,
        hash,
        item.time_precision.as_str()
    )
    .fetch_one(&mut *conn)
    .await?;
    story_store::save_assignment(&mut *conn, article_id, &story, &keys, matched.as_ref()).await?;

    // The event's time and headline follow its earliest article: an earlier article
    // joining moves the event back.
    sqlx::query!(
        r#"UPDATE events e SET
             event_time = first.published_at,
             headline = first.title,
             time_precision = first.time_precision,
             kind = COALESCE(e.kind, $2),
             updated_at = now()
           FROM (SELECT published_at, title, time_precision FROM articles WHERE event_id = $1
                 ORDER BY published_at, id LIMIT 1) AS first
           WHERE e.id = $1"#,
        event_id,
        kind
    )
    .execute(&mut *conn)
    .await?;

    insert_tags(&mut *conn, article_id, tags, token_ids, category_ids).await?;

    Ok(Stored::New {
        article_id,
        event_id,
    })
}

/// Insert an article's tags, each with why it was made and its salience.
pub async fn insert_tags(
    conn: &mut PgConnection,
    article_id: i64,
    tags: &Tags,
    token_ids: &HashMap<String, i32>,
    category_ids: &HashMap<String, i32>,
) -> Result<(), sqlx::Error> {
    let mut t_ids = Vec::new();
    let mut t_rules = Vec::new();
    let mut t_texts = Vec::new();
    let mut t_amb = Vec::new();
    let mut t_notes: Vec<Option<String>> = Vec::new();
    let mut t_sal = Vec::new();
    let mut t_sal_notes: Vec<Option<String>> = Vec::new();
    for t in &tags.tokens {
        if let Some(&id) = token_ids.get(&t.symbol) {
            t_ids.push(id);
            t_rules.push(t.rule.as_str().to_string());
            t_texts.push(t.matched_text.clone());
            t_amb.push(t.ambiguous);
            t_notes.push(t.note.clone());
            t_sal.push(t.salience.as_str().to_string());
            t_sal_notes.push(t.salience_note.clone());
        }
    }
    sqlx::query!(
        r#"INSERT INTO article_token_tags (article_id, token_id, rule, matched_text, ambiguous, note, salience, salience_note)
           SELECT $1, * FROM UNNEST($2::int[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::text[], $8::text[])
           ON CONFLICT DO NOTHING"#,
        article_id,
        &t_ids,
        &t_rules,
        &t_texts,
        &t_amb,
        &t_notes as &[Option<String>],
        &t_sal,
        &t_sal_notes as &[Option<String>]
    )
    .execute(&mut *conn)
    .await?;

    let mut c_ids = Vec::new();
    let mut c_rules = Vec::new();
    let mut c_texts = Vec::new();
    let mut c_sal = Vec::new();
    let mut c_sal_notes: Vec<Option<String>> = Vec::new();
    for c in &tags.categories {
        if let Some(&id) = category_ids.get(&c.slug) {
            c_ids.push(id);
            c_rules.push(c.rule.as_str().to_string());
            c_texts.push(c.matched_text.clone());
            c_sal.push(c.salience.as_str().to_string());
            c_sal_notes.push(c.salience_note.clone());
        }
    }
    sqlx::query!(
        r#"INSERT INTO article_category_tags (article_id, category_id, rule, matched_text, salience, salience_note)
           SELECT $1, * FROM UNNEST($2::int[], $3::text[], $4::text[], $5::text[], $6::text[])
           ON CONFLICT DO NOTHING"#,
        article_id,
        &c_ids,
        &c_rules,
        &c_texts,
        &c_sal,
        &c_sal_notes as &[Option<String>]
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An article to retag: its text and its cashtag tags (declared tickers are not stored
/// elsewhere).
pub struct RetagRow {
    pub id: i64,
    pub title: String,
    pub summary: Option<String>,
    pub cashtags: Vec<String>,
}

/// Articles to retag, after `after_id`, at most `limit`.
pub async fn articles_after(
    pool: &PgPool,
    after_id: i64,
    limit: i64,
) -> Result<Vec<RetagRow>, sqlx::Error> {
    sqlx::query_as!(
        RetagRow,
        r#"SELECT a.id, a.title, a.summary,
                  ARRAY(SELECT g.matched_text FROM article_token_tags g
                        WHERE g.article_id = a.id AND g.rule = 'cashtag') AS "cashtags!"
           FROM articles a WHERE a.id > $1 ORDER BY a.id LIMIT $2"#,
        after_id,
        limit
    )
    .fetch_all(pool)
    .await
}

/// Replace an article's tags (retagging with the current rules).
pub async fn replace_tags(
    conn: &mut PgConnection,
    article_id: i64,
    tags: &Tags,
    token_ids: &HashMap<String, i32>,
    category_ids: &HashMap<String, i32>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM article_token_tags WHERE article_id = $1",
        article_id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "DELETE FROM article_category_tags WHERE article_id = $1",
        article_id
    )
    .execute(&mut *conn)
    .await?;
    insert_tags(conn, article_id, tags, token_ids, category_ids).await
}

/// Record one run of a feed: its counts, or its error.
pub async fn record_run(
    pool: &PgPool,
    input: &str,
    source_url: &str,
    started: chrono::DateTime<chrono::Utc>,
    outcome: Result<&super::IngestReport, String>,
) -> Result<(), sqlx::Error> {
    let (status, fetched, new, duplicates, skipped, error) = match &outcome {
        Ok(r) => (
            "ok",
            r.fetched as i32,
            r.new as i32,
            r.duplicates as i32,
            r.skipped.len() as i32,
            None,
        ),
        Err(e) => ("failed", 0, 0, 0, 0, Some(e.as_str())),
    };
    // The source's own health columns follow its latest run, as for scheduled sources.
    sqlx::query!(
        r#"WITH source AS (
             UPDATE sources SET last_status = $4, last_run_at = now(), last_error = $9,
                    consecutive_failures = CASE WHEN $4 = 'failed' THEN consecutive_failures + 1
                                                ELSE 0 END
             WHERE url = $1 RETURNING id)
           INSERT INTO ingest_runs (source_id, input, started_at, status, fetched, new, duplicates, skipped, error)
           VALUES ((SELECT id FROM source), $2, $3, $4, $5, $6, $7, $8, $9)"#,
        source_url,
        input,
        started,
        status,
        fetched,
        new,
        duplicates,
        skipped,
        error
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Symbol to id, and category slug to id.
pub async fn id_maps(
    pool: &PgPool,
) -> Result<(HashMap<String, i32>, HashMap<String, i32>), sqlx::Error> {
    let tokens = sqlx::query!("SELECT id, symbol FROM tokens")
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.symbol, r.id))
        .collect();
    let categories = sqlx::query!("SELECT id, slug FROM categories")
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.slug, r.id))
        .collect();
    Ok((tokens, categories))
}
