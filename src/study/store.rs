//! SQL for the study: reading events, tokens and bars; writing a run's results.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::engine::{EventOutcome, StudyParams};
use crate::prices::BarInterval;

pub struct EventRow {
    pub id: i64,
    pub event_time: DateTime<Utc>,
    /// Categories tagged (by keyword or by a non-ambiguous token).
    pub target_categories: Vec<i32>,
    /// Tokens tagged without ambiguity.
    pub target_tokens: Vec<i32>,
}

pub struct TokenRow {
    pub id: i32,
    pub symbol: String,
    /// Categories that aggregate it.
    pub categories: Vec<i32>,
}

pub async fn load_events(pool: &PgPool) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as!(
        EventRow,
        r#"SELECT e.id, e.event_time,
                  COALESCE((SELECT array_agg(DISTINCT g.category_id ORDER BY g.category_id)
                            FROM event_category_tags g WHERE g.event_id = e.id), '{}') AS "target_categories!",
                  COALESCE((SELECT array_agg(DISTINCT g.token_id ORDER BY g.token_id)
                            FROM event_token_tags g WHERE g.event_id = e.id AND NOT g.ambiguous), '{}') AS "target_tokens!"
           FROM events e ORDER BY e.event_time, e.id"#
    )
    .fetch_all(pool)
    .await
}

/// Tokens outside every excluded category (stablecoins never enter the study), with
/// their categories.
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

/// One stored bar: token, open time, close, market cap.
pub struct BarRow {
    pub token_id: i32,
    pub open_time: DateTime<Utc>,
    pub close: f64,
    pub market_cap: Option<f64>,
}

/// Bars of `interval` opening in `[from, to]`.
pub async fn load_bars(
    pool: &PgPool,
    interval: BarInterval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<BarRow>, sqlx::Error> {
    sqlx::query_as!(
        BarRow,
        r#"SELECT token_id, open_time, close, market_cap FROM price_bars
           WHERE interval = $1 AND open_time BETWEEN $2 AND $3"#,
        interval.as_str(),
        from,
        to
    )
    .fetch_all(pool)
    .await
}

pub async fn has_bars(pool: &PgPool, interval: BarInterval) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM price_bars WHERE interval = $1) AS "e!""#,
        interval.as_str()
    )
    .fetch_one(pool)
    .await
}

/// Find or create the run of these parameters and mark it running.
pub async fn begin_run(pool: &PgPool, params: &StudyParams) -> Result<i64, sqlx::Error> {
    let params_json = serde_json::to_value(params).unwrap_or_default();
    sqlx::query_scalar!(
        r#"INSERT INTO study_runs (params_key, model, return_kind, market_proxy, interval, params, status)
           VALUES ($1, $2, $3, $4, $5, $6, 'running')
           ON CONFLICT (params_key) DO UPDATE SET started_at = now(), finished_at = NULL, status = 'running'
           RETURNING id"#,
        params.key(),
        params.model.as_str(),
        params.return_kind.as_str(),
        params.proxy.as_str(),
        params.interval.as_str(),
        params_json
    )
    .fetch_one(pool)
    .await
}

pub async fn finish_run(
    pool: &PgPool,
    run_id: i64,
    status: &str,
    fingerprint: Option<&str>,
    computed: usize,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE study_runs SET status = $2, finished_at = now(),
             input_fingerprint = COALESCE($3, input_fingerprint), events_computed = $4
           WHERE id = $1"#,
        run_id,
        status,
        fingerprint,
        computed as i32
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Stored fingerprints and scores of a run's events.
pub async fn stored_events(
    pool: &PgPool,
    run_id: i64,
) -> Result<HashMap<i64, (String, Option<f64>)>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT event_id, input_fingerprint, impact_score FROM study_event_scores WHERE run_id = $1",
        run_id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.event_id, (r.input_fingerprint, r.impact_score)))
    .collect())
}

