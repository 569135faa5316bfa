//! `/feed.xml`: an Atom feed of significant stories, newest first, filterable like the
//! list (`/feed.xml?category=ai`): the simplest alert. A story credited to another
//! story's move is left out (the move has its entry).

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::badge::{Badge, BadgeFacts};
use super::error::WebError;
use super::format::{html_escape, num, p_small};
use super::list_query::{fetch_page, resolve, ListFilter, ListItem, ListQuery};
use super::AppState;
use crate::prices::BarInterval;
use crate::study::engine::Window;

/// Entries in the feed.
pub const FEED_ENTRIES: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new().route("/feed.xml", get(feed))
}

async fn feed(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let filter = ListFilter::parse(&query).map_err(WebError::BadRequest)?;
    let filter = resolve(
        &state.pool,
        ListFilter {
            significant: true,
            by_time: true,
            by_caar: false,
            sort_category: None,
            caar_window: None,
            per_page: Some(FEED_ENTRIES),
            ..filter
        },
    )
    .await?;
    let self_query = filter.query_string();
    let result = fetch_page(&state.pool, &state.keyed, filter).await?;
    let (proxy, interval) = result
        .run
        .as_ref()
        .map(|r| (r.1.proxy.as_str().to_string(), r.1.interval))
        .unwrap_or_else(|| ("BTC".into(), BarInterval::Hour));
    let base = super::event_page::public_url(&headers, "");
    let entries: Vec<&ListItem> = result
        .items
        .iter()
        .filter(|e| e.significant && e.credited_to.is_none() && e.not_ranked_reason.is_none())
        .collect();
    let body = atom(&entries, &base, &self_query, &proxy, interval);
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        body,
    )
        .into_response())
}

/// The Atom document.
pub fn atom(
    entries: &[&ListItem],
    base: &str,
    self_query: &str,
    proxy: &str,
    interval: BarInterval,
) -> String {
    let updated = entries
        .iter()
        .map(|e| e.event_time)
        .max()
        .unwrap_or(chrono::DateTime::UNIX_EPOCH);
    let self_href = if self_query.is_empty() {
        format!("{base}/feed.xml")
    } else {
        format!("{base}/feed.xml?{self_query}")
    };
    let mut s = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>Catalyst: significant market-moving news</title>
<subtitle>Stories whose market reaction is significant against ordinary hours (p below 0.05), newest first.</subtitle>
<id>tag:catalyst,2024:feed{}</id>
<link rel="self" type="application/atom+xml" href="{}"/>
<link rel="alternate" type="text/html" href="{}/"/>
<updated>{}</updated>
<author><name>Catalyst</name></author>
"#,
        if self_query.is_empty() {
            String::new()
        } else {
            format!("?{}", html_escape(self_query))
        },
        html_escape(&self_href),
        html_escape(base),
        rfc3339(updated)
    );
    for e in entries {
        let badge = Badge::of(
            &BadgeFacts {
                top_kind: e.top_kind.as_deref(),
                top_category: e.top_category.as_deref(),
                top_token: e.top_token.as_deref(),
                proxy,
                top_window: e
                    .top_window_start
                    .zip(e.top_window_end)
                    .map(|(a, b)| Window::new(a, b)),
                top_pre_report: e.top_pre_report.unwrap_or(false),
                top_move: e.top_move,
                p_value: e.p_value,
                scored: true,
                ..Default::default()
            },
            interval,
        );
        let summary = format!(
            "{} (score {}, p {})",
            badge.text(),
            num(e.impact_score),
            p_small(e.p_value)
        );
        let href = format!("{base}/events/{}", e.id);
        s.push_str(&format!(
            "<entry>\n<title>{}</title>\n<id>tag:catalyst,2024:event:{}</id>\n<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n<published>{}</published>\n<updated>{}</updated>\n<summary>{}</summary>\n</entry>\n",
            html_escape(&e.headline),
            e.id,
            html_escape(&href),
            rfc3339(e.event_time),
            rfc3339(e.event_time),
            html_escape(&summary)
        ));
    }
    s.push_str("</feed>\n");
    s
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
