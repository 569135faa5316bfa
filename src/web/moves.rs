//! `/moves`: the market's own moves, found in the prices by `catalyst moves scan`
//! (migration 0017), the answer first: how many moves none of the sources explains. Each
//! row says which series moved, by how much and in which basis, when it began, how long
//! it took, how unusual it was, and shows its path; the explained moves are one toggle
//! away, each with the story it is attributed to and that story's news lag.
//!
//! The query, its parameters and the rows are shared with `/api/v1/moves` and
//! `/moves.csv` (src/web/api.rs), so the three say the same with the same labels.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::api_types::MoveOut;
use super::chart;
use super::error::WebError;
use super::format::{duration_words, lag_words, p_value, pct, share, time_html};
use super::glossary::abbr;
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/moves", get(page))
}

/// Rows per page unless `limit` says otherwise, and the most it may say.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// The parameters of `/moves`, `/moves.csv` and `/api/v1/moves`, as typed (checked by
/// [`MoveFilter::parse`], which names the parameter that is wrong).
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MovesQuery {
    /// size (default: the largest moves first, by |size_log|) or newest (latest onset
    /// first).
    #[param(example = "size")]
    pub sort: Option<String>,
    /// Only this series: "market", a category slug or a token symbol.
    #[param(example = "ai")]
    pub series: Option<String>,
    /// true: only moves a story explains; false: only unexplained ones. The API and the
    /// CSV give both when it is absent; the page shows the unexplained ones.
    #[param(value_type = Option<bool>, example = false)]
    pub explained: Option<String>,
    /// Rows per page, 1 to 200 (default 50).
    #[param(value_type = Option<u32>, example = 50)]
    pub limit: Option<String>,
    /// The `next` of the page before.
    pub after: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveSort {
    /// Largest |size_log| first.
    Size,
    /// Latest onset first.
    Newest,
}

/// Checked parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct MoveFilter {
    pub sort: MoveSort,
    pub series: Option<String>,
    pub explained: Option<bool>,
    pub limit: i64,
    /// (sort key, move id) of the last row of the page before.
    pub after: Option<(f64, i64)>,
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl MoveFilter {
    pub fn parse(q: &MovesQuery) -> Result<MoveFilter, String> {
        let sort = match present(&q.sort) {
            None | Some("size") => MoveSort::Size,
            Some("newest") => MoveSort::Newest,
            Some(other) => {
                return Err(format!(
                    "sort: {other:?} is not one of size (largest first) or newest"
                ))
            }
        };
        let explained = match present(&q.explained) {
            None => None,
            Some("true" | "1" | "yes") => Some(true),
            Some("false" | "0" | "no") => Some(false),
            Some(other) => return Err(format!("explained: {other:?} is not true or false")),
        };
        let limit = match present(&q.limit) {
            None => DEFAULT_LIMIT,
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| format!("limit: {s:?} is not a number from 1 to {MAX_LIMIT}"))?,
        };
        let after = match present(&q.after) {
            None => None,
            Some(s) => Some(parse_cursor(s).ok_or_else(|| {
                format!("after: {s:?} is not a page cursor (pass the `next` of a page)")
            })?),
        };
        let series = present(&q.series).map(str::to_string);
        if series
            .as_deref()
            .is_some_and(|s| s.len() > 64 || s.contains('\0'))
        {
            return Err("series: not a series name".into());
        }
        Ok(MoveFilter {
            sort,
            series,
            explained,
            limit,
            after,
        })
    }

    /// The filter as a query string, without the cursor (pages add theirs).
    pub fn query_string(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.sort == MoveSort::Newest {
            parts.push("sort=newest".into());
        }
        if let Some(s) = &self.series {
            parts.push(format!("series={}", urlencode(s)));
        }
        if let Some(e) = self.explained {
            parts.push(format!("explained={e}"));
        }
        if self.limit != DEFAULT_LIMIT {
            parts.push(format!("limit={}", self.limit));
        }
        parts.join("&")
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A cursor: the sort key and the move id of a page's last row ("0.16_41"). The key's
/// text is Rust's shortest round-trip form of the f64, so the database compares the
/// exact value it sent.
pub fn cursor(key: f64, id: i64) -> String {
    format!("{key}_{id}")
}

fn parse_cursor(s: &str) -> Option<(f64, i64)> {
    let (key, id) = s.rsplit_once('_')?;
    let key: f64 = key.parse().ok().filter(|k: &f64| k.is_finite())?;
    Some((key, id.parse().ok()?))
}

/// One row of `market_moves` with its path.
#[derive(Debug, Clone)]
pub struct MoveRecord {
    pub id: i64,
    pub series_kind: String,
    pub series: String,
    pub basis: String,
    pub direction: i16,
    pub onset: DateTime<Utc>,
    pub extreme_at: DateTime<Utc>,
    pub duration_s: i64,
    pub resolution: String,
    pub size_log: f64,
    pub size_pct: f64,
    pub z: f64,
    pub window_hours: i32,
    pub p_value: f64,
    pub n_tokens: i32,
    pub explained: bool,
    pub candidate_stories: i64,
    pub best_event_id: Option<i64>,
    pub best_headline: Option<String>,
    pub best_lag_s: Option<i64>,
    pub best_share_before: Option<f64>,
    pub path_start: DateTime<Utc>,
    pub path_step_s: i32,
    pub path: Vec<f32>,
    pub key: f64,
}

/// The size as every view labels it: the simple percentage and the basis, "-14.79%
/// abnormal".
pub fn size_label(size_pct: f64, basis: &str) -> String {
    format!("{} {basis}", pct(Some(size_pct)))
}

impl MoveRecord {
    pub fn out(&self) -> MoveOut {
        MoveOut {
            id: self.id,
            series: self.series.clone(),
            series_kind: self.series_kind.clone(),
            basis: self.basis.clone(),
            direction: self.direction,
            size_log: self.size_log,
            size_pct: self.size_pct,
            size_label: size_label(self.size_pct, &self.basis),
            onset: self.onset,
            extreme_at: self.extreme_at,
            duration_s: self.duration_s,
            resolution: self.resolution.clone(),
            p_value: self.p_value,
            z: self.z,
            window_hours: self.window_hours,
            n_tokens: self.n_tokens,
            explained: self.explained,
            candidate_stories: self.candidate_stories,
            best_event_id: self.best_event_id,
            best_headline: self.best_headline.clone(),
            news_lag_s: self.best_lag_s,
            news_lag: self.best_lag_s.map(lag_words),
            share_before: self.best_share_before,
        }
    }

    /// Where the onset and the extreme fall on the path, in points.
    fn path_positions(&self) -> (f64, f64) {
        let step = f64::from(self.path_step_s.max(1));
        let at = |t: DateTime<Utc>| (t - self.path_start).num_seconds() as f64 / step;
        (at(self.onset), at(self.extreme_at))
    }
}

/// One page of moves, and the cursor of the next.
pub struct MovesResult {
    pub items: Vec<MoveRecord>,
    pub next: Option<String>,
}

/// Checks the filter against the database: a series must be the market, a category or a
/// token (a typo answers 400, not an empty list).
pub async fn resolve(pool: &sqlx::PgPool, q: &MovesQuery) -> Result<MoveFilter, WebError> {
    let f = MoveFilter::parse(q).map_err(WebError::BadRequest)?;
    if let Some(s) = &f.series {
        let known = sqlx::query_scalar!(
            r#"SELECT lower($1) = 'market'
                   OR EXISTS (SELECT 1 FROM tokens WHERE lower(symbol) = lower($1))
                   OR EXISTS (SELECT 1 FROM categories WHERE lower(slug) = lower($1)) AS "known!""#,
            s
        )
        .fetch_one(pool)
        .await?;
        if !known {
            return Err(WebError::BadRequest(format!(
                "series: {s:?} is not \"market\", a category slug or a token symbol"
            )));
        }
    }
    Ok(f)
}

/// One page of the moves the filter selects, in its order.
pub async fn fetch(pool: &sqlx::PgPool, f: &MoveFilter) -> Result<MovesResult, sqlx::Error> {
    let (after_key, after_id) = f.after.unzip();
    let mut items: Vec<MoveRecord> = sqlx::query!(
        r#"WITH k AS (
             SELECT m.*, v.path_start, v.path_step_s, v.path,
                    CASE WHEN $1 THEN abs(m.size_log)
                         ELSE EXTRACT(EPOCH FROM m.onset)::float8 END AS sort_key
             FROM market_moves m JOIN moves v ON v.id = m.move_id
             WHERE ($2::bool IS NULL OR m.explained = $2)
               AND ($3::text IS NULL OR lower(m.series) = lower($3)))
           SELECT move_id AS "id!", series_kind AS "series_kind!", series AS "series!",
                  basis AS "basis!", direction AS "direction!", onset AS "onset!",
                  extreme_at AS "extreme_at!",
                  EXTRACT(EPOCH FROM duration)::bigint AS "duration_s!",
                  resolution AS "resolution!", size_log AS "size_log!",
                  size_pct_simple AS "size_pct!", z AS "z!", window_hours AS "window_hours!",
                  p_value AS "p_value!", n_tokens AS "n_tokens!", explained AS "explained!",
                  candidate_stories AS "candidate_stories!", best_event_id AS "best_event_id?",
                  best_headline AS "best_headline?", best_lag_s AS "best_lag_s?",
                  best_share_before AS "best_share_before?", path_start AS "path_start!",
                  path_step_s AS "path_step_s!", path AS "path!: Vec<f32>", sort_key AS "key!"
           FROM k
           WHERE $4::float8 IS NULL OR (sort_key, move_id) < ($4, $5::bigint)
           ORDER BY sort_key DESC, move_id DESC
           LIMIT $6"#,
        f.sort == MoveSort::Size,
        f.explained,
        f.series,
        after_key,
        after_id,
        f.limit + 1
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| MoveRecord {
        id: r.id,
        series_kind: r.series_kind,
        series: r.series,
        basis: r.basis,
        direction: r.direction,
        onset: r.onset,
        extreme_at: r.extreme_at,
        duration_s: r.duration_s,
        resolution: r.resolution,
        size_log: r.size_log,
        size_pct: r.size_pct,
        z: r.z,
        window_hours: r.window_hours,
        p_value: r.p_value,
        n_tokens: r.n_tokens,
        explained: r.explained,
        candidate_stories: r.candidate_stories,
        best_event_id: r.best_event_id,
        best_headline: r.best_headline,
        best_lag_s: r.best_lag_s,
        best_share_before: r.best_share_before,
        path_start: r.path_start,
        path_step_s: r.path_step_s,
        path: r.path,
        key: r.key,
    })
    .collect();
    // One row more than the page tells whether there is a next page.
    let next = if items.len() as i64 > f.limit {
        items.truncate(f.limit as usize);
        items.last().map(|m| cursor(m.key, m.id))
    } else {
        None
    };
    Ok(MovesResult { items, next })
}

/// The page before the one starting at `first` (its sort key and id): `Some("")` for
/// the first page, `Some(cursor)` otherwise, `None` when `first` starts the list.
pub async fn prev_cursor(
    pool: &sqlx::PgPool,
    f: &MoveFilter,
    first: (f64, i64),
) -> Result<Option<String>, sqlx::Error> {
    let before = sqlx::query!(
        r#"WITH k AS (
             SELECT m.move_id,
                    CASE WHEN $1 THEN abs(m.size_log)
                         ELSE EXTRACT(EPOCH FROM m.onset)::float8 END AS sort_key
             FROM market_moves m
             WHERE ($2::bool IS NULL OR m.explained = $2)
               AND ($3::text IS NULL OR lower(m.series) = lower($3)))
           SELECT sort_key AS "key!", move_id AS "id!" FROM k
           WHERE (sort_key, move_id) > ($4, $5)
           ORDER BY sort_key, move_id
           LIMIT $6"#,
        f.sort == MoveSort::Size,
        f.explained,
        f.series,
        first.0,
        first.1,
        f.limit + 1
    )
    .fetch_all(pool)
    .await?;
    Ok(match before.len() as i64 {
        0 => None,
        n if n <= f.limit => Some(String::new()),
        // The row just before the previous page is that page's cursor.
        _ => before.last().map(|r| cursor(r.key, r.id)),
    })
}

