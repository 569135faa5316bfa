//! Equities context: equities, ETFs and indices as context series beside the tokens
//! (never tokens: the study does not see them). Their daily bars are aligned to US
//! sessions (`sessions`), each event shows the move of the assets configured for its
//! categories and of the market-wide ones (`moves_for_event`), and each crypto category
//! gets a beta to each asset (`betas`). docs/context.md explains the method.
//!
//! `config` and `bars` parse the inputs, `sessions` and `betas` compute: all pure.
//! `store` holds every SQL statement on the context tables.

pub mod bars;
pub mod betas;
pub mod config;
pub mod sessions;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

pub use config::{AssetConfig, AssetKind, BUILTIN_CONTEXT};
use sessions::Placement;

/// Where the daily files sit inside the shared data directory.
pub const EQUITIES_SUBDIR: &str = "equities/yahoo-daily";

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{file}, line {line}: {message}")]
    Config {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}, line {line}, field {field}: {message}")]
    Csv {
        file: String,
        line: u64,
        field: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub assets: usize,
    /// Bars in the files.
    pub bars: usize,
    /// Bars new or changed (0 when everything was stored already).
    pub changed: u64,
    /// Category–asset betas stored afterwards.
    pub betas: usize,
}

/// Import every configured asset's file from `dir` in one transaction (all or nothing;
/// re-importing the same files changes nothing), then rebuild the betas. `config_name`
/// names the assets file in errors (an unknown category is reported at its line).
pub async fn import(
    pool: &PgPool,
    assets: &[AssetConfig],
    config_name: &str,
    dir: &Path,
) -> Result<ImportReport, ContextError> {
    // Read and parse everything before writing anything.
    let mut parsed = Vec::with_capacity(assets.len());
    for a in assets {
        let path = dir.join(&a.file);
        let text = std::fs::read_to_string(&path).map_err(|source| ContextError::Io {
            path: path.clone(),
            source,
        })?;
        parsed.push(bars::parse_daily(&text, &path.display().to_string())?);
    }
    let mut tx = pool.begin().await?;
    store::lock(&mut tx).await?;
    let mut report = ImportReport {
        assets: assets.len(),
        bars: 0,
        changed: 0,
        betas: 0,
    };
    for (a, bars) in assets.iter().zip(&parsed) {
        let known = store::known_categories(&mut tx, &a.categories).await?;
        if let Some(unknown) = a.categories.iter().find(|c| !known.contains(c)) {
            return Err(ContextError::Config {
                file: config_name.to_string(),
                line: a.line,
                message: format!("{}: no category {unknown:?} in the taxonomy", a.symbol),
            });
        }
        let source = format!("csv:{}", a.file);
        let id = store::upsert_asset(&mut tx, a, &source).await?;
        report.changed += store::upsert_bars(&mut tx, id, bars, &source).await?;
        report.bars += bars.len();
    }
    tx.commit().await?;
    report.betas = rebuild_betas(pool).await?;
    Ok(report)
}

/// Recompute every category's beta to every asset from the stored bars and hourly
/// prices; returns the rows stored.
pub async fn rebuild_betas(pool: &PgPool) -> Result<usize, ContextError> {
    let closes = store::session_closes(pool).await?;
    let mut by_asset: BTreeMap<i32, Vec<(NaiveDate, f64)>> = BTreeMap::new();
    for (asset, date, close) in closes {
        by_asset.entry(asset).or_default().push((date, close));
    }
    let mut instants: Vec<DateTime<Utc>> = by_asset
        .values()
        .flatten()
        .map(|(d, _)| sessions::Session::on(*d).close_at)
        .collect();
    instants.sort();
    instants.dedup();
    let token_close: HashMap<(i32, DateTime<Utc>), f64> = store::token_closes_at(pool, &instants)
        .await?
        .into_iter()
        .map(|(t, at, c)| ((t, at), c))
        .collect();
    let mut members: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for (category, token) in store::category_members(pool).await? {
        members.entry(category).or_default().push(token);
    }
    let mut rows = Vec::new();
    for (&category_id, tokens) in &members {
        for (&asset_id, closes) in &by_asset {
            let pairs = betas::session_pairs(closes, tokens, &token_close);
            if let Some(e) = betas::estimate(&pairs, betas::WINDOW_SESSIONS) {
                rows.push(store::BetaRow {
                    category_id,
                    asset_id,
                    first_session: e.first_session,
                    last_session: e.last_session,
                    n_sessions: i32::try_from(e.fit.n).unwrap_or(i32::MAX),
                    n_tokens: i32::try_from(e.n_tokens).unwrap_or(i32::MAX),
                    beta: e.fit.beta,
                    beta_se: e.fit.beta_se,
                    alpha: e.fit.alpha,
                    correlation: e.fit.correlation,
                });
            }
        }
    }
    store::replace_betas(pool, &rows).await?;
    Ok(rows.len())
}

/// One context asset's move around an event: the figures of the `event_context` view,
/// computed with [`sessions::session_for`].
#[derive(Debug, Clone, PartialEq)]
pub struct ContextMove {
    pub symbol: String,
    pub name: String,
    pub kind: String,
    /// `category` or `market-wide`.
    pub relevance: &'static str,
    pub for_categories: Vec<String>,
    pub placement: Placement,
    pub previous_close: Option<f64>,
    pub session_open: Option<f64>,
    pub session_close: Option<f64>,
    /// session_close / previous_close − 1.
    pub session_return: Option<f64>,
    /// session_open / previous_close − 1.
    pub gap_return: Option<f64>,
}

/// The context of one event: the assets configured for its categories first, then the
/// market-wide ones. Empty when no context asset is stored.
pub async fn moves_for_event(
    pool: &PgPool,
    event_id: i64,
    event_time: DateTime<Utc>,
) -> Result<Vec<ContextMove>, sqlx::Error> {
    let mut assets = store::relevant_assets(pool, event_id).await?;
    assets.sort_by_key(|a| a.for_categories.is_empty());
    let mut out = Vec::with_capacity(assets.len());
    for a in assets {
        let stored = store::sessions_around(pool, a.asset_id, event_time).await?;
        let dates: Vec<NaiveDate> = stored.iter().map(|s| s.date).collect();
        let placement = sessions::session_for(event_time, &dates);
        let find = |d: Option<sessions::Session>| {
            d.and_then(|s| stored.iter().find(|b| b.date == s.date).copied())
        };
        let (prev, cur) = (find(placement.previous), find(placement.session));
        let previous_close = prev.map(|p| p.close);
        let ratio = |v: Option<f64>| match (v, previous_close) {
            (Some(v), Some(p)) => Some(v / p - 1.0),
            _ => None,
        };
        out.push(ContextMove {
            relevance: if a.for_categories.is_empty() {
                "market-wide"
            } else {
                "category"
            },
            symbol: a.symbol,
            name: a.name,
            kind: a.kind,
            for_categories: a.for_categories,
            previous_close,
            session_open: cur.and_then(|c| c.open),
            session_close: cur.map(|c| c.close),
            session_return: ratio(cur.map(|c| c.close)),
            gap_return: ratio(cur.and_then(|c| c.open)),
            placement,
        });
    }
    Ok(out)
}
