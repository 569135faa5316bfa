//! What an item may hold before it is stored. Pure.
//!
//! A feed is written by someone else: one item with a NUL character, a 10 KB link or a
//! 1 MB title must not cost the rest of the feed (PostgreSQL rejects NUL in text, a
//! unique-index entry over about 2.7 KB and a text-search vector over 1 MB, and one failed
//! statement aborts the whole transaction). Every item is cleaned one by one: control
//! characters are dropped, long texts are cut at a character boundary, a long id is
//! replaced by its hash (the identity is kept), and an item whose link is too long for
//! the link index loses the link, or is skipped with the reason when it has no id either.

use sha2::{Digest, Sha256};

use super::feed::NewsItem;

/// Headline, in characters: a headline is a sentence; longer is not a headline.
pub const TITLE_MAX_CHARS: usize = 1_000;
/// Summary, in characters.
pub const SUMMARY_MAX_CHARS: usize = 20_000;
/// Author, in characters.
pub const AUTHOR_MAX_CHARS: usize = 300;
/// A category term, in characters, and how many are kept.
pub const CATEGORY_MAX_CHARS: usize = 100;
pub const CATEGORIES_MAX: usize = 20;
/// Declared tickers: characters each, and how many.
pub const TICKER_MAX_CHARS: usize = 20;
pub const TICKERS_MAX: usize = 50;
/// A link, in bytes: well below the unique index's limit of about 2.7 KB.
pub const URL_MAX_BYTES: usize = 2_048;
/// A feed's own item id, in bytes; longer ids are stored as `sha256:<hex>` of the id.
pub const GUID_MAX_BYTES: usize = 512;
/// A feed's title (the source name made from it), in characters.
pub const FEED_TITLE_MAX_CHARS: usize = 200;

/// `s` without control characters (NUL and the rest of C0/C1, except tab and newline,
/// which become spaces), cut to `max` characters with "…" when longer.
pub fn clean_text(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    // Dropping a character can leave two spaces side by side.
    out = out
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if out.chars().count() > max {
        out = out.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
    }
    out
}

/// An item fit to store, or why it is skipped. `label` names it in the reason.
pub fn clean_item(mut item: NewsItem, label: &str) -> Result<NewsItem, String> {
    item.title = clean_text(&item.title, TITLE_MAX_CHARS);
    if item.title.is_empty() {
        return Err(format!(
            "{label}: no title once control characters are removed"
        ));
    }
    item.summary = item
        .summary
        .map(|s| clean_text(&s, SUMMARY_MAX_CHARS))
        .filter(|s| !s.is_empty());
    item.author = item
        .author
        .map(|s| clean_text(&s, AUTHOR_MAX_CHARS))
        .filter(|s| !s.is_empty());
    item.categories = item
        .categories
        .iter()
        .map(|c| clean_text(c, CATEGORY_MAX_CHARS))
        .filter(|c| !c.is_empty())
        .take(CATEGORIES_MAX)
        .collect();
    item.declared_tickers = item
        .declared_tickers
        .iter()
        .map(|t| clean_text(t, TICKER_MAX_CHARS))
        .filter(|t| !t.is_empty())
        .take(TICKERS_MAX)
        .collect();
    item.guid = item
        .guid
        .map(|g| clean_text(&g, usize::MAX))
        .filter(|g| !g.is_empty())
        .map(|g| {
            if g.len() > GUID_MAX_BYTES {
                format!("sha256:{}", hex::encode(Sha256::digest(g.as_bytes())))
            } else {
                g
            }
        });
    // Canonical URLs hold no control characters (the URL parser percent-encodes them).
    if item.url.as_ref().is_some_and(|u| u.len() > URL_MAX_BYTES) {
        if item.guid.is_none() {
            return Err(format!(
                "{label} ({}): link longer than {URL_MAX_BYTES} bytes and no id",
                item.title
            ));
        }
        item.url = None;
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn item(title: &str) -> NewsItem {
        NewsItem {
            title: title.into(),
            summary: None,
            url: Some("https://news.example/a".into()),
            guid: None,
            published_at: Utc::now(),
            author: None,
            categories: vec![],
            declared_tickers: vec![],
            time_precision: Default::default(),
        }
    }

    #[test]
    fn control_characters_go_and_long_texts_are_cut() {
        assert_eq!(clean_text("Bit\u{0}coin\tfalls\u{7}", 100), "Bitcoin falls");
        let long = "x".repeat(2_000_000);
        let cut = clean_text(&long, TITLE_MAX_CHARS);
        assert_eq!(cut.chars().count(), TITLE_MAX_CHARS);
        assert!(cut.ends_with('…'));
        // Cut at a character boundary, never inside one.
        assert_eq!(clean_text("éééé", 3), "éé…");
    }

    #[test]
    fn long_ids_are_hashed_and_long_links_dropped_or_skipped() {
        let mut i = item("A");
        i.guid = Some("g".repeat(10_000));
        let cleaned = clean_item(i.clone(), "item 1").unwrap();
        let guid = cleaned.guid.unwrap();
        assert!(guid.starts_with("sha256:") && guid.len() == 7 + 64);
        // The same long id gives the same stored id: duplicates are still found.
        assert_eq!(clean_item(i, "item 1").unwrap().guid.unwrap(), guid);

        let mut long_link = item("B");
        long_link.url = Some(format!("https://news.example/{}", "a".repeat(9_000)));
        let err = clean_item(long_link.clone(), "item 2").unwrap_err();
        assert!(err.contains("link longer than 2048 bytes"), "{err}");
        long_link.guid = Some("id-2".into());
        let kept = clean_item(long_link, "item 2").unwrap();
        assert_eq!((kept.url, kept.guid.as_deref()), (None, Some("id-2")));

        assert!(clean_item(item("\u{0}\u{0}"), "item 3").is_err());
    }
}
