//! SQL for the study: reading events, tokens and bars; writing a run's results.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::engine::{EventOutcome, StudyParams};
use super::score::EventScore;
use crate::prices::BarInterval;

pub struct EventRow {
    pub id: i64,
    pub event_time: DateTime<Utc>,
    /// Categories the story is about (subject tags: keyword or a subject token).
    pub subject_categories: Vec<i32>,
    /// Tokens the story is about (subject tags without ambiguity).
    pub subject_tokens: Vec<i32>,
    /// A subject makes the story about the market as a whole (salience_rules).
    pub market_wide: bool,
    /// Any unambiguous tag, subject or mention.
    pub tagged: bool,
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
                            FROM event_category_tags g
                            WHERE g.event_id = e.id AND g.salience = 'subject'), '{}') AS "subject_categories!",
                  COALESCE((SELECT array_agg(DISTINCT g.token_id ORDER BY g.token_id)
                            FROM event_token_tags g
                            WHERE g.event_id = e.id AND NOT g.ambiguous AND g.salience = 'subject'), '{}') AS "subject_tokens!",
                  (EXISTS (SELECT 1 FROM event_category_tags g
                           JOIN categories c ON c.id = g.category_id
                           JOIN salience_rules r ON r.kind = 'market-wide-category' AND r.pattern = c.slug
                           WHERE g.event_id = e.id AND g.salience = 'subject')
                   OR EXISTS (SELECT 1 FROM event_token_tags g
                              JOIN tokens t ON t.id = g.token_id
                              JOIN salience_rules r ON r.kind = 'market-token' AND r.pattern = t.symbol
                              WHERE g.event_id = e.id AND NOT g.ambiguous AND g.salience = 'subject')) AS "market_wide!",
                  (EXISTS (SELECT 1 FROM event_category_tags g WHERE g.event_id = e.id)
                   OR EXISTS (SELECT 1 FROM event_token_tags g
                              WHERE g.event_id = e.id AND NOT g.ambiguous)) AS "tagged!"
           FROM events e ORDER BY e.event_time, e.id"#
    )
    .fetch_all(pool)
    .await
}

/// Tokens outside every excluded category and not flagged excluded themselves
/// (stablecoins never enter the study), with their categories.
pub async fn load_tokens(pool: &PgPool) -> Result<Vec<TokenRow>, sqlx::Error> {
    sqlx::query_as!(
        TokenRow,
        r#"SELECT t.id, t.symbol,
                  COALESCE(array_agg(tc.category_id ORDER BY tc.category_id)
                           FILTER (WHERE tc.category_id IS NOT NULL), '{}') AS "categories!"
           FROM tokens t
           LEFT JOIN token_categories tc ON tc.token_id = t.id
           WHERE NOT t.exclude_from_aggregates AND NOT EXISTS (
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

/// Category slugs by id.
pub async fn category_slugs(pool: &PgPool) -> Result<HashMap<i32, String>, sqlx::Error> {
    Ok(sqlx::query!("SELECT id, slug FROM categories")
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.id, r.slug))
        .collect())
}

/// First and last bar of `interval` stored (any token).
pub async fn bar_span(
    pool: &PgPool,
    interval: BarInterval,
) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, sqlx::Error> {
    let r = sqlx::query!(
        "SELECT min(open_time) AS first, max(open_time) AS last FROM price_bars WHERE interval = $1",
        interval.as_str()
    )
    .fetch_one(pool)
    .await?;
    Ok(r.first.zip(r.last))
}

pub async fn has_bars(pool: &PgPool, interval: BarInterval) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM price_bars WHERE interval = $1) AS "e!""#,
        interval.as_str()
    )
    .fetch_one(pool)
    .await
}

/// Find or create the run of these parameters. A new (or never completed) run is marked
/// running; a complete run stays complete, so its results stay visible until the new
/// ones replace them in one transaction.
pub async fn begin_run(pool: &PgPool, params: &StudyParams) -> Result<i64, sqlx::Error> {
    let params_json = serde_json::to_value(params).unwrap_or_default();
    let is_default = params.key() == StudyParams::default().key();
    if is_default {
        // The defaults of an older release are no longer the default run.
        sqlx::query!(
            "UPDATE study_runs SET is_default = false WHERE is_default AND params_key <> $1",
            params.key()
        )
        .execute(pool)
        .await?;
    }
    sqlx::query_scalar!(
        r#"INSERT INTO study_runs (params_key, model, return_kind, market_proxy, interval, params, status, is_default)
           VALUES ($1, $2, $3, $4, $5, $6, 'running', $7)
           ON CONFLICT (params_key) DO UPDATE
             SET started_at = now(), is_default = EXCLUDED.is_default,
                 status = CASE WHEN study_runs.status = 'complete' THEN 'complete' ELSE 'running' END
           RETURNING id"#,
        params.key(),
        params.model.as_str(),
        params.return_kind.as_str(),
        params.proxy.as_str(),
        params.interval.as_str(),
        params_json,
        is_default
    )
    .fetch_one(pool)
    .await
}

