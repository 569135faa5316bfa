//! A cache of rendered pages, valid while the data version is unchanged.
//!
//! Every write to a table the pages read bumps `data_version` (statement-level triggers,
//! see the migration), so a page rendered at version v is exactly what a new render would
//! give while the version is still v. A hit costs one primary-key read instead of the
//! page's queries and rendering.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::Digest;

use super::AppState;

/// Pages kept at most; past it the cache starts again empty (simple, and a version bump
/// empties it in practice anyway).
const MAX_ENTRIES: usize = 2_048;
/// Larger pages are not cached.
const MAX_BYTES: usize = 4 * 1024 * 1024;
/// How long the data version may take before the cached page is served as it is.
const VERSION_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

#[derive(Clone)]
struct Page {
    version: i64,
    content_type: HeaderValue,
    etag: HeaderValue,
    body: Bytes,
}

#[derive(Clone, Default)]
pub struct PageCache {
    pages: Arc<Mutex<HashMap<String, Page>>>,
}

/// Paths whose responses are not cached (they must be live).
fn uncacheable(path: &str) -> bool {
    matches!(path, "/healthz" | "/metrics")
}

/// Whether a body's size is known and at most `max` bytes (rendered pages, JSON and CSV
/// all know theirs).
pub fn fits(body: &axum::body::Body, max: usize) -> bool {
    http_body::Body::size_hint(body)
        .exact()
        .is_some_and(|n| n <= max as u64)
}

/// A weak ETag over a body (also used by the ETag middleware).
pub fn etag_of(body: &[u8]) -> String {
    format!("W/\"{}\"", &hex::encode(sha2::Sha256::digest(body))[..32])
}

pub async fn serve_cached(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::GET || uncacheable(req.uri().path()) {
        return next.run(req).await;
    }
    let key = req.uri().to_string();
    let version = sqlx::query_scalar!("SELECT version FROM data_version").fetch_one(&state.pool);
    let version = match tokio::time::timeout(VERSION_TIMEOUT, version).await {
        Ok(Ok(v)) => v,
        // The database is down or stuck: a page rendered before is better than none (it
        // was right when the database last answered); without one, render live.
        _ => {
            let stale = state
                .cache
                .pages
                .lock()
                .ok()
                .and_then(|m| m.get(&key).cloned());
            return match stale {
                Some(p) => (
                    [
                        (header::CONTENT_TYPE, p.content_type),
                        (header::ETAG, p.etag),
                    ],
                    p.body,
                )
                    .into_response(),
                None => next.run(req).await,
            };
        }
    };
    let hit = state
        .cache
        .pages
        .lock()
        .ok()
        .and_then(|m| m.get(&key).filter(|p| p.version == version).cloned());
    if let Some(p) = hit {
        return (
            [
                (header::CONTENT_TYPE, p.content_type),
                (header::ETAG, p.etag),
            ],
            p.body,
        )
            .into_response();
    }
    let resp = next.run(req).await;
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // Only a body of known size within the limit is cached; a larger page (or a streamed
    // one) goes out as it is, uncached.
    if !fits(&body, MAX_BYTES) {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BYTES).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "response body failed").into_response();
    };
    let etag = HeaderValue::from_str(&etag_of(&bytes)).ok();
    if let (Some(etag), Some(ct)) = (etag, parts.headers.get(header::CONTENT_TYPE).cloned()) {
        parts.headers.insert(header::ETAG, etag.clone());
        if let Ok(mut m) = state.cache.pages.lock() {
            if m.len() >= MAX_ENTRIES {
                m.clear();
            }
            m.insert(
                key,
                Page {
                    version,
                    content_type: ct,
                    etag,
                    body: bytes.clone(),
                },
            );
        }
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
