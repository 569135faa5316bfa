//! Event pages: the ranked list (`/`) and one event (`/events/{id}`), with their queries.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use sqlx::PgPool;

use super::error::WebError;
use super::format::{num, p_value, pct, sign_class, utc};
use super::AppState;
use crate::prices::BarInterval;
use crate::study::engine::{Window, RANKING_WINDOW};

/// At most this many events on the ranked page.
pub const LIST_LIMIT: i64 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list))
        .route("/events/{id}", get(show))
}

/// The study run pages show: the most recently completed one.
async fn current_run(pool: &PgPool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM study_runs WHERE status = 'complete' ORDER BY finished_at DESC LIMIT 1"
    )
    .fetch_optional(pool)
    .await
}

pub struct ListRow {
    pub rank: usize,
    pub id: i64,
    pub time: String,
    pub headline: String,
    pub source: String,
    pub articles: i64,
    pub category: String,
    pub caar: String,
    pub caar_class: &'static str,
    pub score: String,
    pub market: String,
    pub market_class: &'static str,
}

#[derive(Template)]
#[template(path = "events/list.html")]
pub struct ListPage {
    pub title: String,
    pub rows: Vec<ListRow>,
    pub has_run: bool,
    pub window: String,
    pub min_tokens: usize,
}

async fn list(State(state): State<AppState>) -> Result<Html<String>, WebError> {
    let run = current_run(&state.pool).await?;
    let rows = sqlx::query!(
        r#"SELECT e.id, e.event_time, e.headline,
                  (SELECT s.name FROM articles a JOIN sources s ON s.id = a.source_id
                   WHERE a.event_id = e.id ORDER BY a.published_at, a.id LIMIT 1) AS source,
                  (SELECT count(*) FROM articles a WHERE a.event_id = e.id) AS "articles!",
                  sc.impact_score AS "impact_score?", sc.top_caar AS "top_caar?",
                  sc.market_return AS "market_return?", c.name AS "category?"
           FROM events e
           LEFT JOIN study_event_scores sc ON sc.event_id = e.id AND sc.run_id = $1
           LEFT JOIN categories c ON c.id = sc.top_category_id
           ORDER BY sc.impact_score DESC NULLS LAST, e.event_time DESC, e.id
           LIMIT $2"#,
        run,
        LIST_LIMIT
    )
    .fetch_all(&state.pool)
    .await?;
    let rows = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| ListRow {
            rank: i + 1,
            id: r.id,
            time: utc(r.event_time),
            headline: r.headline,
            source: r.source.unwrap_or_default(),
            articles: r.articles,
            category: r.category.unwrap_or_else(|| "–".into()),
            caar: pct(r.top_caar),
            caar_class: sign_class(r.top_caar),
            score: pct(r.impact_score).trim_start_matches('+').to_string(),
            market: pct(r.market_return),
            market_class: sign_class(r.market_return),
        })
        .collect();
    let page = ListPage {
        title: "Events ranked by market impact".into(),
        rows,
        has_run: run.is_some(),
        window: RANKING_WINDOW.label(BarInterval::Hour),
        min_tokens: crate::study::engine::MIN_CATEGORY_TOKENS,
    };
    Ok(Html(page.render()?))
}

pub struct ArticleView {
    pub title: String,
    pub url: Option<String>,
    pub source: String,
    pub published: String,
    pub summary: String,
}

pub struct TagView {
    pub label: String,
    pub rule: String,
    pub matched: String,
    pub ambiguous: bool,
}

pub struct CategoryView {
    pub name: String,
    pub window: String,
    pub n: i32,
    pub caar: String,
    pub caar_class: &'static str,
    pub sd: String,
    pub t: String,
    pub p: String,
    pub is_top: bool,
    pub tagged: bool,
}

pub struct TokenView {
    pub symbol: String,
    pub name: String,
    pub window: String,
    pub car: String,
    pub car_class: &'static str,
    pub token_return: String,
    pub market_return: String,
}

pub struct DroppedView {
    pub symbol: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "events/show.html")]
pub struct EventPage {
    pub title: String,
    pub id: i64,
    pub headline: String,
    pub time: String,
    pub kind: String,
    pub articles: Vec<ArticleView>,
    pub token_tags: Vec<TagView>,
    pub category_tags: Vec<TagView>,
    pub has_run: bool,
    pub score: String,
    pub top_category: String,
    pub top_caar: String,
    pub top_class: &'static str,
    pub market: String,
    pub market_class: &'static str,
    pub categories: Vec<CategoryView>,
    pub tokens: Vec<TokenView>,
    pub dropped: Vec<DroppedView>,
    pub run_params: String,
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