/// Serialise writers of one run: a second `catalyst study` of the same parameters (another
/// worker, another machine) waits for the first's transaction instead of interleaving.
pub async fn lock_run(conn: &mut PgConnection, run_id: i64) -> Result<(), sqlx::Error> {
    // The run's own row: a row lock needs UPDATE, which read-only roles lack.
    sqlx::query!("SELECT id FROM study_runs WHERE id = $1 FOR UPDATE", run_id)
        .fetch_optional(conn)
        .await?;
    Ok(())
}

/// Mark a run failed, unless an earlier attempt completed it: its results are intact
/// because the failed attempt's transaction rolled back.
pub async fn mark_failed(pool: &PgPool, run_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE study_runs SET status = 'failed', finished_at = now() WHERE id = $1 AND status <> 'complete'",
        run_id
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn finish_run(
    conn: &mut PgConnection,
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
    .execute(conn)
    .await?;
    Ok(())
}

/// Stored fingerprints and scores of a run's events.
pub async fn stored_events(
    conn: &mut PgConnection,
    run_id: i64,
) -> Result<HashMap<i64, (String, Option<f64>)>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT event_id, input_fingerprint, impact_score FROM study_event_scores WHERE run_id = $1",
        run_id
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| (r.event_id, (r.input_fingerprint, r.impact_score)))
    .collect())
}

/// Results of events that no longer exist are removed by the foreign keys; results of a
/// recomputed event are replaced here, one transaction per batch. Rows go in with COPY:
/// a run over thousands of events writes millions of rows.
pub async fn save_batch(
    conn: &mut PgConnection,
    run_id: i64,
    params: &StudyParams,
    batch: &[(i64, String, EventOutcome)],
) -> Result<(), sqlx::Error> {
    let interval = params.interval;
    let ids: Vec<i64> = batch.iter().map(|b| b.0).collect();
    let mut est = CopyRows::default();
    let mut tok = CopyRows::default();
    let mut dropped = CopyRows::default();
    let mut cat = CopyRows::default();
    let mut market = CopyRows::default();
    for (event_id, _fingerprint, o) in batch {
        for t in &o.tokens {
            est.row(&[
                run_id.into(),
                (*event_id).into(),
                t.token_id.into(),
                t.fit.alpha.into(),
                t.fit.beta.into(),
                t.fit.sigma.into(),
                t.fit.df.into(),
                (t.fit.m as i64).into(),
                t.path_start.into(),
                Cell::Array(&t.ar_path),
            ]);
            for w in &t.windows {
                tok.row(&[
                    run_id.into(),
                    (*event_id).into(),
                    t.token_id.into(),
                    w.window.start.into(),
                    w.window.end.into(),
                    w.car.into(),
                    w.variance.into(),
                    Some(w.scar).filter(|v| v.is_finite()).into(),
                    w.token_return.into(),
                    w.market_return.into(),
                    w.car_market_adjusted.into(),
                ]);
            }
        }
        for (token_id, reason) in &o.dropped {
            dropped.row(&[
                run_id.into(),
                (*event_id).into(),
                (*token_id).into(),
                Cell::Text(&reason.describe(interval)),
            ]);
        }
        for c in &o.categories {
            let split = |t: Option<super::significance::Test>| {
                (
                    Cell::from(t.map(|t| t.stat)),
                    Cell::from(t.map(|t| t.p).filter(|p| p.is_finite())),
                )
            };
            let (cs_t, cs_p) = split(c.cross_sectional);
            let (pz, pp) = split(c.patell);
            let (bt, bp) = split(c.bmp);
            let (kt, kp) = split(c.kolari_pynnonen);
            let (pt, ptp) = split(c.portfolio);
            let (rz, rp) = split(c.rank);
            let (sz, sp) = split(c.sign);
            // The path is the same in every window: stored once, with the ranking window.
            let path = if c.window == params.ranking_window {
                Cell::Array(&c.caar_path)
            } else {
                Cell::Null
            };
            cat.row(&[
                run_id.into(),
                (*event_id).into(),
                c.category_id.into(),
                c.window.start.into(),
                c.window.end.into(),
                (c.n as i64).into(),
                c.caar.into(),
                c.caar_value_weighted.into(),
                c.cross_sd.into(),
                cs_t,
                cs_p,
                pz,
                pp,
                bt,
                bp,
                kt,
                kp,
                c.mean_cross_correlation.into(),
                c.portfolio_car.into(),
                pt,
                ptp,
                c.portfolio_sigma.into(),
                rz,
                rp,
                sz,
                sp,
                (c.n_positive as i64).into(),
                path,
            ]);
        }
        for m in &o.market {
            market.row(&[
                run_id.into(),
                (*event_id).into(),
                m.window.start.into(),
                m.window.end.into(),
                m.market_return.into(),
                m.z.into(),
                m.p.into(),
            ]);
        }
    }

    delete_events(&mut *conn, run_id, &ids).await?;
    // Column lists are constants; the data goes through COPY's text format.
    for (table, rows) in [
        ("study_token_estimates (run_id, event_id, token_id, alpha, beta, sigma, df, n_estimation, path_start, ar_path)", est),
        ("study_token_results (run_id, event_id, token_id, window_start, window_end, car, car_variance, scar, token_return, market_return, car_market_adjusted)", tok),
        ("study_dropped_tokens (run_id, event_id, token_id, reason)", dropped),
        ("study_category_results (run_id, event_id, category_id, window_start, window_end, n_tokens, caar, caar_value_weighted, cross_sd, t_stat, p_value, patell_z, patell_p, bmp_t, bmp_p, kp_t, kp_p, mean_cross_correlation, portfolio_car, portfolio_t, portfolio_p, portfolio_sigma, rank_z, rank_p, sign_z, sign_p, n_positive, caar_path)", cat),
        ("study_market_moves (run_id, event_id, window_start, window_end, market_return, z, p_value)", market),
    ] {
        if rows.buf.is_empty() {
            continue;
        }
        let mut copy = conn
            .copy_in_raw(&format!("COPY {table} FROM STDIN"))
            .await?;
        copy.send(rows.buf.into_bytes()).await?;
        copy.finish().await?;
    }
    Ok(())
}

