//! SQL for the taxonomy tables: tokens, token_aliases, categories, token_categories,
//! category_keywords, ambiguous_patterns, tagging_collisions.

use std::collections::BTreeSet;

use sqlx::PgPool;

use super::{category_name, SalienceRules, TaggingRules, TokenDef, EXCLUDED_CATEGORIES};

/// A token with everything tagging needs.
#[derive(Debug, Clone)]
pub struct StoredToken {
    pub id: i32,
    pub symbol: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub categories: Vec<String>,
}

/// Upsert the tokens and rules. A token's categories and aliases are replaced by the
/// file's; tokens absent from the file are kept (their price history stays usable).
/// One transaction: a failure leaves the previous taxonomy in place.
pub async fn save(
    pool: &PgPool,
    tokens: &[TokenDef],
    rules: &TaggingRules,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;

    let slugs: BTreeSet<&str> = tokens
        .iter()
        .flat_map(|t| t.categories.iter().map(String::as_str))
        .chain(rules.keywords.keys().map(String::as_str))
        .collect();
    let slug_list: Vec<String> = slugs.iter().map(|s| s.to_string()).collect();
    let names: Vec<String> = slugs.iter().map(|s| category_name(s)).collect();
    let excluded: Vec<bool> = slugs
        .iter()
        .map(|s| EXCLUDED_CATEGORIES.contains(s))
        .collect();
    sqlx::query!(
        r#"INSERT INTO categories (slug, name, excluded_from_aggregates)
           SELECT * FROM UNNEST($1::text[], $2::text[], $3::bool[])
           ON CONFLICT (slug) DO UPDATE
           SET name = EXCLUDED.name, excluded_from_aggregates = EXCLUDED.excluded_from_aggregates"#,
        &slug_list,
        &names,
        &excluded
    )
    .execute(&mut *tx)
    .await?;

    let symbols: Vec<String> = tokens.iter().map(|t| t.symbol.clone()).collect();
    let token_names: Vec<String> = tokens.iter().map(|t| t.name.clone()).collect();
    sqlx::query!(
        r#"INSERT INTO tokens (symbol, name)
           SELECT * FROM UNNEST($1::text[], $2::text[])
           ON CONFLICT (symbol) DO UPDATE SET name = EXCLUDED.name"#,
        &symbols,
        &token_names
    )
    .execute(&mut *tx)
    .await?;

    sqlx::query!(
        "DELETE FROM token_categories WHERE token_id IN (SELECT id FROM tokens WHERE symbol = ANY($1))",
        &symbols
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM token_aliases WHERE token_id IN (SELECT id FROM tokens WHERE symbol = ANY($1))",
        &symbols
    )
    .execute(&mut *tx)
    .await?;

    let (cat_symbols, cat_slugs): (Vec<String>, Vec<String>) = tokens
        .iter()
        .flat_map(|t| t.categories.iter().map(|c| (t.symbol.clone(), c.clone())))
        .unzip();
    sqlx::query!(
        r#"INSERT INTO token_categories (token_id, category_id)
           SELECT t.id, c.id FROM UNNEST($1::text[], $2::text[]) AS u(symbol, slug)
           JOIN tokens t ON t.symbol = u.symbol JOIN categories c ON c.slug = u.slug
           ON CONFLICT DO NOTHING"#,
        &cat_symbols,
        &cat_slugs
    )
    .execute(&mut *tx)
    .await?;

    let (alias_symbols, aliases): (Vec<String>, Vec<String>) = tokens
        .iter()
        .flat_map(|t| t.aliases.iter().map(|a| (t.symbol.clone(), a.clone())))
        .unzip();
    sqlx::query!(
        r#"INSERT INTO token_aliases (token_id, alias)
           SELECT t.id, u.alias FROM UNNEST($1::text[], $2::text[]) AS u(symbol, alias)
           JOIN tokens t ON t.symbol = u.symbol
           ON CONFLICT DO NOTHING"#,
        &alias_symbols,
        &aliases
    )
    .execute(&mut *tx)
    .await?;

    sqlx::query!("DELETE FROM category_keywords")
        .execute(&mut *tx)
        .await?;
    let (kw_slugs, keywords): (Vec<String>, Vec<String>) = rules
        .keywords
        .iter()
        .flat_map(|(slug, kws)| kws.iter().map(|k| (slug.clone(), k.clone())))
        .unzip();
    sqlx::query!(
        r#"INSERT INTO category_keywords (category_id, keyword)
           SELECT c.id, u.keyword FROM UNNEST($1::text[], $2::text[]) AS u(slug, keyword)
           JOIN categories c ON c.slug = u.slug
           ON CONFLICT DO NOTHING"#,
        &kw_slugs,
        &keywords
    )
    .execute(&mut *tx)
    .await?;

    sqlx::query!("DELETE FROM ambiguous_patterns")
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "INSERT INTO ambiguous_patterns (pattern) SELECT DISTINCT * FROM UNNEST($1::text[])",
        &rules.ambiguous
    )
    .execute(&mut *tx)
    .await?;

    sqlx::query!("DELETE FROM tagging_collisions")
        .execute(&mut *tx)
        .await?;
    let (patterns, notes): (Vec<String>, Vec<String>) = rules
        .collisions
        .iter()
        .map(|(p, n)| (p.clone(), n.clone()))
        .unzip();
    sqlx::query!(
        "INSERT INTO tagging_collisions (pattern, note) SELECT * FROM UNNEST($1::text[], $2::text[])",
        &patterns,
        &notes
    )
    .execute(&mut *tx)
    .await?;

    sqlx::query!("DELETE FROM salience_rules")
        .execute(&mut *tx)
        .await?;
    let (kinds, patterns): (Vec<String>, Vec<String>) = salience_rows(&rules.salience)
        .into_iter()
        .map(|(k, p)| (k.to_string(), p))
        .unzip();
    sqlx::query!(
        r#"INSERT INTO salience_rules (kind, pattern)
           SELECT * FROM UNNEST($1::text[], $2::text[]) ON CONFLICT DO NOTHING"#,
        &kinds,
        &patterns
    )
    .execute(&mut *tx)
    .await?;

    tx.commit().await
}

