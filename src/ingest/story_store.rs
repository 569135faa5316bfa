//! SQL for the story tables: article_stories, article_story_bands, event_splits; and the
//! event moves they drive (assigning an article, splitting an event).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::stories::{self, Candidate, Match, Story};

/// Errors of `catalyst events split` that are the caller's, not the database's.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("there is no event {0}")]
    NoEvent(i64),
    #[error("article {article} is not in event {event}")]
    NotInEvent { article: i64, event: i64 },
    #[error("name at least one article to move")]
    NothingToMove,
    #[error("event {0} would be left without articles: leave at least one")]
    WouldEmpty(i64),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Stored articles that share an LSH band key with `story` and lie within the window.
pub async fn candidates(
    conn: &mut PgConnection,
    story: &Story,
    keys: &[(i16, i64)],
) -> Result<Vec<Candidate>, sqlx::Error> {
    let key_values: Vec<i64> = keys.iter().map(|&(_, k)| k).collect();
    let from = story.published_at - stories::WINDOW;
    let to = story.published_at + stories::WINDOW;
    let rows = sqlx::query!(
        r#"SELECT a.id, a.event_id, a.published_at, s.terms, s.entities
           FROM articles a JOIN article_stories s ON s.article_id = a.id
           WHERE a.id IN (SELECT b.article_id FROM article_story_bands b
                          WHERE b.band_key = ANY($1) AND b.published_at BETWEEN $2 AND $3)
           ORDER BY a.id"#,
        &key_values,
        from,
        to
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Candidate {
            article_id: r.id,
            event_id: r.event_id,
            story: Story {
                terms: r.terms.into_iter().map(|t| t as u64).collect(),
                entities: r.entities,
                published_at: r.published_at,
            },
        })
        .collect())
}

/// Record an article's story features, its band keys, and why it is in its event.
pub async fn save_assignment(
    conn: &mut PgConnection,
    article_id: i64,
    story: &Story,
    keys: &[(i16, i64)],
    matched: Option<&Match>,
) -> Result<(), sqlx::Error> {
    let terms: Vec<i64> = story.terms.iter().map(|&t| t as i64).collect();
    let (reason, matched_id, score) = match matched {
        Some(m) => ("similar", Some(m.article_id), Some(m.similarity.score)),
        None => ("new", None, None),
    };
    sqlx::query!(
        r#"INSERT INTO article_stories (article_id, terms, entities, reason, matched_article_id, similarity)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (article_id) DO NOTHING"#,
        article_id,
        &terms,
        &story.entities,
        reason,
        matched_id,
        score
    )
    .execute(&mut *conn)
    .await?;
    save_bands(conn, article_id, story, keys).await
}

