//! SQL for the study: reading events, tokens and bars; writing a run's results.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::engine::{bar_of, EventOutcome, Series, StudyParams};
use crate::prices::BarInterval;

pub struct EventRow {
    pub id: i64,
    pub event_time: DateTime<Utc>,
}

pub struct TokenRow {
    pub id: i32,
    pub symbol: String,
    /// Categories that aggregate it (categories excluded from aggregates left out).
    pub categories: Vec<i32>,
}

pub async fn load_events(pool: &PgPool) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as!(
        EventRow,
        "SELECT id, event_time FROM events ORDER BY event_time, id"
    )
    .fetch_all(pool)
    .await
}

/// Tokens that belong to no excluded category (stablecoins never enter the study's
/// aggregates), with their categories.
pub async fn load_tokens(pool: &PgPool) -> Result<Vec<TokenRow>, sqlx::Error> {
    sqlx::query_as!(
        TokenRow,
        r#"SELECT t.id, t.symbol,
                  COALESCE(array_agg(tc.category_id ORDER BY tc.category_id)
                           FILTER (WHERE tc.category_id IS NOT NULL), '{}') AS "categories!"
           FROM tokens t
           LEFT JOIN token_categories tc ON tc.token_id = t.id
           WHERE NOT EXISTS (
             SELECT 1 FROM token_categories x JOIN categories c ON c.id = x.category_id
             WHERE x.token_id = t.id AND c.excluded_from_aggregates)
           GROUP BY t.id ORDER BY t.symbol"#
    )
    .fetch_all(pool)
    .await
}

/// Close series per token id for bars opening in `[from, to]`.
pub async fn load_series(
    pool: &PgPool,
    interval: BarInterval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<i32, Series>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT token_id, open_time, close FROM price_bars
           WHERE interval = $1 AND open_time BETWEEN $2 AND $3
           ORDER BY token_id, open_time"#,
        interval.as_str(),
        from,
        to
    )
    .fetch_all(pool)
    .await?;
    let mut points: HashMap<i32, Vec<(i64, f64)>> = HashMap::new();
    for r in rows {
        points
            .entry(r.token_id)
            .or_default()
            .push((bar_of(r.open_time, interval), r.close));
    }
    Ok(points
        .into_iter()
        .map(|(id, pts)| (id, Series::from_points(&pts)))
        .collect())
}

