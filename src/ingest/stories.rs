//! Stories: which event a new article belongs to. Pure: no I/O (SQL in `story_store`).
//!
//! The rule (docs/stories.md has the reasoning and the measured figures):
//! - An article is reduced to its *terms*: the content words of its title and summary,
//!   lower-cased, stop words dropped, numbers joined ("$100,000" and "100K" are both
//!   `100000`), a plural "s" stripped; each term is a stable 64-bit hash.
//! - Its *entities* are the unambiguous token symbols and the category keywords tagging
//!   found (BTC, deepseek, etf).
//! - Two articles are about the same happening when they were published at most
//!   [`WINDOW`] apart and `score = jaccard(terms) + ENTITY_BOOST × min(shared entities,
//!   MAX_BOOSTED_ENTITIES) − TIME_PENALTY × hours apart / 48` reaches
//!   [`JOIN_THRESHOLD`]. The time penalty keeps a later development of the same topic
//!   (tariffs announced, then paused the next day) out of the first one's event.
//! - A new article joins the event of its most similar candidate; with none it starts a
//!   new event. Events never merge on their own, so a split (`catalyst events split`)
//!   stays split.
//! - Candidates are not all articles in the window: only those sharing a MinHash LSH
//!   band key ([`BANDS`] bands of [`ROWS`] rows) with the new article, looked up by an
//!   index. The cost of one insert depends on the size of its buckets, not on the table
//!   or on how many articles the window holds.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};

/// Articles further apart than this are never the same story.
pub const WINDOW: Duration = Duration::hours(48);
/// Similarity from which an article joins an event.
pub const JOIN_THRESHOLD: f64 = 0.30;
/// Added to the Jaccard similarity per shared entity (token, category keyword).
pub const ENTITY_BOOST: f64 = 0.05;
/// At most this many shared entities count towards the boost.
pub const MAX_BOOSTED_ENTITIES: usize = 2;
/// Subtracted from the score at [`WINDOW`] apart, in proportion below it.
pub const TIME_PENALTY: f64 = 0.25;
/// MinHash LSH: bands per signature.
pub const BANDS: usize = 32;
/// MinHash LSH: rows (hash functions) per band. Two articles with term Jaccard s share
/// a band with probability about 1 - (1 - s^ROWS)^BANDS: 0.87 at s = 0.25, 0.99 at 0.4
/// (a little less: bands made of a single term are skipped, see [`band_keys`]).
pub const ROWS: usize = 2;

/// Words that say nothing about which happening an article reports.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "ahead",
    "all",
    "also",
    "amid",
    "an",
    "and",
    "another",
    "any",
    "are",
    "as",
    "at",
    "back",
    "be",
    "been",
    "before",
    "being",
    "below",
    "between",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "down",
    "during",
    "each",
    "for",
    "from",
    "had",
    "has",
    "have",
    "he",
    "her",
    "here",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "may",
    "more",
    "most",
    "much",
    "new",
    "news",
    "no",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "out",
    "over",
    "report",
    "reportedly",
    "reports",
    "said",
    "say",
    "says",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "up",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
];

/// What clustering knows about one article.
#[derive(Debug, Clone, PartialEq)]
pub struct Story {
    /// Sorted, unique term hashes.
    pub terms: Vec<u64>,
    /// Sorted, unique, lower-case entities.
    pub entities: Vec<String>,
    pub published_at: DateTime<Utc>,
}

impl Story {
    pub fn new(
        title: &str,
        summary: Option<&str>,
        entities: impl IntoIterator<Item = String>,
        published_at: DateTime<Utc>,
    ) -> Self {
        let entities: BTreeSet<String> = entities.into_iter().map(|e| e.to_lowercase()).collect();
        Story {
            terms: terms(title, summary),
            entities: entities.into_iter().collect(),
            published_at,
        }
    }
}

/// An already stored article that may be the same story.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub article_id: i64,
    pub event_id: i64,
    pub story: Story,
}

/// How similar two articles are, and from what.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub jaccard: f64,
    pub shared_entities: usize,
    /// Publication distance in hours.
    pub hours_apart: f64,
    /// Jaccard + entity boost − time penalty: compared with [`JOIN_THRESHOLD`].
    pub score: f64,
}

/// The event a new article joins, and why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    pub article_id: i64,
    pub event_id: i64,
    pub similarity: Similarity,
}

/// The content words of a title and summary, as sorted unique hashes.
pub fn terms(title: &str, summary: Option<&str>) -> Vec<u64> {
    let mut out: BTreeSet<u64> = BTreeSet::new();
    for text in std::iter::once(title).chain(summary) {
        for word in words(text) {
            out.insert(fnv1a(word.as_bytes()));
        }
    }
    out.into_iter().collect()
}

