//! Article pages: the metadata a news page declares about itself (canonical URL, title,
//! summary, publication time, author, tickers). Pure: HTML text in, values out; never
//! panics on bad markup.
//!
//! Preference order, first found wins:
//! - canonical URL: `<link rel=canonical>`, `og:url`, JSON-LD `url`, then the page's URL;
//! - title: `og:title`, JSON-LD `headline`, `<title>`, the first `<h1>`;
//! - summary: `og:description`, `<meta name=description>`, JSON-LD `description`;
//! - published: `article:published_time`, JSON-LD `datePublished`, `<time datetime>`,
//!   `<meta name=date|pubdate|publish-date|parsely-pub-date>`;
//! - author: `<meta name=author>`, `article:author` (when not a URL), JSON-LD `author`.
//!
//! Tickers the page *declares* (not those its text mentions: tagging finds those):
//! `<meta name="tickers">` or `<meta name="cashtags">` (comma- or space-separated, `$`
//! optional); `$`-prefixed entries of `<meta name="keywords">`, `news_keywords` and
//! `article:tag` (a plain keyword such as "ETF" is not a ticker); JSON-LD `about` /
//! `mentions` entries with a `tickerSymbol`. Each is upper-cased and kept only if it is
//! 2–10 letters or digits.

use chrono::{DateTime, Utc};
use scraper::{Html, Selector};
use serde_json::Value;

use super::normalize::{canonical_url, collapse_whitespace};
use super::published::parse_time;

/// What an article page says about itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticleMeta {
    /// Canonical http(s) URL (normalised), falling back to the page's own URL.
    pub canonical_url: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    /// Publication time in UTC, when one of the time fields parsed.
    pub published_at: Option<DateTime<Utc>>,
    /// Time text that was present but did not parse (for the skip reason).
    pub unparsed_time: Option<String>,
    pub author: Option<String>,
    pub tickers: Vec<String>,
}

/// Extract the metadata of the page at `page_url` (used to resolve relative links).
pub fn extract(html: &str, page_url: &str) -> ArticleMeta {
    let doc = Html::parse_document(html);
    let base = url::Url::parse(page_url).ok();
    let ld = json_ld(&doc);
    let resolve = |href: &str| -> Option<String> {
        let abs = match &base {
            Some(b) => b.join(href.trim()).ok()?.to_string(),
            None => href.trim().to_string(),
        };
        canonical_url(&abs)
    };

    let canonical = attr(&doc, "link[rel~=canonical]", "href")
        .and_then(|h| resolve(&h))
        .or_else(|| meta(&doc, "og:url").and_then(|h| resolve(&h)))
        .or_else(|| ld_str(&ld, "url").and_then(|h| resolve(&h)))
        .or_else(|| canonical_url(page_url));
    let title = meta(&doc, "og:title")
        .or_else(|| ld_str(&ld, "headline"))
        .or_else(|| text(&doc, "title"))
        .or_else(|| text(&doc, "h1"));
    let summary = meta(&doc, "og:description")
        .or_else(|| meta(&doc, "description"))
        .or_else(|| ld_str(&ld, "description"));

    let time_texts = [
        meta(&doc, "article:published_time"),
        ld_str(&ld, "datePublished"),
        attr(&doc, "time[datetime]", "datetime"),
        meta(&doc, "date"),
        meta(&doc, "pubdate"),
        meta(&doc, "publish-date"),
        meta(&doc, "parsely-pub-date"),
    ];
    let mut published_at = None;
    let mut unparsed_time = None;
    for t in time_texts.into_iter().flatten() {
        match parse_time(&t) {
            Some(parsed) => {
                published_at = Some(parsed);
                break;
            }
            None => {
                unparsed_time.get_or_insert(t);
            }
        }
    }
    if published_at.is_some() {
        unparsed_time = None;
    }

    let author = meta(&doc, "author")
        .or_else(|| meta(&doc, "article:author").filter(|a| !a.starts_with("http")))
        .or_else(|| ld.iter().find_map(|v| person_name(v.get("author")?)));

    ArticleMeta {
        canonical_url: canonical,
        title,
        summary,
        published_at,
        unparsed_time,
        author,
        tickers: declared_tickers(&doc, &ld),
    }
}

