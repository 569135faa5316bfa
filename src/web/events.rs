//! Event pages: the ranked list (`/`) and one event (`/events/{id}`), with their queries.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use sqlx::PgPool;

use super::chart;
use super::error::WebError;
use super::evidence::{self, EvidenceRow, Names, ScoreFacts, Verdict};
use super::format::{num, p_value, pct, sign_class, utc, window_words};
use super::AppState;
use crate::study::engine::Window;
use crate::study::score::Component;
use crate::study::StudyParams;

/// At most this many events on the ranked page.
pub const LIST_LIMIT: i64 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list))
        .route("/events/{id}", get(show))
        .route("/about", get(about))
}

#[derive(Template)]
#[template(path = "about.html")]
pub struct AboutPage {
    pub title: String,
}

/// What every figure means (the glossary the pages link to).
async fn about() -> Result<Html<String>, WebError> {
    Ok(Html(
        AboutPage {
            title: "How to read Catalyst".into(),
        }
        .render()?,
    ))
}

/// The run pages show: the default parameters' run if complete, else the latest complete.
/// The rule lives in the `current_study_run` view, which analysts' views share.
pub async fn current_run(pool: &PgPool) -> Result<Option<(i64, StudyParams)>, sqlx::Error> {
    let row = sqlx::query!(r#"SELECT run_id AS "id!", params AS "params!" FROM current_study_run"#)
        .fetch_optional(pool)
        .await?;
    Ok(row.and_then(|r| {
        serde_json::from_value::<StudyParams>(r.params)
            .ok()
            .map(|p| (r.id, p))
    }))
}

pub struct ListRow {
    pub id: i64,
    pub time: String,
    pub ago: String,
    pub sources: i64,
    pub sparkline: String,
    pub category_caar: Option<String>,
    pub headline: String,
    pub source: String,
    pub articles: i64,
    pub score: String,
    pub significant: bool,
    pub q_value: String,
    pub model_dependent: bool,
    /// What the evidence is: "ADA, the first hour".
    pub evidence: String,
    pub top_move: String,
    pub top_class: &'static str,
    pub market: String,
    pub market_class: &'static str,
    /// Why the story is not ranked.
    pub not_ranked: Option<String>,
    /// The story credited with the same move: (id, headline).
    pub same_move_as: Option<(i64, String)>,
    /// Other stories on this story's move.
    pub same_move_others: i64,
}

/// The list's query string, as typed: parsed in [`ListFilter::parse`] so that a bad value
/// gets a clear 400 page, never a 500.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Full-text search over headlines (web-search syntax: words, "phrases", -not).
    pub q: Option<String>,
    /// Only events tagged with this category (slug).
    pub category: Option<String>,
    /// Only events naming this token (symbol).
    pub token: Option<String>,
    /// First day, YYYY-MM-DD (UTC).
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (UTC), inclusive.
    pub to: Option<String>,
    /// Minimum impact score (|z|).
    pub min_score: Option<String>,
    /// "1": only significant events: corrected calibrated p below 0.05 (score ≥ 1.96).
    pub significant: Option<String>,
    /// impact (default), time (newest first), or caar (needs sort_category).
    pub sort: Option<String>,
    /// The cursor of the next page, as returned in `next`.
    pub after: Option<String>,
    /// Events per page, 1 to 200 (default 50).
    pub per_page: Option<String>,
    /// With `sort=caar`: the category to sort by (it need not be tagged).
    pub sort_category: Option<String>,
    /// Only events of this kind (ai, etf, macro, hack, ...).
    pub kind: Option<String>,
    /// Only events with an article from this source (its name).
    pub source: Option<String>,
    /// With `sort=caar`: the window, START:END in bars (default: the ranking window).
    pub window: Option<String>,
}

/// Events per page, by default and at most.
pub const PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 200;
/// An event is significant when its corrected calibrated p is below this (score ≥ 1.96).
pub const SIGNIFICANT_P: f64 = 0.05;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    pub q: Option<String>,
    pub category: Option<String>,
    pub token: Option<String>,
    pub kind: Option<String>,
    pub source: Option<String>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub min_score: Option<f64>,
    pub significant: bool,
    pub by_time: bool,
    /// Sort by |CAAR| of `category` in `caar_window`.
    pub by_caar: bool,
    pub sort_category: Option<String>,
    pub caar_window: Option<Window>,
    /// Keyset cursor: the sort key and id of the last row of the previous page.
    pub after: Option<(f64, i64)>,
    pub per_page: Option<i64>,
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The longest text filter taken (search text is cut to 200 characters instead).
const MAX_FILTER_CHARS: usize = 200;

/// A text parameter as PostgreSQL can take it: no NUL character, not absurdly long.
fn text_param<'a>(name: &str, v: &'a Option<String>) -> Result<Option<&'a str>, String> {
    match blank(v) {
        Some(s) if s.contains('\0') => Err(format!("{name}: contains a NUL character")),
        Some(s) if name != "q" && s.chars().count() > MAX_FILTER_CHARS => {
            Err(format!("{name}: longer than {MAX_FILTER_CHARS} characters"))
        }
        other => Ok(other),
    }
}

/// Days the list can filter on: PostgreSQL's dates reach far, but a filter before 1970
/// or after 9999 is a typo.
const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

