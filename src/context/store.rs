//! Every SQL statement on the context tables (migrations/0016_context.sql).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgPool, Postgres, Transaction};

use super::bars::DailyBar;
use super::config::AssetConfig;
use super::sessions::Session;

/// Serialise context writers (two imports, or an import and a betas rebuild) until the
/// transaction ends.
pub async fn lock(tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT name FROM writer_locks WHERE name = 'context' FOR UPDATE")
        .fetch_optional(&mut **tx)
        .await?;
    Ok(())
}

/// Of these category slugs, those the database knows.
pub async fn known_categories(
    tx: &mut Transaction<'_, Postgres>,
    slugs: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT slug FROM categories WHERE slug = ANY($1)", slugs)
        .fetch_all(&mut **tx)
        .await
}

/// Insert or update an asset and its categories; returns its id.
pub async fn upsert_asset(
    tx: &mut Transaction<'_, Postgres>,
    asset: &AssetConfig,
    source: &str,
) -> Result<i32, sqlx::Error> {
    let id = sqlx::query_scalar!(
        r#"INSERT INTO context_assets (symbol, name, kind, market_wide, source)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (symbol) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
             market_wide = EXCLUDED.market_wide, source = EXCLUDED.source, updated_at = now()
           RETURNING id"#,
        asset.symbol,
        asset.name,
        asset.kind.as_str(),
        asset.market_wide,
        source
    )
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query!(
        r#"DELETE FROM context_asset_categories ac USING categories c
           WHERE ac.asset_id = $1 AND c.id = ac.category_id AND NOT c.slug = ANY($2)"#,
        id,
        &asset.categories
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO context_asset_categories (asset_id, category_id)
           SELECT $1, c.id FROM categories c WHERE c.slug = ANY($2)
           ON CONFLICT DO NOTHING"#,
        id,
        &asset.categories
    )
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Upsert an asset's bars; returns how many rows were new or changed (an unchanged
/// re-import changes nothing, and writes nothing).
pub async fn upsert_bars(
    tx: &mut Transaction<'_, Postgres>,
    asset_id: i32,
    bars: &[DailyBar],
    source: &str,
) -> Result<u64, sqlx::Error> {
    let dates: Vec<NaiveDate> = bars.iter().map(|b| b.date).collect();
    let sessions: Vec<Session> = dates.iter().map(|d| Session::on(*d)).collect();
    let opens_at: Vec<DateTime<Utc>> = sessions.iter().map(|s| s.open_at).collect();
    let closes_at: Vec<DateTime<Utc>> = sessions.iter().map(|s| s.close_at).collect();
    let col = |f: fn(&DailyBar) -> Option<f64>| bars.iter().map(f).collect::<Vec<_>>();
    let (open, high, low) = (col(|b| b.open), col(|b| b.high), col(|b| b.low));
    let (adj, volume) = (col(|b| b.adj_close), col(|b| b.volume));
    let close: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let done = sqlx::query!(
        r#"INSERT INTO context_bars AS b
             (asset_id, session_date, open_at, close_at, open, high, low, close, adj_close, volume, source)
           SELECT $1, u.*, $11
           FROM UNNEST($2::date[], $3::timestamptz[], $4::timestamptz[], $5::float8[],
                       $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::float8[]) AS u
           ON CONFLICT (asset_id, session_date) DO UPDATE SET
             open_at = EXCLUDED.open_at, close_at = EXCLUDED.close_at, open = EXCLUDED.open,
             high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
             adj_close = EXCLUDED.adj_close, volume = EXCLUDED.volume, source = EXCLUDED.source
           WHERE (b.open_at, b.close_at, b.open, b.high, b.low, b.close, b.adj_close, b.volume, b.source)
                 IS DISTINCT FROM (EXCLUDED.open_at, EXCLUDED.close_at, EXCLUDED.open, EXCLUDED.high,
                   EXCLUDED.low, EXCLUDED.close, EXCLUDED.adj_close, EXCLUDED.volume, EXCLUDED.source)"#,
        asset_id,
        &dates,
        &opens_at,
        &closes_at,
        &open as &[Option<f64>],
        &high as &[Option<f64>],
        &low as &[Option<f64>],
        &close,
        &adj as &[Option<f64>],
        &volume as &[Option<f64>],
        source
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Every asset's stored sessions: (asset id, date, close), by asset then date.
pub async fn session_closes(pool: &PgPool) -> Result<Vec<(i32, NaiveDate, f64)>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT asset_id, session_date, close FROM context_bars ORDER BY asset_id, session_date"
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.asset_id, r.session_date, r.close))
    .collect())
}