/// Results of events that no longer exist are removed by the foreign keys; results of a
/// recomputed event are replaced here, one transaction per batch.
pub async fn save_batch(
    pool: &PgPool,
    run_id: i64,
    params: &StudyParams,
    batch: &[(i64, String, EventOutcome)],
) -> Result<(), sqlx::Error> {
    let interval = params.interval;
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = batch.iter().map(|b| b.0).collect();
    delete_events(&mut tx, run_id, &ids).await?;

    let mut est = Estimates::default();
    let mut tr = TokenRows::default();
    let mut dr = DroppedRows::default();
    let mut cr = CategoryRows::default();
    let mut mr = MarketRows::default();
    let mut sr = ScoreRows::default();
    for (event_id, fingerprint, o) in batch {
        for t in &o.tokens {
            est.event.push(*event_id);
            est.token.push(t.token_id);
            est.alpha.push(t.fit.alpha);
            est.beta.push(t.fit.beta);
            est.sigma.push(t.fit.sigma);
            est.df.push(t.fit.df);
            est.n.push(t.fit.m as i32);
            est.path_start.push(t.path_start);
            // Arrays of arrays go through JSON: UNNEST would flatten a 2-D array.
            est.path
                .push(serde_json::to_value(&t.ar_path).unwrap_or_default());
            for w in &t.windows {
                tr.event.push(*event_id);
                tr.token.push(t.token_id);
                tr.start.push(w.window.start);
                tr.end.push(w.window.end);
                tr.car.push(w.car);
                tr.var.push(w.variance);
                tr.scar.push(Some(w.scar).filter(|v| v.is_finite()));
                tr.token_return.push(w.token_return);
                tr.market_return.push(w.market_return);
                tr.car_ma.push(w.car_market_adjusted);
            }
        }
        for (token_id, reason) in &o.dropped {
            dr.event.push(*event_id);
            dr.token.push(*token_id);
            dr.reason.push(reason.describe(interval));
        }
        for c in &o.categories {
            let sd = c.cross_sd;
            cr.event.push(*event_id);
            cr.category.push(c.category_id);
            cr.start.push(c.window.start);
            cr.end.push(c.window.end);
            cr.n.push(c.n as i32);
            cr.caar.push(c.caar);
            cr.caar_vw.push(c.caar_value_weighted);
            cr.sd.push(sd);
            let split = |t: Option<super::significance::Test>| {
                (t.map(|t| t.stat), t.map(|t| t.p).filter(|p| p.is_finite()))
            };
            let (a, b) = split(c.cross_sectional);
            cr.t.push(a);
            cr.p.push(b);
            let (a, b) = split(c.patell);
            cr.patell_z.push(a);
            cr.patell_p.push(b);
            let (a, b) = split(c.bmp);
            cr.bmp_t.push(a);
            cr.bmp_p.push(b);
            let (a, b) = split(c.kolari_pynnonen);
            cr.kp_t.push(a);
            cr.kp_p.push(b);
            cr.rbar.push(c.mean_cross_correlation);
            cr.portfolio_car.push(c.portfolio_car);
            let (a, b) = split(c.portfolio);
            cr.portfolio_t.push(a);
            cr.portfolio_p.push(b);
            let (a, b) = split(c.rank);
            cr.rank_z.push(a);
            cr.rank_p.push(b);
            let (a, b) = split(c.sign);
            cr.sign_z.push(a);
            cr.sign_p.push(b);
            cr.n_positive.push(c.n_positive as i32);
            cr.path
                .push(serde_json::to_value(&c.caar_path).unwrap_or_default());
        }
        for m in &o.market {
            mr.event.push(*event_id);
            mr.start.push(m.window.start);
            mr.end.push(m.window.end);
            mr.ret.push(m.market_return);
            mr.z.push(m.z);
            mr.p.push(m.p);
        }
        let s = &o.score;
        let rw = o.market.iter().find(|m| m.window == params.ranking_window);
        sr.event.push(*event_id);
        sr.impact.push(s.impact);
        sr.driver.push(s.driver.clone());
        sr.top_kind.push(s.top.as_ref().map(|t| t.kind.clone()));
        sr.top_category
            .push(s.top.as_ref().and_then(|t| t.category_id));
        sr.top_token.push(s.top.as_ref().and_then(|t| t.token_id));
        sr.top_value.push(s.top.as_ref().map(|t| t.value));
        sr.top_stat.push(s.top.as_ref().map(|t| t.stat));
        sr.top_p.push(s.top.as_ref().map(|t| t.p));
        sr.targets_p.push(s.targets_p);
        sr.spillover_p.push(s.spillover_p);
        sr.spillover_tests.push(s.spillover_tests as i32);
        sr.components
            .push(serde_json::to_value(&s.components).unwrap_or_default());
        sr.naive.push(s.naive);
        sr.naive_category.push(s.naive_category);
        sr.market_return.push(rw.map(|m| m.market_return));
        sr.market_z.push(rw.map(|m| m.z));
        sr.fingerprint.push(fingerprint.clone());
    }

    sqlx::query!(
        r#"INSERT INTO study_token_estimates
             (run_id, event_id, token_id, alpha, beta, sigma, df, n_estimation, path_start, ar_path)
           SELECT $1, u.e, u.t, u.a, u.b, u.s, u.d, u.n, u.ps,
                  ARRAY(SELECT (x #>> '{}')::float8 FROM jsonb_array_elements(u.path) x)
           FROM UNNEST($2::int8[], $3::int4[], $4::float8[], $5::float8[], $6::float8[],
                       $7::float8[], $8::int4[], $9::int4[], $10::jsonb[])
                AS u(e, t, a, b, s, d, n, ps, path)"#,
        run_id,
        &est.event,
        &est.token,
        &est.alpha,
        &est.beta,
        &est.sigma,
        &est.df,
        &est.n,
        &est.path_start,
        &est.path
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO study_token_results
             (run_id, event_id, token_id, window_start, window_end, car, car_variance, scar,
              token_return, market_return, car_market_adjusted)
           SELECT $1, * FROM UNNEST($2::int8[], $3::int4[], $4::int4[], $5::int4[], $6::float8[],
                                    $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[])"#,
        run_id,
        &tr.event,
        &tr.token,
        &tr.start,
        &tr.end,
        &tr.car,
        &tr.var,
        &tr.scar as &[Option<f64>],
        &tr.token_return,
        &tr.market_return,
        &tr.car_ma
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
             (run_id, event_id, category_id, window_start, window_end, n_tokens, caar,
              caar_value_weighted, cross_sd, t_stat, p_value, patell_z, patell_p, bmp_t, bmp_p,
              kp_t, kp_p, mean_cross_correlation, portfolio_car, portfolio_t, portfolio_p,
              rank_z, rank_p, sign_z, sign_p, n_positive, caar_path)
           SELECT $1, u.e, u.c, u.ws, u.we, u.n, u.caar, u.vw, u.sd, u.t, u.p, u.pz, u.pp,
                  u.bt, u.bp, u.kt, u.kp, u.r, u.pc, u.pt, u.ptp, u.rz, u.rp, u.sz, u.sp, u.np,
                  ARRAY(SELECT (x #>> '{}')::float8 FROM jsonb_array_elements(u.path) x)
           FROM UNNEST($2::int8[], $3::int4[], $4::int4[], $5::int4[], $6::int4[], $7::float8[],
                       $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[],
                       $13::float8[], $14::float8[], $15::float8[], $16::float8[], $17::float8[],
                       $18::float8[], $19::float8[], $20::float8[], $21::float8[], $22::float8[],
                       $23::float8[], $24::float8[], $25::float8[], $26::int4[], $27::jsonb[])
                AS u(e, c, ws, we, n, caar, vw, sd, t, p, pz, pp, bt, bp, kt, kp, r, pc, pt, ptp,
                     rz, rp, sz, sp, np, path)"#,
        run_id,
        &cr.event,
        &cr.category,
        &cr.start,
        &cr.end,
        &cr.n,
        &cr.caar,
        &cr.caar_vw as &[Option<f64>],
        &cr.sd as &[Option<f64>],
        &cr.t as &[Option<f64>],
        &cr.p as &[Option<f64>],
        &cr.patell_z as &[Option<f64>],
        &cr.patell_p as &[Option<f64>],
        &cr.bmp_t as &[Option<f64>],
        &cr.bmp_p as &[Option<f64>],
        &cr.kp_t as &[Option<f64>],
        &cr.kp_p as &[Option<f64>],
        &cr.rbar as &[Option<f64>],
        &cr.portfolio_car as &[Option<f64>],
        &cr.portfolio_t as &[Option<f64>],
        &cr.portfolio_p as &[Option<f64>],
        &cr.rank_z as &[Option<f64>],
        &cr.rank_p as &[Option<f64>],
        &cr.sign_z as &[Option<f64>],
        &cr.sign_p as &[Option<f64>],
        &cr.n_positive,
        &cr.path
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO study_market_moves (run_id, event_id, window_start, window_end, market_return, z, p_value)
           SELECT $1, * FROM UNNEST($2::int8[], $3::int4[], $4::int4[], $5::float8[], $6::float8[], $7::float8[])"#,
        run_id,
        &mr.event,
        &mr.start,
        &mr.end,
        &mr.ret,
        &mr.z,
        &mr.p
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO study_event_scores
             (run_id, event_id, impact_score, driver, top_kind, top_category_id, top_token_id,
              top_value, top_stat, top_p, targets_p, spillover_p, spillover_tests, components,
              naive_score, naive_category_id, market_return, market_z, input_fingerprint)
           SELECT $1, * FROM UNNEST($2::int8[], $3::float8[], $4::text[], $5::text[], $6::int4[],
                                    $7::int4[], $8::float8[], $9::float8[], $10::float8[],
                                    $11::float8[], $12::float8[], $13::int4[], $14::jsonb[],
                                    $15::float8[], $16::int4[], $17::float8[], $18::float8[], $19::text[])"#,
        run_id,
        &sr.event,
        &sr.impact as &[Option<f64>],
        &sr.driver as &[Option<String>],
        &sr.top_kind as &[Option<String>],
        &sr.top_category as &[Option<i32>],
        &sr.top_token as &[Option<i32>],
        &sr.top_value as &[Option<f64>],
        &sr.top_stat as &[Option<f64>],
        &sr.top_p as &[Option<f64>],
        &sr.targets_p as &[Option<f64>],
        &sr.spillover_p as &[Option<f64>],
        &sr.spillover_tests,
        &sr.components,
        &sr.naive as &[Option<f64>],
        &sr.naive_category as &[Option<i32>],
        &sr.market_return as &[Option<f64>],
        &sr.market_z as &[Option<f64>],
        &sr.fingerprint
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

async fn delete_events(
    conn: &mut PgConnection,
    run_id: i64,
    ids: &[i64],
) -> Result<(), sqlx::Error> {
    for stmt in [
        sqlx::query!(
            "DELETE FROM study_token_estimates WHERE run_id = $1 AND event_id = ANY($2)",
            run_id,
            ids
        ),
        sqlx::query!(
            "DELETE FROM study_token_results WHERE run_id = $1 AND event_id = ANY($2)",
            run_id,
            ids
        ),
        sqlx::query!(
            "DELETE FROM study_dropped_tokens WHERE run_id = $1 AND event_id = ANY($2)",
            run_id,
            ids
        ),
        sqlx::query!(
            "DELETE FROM study_category_results WHERE run_id = $1 AND event_id = ANY($2)",
            run_id,
            ids
        ),
        sqlx::query!(
            "DELETE FROM study_market_moves WHERE run_id = $1 AND event_id = ANY($2)",
            run_id,
            ids
        ),
        sqlx::query!(
            "DELETE FROM study_event_scores WHERE run_id = $1 AND event_id = ANY($2)",
            run_id,
            ids
        ),
    ] {
        stmt.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Store every event's confounder lists (they depend on the other events, so they are
/// refreshed for all events on every run).
pub async fn save_confounders(
    pool: &PgPool,
    run_id: i64,
    rows: &[(i64, Vec<i64>, Vec<i64>)],
) -> Result<(), sqlx::Error> {
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    // Ragged lists travel as JSON arrays.
    let overlapping: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::to_value(&r.1).unwrap_or_default())
        .collect();
    let estimation: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::to_value(&r.2).unwrap_or_default())
        .collect();
    sqlx::query!(
        r#"UPDATE study_event_scores s SET
             overlapping_events = ARRAY(SELECT (x #>> '{}')::int8 FROM jsonb_array_elements(u.o) x),
             estimation_confounders = ARRAY(SELECT (x #>> '{}')::int8 FROM jsonb_array_elements(u.c) x)
           FROM UNNEST($2::int8[], $3::jsonb[], $4::jsonb[]) AS u(e, o, c)
           WHERE s.run_id = $1 AND s.event_id = u.e"#,
        run_id,
        &ids,
        &overlapping,
        &estimation
    )
    .execute(pool)
    .await?;
    Ok(())
}

#[derive(Default)]
struct Estimates {
    event: Vec<i64>,
    token: Vec<i32>,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    sigma: Vec<f64>,
    df: Vec<f64>,
    n: Vec<i32>,
    path_start: Vec<i32>,
    path: Vec<serde_json::Value>,
}

#[derive(Default)]
struct TokenRows {
    event: Vec<i64>,
    token: Vec<i32>,
    start: Vec<i32>,
    end: Vec<i32>,
    car: Vec<f64>,
    var: Vec<f64>,
    scar: Vec<Option<f64>>,
    token_return: Vec<f64>,
    market_return: Vec<f64>,
    car_ma: Vec<f64>,
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
    caar_vw: Vec<Option<f64>>,
    sd: Vec<Option<f64>>,
    t: Vec<Option<f64>>,
    p: Vec<Option<f64>>,
    patell_z: Vec<Option<f64>>,
    patell_p: Vec<Option<f64>>,
    bmp_t: Vec<Option<f64>>,
    bmp_p: Vec<Option<f64>>,
    kp_t: Vec<Option<f64>>,
    kp_p: Vec<Option<f64>>,
    rbar: Vec<Option<f64>>,
    portfolio_car: Vec<Option<f64>>,
    portfolio_t: Vec<Option<f64>>,
    portfolio_p: Vec<Option<f64>>,
    rank_z: Vec<Option<f64>>,
    rank_p: Vec<Option<f64>>,
    sign_z: Vec<Option<f64>>,
    sign_p: Vec<Option<f64>>,
    n_positive: Vec<i32>,
    path: Vec<serde_json::Value>,
}

#[derive(Default)]
struct MarketRows {
    event: Vec<i64>,
    start: Vec<i32>,
    end: Vec<i32>,
    ret: Vec<f64>,
    z: Vec<f64>,
    p: Vec<f64>,
}

#[derive(Default)]
struct ScoreRows {
    event: Vec<i64>,
    impact: Vec<Option<f64>>,
    driver: Vec<Option<String>>,
    top_kind: Vec<Option<String>>,
    top_category: Vec<Option<i32>>,
    top_token: Vec<Option<i32>>,
    top_value: Vec<Option<f64>>,
    top_stat: Vec<Option<f64>>,
    top_p: Vec<Option<f64>>,
    targets_p: Vec<Option<f64>>,
    spillover_p: Vec<Option<f64>>,
    spillover_tests: Vec<i32>,
    components: Vec<serde_json::Value>,
    naive: Vec<Option<f64>>,
    naive_category: Vec<Option<i32>>,
    market_return: Vec<Option<f64>>,
    market_z: Vec<Option<f64>>,
    fingerprint: Vec<String>,
}