impl ListFilter {
    pub fn parse(q: &ListQuery) -> Result<Self, String> {
        let date = |name: &str, v: &Option<String>| {
            text_param(name, v)?
                .map(|s| {
                    use chrono::Datelike;
                    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .ok()
                        .filter(|d| YEARS.contains(&d.year()))
                        .ok_or_else(|| {
                            format!("{name}: {s:?} is not a date (YYYY-MM-DD, years 1970 to 9999)")
                        })
                })
                .transpose()
        };
        for (name, v) in [
            ("q", &q.q),
            ("category", &q.category),
            ("token", &q.token),
            ("kind", &q.kind),
            ("source", &q.source),
            ("sort_category", &q.sort_category),
            ("sort", &q.sort),
            ("window", &q.window),
            ("after", &q.after),
            ("per_page", &q.per_page),
            ("min_score", &q.min_score),
            ("significant", &q.significant),
        ] {
            text_param(name, v)?;
        }
        let min_score = blank(&q.min_score)
            .map(|s| {
                s.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| format!("min_score: {s:?} is not a number"))
            })
            .transpose()?;
        let sort = blank(&q.sort).unwrap_or("impact");
        if !matches!(sort, "impact" | "time" | "caar") {
            return Err(format!("sort: {sort:?} is not one of impact, time, caar"));
        }
        let sort_category = blank(&q.sort_category).map(str::to_string);
        if sort == "caar" && sort_category.is_none() {
            return Err("sort=caar sorts by a category's CAAR: choose sort_category".into());
        }
        let caar_window = blank(&q.window)
            .map(|s| {
                s.split_once(':')
                    .and_then(|(a, b)| {
                        Some(Window::new(a.trim().parse().ok()?, b.trim().parse().ok()?))
                    })
                    .filter(|w| !w.is_empty())
                    .ok_or_else(|| format!("window: {s:?} is not START:END in bars, e.g. -24:24"))
            })
            .transpose()?;
        let after = blank(&q.after)
            .map(|s| {
                s.split_once('_')
                    .and_then(|(k, id)| Some((k.parse::<f64>().ok()?, id.parse::<i64>().ok()?)))
                    .filter(|(k, _)| k.is_finite())
                    .ok_or_else(|| format!("after: {s:?} is not a page cursor"))
            })
            .transpose()?;
        let per_page = blank(&q.per_page)
            .map(|s| {
                s.parse::<i64>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                    .ok_or_else(|| {
                        format!("per_page: {s:?} is not a whole number from 1 to {MAX_PAGE_SIZE}")
                    })
            })
            .transpose()?;
        let q_text = blank(&q.q).map(|s| s.chars().take(200).collect::<String>());
        Ok(ListFilter {
            q: q_text,
            category: blank(&q.category).map(str::to_string),
            token: blank(&q.token).map(|s| s.to_ascii_uppercase()),
            kind: blank(&q.kind).map(|s| s.to_lowercase()),
            source: blank(&q.source).map(str::to_string),
            from: date("from", &q.from)?,
            to: date("to", &q.to)?,
            min_score,
            significant: matches!(blank(&q.significant), Some("1" | "on" | "true" | "yes")),
            by_time: sort == "time",
            by_caar: sort == "caar",
            sort_category,
            caar_window,
            after,
            per_page,
        })
    }

    /// Panics unless PostgreSQL takes every value as given: no NUL character, dates in
    /// range, finite numbers. For fuzzing and property tests.
    pub fn assert_storable(&self) {
        use chrono::Datelike;
        for v in [
            &self.q,
            &self.category,
            &self.token,
            &self.kind,
            &self.source,
            &self.sort_category,
        ]
        .into_iter()
        .flatten()
        {
            assert!(!v.contains('\0'), "{v:?}");
        }
        for d in [self.from, self.to].into_iter().flatten() {
            assert!(YEARS.contains(&d.year()), "{d}");
        }
        assert!(self.min_score.is_none_or(f64::is_finite));
        assert!(self.after.is_none_or(|(k, _)| k.is_finite()));
    }

    /// The query string of this filter (without the cursor), for links.
    pub fn query_string(&self) -> String {
        let mut parts: Vec<(String, String)> = Vec::new();
        let mut push = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                parts.push((k.to_string(), v));
            }
        };
        push("q", self.q.clone());
        push("category", self.category.clone());
        push("token", self.token.clone());
        push("kind", self.kind.clone());
        push("source", self.source.clone());
        push("from", self.from.map(|d| d.to_string()));
        push("to", self.to.map(|d| d.to_string()));
        push("min_score", self.min_score.map(|v| v.to_string()));
        push("significant", self.significant.then(|| "1".to_string()));
        push(
            "sort",
            if self.by_time {
                Some("time".to_string())
            } else if self.by_caar {
                Some("caar".to_string())
            } else {
                None
            },
        );
        push("sort_category", self.sort_category.clone());
        push(
            "window",
            self.caar_window.map(|w| format!("{}:{}", w.start, w.end)),
        );
        push("per_page", self.per_page.map(|n| n.to_string()));
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(parts)
            .finish()
    }
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "events/list.html")]
pub struct ListPage {
    pub title: String,
    pub rows: Vec<ListRow>,
    pub has_run: bool,
    pub window: String,
    pub min_tokens: usize,
    pub model: String,
    pub proxy: String,
    pub categories: Vec<Choice>,
    pub q: String,
    pub token: String,
    pub kind: String,
    pub source: String,
    pub from: String,
    pub to: String,
    pub min_score: String,
    pub significant: bool,
    pub by_time: bool,
    pub filtered: bool,
    pub next_page: Option<String>,
    pub csv_href: String,
    pub by_caar: bool,
    pub sort_categories: Vec<Choice>,
    pub window_param: String,
    /// The live tracker's status (templates/live_status.html).
    pub live: super::live_status::LiveStatus,
}

/// "3 days ago", "5 hours ago", "in 2 days".
pub fn ago(t: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (now - t).num_seconds();
    match secs {
        0..60 => return "just now".to_string(),
        -59..0 => return "in under a minute".to_string(),
        _ => {}
    }
    let (n, unit) = match secs.unsigned_abs() {
        s if s < 3_600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3_600, "hour"),
        s if s < 86_400 * 60 => (s / 86_400, "day"),
        s if s < 86_400 * 730 => (s / (86_400 * 30), "month"),
        s => (s / (86_400 * 365), "year"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if secs >= 0 {
        format!("{n} {unit}{plural} ago")
    } else {
        format!("in {n} {unit}{plural}")
    }
}

/// One event of the list, for the page, the API and the CSV export. Every number has one
/// name here and the same name in the CSV columns and the `event_impact` view.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ListItem {
    pub id: i64,
    pub event_time: chrono::DateTime<chrono::Utc>,
    pub headline: String,
    pub source: Option<String>,
    pub articles: i64,
    /// Distinct sources among the articles.
    pub sources: i64,
    /// The corrected calibrated p as |z| (README "Impact score"); null when not ranked.
    pub impact_score: Option<f64>,
    /// Corrected calibrated p: the share of ordinary hours with evidence at least this
    /// strong over the same components and both market models.
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg q-value across the run's ranked events.
    pub q_value: Option<f64>,
    /// p_value below 0.05.
    pub significant: bool,
    /// Significant (or its strongest piece of evidence) under the run's model only.
    pub model_dependent: bool,
    /// Why the story is not ranked; null when ranked.
    pub not_ranked_reason: Option<String>,
    /// targets or market.
    pub driver: Option<String>,
    /// target-category, target-token or market.
    pub top_kind: Option<String>,
    pub top_category: Option<String>,
    pub top_token: Option<String>,
    /// The window carrying the evidence, in bars from bar 0: [start, end).
    pub top_window_start: Option<i32>,
    pub top_window_end: Option<i32>,
    /// The evidence is the move before the first report.
    pub top_pre_report: Option<bool>,
    /// The abnormal move behind the score over that window (fraction: -0.05 = -5%).
    pub top_move: Option<f64>,
    /// Its t-based two-sided p, before correction.
    pub top_p_t: Option<f64>,
    /// Its calibrated p (share of ordinary hours at least as strong), before correction.
    pub top_p_calibrated: Option<f64>,
    /// The market proxy's return over the summary window ([-24h, +24h]).
    pub market_return: Option<f64>,
    pub market_z: Option<f64>,
    /// Another event credited with the same move: this one is "same move".
    pub credited_to: Option<i64>,
    /// Significant or not, the stories that claim this event's move (1: alone).
    pub episode_size: i32,
    /// With `sort=caar`: the chosen category's CAAR in the chosen window.
    pub category_caar: Option<f64>,
    /// Cumulative abnormal return per bar of the score's category or token, over the
    /// event span (fractions).
    pub target_path: Option<Vec<f64>>,
    #[serde(skip)]
    pub sort_key: f64,
    #[serde(skip)]
    pub credited_headline: Option<String>,
    #[serde(skip)]
    pub same_move_others: i64,
}

