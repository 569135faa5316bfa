//! SQL for the study: reading events, tokens and bars; writing a run's results.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::engine::{CategoryOutcome, EventOutcome, StudyParams};
use super::score::EventScore;
use super::significance::Test;
use crate::db::copy::{copy_binary, BinaryRows, CopyError};
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

/// A batch of events' results in binary COPY format, ready to write: encoding is pure CPU
/// work, done off the async writer while the previous batch is written.
pub struct EncodedBatch {
    pub event_ids: Vec<i64>,
    pub pairs: usize,
    tables: Vec<(&'static str, Vec<u8>)>,
}

/// Figures stored per token and window, in this order (study_token_outcomes.window_values).
const WINDOW_FIGURES: usize = 6;

/// Figures stored per category and window (study_category_outcomes.window_values), in the
/// column order of the view study_category_results.
const CATEGORY_FIGURES: usize = 22;

/// One category's figures in one window, in [`CATEGORY_FIGURES`] order.
fn category_figures(c: &CategoryOutcome) -> [Option<f64>; CATEGORY_FIGURES] {
    let finite = |v: f64| Some(v).filter(|v| v.is_finite());
    let stat = |t: Option<Test>| t.map(|t| t.stat);
    let p = |t: Option<Test>| t.map(|t| t.p).and_then(finite);
    [
        Some(c.n as f64),
        Some(c.caar),
        c.caar_value_weighted,
        c.cross_sd,
        stat(c.cross_sectional),
        p(c.cross_sectional),
        stat(c.patell),
        p(c.patell),
        stat(c.bmp),
        p(c.bmp),
        stat(c.kolari_pynnonen),
        p(c.kolari_pynnonen),
        c.mean_cross_correlation,
        c.portfolio_car,
        stat(c.portfolio),
        p(c.portfolio),
        c.portfolio_sigma,
        stat(c.rank),
        p(c.rank),
        stat(c.sign),
        p(c.sign),
        Some(c.n_positive as f64),
    ]
}

/// Encode a batch of events' results (see [`write_batch`]).
pub fn encode_batch(
    run_id: i64,
    params: &StudyParams,
    batch: &[(i64, EventOutcome)],
) -> EncodedBatch {
    let interval = params.interval;
    let mut tok = BinaryRows::default();
    let mut dropped = BinaryRows::default();
    let mut cat = BinaryRows::default();
    let mut market = BinaryRows::default();
    let finite = |v: f64| Some(v).filter(|v| v.is_finite());
    for (event_id, o) in batch {
        for t in &o.tokens {
            // One row per token: the windows' figures in the run's window order.
            let values = params.windows.iter().flat_map(|w| {
                let tw = t.windows.iter().find(|x| x.window == *w);
                let figures: [Option<f64>; WINDOW_FIGURES] = match tw {
                    Some(x) => [
                        Some(x.car),
                        Some(x.variance),
                        finite(x.scar),
                        Some(x.token_return),
                        Some(x.market_return),
                        Some(x.car_market_adjusted),
                    ],
                    None => [None; WINDOW_FIGURES],
                };
                figures
            });
            tok.row(11)
                .i64(run_id)
                .i64(*event_id)
                .i32(t.token_id)
                .i32(t.fit.m as i32)
                .f64(t.fit.alpha)
                .f64(t.fit.beta)
                .f64(t.fit.sigma)
                .f64(t.fit.df)
                .i32(t.path_start)
                .f64_matrix(params.windows.len(), WINDOW_FIGURES, values)
                .f32_array(&t.ar_path);
        }
        for (token_id, reason) in &o.dropped {
            dropped
                .row(4)
                .i64(run_id)
                .i64(*event_id)
                .i32(*token_id)
                .text(&reason.describe(interval));
        }
        // One row per category: the windows' figures in the run's window order.
        let mut category_ids: Vec<i32> = o.categories.iter().map(|c| c.category_id).collect();
        category_ids.sort_unstable();
        category_ids.dedup();
        for category_id in category_ids {
            let of_category: Vec<&CategoryOutcome> = o
                .categories
                .iter()
                .filter(|c| c.category_id == category_id)
                .collect();
            let values = params.windows.iter().flat_map(|w| {
                match of_category.iter().find(|c| c.window == *w) {
                    Some(c) => category_figures(c),
                    None => [None; CATEGORY_FIGURES],
                }
            });
            // The path is the same in every window: stored once.
            let path = of_category
                .iter()
                .find(|c| c.window == params.ranking_window)
                .or(of_category.first())
                .map(|c| &c.caar_path);
            // Bit k - 1: window k has results (windows past the 31st are not marked).
            let mask = params
                .windows
                .iter()
                .enumerate()
                .filter(|(k, w)| *k < 31 && of_category.iter().any(|c| c.window == **w))
                .fold(0i32, |m, (k, _)| m | 1 << k);
            let r = cat
                .row(6)
                .i64(run_id)
                .i64(*event_id)
                .i32(category_id)
                .f64_matrix(params.windows.len(), CATEGORY_FIGURES, values);
            match path {
                Some(path) => r.f32_array(path),
                None => r.null(),
            };
            r.i32(mask);
        }
        for m in &o.market {
            market
                .row(7)
                .i64(run_id)
                .i64(*event_id)
                .i32(m.window.start)
                .i32(m.window.end)
                .f64(m.market_return)
                .f64(m.z)
                .f64(m.p);
        }
    }
    let pairs = tok.rows();
    let mut tables = Vec::new();
    // Column lists are constants, in each table's column order.
    for (target, rows) in [
        ("study_token_outcomes (run_id, event_id, token_id, n_estimation, alpha, beta, sigma, df, path_start, window_values, ar_path)", tok),
        ("study_dropped_tokens (run_id, event_id, token_id, reason)", dropped),
        ("study_category_outcomes (run_id, event_id, category_id, window_values, caar_path, window_mask)", cat),
        ("study_market_moves (run_id, event_id, window_start, window_end, market_return, z, p_value)", market),
    ] {
        if rows.rows() > 0 {
            tables.push((target, rows.finish()));
        }
    }
    EncodedBatch {
        event_ids: batch.iter().map(|b| b.0).collect(),
        pairs,
        tables,
    }
}

/// Replace a batch of events' results: results of a recomputed event are deleted and
/// written again (those of events that no longer exist go with the foreign keys). Rows go
/// in with binary COPY, each limited to `copy_limit`.
pub async fn write_batch(
    conn: &mut PgConnection,
    run_id: i64,
    batch: EncodedBatch,
    copy_limit: std::time::Duration,
    timings: &mut WriteTimings,
) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    delete_events(&mut *conn, run_id, &batch.event_ids).await?;
    timings.add("delete", started.elapsed(), 0);
    for (target, payload) in &batch.tables {
        let started = std::time::Instant::now();
        copy_binary(&mut *conn, target, payload, copy_limit).await?;
        let table = target.split_whitespace().next().unwrap_or(target);
        timings.add(table, started.elapsed(), payload.len());
    }
    Ok(())
}

