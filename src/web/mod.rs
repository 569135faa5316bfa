//! The web app: server-rendered pages (askama) over axum. It only reads; writes belong to
//! ingest, prices and study.

pub mod api;
pub mod api_docs;
pub mod api_types;
pub mod badge;
pub mod cache;
pub mod chart;
pub mod data_version;
pub mod error;
pub mod event_activity;
pub mod event_charts;
pub mod event_context;
pub mod event_moves;
pub mod event_page;
pub mod evidence;
pub mod feed;
pub mod format;
pub mod glossary;
pub mod history;
pub mod history_query;
pub mod list_page;
pub mod list_query;
pub mod live_status;
pub mod metrics;
pub mod moves;
pub mod pages;
pub mod run;
pub mod server;
pub mod sources;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{header, HeaderValue};
use axum::routing::get;
use axum::Router;
use sqlx::PgPool;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::WebError;

/// No inline scripts and nothing from other origins.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

#[derive(Clone)]
pub struct AppState {
    /// The pages' connections, planning each statement with its values (the list's
    /// optional filters are pruned by the planner).
    pub pool: PgPool,
    /// Connections for the queries keyed by ids, whose plans are cached
    /// (`db::keyed_pool_of`); the same pool as `pool` unless [`AppState::with_keyed`].
    pub keyed: PgPool,
    pub metrics: metrics::Metrics,
    pub cache: cache::PageCache,
    /// When `/healthz` last saw the database answer.
    pub last_healthy: std::sync::Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

impl AppState {
    pub fn new(pool: PgPool) -> Self {
        AppState {
            keyed: pool.clone(),
            pool,
            metrics: metrics::Metrics::default(),
            cache: cache::PageCache::default(),
            last_healthy: Default::default(),
        }
    }
}

impl AppState {
    /// This state with `keyed` for the queries keyed by ids.
    pub fn with_keyed(self, keyed: PgPool) -> Self {
        AppState { keyed, ..self }
    }

    /// The state a server runs with: `pool`, and a keyed pool beside it.
    pub async fn serving(pool: PgPool) -> std::io::Result<Self> {
        let keyed = crate::db::keyed_pool_of(&pool)
            .await
            .map_err(std::io::Error::other)?;
        Ok(AppState::new(pool).with_keyed(keyed))
    }
}

/// Every route, and the middleware stacked once over all of them.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(pages::router())
        .route("/categories/{slug}", get(history::category))
        .route("/tokens/{symbol}", get(history::token))
        .route("/api", get(api_docs::reference))
        .merge(api::router())
        .merge(feed::router())
        .merge(sources::router())
        .merge(moves::router())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cache::serve_cached,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .with_state(state)
        .layer(axum::middleware::from_fn(etag))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
        .layer(TraceLayer::new_for_http())
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

/// Largest page whose ETag is computed (larger ones go out without).
const ETAG_MAX_BYTES: usize = 8 * 1024 * 1024;

/// An ETag over every successful GET body, and 304 when the client has it: pages change
/// only when the data does, so revalidation saves the transfer. Weak (`W/`), because the
/// compression layer outside may send the same content gzip-encoded.
async fn etag(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let is_get = req.method() == axum::http::Method::GET;
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let resp = next.run(req).await;
    if !is_get || resp.status() != axum::http::StatusCode::OK {
        return resp;
    }
    // The page cache already tagged what it serves.
    if let Some(tag) = resp.headers().get(header::ETAG).cloned() {
        if if_none_match.as_ref() == Some(&tag) {
            let mut not_modified = axum::http::StatusCode::NOT_MODIFIED.into_response();
            not_modified.headers_mut().insert(header::ETAG, tag);
            return not_modified;
        }
        let mut resp = resp;
        resp.headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-cache"));
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // A larger (or streamed) body goes out without an ETag rather than failing.
    if !cache::fits(&body, ETAG_MAX_BYTES) {
        return axum::response::Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, ETAG_MAX_BYTES).await else {
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "response body failed",
        )
            .into_response();
    };
    let tag = cache::etag_of(&bytes);
    if if_none_match.as_ref().and_then(|v| v.to_str().ok()) == Some(tag.as_str()) {
        let mut not_modified = axum::http::StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(&tag) {
            not_modified.headers_mut().insert(header::ETAG, v);
        }
        return not_modified;
    }
    if let Ok(v) = HeaderValue::from_str(&tag) {
        parts.headers.insert(header::ETAG, v);
    }
    parts
        .headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-cache"));
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// How long `/healthz` waits for the database.
const HEALTH_TIMEOUT: Duration = Duration::from_millis(700);

/// 200 "ok" when the database answers within [`HEALTH_TIMEOUT`], 503 otherwise: a check
/// answers within a second whatever the database does (down, paused, saturated), and
/// says when the database last answered.
async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, String) {
    let check = sqlx::query_scalar!("SELECT 1 AS \"one!\"").fetch_one(&state.pool);
    let failure = match tokio::time::timeout(HEALTH_TIMEOUT, check).await {
        Ok(Ok(_)) => {
            if let Ok(mut last) = state.last_healthy.lock() {
                *last = Some(std::time::Instant::now());
            }
            return (axum::http::StatusCode::OK, "ok\n".into());
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} ms", HEALTH_TIMEOUT.as_millis()),
    };
    tracing::warn!("health check failed: {failure}");
    let last = state
        .last_healthy
        .lock()
        .ok()
        .and_then(|l| *l)
        .map(|t| format!("; it last answered {} s ago", t.elapsed().as_secs()))
        .unwrap_or_default();
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        format!("database unavailable ({failure}){last}\n"),
    )
}

async fn not_found() -> WebError {
    WebError::NotFound("There is no page at this address.".into())
}

/// Bind `addr` and serve until `shutdown` completes. Returns the bound address through
/// `on_bound` first (useful with port 0).
pub async fn serve(
    pool: PgPool,
    addr: SocketAddr,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_limits(pool, addr, server::Limits::default(), on_bound, shutdown).await
}

/// Bind `addr` for [`serve_on`]. A busy port or a bad address is an error that says so,
/// before anything else starts.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, BindError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| BindError { addr, error })
}

#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {error}{}", hint(.error))]
pub struct BindError {
    pub addr: SocketAddr,
    pub error: std::io::Error,
}

fn hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            " (another program serves there: pass --addr or set CATALYST_ADDR)"
        }
        _ => "",
    }
}

/// Serve on a bound `listener` until `shutdown` completes.
pub async fn serve_on(
    pool: PgPool,
    listener: tokio::net::TcpListener,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    on_bound(listener.local_addr()?);
    server::run(
        listener,
        router(AppState::serving(pool).await?),
        server::Limits::default(),
        shutdown,
    )
    .await
}

/// [`serve`] with the connection limits given (tests shorten them).
pub async fn serve_with_limits(
    pool: PgPool,
    addr: SocketAddr,
    limits: server::Limits,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    on_bound(listener.local_addr()?);
    server::run(
        listener,
        router(AppState::serving(pool).await?),
        limits,
        shutdown,
    )
    .await
}