async fn save_bands(
    conn: &mut PgConnection,
    article_id: i64,
    story: &Story,
    keys: &[(i16, i64)],
) -> Result<(), sqlx::Error> {
    let bands: Vec<i16> = keys.iter().map(|&(b, _)| b).collect();
    let key_values: Vec<i64> = keys.iter().map(|&(_, k)| k).collect();
    sqlx::query!(
        r#"INSERT INTO article_story_bands (article_id, band, band_key, published_at)
           SELECT $1, u.band, u.band_key, $4
           FROM UNNEST($2::smallint[], $3::bigint[]) AS u(band, band_key)
           ON CONFLICT DO NOTHING"#,
        article_id,
        &bands,
        &key_values,
        story.published_at
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Articles without story features (stored before stories existed), oldest first.
pub struct Unstoried {
    pub id: i64,
    pub title: String,
    pub summary: Option<String>,
    pub published_at: DateTime<Utc>,
}

/// Up to `limit` articles that have no `article_stories` row.
pub async fn without_story(pool: &PgPool, limit: i64) -> Result<Vec<Unstoried>, sqlx::Error> {
    sqlx::query_as!(
        Unstoried,
        r#"SELECT a.id, a.title, a.summary, a.published_at FROM articles a
           WHERE NOT EXISTS (SELECT 1 FROM article_stories s WHERE s.article_id = a.id)
           ORDER BY a.published_at, a.id LIMIT $1"#,
        limit
    )
    .fetch_all(pool)
    .await
}

/// Store the features of an article that predates stories, leaving its event as it is.
pub async fn save_backfill(
    conn: &mut PgConnection,
    article_id: i64,
    story: &Story,
    keys: &[(i16, i64)],
) -> Result<(), sqlx::Error> {
    let terms: Vec<i64> = story.terms.iter().map(|&t| t as i64).collect();
    sqlx::query!(
        r#"INSERT INTO article_stories (article_id, terms, entities, reason)
           VALUES ($1, $2, $3, 'backfill')
           ON CONFLICT (article_id) DO NOTHING"#,
        article_id,
        &terms,
        &story.entities
    )
    .execute(&mut *conn)
    .await?;
    save_bands(conn, article_id, story, keys).await
}

/// The event's time and headline follow its earliest article (ties: the lower id).
pub async fn refresh_event(conn: &mut PgConnection, event_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE events e SET
             event_time = first.published_at,
             headline = first.title,
             updated_at = now()
           FROM (SELECT published_at, title FROM articles WHERE event_id = $1
                 ORDER BY published_at, id LIMIT 1) AS first
           WHERE e.id = $1"#,
        event_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Move `article_ids` out of `event_id` into a new event (same kind), in one transaction.
/// Both events' time and headline are recomputed (their tags are their articles' tags).
/// Returns the new event's id.
pub async fn split(pool: &PgPool, event_id: i64, article_ids: &[i64]) -> Result<i64, SplitError> {
    let mut ids = article_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(SplitError::NothingToMove);
    }
    let mut tx = pool.begin().await?;
    // Not while articles are being assigned to events (see `store::lock_stories`).
    super::store::lock_stories(&mut tx).await?;
    let kind = sqlx::query!("SELECT kind FROM events WHERE id = $1 FOR UPDATE", event_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(SplitError::NoEvent(event_id))?
        .kind;
    let members = sqlx::query_scalar!(
        "SELECT id FROM articles WHERE event_id = $1 ORDER BY id",
        event_id
    )
    .fetch_all(&mut *tx)
    .await?;
    if let Some(&stray) = ids.iter().find(|a| !members.contains(a)) {
        return Err(SplitError::NotInEvent {
            article: stray,
            event: event_id,
        });
    }
    if ids.len() == members.len() {
        return Err(SplitError::WouldEmpty(event_id));
    }
    let new_id = sqlx::query_scalar!(
        r#"INSERT INTO events (event_time, headline, kind)
           SELECT published_at, title, $2::text FROM articles WHERE id = ANY($1)
           ORDER BY published_at, id LIMIT 1
           RETURNING id"#,
        &ids,
        kind
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE articles SET event_id = $1 WHERE id = ANY($2)",
        new_id,
        &ids
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"UPDATE article_stories
           SET reason = 'split', matched_article_id = NULL, similarity = NULL, assigned_at = now()
           WHERE article_id = ANY($1)"#,
        &ids
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO event_splits (from_event_id, to_event_id, article_ids) VALUES ($1, $2, $3)",
        event_id,
        new_id,
        &ids
    )
    .execute(&mut *tx)
    .await?;
    refresh_event(&mut tx, event_id).await?;
    refresh_event(&mut tx, new_id).await?;
    tx.commit().await?;
    Ok(new_id)
}

/// One article of an event, with why it is there.
#[derive(Debug, Clone, PartialEq)]
pub struct EventArticle {
    pub article_id: i64,
    pub title: String,
    pub source: String,
    pub published_at: DateTime<Utc>,
    /// new, similar, split; None for articles stored before stories were recorded.
    pub reason: Option<String>,
    pub matched_article_id: Option<i64>,
    pub similarity: Option<f64>,
}

/// The event's headline and time, and its articles in publication order.
pub async fn event_articles(
    pool: &PgPool,
    event_id: i64,
) -> Result<Option<(String, DateTime<Utc>, Vec<EventArticle>)>, sqlx::Error> {
    let Some(event) = sqlx::query!(
        "SELECT headline, event_time FROM events WHERE id = $1",
        event_id
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let rows = sqlx::query!(
        r#"SELECT a.id, a.title, a.published_at, src.name AS source,
                  s.reason AS "reason?", s.matched_article_id, s.similarity
           FROM articles a JOIN sources src ON src.id = a.source_id
           LEFT JOIN article_stories s ON s.article_id = a.id
           WHERE a.event_id = $1 ORDER BY a.published_at, a.id"#,
        event_id
    )
    .fetch_all(pool)
    .await?;
    let articles = rows
        .into_iter()
        .map(|r| EventArticle {
            article_id: r.id,
            title: r.title,
            source: r.source,
            published_at: r.published_at,
            reason: r.reason,
            matched_article_id: r.matched_article_id,
            similarity: r.similarity,
        })
        .collect();
    Ok(Some((event.headline, event.event_time, articles)))
}
