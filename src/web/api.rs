//! Machine interfaces: JSON under `/api/v1/` and the CSV export of the list view. Same
//! filters and pages as `/` (see `list_query::ListQuery`); errors under `/api/` are JSON
//! too, unknown paths included.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::api_types::{
    ActivityOut, ArticleOut, CategoryOut, CategoryResultOut, CategoryTagOut, EventDetail,
    HistoryOut, HistoryRow, MarketMoveOut, MoveOut, MovesPage, ScoreOut, TokenOut, TokenResultOut,
    TokenTagOut,
};
use super::error::WebError;
use super::history::ranking;
use super::history_query as hq;
use super::list_query::{
    fetch_list, overview, prev_page, ListCounts, ListItem, ListQuery, PrevPage, SortOrder,
};
use super::moves::MovesQuery;
use super::run::current_run;
use super::AppState;
use crate::study::engine::Window;
use crate::study::export::spreadsheet_safe;

/// The OpenAPI description of these routes, served at `/api/v1/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Catalyst API",
        description = "News events ranked by their market impact, with the event study behind each rank."
    ),
    paths(events, event, categories, tokens, category_events, token_events, events_csv, moves,
          moves_csv),
    components(schemas(
        ListItem, EventsPage, ErrorBody, ListCounts, SortOrder, EventDetail, ArticleOut,
        TokenTagOut, CategoryTagOut, ScoreOut, MarketMoveOut, CategoryResultOut,
        TokenResultOut, ActivityOut, CategoryOut, TokenOut, HistoryOut, HistoryRow, MoveOut,
        MovesPage
    )),
    tags((name = "events", description = "The ranked list and one event"),
         (name = "taxonomy", description = "Categories and tokens, and their histories"),
         (name = "moves", description = "Moves found in the prices, and the stories that explain them"))
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/events", get(events))
        .route("/api/v1/events/{id}", get(event))
        .route("/api/v1/categories", get(categories))
        .route("/api/v1/tokens", get(tokens))
        .route("/api/v1/categories/{slug}/events", get(category_events))
        .route("/api/v1/tokens/{symbol}/events", get(token_events))
        .route("/events.csv", get(events_csv))
        .route("/api/v1/moves", get(moves))
        .route("/moves.csv", get(moves_csv))
        .route("/api/{*rest}", get(unknown).post(unknown))
        .route("/api/v1", get(unknown))
}

/// Any other path under `/api/`: a JSON 404, not the HTML page.
async fn unknown(uri: axum::http::Uri) -> ApiError {
    ApiError(WebError::NotFound(format!(
        "There is no API endpoint {}; see /api for the reference.",
        uri.path()
    )))
}

/// The JSON twin of [`WebError`]: `{"error": "..."}` with the same status.
pub struct ApiError(WebError);

impl From<WebError> for ApiError {
    fn from(e: WebError) -> Self {
        ApiError(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError(WebError::Db(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The status and message of the pages (web/error.rs), as JSON; a 500 says only
        // that it is one.
        let (status, message) = match self.0.public() {
            (status, _) if status == StatusCode::INTERNAL_SERVER_ERROR => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error".to_string(),
            ),
            other => other,
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(<ApiDoc as utoipa::OpenApi>::openapi())
}

/// Every API error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What was wrong, naming the parameter.
    pub error: String,
}

/// A page of events.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventsPage {
    events: Vec<ListItem>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(example = "1.23_45")]
    next: Option<String>,
    /// Pass as `after` for the previous page; "" when it is the first page, null on the
    /// first page itself.
    prev: Option<String>,
    /// Over every page of these filters.
    counts: ListCounts,
    /// The study run the scores come from.
    run_id: Option<i64>,
}

/// Events ranked by impact (or by time, or by a category's |CAAR|), with the filters of `/`.
#[utoipa::path(get, path = "/api/v1/events", params(ListQuery),
    tag = "events",
    responses((status = 200, body = EventsPage), (status = 400, body = ErrorBody)))]