/// How many moves the series filter selects, explained or not, and the earliest onset.
pub struct MoveCounts {
    pub unexplained: i64,
    pub explained: i64,
    pub first_onset: Option<DateTime<Utc>>,
}

pub async fn counts(pool: &sqlx::PgPool, f: &MoveFilter) -> Result<MoveCounts, sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE NOT explained) AS "unexplained!",
                  count(*) FILTER (WHERE explained) AS "explained!",
                  min(onset) AS "first?"
           FROM market_moves WHERE $1::text IS NULL OR lower(series) = lower($1)"#,
        f.series
    )
    .fetch_one(pool)
    .await?;
    Ok(MoveCounts {
        unexplained: r.unexplained,
        explained: r.explained,
        first_onset: r.first,
    })
}

/// One move on the page.
pub struct MoveView {
    pub id: i64,
    pub series: String,
    pub series_href: String,
    /// "category", "token" or "market (BTC)": what the series is.
    pub series_kind: String,
    /// up or down (CSS).
    pub direction: &'static str,
    pub arrow: &'static str,
    /// "-14.79%" and "abnormal": one label per number.
    pub size: String,
    pub basis: String,
    /// A `<time>` element (escaped).
    pub onset: String,
    pub duration: String,
    pub p: String,
    pub resolution: String,
    /// Inline SVG of the path (escaped by `chart`).
    pub chart: String,
    /// (event id, headline) of the story it is attributed to.
    pub story: Option<(i64, String)>,
    pub lag: String,
    pub share_before: String,
    pub candidates: i64,
}