/// One event's score row.
pub struct ScoreRow<'a> {
    pub event_id: i64,
    pub fingerprint: &'a str,
    pub score: &'a EventScore,
    /// The market proxy's return and z over the summary window.
    pub market: Option<(f64, f64)>,
    pub q_value: Option<f64>,
    pub credited_to: Option<i64>,
    pub episode_size: usize,
    pub move_peak_at: Option<DateTime<Utc>>,
}

/// Replace every score row of the run: scores depend on every event (attribution,
/// q-values) and on the null of ordinary hours, so they are all rewritten on each run.
pub async fn save_scores(
    conn: &mut PgConnection,
    run_id: i64,
    alternative_proxy: Option<&str>,
    rows: &[ScoreRow<'_>],
) -> Result<(), sqlx::Error> {
    use super::series::Series;
    let mut out = CopyRows::default();
    for r in rows {
        let s = r.score;
        let top = s.top_component();
        let (kind, category, token) = match top.map(|c| c.series) {
            Some(Series::Market) => (Some("market"), None, None),
            Some(Series::Category { category_id }) => {
                (Some("target-category"), Some(category_id), None)
            }
            Some(Series::Token { token_id }) => (Some("target-token"), None, Some(token_id)),
            None => (None, None, None),
        };
        let e = top.map(|c| c.primary());
        let components = serde_json::to_string(&s.components).unwrap_or_else(|_| "[]".into());
        let peak = r.move_peak_at.map(|t| t.to_rfc3339());
        let p = |ln: Option<f64>| ln.map(|v| v.exp().clamp(0.0, 1.0));
        out.row(&[
            run_id.into(),
            r.event_id.into(),
            s.impact.into(),
            s.driver.as_deref().map(Cell::Text).unwrap_or(Cell::Null),
            kind.map(Cell::Text).unwrap_or(Cell::Null),
            category.into(),
            token.into(),
            e.map(|e| e.abnormal).into(),
            e.map(|e| e.t).filter(|t| t.is_finite()).into(),
            p(e.map(|e| e.ln_p_t)).into(),
            Cell::Text(&components),
            r.market.map(|m| m.0).into(),
            r.market.map(|m| m.1).filter(|z| z.is_finite()).into(),
            Cell::Text(r.fingerprint),
            s.not_ranked
                .as_deref()
                .map(Cell::Text)
                .unwrap_or(Cell::Null),
            p(s.ln_p).into(),
            s.ln_p.map(|v| v.min(0.0)).into(),
            p(s.ln_p_primary).into(),
            p(s.ln_p_alternative).into(),
            alternative_proxy
                .filter(|_| s.ln_p_alternative.is_some())
                .map(Cell::Text)
                .unwrap_or(Cell::Null),
            Cell::Bool(s.model_dependent),
            Cell::Bool(s.calibrated),
            s.k_eff.into(),
            (s.null_hours as i64).into(),
            s.stronger_than.into(),
            r.q_value.into(),
            s.top.map(|i| i as i64 + 1).into(),
            top.map(|c| c.window.start).into(),
            top.map(|c| c.window.end).into(),
            top.map(|c| Cell::Bool(c.pre_report)).unwrap_or(Cell::Null),
            p(e.and_then(|e| e.ln_p_calibrated)).into(),
            e.and_then(|e| e.stronger_than).into(),
            top.and_then(|c| c.mde).into(),
            s.publication_bar.map(|b| b.abnormal).into(),
            s.publication_bar.map(|b| b.raw).into(),
            peak.as_deref().map(Cell::Text).unwrap_or(Cell::Null),
            r.credited_to.into(),
            (r.episode_size as i64).into(),
        ]);
    }
    sqlx::query!("DELETE FROM study_event_scores WHERE run_id = $1", run_id)
        .execute(&mut *conn)
        .await?;
    if out.buf.is_empty() {
        return Ok(());
    }
    // The column list is a constant; the data goes through COPY's text format.
    let mut copy = conn
        .copy_in_raw(
            "COPY study_event_scores (run_id, event_id, impact_score, driver, top_kind, \
             top_category_id, top_token_id, top_value, top_stat, top_p, components, \
             market_return, market_z, input_fingerprint, not_ranked_reason, p_value, ln_p, \
             p_primary, p_alternative, alternative_proxy, model_dependent, calibrated, k_eff, \
             null_hours, stronger_than, q_value, top_component, top_window_start, \
             top_window_end, top_pre_report, top_p_calibrated, top_stronger_than, top_mde, \
             publication_bar_abnormal, publication_bar_return, move_peak_at, credited_to, \
             episode_size) FROM STDIN",
        )
        .await?;
    copy.send(out.buf.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// One value in COPY's text format.
enum Cell<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(&'a str),
    Array(&'a [f64]),
}

impl From<i64> for Cell<'_> {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}
impl From<i32> for Cell<'_> {
    fn from(v: i32) -> Self {
        Cell::Int(v.into())
    }
}
impl From<f64> for Cell<'_> {
    fn from(v: f64) -> Self {
        Cell::Float(v)
    }
}
impl<'a, T: Into<Cell<'a>>> From<Option<T>> for Cell<'a> {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Cell::Null)
    }
}

