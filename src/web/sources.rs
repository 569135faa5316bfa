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

pub struct RunRow {
    pub source: String,
    pub input: String,
    pub finished: String,
    pub status: String,
    pub counts: String,
    pub error: String,
}

pub struct SourceRow {
    pub name: String,
    pub last_status: String,
    pub runs: i64,
    pub failures: i64,
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
    pub runs: Vec<RunRow>,
}

/// Recent runs shown under the sources.
pub const RECENT_RUNS: i64 = 50;

async fn list(State(state): State<AppState>) -> Result<Html<String>, WebError> {
    let rows = sqlx::query!(
        r#"SELECT s.name, s.kind, s.url, s.enabled, s.created_at,
                  count(a.id) AS "articles!", count(DISTINCT a.event_id) AS "events!",
                  max(a.published_at) AS latest,
                  (SELECT count(*) FROM ingest_runs r WHERE r.source_id = s.id) AS "runs!",
                  (SELECT count(*) FROM ingest_runs r WHERE r.source_id = s.id
                     AND r.status = 'failed') AS "failures!",
                  (SELECT r.status FROM ingest_runs r WHERE r.source_id = s.id
                   ORDER BY r.started_at DESC LIMIT 1) AS last_status
           FROM sources s LEFT JOIN articles a ON a.source_id = s.id
           GROUP BY s.id ORDER BY s.name"#
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| SourceRow {
        name: r.name,
        last_status: r.last_status.unwrap_or_else(|| "–".into()),
        runs: r.runs,
        failures: r.failures,
        kind: r.kind,
        url: r.url,
        enabled: r.enabled,
        articles: r.articles,
        events: r.events,
        latest: r.latest.map(utc).unwrap_or_else(|| "–".into()),
        added: utc(r.created_at),
    })
    .collect();
    let runs = sqlx::query!(
        r#"SELECT COALESCE(s.name, '–') AS "source!", r.input, r.finished_at, r.status,
                  r.fetched, r.new, r.duplicates, r.skipped, r.error
           FROM ingest_runs r LEFT JOIN sources s ON s.id = r.source_id
           ORDER BY r.started_at DESC, r.id DESC LIMIT $1"#,
        RECENT_RUNS
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| RunRow {
        source: r.source,
        input: r.input,
        finished: utc(r.finished_at),
        status: r.status,
        counts: format!(
            "{} items, {} new, {} already stored, {} skipped",
            r.fetched, r.new, r.duplicates, r.skipped
        ),
        error: r.error.unwrap_or_default(),
    })
    .collect();
    let page = SourcesPage {
        title: "News sources".into(),
        rows,
        runs,
    };
    Ok(Html(page.render()?))
}
