//! The event list's query: its parameters (shared by `/`, the API, the CSV export and the
//! Atom feed), their parsing, and the list's SQL (one page, its neighbours, its counts and
//! its timeline).

use sqlx::PgPool;

use super::error::WebError;
use super::run::current_run;
use crate::study::engine::Window;
use crate::study::StudyParams;

/// The list's query string, as typed: parsed in [`ListFilter::parse`] so that a bad value
/// gets a clear 400 page, never a 500.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Full-text search over headlines (web-search syntax: words, "phrases", -not); a
    /// token's symbol, name or alias also finds the stories tagged with it.
    #[param(example = "ethereum")]
    pub q: Option<String>,
    /// Only events tagged with this category (slug, see `/api/v1/categories`).
    #[param(example = "ai")]
    pub category: Option<String>,
    /// Only events naming this token: its symbol, name or an alias (RNDR finds RENDER).
    #[param(example = "FET")]
    pub token: Option<String>,
    /// First day, YYYY-MM-DD (UTC).
    #[param(value_type = Option<chrono::NaiveDate>, example = "2025-01-01")]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (UTC), inclusive.
    #[param(value_type = Option<chrono::NaiveDate>, example = "2025-01-31")]
    pub to: Option<String>,
    /// Minimum impact score (|z|; 1.96 is p 0.05).
    #[param(value_type = Option<f64>, minimum = 0, example = 1.96)]
    pub min_score: Option<String>,
    /// 1 (or true): only significant events, p below 0.05 (score 1.96 or more).
    #[param(value_type = Option<bool>, example = true)]
    pub significant: Option<String>,
    /// impact (default), time (newest first), or caar (needs sort_category).
    #[param(value_type = Option<SortOrder>)]
    pub sort: Option<String>,
    /// The cursor of a page, as returned in `next` or `prev`.
    #[param(example = "2.46_12")]
    pub after: Option<String>,
    /// Events per page, 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, example = 50)]
    pub per_page: Option<String>,
    /// With `sort=caar`: the category to sort by (slug; it need not be tagged).
    #[param(example = "ai")]
    pub sort_category: Option<String>,
    /// Only events of this kind (ai, etf, macro, hack, ...).
    #[param(example = "macro")]
    pub kind: Option<String>,
    /// Only events with an article from this source (its name).
    pub source: Option<String>,
    /// With `sort=caar`: the window, START:END in bars from bar 0 (default -24:24).
    #[param(example = "0:24")]
    pub window: Option<String>,
}

/// The list's orders.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum SortOrder {
    /// By impact score, ranked stories first (the default).
    Impact,
    /// Newest first.
    Time,
    /// By the absolute CAAR of `sort_category` in `window`.
    Caar,
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
        if caar_window.is_some() && sort != "caar" {
            return Err(
                "window: only sorting by a category's |CAAR| (sort=caar) takes a window".into(),
            );
        }
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

/// One event of the list, for the page, the API and the CSV export. Every number has one
/// name here and the same name in the CSV columns and the `event_impact` view.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ListItem {
    pub id: i64,
    pub event_time: chrono::DateTime<chrono::Utc>,
    /// How exactly event_time is known: exact, hour, or day (the time is a placeholder).
    pub time_precision: String,
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
    /// The minimum detectable abnormal move of the top component (80% power).
    pub top_mde: Option<f64>,
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

/// Check a parsed filter against the taxonomy: categories must exist, and a token may be
/// named by its symbol, its name or an alias (RNDR, render and RENDER are one token);
/// the filter comes back with the token's symbol.
pub async fn resolve(pool: &PgPool, mut filter: ListFilter) -> Result<ListFilter, WebError> {
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
            return Err(WebError::BadRequest(format!(
                "category: there is no category {c:?}."
            )));
        }
    }
    if let Some(t) = &filter.token {
        let symbol = token_symbol(pool, t).await?.ok_or_else(|| {
            WebError::BadRequest(format!(
                "token: there is no token {t:?} (symbol, name or alias)."
            ))
        })?;
        filter.token = Some(symbol);
    }
    Ok(filter)
}