/// A page of the list, and the cursor of the next page.
pub struct ListResult {
    pub items: Vec<ListItem>,
    pub next_after: Option<String>,
    pub filter: ListFilter,
    pub run: Option<(i64, StudyParams)>,
}

/// Parse the query, check it against the taxonomy and fetch one page.
pub async fn fetch_list(pool: &PgPool, query: &ListQuery) -> Result<ListResult, WebError> {
    let filter = ListFilter::parse(query).map_err(WebError::BadRequest)?;
    for c in [&filter.category, &filter.sort_category]
        .into_iter()
        .flatten()
    {
        let known = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM categories WHERE slug = $1) AS "e!""#,
            c
        )
        .fetch_one(pool)
        .await?;
        if !known {
            return Err(WebError::BadRequest(format!("There is no category {c:?}.")));
        }
    }
    let run = current_run(pool).await?;
    let run_id = run.as_ref().map(|r| r.0);
    let min_score = filter.min_score;
    // "Significant" is the corrected calibrated p below 5% (the score's own definition).
    let max_p = filter.significant.then_some(SIGNIFICANT_P);
    let page_size = filter.per_page.unwrap_or(PAGE_SIZE);
    let to_exclusive = filter.to.map(|d| d + chrono::Days::new(1));
    let day_start = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let rw = run
        .as_ref()
        .map(|r| r.1.ranking_window)
        .unwrap_or(crate::study::engine::RANKING_WINDOW);
    let caar_window = filter.caar_window.unwrap_or(rw);
    // Before any study there is no score to rank by: newest first.
    let mode = match (filter.by_time || run_id.is_none(), filter.by_caar) {
        (true, _) => "time",
        (_, true) => "caar",
        _ => "impact",
    };
    // One static query: every filter is a parameter that is NULL when unused. User input
    // never becomes SQL text; the search goes through websearch_to_tsquery, safe with any
    // input. The page is cut (keyset, LIMIT) before its rows' details are looked up.
    let rows = sqlx::query!(
        r#"WITH page AS (
             -- Each branch walks its own index in sort order and stops after one page; the
             -- filters are the inlined SQL function event_matches.
             (SELECT sc.event_id AS id, sc.rank_key AS sort_key, NULL::float8 AS sort_caar
              FROM study_event_scores sc JOIN events e ON e.id = sc.event_id
              WHERE $9::text = 'impact' AND sc.run_id = $1
                AND event_matches(e.id, e.event_time, e.headline_tsv, e.kind, $2, $3, $4, $5, $6, $17, $18)
                AND ($7::float8 IS NULL OR sc.impact_score >= $7)
                AND ($19::float8 IS NULL OR sc.p_value < $19)
                AND ($8::float8 IS NULL OR (sc.rank_key, sc.event_id) < ($8, $10))
              ORDER BY sc.rank_key DESC, sc.event_id DESC
              LIMIT $11)
             UNION ALL
             (SELECT e.id, extract(epoch FROM e.event_time)::float8, NULL::float8
              FROM events e
              WHERE $9::text = 'time'
                AND event_matches(e.id, e.event_time, e.headline_tsv, e.kind, $2, $3, $4, $5, $6, $17, $18)
                AND (($7::float8 IS NULL AND $19::float8 IS NULL) OR EXISTS (
                      SELECT 1 FROM study_event_scores sc
                      WHERE sc.run_id = $1 AND sc.event_id = e.id
                        AND ($7::float8 IS NULL OR sc.impact_score >= $7)
                        AND ($19::float8 IS NULL OR sc.p_value < $19)))
                -- The cursor's time is read back from its event: exact, unlike a float.
                AND ($8::float8 IS NULL OR (e.event_time, e.id) <
                     ((SELECT x.event_time FROM events x WHERE x.id = $10), $10))
              ORDER BY e.event_time DESC, e.id DESC
              LIMIT $11)
             UNION ALL
             (SELECT cr.event_id, abs(cr.caar), cr.caar
              FROM study_category_results cr JOIN events e ON e.id = cr.event_id
              WHERE $9::text = 'caar' AND cr.run_id = $1
                AND cr.category_id = (SELECT id FROM categories WHERE slug = $16)
                AND cr.window_start = $12 AND cr.window_end = $13
                AND event_matches(e.id, e.event_time, e.headline_tsv, e.kind, $2, $3, $4, $5, $6, $17, $18)
                AND (($7::float8 IS NULL AND $19::float8 IS NULL) OR EXISTS (
                      SELECT 1 FROM study_event_scores sc
                      WHERE sc.run_id = $1 AND sc.event_id = cr.event_id
                        AND ($7::float8 IS NULL OR sc.impact_score >= $7)
                        AND ($19::float8 IS NULL OR sc.p_value < $19)))
                AND ($8::float8 IS NULL OR (abs(cr.caar), cr.event_id) < ($8, $10))
              ORDER BY abs(cr.caar) DESC, cr.event_id DESC
              LIMIT $11)
           )
           SELECT p.id AS "id!", e.event_time, e.headline, p.sort_key AS "sort_key!",
                  p.sort_caar AS "sort_caar?",
                  (SELECT s.name FROM articles a JOIN sources s ON s.id = a.source_id
                   WHERE a.event_id = p.id ORDER BY a.published_at, a.id LIMIT 1) AS source,
                  (SELECT count(*) FROM articles a WHERE a.event_id = p.id) AS "articles!",
                  (SELECT count(DISTINCT a.source_id) FROM articles a WHERE a.event_id = p.id) AS "sources!",
                  sc.impact_score AS "impact_score?", sc.driver AS "driver?",
                  sc.top_kind AS "top_kind?", sc.top_value AS "top_value?",
                  c.name AS "top_category?", t.symbol AS "top_token?",
                  sc.market_return AS "market_return?", sc.market_z AS "market_z?",
                  sc.p_value AS "p_value?", sc.q_value AS "q_value?",
                  sc.model_dependent AS "model_dependent?", sc.not_ranked_reason AS "not_ranked_reason?",
                  sc.top_window_start AS "top_window_start?", sc.top_window_end AS "top_window_end?",
                  sc.top_pre_report AS "top_pre_report?", sc.top_p AS "top_p?",
                  sc.top_p_calibrated AS "top_p_calibrated?", sc.credited_to AS "credited_to?",
                  sc.episode_size AS "episode_size?",
                  (SELECT x.headline FROM events x WHERE x.id = sc.credited_to) AS "credited_headline?",
                  (SELECT count(*) FROM study_event_scores o
                   WHERE o.run_id = $1 AND o.credited_to = p.id) AS "same_move_others!",
                  COALESCE(
                    (SELECT r.caar_path FROM study_category_results r
                     WHERE r.run_id = $1 AND r.event_id = p.id AND r.category_id = sc.top_category_id
                       AND r.window_start = $14 AND r.window_end = $15),
                    (SELECT te.ar_path FROM study_token_estimates te
                     WHERE te.run_id = $1 AND te.event_id = p.id AND te.token_id = sc.top_token_id)
                  ) AS "path?",
                  (sc.top_token_id IS NOT NULL) AS "path_is_ar!"
           FROM page p
           JOIN events e ON e.id = p.id
           LEFT JOIN study_event_scores sc ON sc.run_id = $1 AND sc.event_id = p.id
           LEFT JOIN categories c ON c.id = sc.top_category_id
           LEFT JOIN tokens t ON t.id = sc.top_token_id
           ORDER BY p.sort_key DESC, p.id DESC"#,
        run_id,
        filter.q,
        filter.category,
        filter.token,
        filter.from.and_then(day_start),
        to_exclusive.and_then(day_start),
        min_score,
        filter.after.map(|a| a.0),
        mode,
        filter.after.map(|a| a.1).unwrap_or(0),
        page_size + 1,
        caar_window.start,
        caar_window.end,
        rw.start,
        rw.end,
        filter.sort_category,
        filter.kind,
        filter.source,
        max_p
    )
    .fetch_all(pool)
    .await?;
    let next_after = (rows.len() as i64 > page_size)
        .then(|| rows.get(page_size as usize - 1))
        .flatten()
        .map(|last| format!("{}_{}", last.sort_key, last.id));
    let items = rows
        .into_iter()
        .take(page_size as usize)
        .map(|r| ListItem {
            id: r.id,
            event_time: r.event_time,
            headline: r.headline,
            source: r.source,
            articles: r.articles,
            impact_score: r.impact_score,
            driver: r.driver,
            top_kind: r.top_kind,
            top_category: r.top_category,
            top_token: r.top_token,
            top_move: r.top_value,
            market_return: r.market_return,
            market_z: r.market_z,
            p_value: r.p_value,
            q_value: r.q_value,
            significant: r.p_value.is_some_and(|p| p < SIGNIFICANT_P),
            model_dependent: r.model_dependent.unwrap_or(false),
            not_ranked_reason: r.not_ranked_reason,
            top_window_start: r.top_window_start,
            top_window_end: r.top_window_end,
            top_pre_report: r.top_pre_report,
            top_p_t: r.top_p,
            top_p_calibrated: r.top_p_calibrated,
            credited_to: r.credited_to,
            episode_size: r.episode_size.unwrap_or(1),
            credited_headline: r.credited_headline,
            same_move_others: r.same_move_others,
            category_caar: r.sort_caar,
            target_path: r.path.map(|p| {
                if r.path_is_ar {
                    p.iter()
                        .scan(0.0, |acc, v| {
                            *acc += v;
                            Some(*acc)
                        })
                        .collect()
                } else {
                    p
                }
            }),
            sources: r.sources,
            sort_key: r.sort_key,
        })
        .collect();
    Ok(ListResult {
        items,
        next_after,
        filter,
        run,
    })
}

