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

impl WebError {
    /// The status and message the client sees. Failures on our side are logged here and
    /// answered generically: their details never reach the client.
    pub fn public(&self) -> (StatusCode, String) {
        match self {
            WebError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            // A statement ran past CATALYST_WEB_STATEMENT_TIMEOUT: the database is busy or
            // the request too costly; trying again later may well work.
            WebError::Db(e) if crate::db::is_statement_timeout(e) => {
                tracing::warn!(
                    "request failed: {self} (the limit is {})",
                    crate::db::WEB_STATEMENT_TIMEOUT_VAR
                );
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "This took longer to compute than the server allows; try again in a \
                     moment, or narrow the filters."
                        .to_string(),
                )
            }
            WebError::Db(_) | WebError::Template(_) | WebError::Internal(_) => {
                tracing::error!("request failed: {self}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side; it has been logged.".to_string(),
                )
            }
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message) = self.public();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_timeout_is_a_503_that_says_so() {
        #[derive(Debug)]
        struct Canceled;
        impl std::fmt::Display for Canceled {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("canceling statement due to statement timeout")
            }
        }
        impl std::error::Error for Canceled {}
        impl sqlx::error::DatabaseError for Canceled {
            fn message(&self) -> &str {
                "canceling statement due to statement timeout"
            }
            fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
                Some("57014".into())
            }
            fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
                self
            }
            fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
                self
            }
            fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
                self
            }
            fn kind(&self) -> sqlx::error::ErrorKind {
                sqlx::error::ErrorKind::Other
            }
        }
        let e = WebError::Db(sqlx::Error::Database(Box::new(Canceled)));
        let (status, message) = e.public();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(message.contains("longer"), "{message}");
        let other = WebError::Db(sqlx::Error::RowNotFound).public();
        assert_eq!(other.0, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
