//! One error type for every page handler, mapped to a status and an error page here.
//! Database and template failures are logged and answered with a generic 500 page: their
//! details never reach the client.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("template error: {0}")]
    Template(#[from] askama::Error),
    /// Our own bug, logged where it is found; the client sees a generic 500.
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    status: u16,
    message: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            WebError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            WebError::Db(_) | WebError::Template(_) | WebError::Internal(_) => {
                tracing::error!("request failed: {self}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side; it has been logged.".to_string(),
                )
            }
        };
        let page = ErrorPage {
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            message: &message,
        };
        match page.render() {
            Ok(body) => (status, Html(body)).into_response(),
            Err(_) => (status, message).into_response(),
        }
    }
}
