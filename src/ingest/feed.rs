//! Feeds: where to read one (URL or file), fetching it, and parsing RSS 2.0 / Atom /
//! JSON Feed with `feed-rs` into plain news items. Parsing is pure.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::charset::xml_as_utf8;
use super::http::{Fetched, Fetcher, Request};
use super::normalize::{canonical_url, collapse_whitespace, plain_text};
use super::IngestError;

/// Feeds larger than this are refused rather than read into memory.
pub const MAX_FEED_BYTES: usize = 20 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("{input}: larger than {MAX_FEED_BYTES} bytes")]
    TooLarge { input: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{input}: not a valid RSS/Atom/JSON feed: {reason}")]
    Parse { input: String, reason: String },
}

/// Where a feed is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedLocation {
    Url(String),
    File(PathBuf),
}

impl FeedLocation {
    /// `http://` and `https://` are URLs; `file://` and anything else are file paths.
    pub fn parse(s: &str) -> Self {
        if s.starts_with("http://") || s.starts_with("https://") {
            FeedLocation::Url(s.to_string())
        } else {
            FeedLocation::File(PathBuf::from(s.strip_prefix("file://").unwrap_or(s)))
        }
    }

    /// The form stored as the source's URL.
    pub fn as_source_url(&self) -> String {
        match self {
            FeedLocation::Url(u) => u.clone(),
            FeedLocation::File(p) => {
                let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
                format!("file://{}", abs.display())
            }
        }
    }

    /// A short default source name: the host, or the file name.
    pub fn default_name(&self) -> String {
        match self {
            FeedLocation::Url(u) => url::Url::parse(u)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| u.clone()),
            FeedLocation::File(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string()),
        }
    }
}

impl std::fmt::Display for FeedLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedLocation::Url(u) => f.write_str(u),
            FeedLocation::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Read the raw bytes of a feed: a file, or a URL through the polite fetch layer
/// (robots.txt, retries, body cap, charset; see `http`). A fetched feed is re-encoded
/// as UTF-8 (its XML declaration too), as the scheduled sources are.
pub async fn fetch(fetcher: &Fetcher, location: &FeedLocation) -> Result<Vec<u8>, IngestError> {
    match location {
        FeedLocation::File(path) => {
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|source| FeedError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
            if bytes.len() > MAX_FEED_BYTES {
                return Err(FeedError::TooLarge {
                    input: path.display().to_string(),
                }
                .into());
            }
            Ok(bytes)
        }
        FeedLocation::Url(url) => {
            let request = Request {
                url,
                ..Default::default()
            };
            match fetcher.fetch(&request).await? {
                Fetched::Page(page) => Ok(xml_as_utf8(&page.text()).into_owned().into_bytes()),
                // No validators were sent, so a 304 is the server's mistake.
                Fetched::NotModified => Err(IngestError::Source(format!(
                    "{url}: answered 304 Not Modified to an unconditional request"
                ))),
            }
        }
    }
}

/// One news item, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct NewsItem {
    pub title: String,
    pub summary: Option<String>,
    /// Canonical link, when the item has an http(s) link.
    pub url: Option<String>,
    /// The feed's own id for the item.
    pub guid: Option<String>,
    pub published_at: DateTime<Utc>,
    pub author: Option<String>,
    /// The item's categories as the feed gives them (used as the event kind).
    pub categories: Vec<String>,
    /// Tickers the article page declares about itself (see `article`); empty for feeds.
    pub declared_tickers: Vec<String>,
}

/// A parsed feed: its title, its usable items, and why the others were skipped.
#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub items: Vec<NewsItem>,
    pub skipped: Vec<String>,
}

/// Parse RSS 2.0, Atom or JSON Feed. Items without a title, without a date, or without
/// any identity (link or id) are skipped with a reason; a document that is not a feed is
/// an error naming `input`.
pub fn parse(bytes: &[u8], input: &str) -> Result<ParsedFeed, FeedError> {
    parse_at(bytes, input, chrono::Utc::now())
}

