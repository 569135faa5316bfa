//! `/metrics` in the Prometheus text format: request counts and latencies per route
//! (recorded by a middleware), and the data's own counters read from PostgreSQL at
//! scrape time (ingest and study run in other processes, so the database is the truth).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::error::WebError;
use super::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// The server's own metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        // 0.25 ms to about 4 s.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
        });
        registry.register(
            "catalyst_http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "catalyst_http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            requests,
            latency,
        }
    }
}

/// Middleware: count and time every request under its route pattern (not its path, so
/// that event ids do not explode the label set).
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = method_label(req.method()).to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    metrics
        .latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(start.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}

/// A method as a label from a closed set: anyone can send any method, and one series per
/// made-up method would grow the scrape without bound.
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// The scrape: the registry, then gauges from the database.
pub async fn render(State(state): State<AppState>) -> Result<Response, WebError> {
    let mut out = String::new();
    encode(&mut out, &state.metrics.registry)
        .map_err(|e| WebError::BadRequest(format!("metrics encoding failed: {e}")))?;
    // `encode` ends with "# EOF"; the database gauges go before it.
    let body = out.trim_end().trim_end_matches("# EOF").to_string();
    let row = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM events) AS "events!",
                  (SELECT count(*) FROM articles) AS "articles!",
                  (SELECT count(*) FROM sources) AS "sources!",
                  (SELECT count(*) FROM study_event_scores) AS "scores!",
                  (SELECT COALESCE(max(extract(epoch FROM finished_at)), 0)::float8
                   FROM study_runs WHERE status = 'complete') AS "last_study!",
                  (SELECT count(*) FROM study_runs WHERE status = 'failed') AS "failed_runs!""#
    )
    .fetch_one(&state.pool)
    .await?;
    let mut text = body;
    for (name, help, value) in [
        (
            "catalyst_events",
            "Events (stories) stored",
            row.events as f64,
        ),
        ("catalyst_articles", "Articles stored", row.articles as f64),
        ("catalyst_sources", "News sources", row.sources as f64),
        (
            "catalyst_study_event_results",
            "Event results across study runs",
            row.scores as f64,
        ),
        (
            "catalyst_study_last_complete_timestamp_seconds",
            "When the last study run completed",
            row.last_study,
        ),
        (
            "catalyst_study_failed_runs",
            "Study runs that failed",
            row.failed_runs as f64,
        ),
    ] {
        text.push_str(&format!(
            "# HELP {name} {help}.\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    }
    text.push_str("# EOF\n");
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::method_label;
    use axum::http::Method;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(method_label(&Method::from_bytes(b"X1").unwrap()), "other");
    }
}
