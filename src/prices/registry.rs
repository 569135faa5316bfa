//! The token registry (`config/tokens.toml`): per token, its provider ids with their
//! validity (renames), its categories, and whether it is a stablecoin. Pure: text in,
//! registry or an error naming the file and token out. See docs/prices.md.
//!
//! ```toml
//! [[token]]
//! symbol = "RENDER"
//! name = "Render"
//! categories = ["ai", "depin"]
//! binance = [{ id = "RNDRUSDT", until = "2024-07-26T08:00:00Z" },
//!            { id = "RENDERUSDT", from = "2024-07-26T08:00:00Z" }]
//! coingecko = "render-token"
//! ```

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The built-in registry.
pub const BUILTIN_REGISTRY: &str = include_str!("../../config/tokens.toml");

/// CoinGecko-style category names of the slugs Catalyst uses (the slugs are the stable
/// keys in the database, URLs and the study; the names are what CoinGecko calls them).
pub const COINGECKO_CATEGORIES: &[(&str, &str)] = &[
    ("ai", "AI"),
    ("layer-1", "Layer 1"),
    ("layer-2", "Layer 2"),
    ("defi", "DeFi"),
    ("meme", "Meme"),
    ("gaming", "Gaming"),
    ("depin", "DePIN"),
    ("rwa", "RWA"),
    ("exchange", "Exchange"),
    ("stablecoin", "Stablecoins"),
];

/// One id of a token at one provider, valid for bars opening in `[from, until)`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    pub id: String,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Ids {
    One(String),
    Many(Vec<Listing>),
}

