//! Tagging: which tokens and categories a headline is about, and why. Pure: no I/O.
//!
//! Rules (each tag records the rule and the exact text that matched):
//! - Every pattern (ticker, name, alias, keyword) matches only as a whole word: the
//!   characters either side may not be letters or digits ("TRX" never matches inside
//!   "MATRIX").
//! - Patterns written all in capitals (tickers such as NEAR, acronyms such as GPU) match
//!   case-sensitively, so the ticker NEAR never matches the word "near". Other patterns
//!   (names, most keywords) match in any case.
//! - Where token patterns overlap, the longest wins ("Bitcoin Cash" is BCH, not BTC).
//! - `$TICKER` is a cashtag; "Name (TICKER)" tags both parts with rule name-with-ticker.
//! - Ambiguous patterns (config/tagging.toml: AI, World, Render, ...) tag a token only in
//!   those explicit forms. A bare match that keeps the pattern's exact spelling is kept
//!   but flagged `ambiguous` and implies no categories; other bare matches are dropped.
//! - Collisions (config/tagging.toml `[collisions]`: GRT, UNI, PAN) are tickers shared
//!   with other assets or words. A bare one counts only when the same text also names
//!   the token (its name or a non-ticker alias, spelled as in the taxonomy: "The Graph"
//!   for GRT, "Uniswap" for UNI) or is about one of the token's categories (another
//!   unambiguous token or a keyword of that category: GRT beside FET is The Graph);
//!   otherwise it is kept but flagged `ambiguous`, with the collision's note as the
//!   reason. `$GRT` and "The Graph (GRT)" always count.
//! - In a headline written mostly in capitals, bare tickers are not trusted (flagged).
//! - Every flagged tag carries a `note` saying why, stored and shown on the event page.
//! - A token tag that is not ambiguous tags each of the token's categories (rule token).

use std::collections::BTreeSet;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

