//! The SQL of a category's and a token's history (pages and API): the events, split into
//! the stories about it and the market-wide ones, and its daily price series.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

use super::api_types::HistoryRow;
use crate::prices::BarInterval;
use crate::study::engine::Window;

/// Market-wide events shown after the stories about a category or token.
pub const MARKET_EVENTS: i64 = 20;

pub struct CategoryInfo {
    pub id: i32,
    pub slug: String,
    pub name: String,
}

pub struct TokenInfo {
    pub id: i32,
    pub symbol: String,
    pub name: String,
    pub categories: Vec<(String, String)>,
}

pub async fn category(pool: &PgPool, slug: &str) -> Result<Option<CategoryInfo>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT id, slug, name FROM categories WHERE slug = $1",
        slug
    )
    .fetch_optional(pool)
    .await?
    .map(|r| CategoryInfo {
        id: r.id,
        slug: r.slug,
        name: r.name,
    }))
}

/// A token by its symbol, name or alias, any case (RNDR is RENDER).
pub async fn token(pool: &PgPool, name: &str) -> Result<Option<TokenInfo>, sqlx::Error> {
    let Some(symbol) = super::list_query::token_symbol(pool, name).await? else {
        return Ok(None);
    };
    let Some(t) = sqlx::query!(
        "SELECT id, symbol, name FROM tokens WHERE symbol = $1",
        symbol
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let categories = sqlx::query!(
        r#"SELECT c.slug, c.name FROM token_categories tc JOIN categories c ON c.id = tc.category_id
           WHERE tc.token_id = $1 ORDER BY c.name"#,
        t.id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.slug, r.name))
    .collect();
    Ok(Some(TokenInfo {
        id: t.id,
        symbol: t.symbol,
        name: t.name,
        categories,
    }))
}

/// Every event's results for a category over `window`: the stories about it (subject
/// tags), strongest portfolio t first; then the `MARKET_EVENTS` market-wide stories with
/// the strongest reaction.
pub async fn category_events(
    pool: &PgPool,
    run_id: Option<i64>,
    category_id: i32,
    window: Window,
) -> Result<(Vec<HistoryRow>, Vec<HistoryRow>), sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT e.id, e.event_time, e.time_precision, e.headline, r.n_tokens AS "n_tokens!", r.caar AS "caar!",
                  r.portfolio_car, r.portfolio_t, r.portfolio_p,
                  sc.impact_score AS "impact_score?", sc.p_value AS "p_value?",
                  EXISTS (SELECT 1 FROM event_category_tags g WHERE g.event_id = e.id
                          AND g.category_id = $2
                          AND COALESCE(g.salience, 'subject') = 'subject') AS "subject!",
                  COALESCE(sc.driver = 'market' OR sc.top_kind = 'market', false) AS "market!"
           FROM study_category_results r
           JOIN events e ON e.id = r.event_id
           LEFT JOIN study_event_scores sc ON sc.run_id = r.run_id AND sc.event_id = r.event_id
           WHERE r.run_id = $1 AND r.category_id = $2 AND r.window_start = $3 AND r.window_end = $4
           ORDER BY abs(COALESCE(r.portfolio_t, 0)) DESC, e.event_time DESC"#,
        run_id,
        category_id,
        window.start,
        window.end
    )
    .fetch_all(pool)
    .await?;
    let mut subject = Vec::new();
    let mut market = Vec::new();
    for r in rows {
        let row = HistoryRow {
            event_id: r.id,
            event_time: r.event_time,
            time_precision: r.time_precision,
            headline: r.headline,
            subject: r.subject,
            n_tokens: Some(r.n_tokens),
            caar: Some(r.caar),
            portfolio_car: r.portfolio_car,
            portfolio_t: r.portfolio_t,
            portfolio_p: r.portfolio_p,
            car: None,
            scar: None,
            token_return: None,
            impact_score: r.impact_score,
            p_value: r.p_value,
        };
        if r.subject {
            subject.push(row);
        } else if r.market && (market.len() as i64) < MARKET_EVENTS {
            market.push(row);
        }
    }
    Ok((subject, market))
}

