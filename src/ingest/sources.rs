//! The sources file (`config/sources.toml`): which sites to poll, how often, and how to
//! fetch them. Parsing and validation are pure; `source_store` syncs the result into the
//! `sources` table. The format is documented in the README ("Sources").

use std::time::Duration;

use serde::Deserialize;

use super::http::{FetchConfig, DEFAULT_USER_AGENT};
use super::listing::Selectors;

/// The sources file shipped with Catalyst, used when none is given and
/// `config/sources.toml` is not in the working directory.
pub const BUILTIN_SOURCES: &str = include_str!("../../config/sources.toml");

pub const DEFAULT_POLL_SECS: u32 = 900;
pub const MIN_POLL_SECS: u32 = 10;
pub const DEFAULT_MAX_ARTICLES: u32 = 30;

#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    #[error("{file}: {reason}")]
    Toml { file: String, reason: String },
    #[error("{file}: source {name:?}: {reason}")]
    Invalid {
        file: String,
        name: String,
        reason: String,
    },
}

/// What kind of page a source's URL is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// RSS, Atom or JSON Feed, detected from the document.
    Feed,
    Rss,
    Atom,
    Json,
    /// A listing page scraped with CSS selectors, then each article page.
    Html,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Feed => "feed",
            SourceKind::Rss => "rss",
            SourceKind::Atom => "atom",
            SourceKind::Json => "json",
            SourceKind::Html => "html",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "feed" => SourceKind::Feed,
            "rss" => SourceKind::Rss,
            "atom" => SourceKind::Atom,
            "json" => SourceKind::Json,
            "html" => SourceKind::Html,
            _ => return None,
        })
    }
}

/// One configured source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    pub name: String,
    pub kind: SourceKind,
    pub url: String,
    pub enabled: bool,
    pub poll_interval_secs: u32,
    pub user_agent: Option<String>,
    pub selectors: Option<Selectors>,
    pub max_articles: u32,
}

/// A parsed sources file.
#[derive(Debug, Clone)]
pub struct SourcesFile {
    pub fetch: FetchConfig,
    pub sources: Vec<SourceConfig>,
}