/// Seconds and bytes spent per table by [`write_batch`], for the run's log line.
#[derive(Debug, Default)]
pub struct WriteTimings(Vec<(String, f64, usize)>);

impl WriteTimings {
    fn add(&mut self, table: &str, took: std::time::Duration, bytes: usize) {
        match self.0.iter_mut().find(|t| t.0 == table) {
            Some(t) => {
                t.1 += took.as_secs_f64();
                t.2 += bytes;
            }
            None => self.0.push((table.to_string(), took.as_secs_f64(), bytes)),
        }
    }
}

impl std::fmt::Display for WriteTimings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (table, secs, bytes)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{table} {secs:.1} s ({:.0} MB)", *bytes as f64 / 1e6)?;
        }
        Ok(())
    }
}

/// Errors of the study's writes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Copy(#[from] CopyError),
}

/// Write the run's windows (window k's figures are `window_values[k]`): fixed by the run's
/// parameters, so written once.
pub async fn save_windows(
    conn: &mut PgConnection,
    run_id: i64,
    params: &StudyParams,
) -> Result<(), sqlx::Error> {
    let starts: Vec<i32> = params.windows.iter().map(|w| w.start).collect();
    let ends: Vec<i32> = params.windows.iter().map(|w| w.end).collect();
    sqlx::query!(
        r#"INSERT INTO study_run_windows (run_id, ord, window_start, window_end)
           SELECT $1, w.ord, w.s, w.e FROM UNNEST($2::int4[], $3::int4[]) WITH ORDINALITY AS w(s, e, ord)
           ON CONFLICT (run_id, ord) DO NOTHING"#,
        run_id,
        &starts,
        &ends
    )
    .execute(conn)
    .await?;
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
    /// Other events whose spans overlap this one's (confounders).
    pub overlapping_events: Vec<i64>,
    /// High-impact events inside this event's estimation window.
    pub estimation_confounders: Vec<i64>,
}

/// Remove every score row of the run before [`copy_scores`] writes them anew: scores
/// depend on every event (attribution, q-values, confounder lists) and on the null of
/// ordinary hours, so they are all rewritten on each run.
pub async fn clear_scores(conn: &mut PgConnection, run_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM study_event_scores WHERE run_id = $1", run_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Write score rows of the run (after [`clear_scores`]), one COPY per call: callers send
/// the events in chunks, so that the confounder lists (about 1,800 ids per event at
/// 100,000 events) are never all in memory, and are stored with the row instead of by
/// a second pass of updates.
pub async fn copy_scores(
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
            Cell::IntArray(&r.overlapping_events),
            Cell::IntArray(&r.estimation_confounders),
        ]);
    }
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
             episode_size, overlapping_events, estimation_confounders) FROM STDIN",
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
    /// A `bigint[]` literal: `{1,2,3}` needs no escaping in COPY's text format.
    IntArray(&'a [i64]),
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

/// Rows in COPY's text format: tab-separated, `\N` for NULL.
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
                Cell::IntArray(xs) => {
                    self.buf.push('{');
                    for (k, v) in xs.iter().enumerate() {
                        if k > 0 {
                            self.buf.push(',');
                        }
                        let _ = write!(self.buf, "{v}");
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
            "DELETE FROM study_token_outcomes WHERE run_id = $1 AND event_id = ANY($2)",
            run_id,
            ids
        ),
        sqlx::query!(
            "DELETE FROM study_dropped_tokens WHERE run_id = $1 AND event_id = ANY($2)",
            run_id,
            ids
        ),
        sqlx::query!(
            "DELETE FROM study_category_outcomes WHERE run_id = $1 AND event_id = ANY($2)",
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