async fn events(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<EventsPage>, ApiError> {
    let pool = &state.pool;
    let r = fetch_list(pool, &state.keyed, &query).await?;
    let (counts, _) = overview(pool, &r.filter, r.run.as_ref()).await?;
    let prev = match r.items.first() {
        Some(first) if r.filter.after.is_some() => {
            prev_page(pool, &r.filter, r.run.as_ref(), (first.sort_key, first.id)).await?
        }
        _ => PrevPage::None,
    };
    Ok(Json(EventsPage {
        events: r.items,
        next: r.next_after,
        prev: match prev {
            PrevPage::None => None,
            PrevPage::First => Some(String::new()),
            PrevPage::After(c) => Some(c),
        },
        counts,
        run_id: r.run.map(|r| r.0),
    }))
}

/// The CSV export's columns: the `ListItem` fields of the API, named alike.
pub const CSV_COLUMNS: [&str; 26] = [
    "id",
    "event_time",
    "time_precision",
    "headline",
    "source",
    "articles",
    "impact_score",
    "p_value",
    "q_value",
    "significant",
    "model_dependent",
    "not_ranked_reason",
    "driver",
    "top_kind",
    "top_category",
    "top_token",
    "top_window_start",
    "top_window_end",
    "top_pre_report",
    "top_move",
    "top_p_t",
    "top_p_calibrated",
    "market_return",
    "market_z",
    "credited_to",
    "episode_size",
];

/// The list view as CSV, one row per event, same filters and page (up to 200 rows per
/// page: follow the `Link: rel="next"` header for the next). `X-Row-Count` says how many
/// rows it holds, `X-Total-Count` how many events match over every page.
#[utoipa::path(get, path = "/events.csv", params(ListQuery), tag = "events",
    responses((status = 200, description = "CSV, one row per event (columns: the list's fields)", content_type = "text/csv"),
              (status = 400, description = "A bad parameter, named in the body")))]
async fn events_csv(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, WebError> {
    let r = fetch_list(&state.pool, &state.keyed, &query).await?;
    let (counts, _) = overview(&state.pool, &r.filter, r.run.as_ref()).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| WebError::BadRequest(format!("CSV export failed: {e}"));
    w.write_record(CSV_COLUMNS).map_err(io)?;
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    let opt_i = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    // Text written by others (headlines, source names) cannot start a formula.
    let text = |v: Option<&str>| spreadsheet_safe(v.unwrap_or_default()).into_owned();
    for e in &r.items {
        w.write_record([
            e.id.to_string(),
            e.event_time.to_rfc3339(),
            e.time_precision.clone(),
            text(Some(&e.headline)),
            text(e.source.as_deref()),
            e.articles.to_string(),
            opt(e.impact_score),
            opt(e.p_value),
            opt(e.q_value),
            e.significant.to_string(),
            e.model_dependent.to_string(),
            text(e.not_ranked_reason.as_deref()),
            text(e.driver.as_deref()),
            text(e.top_kind.as_deref()),
            text(e.top_category.as_deref()),
            text(e.top_token.as_deref()),
            opt_i(e.top_window_start.map(i64::from)),
            opt_i(e.top_window_end.map(i64::from)),
            e.top_pre_report.map(|b| b.to_string()).unwrap_or_default(),
            opt(e.top_move),
            opt(e.top_p_t),
            opt(e.top_p_calibrated),
            opt(e.market_return),
            opt(e.market_z),
            opt_i(e.credited_to),
            e.episode_size.to_string(),
        ])
        .map_err(io)?;
    }
    let body = w
        .into_inner()
        .map_err(|e| WebError::BadRequest(format!("CSV export failed: {e}")))?;
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"catalyst-events-{}-rows.csv\"",
                    r.items.len()
                ),
            ),
        ],
        body,
    )
        .into_response();
    let headers = resp.headers_mut();
    for (name, value) in [
        ("x-row-count", r.items.len().to_string()),
        ("x-total-count", counts.events.to_string()),
    ] {
        if let Ok(v) = axum::http::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    if let Some(next) = &r.next_after {
        let qs = r.filter.query_string();
        let sep = if qs.is_empty() { "" } else { "&" };
        if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
            "</events.csv?{qs}{sep}after={next}>; rel=\"next\""
        )) {
            headers.insert(header::LINK, v);
        }
    }
    Ok(resp)
}

/// Moves found in the prices (`catalyst moves scan`), largest first (or newest), with
/// the story each is attributed to and its news lag; the same rows as `/moves`.
#[utoipa::path(get, path = "/api/v1/moves", params(MovesQuery), tag = "moves",
    responses((status = 200, body = MovesPage), (status = 400, body = ErrorBody)))]