/// The symbol of the token named `name`: its symbol, its name or an alias, any case.
pub async fn token_symbol(pool: &PgPool, name: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT t.symbol FROM tokens t
           WHERE upper(t.symbol) = upper($1) OR lower(t.name) = lower($1)
              OR EXISTS (SELECT 1 FROM token_aliases a
                         WHERE a.token_id = t.id AND lower(a.alias) = lower($1))
           ORDER BY (upper(t.symbol) = upper($1)) DESC, t.symbol
           LIMIT 1"#,
        name.trim()
    )
    .fetch_optional(pool)
    .await
}

/// Parse the query, check it against the taxonomy and fetch one page. `pool` plans the
/// filtered selection with its values, `keyed` looks up the page's rows by id (see
/// `AppState`).
pub async fn fetch_list(
    pool: &PgPool,
    keyed: &PgPool,
    query: &ListQuery,
) -> Result<ListResult, WebError> {
    let filter = ListFilter::parse(query).map_err(WebError::BadRequest)?;
    let filter = resolve(keyed, filter).await?;
    fetch_page(pool, keyed, filter).await
}

/// One page of a resolved filter.
pub async fn fetch_page(
    pool: &PgPool,
    keyed: &PgPool,
    filter: ListFilter,
) -> Result<ListResult, WebError> {
    let run = current_run(keyed).await?;
    fetch_page_in_run(pool, keyed, filter, run.as_ref()).await
}