/// Replace a run's results in one transaction: readers see the old results or the new,
/// never a mix. The run row is keyed by its parameters.
pub async fn save_run(
    pool: &PgPool,
    params: &StudyParams,
    outcomes: &[(i64, EventOutcome)],
    interval: BarInterval,
) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let params_json = serde_json::to_value(params).unwrap_or_default();
    let run_id = sqlx::query_scalar!(
        r#"INSERT INTO study_runs (params_key, model, return_kind, market_proxy, interval, params, status)
           VALUES ($1, $2, $3, $4, $5, $6, 'running')
           ON CONFLICT (params_key) DO UPDATE SET started_at = now(), finished_at = NULL, status = 'running'
           RETURNING id"#,
        params.key(),
        params.model,
        params.return_kind,
        params.market_proxy,
        interval.as_str(),
        params_json
    )
    .fetch_one(&mut *tx)
    .await?;
    for table_delete in [
        sqlx::query!("DELETE FROM study_token_results WHERE run_id = $1", run_id),
        sqlx::query!("DELETE FROM study_dropped_tokens WHERE run_id = $1", run_id),
        sqlx::query!(
            "DELETE FROM study_category_results WHERE run_id = $1",
            run_id
        ),
        sqlx::query!("DELETE FROM study_event_scores WHERE run_id = $1", run_id),
    ] {
        table_delete.execute(&mut *tx).await?;
    }

    let mut tr = TokenRows::default();
    let mut dr = DroppedRows::default();
    let mut cr = CategoryRows::default();
    let mut sr = ScoreRows::default();
    for (event_id, o) in outcomes {
        for t in &o.tokens {
            tr.event.push(*event_id);
            tr.token.push(t.token_id);
            tr.start.push(t.window.start);
            tr.end.push(t.window.end);
            tr.car.push(t.ret.car);
            tr.token_return.push(t.ret.token_return);
            tr.market_return.push(t.ret.market_return);
            tr.n_bars.push(t.ret.n_bars);
        }
        for (token_id, reason) in &o.dropped {
            dr.event.push(*event_id);
            dr.token.push(*token_id);
            dr.reason.push(reason.describe(interval));
        }
        for c in &o.categories {
            cr.event.push(*event_id);
            cr.category.push(c.category_id);
            cr.start.push(c.window.start);
            cr.end.push(c.window.end);
            cr.n.push(c.stat.n as i32);
            cr.caar.push(c.stat.mean);
            cr.sd.push(c.stat.sd);
            cr.t.push(c.stat.t);
            cr.p.push(c.stat.p);
        }
        sr.event.push(*event_id);
        sr.impact.push(o.score.impact);
        sr.top_category.push(o.score.top_category);
        sr.top_caar.push(o.score.top_caar);
        sr.market_return.push(o.score.market_return);
    }

    sqlx::query!(
        r#"INSERT INTO study_token_results
             (run_id, event_id, token_id, window_start, window_end, car, token_return, market_return, n_bars)
           SELECT $1, * FROM UNNEST($2::int8[], $3::int4[], $4::int4[], $5::int4[],
                                    $6::float8[], $7::float8[], $8::float8[], $9::int4[])"#,
        run_id,
        &tr.event,
        &tr.token,
        &tr.start,
        &tr.end,
        &tr.car,
        &tr.token_return,
        &tr.market_return,
        &tr.n_bars
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO study_dropped_tokens (run_id, event_id, token_id, reason)
           SELECT $1, * FROM UNNEST($2::int8[], $3::int4[], $4::text[])"#,
        run_id,
        &dr.event,
        &dr.token,
        &dr.reason
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO study_category_results
             (run_id, event_id, category_id, window_start, window_end, n_tokens, caar, cross_sd, t_stat, p_value)
           SELECT $1, * FROM UNNEST($2::int8[], $3::int4[], $4::int4[], $5::int4[], $6::int4[],
                                    $7::float8[], $8::float8[], $9::float8[], $10::float8[])"#,
        run_id,
        &cr.event,
        &cr.category,
        &cr.start,
        &cr.end,
        &cr.n,
        &cr.caar,
        &cr.sd as &[Option<f64>],
        &cr.t as &[Option<f64>],
        &cr.p as &[Option<f64>]
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO study_event_scores (run_id, event_id, impact_score, top_category_id, top_caar, market_return)
           SELECT $1, * FROM UNNEST($2::int8[], $3::float8[], $4::int4[], $5::float8[], $6::float8[])"#,
        run_id,
        &sr.event,
        &sr.impact as &[Option<f64>],
        &sr.top_category as &[Option<i32>],
        &sr.top_caar as &[Option<f64>],
        &sr.market_return as &[Option<f64>]
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE study_runs SET status = 'complete', finished_at = now() WHERE id = $1",
        run_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(run_id)
}

#[derive(Default)]
struct TokenRows {
    event: Vec<i64>,
    token: Vec<i32>,
    start: Vec<i32>,
    end: Vec<i32>,
    car: Vec<f64>,
    token_return: Vec<f64>,
    market_return: Vec<f64>,
    n_bars: Vec<i32>,
}

#[derive(Default)]
struct DroppedRows {
    event: Vec<i64>,
    token: Vec<i32>,
    reason: Vec<String>,
}

#[derive(Default)]
struct CategoryRows {
    event: Vec<i64>,
    category: Vec<i32>,
    start: Vec<i32>,
    end: Vec<i32>,
    n: Vec<i32>,
    caar: Vec<f64>,
    sd: Vec<Option<f64>>,
    t: Vec<Option<f64>>,
    p: Vec<Option<f64>>,
}

#[derive(Default)]
struct ScoreRows {
    event: Vec<i64>,
    impact: Vec<Option<f64>>,
    top_category: Vec<Option<i32>>,
    top_caar: Vec<Option<f64>>,
    market_return: Vec<Option<f64>>,
}