async fn moves(
    State(state): State<AppState>,
    Query(query): Query<MovesQuery>,
) -> Result<Json<MovesPage>, ApiError> {
    let pool = &state.pool;
    let f = super::moves::resolve(pool, &query).await?;
    let r = super::moves::fetch(pool, &f).await?;
    let c = super::moves::counts(pool, &f).await?;
    Ok(Json(MovesPage {
        moves: r.items.iter().map(|m| m.out()).collect(),
        next: r.next,
        unexplained: c.unexplained,
        explained: c.explained,
    }))
}

/// The CSV export's columns for moves: the `MoveOut` fields of the API, named alike.
pub const MOVES_CSV_COLUMNS: [&str; 23] = [
    "id",
    "series",
    "series_kind",
    "basis",
    "direction",
    "size_log",
    "size_pct",
    "size_label",
    "onset",
    "extreme_at",
    "duration_s",
    "resolution",
    "p_value",
    "z",
    "window_hours",
    "n_tokens",
    "explained",
    "candidate_stories",
    "best_event_id",
    "best_headline",
    "news_lag_s",
    "news_lag",
    "share_before",
];

/// The moves as CSV, one row per move, same parameters and page as `/api/v1/moves`
/// (follow the `Link: rel="next"` header for the next page).
#[utoipa::path(get, path = "/moves.csv", params(MovesQuery), tag = "moves",
    responses((status = 200, description = "CSV, one row per move (columns: the MoveOut fields)", content_type = "text/csv"),
              (status = 400, description = "A bad parameter, named in the body")))]
async fn moves_csv(
    State(state): State<AppState>,
    Query(query): Query<MovesQuery>,
) -> Result<Response, WebError> {
    let pool = &state.pool;
    let f = super::moves::resolve(pool, &query).await?;
    let r = super::moves::fetch(pool, &f).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| WebError::Internal(format!("CSV export failed: {e}"));
    w.write_record(MOVES_CSV_COLUMNS).map_err(io)?;
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    let opt_i = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    for m in r.items.iter().map(|m| m.out()) {
        w.write_record([
            m.id.to_string(),
            spreadsheet_safe(&m.series).into_owned(),
            m.series_kind,
            m.basis,
            m.direction.to_string(),
            m.size_log.to_string(),
            m.size_pct.to_string(),
            m.size_label,
            m.onset.to_rfc3339(),
            m.extreme_at.to_rfc3339(),
            m.duration_s.to_string(),
            m.resolution,
            m.p_value.to_string(),
            m.z.to_string(),
            m.window_hours.to_string(),
            m.n_tokens.to_string(),
            m.explained.to_string(),
            m.candidate_stories.to_string(),
            opt_i(m.best_event_id),
            // Headlines are written by others: they cannot start a formula.
            spreadsheet_safe(m.best_headline.as_deref().unwrap_or_default()).into_owned(),
            opt_i(m.news_lag_s),
            m.news_lag.unwrap_or_default(),
            opt(m.share_before),
        ])
        .map_err(io)?;
    }
    let body = w
        .into_inner()
        .map_err(|e| WebError::Internal(format!("CSV export failed: {e}")))?;
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"catalyst-moves-{}-rows.csv\"",
                    r.items.len()
                ),
            ),
        ],
        body,
    )
        .into_response();
    if let Some(next) = &r.next {
        let qs = f.query_string();
        let sep = if qs.is_empty() { "" } else { "&" };
        if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
            "</moves.csv?{qs}{sep}after={next}>; rel=\"next\""
        )) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}

/// One event: articles, tags, score and its components, and the summary window's
/// category and token results, every window's market move.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events",
    params(("id" = i64, Path, description = "Event id", example = 12)),
    responses((status = 200, description = "The event", body = EventDetail),
              (status = 404, body = ErrorBody), (status = 400, body = ErrorBody)))]