/// Every aggregate token's hourly close at these instants (the bar ending then):
/// (token id, instant, close).
pub async fn token_closes_at(
    pool: &PgPool,
    at: &[DateTime<Utc>],
) -> Result<Vec<(i32, DateTime<Utc>, f64)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT p.token_id, p.open_time + interval '1 hour' AS "at!", p.close
           FROM price_bars p JOIN tokens t ON t.id = p.token_id
           WHERE p.interval = '1h' AND NOT t.exclude_from_aggregates
             AND p.open_time = ANY(SELECT x - interval '1 hour' FROM UNNEST($1::timestamptz[]) x)"#,
        at
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.token_id, r.at, r.close))
    .collect())
}

/// The categories that have averages, with their tokens: (category id, token id).
pub async fn category_members(pool: &PgPool) -> Result<Vec<(i32, i32)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT tc.category_id, tc.token_id FROM token_categories tc
           JOIN categories c ON c.id = tc.category_id
           JOIN tokens t ON t.id = tc.token_id
           WHERE NOT c.excluded_from_aggregates AND NOT t.exclude_from_aggregates
             -- As the study: a token of an excluded category (a stablecoin) never counts.
             AND NOT EXISTS (SELECT 1 FROM token_categories x
                             JOIN categories xc ON xc.id = x.category_id
                             WHERE x.token_id = t.id AND xc.excluded_from_aggregates)
           ORDER BY 1, 2"#
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.category_id, r.token_id))
    .collect())
}

/// One row of `context_betas`.
#[derive(Debug, Clone, PartialEq)]
pub struct BetaRow {
    pub category_id: i32,
    pub asset_id: i32,
    pub first_session: NaiveDate,
    pub last_session: NaiveDate,
    pub n_sessions: i32,
    pub n_tokens: i32,
    pub beta: f64,
    pub beta_se: Option<f64>,
    pub alpha: f64,
    pub correlation: Option<f64>,
}

/// Replace every beta at once (a category or asset without enough data loses its row).
pub async fn replace_betas(pool: &PgPool, rows: &[BetaRow]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;
    sqlx::query!("DELETE FROM context_betas")
        .execute(&mut *tx)
        .await?;
    let v = |f: fn(&BetaRow) -> i32| rows.iter().map(f).collect::<Vec<_>>();
    let d = |f: fn(&BetaRow) -> NaiveDate| rows.iter().map(f).collect::<Vec<_>>();
    let beta: Vec<f64> = rows.iter().map(|r| r.beta).collect();
    let alpha: Vec<f64> = rows.iter().map(|r| r.alpha).collect();
    let se: Vec<Option<f64>> = rows.iter().map(|r| r.beta_se).collect();
    let corr: Vec<Option<f64>> = rows.iter().map(|r| r.correlation).collect();
    sqlx::query!(
        r#"INSERT INTO context_betas (category_id, asset_id, first_session, last_session,
             n_sessions, n_tokens, beta, beta_se, alpha, correlation)
           SELECT * FROM UNNEST($1::int4[], $2::int4[], $3::date[], $4::date[], $5::int4[],
                                $6::int4[], $7::float8[], $8::float8[], $9::float8[], $10::float8[])"#,
        &v(|r| r.category_id),
        &v(|r| r.asset_id),
        &d(|r| r.first_session),
        &d(|r| r.last_session),
        &v(|r| r.n_sessions),
        &v(|r| r.n_tokens),
        &beta,
        &se as &[Option<f64>],
        &alpha,
        &corr as &[Option<f64>]
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// A context asset shown for an event, and why.
#[derive(Debug, Clone)]
pub struct RelevantAsset {
    pub asset_id: i32,
    pub symbol: String,
    pub name: String,
    pub kind: String,
    /// The event's categories the asset is configured for (empty: market-wide).
    pub for_categories: Vec<String>,
}

/// The assets an event shows: those configured for a category it is about (its subject
/// tags), then the market-wide ones; by symbol within each.
pub async fn relevant_assets(
    pool: &PgPool,
    event_id: i64,
) -> Result<Vec<RelevantAsset>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT a.id, a.symbol, a.name, a.kind, a.market_wide,
                  ARRAY(SELECT DISTINCT c.slug FROM event_category_tags g
                        JOIN context_asset_categories ac ON ac.category_id = g.category_id
                        JOIN categories c ON c.id = g.category_id
                        WHERE g.event_id = $1 AND ac.asset_id = a.id
                          AND COALESCE(g.salience, 'subject') = 'subject'
                        ORDER BY c.slug) AS "for_categories!"
           FROM context_assets a ORDER BY a.symbol"#,
        event_id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .filter(|r| r.market_wide || !r.for_categories.is_empty())
    .map(|r| RelevantAsset {
        asset_id: r.id,
        symbol: r.symbol,
        name: r.name,
        kind: r.kind,
        for_categories: r.for_categories,
    })
    .collect())
}