fn view(m: &MoveRecord) -> MoveView {
    let (onset_at, extreme_at) = m.path_positions();
    let direction = if m.direction < 0 { "down" } else { "up" };
    MoveView {
        id: m.id,
        series_href: match m.series_kind.as_str() {
            "category" => format!("/categories/{}", urlencode(&m.series)),
            "token" => format!("/tokens/{}", urlencode(&m.series)),
            _ => "/moves?series=market".to_string(),
        },
        series_kind: match m.series_kind.as_str() {
            "category" if m.n_tokens == 1 => "category, 1 token".to_string(),
            "category" => format!("category, {} tokens", m.n_tokens),
            "token" => "token".to_string(),
            _ => "the market proxy".to_string(),
        },
        series: m.series.clone(),
        direction,
        arrow: if m.direction < 0 { "↓" } else { "↑" },
        size: pct(Some(m.size_pct)),
        basis: m.basis.clone(),
        onset: time_html(m.onset, "exact"),
        duration: duration_words(m.duration_s),
        p: p_value(Some(m.p_value)),
        resolution: m.resolution.clone(),
        chart: chart::move_path(&m.path, onset_at, extreme_at, direction),
        story: m.best_event_id.zip(m.best_headline.clone()),
        lag: m.best_lag_s.map(lag_words).unwrap_or_else(|| "–".into()),
        share_before: share(m.best_share_before),
        candidates: m.candidate_stories,
    }
}

