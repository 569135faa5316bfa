//! `/sources`: every news source with its articles, events and latest item.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;

use super::error::WebError;
use super::format::utc;
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/sources", get(list))
}

pub struct SourceRow {
    pub name: String,
    pub kind: String,
    pub url: String,
    pub enabled: bool,
    pub articles: i64,
    pub events: i64,
    pub latest: String,
    pub added: String,
}

#[derive(Template)]
#[template(path = "sources.html")]
pub struct SourcesPage {
    pub title: String,
    pub rows: Vec<SourceRow>,
}

async fn list(State(state): State<AppState>) -> Result<Html<String>, WebError> {
    let rows = sqlx::query!(
        r#"SELECT s.name, s.kind, s.url, s.enabled, s.created_at,
                  count(a.id) AS "articles!", count(DISTINCT a.event_id) AS "events!",
                  max(a.published_at) AS latest
           FROM sources s LEFT JOIN articles a ON a.source_id = s.id
           GROUP BY s.id ORDER BY s.name"#
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| SourceRow {
        name: r.name,
        kind: r.kind,
        url: r.url,
        enabled: r.enabled,
        articles: r.articles,
        events: r.events,
        latest: r.latest.map(utc).unwrap_or_else(|| "–".into()),
        added: utc(r.created_at),
    })
    .collect();
    let page = SourcesPage {
        title: "News sources".into(),
        rows,
    };
    Ok(Html(page.render()?))
}