    let articles = sqlx::query!(
        r#"SELECT a.title, a.canonical_url, a.published_at, a.summary, s.name AS source
           FROM articles a JOIN sources s ON s.id = a.source_id
           WHERE a.event_id = $1 ORDER BY a.published_at, a.id"#,
        id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|a| ArticleView {
        title: a.title,
        url: a.canonical_url,
        source: a.source,
        published: utc(a.published_at),
        summary: a.summary.unwrap_or_default(),
    })
    .collect();

    let token_tags = sqlx::query!(
        r#"SELECT DISTINCT t.symbol, t.name, g.rule AS "rule!", g.matched_text AS "matched_text!",
                  g.ambiguous AS "ambiguous!"
           FROM event_token_tags g JOIN tokens t ON t.id = g.token_id
           WHERE g.event_id = $1 ORDER BY 5, 1, 3, 4"#,
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
    })
    .collect();

    let category_tags: Vec<TagView> = sqlx::query!(
        r#"SELECT DISTINCT c.name, g.rule AS "rule!", g.matched_text AS "matched_text!"
           FROM event_category_tags g JOIN categories c ON c.id = g.category_id
           WHERE g.event_id = $1 ORDER BY 1, 2, 3"#,
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
    })
    .collect();

    let score = sqlx::query!(
        r#"SELECT sc.impact_score, sc.top_caar, sc.market_return, c.name AS "category?"
           FROM study_event_scores sc LEFT JOIN categories c ON c.id = sc.top_category_id
           WHERE sc.run_id = $1 AND sc.event_id = $2"#,
        run,
        id
    )
    .fetch_optional(pool)
    .await?;

    let tagged: Vec<String> = category_tags.iter().map(|t| t.label.clone()).collect();
    let top_name = score.as_ref().and_then(|s| s.category.clone());
    let categories = sqlx::query!(
        r#"SELECT c.name, r.window_start, r.window_end, r.n_tokens, r.caar, r.cross_sd,
                  r.t_stat, r.p_value
           FROM study_category_results r JOIN categories c ON c.id = r.category_id
           WHERE r.run_id = $1 AND r.event_id = $2
           ORDER BY r.window_start, r.window_end, abs(r.caar) DESC"#,
        run,
        id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| CategoryView {
        is_top: top_name.as_deref() == Some(r.name.as_str()),
        tagged: tagged.contains(&r.name),
        name: r.name,
        window: Window::new(r.window_start, r.window_end).label(BarInterval::Hour),
        n: r.n_tokens,
        caar: pct(Some(r.caar)),
        caar_class: sign_class(Some(r.caar)),
        sd: pct(r.cross_sd).trim_start_matches('+').to_string(),
        t: num(r.t_stat),
        p: p_value(r.p_value),
    })
    .collect();

    let tokens = sqlx::query!(
        r#"SELECT t.symbol, t.name, r.window_start, r.window_end, r.car, r.token_return, r.market_return
           FROM study_token_results r JOIN tokens t ON t.id = r.token_id
           WHERE r.run_id = $1 AND r.event_id = $2
           ORDER BY r.window_start, r.window_end, r.car"#,
        run,
        id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| TokenView {
        symbol: r.symbol,
        name: r.name,
        window: Window::new(r.window_start, r.window_end).label(BarInterval::Hour),
        car: pct(Some(r.car)),
        car_class: sign_class(Some(r.car)),
        token_return: pct(Some(r.token_return)),
        market_return: pct(Some(r.market_return)),
    })
    .collect();

    let dropped = sqlx::query!(
        r#"SELECT t.symbol, d.reason FROM study_dropped_tokens d JOIN tokens t ON t.id = d.token_id
           WHERE d.run_id = $1 AND d.event_id = $2 ORDER BY t.symbol"#,
        run,
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

    let run_params = match run {
        Some(run_id) => {
            sqlx::query_scalar!(
                "SELECT params::text AS \"p!\" FROM study_runs WHERE id = $1",
                run_id
            )
            .fetch_one(pool)
            .await?
        }
        None => String::new(),
    };

    let page = EventPage {
        title: event.headline.clone(),
        id: event.id,
        headline: event.headline,
        time: utc(event.event_time),
        kind: event.kind.unwrap_or_default(),
        articles,
        token_tags,
        category_tags,
        has_run: run.is_some(),
        score: pct(score.as_ref().and_then(|s| s.impact_score))
            .trim_start_matches('+')
            .to_string(),
        top_category: top_name.unwrap_or_else(|| "–".into()),
        top_caar: pct(score.as_ref().and_then(|s| s.top_caar)),
        top_class: sign_class(score.as_ref().and_then(|s| s.top_caar)),
        market: pct(score.as_ref().and_then(|s| s.market_return)),
        market_class: sign_class(score.as_ref().and_then(|s| s.market_return)),
        categories,
        tokens,
        dropped,
        run_params,
    };
    Ok(Html(page.render()?))
}