/// A stored session's prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredSession {
    pub date: NaiveDate,
    pub open: Option<f64>,
    pub close: f64,
}

/// The last session closing at or before `at` and the first closing after it.
pub async fn sessions_around(
    pool: &PgPool,
    asset_id: i32,
    at: DateTime<Utc>,
) -> Result<Vec<StoredSession>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"(SELECT session_date AS "date!", open, close AS "close!" FROM context_bars
            WHERE asset_id = $1 AND close_at <= $2 ORDER BY close_at DESC LIMIT 1)
           UNION ALL
           (SELECT session_date, open, close FROM context_bars
            WHERE asset_id = $1 AND close_at > $2 ORDER BY close_at LIMIT 1)"#,
        asset_id,
        at
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| StoredSession {
        date: r.date,
        open: r.open,
        close: r.close,
    })
    .collect())
}

/// A category's betas to every asset, by asset symbol.
pub async fn category_betas(
    pool: &PgPool,
    slug: &str,
) -> Result<Vec<(String, String, BetaRow)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT a.symbol, a.name, b.category_id, b.asset_id, b.first_session, b.last_session,
                  b.n_sessions, b.n_tokens, b.beta, b.beta_se, b.alpha, b.correlation
           FROM context_betas b JOIN categories c ON c.id = b.category_id
           JOIN context_assets a ON a.id = b.asset_id
           WHERE c.slug = $1 ORDER BY a.market_wide, a.symbol"#,
        slug
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| {
        (
            r.symbol,
            r.name,
            BetaRow {
                category_id: r.category_id,
                asset_id: r.asset_id,
                first_session: r.first_session,
                last_session: r.last_session,
                n_sessions: r.n_sessions,
                n_tokens: r.n_tokens,
                beta: r.beta,
                beta_se: r.beta_se,
                alpha: r.alpha,
                correlation: r.correlation,
            },
        )
    })
    .collect())
}

/// The `event_context` view, every row (for the CSV export).
pub async fn event_context_rows(pool: &PgPool) -> Result<Vec<EventContextRow>, sqlx::Error> {
    sqlx::query_as!(
        EventContextRow,
        r#"SELECT event_id AS "event_id!", event_time AS "event_time!", symbol AS "symbol!",
                  asset_name AS "asset_name!", asset_kind AS "asset_kind!",
                  relevance AS "relevance!", for_categories AS "for_categories!",
                  session_date, session_close_at, previous_session_date, previous_close,
                  session_open, session_close, session_return, gap_return, timing,
                  note AS "note!"
           FROM event_context ORDER BY event_time, event_id, relevance, symbol"#
    )
    .fetch_all(pool)
    .await
}

/// One row of the `event_context` view (its columns are documented there).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EventContextRow {
    pub event_id: i64,
    pub event_time: DateTime<Utc>,
    pub symbol: String,
    pub asset_name: String,
    pub asset_kind: String,
    pub relevance: String,
    pub for_categories: Vec<String>,
    pub session_date: Option<NaiveDate>,
    pub session_close_at: Option<DateTime<Utc>>,
    pub previous_session_date: Option<NaiveDate>,
    pub previous_close: Option<f64>,
    pub session_open: Option<f64>,
    pub session_close: Option<f64>,
    pub session_return: Option<f64>,
    pub gap_return: Option<f64>,
    pub timing: Option<String>,
    pub note: String,
}