async fn list(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<ListQuery>,
) -> Result<Html<String>, WebError> {
    let pool = &state.pool;
    let ListResult {
        items,
        next_after,
        filter,
        run,
    } = fetch_list(pool, &query).await?;
    let categories = sqlx::query!("SELECT slug, name FROM categories ORDER BY name")
        .fetch_all(pool)
        .await?;
    let categories_for_sort: Vec<Choice> = categories
        .iter()
        .map(|c| Choice {
            selected: filter.sort_category.as_deref() == Some(c.slug.as_str()),
            value: c.slug.clone(),
            label: c.name.clone(),
        })
        .collect();
    let proxy = run
        .as_ref()
        .map(|r| r.1.proxy.as_str())
        .unwrap_or("BTC")
        .to_string();
    let next_page = next_after.map(|after| {
        let qs = filter.query_string();
        let sep = if qs.is_empty() { "" } else { "&" };
        format!("/?{qs}{sep}after={after}")
    });
    let interval = run
        .as_ref()
        .map(|r| r.1.interval)
        .unwrap_or(crate::prices::BarInterval::Hour);
    let rows = items
        .into_iter()
        .map(|r| {
            let what = match r.top_kind.as_deref() {
                Some("market") => format!("market ({proxy})"),
                Some("target-token") => r.top_token.clone().unwrap_or_default(),
                Some(_) => r.top_category.clone().unwrap_or_default(),
                None => String::new(),
            };
            let evidence = match (r.top_window_start, r.top_window_end) {
                (Some(a), Some(b)) if !what.is_empty() => format!(
                    "{what}, {}",
                    window_words(
                        Window::new(a, b),
                        r.top_pre_report.unwrap_or(false),
                        interval
                    )
                ),
                _ => what,
            };
            ListRow {
                id: r.id,
                time: utc(r.event_time),
                ago: ago(r.event_time, chrono::Utc::now()),
                sources: r.sources,
                sparkline: r
                    .target_path
                    .as_deref()
                    .map(chart::sparkline)
                    .unwrap_or_default(),
                category_caar: r.category_caar.map(|v| pct(Some(v))),
                headline: r.headline,
                source: r.source.unwrap_or_default(),
                articles: r.articles,
                score: num(r.impact_score),
                significant: r.significant,
                q_value: p_value(r.q_value),
                model_dependent: r.model_dependent,
                evidence,
                top_move: pct(r.top_move),
                top_class: sign_class(r.top_move),
                market: pct(r.market_return),
                market_class: sign_class(r.market_return),
                not_ranked: r.not_ranked_reason,
                same_move_as: r.credited_to.zip(r.credited_headline),
                same_move_others: r.same_move_others,
            }
        })
        .collect();
    let params = run.map(|r| r.1);
    let csv_href = format!("/events.csv?{}", filter.query_string());
    let page = ListPage {
        title: "Events ranked by market impact".into(),
        rows,
        has_run: params.is_some(),
        window: params
            .as_ref()
            .map(|p| p.ranking_window.label(p.interval))
            .unwrap_or_default(),
        min_tokens: params.as_ref().map(|p| p.min_category_tokens).unwrap_or(0),
        model: params
            .as_ref()
            .map(|p| p.model.as_str().to_string())
            .unwrap_or_default(),
        proxy,
        categories: categories
            .into_iter()
            .map(|c| Choice {
                selected: filter.category.as_deref() == Some(c.slug.as_str()),
                value: c.slug,
                label: c.name,
            })
            .collect(),
        q: filter.q.clone().unwrap_or_default(),
        token: filter.token.clone().unwrap_or_default(),
        kind: filter.kind.clone().unwrap_or_default(),
        source: filter.source.clone().unwrap_or_default(),
        from: filter.from.map(|d| d.to_string()).unwrap_or_default(),
        to: filter.to.map(|d| d.to_string()).unwrap_or_default(),
        min_score: filter.min_score.map(|v| v.to_string()).unwrap_or_default(),
        significant: filter.significant,
        by_time: filter.by_time,
        filtered: filter != ListFilter::default(),
        next_page,
        csv_href,
        by_caar: filter.by_caar,
        sort_categories: categories_for_sort,
        window_param: filter
            .caar_window
            .map(|w| format!("{}:{}", w.start, w.end))
            .unwrap_or_default(),
        live: super::live_status::live_status(pool).await?,
    };
    Ok(Html(page.render()?))
}

