//! Normalisation of what feeds give us: canonical URLs, plain-text summaries, content
//! hashes and title keys. Pure: no I/O.

use sha2::{Digest, Sha256};
use url::Url;

/// Query parameters that only track the reader, dropped from canonical URLs.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid", "gclid", "mc_cid", "mc_eid", "ref", "ref_src", "cmpid", "ocid",
];

/// The canonical form of an article link: http(s) only, lower-case scheme and host
/// (the `url` crate does that), no fragment, no tracking parameters (`utm_*` and
/// [`TRACKING_PARAMS`]), no trailing slash on a non-root path. `None` for anything that is
/// not an absolute http(s) URL.
pub fn canonical_url(link: &str) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !k.starts_with("utm_") && !TRACKING_PARAMS.contains(&k.as_str())
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    let path = url.path().to_string();
    if path.len() > 1 && path.ends_with('/') {
        url.set_path(path.trim_end_matches('/'));
    }
    Some(url.to_string())
}

/// Text of an HTML fragment (feed descriptions are often HTML), whitespace collapsed.
pub fn plain_text(html: &str) -> String {
    let fragment = scraper::Html::parse_fragment(html);
    let text: String = fragment.root_element().text().collect::<Vec<_>>().join(" ");
    collapse_whitespace(&text)
}

pub fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A title reduced to lower-case words, for matching the same headline across sources.
pub fn title_key(title: &str) -> String {
    title
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// SHA-256 (hex) of the normalised title and summary: equal for the same text however it
/// was spaced or cased.
pub fn content_hash(title: &str, summary: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(title_key(title).as_bytes());
    h.update([0u8]);
    h.update(title_key(summary.unwrap_or("")).as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_urls_drop_tracking_fragment_and_case() {
        assert_eq!(
            canonical_url("HTTPS://News.Example.COM/a/b/?utm_source=x&id=3&fbclid=y#top")
                .as_deref(),
            Some("https://news.example.com/a/b?id=3")
        );
        assert_eq!(
            canonical_url("https://example.com/").as_deref(),
            Some("https://example.com/")
        );
        assert_eq!(canonical_url("ftp://example.com/x"), None);
        assert_eq!(canonical_url("/relative/path"), None);
    }

    #[test]
    fn plain_text_strips_tags_and_decodes_entities() {
        assert_eq!(
            plain_text("<p>AI &amp; <b>GPU</b>\n news</p>"),
            "AI & GPU news"
        );
    }

    #[test]
    fn content_hash_ignores_spacing_and_case() {
        assert_eq!(
            content_hash("Bitcoin  tops $100K", Some("Big day")),
            content_hash("bitcoin tops 100k", Some("big  DAY!"))
        );
        assert_ne!(content_hash("a", Some("b")), content_hash("a b", None));
    }
}
