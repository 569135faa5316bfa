//! Local fake sources for rehearsing the live tracker, on one replay timeline
//! (`catalyst::clock::Replay`): a news site whose RSS feed shows each story once the
//! market time passes its publication, and a Binance klines API serving the real shared
//! hourly closes (`../shared/data/prices/binance-hourly-close/`, read at run time, never
//! copied) up to the market's now. Used by `tests/live_day.rs` and by
//! `examples/fake_sources.rs` (README, "Going live": the rehearsal).
//!
//! Only closes exist in the shared files, so a kline's open is the previous close, its
//! high and low the larger and smaller of the two, and its volumes 0. Only complete bars
//! are served (open time + 1 h ≤ now). A symbol without a file answers an empty list.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use catalyst::clock::Replay;
use chrono::{DateTime, NaiveDateTime, Utc};

/// One story of the fake news site.
#[derive(Debug, Clone)]
pub struct Story {
    pub published: DateTime<Utc>,
    pub title: String,
    pub summary: String,
    /// Path of the article on the fake site (its link), e.g. `/news/deepseek`.
    pub path: String,
}

/// Hourly closes per Binance symbol (`BTCUSDT`): (open time in ms, close), ascending.
pub type Closes = HashMap<String, Vec<(i64, f64)>>;

/// Read `SYMBOLUSDT.csv` (`open_time,close`) for each symbol from `dir`.
pub fn load_closes(dir: &Path, symbols: &[&str]) -> std::io::Result<Closes> {
    let mut out = Closes::new();
    for symbol in symbols {
        let pair = format!("{symbol}USDT");
        let path = dir.join(format!("{pair}.csv"));
        let text = std::fs::read_to_string(&path)?;
        let mut rows = Vec::new();
        for line in text.lines().skip(1) {
            let Some((time, close)) = line.split_once(',') else {
                continue;
            };
            let (Ok(t), Ok(c)) = (
                NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S"),
                close.trim().parse::<f64>(),
            ) else {
                continue;
            };
            rows.push((t.and_utc().timestamp_millis(), c));
        }
        out.insert(pair, rows);
    }
    Ok(out)
}

/// Every symbol with a file in `dir` (`BTCUSDT.csv` → `BTC`), sorted.
pub fn symbols_in(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut out: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix("USDT.csv"))
                .map(str::to_string)
        })
        .collect();
    out.sort();
    Ok(out)
}

/// The curated events (`demo/curated-events-2024-2025.csv`) as stories.
pub fn curated_stories(csv_text: &str) -> Vec<Story> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    reader
        .records()
        .filter_map(Result::ok)
        .filter_map(|r| {
            let published = DateTime::parse_from_rfc3339(r.get(0)?).ok()?.to_utc();
            let title = r.get(3)?.to_string();
            Some(Story {
                path: format!("/news/{}", slug(&title)),
                published,
                summary: r.get(4).unwrap_or_default().to_string(),
                title,
            })
        })
        .collect()
}

/// The real NewsAPI headlines (`../shared/data/news/newsapi-crypto-2025-01.json`, read
/// at run time) as stories.
pub fn newsapi_stories(json: &str) -> Vec<Story> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    v["articles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let published = DateTime::parse_from_rfc3339(a["publishedAt"].as_str()?)
                .ok()?
                .to_utc();
            let title = a["title"].as_str()?.to_string();
            Some(Story {
                path: format!("/news/{}", slug(&title)),
                published,
                summary: a["description"].as_str().unwrap_or_default().to_string(),
                title,
            })
        })
        .collect()
}

