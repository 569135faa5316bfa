//! The context assets file (`config/context.toml`): which equities, ETFs and indices to
//! show, where their daily bars are, and which token categories each gives context for.
//! Pure: text in, assets or an error naming the file and line out.
//!
//! ```toml
//! [[asset]]
//! symbol = "NVDA"
//! name = "NVIDIA"
//! kind = "equity"          # equity, etf or index
//! file = "NVDA.csv"        # in the import directory
//! categories = ["ai", "ai-agents"]
//! market_wide = false      # true: every event shows it
//! ```

use serde::Deserialize;
use toml::Spanned;

use super::ContextError;

/// The built-in assets file.
pub const BUILTIN_CONTEXT: &str = include_str!("../../config/context.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssetKind {
    Equity,
    Etf,
    Index,
}

impl AssetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Equity => "equity",
            AssetKind::Etf => "etf",
            AssetKind::Index => "index",
        }
    }
}

/// One context asset as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetConfig {
    pub symbol: String,
    pub name: String,
    pub kind: AssetKind,
    /// The CSV file name, relative to the import directory.
    pub file: String,
    /// Category slugs whose events show this asset.
    pub categories: Vec<String>,
    pub market_wide: bool,
    /// Where the asset is in the file (1-based), for errors found later (an unknown
    /// category, a missing file).
    pub line: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsset {
    symbol: Spanned<String>,
    name: String,
    kind: AssetKind,
    file: Spanned<String>,
    categories: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    market_wide: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    asset: Vec<RawAsset>,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .unwrap_or(text)
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

fn is_symbol(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    first_ok
        && s.len() <= 20
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || ".^-".contains(c))
}

/// Parse and check an assets file: symbols well formed and unique, category slugs well
/// formed, file names plain (no directories: the files live in the import directory).
pub fn parse(text: &str, file: &str) -> Result<Vec<AssetConfig>, ContextError> {
    let err = |line: usize, message: String| ContextError::Config {
        file: file.to_string(),
        line,
        message,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        err(line, e.message().to_string())
    })?;
    let mut out: Vec<AssetConfig> = Vec::with_capacity(raw.asset.len());
    for a in raw.asset {
        let line = line_of(text, a.symbol.span().start);
        let symbol = a.symbol.into_inner();
        if !is_symbol(&symbol) {
            return Err(err(
                line,
                format!("symbol {symbol:?}: expected 1-20 of A-Z, 0-9, '.', '^', '-'"),
            ));
        }
        if let Some(first) = out.iter().find(|o| o.symbol == symbol) {
            return Err(err(
                line,
                format!("{symbol} is listed twice (first on line {})", first.line),
            ));
        }
        if a.name.trim().is_empty() {
            return Err(err(line, format!("{symbol}: empty name")));
        }
        let file_line = line_of(text, a.file.span().start);
        let file_name = a.file.into_inner();
        if file_name.is_empty() || file_name.contains('/') || file_name.contains('\\') {
            return Err(err(
                file_line,
                format!("{symbol}: file {file_name:?} must be a plain file name in the import directory"),
            ));
        }
        let cat_line = a
            .categories
            .as_ref()
            .map_or(line, |c| line_of(text, c.span().start));
        let categories = a.categories.map(Spanned::into_inner).unwrap_or_default();
        if let Some(bad) = categories.iter().find(|c| !is_slug(c)) {
            return Err(err(
                cat_line,
                format!(
                    "{symbol}: category {bad:?} is not a slug (lower-case words joined by '-')"
                ),
            ));
        }
        out.push(AssetConfig {
            symbol,
            name: a.name,
            kind: a.kind,
            file: file_name,
            categories,
            market_wide: a.market_wide,
            line,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_file_has_nvda_and_smh_for_ai_and_spy_qqq_market_wide() {
        let assets = parse(BUILTIN_CONTEXT, "context.toml").unwrap();
        let get = |s: &str| assets.iter().find(|a| a.symbol == s).unwrap();
        assert!(get("NVDA").categories.contains(&"ai".to_string()));
        assert!(get("SMH").categories.contains(&"ai-agents".to_string()));
        assert!(get("SPY").market_wide && get("QQQ").market_wide);
        assert!(!get("NVDA").market_wide);
        assert_eq!(get("NVDA").kind, AssetKind::Equity);
        assert_eq!(get("NVDA").line, 11);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let text = "[[asset]]\nsymbol = \"NVDA\"\nname = \"NVIDIA\"\nkind = \"stock\"\nfile = \"NVDA.csv\"\n";
        let e = parse(text, "ctx.toml").unwrap_err().to_string();
        assert!(e.starts_with("ctx.toml, line 4: "), "{e}");
        assert!(e.contains("stock"), "{e}");

        let text = "[[asset]]\nsymbol = \"NVDA\"\nname = \"N\"\nkind = \"equity\"\nfile = \"a.csv\"\n\
                    [[asset]]\nsymbol = \"NVDA\"\nname = \"N\"\nkind = \"equity\"\nfile = \"b.csv\"\n";
        let e = parse(text, "ctx.toml").unwrap_err().to_string();
        assert_eq!(
            e,
            "ctx.toml, line 7: NVDA is listed twice (first on line 2)"
        );

        let text =
            "[[asset]]\nsymbol = \"SPY\"\nname = \"S\"\nkind = \"etf\"\nfile = \"../x.csv\"\n";
        let e = parse(text, "ctx.toml").unwrap_err().to_string();
        assert!(e.starts_with("ctx.toml, line 5: SPY: file"), "{e}");

        let text = "[[asset]]\nsymbol = \"SPY\"\nname = \"S\"\nkind = \"etf\"\nfile = \"x.csv\"\ncategories = [\"AI\"]\n";
        let e = parse(text, "ctx.toml").unwrap_err().to_string();
        assert!(
            e.starts_with("ctx.toml, line 6: SPY: category \"AI\""),
            "{e}"
        );

        let text =
            "[[asset]]\nsymbol = \"nvda\"\nname = \"N\"\nkind = \"equity\"\nfile = \"a.csv\"\n";
        let e = parse(text, "ctx.toml").unwrap_err().to_string();
        assert!(e.starts_with("ctx.toml, line 2: symbol \"nvda\""), "{e}");

        let e = parse("[[asset]]\nsymbol = \"A\"\nbogus = 1\n", "ctx.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("ctx.toml, line "), "{e}");
    }
}