/// [`fetch_page`] for a run the caller has read (the list page reads it once for all its
/// queries).
pub async fn fetch_page_in_run(
    pool: &PgPool,
    keyed: &PgPool,
    filter: ListFilter,
    run: Option<&(i64, StudyParams)>,
) -> Result<ListResult, WebError> {
    let b = Bound::of(&filter, run);
    let (run_id, min_score, max_p, page_size, mode) =
        (b.run_id, b.min_score, b.max_p, b.page_size, b.mode);
    // One static query: every filter is a parameter that is NULL when unused. User input
    // never becomes SQL text; the search goes through websearch_to_tsquery, safe with any
    // input. The page is cut (keyset, LIMIT) before its rows' details are looked up.
    let page = sqlx::query!(
        r#"SELECT p.id AS "id!", p.sort_key AS "sort_key!", p.sort_caar FROM (
             -- Each branch walks its own index in sort order and stops after one page; the
             -- filters are matching_events, which PostgreSQL inlines (migration 0018): a
             -- set filter is looked up once through its index, then probed per row.
             (SELECT sc.event_id AS id, sc.rank_key AS sort_key, NULL::float8 AS sort_caar
              FROM study_event_scores sc
              JOIN matching_events($2, $3, $4, $5, $6, $14, $15) e ON e.id = sc.event_id
              WHERE $9::text = 'impact' AND sc.run_id = $1
                AND ($7::float8 IS NULL OR sc.impact_score >= $7)
                AND ($16::float8 IS NULL OR sc.p_value < $16)
                AND ($8::float8 IS NULL OR (sc.rank_key, sc.event_id) < ($8, $10))
              ORDER BY sc.rank_key DESC, sc.event_id DESC
              LIMIT $11)
             UNION ALL
             (SELECT e.id, extract(epoch FROM e.event_time)::float8, NULL::float8
              FROM matching_events($2, $3, $4, $5, $6, $14, $15) e
              WHERE $9::text = 'time'
                AND (($7::float8 IS NULL AND $16::float8 IS NULL) OR EXISTS (
                      SELECT 1 FROM study_event_scores sc
                      WHERE sc.run_id = $1 AND sc.event_id = e.id
                        AND ($7::float8 IS NULL OR sc.impact_score >= $7)
                        AND ($16::float8 IS NULL OR sc.p_value < $16)))
                -- The cursor's time is read back from its event: exact, unlike a float.
                AND ($8::float8 IS NULL OR (e.event_time, e.id) <
                     ((SELECT x.event_time FROM events x WHERE x.id = $10), $10))
              ORDER BY e.event_time DESC, e.id DESC
              LIMIT $11)
             UNION ALL
             -- window_values[$12][2] is the CAAR in the window at position $12: planned
             -- with the parameter's value, it matches that position's index (0020).
             (SELECT co.event_id, abs(co.window_values[$12][2]), co.window_values[$12][2]
              FROM study_category_outcomes co
              JOIN matching_events($2, $3, $4, $5, $6, $14, $15) e ON e.id = co.event_id
              WHERE $9::text = 'caar' AND co.run_id = $1
                AND co.category_id = (SELECT id FROM categories WHERE slug = $13)
                AND abs(co.window_values[$12][2]) IS NOT NULL
                AND (($7::float8 IS NULL AND $16::float8 IS NULL) OR EXISTS (
                      SELECT 1 FROM study_event_scores sc
                      WHERE sc.run_id = $1 AND sc.event_id = co.event_id
                        AND ($7::float8 IS NULL OR sc.impact_score >= $7)
                        AND ($16::float8 IS NULL OR sc.p_value < $16)))
                AND ($8::float8 IS NULL OR (abs(co.window_values[$12][2]), co.event_id) < ($8, $10))
              ORDER BY abs(co.window_values[$12][2]) DESC NULLS LAST, co.event_id DESC
              LIMIT $11)
           ) p
           ORDER BY p.sort_key DESC, p.id DESC"#,
        run_id,
        filter.q,
        filter.category,
        filter.token,
        b.from,
        b.to,
        min_score,
        filter.after.map(|a| a.0),
        mode,
        filter.after.map(|a| a.1).unwrap_or(0),
        page_size + 1,
        b.caar_ord,
        filter.sort_category,
        filter.kind,
        filter.source,
        max_p
    )
    .fetch_all(pool)
    .await?;
    // The page's rows by id, on the keyed pool: this statement's shape never changes, so
    // its plan is cached rather than made again for every page.
    let ids: Vec<i64> = page.iter().map(|p| p.id).collect();
    let keys: Vec<f64> = page.iter().map(|p| p.sort_key).collect();
    let caars: Vec<Option<f64>> = page.iter().map(|p| p.sort_caar).collect();
    let rows = sqlx::query!(
        r#"SELECT p.id AS "id!", e.event_time, e.headline, p.sort_key AS "sort_key!",
                  e.time_precision, sc.top_mde AS "top_mde?",
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
                    (SELECT r.caar_path::float8[] FROM study_category_outcomes r
                     WHERE r.run_id = $1 AND r.event_id = p.id AND r.category_id = sc.top_category_id),
                    (SELECT te.ar_path::float8[] FROM study_token_outcomes te
                     WHERE te.run_id = $1 AND te.event_id = p.id AND te.token_id = sc.top_token_id)
                  ) AS "path?",
                  (sc.top_token_id IS NOT NULL) AS "path_is_ar!"
           FROM unnest($2::int8[], $3::float8[], $4::float8[])
                  WITH ORDINALITY AS p(id, sort_key, sort_caar, ord)
           JOIN events e ON e.id = p.id
           LEFT JOIN study_event_scores sc ON sc.run_id = $1 AND sc.event_id = p.id
           LEFT JOIN categories c ON c.id = sc.top_category_id
           LEFT JOIN tokens t ON t.id = sc.top_token_id
           ORDER BY p.ord"#,
        run_id,
        &ids,
        &keys,
        &caars as &[Option<f64>]
    )
    .fetch_all(keyed)
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
            time_precision: r.time_precision,
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
            top_mde: r.top_mde,
            sort_key: r.sort_key,
        })
        .collect();
    Ok(ListResult {
        items,
        next_after,
        filter,
        run: run.cloned(),
    })
}

