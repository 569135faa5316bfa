//! Salience: is a tag the subject of the story, or a passing mention? Pure.
//!
//! Only subjects make a token or category a target of the impact score, so that a
//! human-interest piece about a bitcoin fortune in a landfill, a gold "Bitcoin-inspired"
//! iPhone or a politician's disclosure does not inherit whatever the market did that day.
//! The rules, in order (the first that applies gives the reason):
//!
//! 1. Declared by the page itself (`<meta name="tickers">`, JSON-LD): subject.
//! 2. Only in the description, not in the headline: mention.
//! 3. The headline is about something else: a court case, a crime, a person's story, a
//!    lifestyle or consumer piece, politicians' finances (`off_market` words): mention.
//! 4. A roundup headline (`roundup` words), or one short item of a list that also names
//!    untracked things ("Nvidia sell-off, markets under Trump, coffee"): mention.
//! 5. A modifier: the name followed by a hyphenated suffix ("Bitcoin-inspired"): mention.
//! 6. Otherwise: subject.

use crate::taxonomy::SalienceRules;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Salience {
    Subject,
    Mention,
}

impl Salience {
    pub fn as_str(self) -> &'static str {
        match self {
            Salience::Subject => "subject",
            Salience::Mention => "mention",
        }
    }
}

/// Where the parts of a tagged text lie: `[0, title_end)` is the headline,
/// `[declared_start, ..)` the tickers the page declares.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub title_end: usize,
    pub declared_start: usize,
}

/// Salience rules compiled for one text.
pub struct Judge<'a> {
    rules: &'a SalienceRules,
    text: &'a str,
    layout: Layout,
    /// The headline's off-market or roundup word, if any.
    frame: Option<(bool, String)>,
    /// List items of the headline: byte ranges, when the headline lists three or more.
    items: Vec<(usize, usize)>,
}

/// Find `needle` in `hay` as a whole word or phrase, in any case (ASCII case folding, so
/// byte offsets are kept). Returns the matched text.
pub fn find_word(hay: &str, needle: &str) -> Option<String> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    (0..=h.len() - n.len()).find_map(|i| {
        if !hay.is_char_boundary(i) || !hay.is_char_boundary(i + n.len()) {
            return None;
        }
        let same = h[i..i + n.len()].eq_ignore_ascii_case(n);
        (same && boundary(hay, i, i + n.len())).then(|| hay[i..i + n.len()].to_string())
    })
}