async fn event(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<EventDetail>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| WebError::BadRequest(format!("{id:?} is not an event id")))?;
    let pool = &state.pool;
    let run = current_run(pool).await?;
    let run_id = run.as_ref().map(|r| r.0);
    let (ws, we) = run
        .as_ref()
        .map(|r| (r.1.ranking_window.start, r.1.ranking_window.end))
        .unwrap_or((-24, 24));
    // Built in SQL (each part is a JSON document there), then read into the typed
    // document the schema describes.
    let doc = sqlx::query_scalar!(
        r#"SELECT jsonb_build_object(
             'id', e.id, 'event_time', e.event_time, 'time_precision', e.time_precision,
             'headline', e.headline, 'kind', e.kind,
             'articles', (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                  'title', a.title, 'url', a.canonical_url, 'source', s.name,
                  'published_at', a.published_at, 'time_precision', a.time_precision,
                  'summary', a.summary) ORDER BY a.published_at, a.id), '[]')
                FROM articles a JOIN sources s ON s.id = a.source_id WHERE a.event_id = e.id),
             'token_tags', (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                  'symbol', t.symbol, 'rule', g.rule, 'matched_text', g.matched_text,
                  'ambiguous', g.ambiguous, 'salience', g.salience,
                  'salience_note', g.salience_note) ORDER BY t.symbol, g.rule, g.matched_text), '[]')
                FROM event_token_tags g JOIN tokens t ON t.id = g.token_id WHERE g.event_id = e.id),
             'category_tags', (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                  'category', c.slug, 'rule', g.rule, 'matched_text', g.matched_text,
                  'salience', g.salience, 'salience_note', g.salience_note)
                  ORDER BY c.slug, g.rule, g.matched_text), '[]')
                FROM event_category_tags g JOIN categories c ON c.id = g.category_id WHERE g.event_id = e.id),
             'score', (SELECT to_jsonb(sc) - 'run_id' - 'event_id'
                FROM study_event_scores sc WHERE sc.run_id = $2 AND sc.event_id = e.id),
             'market', (SELECT COALESCE(jsonb_agg(to_jsonb(m) - 'run_id' - 'event_id'
                  ORDER BY m.window_start, m.window_end), '[]')
                FROM study_market_moves m WHERE m.run_id = $2 AND m.event_id = e.id),
             'categories', (SELECT COALESCE(jsonb_agg((to_jsonb(r) - 'run_id' - 'event_id' - 'caar_path')
                  || jsonb_build_object('category', c.slug) ORDER BY c.slug), '[]')
                FROM study_category_results r JOIN categories c ON c.id = r.category_id
                WHERE r.run_id = $2 AND r.event_id = e.id AND r.window_start = $3 AND r.window_end = $4),
             'tokens', (SELECT COALESCE(jsonb_agg((to_jsonb(r) - 'run_id' - 'event_id')
                  || jsonb_build_object('symbol', t.symbol) ORDER BY t.symbol), '[]')
                FROM study_token_results r JOIN tokens t ON t.id = r.token_id
                WHERE r.run_id = $2 AND r.event_id = e.id AND r.window_start = $3 AND r.window_end = $4),
             'activity', (SELECT COALESCE(jsonb_agg(to_jsonb(v) - 'run_id' - 'event_id'
                  - 'event_time' - 'headline'
                  ORDER BY v.level DESC, v.series, v.measure, v.window_start, v.window_end), '[]')
                FROM activity_reaction_all_runs v WHERE v.run_id = $2 AND v.event_id = e.id)
           ) AS "doc!"
           FROM events e WHERE e.id = $1"#,
        id,
        run_id,
        ws,
        we
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| WebError::NotFound(format!("There is no event {id}.")))?;
    let mut detail: EventDetail = typed(doc, "event detail")?;
    detail.context = super::event_context::api_rows(pool, id, detail.event_time).await?;
    Ok(Json(detail))
}

/// A document built in SQL, read into its type: a mismatch is our bug, logged as such.
fn typed<T: serde::de::DeserializeOwned>(
    doc: serde_json::Value,
    what: &str,
) -> Result<T, ApiError> {
    serde_json::from_value(doc).map_err(|e| {
        tracing::error!("{what} does not fit its schema: {e}");
        ApiError(WebError::Internal(format!(
            "{what} does not fit its schema"
        )))
    })
}

/// Every category with its tokens.
#[utoipa::path(get, path = "/api/v1/categories", tag = "taxonomy",
    responses((status = 200, body = Vec<CategoryOut>)))]
async fn categories(State(state): State<AppState>) -> Result<Json<Vec<CategoryOut>>, ApiError> {
    let doc = sqlx::query_scalar!(
        r#"SELECT COALESCE(jsonb_agg(jsonb_build_object(
             'slug', c.slug, 'name', c.name,
             'excluded_from_aggregates', c.excluded_from_aggregates,
             'tokens', (SELECT COALESCE(jsonb_agg(t.symbol ORDER BY t.symbol), '[]')
                        FROM token_categories tc JOIN tokens t ON t.id = tc.token_id
                        WHERE tc.category_id = c.id)) ORDER BY c.slug), '[]') AS "doc!"
           FROM categories c"#
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(typed(doc, "categories")?))
}