pub use super::salience::Salience;
use super::salience::{Judge, Layout};
use crate::taxonomy::{SalienceRules, TaggingRules, TokenDef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TokenRule {
    Ticker,
    Cashtag,
    Name,
    Alias,
    NameWithTicker,
}

impl TokenRule {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRule::Ticker => "ticker",
            TokenRule::Cashtag => "cashtag",
            TokenRule::Name => "name",
            TokenRule::Alias => "alias",
            TokenRule::NameWithTicker => "name-with-ticker",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CategoryRule {
    Keyword,
    Token,
}

impl CategoryRule {
    pub fn as_str(self) -> &'static str {
        match self {
            CategoryRule::Keyword => "keyword",
            CategoryRule::Token => "token",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenTag {
    pub symbol: String,
    pub rule: TokenRule,
    pub matched_text: String,
    /// Subject of the story or a passing mention (see `salience`).
    pub salience: Salience,
    pub ambiguous: bool,
    /// Why the tag is flagged ambiguous (None when it is not).
    pub note: Option<String>,
    /// Why the tag is a mention (or how a subject was declared).
    pub salience_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CategoryTag {
    pub slug: String,
    pub rule: CategoryRule,
    pub matched_text: String,
    pub salience: Salience,
    pub salience_note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    pub tokens: Vec<TokenTag>,
    pub categories: Vec<CategoryTag>,
}

impl Tags {
    /// Symbols tagged without ambiguity as a subject of the story, sorted and unique.
    pub fn subject_symbols(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self
            .tokens
            .iter()
            .filter(|t| !t.ambiguous && t.salience == Salience::Subject)
            .map(|t| t.symbol.as_str())
            .collect();
        set.into_iter().collect()
    }

    /// Category slugs tagged as a subject of the story, sorted and unique.
    pub fn subject_slugs(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self
            .categories
            .iter()
            .filter(|c| c.salience == Salience::Subject)
            .map(|c| c.slug.as_str())
            .collect();
        set.into_iter().collect()
    }

    /// Symbols tagged without ambiguity, sorted and unique.
    pub fn symbols(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self
            .tokens
            .iter()
            .filter(|t| !t.ambiguous)
            .map(|t| t.symbol.as_str())
            .collect();
        set.into_iter().collect()
    }

    /// Category slugs tagged, sorted and unique.
    pub fn slugs(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self.categories.iter().map(|c| c.slug.as_str()).collect();
        set.into_iter().collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternKind {
    Ticker,
    Name,
    Alias,
    Keyword,
}

#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    kind: PatternKind,
    /// Token index (into `Tagger::tokens`) or category slug.
    token: Option<usize>,
    category: Option<String>,
    ambiguous: bool,
}

/// A compiled tagger over a taxonomy. Build once, tag many texts.
pub struct Tagger {
    tokens: Vec<TokenDef>,
    /// Ticker to what it collides with.
    collisions: std::collections::BTreeMap<String, String>,
    patterns: Vec<Pattern>,
    /// Automaton over case-sensitive patterns, and the pattern index of each entry.
    exact: (AhoCorasick, Vec<usize>),
    /// Automaton over case-insensitive patterns.
    folded: (AhoCorasick, Vec<usize>),
    salience: SalienceRules,
}

fn is_all_caps(s: &str) -> bool {
    s.chars().any(|c| c.is_alphabetic()) && !s.chars().any(|c| c.is_lowercase())
}

impl Tagger {
    pub fn new(tokens: &[TokenDef], rules: &TaggingRules) -> Self {
        let ambiguous: BTreeSet<&str> = rules.ambiguous.iter().map(String::as_str).collect();
        let mut patterns = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            let mut push = |text: &str, kind: PatternKind| {
                patterns.push(Pattern {
                    text: text.to_string(),
                    kind,
                    token: Some(i),
                    category: None,
                    ambiguous: ambiguous.contains(text),
                })
            };
            push(&t.symbol, PatternKind::Ticker);
            if t.name != t.symbol {
                push(&t.name, PatternKind::Name);
            }
            for alias in &t.aliases {
                let kind = if is_all_caps(alias) && !alias.contains(' ') {
                    PatternKind::Ticker
                } else {
                    PatternKind::Alias
                };
                push(alias, kind);
            }
        }
        for (slug, words) in &rules.keywords {
            for w in words {
                patterns.push(Pattern {
                    text: w.clone(),
                    kind: PatternKind::Keyword,
                    token: None,
                    category: Some(slug.clone()),
                    ambiguous: false,
                });
            }
        }
        let build = |case_sensitive: bool| {
            let idx: Vec<usize> = patterns
                .iter()
                .enumerate()
                .filter(|(_, p)| is_all_caps(&p.text) == case_sensitive)
                .map(|(i, _)| i)
                .collect();
            let texts: Vec<&str> = idx.iter().map(|&i| patterns[i].text.as_str()).collect();
            let ac = AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(!case_sensitive)
                .build(texts)
                .expect("tagging patterns compile: they are plain strings");
            (ac, idx)
        };
        let exact = build(true);
        let folded = build(false);
        Tagger {
            tokens: tokens.to_vec(),
            collisions: rules.collisions.clone(),
            patterns,
            exact,
            folded,
            salience: rules.salience.clone(),
        }
    }

    /// Tag a text as if it were all headline.
    pub fn tag(&self, text: &str) -> Tags {
        self.tag_layout(
            text,
            Layout {
                title_end: text.len(),
                declared_start: text.len(),
            },
        )
    }

    /// Tag an article: its headline, its summary and the tickers its page declares.
    /// Where a match lies decides its salience (a summary-only name is a mention).
    pub fn tag_article(&self, title: &str, summary: Option<&str>, declared: &[String]) -> Tags {
        let mut text = title.to_string();
        let title_end = text.len();
        if let Some(s) = summary {
            text.push('\n');
            text.push_str(s);
        }
        let declared_start = text.len();
        if !declared.is_empty() {
            text.push('\n');
            let cashtags: Vec<String> = declared.iter().map(|t| format!("${t}")).collect();
            text.push_str(&cashtags.join(" "));
        }
        self.tag_layout(
            &text,
            Layout {
                title_end,
                declared_start,
            },
        )
    }

    fn tag_layout(&self, text: &str, layout: Layout) -> Tags {
        let shouting = is_shouting(text);
        // (start, end, pattern index) of whole-word matches.
        let mut hits: Vec<(usize, usize, usize)> = Vec::new();
        for (ac, idx) in [&self.exact, &self.folded] {
            for m in ac.find_overlapping_iter(text) {
                let (s, e) = (m.start(), m.end());
                if is_word_boundary(text, s, e) {
                    hits.push((s, e, idx[m.pattern().as_usize()]));
                }
            }
        }
        // Longest first; ties by position. Token and keyword matches overlap freely.
        hits.sort_by_key(|&(s, e, _)| (std::cmp::Reverse(e - s), s));
        let mut taken_token: Vec<(usize, usize)> = Vec::new();
        let mut taken_keyword: Vec<(usize, usize)> = Vec::new();
        let mut tags = Tags::default();
        // Where each token tag and keyword tag matched, for salience.
        let mut token_at: Vec<(usize, usize)> = Vec::new();
        let mut keyword_at: Vec<(usize, usize)> = Vec::new();
        for (s, e, pi) in hits {
            let p = &self.patterns[pi];
            let taken = if p.kind == PatternKind::Keyword {
                &mut taken_keyword
            } else {
                &mut taken_token
            };
            if taken.iter().any(|&(ts, te)| s < te && ts < e) {
                continue;
            }
            let matched = &text[s..e];
            match (p.kind, p.token, &p.category) {
                (PatternKind::Keyword, _, Some(slug)) => {
                    taken.push((s, e));
                    keyword_at.push((s, e));
                    tags.categories.push(CategoryTag {
                        slug: slug.clone(),
                        rule: CategoryRule::Keyword,
                        matched_text: matched.to_string(),
                        salience: Salience::Subject,
                        salience_note: None,
                    });
                }
                (kind, Some(ti), _) => {
                    let Some((rule, note)) = self.token_rule(text, s, e, kind, ti, p, shouting)
                    else {
                        continue;
                    };
                    taken.push((s, e));
                    token_at.push((s, e));
                    tags.tokens.push(TokenTag {
                        symbol: self.tokens[ti].symbol.clone(),
                        rule,
                        matched_text: matched.to_string(),
                        salience: Salience::Subject,
                        ambiguous: note.is_some(),
                        note,
                        salience_note: None,
                    });
                }
                _ => {}
            }
        }
        if !shouting {
            self.confirm_collisions_by_context(&mut tags);
        }
        // Salience, from where each match lies among all of them.
        let judge = Judge::new(&self.salience, text, layout);
        let tagged: Vec<(usize, usize)> = token_at
            .iter()
            .zip(&tags.tokens)
            .filter(|(_, t)| !t.ambiguous)
            .map(|(r, _)| *r)
            .chain(keyword_at.iter().copied())
            .collect();
        for (t, &(s, e)) in tags.tokens.iter_mut().zip(&token_at) {
            (t.salience, t.salience_note) = judge.judge(s, e, &tagged);
        }
        for (c, &(s, e)) in tags.categories.iter_mut().zip(&keyword_at) {
            (c.salience, c.salience_note) = judge.judge(s, e, &tagged);
        }
        for t in &tags.tokens {
            if t.ambiguous {
                continue;
            }
            if let Some(def) = self.tokens.iter().find(|d| d.symbol == t.symbol) {
                for slug in &def.categories {
                    tags.categories.push(CategoryTag {
                        slug: slug.clone(),
                        rule: CategoryRule::Token,
                        matched_text: t.symbol.clone(),
                        salience: t.salience,
                        salience_note: t.salience_note.clone(),
                    });
                }
            }
        }
        // One tag per (what, rule, text): a subject anywhere wins over a mention.
        tags.tokens.sort();
        tags.tokens.dedup_by(|b, a| {
            a.symbol == b.symbol && a.rule == b.rule && a.matched_text == b.matched_text
        });
        tags.categories.sort();
        tags.categories.dedup_by(|b, a| {
            a.slug == b.slug && a.rule == b.rule && a.matched_text == b.matched_text
        });
        tags
    }

    /// A colliding ticker also counts when the rest of the text is about one of the
    /// token's categories: another unambiguous token of that category, or one of its
    /// keywords ("NEAR and GRT follow FET lower" is The Graph).
    fn confirm_collisions_by_context(&self, tags: &mut Tags) {
        let categories_of = |symbol: &str| {
            self.tokens
                .iter()
                .find(|d| d.symbol == symbol)
                .map(|d| d.categories.clone())
                .unwrap_or_default()
        };
        let context: BTreeSet<String> = tags
            .tokens
            .iter()
            .filter(|t| !t.ambiguous)
            .flat_map(|t| categories_of(&t.symbol))
            .chain(
                tags.categories
                    .iter()
                    .filter(|c| c.rule == CategoryRule::Keyword)
                    .map(|c| c.slug.clone()),
            )
            .collect();
        for t in tags.tokens.iter_mut() {
            let colliding = t.ambiguous
                && t.rule == TokenRule::Ticker
                && self.collisions.contains_key(&t.matched_text);
            if colliding && categories_of(&t.symbol).iter().any(|c| context.contains(c)) {
                t.ambiguous = false;
                t.note = None;
            }
        }
    }

    /// Decide how a token pattern matched, and why it is ambiguous if it is (`Some`
    /// note), or that it does not count (`None`).
    #[allow(clippy::too_many_arguments)]
    fn token_rule(
        &self,
        text: &str,
        s: usize,
        e: usize,
        kind: PatternKind,
        ti: usize,
        p: &Pattern,
        shouting: bool,
    ) -> Option<(TokenRule, Option<String>)> {
        let def = &self.tokens[ti];
        let tickers: Vec<&str> = std::iter::once(def.symbol.as_str())
            .chain(
                def.aliases
                    .iter()
                    .map(String::as_str)
                    .filter(|a| is_all_caps(a) && !a.contains(' ')),
            )
            .collect();
        let names: Vec<&str> = std::iter::once(def.name.as_str())
            .chain(def.aliases.iter().map(String::as_str))
            .collect();
        let cashtag = kind == PatternKind::Ticker && text[..s].ends_with('$');
        let followed_by_ticker = {
            let rest = text[e..].trim_start();
            rest.strip_prefix('(').is_some_and(|r| {
                tickers
                    .iter()
                    .any(|t| r.strip_prefix(t).is_some_and(|r| r.starts_with(')')))
            })
        };
        let ticker_after_name = kind == PatternKind::Ticker
            && text[e..].starts_with(')')
            && text[..s].strip_suffix('(').is_some_and(|before| {
                let before = before.trim_end().to_lowercase();
                names.iter().any(|n| before.ends_with(&n.to_lowercase()))
            });
        if cashtag {
            return Some((TokenRule::Cashtag, None));
        }
        if followed_by_ticker || ticker_after_name {
            return Some((TokenRule::NameWithTicker, None));
        }
        if p.ambiguous {
            // Keep a bare ambiguous match only when spelled exactly as the pattern, flagged.
            let note = format!(
                "“{}” is also a common word or name: it counts for {} only as ${} or “{} ({})”",
                p.text, def.symbol, def.symbol, def.name, def.symbol
            );
            return (text[s..e] == p.text).then_some((rule_of(kind), Some(note)));
        }
        if kind == PatternKind::Ticker {
            if let Some(collision) = self.collisions.get(&p.text) {
                let named = names
                    .iter()
                    .filter(|n| !is_all_caps(n) || n.contains(' '))
                    .any(|n| contains_word(text, n));
                if !named {
                    let note = format!(
                        "{}; {} is not named and nothing else in the text is about {}",
                        collision,
                        def.name,
                        def.categories.join(" or ")
                    );
                    return Some((TokenRule::Ticker, Some(note)));
                }
            }
            if shouting {
                let note =
                    "headline written in capitals: a capitalised word is no evidence of a ticker";
                return Some((TokenRule::Ticker, Some(note.to_string())));
            }
        }
        Some((rule_of(kind), None))
    }
}

fn rule_of(kind: PatternKind) -> TokenRule {
    match kind {
        PatternKind::Ticker => TokenRule::Ticker,
        PatternKind::Name => TokenRule::Name,
        _ => TokenRule::Alias,
    }
}

/// Whether the match `[s, e)` stands as a whole word.
fn is_word_boundary(text: &str, s: usize, e: usize) -> bool {
    let before = text[..s].chars().next_back();
    let after = text[e..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

/// Whether `word` occurs in `text` as a whole word, spelled exactly.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word)
        .any(|(s, m)| is_word_boundary(text, s, s + m.len()))
}

/// A text mostly in capitals, where capitalised words are no evidence of a ticker.
fn is_shouting(text: &str) -> bool {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let upper = text.chars().filter(|c| c.is_uppercase()).count();
    letters >= 12 && upper * 10 >= letters * 7
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxonomy::{parse_tagging, parse_taxonomy, BUILTIN_TAGGING, BUILTIN_TAXONOMY};

    fn tagger() -> Tagger {
        let tokens = parse_taxonomy(BUILTIN_TAXONOMY, "taxonomy.csv").unwrap();
        let rules = parse_tagging(BUILTIN_TAGGING, "tagging.toml").unwrap();
        Tagger::new(&tokens, &rules)
    }

    #[test]
    fn ticker_near_is_not_the_word_near() {
        let t = tagger();
        assert!(t.tag("Bitcoin trades near record highs").symbols() == vec!["BTC"]);
        assert_eq!(t.tag("NEAR jumps 12% on AI hype").symbols(), vec!["NEAR"]);
    }

    #[test]
    fn tickers_match_only_as_whole_words() {
        let t = tagger();
        assert!(t.tag("The MATRIX reloaded").symbols().is_empty());
        assert_eq!(
            t.tag("Tron token TRX rises while the BTCUSDT pair and 1INCH lag")
                .symbols(),
            vec!["1INCH", "TRX"]
        );
    }

    #[test]
    fn seed_headline_tags_ai_tokens_and_category() {
        let t = tagger();
        let tags = t.tag(
            "Render (RNDR) led the losses, followed by Near Protocol (NEAR), The Graph (GRT), \
             and Artificial Superintelligence (FET) after DeepSeek R1",
        );
        assert_eq!(tags.symbols(), vec!["FET", "GRT", "NEAR", "RENDER"]);
        assert!(tags.slugs().contains(&"ai"));
        let render = tags
            .tokens
            .iter()
            .find(|x| x.matched_text == "Render")
            .unwrap();
        assert_eq!(render.rule, TokenRule::NameWithTicker);
        let deepseek = tags
            .categories
            .iter()
            .find(|c| c.matched_text == "DeepSeek")
            .unwrap();
        assert_eq!(
            (deepseek.slug.as_str(), deepseek.rule),
            ("ai", CategoryRule::Keyword)
        );
    }

    #[test]
    fn longest_name_wins() {
        let t = tagger();
        assert_eq!(t.tag("Bitcoin Cash forks again").symbols(), vec!["BCH"]);
    }

    #[test]
    fn ambiguous_ai_needs_an_explicit_form() {
        let t = tagger();
        let tags = t.tag("AI tokens rally as OpenAI shows Sora");
        assert!(tags.symbols().is_empty(), "{tags:?}");
        let flagged: Vec<_> = tags.tokens.iter().filter(|x| x.ambiguous).collect();
        assert_eq!(flagged.len(), 1);
        assert_eq!(flagged[0].symbol, "AI");
        assert!(tags.slugs().contains(&"ai"));
        assert!(
            !tags.slugs().contains(&"gaming"),
            "an ambiguous tag implies no category"
        );
        assert_eq!(t.tag("Sleepless AI ($AI) lists").symbols(), vec!["AI"]);
        assert!(t.tag("the world watches").tokens.is_empty());
    }

    #[test]
    fn cashtags_and_lowercase_names() {
        let t = tagger();
        let tags = t.tag("$PEPE and dogecoin pump; SEC approves spot bitcoin ETFs");
        assert_eq!(tags.symbols(), vec!["BTC", "DOGE", "PEPE"]);
        let pepe = tags.tokens.iter().find(|x| x.symbol == "PEPE").unwrap();
        assert_eq!(pepe.rule, TokenRule::Cashtag);
    }

    #[test]
    fn shouting_headlines_flag_bare_tickers() {
        let t = tagger();
        let tags = t.tag("MARKETS SINK AS TRADERS GET NEAR PANIC");
        assert!(tags.symbols().is_empty(), "{tags:?}");
    }

    #[test]
    fn token_tags_imply_categories() {
        let t = tagger();
        let tags = t.tag("Trump says reserve will include XRP, SOL and ADA");
        assert_eq!(tags.symbols(), vec!["ADA", "SOL", "XRP"]);
        assert!(tags.categories.iter().any(|c| c.slug == "payments"
            && c.rule == CategoryRule::Token
            && c.matched_text == "XRP"));
    }

    fn flagged<'a>(tags: &'a Tags, symbol: &str) -> Option<&'a TokenTag> {
        tags.tokens
            .iter()
            .find(|t| t.symbol == symbol && t.ambiguous)
    }

    #[test]
    fn grt_counts_when_the_graph_is_named_or_the_text_is_about_its_categories() {
        let t = tagger();
        let bare = t.tag("GRT surges 20% after exchange listing");
        assert!(bare.symbols().is_empty(), "{bare:?}");
        let f = flagged(&bare, "GRT").expect("bare GRT kept, flagged");
        assert_eq!(
            (f.rule, f.matched_text.as_str()),
            (TokenRule::Ticker, "GRT")
        );
        assert!(
            f.note
                .as_deref()
                .unwrap()
                .starts_with("GRT is also the ticker"),
            "{f:?}"
        );
        assert!(
            !bare.slugs().contains(&"ai"),
            "a flagged tag implies no category"
        );

        assert_eq!(t.tag("The Graph's GRT surges 20%").symbols(), vec!["GRT"]);
        assert_eq!(t.tag("$GRT surges 20%").symbols(), vec!["GRT"]);
        let named = t.tag("The Graph (GRT) surges 20%");
        assert!(named
            .tokens
            .iter()
            .all(|x| x.rule == TokenRule::NameWithTicker && !x.ambiguous));
        // Beside other AI tokens, GRT is The Graph.
        assert_eq!(
            t.tag("NEAR and GRT follow FET lower").symbols(),
            vec!["FET", "GRT", "NEAR"]
        );
        // "the graph" in prose is not the token.
        assert!(t
            .tag("the graph shows bitcoin outflows")
            .tokens
            .iter()
            .all(|x| x.symbol != "GRT"));
        let title_case = t.tag("The Graph Shows Bitcoin Outflows");
        let g = flagged(&title_case, "GRT").expect("The Graph in title case is flagged");
        assert!(g.note.is_some());
    }

    #[test]
    fn near_the_ticker_is_not_near_the_word() {
        let t = tagger();
        assert_eq!(t.tag("Bitcoin trades near $100K").symbols(), vec!["BTC"]);
        assert!(t.tag("Near-term outlook dims for miners").tokens.is_empty());
        assert_eq!(t.tag("NEAR jumps 12% on AI hype").symbols(), vec!["NEAR"]);
        let shout = t.tag("BITCOIN TRADES NEAR RECORD HIGH");
        let f = flagged(&shout, "NEAR").expect("flagged in an all-capitals headline");
        assert!(f.note.as_deref().unwrap().contains("capitals"));
    }

    #[test]
    fn trx_never_matches_inside_a_word() {
        let t = tagger();
        for text in [
            "The MATRIX reloaded",
            "Matrixport raises funds",
            "TRXUSDT volume",
            "METRX",
        ] {
            assert!(
                t.tag(text).tokens.iter().all(|x| x.symbol != "TRX"),
                "{text}"
            );
        }
        assert_eq!(t.tag("TRX-USDT pair halted").symbols(), vec!["TRX"]);
        let cash = t.tag("$TRX rallies");
        assert_eq!(cash.tokens[0].rule, TokenRule::Cashtag);
    }

    #[test]
    fn uni_needs_uniswap_or_defi_context() {
        let t = tagger();
        assert!(t
            .tag("uni students mine bitcoin")
            .tokens
            .iter()
            .all(|x| x.symbol != "UNI"));
        let bare = t.tag("UNI students mine bitcoin in dorms");
        let f = flagged(&bare, "UNI").expect("flagged");
        assert!(f.note.as_deref().unwrap().contains("university"));
        assert_eq!(t.tag("Uniswap's UNI jumps 8%").symbols(), vec!["UNI"]);
        assert_eq!(
            t.tag("UNI and AAVE rally as DeFi heats up").symbols(),
            vec!["AAVE", "UNI"]
        );
    }

    #[test]
    fn pan_is_flagged_unless_explicit() {
        // PAN is not in the shipped taxonomy; a taxonomy that adds it gets the collision.
        let mut tokens = parse_taxonomy(BUILTIN_TAXONOMY, "taxonomy.csv").unwrap();
        tokens.push(TokenDef {
            symbol: "PAN".into(),
            name: "Panvala".into(),
            categories: vec!["governance".into()],
            aliases: vec![],
        });
        let rules = parse_tagging(BUILTIN_TAGGING, "tagging.toml").unwrap();
        let t = Tagger::new(&tokens, &rules);
        let card = t.tag("India links PAN card to crypto tax reports");
        assert!(card.symbols().is_empty());
        assert!(flagged(&card, "PAN")
            .unwrap()
            .note
            .as_deref()
            .unwrap()
            .contains("PAN card"));
        assert!(t.tag("Pan-African exchange opens").tokens.is_empty());
        assert_eq!(t.tag("Panvala (PAN) relaunches").symbols(), vec!["PAN"]);
        assert_eq!(t.tag("$PAN relaunches").symbols(), vec!["PAN"]);
    }

    #[test]
    fn event_type_categories_come_from_the_tagging_file() {
        let t = tagger();
        let cases = [
            (
                "Bybit hacked for about 1.5 billion dollars in ether",
                "hacks",
            ),
            ("SEC approves the first spot bitcoin ETFs", "etf"),
            (
                "SEC agrees to drop its lawsuit against Coinbase",
                "regulation",
            ),
            ("Binance announces listing of PENGU", "listings"),
            ("Fed cuts rates but signals fewer cuts", "macro"),
            ("Ethereum layer-2 fees fall", "layer-2"),
            ("A new layer-1 launches mainnet", "layer-1"),
            ("Nvidia GPU sales beat forecasts", "ai"),
        ];
        for (text, slug) in cases {
            let tags = t.tag(text);
            let c = tags
                .categories
                .iter()
                .find(|c| c.slug == slug && c.rule == CategoryRule::Keyword)
                .unwrap_or_else(|| panic!("{text}: no {slug} keyword tag in {tags:?}"));
            assert!(text.contains(&c.matched_text), "{c:?}");
        }
    }
}