fn boundary(text: &str, s: usize, e: usize) -> bool {
    let before = text[..s].chars().next_back();
    let after = text[e..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

/// Items of a list of three or more in the headline's clause around `at`: split at
/// commas, and the last item at " and " / " & ". Clauses end at : ; | — – ? !
fn list_items(title: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut clause_start = 0;
    let ends: Vec<usize> = title
        .char_indices()
        .filter(|(_, c)| matches!(c, ':' | ';' | '|' | '—' | '–' | '?' | '!'))
        .map(|(i, _)| i)
        .chain(std::iter::once(title.len()))
        .collect();
    for end in ends {
        let clause = &title[clause_start..end];
        let mut items: Vec<(usize, usize)> = Vec::new();
        let mut start = 0;
        let bytes = clause.as_bytes();
        for (i, c) in clause.char_indices() {
            // A comma between digits is a thousands separator ($100,000), not a list.
            let in_number = i > 0
                && bytes[i - 1].is_ascii_digit()
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if c == ',' && !in_number {
                items.push((start, i));
                start = i + 1;
            }
        }
        let last = (start, clause.len());
        let tail = &clause[last.0..last.1];
        match [" and ", " & "]
            .iter()
            .find_map(|sep| tail.find(sep).map(|p| (p, sep.len())))
        {
            Some((p, len)) if !items.is_empty() => {
                items.push((last.0, last.0 + p));
                items.push((last.0 + p + len, last.1));
            }
            _ => items.push(last),
        }
        let items: Vec<(usize, usize)> = items
            .into_iter()
            .filter(|(a, b)| !clause[*a..*b].trim().is_empty())
            .map(|(a, b)| (clause_start + a, clause_start + b))
            .collect();
        if items.len() >= 3 {
            out.extend(items);
        }
        clause_start = end + title[end..].chars().next().map_or(0, char::len_utf8);
    }
    out
}

impl<'a> Judge<'a> {
    pub fn new(rules: &'a SalienceRules, text: &'a str, layout: Layout) -> Self {
        let title = &text[..layout.title_end.min(text.len())];
        let frame = rules
            .off_market
            .iter()
            .find_map(|w| find_word(title, w).map(|m| (true, m)))
            .or_else(|| {
                rules
                    .roundup
                    .iter()
                    .find_map(|w| find_word(title, w).map(|m| (false, m)))
            });
        Judge {
            rules,
            text,
            layout,
            frame,
            items: list_items(title),
        }
    }

    /// Salience of a match at `[s, e)`, given every tagged range of the text (for lists),
    /// and the reason when it is a mention (or a declared subject).
    pub fn judge(
        &self,
        s: usize,
        e: usize,
        tagged: &[(usize, usize)],
    ) -> (Salience, Option<String>) {
        let matched = &self.text[s..e];
        if s >= self.layout.declared_start {
            return (Salience::Subject, Some("declared by the page".into()));
        }
        if s >= self.layout.title_end {
            return (
                Salience::Mention,
                Some("only in the description, not in the headline".into()),
            );
        }
        if let Some((off_market, word)) = &self.frame {
            let why = if *off_market {
                format!(
                    "the headline is about something else (“{word}”: a court, crime, \
                     human-interest, lifestyle or politics piece)"
                )
            } else {
                format!("one item of a roundup (“{word}”)")
            };
            return (Salience::Mention, Some(why));
        }
        if let Some(&(a, b)) = self.items.iter().find(|(a, b)| *a <= s && e <= *b) {
            let short = self.text[a..b].split_whitespace().count() <= 4;
            let untracked_item = self
                .items
                .iter()
                .any(|&(x, y)| !tagged.iter().any(|&(ts, te)| x <= ts && te <= y));
            if short && untracked_item {
                return (
                    Salience::Mention,
                    Some(format!(
                        "one name in a list (“{}”) that also names untracked things",
                        self.text[a..b].trim()
                    )),
                );
            }
        }
        let rest = &self.text[e..];
        if let Some(after) = rest.strip_prefix('-') {
            let word: String = after.chars().take_while(|c| c.is_alphabetic()).collect();
            if self
                .rules
                .modifier_suffixes
                .iter()
                .any(|m| m.eq_ignore_ascii_case(&word))
            {
                return (
                    Salience::Mention,
                    Some(format!("a modifier (“{matched}-{word}”)")),
                );
            }
        }
        (Salience::Subject, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> SalienceRules {
        SalienceRules {
            off_market: vec!["landfill".into(), "man who".into()],
            roundup: vec!["takeaways".into()],
            modifier_suffixes: vec!["inspired".into()],
            ..Default::default()
        }
    }

    fn judge_at(
        text: &str,
        title_end: usize,
        word: &str,
        tagged: &[&str],
    ) -> (Salience, Option<String>) {
        let r = rules();
        let j = Judge::new(
            &r,
            text,
            Layout {
                title_end,
                declared_start: text.len(),
            },
        );
        let s = text.find(word).unwrap();
        let ranges: Vec<(usize, usize)> = tagged
            .iter()
            .map(|t| {
                let a = text.find(t).unwrap();
                (a, a + t.len())
            })
            .collect();
        j.judge(s, s + word.len(), &ranges)
    }

    #[test]
    fn headline_subject_description_mention() {
        let text = "Bitcoin falls below $92,000\nEther and Solana follow.";
        let title_end = text.find('\n').unwrap();
        assert_eq!(
            judge_at(text, title_end, "Bitcoin", &["Bitcoin"]).0,
            Salience::Subject
        );
        let (s, why) = judge_at(text, title_end, "Solana", &["Bitcoin", "Solana"]);
        assert_eq!(s, Salience::Mention);
        assert!(why.unwrap().contains("description"));
    }

    #[test]
    fn modifiers_off_market_frames_and_roundups() {
        let t = "Caviar announces Bitcoin-inspired iPhone 16 Pro";
        let (s, why) = judge_at(t, t.len(), "Bitcoin", &["Bitcoin"]);
        assert_eq!(s, Salience::Mention);
        assert!(why.unwrap().contains("Bitcoin-inspired"));
        let t = "Judge ends man's quest to recover Bitcoin from a Landfill";
        assert_eq!(
            judge_at(t, t.len(), "Bitcoin", &["Bitcoin"]).0,
            Salience::Mention
        );
        let t = "Nvidia sell-off, markets under Trump, coffee: Market Takeaways";
        assert_eq!(
            judge_at(t, t.len(), "Nvidia", &["Nvidia"]).0,
            Salience::Mention
        );
        let t = "Nvidia sell-off, markets under Trump, coffee";
        assert_eq!(
            judge_at(t, t.len(), "Nvidia", &["Nvidia"]).0,
            Salience::Mention
        );
        // Thousands separators are not lists.
        let t = "Bitcoin surges above $100,000, eyeing Trump's inauguration";
        assert_eq!(
            judge_at(t, t.len(), "Bitcoin", &["Bitcoin"]).0,
            Salience::Subject
        );
        // "landfills" is not the word "landfill".
        let t = "Bitcoin miners and landfills";
        assert_eq!(
            judge_at(t, t.len(), "Bitcoin", &["Bitcoin"]).0,
            Salience::Subject
        );
    }

    #[test]
    fn lists_of_tracked_names_are_subjects() {
        let t = "Trump says a US crypto strategic reserve will include XRP, SOL and ADA";
        assert_eq!(
            judge_at(t, t.len(), "SOL", &["XRP", "SOL", "ADA"]).0,
            Salience::Subject
        );
        // A long last item is a clause, not a list item.
        let t = "OpenAI, SoftBank and Oracle announce the 500 billion dollar Stargate AI venture";
        assert_eq!(
            judge_at(t, t.len(), "Stargate", &["OpenAI", "Stargate"]).0,
            Salience::Subject
        );
        assert_eq!(
            judge_at(t, t.len(), "OpenAI", &["OpenAI", "Stargate"]).0,
            Salience::Mention
        );
    }

    #[test]
    fn find_word_is_case_insensitive_and_whole_word() {
        assert_eq!(
            find_word("A MAN WHO lost", "man who").as_deref(),
            Some("MAN WHO")
        );
        assert!(find_word("a woman who", "man who").is_none());
        assert_eq!(
            find_word("Café: bitcoin", "Bitcoin").as_deref(),
            Some("bitcoin")
        );
    }
}