/// The salience rules as (kind, pattern) rows of `salience_rules`.
fn salience_rows(s: &SalienceRules) -> Vec<(&'static str, String)> {
    let lists: [(&'static str, &Vec<String>); 5] = [
        ("off-market", &s.off_market),
        ("roundup", &s.roundup),
        ("modifier-suffix", &s.modifier_suffixes),
        ("market-wide-category", &s.market_wide_categories),
        ("market-token", &s.market_tokens),
    ];
    lists
        .into_iter()
        .flat_map(|(k, v)| {
            v.iter()
                .filter(|p| !p.is_empty())
                .map(move |p| (k, p.clone()))
        })
        .collect()
}

/// Store `rules` as the salience rules unless some are stored: a database tagged before
/// salience existed (migration 0011) gets the built-in rules on its next start.
pub async fn ensure_salience(pool: &PgPool, rules: &SalienceRules) -> Result<bool, sqlx::Error> {
    let (kinds, patterns): (Vec<String>, Vec<String>) = salience_rows(rules)
        .into_iter()
        .map(|(k, p)| (k.to_string(), p))
        .unzip();
    let inserted = sqlx::query!(
        r#"INSERT INTO salience_rules (kind, pattern)
           SELECT * FROM UNNEST($1::text[], $2::text[])
           WHERE NOT EXISTS (SELECT 1 FROM salience_rules)
           ON CONFLICT DO NOTHING"#,
        &kinds,
        &patterns
    )
    .execute(pool)
    .await?;
    Ok(inserted.rows_affected() > 0)
}

/// Whether any token is stored yet.
pub async fn is_empty(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let n = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM tokens"#)
        .fetch_one(pool)
        .await?;
    Ok(n == 0)
}

/// All tokens with their aliases and categories, by symbol.
pub async fn load_tokens(pool: &PgPool) -> Result<Vec<StoredToken>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT t.id, t.symbol, t.name,
                  COALESCE((SELECT array_agg(a.alias ORDER BY a.alias) FROM token_aliases a
                            WHERE a.token_id = t.id), '{}') AS "aliases!",
                  COALESCE((SELECT array_agg(c.slug ORDER BY c.slug)
                            FROM token_categories tc JOIN categories c ON c.id = tc.category_id
                            WHERE tc.token_id = t.id), '{}') AS "categories!"
           FROM tokens t ORDER BY t.symbol"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| StoredToken {
            id: r.id,
            symbol: r.symbol,
            name: r.name,
            aliases: r.aliases,
            categories: r.categories,
        })
        .collect())
}

/// The tagging rules as stored.
pub async fn load_rules(pool: &PgPool) -> Result<TaggingRules, sqlx::Error> {
    let ambiguous = sqlx::query_scalar!("SELECT pattern FROM ambiguous_patterns ORDER BY pattern")
        .fetch_all(pool)
        .await?;
    let rows = sqlx::query!(
        r#"SELECT c.slug, k.keyword FROM category_keywords k
           JOIN categories c ON c.id = k.category_id ORDER BY c.slug, k.keyword"#
    )
    .fetch_all(pool)
    .await?;
    let mut rules = TaggingRules {
        ambiguous,
        ..Default::default()
    };
    for r in rows {
        rules.keywords.entry(r.slug).or_default().push(r.keyword);
    }
    rules.collisions =
        sqlx::query!("SELECT pattern, note FROM tagging_collisions ORDER BY pattern")
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| (r.pattern, r.note))
            .collect();
    for r in sqlx::query!("SELECT kind, pattern FROM salience_rules ORDER BY kind, pattern")
        .fetch_all(pool)
        .await?
    {
        let s = &mut rules.salience;
        let list = match r.kind.as_str() {
            "off-market" => &mut s.off_market,
            "roundup" => &mut s.roundup,
            "modifier-suffix" => &mut s.modifier_suffixes,
            "market-wide-category" => &mut s.market_wide_categories,
            "market-token" => &mut s.market_tokens,
            _ => continue,
        };
        list.push(r.pattern);
    }
    Ok(rules)
}