pub struct ArticleView {
    pub title: String,
    pub url: Option<String>,
    pub source: String,
    pub published: String,
    pub summary: String,
    /// Why the article is in this event (stories), or empty when not recorded.
    pub story: String,
}

/// One article's tags and why each was made ("Why these tags").
pub struct ArticleTagsView {
    pub title: String,
    pub source: String,
    pub tags: Vec<WhyTagView>,
}

pub struct WhyTagView {
    pub label: String,
    pub matched: String,
    pub rule: String,
    pub ambiguous: bool,
    pub note: String,
    /// subject or mention.
    pub salience: String,
    pub salience_note: String,
}

/// In words: why an article is in its event.
fn story_reason(reason: Option<&str>, similarity: Option<f64>, matched: Option<&str>) -> String {
    match (reason, similarity, matched) {
        (Some("new"), _, _) => "first article of this story".to_string(),
        (Some("similar"), Some(s), Some(title)) => {
            format!("joined: similarity {s:.2} with “{title}”")
        }
        (Some("similar"), Some(s), None) => format!("joined: similarity {s:.2}"),
        (Some("split"), _, _) => "moved here by a split".to_string(),
        (Some("backfill"), _, _) => "stored before story grouping existed".to_string(),
        _ => String::new(),
    }
}

pub struct TagView {
    pub label: String,
    pub rule: String,
    pub matched: String,
    pub ambiguous: bool,
    /// A passing mention (never a target of the score).
    pub mention: bool,
}

/// A number with its CSS sign class.
pub struct Cell {
    pub text: String,
    pub class: &'static str,
}

fn pct_cell(v: Option<f64>) -> Cell {
    Cell {
        text: pct(v),
        class: sign_class(v),
    }
}

pub struct CategoryView {
    pub name: String,
    pub slug: String,
    pub tagged: bool,
    pub is_top: bool,
    pub n: i32,
    pub caar: Cell,
    pub caar_vw: String,
    pub portfolio_car: Cell,
    pub portfolio_t: String,
    pub portfolio_p: String,
    pub kp_t: String,
    pub kp_p: String,
    pub rbar: String,
    pub cs_t: String,
    pub cs_p: String,
    pub patell_z: String,
    pub bmp_t: String,
    pub rank_z: String,
    pub sign_z: String,
    pub positive: String,
    /// CAAR in every window, in the order of `EventPage::windows`.
    pub by_window: Vec<Cell>,
}

pub struct TokenView {
    pub symbol: String,
    pub name: String,
    pub alpha: String,
    pub beta: String,
    pub sigma: String,
    pub scar: String,
    pub token_return: String,
    pub by_window: Vec<Cell>,
}

pub struct MarketView {
    pub window: String,
    pub ret: Cell,
    pub z: String,
    pub p: String,
}

pub struct LinkView {
    pub id: i64,
    pub headline: String,
    pub time: String,
}

pub struct DroppedView {
    pub symbol: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "events/show.html")]
pub struct EventPage {
    pub title: String,
    pub headline: String,
    pub time: String,
    pub kind: String,
    pub articles: Vec<ArticleView>,
    pub why_tags: Vec<ArticleTagsView>,
    pub token_tags: Vec<TagView>,
    pub category_tags: Vec<TagView>,
    pub has_run: bool,
    pub verdict: Option<Verdict>,
    pub evidence: Vec<EvidenceRow>,
    pub alternative_proxy: String,
    pub market: Vec<MarketView>,
    pub ranking_window: String,
    pub windows: Vec<String>,
    pub categories: Vec<CategoryView>,
    pub tokens: Vec<TokenView>,
    pub dropped: Vec<DroppedView>,
    pub overlapping: Vec<LinkView>,
    pub estimation_confounders: Vec<LinkView>,
    pub min_tokens: usize,
    pub proxy: String,
    pub model: String,
    pub run_params: String,
    /// Server-rendered SVG (labels escaped by `chart`), or empty.
    pub caar_chart: String,
    pub price_chart: String,
    /// Until it is scored: what it awaits (templates/live_status_event.html).
    pub awaiting: Option<super::live_status::AwaitingStory>,
}