/// Rows in COPY's text format: tab-separated, `\N` for NULL, `{a,b}` for arrays.
#[derive(Default)]
struct CopyRows {
    buf: String,
}

impl CopyRows {
    fn row(&mut self, cells: &[Cell<'_>]) {
        use std::fmt::Write;
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                self.buf.push('\t');
            }
            match c {
                Cell::Null => self.buf.push_str("\\N"),
                Cell::Bool(b) => self.buf.push_str(if *b { "t" } else { "f" }),
                Cell::Int(v) => {
                    let _ = write!(self.buf, "{v}");
                }
                Cell::Float(v) => push_float(&mut self.buf, *v),
                Cell::Text(s) => {
                    for ch in s.chars() {
                        match ch {
                            '\\' => self.buf.push_str("\\\\"),
                            '\t' => self.buf.push_str("\\t"),
                            '\n' => self.buf.push_str("\\n"),
                            '\r' => self.buf.push_str("\\r"),
                            other => self.buf.push(other),
                        }
                    }
                }
                Cell::Array(xs) => {
                    self.buf.push('{');
                    for (j, x) in xs.iter().enumerate() {
                        if j > 0 {
                            self.buf.push(',');
                        }
                        push_float(&mut self.buf, *x);
                    }
                    self.buf.push('}');
                }
            }
        }
        self.buf.push('\n');
    }
}

fn push_float(buf: &mut String, v: f64) {
    use std::fmt::Write;
    if v.is_nan() {
        buf.push_str("NaN");
    } else if v.is_infinite() {
        buf.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        // Rust prints the shortest text that reads back as the same f64.
        let _ = write!(buf, "{v:?}");
    }
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
    ] {
        stmt.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Store every event's confounder lists (they depend on the other events, so they are
/// refreshed for all events on every run).
pub async fn save_confounders(
    conn: &mut PgConnection,
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
    .execute(conn)
    .await?;
    Ok(())
}