impl SourcesFile {
    pub fn get(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name == name)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    fetch: RawFetch,
    #[serde(default, rename = "source")]
    sources: Vec<RawSource>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFetch {
    user_agent: Option<String>,
    timeout_secs: Option<f64>,
    connect_timeout_secs: Option<f64>,
    retries: Option<u32>,
    backoff_base_ms: Option<u64>,
    backoff_max_secs: Option<f64>,
    max_body_bytes: Option<usize>,
    host_interval_ms: Option<u64>,
    max_redirects: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: String,
    kind: SourceKind,
    url: String,
    #[serde(default = "yes")]
    enabled: bool,
    poll_interval_secs: Option<u32>,
    user_agent: Option<String>,
    html: Option<RawHtml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHtml {
    item: String,
    link: String,
    title: Option<String>,
    time: Option<String>,
    max_articles: Option<u32>,
}

fn yes() -> bool {
    true
}

fn secs(v: f64, file: &str, field: &str) -> Result<Duration, SourcesError> {
    Duration::try_from_secs_f64(v).map_err(|_| SourcesError::Toml {
        file: file.to_string(),
        reason: format!("[fetch] {field} = {v}: not a duration in seconds"),
    })
}

/// Parse and check a sources file; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<SourcesFile, SourcesError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| SourcesError::Toml {
        file: file.to_string(),
        reason: e.to_string().replace('\n', " ").trim().to_string(),
    })?;
    let d = FetchConfig::default();
    let f = raw.fetch;
    let user_agent = f
        .user_agent
        .unwrap_or_else(|| DEFAULT_USER_AGENT.to_string());
    if user_agent.trim().is_empty() || reqwest::header::HeaderValue::from_str(&user_agent).is_err()
    {
        return Err(SourcesError::Toml {
            file: file.into(),
            reason: format!("[fetch] user_agent {user_agent:?} is not a valid header value"),
        });
    }
    let fetch = FetchConfig {
        user_agent,
        timeout: f
            .timeout_secs
            .map(|v| secs(v, file, "timeout_secs"))
            .transpose()?
            .unwrap_or(d.timeout),
        connect_timeout: f
            .connect_timeout_secs
            .map(|v| secs(v, file, "connect_timeout_secs"))
            .transpose()?
            .unwrap_or(d.connect_timeout),
        retries: f.retries.unwrap_or(d.retries),
        backoff_base: f
            .backoff_base_ms
            .map(Duration::from_millis)
            .unwrap_or(d.backoff_base),
        backoff_max: f
            .backoff_max_secs
            .map(|v| secs(v, file, "backoff_max_secs"))
            .transpose()?
            .unwrap_or(d.backoff_max),
        max_body_bytes: f.max_body_bytes.unwrap_or(d.max_body_bytes),
        host_interval: f
            .host_interval_ms
            .map(Duration::from_millis)
            .unwrap_or(d.host_interval),
        max_redirects: f.max_redirects.unwrap_or(d.max_redirects),
        robots_ttl: d.robots_ttl,
    };

    let mut sources: Vec<SourceConfig> = Vec::new();
    for s in raw.sources {
        let invalid = |reason: String| SourcesError::Invalid {
            file: file.to_string(),
            name: s.name.clone(),
            reason,
        };
        if s.name.trim().is_empty() || s.name.trim() != s.name {
            return Err(invalid(
                "the name must be non-empty, without surrounding spaces".into(),
            ));
        }
        if sources.iter().any(|o| o.name == s.name) {
            return Err(invalid("the name is used twice".into()));
        }
        let ok_url = url::Url::parse(&s.url)
            .ok()
            .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if !ok_url {
            return Err(invalid(format!(
                "url {:?} is not an absolute http(s) URL",
                s.url
            )));
        }
        if sources.iter().any(|o| o.url == s.url) {
            return Err(invalid(format!(
                "url {:?} is used by another source",
                s.url
            )));
        }
        let poll = s.poll_interval_secs.unwrap_or(DEFAULT_POLL_SECS);
        if poll < MIN_POLL_SECS {
            return Err(invalid(format!(
                "poll_interval_secs = {poll}: at least {MIN_POLL_SECS}"
            )));
        }
        if let Some(ua) = &s.user_agent {
            if ua.trim().is_empty() || reqwest::header::HeaderValue::from_str(ua).is_err() {
                return Err(invalid(format!(
                    "user_agent {ua:?} is not a valid header value"
                )));
            }
        }
        let (selectors, max_articles) = match (s.kind, s.html) {
            (SourceKind::Html, Some(h)) => {
                let sel = Selectors {
                    item: h.item,
                    link: h.link,
                    title: h.title,
                    time: h.time,
                };
                sel.compile().map_err(|e| invalid(e.to_string()))?;
                let max = h.max_articles.unwrap_or(DEFAULT_MAX_ARTICLES);
                if max == 0 {
                    return Err(invalid("html.max_articles must be at least 1".into()));
                }
                (Some(sel), max)
            }
            (SourceKind::Html, None) => {
                return Err(invalid(
                    "kind = \"html\" needs an [source.html] table with item and link selectors"
                        .into(),
                ))
            }
            (_, Some(_)) => {
                return Err(invalid("[source.html] is only for kind = \"html\"".into()))
            }
            (_, None) => (None, DEFAULT_MAX_ARTICLES),
        };
        sources.push(SourceConfig {
            name: s.name,
            kind: s.kind,
            url: s.url,
            enabled: s.enabled,
            poll_interval_secs: poll,
            user_agent: s.user_agent,
            selectors,
            max_articles,
        });
    }
    Ok(SourcesFile { fetch, sources })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_parses() {
        let f = parse(BUILTIN_SOURCES, "config/sources.toml").unwrap();
        assert!(f.sources.len() >= 6);
        for name in [
            "coindesk",
            "cointelegraph",
            "decrypt",
            "theblock",
            "bitcoinmagazine",
            "cryptoslate",
        ] {
            assert!(f.get(name).is_some(), "{name}");
        }
    }

    #[test]
    fn a_full_entry_and_defaults() {
        let f = parse(
            r#"
[fetch]
user_agent = "TestBot/1.0"
timeout_secs = 0.5
retries = 1
[[source]]
name = "listing"
kind = "html"
url = "http://127.0.0.1:1/news/"
poll_interval_secs = 60
user_agent = "Other/2"
[source.html]
item = "article"
link = "a"
time = "time"
max_articles = 5
[[source]]
name = "feed"
kind = "rss"
url = "https://example.com/rss"
enabled = false
"#,
            "t.toml",
        )
        .unwrap();
        assert_eq!(f.fetch.user_agent, "TestBot/1.0");
        assert_eq!(f.fetch.timeout, Duration::from_millis(500));
        assert_eq!(f.fetch.retries, 1);
        let l = f.get("listing").unwrap();
        assert_eq!(l.kind, SourceKind::Html);
        assert_eq!(l.max_articles, 5);
        assert_eq!(l.selectors.as_ref().unwrap().time.as_deref(), Some("time"));
        let r = f.get("feed").unwrap();
        assert!(!r.enabled);
        assert_eq!(r.poll_interval_secs, DEFAULT_POLL_SECS);
    }

    #[test]
    fn errors_name_the_file_and_the_source() {
        let cases = [
            ("[[source]]\nname = \"a\"\nkind = \"rss\"\nurl = \"ftp://x/\"\n", "source \"a\": url"),
            ("[[source]]\nname = \"a\"\nkind = \"html\"\nurl = \"https://x/\"\n", "needs an [source.html]"),
            ("[[source]]\nname = \"a\"\nkind = \"html\"\nurl = \"https://x/\"\n[source.html]\nitem = \"a\"\nlink = \"a[\"\n", "link selector"),
            ("[[source]]\nname = \"a\"\nkind = \"gopher\"\nurl = \"https://x/\"\n", "line 3"),
            ("[[source]]\nname = \"a\"\nkind = \"rss\"\nurl = \"https://x/\"\npoll_interval_secs = 1\n", "at least 10"),
            ("[[source]]\nname = \"a\"\nkind = \"rss\"\nurl = \"https://x/\"\n[[source]]\nname = \"a\"\nkind = \"rss\"\nurl = \"https://y/\"\n", "used twice"),
            ("[[source]]\nname = \"a\"\nkind = \"rss\"\nurl = \"https://x/\"\nenabeld = true\n", "unknown field"),
        ];
        for (text, expected) in cases {
            let err = parse(text, "s.toml").unwrap_err().to_string();
            assert!(err.starts_with("s.toml: "), "{err}");
            assert!(err.contains(expected), "{expected:?} in {err}");
        }
    }
}