/// Every event's results for a token over `window`: the stories about it (named as a
/// subject, or about one of its categories), by |SCAR|; then the market-wide stories.
pub async fn token_events(
    pool: &PgPool,
    run_id: Option<i64>,
    token_id: i32,
    window: Window,
) -> Result<(Vec<HistoryRow>, Vec<HistoryRow>), sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT e.id, e.event_time, e.time_precision, e.headline,
                  r.window_values[w.ord][1] AS "car!", r.window_values[w.ord][3] AS scar,
                  r.window_values[w.ord][4] AS "token_return!",
                  sc.impact_score AS "impact_score?", sc.p_value AS "p_value?",
                  (EXISTS (SELECT 1 FROM event_token_tags g WHERE g.event_id = e.id
                           AND g.token_id = $2 AND NOT g.ambiguous
                           AND COALESCE(g.salience, 'subject') = 'subject')
                   OR EXISTS (SELECT 1 FROM event_category_tags g
                              JOIN token_categories tc ON tc.category_id = g.category_id
                              WHERE g.event_id = e.id AND tc.token_id = $2
                                AND COALESCE(g.salience, 'subject') = 'subject')) AS "subject!",
                  COALESCE(sc.driver = 'market' OR sc.top_kind = 'market', false) AS "market!"
           FROM study_token_outcomes r
           JOIN study_run_windows w ON w.run_id = r.run_id
             AND w.window_start = $3 AND w.window_end = $4
           JOIN events e ON e.id = r.event_id
           LEFT JOIN study_event_scores sc ON sc.run_id = r.run_id AND sc.event_id = r.event_id
           WHERE r.run_id = $1 AND r.token_id = $2
           ORDER BY abs(COALESCE(r.window_values[w.ord][3], 0)) DESC, e.event_time DESC"#,
        run_id,
        token_id,
        window.start,
        window.end
    )
    .fetch_all(pool)
    .await?;
    let mut subject = Vec::new();
    let mut market = Vec::new();
    for r in rows {
        let row = HistoryRow {
            event_id: r.id,
            event_time: r.event_time,
            time_precision: r.time_precision,
            headline: r.headline,
            subject: r.subject,
            n_tokens: None,
            caar: None,
            portfolio_car: None,
            portfolio_t: None,
            portfolio_p: None,
            car: Some(r.car),
            scar: r.scar,
            token_return: Some(r.token_return),
            impact_score: r.impact_score,
            p_value: r.p_value,
        };
        if r.subject {
            subject.push(row);
        } else if r.market && (market.len() as i64) < MARKET_EVENTS {
            market.push(row);
        }
    }
    Ok((subject, market))
}

/// Each token's last close of every UTC day, for the tokens given.
pub async fn daily_closes(
    pool: &PgPool,
    token_ids: &[i32],
    interval: BarInterval,
) -> Result<Vec<(i32, NaiveDate, f64)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT DISTINCT ON (b.token_id, (b.open_time AT TIME ZONE 'UTC')::date)
                  b.token_id, (b.open_time AT TIME ZONE 'UTC')::date AS "day!", b.close
           FROM price_bars b
           WHERE b.token_id = ANY($1) AND b.interval = $2
           ORDER BY b.token_id, (b.open_time AT TIME ZONE 'UTC')::date, b.open_time DESC"#,
        token_ids,
        interval.as_str()
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.token_id, r.day, r.close))
    .collect())
}

/// The members of a category: (id, symbol, name).
pub async fn members(
    pool: &PgPool,
    category_id: i32,
) -> Result<Vec<(i32, String, String)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT t.id, t.symbol, t.name FROM token_categories tc JOIN tokens t ON t.id = tc.token_id
           WHERE tc.category_id = $1 ORDER BY t.symbol"#,
        category_id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.id, r.symbol, r.name))
    .collect())
}

/// Days since the Unix epoch, for the charts' calendar axis.
pub fn epoch_days(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64 / 86_400.0
}
