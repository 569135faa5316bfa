//! HTML listing pages: the article links (with title and time, when the listing shows
//! them) picked out with a source's CSS selectors. Pure.

use chrono::{DateTime, Utc};
use scraper::{ElementRef, Html, Selector};

use super::normalize::{canonical_url, collapse_whitespace};
use super::published::parse_time;

/// A source's selectors; `item` and `link` are required, the others optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selectors {
    pub item: String,
    pub link: String,
    pub title: Option<String>,
    pub time: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error("{field} selector {css:?} is not valid CSS: {reason}")]
    BadSelector {
        field: &'static str,
        css: String,
        reason: String,
    },
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingItem {
    /// Absolute, canonical article URL.
    pub url: String,
    pub title: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
}

/// Compiled selectors.
#[derive(Debug)]
pub struct Compiled {
    item: Selector,
    link: Selector,
    title: Option<Selector>,
    time: Option<Selector>,
}

impl Selectors {
    /// Compile, naming the selector that is not valid CSS.
    pub fn compile(&self) -> Result<Compiled, ListingError> {
        let one = |field: &'static str, css: &str| {
            Selector::parse(css).map_err(|e| ListingError::BadSelector {
                field,
                css: css.to_string(),
                reason: e.to_string(),
            })
        };
        Ok(Compiled {
            item: one("item", &self.item)?,
            link: one("link", &self.link)?,
            title: self.title.as_deref().map(|c| one("title", c)).transpose()?,
            time: self.time.as_deref().map(|c| one("time", c)).transpose()?,
        })
    }
}

/// The listing's items in page order, links resolved against `page_url`, each URL once.
/// Items without a usable http(s) link are left out.
pub fn parse_listing(html: &str, page_url: &str, sel: &Compiled) -> Vec<ListingItem> {
    let doc = Html::parse_document(html);
    let base = url::Url::parse(page_url).ok();
    let mut out: Vec<ListingItem> = Vec::new();
    for item in doc.select(&sel.item) {
        // The item itself may be the link (`item = "a.story"`, `link = "a.story"`).
        let link_el = if sel.link.matches(&item) {
            Some(item)
        } else {
            item.select(&sel.link).next()
        };
        let Some(href) = link_el.and_then(|e| e.value().attr("href")) else {
            continue;
        };
        let abs = match &base {
            Some(b) => b.join(href.trim()).map(|u| u.to_string()).ok(),
            None => Some(href.trim().to_string()),
        };
        let Some(url) = abs.as_deref().and_then(canonical_url) else {
            continue;
        };
        if out.iter().any(|i| i.url == url) {
            continue;
        }
        let title = match &sel.title {
            Some(t) => item.select(t).next().map(text_of),
            None => link_el.map(text_of),
        }
        .filter(|t| !t.is_empty());
        let published_at = sel
            .time
            .as_ref()
            .and_then(|t| item.select(t).next())
            .and_then(|e| {
                e.value()
                    .attr("datetime")
                    .and_then(parse_time)
                    .or_else(|| parse_time(&text_of(e)))
            });
        out.push(ListingItem {
            url,
            title,
            published_at,
        });
    }
    out
}

fn text_of(e: ElementRef<'_>) -> String {
    collapse_whitespace(&e.text().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(title: Option<&str>, time: Option<&str>) -> Compiled {
        Selectors {
            item: "article.story".into(),
            link: "a.headline".into(),
            title: title.map(str::to_string),
            time: time.map(str::to_string),
        }
        .compile()
        .unwrap()
    }

    const LISTING: &str = r#"<html><body><main>
<article class="story"><a class="headline" href="/news/sec-approves-etfs?utm_source=home">SEC approves the first spot bitcoin ETFs</a>
  <time datetime="2024-01-10T21:10:00Z">Jan 10</time></article>
<article class="story"><a class="headline" href="https://other.example/news/halving">Bitcoin's fourth halving</a>
  <span class="when">2024-04-20T00:09:00Z</span></article>
<article class="story"><span>no link here</span></article>
<article class="story"><a class="headline" href="/news/sec-approves-etfs">repeat</a></article>
<article class="story"><a class="headline" href="mailto:x@y">mail</a></article>
</main></body></html>"#;

    #[test]
    fn items_links_titles_and_times() {
        let items = parse_listing(
            LISTING,
            "https://site.example/latest/",
            &sel(None, Some("time, .when")),
        );
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(items[0].url, "https://site.example/news/sec-approves-etfs");
        assert_eq!(
            items[0].title.as_deref(),
            Some("SEC approves the first spot bitcoin ETFs")
        );
        assert_eq!(
            items[0].published_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2024-01-10T21:10:00+00:00")
        );
        assert_eq!(items[1].url, "https://other.example/news/halving");
        assert_eq!(
            items[1].published_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2024-04-20T00:09:00+00:00")
        );
    }

    #[test]
    fn bad_css_names_the_selector() {
        let err = Selectors {
            item: "article".into(),
            link: "a[".into(),
            title: None,
            time: None,
        }
        .compile()
        .unwrap_err();
        assert!(err.to_string().starts_with("link selector \"a[\""), "{err}");
    }
}
