//! A category's or a token's event history: `/categories/{slug}` and `/tokens/{symbol}`,
//! ranked by the size of its own reaction, with a chart of its reactions over time.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;

use super::chart;
use super::error::WebError;
use super::events::{current_run, Cell};
use super::format::{num, p_value, pct, sign_class, utc};
use super::AppState;
use crate::prices::BarInterval;
use crate::study::engine::{Window, RANKING_WINDOW};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/categories/{slug}", get(category))
        .route("/tokens/{symbol}", get(token))
}

pub struct HistoryRow {
    pub id: i64,
    pub time: String,
    pub headline: String,
    pub tagged: bool,
    pub n: String,
    pub reaction: Cell,
    pub stat: String,
    pub p: String,
    pub score: String,
}

#[derive(Template)]
#[template(path = "history.html")]
pub struct HistoryPage {
    pub title: String,
    pub subject: String,
    pub what: String,
    pub window: String,
    pub stat_label: String,
    pub members: String,
    pub rows: Vec<HistoryRow>,
    pub chart: String,
}

/// The run the pages show, its ranking window and bar interval.
async fn ranking(pool: &sqlx::PgPool) -> Result<(Option<i64>, Window, BarInterval), sqlx::Error> {
    Ok(match current_run(pool).await? {
        Some((id, p)) => (Some(id), p.ranking_window, p.interval),
        None => (None, RANKING_WINDOW, BarInterval::Hour),
    })
}

/// A chart of reactions (fractions) over calendar time; `points` in any order.
fn reaction_chart(title: &str, mut points: Vec<(chrono::DateTime<chrono::Utc>, f64)>) -> String {
    if points.is_empty() {
        return String::new();
    }
    points.sort_by_key(|p| p.0);
    // x: days since the first event; the label says from when.
    let t0 = points[0].0;
    let days = |t: chrono::DateTime<chrono::Utc>| (t - t0).num_seconds() as f64 / 86_400.0;
    chart::Chart {
        title: title.to_string(),
        x_label: format!("days since {}", t0.format("%Y-%m-%d")),
        y_label: "reaction (%)".into(),
        lines: vec![chart::Line {
            label: "reaction".into(),
            colour: Some(chart::PALETTE[0]),
            points: points.iter().map(|(t, v)| (days(*t), v * 100.0)).collect(),
        }],
        band: Vec::new(),
        event_x: None,
    }
    .render()
}

async fn category(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Html<String>, WebError> {
    let pool = &state.pool;
    // No category has a NUL character (PostgreSQL refuses one in text).
    if slug.contains('\0') {
        return Err(WebError::NotFound(format!(
            "There is no category {slug:?}."
        )));
    }
    let cat = sqlx::query!("SELECT id, name FROM categories WHERE slug = $1", slug)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("There is no category {slug:?}.")))?;
    let members = sqlx::query_scalar!(
        r#"SELECT t.symbol FROM token_categories tc JOIN tokens t ON t.id = tc.token_id
           WHERE tc.category_id = $1 ORDER BY t.symbol"#,
        cat.id
    )
    .fetch_all(pool)
    .await?;
    let (run_id, rw, interval) = ranking(pool).await?;
    let rows = sqlx::query!(
        r#"SELECT e.id, e.event_time, e.headline, r.n_tokens, r.caar, r.portfolio_car,
                  r.portfolio_t, r.portfolio_p, sc.impact_score,
                  EXISTS (SELECT 1 FROM event_category_tags g WHERE g.event_id = e.id
                          AND g.category_id = $2) AS "tagged!"
           FROM study_category_results r
           JOIN events e ON e.id = r.event_id
           LEFT JOIN study_event_scores sc ON sc.run_id = r.run_id AND sc.event_id = r.event_id
           WHERE r.run_id = $1 AND r.category_id = $2 AND r.window_start = $3 AND r.window_end = $4
           ORDER BY abs(COALESCE(r.portfolio_t, 0)) DESC, e.event_time DESC"#,
        run_id,
        cat.id,
        rw.start,
        rw.end
    )
    .fetch_all(pool)
    .await?;
    let points = rows.iter().map(|r| (r.event_time, r.caar)).collect();
    let page = HistoryPage {
        title: format!("{} category", cat.name),
        subject: cat.name.clone(),
        what: "CAAR".into(),
        window: rw.label(interval),
        stat_label: "portfolio t".into(),
        members: members.join(", "),
        chart: reaction_chart(&format!("{} CAAR per event", cat.name), points),
        rows: rows
            .into_iter()
            .map(|r| HistoryRow {
                id: r.id,
                time: utc(r.event_time),
                headline: r.headline,
                tagged: r.tagged,
                n: r.n_tokens.to_string(),
                reaction: Cell {
                    text: pct(Some(r.caar)),
                    class: sign_class(Some(r.caar)),
                },
                stat: num(r.portfolio_t),
                p: p_value(r.portfolio_p),
                score: num(r.impact_score),
            })
            .collect(),
    };
    Ok(Html(page.render()?))
}

async fn token(
    State(state): State<AppState>,
    Path(symbol): Path<String>,
) -> Result<Html<String>, WebError> {
    let pool = &state.pool;
    let symbol = symbol.to_ascii_uppercase();
    if symbol.contains('\0') {
        return Err(WebError::NotFound(format!("There is no token {symbol:?}.")));
    }
    let tok = sqlx::query!(
        "SELECT id, symbol, name FROM tokens WHERE symbol = $1",
        symbol
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| WebError::NotFound(format!("There is no token {symbol:?}.")))?;
    let categories = sqlx::query_scalar!(
        r#"SELECT c.name FROM token_categories tc JOIN categories c ON c.id = tc.category_id
           WHERE tc.token_id = $1 ORDER BY c.name"#,
        tok.id
    )
    .fetch_all(pool)
    .await?;
    let (run_id, rw, interval) = ranking(pool).await?;
    let rows = sqlx::query!(
        r#"SELECT e.id, e.event_time, e.headline, r.car, r.scar, sc.impact_score,
                  EXISTS (SELECT 1 FROM event_token_tags g WHERE g.event_id = e.id
                          AND g.token_id = $2 AND NOT g.ambiguous) AS "tagged!"
           FROM study_token_results r
           JOIN events e ON e.id = r.event_id
           LEFT JOIN study_event_scores sc ON sc.run_id = r.run_id AND sc.event_id = r.event_id
           WHERE r.run_id = $1 AND r.token_id = $2 AND r.window_start = $3 AND r.window_end = $4
           ORDER BY abs(COALESCE(r.scar, 0)) DESC, e.event_time DESC"#,
        run_id,
        tok.id,
        rw.start,
        rw.end
    )
    .fetch_all(pool)
    .await?;
    let points = rows.iter().map(|r| (r.event_time, r.car)).collect();
    let page = HistoryPage {
        title: format!("{} ({})", tok.symbol, tok.name),
        subject: format!("{} ({})", tok.symbol, tok.name),
        what: "CAR".into(),
        window: rw.label(interval),
        stat_label: "SCAR".into(),
        members: categories.join(", "),
        chart: reaction_chart(&format!("{} CAR per event", tok.symbol), points),
        rows: rows
            .into_iter()
            .map(|r| HistoryRow {
                id: r.id,
                time: utc(r.event_time),
                headline: r.headline,
                tagged: r.tagged,
                n: String::new(),
                reaction: Cell {
                    text: pct(Some(r.car)),
                    class: sign_class(Some(r.car)),
                },
                stat: num(r.scar),
                p: String::new(),
                score: num(r.impact_score),
            })
            .collect(),
    };
    Ok(Html(page.render()?))
}
