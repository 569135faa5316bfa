//! Normalisation of what feeds give us: canonical URLs, plain-text summaries, content
//! hashes and title keys. Pure: no I/O.

use sha2::{Digest, Sha256};
use url::Url;

/// Query parameters that only track the reader (compared lower-case), dropped from
/// canonical URLs, besides every `utm_*` parameter. Click ids of ad networks (Facebook,
/// Google, Microsoft, Yandex, TikTok, Twitter), mail campaigns (Mailchimp, HubSpot,
/// Marketo), referrer tags, and publishers' campaign ids.
pub const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "ttclid",
    "twclid",
    "igshid",
    "li_fat_id",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "ref",
    "ref_src",
    "ref_url",
    "referrer",
    "cmpid",
    "ocid",
    "spm",
    "_ga",
    "_gl",
    "s_cid",
    "icid",
    "ncid",
    "sr_share",
];

/// Whether a query parameter only tracks the reader.
pub fn is_tracking_param(name: &str) -> bool {
    let k = name.to_ascii_lowercase();
    k.starts_with("utm_") || TRACKING_PARAMS.contains(&k.as_str())
}

/// The canonical form of an article link, so the same article reached through different
/// links is stored once:
/// - http(s) only, with a host; anything else (relative, ftp:, mailto:) is `None`;
/// - scheme and host lower-case, the default port (80, 443) dropped, percent-encoding
///   and dot segments normalised (all by the `url` crate's WHATWG parser);
/// - no fragment;
/// - no tracking parameters (`utm_*` and [`TRACKING_PARAMS`]), no empty query;
/// - the remaining parameters sorted by name then value (stable for equal names), so
///   `?b=2&a=1` and `?a=1&b=2` agree;
/// - no trailing slash on a non-root path (`/a/b/` is `/a/b`; `/` stays).
pub fn canonical_url(link: &str) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    url.set_fragment(None);
    let mut kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !k.is_empty() && !is_tracking_param(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    kept.sort();
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

    fn canon(s: &str) -> String {
        canonical_url(s).unwrap_or_else(|| panic!("{s} has a canonical form"))
    }

    #[test]
    fn canonical_urls_drop_tracking_fragment_and_case() {
        assert_eq!(
            canon("HTTPS://News.Example.COM/a/b/?utm_source=x&id=3&fbclid=y#top"),
            "https://news.example.com/a/b?id=3"
        );
        assert_eq!(canon("https://example.com/"), "https://example.com/");
        assert_eq!(canonical_url("ftp://example.com/x"), None);
        assert_eq!(canonical_url("/relative/path"), None);
        assert_eq!(canonical_url("mailto:news@example.com"), None);
    }

    #[test]
    fn scheme_and_host_are_lower_cased_but_the_path_is_not() {
        assert_eq!(
            canon("HTTP://WWW.Example.com/News/A"),
            "http://www.example.com/News/A"
        );
    }

    #[test]
    fn default_ports_are_dropped_and_others_kept() {
        assert_eq!(canon("https://example.com:443/a"), "https://example.com/a");
        assert_eq!(canon("http://example.com:80/a"), "http://example.com/a");
        assert_eq!(
            canon("https://example.com:8443/a"),
            "https://example.com:8443/a"
        );
    }

    #[test]
    fn every_listed_tracking_parameter_is_dropped() {
        for p in TRACKING_PARAMS {
            assert_eq!(
                canon(&format!("https://e.com/a?{p}=1")),
                "https://e.com/a",
                "{p}"
            );
            let upper = p.to_ascii_uppercase();
            assert_eq!(
                canon(&format!("https://e.com/a?{upper}=1")),
                "https://e.com/a",
                "{upper}"
            );
        }
        assert_eq!(
            canon("https://e.com/a?utm_medium=rss&utm_campaign=x&UTM_Content=y&page=2"),
            "https://e.com/a?page=2"
        );
        // Names that only contain a tracking word stay.
        assert_eq!(
            canon("https://e.com/a?preference=1"),
            "https://e.com/a?preference=1"
        );
    }

    #[test]
    fn fragments_are_dropped() {
        assert_eq!(canon("https://e.com/a#comments"), "https://e.com/a");
        assert_eq!(canon("https://e.com/a?x=1#"), "https://e.com/a?x=1");
    }

    #[test]
    fn trailing_slashes_go_except_on_the_root() {
        assert_eq!(canon("https://e.com/a/"), "https://e.com/a");
        assert_eq!(canon("https://e.com/a//"), "https://e.com/a");
        assert_eq!(canon("https://e.com"), "https://e.com/");
    }

    #[test]
    fn remaining_query_parameters_are_sorted() {
        assert_eq!(canon("https://e.com/a?b=2&a=1"), "https://e.com/a?a=1&b=2");
        assert_eq!(
            canon("https://e.com/a?id=2&id=1"),
            "https://e.com/a?id=1&id=2"
        );
        assert_eq!(
            canon("https://e.com/a?b=2&utm_source=x&a=1"),
            canon("https://e.com/a?a=1&b=2&fbclid=z")
        );
    }

    #[test]
    fn dot_segments_and_encoding_are_normalised() {
        assert_eq!(canon("https://e.com/a/./b/../c"), "https://e.com/a/c");
        assert_eq!(canon("https://e.com/a b"), "https://e.com/a%20b");
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