async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let id: i64 = id
        .parse()
        .map_err(|_| WebError::BadRequest(format!("{id:?} is not an event id")))?;
    let pool = &state.pool;
    let event = sqlx::query!(
        "SELECT id, event_time, headline, kind FROM events WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| WebError::NotFound(format!("There is no event {id}.")))?;
    let run = current_run(pool).await?;
    let run_id = run.as_ref().map(|r| r.0);
    let params = run.map(|r| r.1).unwrap_or_default();
    let interval = params.interval;
    let label = |w: Window| w.label(interval);

    let articles = sqlx::query!(
        r#"SELECT a.title, a.canonical_url, a.published_at, a.summary, s.name AS source,
                  st.reason AS "reason?", st.similarity, m.title AS "matched_title?"
           FROM articles a JOIN sources s ON s.id = a.source_id
           LEFT JOIN article_stories st ON st.article_id = a.id
           LEFT JOIN articles m ON m.id = st.matched_article_id
           WHERE a.event_id = $1 ORDER BY a.published_at, a.id"#,
        id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|a| ArticleView {
        story: story_reason(
            a.reason.as_deref(),
            a.similarity,
            a.matched_title.as_deref(),
        ),
        title: a.title,
        url: a.canonical_url,
        source: a.source,
        published: utc(a.published_at),
        summary: a.summary.unwrap_or_default(),
    })
    .collect();

    // Why these tags: every tag of every article, with the text and rule behind it.
    let mut why_tags: Vec<ArticleTagsView> = Vec::new();
    let mut index: BTreeMap<i64, usize> = BTreeMap::new();
    for r in sqlx::query!(
        r#"SELECT a.id, a.title, s.name AS source FROM articles a
           JOIN sources s ON s.id = a.source_id
           WHERE a.event_id = $1 ORDER BY a.published_at, a.id"#,
        id
    )
    .fetch_all(pool)
    .await?
    {
        index.insert(r.id, why_tags.len());
        why_tags.push(ArticleTagsView {
            title: r.title,
            source: r.source,
            tags: Vec::new(),
        });
    }
    let tag_rows = sqlx::query!(
        r#"SELECT g.article_id AS "article_id!", t.symbol || ' (' || t.name || ')' AS "label!",
                  g.matched_text AS "matched_text!", g.rule AS "rule!", g.ambiguous AS "ambiguous!",
                  g.note AS "note?", COALESCE(g.salience, 'subject') AS "salience!",
                  g.salience_note AS "salience_note?"
           FROM article_token_tags g JOIN tokens t ON t.id = g.token_id
           JOIN articles a ON a.id = g.article_id
           WHERE a.event_id = $1
           UNION ALL
           SELECT g.article_id, c.name, g.matched_text, g.rule, false, NULL,
                  COALESCE(g.salience, 'subject'), g.salience_note
           FROM article_category_tags g JOIN categories c ON c.id = g.category_id
           JOIN articles a ON a.id = g.article_id
           WHERE a.event_id = $1
           ORDER BY 1, 5, 7 DESC, 2, 3"#,
        id
    )
    .fetch_all(pool)
    .await?;
    for r in tag_rows {
        let Some(&i) = index.get(&r.article_id) else {
            continue;
        };
        why_tags[i].tags.push(WhyTagView {
            label: r.label,
            matched: r.matched_text,
            rule: r.rule,
            ambiguous: r.ambiguous,
            note: r.note.unwrap_or_default(),
            salience: r.salience,
            salience_note: r.salience_note.unwrap_or_default(),
        });
    }

    let token_tags = sqlx::query!(
        r#"SELECT DISTINCT t.symbol, t.name, g.rule AS "rule!", g.matched_text AS "matched_text!",
                  g.ambiguous AS "ambiguous!", g.salience = 'mention' AS "mention!"
           FROM event_token_tags g JOIN tokens t ON t.id = g.token_id
           WHERE g.event_id = $1 ORDER BY 5, 6, 1, 3, 4"#,
        id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| TagView {
        label: format!("{} ({})", r.symbol, r.name),
        rule: r.rule,
        matched: r.matched_text,
        ambiguous: r.ambiguous,
        mention: r.mention,
    })
    .collect();

    let category_tags: Vec<TagView> = sqlx::query!(
        r#"SELECT DISTINCT c.name, g.rule AS "rule!", g.matched_text AS "matched_text!",
                  g.salience = 'mention' AS "mention!"
           FROM event_category_tags g JOIN categories c ON c.id = g.category_id
           WHERE g.event_id = $1 ORDER BY 4, 1, 2, 3"#,
        id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| TagView {
        label: r.name,
        rule: r.rule,
        matched: r.matched_text,
        ambiguous: false,
        mention: r.mention,
    })
    .collect();
    // The categories the story is about (subjects).
    let tagged: Vec<String> = category_tags
        .iter()
        .filter(|t| !t.mention)
        .map(|t| t.label.clone())
        .collect();

    let score = sqlx::query!(
        r#"SELECT sc.impact_score, sc.not_ranked_reason, sc.p_value, sc.q_value, sc.p_primary,
                  sc.p_alternative, sc.alternative_proxy, sc.model_dependent, sc.calibrated,
                  sc.k_eff, sc.null_hours, sc.stronger_than, sc.top_component, sc.components,
                  sc.publication_bar_abnormal, sc.publication_bar_return, sc.credited_to,
                  (SELECT x.headline FROM events x WHERE x.id = sc.credited_to) AS "credited_headline?",
                  c.name AS "top_category?", sc.overlapping_events, sc.estimation_confounders
           FROM study_event_scores sc
           LEFT JOIN categories c ON c.id = sc.top_category_id
           WHERE sc.run_id = $1 AND sc.event_id = $2"#,
        run_id,
        id
    )
    .fetch_optional(pool)
    .await?;
    let same_move: Vec<(i64, String)> = sqlx::query!(
        r#"SELECT e.id, e.headline FROM study_event_scores sc JOIN events e ON e.id = sc.event_id
           WHERE sc.run_id = $1 AND sc.credited_to = $2 ORDER BY e.event_time, e.id"#,
        run_id,
        id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.id, r.headline))
    .collect();

    let names: BTreeMap<i32, String> = sqlx::query!("SELECT id, name FROM categories")
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let symbols: BTreeMap<i32, String> = sqlx::query!("SELECT id, symbol FROM tokens")
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.id, r.symbol))
        .collect();
    let proxy = params.proxy.as_str().to_string();
    let facts = score.as_ref().map(|s| ScoreFacts {
        not_ranked_reason: s.not_ranked_reason.clone(),
        impact: s.impact_score,
        p_value: s.p_value,
        q_value: s.q_value,
        p_primary: s.p_primary,
        p_alternative: s.p_alternative,
        alternative_proxy: s.alternative_proxy.clone(),
        model_dependent: s.model_dependent,
        calibrated: s.calibrated,
        k_eff: s.k_eff,
        null_hours: s.null_hours,
        stronger_than: s.stronger_than,
        top_component: s.top_component,
        // Runs from before migration 0011 stored another shape: no components then.
        components: serde_json::from_value::<Vec<Component>>(s.components.clone())
            .unwrap_or_default(),
        publication_bar: s.publication_bar_abnormal.zip(s.publication_bar_return),
        credited_to: s.credited_to.zip(s.credited_headline.clone()),
        same_move: same_move.clone(),
    });
    let category_name = |id: i32| names.get(&id).cloned().unwrap_or_default();
    let token_symbol = |id: i32| symbols.get(&id).cloned().unwrap_or_default();
    let series_names = Names {
        category: &category_name,
        token: &token_symbol,
        proxy: &proxy,
    };
    let verdict = facts
        .as_ref()
        .map(|f| evidence::verdict(f, &series_names, interval));
    let evidence_rows = facts
        .as_ref()
        .map(|f| evidence::rows(f, &series_names, interval))
        .unwrap_or_default();
    let alternative_proxy = score
        .as_ref()
        .and_then(|s| s.alternative_proxy.clone())
        .unwrap_or_default();

    let windows: Vec<Window> = params.windows.clone();
    let rw = params.ranking_window;
    let top_category = score.as_ref().and_then(|s| s.top_category.clone());

    let cat_rows = sqlx::query!(
        r#"SELECT c.name, c.slug, r.window_start, r.window_end, r.n_tokens, r.caar, r.caar_value_weighted,
                  r.t_stat, r.p_value, r.patell_z, r.bmp_t, r.kp_t, r.kp_p,
                  r.mean_cross_correlation, r.portfolio_car, r.portfolio_t, r.portfolio_p,
                  r.rank_z, r.sign_z, r.n_positive
           FROM study_category_results r JOIN categories c ON c.id = r.category_id
           WHERE r.run_id = $1 AND r.event_id = $2
           ORDER BY c.name"#,
        run_id,
        id
    )
    .fetch_all(pool)
    .await?;
    let mut categories: Vec<CategoryView> = Vec::new();
    let mut caar_by: BTreeMap<(String, Window), f64> = BTreeMap::new();
    for r in &cat_rows {
        caar_by.insert(
            (r.name.clone(), Window::new(r.window_start, r.window_end)),
            r.caar,
        );
    }
    for r in cat_rows
        .iter()
        .filter(|r| Window::new(r.window_start, r.window_end) == rw)
    {
        categories.push(CategoryView {
            tagged: tagged.contains(&r.name),
            is_top: top_category.as_deref() == Some(r.name.as_str()),
            name: r.name.clone(),
            slug: r.slug.clone(),
            n: r.n_tokens,
            caar: pct_cell(Some(r.caar)),
            caar_vw: pct(r.caar_value_weighted),
            portfolio_car: pct_cell(r.portfolio_car),
            portfolio_t: num(r.portfolio_t),
            portfolio_p: p_value(r.portfolio_p),
            kp_t: num(r.kp_t),
            kp_p: p_value(r.kp_p),
            rbar: num(r.mean_cross_correlation),
            cs_t: num(r.t_stat),
            cs_p: p_value(r.p_value),
            patell_z: num(r.patell_z),
            bmp_t: num(r.bmp_t),
            rank_z: num(r.rank_z),
            sign_z: num(r.sign_z),
            positive: format!("{}/{}", r.n_positive, r.n_tokens),
            by_window: windows
                .iter()
                .map(|w| pct_cell(caar_by.get(&(r.name.clone(), *w)).copied()))
                .collect(),
        });
    }
    // Tagged categories first, then by the robust statistic's strength.
    categories.sort_by(|a, b| {
        b.tagged
            .cmp(&a.tagged)
            .then(b.n.cmp(&a.n).then(a.name.cmp(&b.name)))
    });

    let token_rows = sqlx::query!(
        r#"SELECT t.symbol, t.name, r.window_start, r.window_end, r.car, r.scar, r.token_return,
                  s.alpha, s.beta, s.sigma
           FROM study_token_results r
           JOIN tokens t ON t.id = r.token_id
           JOIN study_token_estimates s
             ON s.run_id = r.run_id AND s.event_id = r.event_id AND s.token_id = r.token_id
           WHERE r.run_id = $1 AND r.event_id = $2"#,
        run_id,
        id
    )
    .fetch_all(pool)
    .await?;
    let mut tokens: Vec<TokenView> = Vec::new();
    let mut rw_car: BTreeMap<String, f64> = BTreeMap::new();
    let car_by: BTreeMap<(String, Window), f64> = token_rows
        .iter()
        .map(|r| {
            (
                (r.symbol.clone(), Window::new(r.window_start, r.window_end)),
                r.car,
            )
        })
        .collect();
    for r in token_rows
        .iter()
        .filter(|r| Window::new(r.window_start, r.window_end) == rw)
    {
        rw_car.insert(r.symbol.clone(), r.car);
        tokens.push(TokenView {
            symbol: r.symbol.clone(),
            name: r.name.clone(),
            alpha: format!("{:.5}", r.alpha),
            beta: format!("{:.2}", r.beta),
            sigma: pct(Some(r.sigma)).trim_start_matches('+').to_string(),
            scar: num(r.scar),
            token_return: pct(Some(r.token_return)),
            by_window: windows
                .iter()
                .map(|w| pct_cell(car_by.get(&(r.symbol.clone(), *w)).copied()))
                .collect(),
        });
    }
    tokens.sort_by(|a, b| {
        rw_car
            .get(&a.symbol)
            .unwrap_or(&0.0)
            .total_cmp(rw_car.get(&b.symbol).unwrap_or(&0.0))
    });

    let market = sqlx::query!(
        r#"SELECT window_start, window_end, market_return, z, p_value FROM study_market_moves
           WHERE run_id = $1 AND event_id = $2 ORDER BY window_start, window_end"#,
        run_id,
        id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|m| MarketView {
        window: label(Window::new(m.window_start, m.window_end)),
        ret: pct_cell(Some(m.market_return)),
        z: num(Some(m.z)),
        p: p_value(Some(m.p_value)),
    })
    .collect();

    let dropped = sqlx::query!(
        r#"SELECT t.symbol, d.reason FROM study_dropped_tokens d JOIN tokens t ON t.id = d.token_id
           WHERE d.run_id = $1 AND d.event_id = $2 ORDER BY t.symbol"#,
        run_id,
        id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| DroppedView {
        symbol: r.symbol,
        reason: r.reason,
    })
    .collect();

    let links = |ids: &[i64]| {
        let ids = ids.to_vec();
        async move {
            Ok::<_, sqlx::Error>(
                sqlx::query!(
                    "SELECT id, headline, event_time FROM events WHERE id = ANY($1) ORDER BY event_time",
                    &ids
                )
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|r| LinkView {
                    id: r.id,
                    headline: r.headline,
                    time: utc(r.event_time),
                })
                .collect::<Vec<_>>(),
            )
        }
    };
    let overlapping = links(
        score
            .as_ref()
            .map(|s| s.overlapping_events.as_slice())
            .unwrap_or(&[]),
    )
    .await?;
    let estimation_confounders = links(
        score
            .as_ref()
            .map(|s| s.estimation_confounders.as_slice())
            .unwrap_or(&[]),
    )
    .await?;

    let span = params.event_span();
    let unit = if interval == crate::prices::BarInterval::Hour {
        "hours"
    } else {
        "days"
    };
    let caar_chart = {
        let rows = sqlx::query!(
            r#"SELECT c.name, r.caar_path, r.portfolio_sigma
               FROM study_category_results r JOIN categories c ON c.id = r.category_id
               WHERE r.run_id = $1 AND r.event_id = $2 AND r.window_start = $3 AND r.window_end = $4
                 AND r.caar_path IS NOT NULL AND r.n_tokens >= $5
               ORDER BY c.name"#,
            run_id,
            id,
            rw.start,
            rw.end,
            params.min_category_tokens as i32
        )
        .fetch_all(pool)
        .await?;
        let shown: Vec<_> = rows
            .iter()
            .filter(|r| {
                tagged.contains(&r.name) || top_category.as_deref() == Some(r.name.as_str())
            })
            .take(6)
            .collect();
        let x = |j: usize| f64::from(span.start) + j as f64 + 1.0;
        let lines: Vec<chart::Line> = shown
            .iter()
            .map(|r| chart::Line {
                label: r.name.clone(),
                colour: None,
                points: std::iter::once((f64::from(span.start), 0.0))
                    .chain(
                        r.caar_path
                            .iter()
                            .flatten()
                            .enumerate()
                            .map(|(j, v)| (x(j), v * 100.0)),
                    )
                    .collect(),
            })
            .collect();
        // The widest no-event band among the shown categories: 1.96·σ·√bars.
        let sigma = shown
            .iter()
            .filter_map(|r| r.portfolio_sigma)
            .fold(0.0f64, f64::max);
        let band = (0..=span.len() as usize)
            .map(|j| {
                (
                    f64::from(span.start) + j as f64,
                    196.0 * sigma * (j as f64).sqrt(),
                )
            })
            .collect();
        if lines.is_empty() {
            String::new()
        } else {
            chart::Chart {
                title: "Cumulative average abnormal return by category".into(),
                x_label: format!("{unit} from the news (bar 0)"),
                y_label: "CAAR (%)".into(),
                lines,
                band,
                event_x: Some(0.0),
            }
            .render()
        }
    };
    let price_chart = {
        let step = chrono::Duration::seconds(interval.seconds());
        let bar0 = crate::study::engine::bar_zero(event.event_time, interval);
        let t_bar0 =
            chrono::DateTime::from_timestamp(bar0 * interval.seconds(), 0).unwrap_or_default();
        let from = t_bar0 + step * (span.start - 1);
        let to = t_bar0 + step * (span.end - 1);
        let rows = sqlx::query!(
            r#"SELECT t.symbol, b.open_time, b.close FROM price_bars b JOIN tokens t ON t.id = b.token_id
               WHERE b.interval = $1 AND b.open_time BETWEEN $2 AND $3
                 AND (t.symbol = $4 OR t.id IN (SELECT token_id FROM event_token_tags
                                                 WHERE event_id = $5 AND NOT ambiguous))
               ORDER BY t.symbol, b.open_time"#,
            interval.as_str(),
            from,
            to,
            if proxy == "ETH" { "ETH" } else { "BTC" },
            id
        )
        .fetch_all(pool)
        .await?;
        let mut by_symbol: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for r in rows {
            let x = (r.open_time - t_bar0).num_seconds() as f64 / interval.seconds() as f64 + 1.0;
            by_symbol.entry(r.symbol).or_default().push((x, r.close));
        }
        // Each token as % change from its first close in the window.
        let mut lines: Vec<chart::Line> = by_symbol
            .into_iter()
            .enumerate()
            .filter_map(|(i, (label, pts))| {
                let base = pts.first()?.1;
                Some(chart::Line {
                    // Tokens by position: a handful per chart, all distinct.
                    colour: Some(chart::PALETTE[i % chart::PALETTE.len()]),
                    label,
                    points: pts
                        .iter()
                        .map(|(x, c)| (*x, (c / base - 1.0) * 100.0))
                        .collect(),
                })
            })
            .collect();
        lines.truncate(7);
        if lines.is_empty() {
            String::new()
        } else {
            chart::Chart {
                title: "Prices, normalised to the start of the window".into(),
                x_label: format!("{unit} from the news (bar 0)"),
                y_label: "change (%)".into(),
                lines,
                band: Vec::new(),
                event_x: Some(0.0),
            }
            .render()
        }
    };

    let page = EventPage {
        awaiting: super::live_status::awaiting_story(pool, id).await?,
        title: event.headline.clone(),
        headline: event.headline,
        time: utc(event.event_time),
        kind: event.kind.unwrap_or_default(),
        articles,
        why_tags,
        token_tags,
        category_tags,
        has_run: run_id.is_some(),
        verdict,
        evidence: evidence_rows,
        alternative_proxy,
        market,
        ranking_window: label(rw),
        windows: windows.iter().map(|w| label(*w)).collect(),
        categories,
        tokens,
        dropped,
        overlapping,
        estimation_confounders,
        min_tokens: params.min_category_tokens,
        model: params.model.as_str().to_string(),
        proxy,
        run_params: serde_json::to_string_pretty(&params).unwrap_or_default(),
        caar_chart,
        price_chart,
    };
    Ok(Html(page.render()?))
}

#[cfg(test)]
mod tests {
    use super::ago;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn ago_reads_naturally_both_ways() {
        let now = Utc.with_ymd_and_hms(2025, 1, 27, 12, 0, 0).unwrap();
        assert_eq!(ago(now - Duration::seconds(20), now), "just now");
        assert_eq!(ago(now + Duration::seconds(20), now), "in under a minute");
        assert_eq!(ago(now - Duration::minutes(1), now), "1 minute ago");
        assert_eq!(ago(now + Duration::minutes(14), now), "in 14 minutes");
        assert_eq!(ago(now - Duration::hours(5), now), "5 hours ago");
        assert_eq!(ago(now - Duration::days(3), now), "3 days ago");
        assert_eq!(ago(now - Duration::days(400), now), "13 months ago");
        assert_eq!(ago(now - Duration::days(800), now), "2 years ago");
    }
}