fn slug(title: &str) -> String {
    let s: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.split('-')
        .filter(|w| !w.is_empty())
        .take(10)
        .collect::<Vec<_>>()
        .join("-")
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Items in the feed at most: like a real site's feed, the newest ones.
pub const FEED_ITEMS: usize = 20;

/// What the fake sources serve, and how often they were asked.
pub struct Fake {
    pub replay: Replay,
    pub stories: Vec<Story>,
    pub closes: Closes,
    pub feed_requests: AtomicUsize,
    pub kline_requests: AtomicUsize,
}

impl Fake {
    pub fn new(replay: Replay, stories: Vec<Story>, closes: Closes) -> Arc<Self> {
        Arc::new(Fake {
            replay,
            stories,
            closes,
            feed_requests: AtomicUsize::new(0),
            kline_requests: AtomicUsize::new(0),
        })
    }

    /// The market time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.replay.market_time(Utc::now())
    }

    /// The RSS feed as the site shows it at market time `now`: the newest
    /// [`FEED_ITEMS`] stories published by then.
    pub fn feed_at(&self, base: &str, now: DateTime<Utc>) -> String {
        let mut shown: Vec<&Story> = self.stories.iter().filter(|s| s.published <= now).collect();
        shown.sort_by_key(|s| std::cmp::Reverse(s.published));
        shown.truncate(FEED_ITEMS);
        let items: String = shown
            .iter()
            .map(|s| {
                format!(
                    "<item><title>{}</title><link>{base}{}</link><guid>{base}{}</guid>\
                     <description>{}</description><pubDate>{}</pubDate></item>\n",
                    xml_escape(&s.title),
                    s.path,
                    s.path,
                    xml_escape(&s.summary),
                    s.published.to_rfc2822()
                )
            })
            .collect();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
             <title>Rehearsal news</title><link>{base}/</link>\
             <description>Real headlines, published as the replay reaches them</description>\n\
             {items}</channel></rss>\n"
        )
    }

    /// Klines of `symbol` with open times in [start, end] (ms), complete at `now`.
    pub fn klines_at(
        &self,
        symbol: &str,
        start: i64,
        end: i64,
        limit: usize,
        now: DateTime<Utc>,
    ) -> serde_json::Value {
        let hour = 3_600_000;
        let now_ms = now.timestamp_millis();
        let Some(rows) = self.closes.get(symbol) else {
            return serde_json::json!([]);
        };
        let from = rows.partition_point(|r| r.0 < start);
        let out: Vec<serde_json::Value> = rows[from..]
            .iter()
            .enumerate()
            .take_while(|(_, r)| r.0 <= end && r.0 + hour <= now_ms)
            .take(limit)
            .map(|(k, &(t, close))| {
                let open = if from + k > 0 {
                    rows[from + k - 1].1
                } else {
                    close
                };
                serde_json::json!([
                    t,
                    open.to_string(),
                    open.max(close).to_string(),
                    open.min(close).to_string(),
                    close.to_string(),
                    "0",
                    t + hour - 1,
                    "0",
                    0,
                    "0",
                    "0",
                    "0"
                ])
            })
            .collect();
        serde_json::Value::Array(out)
    }
}

#[derive(serde::Deserialize)]
struct KlineQuery {
    symbol: String,
    #[serde(rename = "startTime")]
    start_time: Option<i64>,
    #[serde(rename = "endTime")]
    end_time: Option<i64>,
    limit: Option<usize>,
}

async fn feed(State((fake, base)): State<(Arc<Fake>, String)>) -> impl IntoResponse {
    fake.feed_requests.fetch_add(1, Ordering::Relaxed);
    (
        [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
        fake.feed_at(&base, fake.now()),
    )
}

async fn klines(
    State((fake, _)): State<(Arc<Fake>, String)>,
    Query(q): Query<KlineQuery>,
) -> impl IntoResponse {
    fake.kline_requests.fetch_add(1, Ordering::Relaxed);
    let body = fake.klines_at(
        &q.symbol,
        q.start_time.unwrap_or(0),
        q.end_time.unwrap_or(i64::MAX),
        q.limit.unwrap_or(500).min(1000),
        fake.now(),
    );
    ([("x-mbx-used-weight-1m", "2")], axum::Json(body))
}

/// Serve the fake sources on `addr` (port 0: any free port) until the task is dropped:
/// `/feed.xml` (the news site) and `/api/v3/klines` (the exchange). Returns the bound
/// address.
pub async fn serve(
    fake: Arc<Fake>,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/feed.xml", get(feed))
        .route("/api/v3/klines", get(klines))
        .with_state((fake, format!("http://{bound}")));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((bound, task))
}