/// [`parse`] with the clock given: items dated after `now` (beyond a small skew) or
/// before 2009 are skipped with the reason.
pub fn parse_at(bytes: &[u8], input: &str, now: DateTime<Utc>) -> Result<ParsedFeed, FeedError> {
    let feed = feed_rs::parser::Builder::new()
        .sanitize_content(false)
        .build()
        .parse(bytes)
        .map_err(|e| FeedError::Parse {
            input: input.to_string(),
            reason: e.to_string(),
        })?;
    let mut out = ParsedFeed {
        title: feed
            .title
            .map(|t| collapse_whitespace(&t.content))
            .filter(|t| !t.is_empty()),
        ..Default::default()
    };
    for (n, entry) in feed.entries.into_iter().enumerate() {
        let position = n + 1;
        let title = entry.title.map(|t| text_of(&t)).unwrap_or_default();
        if title.is_empty() {
            out.skipped.push(format!("item {position}: no title"));
            continue;
        }
        let Some(published_at) = entry.published.or(entry.updated) else {
            out.skipped
                .push(format!("item {position} ({title}): no publication date"));
            continue;
        };
        if let Some(why) = super::published::implausible(published_at, now) {
            out.skipped
                .push(format!("item {position} ({title}): {why}"));
            continue;
        }
        let url = entry.links.iter().find_map(|l| canonical_url(&l.href));
        // feed-rs invents an id (a hash) for items without one; an empty id means none.
        let guid = Some(entry.id.trim().to_string()).filter(|g| !g.is_empty());
        if url.is_none() && guid.is_none() {
            out.skipped
                .push(format!("item {position} ({title}): no link and no id"));
            continue;
        }
        let summary = entry.summary.map(|s| text_of(&s)).filter(|s| !s.is_empty());
        let author = entry
            .authors
            .first()
            .and_then(|p| p.name.as_deref().map(collapse_whitespace))
            .filter(|a| !a.is_empty());
        let categories = entry
            .categories
            .iter()
            .map(|c| c.term.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        out.items.push(NewsItem {
            title,
            summary,
            url,
            guid,
            published_at,
            author,
            categories,
            declared_tickers: Vec::new(),
        });
    }
    Ok(out)
}

/// Plain text of a feed text construct: HTML is reduced to its text, plain text is kept
/// as it is (a headline about `<script>` stays one).
fn text_of(t: &feed_rs::model::Text) -> String {
    if t.content_type.essence().to_string() == "text/html" {
        plain_text(&t.content)
    } else {
        collapse_whitespace(&t.content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSS: &str = r#"<?xml version="1.0"?>
<rss version="2.0"><channel><title>Test News</title>
<item><title>NEAR &amp; FET fall</title><link>https://news.example.com/a?utm_source=rss</link>
<guid>https://news.example.com/a</guid><description>&lt;p&gt;AI tokens &lt;b&gt;slide&lt;/b&gt;&lt;/p&gt;</description>
<pubDate>Mon, 27 Jan 2025 10:00:00 +0000</pubDate><category>ai</category></item>
<item><title>No date here</title><link>https://news.example.com/b</link></item>
</channel></rss>"#;

    #[test]
    fn rss_items_are_normalised() {
        let feed = parse(RSS.as_bytes(), "test.xml").unwrap();
        assert_eq!(feed.title.as_deref(), Some("Test News"));
        assert_eq!(feed.items.len(), 1);
        let item = &feed.items[0];
        assert_eq!(item.title, "NEAR & FET fall");
        assert_eq!(item.summary.as_deref(), Some("AI tokens slide"));
        assert_eq!(item.url.as_deref(), Some("https://news.example.com/a"));
        assert_eq!(item.published_at.to_rfc3339(), "2025-01-27T10:00:00+00:00");
        assert_eq!(item.categories, vec!["ai"]);
        assert_eq!(feed.skipped.len(), 1);
        assert!(feed.skipped[0].contains("no publication date"));
    }

    #[test]
    fn atom_dates_with_offsets_become_utc() {
        let atom = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id><updated>2025-01-27T12:00:00+02:00</updated>
<entry><title>Bitcoin dips</title><id>urn:a:1</id><link href="https://a.example/1"/>
<published>2025-01-27T12:00:00+02:00</published><updated>2025-01-27T12:00:00+02:00</updated></entry></feed>"#;
        let feed = parse(atom.as_bytes(), "a.atom").unwrap();
        assert_eq!(
            feed.items[0].published_at.to_rfc3339(),
            "2025-01-27T10:00:00+00:00"
        );
    }

    #[test]
    fn garbage_is_an_error_naming_the_input() {
        let err = parse(b"<html><body>not a feed", "page.html").unwrap_err();
        assert!(
            err.to_string().starts_with("page.html: not a valid"),
            "{err}"
        );
        let err = parse(b"<rss><channel><item><title>cut", "cut.xml").unwrap_err();
        assert!(err.to_string().starts_with("cut.xml"), "{err}");
    }
}