/// A filter's values as the list's queries bind them.
struct Bound {
    run_id: Option<i64>,
    min_score: Option<f64>,
    /// "Significant" is the corrected calibrated p below 5% (the score's own definition).
    max_p: Option<f64>,
    page_size: i64,
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Exclusive: the day after `to`.
    to: Option<chrono::DateTime<chrono::Utc>>,
    mode: &'static str,
    /// The position of the CAAR sort's window in the run's windows (1-based: the first
    /// subscript of study_category_outcomes.window_values); 0, which matches nothing, when
    /// the run has no such window.
    caar_ord: i32,
    /// Its bit in study_category_outcomes.window_mask (0 when there is none).
    caar_bit: i32,
}

impl Bound {
    fn of(filter: &ListFilter, run: Option<&(i64, StudyParams)>) -> Bound {
        let day_start = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        let rw = run
            .map(|r| r.1.ranking_window)
            .unwrap_or(crate::study::engine::RANKING_WINDOW);
        let run_id = run.map(|r| r.0);
        let caar_window = filter.caar_window.unwrap_or(rw);
        let caar_ord = run.and_then(|r| r.1.windows.iter().position(|w| *w == caar_window));
        Bound {
            run_id,
            min_score: filter.min_score,
            max_p: filter.significant.then_some(SIGNIFICANT_P),
            page_size: filter.per_page.unwrap_or(PAGE_SIZE),
            from: filter.from.and_then(day_start),
            to: filter
                .to
                .map(|d| d + chrono::Days::new(1))
                .and_then(day_start),
            // Before any study there is no score to rank by: newest first.
            mode: match (filter.by_time || run_id.is_none(), filter.by_caar) {
                (true, _) => "time",
                (_, true) => "caar",
                _ => "impact",
            },
            caar_ord: caar_ord.map_or(0, |k| k as i32 + 1),
            caar_bit: caar_ord.filter(|k| *k < 31).map_or(0, |k| 1 << k),
        }
    }
}

/// Where the previous page starts.
#[derive(Debug, Clone, PartialEq)]
pub enum PrevPage {
    /// This is the first page.
    None,
    /// The previous page is the first page (no cursor).
    First,
    /// The previous page's cursor.
    After(String),
}

