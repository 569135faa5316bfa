//! The token taxonomy (tokens, their categories and aliases) and the tagging rules
//! (category keywords, ambiguous names). Parsing here is pure; `store` writes it to and
//! reads it from PostgreSQL.

pub mod store;

use std::collections::BTreeMap;

use serde::Deserialize;

/// The taxonomy shipped with Catalyst (`config/taxonomy.csv`), used when none is loaded.
pub const BUILTIN_TAXONOMY: &str = include_str!("../../config/taxonomy.csv");
/// The tagging rules shipped with Catalyst (`config/tagging.toml`).
pub const BUILTIN_TAGGING: &str = include_str!("../../config/tagging.toml");

/// Categories whose tokens never enter category averages.
pub const EXCLUDED_CATEGORIES: &[&str] = &["stablecoin"];

#[derive(Debug, thiserror::Error)]
pub enum TaxonomyError {
    #[error("{file}, line {line}: {message}")]
    Csv {
        file: String,
        line: u64,
        message: String,
    },
    #[error("{file}: {message}")]
    Toml { file: String, message: String },
}

/// One token as the taxonomy file describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenDef {
    pub symbol: String,
    pub name: String,
    pub categories: Vec<String>,
    pub aliases: Vec<String>,
}

/// Everything tagging needs besides the tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TaggingRules {
    /// Patterns that tag a token only in an explicit form ($X, "Name (X)").
    #[serde(default)]
    pub ambiguous: Vec<String>,
    /// Category slug to keywords.
    #[serde(default)]
    pub keywords: BTreeMap<String, Vec<String>>,
    /// Tickers shared with other assets or words, and what they collide with: a bare
    /// match counts only when the text also names the token.
    #[serde(default)]
    pub collisions: BTreeMap<String, String>,
    /// What makes a tag a subject of the story or a passing mention, and which subjects
    /// make a story about the market as a whole.
    #[serde(default)]
    pub salience: SalienceRules,
}

/// Salience rules (`[salience]` in config/tagging.toml). Every list is matched as whole
/// words, in any case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SalienceRules {
    /// Words of a headline that make it a piece about something else (court, crime,
    /// human interest, lifestyle, politicians' finances): every tag is a mention.
    #[serde(default)]
    pub off_market: Vec<String>,
    /// Words of a roundup or digest headline: every tag is one item among others.
    #[serde(default)]
    pub roundup: Vec<String>,
    /// Suffixes that make a name a modifier ("Bitcoin-inspired", "bitcoin-backed").
    #[serde(default)]
    pub modifier_suffixes: Vec<String>,
    /// Category slugs whose stories are about the market as a whole (macro, regulation,
    /// ETFs, ...): the market's own move counts for them.
    #[serde(default)]
    pub market_wide_categories: Vec<String>,
    /// Tokens whose stories are about the market as a whole when they are the subject.
    #[serde(default)]
    pub market_tokens: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct TaxonomyRow {
    symbol: String,
    name: String,
    categories: String,
    #[serde(default)]
    aliases: String,
}

fn split_list(s: &str) -> Vec<String> {
    s.split(';')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parse `symbol,name,categories,aliases` (lists `;`-separated). `file` names the input in
/// errors.
pub fn parse_taxonomy(text: &str, file: &str) -> Result<Vec<TokenDef>, TaxonomyError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let csv_error = |line: u64, e: csv::Error| TaxonomyError::Csv {
        file: file.to_string(),
        line,
        message: e.to_string(),
    };
    let headers = reader.headers().map_err(|e| csv_error(1, e))?.clone();
    let mut tokens = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            csv_error(line, e)
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let row: TaxonomyRow = record
            .deserialize(Some(&headers))
            .map_err(|e| csv_error(line, e))?;
        let symbol = row.symbol.to_ascii_uppercase();
        let valid_symbol = !symbol.is_empty()
            && symbol.len() <= 20
            && symbol.chars().all(|c| c.is_ascii_alphanumeric());
        if !valid_symbol {
            return Err(TaxonomyError::Csv {
                file: file.to_string(),
                line,
                message: format!("field symbol: {:?} is not a ticker (A-Z, 0-9)", row.symbol),
            });
        }
        let categories = split_list(&row.categories);
        if let Some(bad) = categories.iter().find(|c| !is_slug(c)) {
            return Err(TaxonomyError::Csv {
                file: file.to_string(),
                line,
                message: format!("field categories: {bad:?} is not a lower-case slug"),
            });
        }
        tokens.push(TokenDef {
            symbol,
            name: row.name,
            categories,
            aliases: split_list(&row.aliases),
        });
    }
    Ok(tokens)
}

/// Parse the TOML tagging rules.
pub fn parse_tagging(text: &str, file: &str) -> Result<TaggingRules, TaxonomyError> {
    let rules: TaggingRules = toml::from_str(text).map_err(|e| TaxonomyError::Toml {
        file: file.to_string(),
        message: e.to_string(),
    })?;
    if let Some(bad) = rules.keywords.keys().find(|c| !is_slug(c)) {
        return Err(TaxonomyError::Toml {
            file: file.to_string(),
            message: format!("keywords: {bad:?} is not a lower-case category slug"),
        });
    }
    Ok(rules)
}

pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Display name of a category slug: `layer-1` becomes `Layer 1`, `ai` becomes `AI`.
pub fn category_name(slug: &str) -> String {
    match slug {
        "ai" => "AI".to_string(),
        "ai-agents" => "AI agents".to_string(),
        "defi" => "DeFi".to_string(),
        "dex" => "DEX".to_string(),
        "rwa" => "RWA".to_string(),
        "depin" => "DePIN".to_string(),
        "etf" => "ETFs".to_string(),
        "hacks" => "Hacks and exploits".to_string(),
        _ => {
            let words = slug.replace('-', " ");
            let mut chars = words.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_files_parse() {
        let tokens = parse_taxonomy(BUILTIN_TAXONOMY, "taxonomy.csv").unwrap();
        assert_eq!(tokens.len(), 82);
        let near = tokens.iter().find(|t| t.symbol == "NEAR").unwrap();
        assert_eq!(near.categories, vec!["layer-1", "ai"]);
        let fet = tokens.iter().find(|t| t.symbol == "FET").unwrap();
        assert_eq!(fet.aliases, vec!["Fetch.ai", "ASI"]);
        let rules = parse_tagging(BUILTIN_TAGGING, "tagging.toml").unwrap();
        assert!(rules.keywords["ai"].contains(&"DeepSeek".to_string()));
        assert!(rules.ambiguous.contains(&"AI".to_string()));
    }

    #[test]
    fn bad_symbol_names_file_line_and_field() {
        let text = "symbol,name,categories,aliases\nBTC,Bitcoin,layer-1,\nB-TC,Bad,layer-1,\n";
        let err = parse_taxonomy(text, "my.csv").unwrap_err().to_string();
        assert!(err.starts_with("my.csv, line 3: field symbol"), "{err}");
    }

    #[test]
    fn category_names_read_well() {
        assert_eq!(category_name("layer-1"), "Layer 1");
        assert_eq!(category_name("ai"), "AI");
        assert_eq!(
            category_name("smart-contract-platform"),
            "Smart contract platform"
        );
    }
}