fn selector(css: &str) -> Option<Selector> {
    Selector::parse(css).ok()
}

/// Content of `<meta name=KEY>` or `<meta property=KEY>`, whitespace collapsed, non-empty.
fn meta(doc: &Html, key: &str) -> Option<String> {
    all_meta(doc, key).into_iter().next()
}

fn all_meta(doc: &Html, key: &str) -> Vec<String> {
    let Some(sel) = selector("meta[content]") else {
        return Vec::new();
    };
    doc.select(&sel)
        .filter(|m| {
            let v = m.value();
            [v.attr("name"), v.attr("property"), v.attr("itemprop")]
                .into_iter()
                .flatten()
                .any(|n| n.eq_ignore_ascii_case(key))
        })
        .filter_map(|m| m.value().attr("content"))
        .map(collapse_whitespace)
        .filter(|c| !c.is_empty())
        .collect()
}

fn attr(doc: &Html, css: &str, name: &str) -> Option<String> {
    let sel = selector(css)?;
    doc.select(&sel)
        .filter_map(|e| e.value().attr(name))
        .map(collapse_whitespace)
        .find(|v| !v.is_empty())
}

fn text(doc: &Html, css: &str) -> Option<String> {
    let sel = selector(css)?;
    doc.select(&sel)
        .map(|e| collapse_whitespace(&e.text().collect::<Vec<_>>().join(" ")))
        .find(|t| !t.is_empty())
}

/// The page's JSON-LD objects, `@graph` members flattened in; unparsable blocks ignored.
fn json_ld(doc: &Html) -> Vec<Value> {
    let Some(sel) = selector(r#"script[type="application/ld+json"]"#) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for script in doc.select(&sel) {
        let raw: String = script.text().collect();
        let Ok(v) = serde_json::from_str::<Value>(raw.trim()) else {
            continue;
        };
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::Array(items) => stack.extend(items.into_iter().rev()),
                Value::Object(mut map) => {
                    if let Some(graph) = map.remove("@graph") {
                        stack.push(graph);
                    }
                    out.push(Value::Object(map));
                }
                _ => {}
            }
        }
    }
    out
}

fn ld_str(ld: &[Value], key: &str) -> Option<String> {
    ld.iter()
        .filter_map(|v| v.get(key)?.as_str())
        .map(collapse_whitespace)
        .find(|s| !s.is_empty())
}

/// A JSON-LD author: a name, a Person object, or a list of either (first wins).
fn person_name(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(collapse_whitespace(s)).filter(|s| !s.is_empty()),
        Value::Object(m) => m.get("name").and_then(person_name),
        Value::Array(items) => items.iter().find_map(person_name),
        _ => None,
    }
}