/// The page before the one that starts at `first` (its first row's sort key and id):
/// the rows above it in the list's order, walked backwards on the same indexes.
pub async fn prev_page(
    pool: &PgPool,
    filter: &ListFilter,
    run: Option<&(i64, StudyParams)>,
    first: (f64, i64),
) -> Result<PrevPage, WebError> {
    let b = Bound::of(filter, run);
    let above = sqlx::query!(
        r#"(SELECT sc.rank_key AS "k!", sc.event_id AS "id!"
            FROM study_event_scores sc
            JOIN matching_events($2, $3, $4, $5, $6, $14, $15) e ON e.id = sc.event_id
            WHERE $9::text = 'impact' AND sc.run_id = $1
              AND ($7::float8 IS NULL OR sc.impact_score >= $7)
              AND ($16::float8 IS NULL OR sc.p_value < $16)
              AND (sc.rank_key, sc.event_id) > ($8, $10)
            ORDER BY sc.rank_key, sc.event_id
            LIMIT $11)
           UNION ALL
           (SELECT extract(epoch FROM e.event_time)::float8, e.id
            FROM matching_events($2, $3, $4, $5, $6, $14, $15) e
            WHERE $9::text = 'time'
              AND (($7::float8 IS NULL AND $16::float8 IS NULL) OR EXISTS (
                    SELECT 1 FROM study_event_scores sc
                    WHERE sc.run_id = $1 AND sc.event_id = e.id
                      AND ($7::float8 IS NULL OR sc.impact_score >= $7)
                      AND ($16::float8 IS NULL OR sc.p_value < $16)))
              AND (e.event_time, e.id) > ((SELECT x.event_time FROM events x WHERE x.id = $10), $10)
            ORDER BY e.event_time, e.id
            LIMIT $11)
           UNION ALL
           (SELECT abs(co.window_values[$12][2]), co.event_id
            FROM study_category_outcomes co
            JOIN matching_events($2, $3, $4, $5, $6, $14, $15) e ON e.id = co.event_id
            WHERE $9::text = 'caar' AND co.run_id = $1
              AND co.category_id = (SELECT id FROM categories WHERE slug = $13)
              AND abs(co.window_values[$12][2]) IS NOT NULL
              AND (($7::float8 IS NULL AND $16::float8 IS NULL) OR EXISTS (
                    SELECT 1 FROM study_event_scores sc
                    WHERE sc.run_id = $1 AND sc.event_id = co.event_id
                      AND ($7::float8 IS NULL OR sc.impact_score >= $7)
                      AND ($16::float8 IS NULL OR sc.p_value < $16)))
              AND (abs(co.window_values[$12][2]), co.event_id) > ($8, $10)
            ORDER BY abs(co.window_values[$12][2]) NULLS FIRST, co.event_id
            LIMIT $11)"#,
        b.run_id,
        filter.q,
        filter.category,
        filter.token,
        b.from,
        b.to,
        b.min_score,
        first.0,
        b.mode,
        first.1,
        b.page_size + 1,
        b.caar_ord,
        filter.sort_category,
        filter.kind,
        filter.source,
        b.max_p
    )
    .fetch_all(pool)
    .await?;
    Ok(match above.len() {
        0 => PrevPage::None,
        n if n as i64 <= b.page_size => PrevPage::First,
        _ => {
            let r = &above[b.page_size as usize];
            PrevPage::After(format!("{}_{}", r.k, r.id))
        }
    })
}

/// How many events the filter matches, and how many of them are significant.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ListCounts {
    /// Events matching the filters (every page).
    pub events: i64,
    /// Of those, significant (p below 0.05).
    pub significant: i64,
}

/// One ranked story on the timeline strip.
pub struct TimelinePoint {
    pub id: i64,
    pub event_time: chrono::DateTime<chrono::Utc>,
    pub headline: String,
    pub impact_score: f64,
    pub top_move: Option<f64>,
    pub significant: bool,
}

/// The timeline shows at most this many stories (the highest ranked).
pub const TIMELINE_LIMIT: i64 = 2000;