impl Ids {
    fn into_listings(self) -> Vec<Listing> {
        match self {
            Ids::One(id) => vec![Listing {
                id,
                from: None,
                until: None,
            }],
            Ids::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    symbol: String,
    name: String,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    stablecoin: bool,
    binance: Option<Ids>,
    coingecko: Option<Ids>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    token: Vec<RawToken>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegistryToken {
    pub symbol: String,
    pub name: String,
    pub categories: Vec<String>,
    /// Tracked, but left out of category aggregates, the study and the market indices.
    pub stablecoin: bool,
    pub binance: Vec<Listing>,
    pub coingecko: Vec<Listing>,
}

impl RegistryToken {
    /// The listings of one provider (`binance`, `coingecko`).
    pub fn listings(&self, provider: &str) -> &[Listing] {
        match provider {
            "binance" => &self.binance,
            "coingecko" => &self.coingecko,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Registry {
    pub tokens: Vec<RegistryToken>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {context}: {message}")]
pub struct RegistryError {
    pub file: String,
    pub context: String,
    pub message: String,
}

/// Parse and check a registry: symbols unique and upper case, category slugs well
/// formed, each provider's listings ordered and not overlapping.
pub fn parse(text: &str, file: &str) -> Result<Registry, RegistryError> {
    let err = |context: &str, message: String| RegistryError {
        file: file.to_string(),
        context: context.to_string(),
        message,
    };
    let raw: RawRegistry = toml::from_str(text).map_err(|e| err("toml", e.to_string()))?;
    let mut seen = std::collections::HashSet::new();
    let mut tokens = Vec::with_capacity(raw.token.len());
    for t in raw.token {
        let ctx = format!("token {}", t.symbol);
        let ok_symbol = !t.symbol.is_empty()
            && t.symbol.len() <= 20
            && t.symbol
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !ok_symbol {
            return Err(err(&ctx, "symbol must be 1-20 of A-Z, 0-9".into()));
        }
        if !seen.insert(t.symbol.clone()) {
            return Err(err(&ctx, "listed twice".into()));
        }
        for c in &t.categories {
            let ok = !c.is_empty()
                && c.split('-').all(|p| {
                    !p.is_empty()
                        && p.chars()
                            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
                });
            if !ok {
                return Err(err(&ctx, format!("category {c:?} is not a slug")));
            }
        }
        let check = |provider: &str, ids: Option<Ids>| -> Result<Vec<Listing>, RegistryError> {
            let mut v = ids.map(Ids::into_listings).unwrap_or_default();
            v.sort_by_key(|l| l.from);
            for (i, l) in v.iter().enumerate() {
                if l.id.trim().is_empty() {
                    return Err(err(&ctx, format!("{provider}: empty id")));
                }
                if let (Some(a), Some(b)) = (l.from, l.until) {
                    if a >= b {
                        return Err(err(
                            &ctx,
                            format!("{provider} {}: from is not before until", l.id),
                        ));
                    }
                }
                if let Some(next) = v.get(i + 1) {
                    let overlaps = match (l.until, next.from) {
                        (Some(u), Some(f)) => u > f,
                        _ => true,
                    };
                    if overlaps {
                        return Err(err(
                            &ctx,
                            format!(
                                "{provider}: {} and {} overlap (give until/from)",
                                l.id, next.id
                            ),
                        ));
                    }
                }
            }
            Ok(v)
        };
        let binance = check("binance", t.binance)?;
        let coingecko = check("coingecko", t.coingecko)?;
        tokens.push(RegistryToken {
            symbol: t.symbol,
            name: t.name,
            categories: t.categories,
            stablecoin: t.stablecoin,
            binance,
            coingecko,
        });
    }
    Ok(Registry { tokens })
}

/// The parts of `[from, to)` each listing covers, in time order: which id to ask for
/// which bars.
pub fn segments(
    listings: &[(String, DateTime<Utc>, DateTime<Utc>)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
    let mut out: Vec<_> = listings
        .iter()
        .filter_map(|(id, a, b)| {
            let (s, e) = (from.max(*a), to.min(*b));
            (s < e).then(|| (id.clone(), s, e))
        })
        .collect();
    out.sort_by_key(|s| s.1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn builtin_registry_parses_with_renames() {
        let r = parse(BUILTIN_REGISTRY, "tokens.toml").unwrap();
        let render = r.tokens.iter().find(|t| t.symbol == "RENDER").unwrap();
        assert_eq!(render.binance.len(), 2);
        assert_eq!(render.binance[0].id, "RNDRUSDT");
        assert_eq!(render.binance[0].until, render.binance[1].from);
        let usdc = r.tokens.iter().find(|t| t.symbol == "USDC").unwrap();
        assert!(usdc.stablecoin);
        // Every CoinGecko-style category the issue names is used by some token.
        for (slug, _) in COINGECKO_CATEGORIES {
            assert!(
                r.tokens
                    .iter()
                    .any(|t| t.categories.iter().any(|c| c == slug)),
                "{slug}"
            );
        }
    }

    #[test]
    fn bad_registries_name_the_token() {
        let e = parse(
            "[[token]]\nsymbol = \"X\"\nname = \"X\"\nbinance = [{ id = \"A\" }, { id = \"B\" }]\n",
            "t.toml",
        )
        .unwrap_err();
        assert_eq!(e.context, "token X");
        assert!(e.message.contains("overlap"), "{e}");
        let e = parse("[[token]]\nsymbol = \"x\"\nname = \"X\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().starts_with("t.toml: token x"));
    }

    #[test]
    fn segments_split_a_range_at_renames() {
        let t = |d: u32| Utc.with_ymd_and_hms(2024, 7, d, 0, 0, 0).unwrap();
        let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        let l = vec![
            ("RNDRUSDT".to_string(), min, t(26)),
            ("RENDERUSDT".to_string(), t(26), max),
        ];
        assert_eq!(
            segments(&l, t(20), t(28)),
            vec![
                ("RNDRUSDT".to_string(), t(20), t(26)),
                ("RENDERUSDT".to_string(), t(26), t(28))
            ]
        );
        assert_eq!(segments(&l, t(27), t(28)).len(), 1);
    }
}