/// Normalised content words of a text (exposed for tests and docs).
pub fn words(text: &str) -> Vec<String> {
    // Join digit groups first: "100,000" and "1.5" stay one number.
    let chars: Vec<char> = text.chars().collect();
    let mut joined = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        if (c == ',' || c == '.') && between_digits {
            continue;
        }
        joined.push(c);
    }
    joined
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| normalise_word(&w.to_lowercase()))
        .filter(|w| {
            !STOP_WORDS.contains(&w.as_str())
                && (w.len() > 1 || w.chars().all(|c| c.is_ascii_digit()))
        })
        .collect()
}

fn normalise_word(w: &str) -> String {
    // "100k" is 100000, "1.5b"-style joins are left alone.
    if let Some(n) = w.strip_suffix('k') {
        if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) {
            return format!("{n}000");
        }
    }
    if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") {
        return w[..w.len() - 1].to_string();
    }
    w.to_string()
}

/// FNV-1a, 64-bit: stable across builds and platforms (the hashes are stored).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// splitmix64 finaliser: a cheap, well-mixed hash of a 64-bit value.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// MinHash signature: for each of BANDS × ROWS seeded hash functions, the smallest hash
/// of any term, and which term (index into `terms`) gave it. Empty without terms.
pub fn signature(terms: &[u64]) -> Vec<(u64, usize)> {
    if terms.is_empty() {
        return Vec::new();
    }
    (0..BANDS * ROWS)
        .map(|i| {
            let seed = mix(i as u64 + 1);
            terms
                .iter()
                .enumerate()
                .map(|(j, &t)| (mix(t ^ seed), j))
                .min()
                .unwrap_or((u64::MAX, 0))
        })
        .collect()
}

/// The LSH band keys of a term set, as (band number, key). Articles sharing a key for
/// the same band are candidates. A band whose rows all come from one term is left out:
/// it would only say "both mention bitcoin", and such buckets hold a large share of all
/// articles (the quadratic case LSH is here to avoid).
pub fn band_keys(terms: &[u64]) -> Vec<(i16, i64)> {
    let sig = signature(terms);
    sig.chunks(ROWS)
        .enumerate()
        .filter(|(_, rows)| rows.iter().any(|r| r.1 != rows[0].1))
        .map(|(band, rows)| {
            let mut h = mix(band as u64);
            for &(r, _) in rows {
                h = mix(h ^ r);
            }
            (band as i16, h as i64)
        })
        .collect()
}

/// Jaccard similarity of two sorted unique lists.
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f64 / (a.len() + b.len() - common) as f64
}

pub fn similarity(a: &Story, b: &Story) -> Similarity {
    let jac = jaccard(&a.terms, &b.terms);
    let shared = a
        .entities
        .iter()
        .filter(|e| b.entities.binary_search(e).is_ok())
        .count();
    let hours_apart = (a.published_at - b.published_at).num_seconds().abs() as f64 / 3600.0;
    let window_hours = WINDOW.num_seconds() as f64 / 3600.0;
    let score = jac + ENTITY_BOOST * shared.min(MAX_BOOSTED_ENTITIES) as f64
        - TIME_PENALTY * (hours_apart / window_hours).min(1.0);
    Similarity {
        jaccard: jac,
        shared_entities: shared,
        hours_apart,
        score,
    }
}

/// The candidate whose event the new article joins: the most similar one within
/// [`WINDOW`] that reaches [`JOIN_THRESHOLD`] (ties: the lower article id).
pub fn best_match<'a>(
    new: &Story,
    candidates: impl IntoIterator<Item = &'a Candidate>,
) -> Option<Match> {
    candidates
        .into_iter()
        .filter(|c| (c.story.published_at - new.published_at).abs() <= WINDOW)
        .map(|c| Match {
            article_id: c.article_id,
            event_id: c.event_id,
            similarity: similarity(new, &c.story),
        })
        .filter(|m| m.similarity.score >= JOIN_THRESHOLD)
        .max_by(|a, b| {
            a.similarity
                .score
                .total_cmp(&b.similarity.score)
                .then(b.article_id.cmp(&a.article_id))
        })
}

/// In-memory clustering with the same rule and the same LSH candidate lookup as the
/// database path: used by the benchmark and by tests of the rule at scale.
#[derive(Debug, Default)]
pub struct StoryIndex {
    articles: Vec<Candidate>,
    buckets: HashMap<(i16, i64), Vec<usize>>,
    next_event: i64,
    /// Candidates compared so far (for the benchmark's figures).
    pub comparisons: usize,
}

