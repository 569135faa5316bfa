//! The HTML pages' routes and the static assets they use.

use askama::Template;
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;

use super::error::WebError;
use super::glossary::{Term, TERMS};
use super::{event_page, list_page, AppState};

const STYLE_CSS: &str = include_str!("../../static/style.css");
const APP_JS: &str = include_str!("../../static/app.js");
const FAVICON_SVG: &str = include_str!("../../static/favicon.svg");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list_page::list))
        .route("/events/{id}", get(event_page::show))
        .route("/glossary", get(glossary))
        // The glossary's old address.
        .route("/about", get(|| async { Redirect::permanent("/glossary") }))
        .route(
            "/static/style.css",
            get(|| asset("text/css; charset=utf-8", STYLE_CSS)),
        )
        .route(
            "/static/app.js",
            get(|| asset("text/javascript; charset=utf-8", APP_JS)),
        )
        .route("/favicon.svg", get(|| asset("image/svg+xml", FAVICON_SVG)))
        // Browsers ask for /favicon.ico whatever the page says.
        .route("/favicon.ico", get(|| asset("image/svg+xml", FAVICON_SVG)))
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
}

#[derive(Template)]
#[template(path = "glossary.html")]
pub struct GlossaryPage {
    pub title: String,
    pub terms: &'static [Term],
}

/// Every figure, its label, its field name and what it means.
async fn glossary() -> Result<Html<String>, WebError> {
    Ok(Html(
        GlossaryPage {
            title: "Glossary".into(),
            terms: TERMS,
        }
        .render()?,
    ))
}