/// Labels with their explanations (`<abbr>` from the glossary).
pub struct MoveLabels {
    pub unexplained: String,
    pub onset: String,
    pub lag: String,
    pub share_before: String,
    pub p: String,
}

#[derive(Template)]
#[template(path = "moves.html")]
pub struct MovesPageView {
    pub title: String,
    /// The answer: how many moves none of the sources explains, over which span.
    pub headline: String,
    pub unexplained: i64,
    pub explained: i64,
    /// Which list is shown: the explained moves (else the unexplained ones).
    pub showing_explained: bool,
    pub sort_newest: bool,
    pub series: String,
    pub rows: Vec<MoveView>,
    pub labels: MoveLabels,
    /// Links: the other list, each sort, the pages, the exports.
    pub toggle_href: String,
    pub size_href: String,
    pub newest_href: String,
    pub prev_page: Option<String>,
    pub next_page: Option<String>,
    pub csv_href: String,
    pub api_href: String,
}

/// The span since `first` in words: "the last 3 days", "the last 5 hours".
fn span_words(first: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - first).num_seconds().max(0).unsigned_abs();
    match secs {
        s if s < 2 * 3_600 => "the last 2 hours".to_string(),
        s if s < 2 * 86_400 => format!("the last {} hours", s.div_ceil(3_600)),
        s => format!("the last {} days", s.div_ceil(86_400)),
    }
}

/// The answer first: "3 moves in the last 12 days that none of your sources explains".
fn headline(c: &MoveCounts, series: Option<&str>, now: DateTime<Utc>) -> String {
    let of = series.map(|s| format!(" of {s}")).unwrap_or_default();
    match c.first_onset {
        None => format!("No moves{of} found yet: catalyst moves scan finds them in the prices."),
        Some(first) => {
            let n = c.unexplained;
            let moves = if n == 1 { "move" } else { "moves" };
            format!(
                "{n} {moves}{of} in {} that none of your sources explains.",
                span_words(first, now)
            )
        }
    }
}