impl StoryIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add an article; returns its event id and the match it joined, if any.
    pub fn insert(&mut self, story: Story) -> (i64, Option<Match>) {
        let keys = band_keys(&story.terms);
        let mut seen: BTreeSet<usize> = BTreeSet::new();
        for k in &keys {
            if let Some(ids) = self.buckets.get(k) {
                seen.extend(ids.iter().copied());
            }
        }
        self.comparisons += seen.len();
        let found = best_match(&story, seen.iter().map(|&i| &self.articles[i]));
        let event_id = match found {
            Some(m) => m.event_id,
            None => {
                self.next_event += 1;
                self.next_event
            }
        };
        let idx = self.articles.len();
        self.articles.push(Candidate {
            article_id: idx as i64 + 1,
            event_id,
            story,
        });
        for k in keys {
            self.buckets.entry(k).or_default().push(idx);
        }
        (event_id, found)
    }

    pub fn len(&self) -> usize {
        self.articles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.articles.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 2, 21, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    fn story(title: &str, summary: &str, entities: &[&str], h: i64) -> Story {
        Story::new(
            title,
            Some(summary),
            entities.iter().map(|e| e.to_string()),
            at(h),
        )
    }

    #[test]
    fn words_drop_stop_words_join_numbers_and_plurals() {
        assert_eq!(
            words("Bitcoin tops $100,000 as ETFs draw the money"),
            vec!["bitcoin", "top", "100000", "etf", "draw", "money"]
        );
        assert_eq!(
            words("Bitcoin Price Surpasses $100K"),
            vec!["bitcoin", "price", "surpasse", "100000"]
        );
    }

    #[test]
    fn jaccard_counts_shared_over_union() {
        // {1,2,3} and {2,3,4}: 2 shared of 4 distinct.
        assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard(&[], &[]), 0.0);
        assert_eq!(jaccard(&[7], &[7]), 1.0);
    }

    #[test]
    fn same_story_differently_worded_matches() {
        let a = story(
            "Bybit hacked for about 1.5 billion dollars in ether",
            "The largest exchange hack on record; funds are traced to North Korea's Lazarus Group.",
            &["eth", "lazarus"],
            14,
        );
        let b = story(
            "Crypto exchange Bybit loses $1.5 billion in ether hack",
            "Hackers linked to North Korea's Lazarus Group drained an ether cold wallet.",
            &["eth", "lazarus"],
            15,
        );
        let s = similarity(&a, &b);
        assert!(s.score >= JOIN_THRESHOLD, "{s:?}");
    }

    #[test]
    fn different_story_in_the_same_hour_does_not_match() {
        let hack = story(
            "Bybit hacked for about 1.5 billion dollars in ether",
            "The largest exchange hack on record; funds are traced to North Korea's Lazarus Group.",
            &["eth"],
            14,
        );
        let sec = story(
            "SEC agrees to drop its lawsuit against Coinbase",
            "Coinbase says SEC staff agreed to dismiss the enforcement case.",
            &["sec"],
            13,
        );
        assert!(similarity(&hack, &sec).score < JOIN_THRESHOLD);
    }

    #[test]
    fn a_next_day_development_of_the_same_topic_is_another_event() {
        // Curated events of 2025-02-02 20:00 and 2025-02-03 17:00.
        let crash = story(
            "Crypto crashes after US tariffs on Canada Mexico and China",
            "Record liquidations as tariffs announced over the weekend hit risk assets.",
            &["tariffs"],
            0,
        );
        let pause = story(
            "Trump pauses tariffs on Mexico and Canada",
            "Crypto rebounds after the one-month pauses are announced.",
            &["tariffs"],
            21,
        );
        let s = similarity(&crash, &pause);
        assert!(s.jaccard > 0.25, "{s:?}: much the same words");
        assert!(s.score < JOIN_THRESHOLD, "{s:?}");
    }

    #[test]
    fn best_match_respects_the_window_and_threshold() {
        let a = story(
            "Nvidia results beat forecasts",
            "AI chip demand",
            &["nvidia"],
            1,
        );
        let same_late = story(
            "Nvidia results beat forecasts",
            "AI chip demand",
            &["nvidia"],
            50,
        );
        let cands = [Candidate {
            article_id: 1,
            event_id: 10,
            story: a.clone(),
        }];
        assert!(best_match(&same_late, &cands).is_none(), "49 h apart");
        let same = story(
            "Nvidia results beat forecasts",
            "AI chip demand",
            &["nvidia"],
            -46,
        );
        assert_eq!(best_match(&same, &cands).map(|m| m.event_id), Some(10));
    }

    #[test]
    fn lsh_finds_near_duplicates_in_a_crowded_window() {
        let mut idx = StoryIndex::new();
        // 2000 unrelated synthetic headlines in the same hour...
        for i in 0..2000 {
            let title = format!("token{i} project{} announces upgrade{}", i * 7, i * 13);
            idx.insert(story(&title, "", &[], 0));
        }
        let (e1, _) = idx.insert(story(
            "Bybit hacked for about 1.5 billion dollars in ether",
            "Lazarus Group blamed",
            &["eth"],
            1,
        ));
        let (e2, m) = idx.insert(story(
            "Bybit hacked: 1.5 billion dollars in ether stolen",
            "Lazarus Group blamed",
            &["eth"],
            2,
        ));
        assert_eq!(e1, e2, "{m:?}");
        assert_eq!(idx.len(), 2002);
        // ...and the lookups compared far fewer than all pairs.
        assert!(
            idx.comparisons < 2002 * 2001 / 2 / 50,
            "{}",
            idx.comparisons
        );
    }
}