/// The counts over every page of the filter, and its ranked stories for the timeline.
pub async fn overview(
    pool: &PgPool,
    filter: &ListFilter,
    run: Option<&(i64, StudyParams)>,
) -> Result<(ListCounts, Vec<TimelinePoint>), WebError> {
    let b = Bound::of(filter, run);
    let no_filter = [
        &filter.q,
        &filter.category,
        &filter.token,
        &filter.kind,
        &filter.source,
    ]
    .iter()
    .all(|v| blank(v).is_none())
        && b.from.is_none()
        && b.to.is_none()
        && b.min_score.is_none()
        && b.max_p.is_none();
    // The counts over every matching story. Unfiltered (the front page), two index-only
    // counts: the stories, and the run's significant scores (every score's story exists).
    let counts = if no_filter && b.mode != "caar" {
        sqlx::query_as!(
            ListCounts,
            r#"SELECT (SELECT count(*) FROM events) AS "events!",
                      (SELECT count(*) FROM study_event_scores
                       WHERE run_id = $1 AND p_value < $2) AS "significant!""#,
            b.run_id,
            SIGNIFICANT_P
        )
        .fetch_one(pool)
        .await?
    } else if no_filter {
        // Sorted by a category's CAAR and nothing else: the stories with that category's
        // figure in the window are its rows in the run (one per story; every row's story
        // exists), counted down the category index rather than probed from every story
        // (10-13 ms at 10,000 stories, against 4-6).
        sqlx::query_as!(
            ListCounts,
            r#"SELECT count(*) AS "events!",
                      count(*) FILTER (WHERE sc.p_value < $4) AS "significant!"
               FROM study_category_outcomes co
               LEFT JOIN study_event_scores sc ON sc.run_id = co.run_id AND sc.event_id = co.event_id
               WHERE co.run_id = $1
                 AND co.category_id = (SELECT id FROM categories WHERE slug = $2)
                 AND co.window_mask & $3 <> 0"#,
            b.run_id,
            filter.sort_category,
            b.caar_bit,
            SIGNIFICANT_P
        )
        .fetch_one(pool)
        .await?
    } else {
        sqlx::query_as!(
            ListCounts,
            r#"SELECT count(*) AS "events!",
                      count(*) FILTER (WHERE sc.p_value < $14) AS "significant!"
               FROM matching_events($2, $3, $4, $5, $6, $9, $10) e
               LEFT JOIN study_event_scores sc ON sc.run_id = $1 AND sc.event_id = e.id
               WHERE ($7::float8 IS NULL OR sc.impact_score >= $7)
                 AND ($8::float8 IS NULL OR sc.p_value < $8)
                 AND ($11::text <> 'caar' OR EXISTS (
                       SELECT 1 FROM study_category_outcomes co
                       WHERE co.run_id = $1 AND co.event_id = e.id
                         AND co.category_id = (SELECT id FROM categories WHERE slug = $12)
                         AND co.window_mask & $13 <> 0))"#,
            b.run_id,
            filter.q,
            filter.category,
            filter.token,
            b.from,
            b.to,
            b.min_score,
            b.max_p,
            filter.kind,
            filter.source,
            b.mode,
            filter.sort_category,
            b.caar_bit,
            SIGNIFICANT_P
        )
        .fetch_one(pool)
        .await?
    };
    // The timeline: the highest ranked matching stories, walked down the rank index.
    let ranked = sqlx::query!(
        r#"SELECT e.id AS "id!", e.event_time AS "event_time!", e.headline AS "headline!",
                  sc.impact_score AS "impact_score!", sc.top_value AS "top_value?",
                  sc.p_value AS "p_value?"
           FROM study_event_scores sc
           JOIN matching_events($2, $3, $4, $5, $6, $9, $10) e ON e.id = sc.event_id
           WHERE sc.run_id = $1 AND sc.rank_key >= 0 AND sc.impact_score IS NOT NULL
             AND ($7::float8 IS NULL OR sc.impact_score >= $7)
             AND ($8::float8 IS NULL OR sc.p_value < $8)
             AND ($11::text <> 'caar' OR EXISTS (
                   SELECT 1 FROM study_category_outcomes co
                   WHERE co.run_id = $1 AND co.event_id = e.id
                     AND co.category_id = (SELECT id FROM categories WHERE slug = $12)
                     AND co.window_mask & $13 <> 0))
           ORDER BY sc.rank_key DESC, sc.event_id DESC
           LIMIT $14"#,
        b.run_id,
        filter.q,
        filter.category,
        filter.token,
        b.from,
        b.to,
        b.min_score,
        b.max_p,
        filter.kind,
        filter.source,
        b.mode,
        filter.sort_category,
        b.caar_bit,
        TIMELINE_LIMIT
    )
    .fetch_all(pool)
    .await?;
    let mut points: Vec<TimelinePoint> = ranked
        .into_iter()
        .map(|r| TimelinePoint {
            id: r.id,
            event_time: r.event_time,
            headline: r.headline,
            impact_score: r.impact_score,
            top_move: r.top_value,
            significant: r.p_value.is_some_and(|p| p < SIGNIFICANT_P),
        })
        .collect();
    points.sort_by_key(|p| p.event_time);
    Ok((counts, points))
}