/// Every token with its aliases, categories and number of price bars.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "taxonomy",
    responses((status = 200, body = Vec<TokenOut>)))]
async fn tokens(State(state): State<AppState>) -> Result<Json<Vec<TokenOut>>, ApiError> {
    let doc = sqlx::query_scalar!(
        r#"SELECT COALESCE(jsonb_agg(jsonb_build_object(
             'symbol', t.symbol, 'name', t.name,
             'aliases', (SELECT COALESCE(jsonb_agg(a.alias ORDER BY a.alias), '[]')
                         FROM token_aliases a WHERE a.token_id = t.id),
             'categories', (SELECT COALESCE(jsonb_agg(c.slug ORDER BY c.slug), '[]')
                            FROM token_categories tc JOIN categories c ON c.id = tc.category_id
                            WHERE tc.token_id = t.id),
             'bars', (SELECT count(*) FROM price_bars b WHERE b.token_id = t.id)) ORDER BY t.symbol), '[]') AS "doc!"
           FROM tokens t"#
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(typed(doc, "tokens")?))
}

/// The window of a history request: `window=START:END` in bars, default the summary
/// window.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// START:END in bars from bar 0 (default -24:24; the run's windows: -24:0, 0:1, 0:4,
    /// 0:24, -24:24, -24:72).
    #[param(example = "0:24")]
    pub window: Option<String>,
}

fn history_window(q: &HistoryQuery, default: Window) -> Result<Window, ApiError> {
    match q.window.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => s
            .split_once(':')
            .and_then(|(a, b)| Some(Window::new(a.trim().parse().ok()?, b.trim().parse().ok()?)))
            .filter(|w| !w.is_empty())
            .ok_or_else(|| {
                ApiError(WebError::BadRequest(format!(
                    "window: {s:?} is not START:END in bars, e.g. 0:24"
                )))
            }),
    }
}

/// A category's events: the stories about it, strongest first, then the strongest
/// market-wide ones, with the category's figures over the window.
#[utoipa::path(get, path = "/api/v1/categories/{slug}/events", tag = "taxonomy",
    params(("slug" = String, Path, description = "Category slug", example = "ai"), HistoryQuery),
    responses((status = 200, body = HistoryOut), (status = 404, body = ErrorBody),
              (status = 400, body = ErrorBody)))]
async fn category_events(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<HistoryOut>, ApiError> {
    let pool = &state.pool;
    let cat = if slug.contains('\0') {
        None
    } else {
        hq::category(pool, &slug).await?
    }
    .ok_or_else(|| WebError::NotFound(format!("There is no category {slug:?}.")))?;
    let (run_id, rw, _) = ranking(pool).await?;
    let window = history_window(&query, rw)?;
    let (subject_events, market_events) = hq::category_events(pool, run_id, cat.id, window).await?;
    Ok(Json(HistoryOut {
        subject: cat.slug,
        window_start: window.start,
        window_end: window.end,
        subject_events,
        market_events,
    }))
}

/// A token's events (its symbol, name or an alias): the stories about it or its
/// categories, strongest first, then the strongest market-wide ones.
#[utoipa::path(get, path = "/api/v1/tokens/{symbol}/events", tag = "taxonomy",
    params(("symbol" = String, Path, description = "Symbol, name or alias", example = "RNDR"), HistoryQuery),
    responses((status = 200, body = HistoryOut), (status = 404, body = ErrorBody),
              (status = 400, body = ErrorBody)))]
async fn token_events(
    State(state): State<AppState>,
    Path(symbol): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<HistoryOut>, ApiError> {
    let pool = &state.pool;
    let tok = if symbol.contains('\0') {
        None
    } else {
        hq::token(pool, &symbol).await?
    }
    .ok_or_else(|| WebError::NotFound(format!("There is no token {symbol:?}.")))?;
    let (run_id, rw, _) = ranking(pool).await?;
    let window = history_window(&query, rw)?;
    let (subject_events, market_events) = hq::token_events(pool, run_id, tok.id, window).await?;
    Ok(Json(HistoryOut {
        subject: tok.symbol,
        window_start: window.start,
        window_end: window.end,
        subject_events,
        market_events,
    }))
}