async fn page(
    State(state): State<AppState>,
    Query(query): Query<MovesQuery>,
) -> Result<Html<String>, WebError> {
    let pool = &state.pool;
    let mut f = resolve(pool, &query).await?;
    // The page answers the question first: the unexplained moves unless asked.
    let showing_explained = f.explained == Some(true);
    f.explained = Some(showing_explained);
    let result = fetch(pool, &f).await?;
    let c = counts(pool, &f).await?;
    let prev = match result.items.first() {
        Some(first) if f.after.is_some() => prev_cursor(pool, &f, (first.key, first.id)).await?,
        _ => None,
    };
    let qs = |filter: &MoveFilter| filter.query_string();
    let with_cursor = |c: &str| {
        let base = qs(&f);
        match (base.is_empty(), c.is_empty()) {
            (_, true) => format!("/moves?{base}"),
            (true, false) => format!("/moves?after={c}"),
            (false, false) => format!("/moves?{base}&after={c}"),
        }
    };
    let toggle = MoveFilter {
        explained: Some(!showing_explained),
        after: None,
        ..f.clone()
    };
    let sorted = |sort| MoveFilter {
        sort,
        after: None,
        ..f.clone()
    };
    let page_qs = {
        let base = qs(&f);
        match f.after {
            Some((k, id)) if base.is_empty() => format!("after={}", cursor(k, id)),
            Some((k, id)) => format!("{base}&after={}", cursor(k, id)),
            None => base,
        }
    };
    let view_page = MovesPageView {
        title: "Moves".into(),
        headline: headline(&c, f.series.as_deref(), Utc::now()),
        unexplained: c.unexplained,
        explained: c.explained,
        showing_explained,
        sort_newest: f.sort == MoveSort::Newest,
        series: f.series.clone().unwrap_or_default(),
        rows: result.items.iter().map(view).collect(),
        labels: MoveLabels {
            unexplained: abbr("unexplained-move"),
            onset: abbr("move-onset"),
            lag: abbr("news-lag"),
            share_before: abbr("share-before"),
            p: abbr("p"),
        },
        toggle_href: format!("/moves?{}", qs(&toggle)),
        size_href: format!("/moves?{}", qs(&sorted(MoveSort::Size))),
        newest_href: format!("/moves?{}", qs(&sorted(MoveSort::Newest))),
        prev_page: prev.map(|c| with_cursor(&c)),
        next_page: result.next.map(|c| with_cursor(&c)),
        csv_href: format!("/moves.csv?{page_qs}"),
        api_href: format!("/api/v1/moves?{page_qs}"),
    };
    Ok(Html(view_page.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn q(pairs: &[(&str, &str)]) -> MovesQuery {
        let mut q = MovesQuery::default();
        for (k, v) in pairs {
            let v = Some(v.to_string());
            match *k {
                "sort" => q.sort = v,
                "series" => q.series = v,
                "explained" => q.explained = v,
                "limit" => q.limit = v,
                "after" => q.after = v,
                _ => unreachable!(),
            }
        }
        q
    }

    #[test]
    fn parameters_are_checked_and_named_when_wrong() {
        let f = MoveFilter::parse(&MovesQuery::default()).unwrap();
        assert_eq!(f.sort, MoveSort::Size);
        assert_eq!((f.limit, f.explained, f.after), (DEFAULT_LIMIT, None, None));
        let f = MoveFilter::parse(&q(&[
            ("sort", "newest"),
            ("explained", "true"),
            ("limit", "10"),
            ("series", "AI & co"),
        ]))
        .unwrap();
        assert_eq!(f.sort, MoveSort::Newest);
        assert_eq!(
            f.query_string(),
            "sort=newest&series=AI+%26+co&explained=true&limit=10"
        );
        for (k, v) in [
            ("sort", "biggest"),
            ("explained", "maybe"),
            ("limit", "0"),
            ("limit", "500"),
            ("after", "x"),
        ] {
            let e = MoveFilter::parse(&q(&[(k, v)])).unwrap_err();
            assert!(e.starts_with(k), "{e}");
        }
    }

    #[test]
    fn cursors_round_trip_exactly() {
        for key in [0.1 + 0.2, 1_737_964_800.25, 0.16] {
            assert_eq!(parse_cursor(&cursor(key, 41)), Some((key, 41)));
        }
        assert_eq!(parse_cursor("1e400_3"), None);
    }

    #[test]
    fn the_headline_counts_the_unexplained_moves_over_the_span() {
        let now = Utc.with_ymd_and_hms(2025, 1, 31, 0, 0, 0).unwrap();
        let c = MoveCounts {
            unexplained: 3,
            explained: 5,
            first_onset: Some(Utc.with_ymd_and_hms(2025, 1, 19, 6, 0, 0).unwrap()),
        };
        assert_eq!(
            headline(&c, None, now),
            "3 moves in the last 12 days that none of your sources explains."
        );
        let none = MoveCounts {
            unexplained: 0,
            explained: 0,
            first_onset: None,
        };
        assert!(headline(&none, Some("ai"), now).starts_with("No moves of ai found yet"));
        assert_eq!(size_label(-0.1479, "abnormal"), "-14.79% abnormal");
    }
}