fn declared_tickers(doc: &Html, ld: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |raw: &str| {
        let sym = raw.trim().trim_start_matches('$').to_ascii_uppercase();
        if (2..=10).contains(&sym.len())
            && sym.bytes().all(|b| b.is_ascii_alphanumeric())
            && !out.contains(&sym)
        {
            out.push(sym);
        }
    };
    for key in ["tickers", "cashtags"] {
        for content in all_meta(doc, key) {
            content.split([',', ' ', ';']).for_each(&mut push);
        }
    }
    for key in ["keywords", "news_keywords", "article:tag"] {
        for content in all_meta(doc, key) {
            content
                .split([',', ' ', ';'])
                .filter(|k| k.trim().starts_with('$'))
                .for_each(&mut push);
        }
    }
    for v in ld {
        for key in ["about", "mentions"] {
            let entries = match v.get(key) {
                Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
                Some(other) => vec![other],
                None => continue,
            };
            for e in entries {
                if let Some(sym) = e.get("tickerSymbol").and_then(Value::as_str) {
                    push(sym);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<!doctype html><html><head>
<title>Ignored when og:title exists | Site</title>
<link rel="canonical" href="/markets/2025/01/27/deepseek-selloff/">
<meta property="og:title" content="Crypto market nosedives as DeepSeek fears rattle AI trade">
<meta property="og:description" content="AI tokens  slide; FET and RENDER lead losses.">
<meta property="article:published_time" content="2025-01-27T12:00:00+02:00">
<meta name="author" content="Jane Reporter">
<meta name="keywords" content="AI, $FET, ETF, $render">
<meta name="tickers" content="BTC, $ETH">
<script type="application/ld+json">{"@context":"https://schema.org","@graph":[
 {"@type":"NewsArticle","datePublished":"2025-01-27T10:00:00Z",
  "about":[{"@type":"Thing","tickerSymbol":"NVDA"},{"name":"no ticker"}]}]}</script>
</head><body><h1>Headline</h1></body></html>"#;

    #[test]
    fn page_metadata_is_read_in_preference_order() {
        let m = extract(PAGE, "https://news.example.com/x?utm_source=tw");
        assert_eq!(
            m.canonical_url.as_deref(),
            Some("https://news.example.com/markets/2025/01/27/deepseek-selloff")
        );
        assert_eq!(
            m.title.as_deref(),
            Some("Crypto market nosedives as DeepSeek fears rattle AI trade")
        );
        assert_eq!(
            m.summary.as_deref(),
            Some("AI tokens slide; FET and RENDER lead losses.")
        );
        assert_eq!(
            m.published_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2025-01-27T10:00:00+00:00")
        );
        assert_eq!(m.author.as_deref(), Some("Jane Reporter"));
        assert_eq!(m.tickers, vec!["BTC", "ETH", "FET", "RENDER", "NVDA"]);
    }

    #[test]
    fn fallbacks_title_tag_json_ld_time_and_time_element() {
        let page = r#"<html><head><title> Bitcoin  tops $100k </title>
<script type="application/ld+json">[{"@type":"NewsArticle","datePublished":"1733356800000",
"author":[{"@type":"Person","name":"A. Writer"}]}]</script>
<meta name="description" content="BTC crosses six figures."></head><body></body></html>"#;
        let m = extract(page, "https://b.example/p/1#top");
        assert_eq!(m.canonical_url.as_deref(), Some("https://b.example/p/1"));
        assert_eq!(m.title.as_deref(), Some("Bitcoin tops $100k"));
        assert_eq!(m.summary.as_deref(), Some("BTC crosses six figures."));
        // 1733356800 = 2024-12-05T00:00:00Z.
        assert_eq!(
            m.published_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2024-12-05T00:00:00+00:00")
        );
        assert_eq!(m.author.as_deref(), Some("A. Writer"));
        assert!(m.tickers.is_empty());

        let page = r#"<html><body><h1>Solana ETF filed</h1>
<time datetime="Tue, 14 Jan 2025 09:30:00 -0500">Jan 14</time></body></html>"#;
        let m = extract(page, "https://c.example/a");
        assert_eq!(m.title.as_deref(), Some("Solana ETF filed"));
        assert_eq!(
            m.published_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2025-01-14T14:30:00+00:00")
        );
    }

    #[test]
    fn unparsable_time_is_reported_and_garbage_does_not_panic() {
        let m = extract(
            r#"<meta property="article:published_time" content="last Tuesday">"#,
            "https://d.example/",
        );
        assert_eq!(m.published_at, None);
        assert_eq!(m.unparsed_time.as_deref(), Some("last Tuesday"));
        for junk in [
            "",
            "<",
            "<<<>>>",
            "<script type=\"application/ld+json\">{",
            "\u{0}\u{ffff}",
        ] {
            let _ = extract(junk, "not a url");
        }
    }
}
