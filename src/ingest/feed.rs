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
    /// How exactly `published_at` is known.
    pub time_precision: TimePrecision,
}

/// How exactly a publication time is known. A feed says so with a category in the
/// `time-precision` domain (`<category domain="time-precision">day</category>`): a
/// curated list often knows only the day of a report, and its "10:00" is a placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimePrecision {
    /// To the minute or better.
    #[default]
    Exact,
    /// To the hour.
    Hour,
    /// Only the day: the time of day is a placeholder.
    Day,
}

impl TimePrecision {
    /// The domain (RSS) or scheme (Atom) of the category that carries it.
    pub const DOMAIN: &'static str = "time-precision";

    pub fn as_str(self) -> &'static str {
        match self {
            TimePrecision::Exact => "exact",
            TimePrecision::Hour => "hour",
            TimePrecision::Day => "day",
        }
    }

    /// "exact" (or "minute", "second"), "hour" or "day"; anything else is not a precision.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "exact" | "minute" | "second" => Some(TimePrecision::Exact),
            "hour" => Some(TimePrecision::Hour),
            "day" | "date" => Some(TimePrecision::Day),
            _ => None,
        }
    }
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
    let repaired = repair_json_surrogates(bytes);
    let bytes: &[u8] = &repaired;
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
            .map(|t| {
                super::limits::clean_text(
                    &collapse_whitespace(&t.content),
                    super::limits::FEED_TITLE_MAX_CHARS,
                )
            })
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
        let is_precision = |c: &feed_rs::model::Category| {
            c.scheme.as_deref().map(str::trim) == Some(TimePrecision::DOMAIN)
        };
        let time_precision = entry
            .categories
            .iter()
            .filter(|c| is_precision(c))
            .find_map(|c| TimePrecision::parse(&c.term))
            .unwrap_or_default();
        let categories = entry
            .categories
            .iter()
            .filter(|c| !is_precision(c))
            .map(|c| c.term.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        let item = NewsItem {
            title,
            summary,
            url,
            guid,
            published_at,
            author,
            categories,
            declared_tickers: Vec::new(),
            time_precision,
        };
        match super::limits::clean_item(item, &format!("item {position}")) {
            Ok(item) => out.items.push(item),
            Err(why) => out.skipped.push(why),
        }
    }
    Ok(out)
}

/// Panics unless every item of `feed` is one PostgreSQL stores: no NUL character, and
/// every text within `limits`. For fuzzing and property tests.
pub fn assert_storable(feed: &ParsedFeed) {
    use super::limits::*;
    let ok = |s: &str, max_chars: usize| !s.contains('\0') && s.chars().count() <= max_chars;
    if let Some(t) = &feed.title {
        assert!(ok(t, FEED_TITLE_MAX_CHARS), "feed title {t:?}");
    }
    for i in &feed.items {
        assert!(
            !i.title.is_empty() && ok(&i.title, TITLE_MAX_CHARS),
            "title {:?}",
            i.title
        );
        assert!(i
            .summary
            .as_deref()
            .is_none_or(|s| ok(s, SUMMARY_MAX_CHARS)));
        assert!(i.author.as_deref().is_none_or(|s| ok(s, AUTHOR_MAX_CHARS)));
        assert!(i
            .url
            .as_deref()
            .is_none_or(|u| !u.contains('\0') && u.len() <= URL_MAX_BYTES));
        assert!(i
            .guid
            .as_deref()
            .is_none_or(|g| !g.contains('\0') && g.len() <= GUID_MAX_BYTES));
        assert!(i.categories.len() <= CATEGORIES_MAX);
        assert!(i.categories.iter().all(|c| ok(c, CATEGORY_MAX_CHARS)));
    }
}

/// A JSON Feed may escape half of a UTF-16 surrogate pair (`"\ud800"`), which is no
/// character; the JSON parser then rejects the whole feed. Such lone halves become
/// U+FFFD (`\ufffd`), so one bad title costs nothing else. Other input is returned as is.
pub fn repair_json_surrogates(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    use std::borrow::Cow;
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF);
    if start.map(|i| bytes[i]) != Some(b'{') || !bytes.windows(2).any(|w| w == b"\\u") {
        return Cow::Borrowed(bytes);
    }
    // The value of a `\uXXXX` escape at `i` (the backslash), if it is one.
    let hex_at = |i: usize| -> Option<u16> {
        let h = bytes.get(i + 2..i + 6)?;
        if bytes.get(i + 1) != Some(&b'u') {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match hex_at(i) {
            Some(hi @ 0xD800..=0xDBFF) => {
                if matches!(hex_at(i + 6), Some(0xDC00..=0xDFFF))
                    && bytes.get(i + 6) == Some(&b'\\')
                {
                    out.extend_from_slice(&bytes[i..i + 12]);
                    i += 12;
                } else {
                    let _ = hi;
                    out.extend_from_slice(b"\\ufffd");
                    i += 6;
                }
            }
            Some(0xDC00..=0xDFFF) => {
                out.extend_from_slice(b"\\ufffd");
                i += 6;
            }
            _ => {
                // Any other escape (including `\\`) is copied with the character it escapes.
                out.push(bytes[i]);
                if let Some(&next) = bytes.get(i + 1) {
                    out.push(next);
                }
                i += 2;
            }
        }
    }
    Cow::Owned(out)
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
    fn a_time_precision_category_is_read_and_not_kept_as_a_category() {
        let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>DeepSeek R1 tops the app store</title><guid isPermaLink="false">c:1</guid>
<pubDate>Mon, 27 Jan 2025 10:00:00 +0000</pubDate><category>ai</category>
<category domain="time-precision">day</category></item></channel></rss>"#;
        let item = &parse(rss.as_bytes(), "t.xml").unwrap().items[0];
        assert_eq!(item.time_precision, TimePrecision::Day);
        assert_eq!(item.categories, vec!["ai"]);
        assert_eq!(TimePrecision::parse(" Hour "), Some(TimePrecision::Hour));
        assert_eq!(TimePrecision::parse("weekly"), None);
    }

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
        assert_eq!(item.time_precision, TimePrecision::Exact);
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

    /// One bad item costs only itself: a NUL in a title is dropped, a lone surrogate in a
    /// JSON Feed becomes U+FFFD, and the other items are kept.
    #[test]
    fn nul_characters_and_lone_surrogates_cost_nothing_else() {
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"T","items":[
            {"id":"1","title":"A \ud800 B \u0000 C","url":"https://x.example/1","date_published":"2025-01-27T10:00:00Z"},
            {"id":"2","title":"Pair \ud83d\ude80 and \\ud800 text","url":"https://x.example/2","date_published":"2025-01-27T10:00:00Z"}]}"#;
        let feed = parse(json.as_bytes(), "j.json").unwrap();
        assert_eq!(feed.items.len(), 2);
        assert_eq!(feed.items[0].title, "A \u{fffd} B C");
        assert_eq!(feed.items[1].title, "Pair 🚀 and \\ud800 text");
        let xml = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T\u{0}</title>\
            <item><title>A \u{0} B</title><link>https://x.example/1</link>\
            <pubDate>Mon, 27 Jan 2025 10:00:00 +0000</pubDate></item></channel></rss>";
        let feed = parse(xml.as_bytes(), "x.xml").unwrap();
        assert_eq!(feed.items[0].title, "A B");
        assert_eq!(feed.title.as_deref(), Some("T"));
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
