//! The series a scan looks at, built from hourly closes. Pure.
//!
//! - The market: the study's default proxy, BTC, raw (its own return is the market's).
//! - Every category with at least 5 tokens with data: the equal-weighted mean of its
//!   members' hourly log returns (an hour counts when at least 5 members have one),
//!   scanned raw (what the category did) and abnormal (what it did beyond the market:
//!   `r - alpha - beta m`, see `detect::abnormal`).
//! - Every other token: abnormal only (its raw moves are mostly the market's).

use std::collections::{BTreeMap, HashMap};

use super::detect::{abnormal, Grid};
use crate::study::series::Series;
use crate::study::store::TokenRow;

/// Fewest members with data for a category portfolio.
pub const MIN_CATEGORY_TOKENS: usize = 5;
/// The market proxy's symbol.
pub const MARKET_SYMBOL: &str = "BTC";

/// One series to scan.
#[derive(Debug, Clone)]
pub struct ScanSeries {
    pub series: Series,
    pub basis_name: &'static str,
    /// Returns the scan judges (raw or abnormal).
    pub basis: Vec<f64>,
    /// The series' own returns.
    pub raw: Vec<f64>,
    /// Tokens the series is made of (the fine bars of these place the move).
    pub tokens: Vec<i32>,
    pub n_tokens: usize,
}

/// Hourly log returns from closes (NaN where either close is missing).
pub fn log_returns(closes: &[f64]) -> Vec<f64> {
    let mut r = vec![f64::NAN; closes.len()];
    for i in 1..closes.len() {
        let v = (closes[i] / closes[i - 1]).ln();
        if v.is_finite() {
            r[i] = v;
        }
    }
    r
}

/// Equal-weighted mean of the members' returns, where at least `min` have one.
pub fn portfolio(members: &[&Vec<f64>], len: usize, min: usize) -> Vec<f64> {
    (0..len)
        .map(|i| {
            let (s, n) = members
                .iter()
                .filter_map(|r| r[i].is_finite().then_some(r[i]))
                .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
            if n >= min {
                s / n as f64
            } else {
                f64::NAN
            }
        })
        .collect()
}

/// Every series of the scan, market first; None without the market's closes.
pub fn build(
    grid: &Grid,
    tokens: &[TokenRow],
    closes: &HashMap<i32, Vec<f64>>,
) -> Option<Vec<ScanSeries>> {
    let market_token = tokens.iter().find(|t| t.symbol == MARKET_SYMBOL)?;
    let returns: BTreeMap<i32, Vec<f64>> = tokens
        .iter()
        .filter_map(|t| closes.get(&t.id).map(|c| (t.id, log_returns(c))))
        .collect();
    let m = returns.get(&market_token.id)?.clone();
    let mut out = vec![ScanSeries {
        series: Series::Market,
        basis_name: "raw",
        basis: m.clone(),
        raw: m.clone(),
        tokens: vec![market_token.id],
        n_tokens: 1,
    }];
    let mut members: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for t in tokens.iter().filter(|t| returns.contains_key(&t.id)) {
        for &c in &t.categories {
            members.entry(c).or_default().push(t.id);
        }
    }
    for (&c, ids) in &members {
        if ids.len() < MIN_CATEGORY_TOKENS {
            continue;
        }
        let rs: Vec<&Vec<f64>> = ids.iter().filter_map(|id| returns.get(id)).collect();
        let raw = portfolio(&rs, grid.len, MIN_CATEGORY_TOKENS);
        let ab = abnormal(grid, &raw, &m);
        let series = Series::Category { category_id: c };
        out.push(ScanSeries {
            series,
            basis_name: "raw",
            basis: raw.clone(),
            raw: raw.clone(),
            tokens: ids.clone(),
            n_tokens: ids.len(),
        });
        out.push(ScanSeries {
            series,
            basis_name: "abnormal",
            basis: ab,
            raw,
            tokens: ids.clone(),
            n_tokens: ids.len(),
        });
    }
    for (&id, r) in &returns {
        if id == market_token.id {
            continue;
        }
        out.push(ScanSeries {
            series: Series::Token { token_id: id },
            basis_name: "abnormal",
            basis: abnormal(grid, r, &m),
            raw: r.clone(),
            tokens: vec![id],
            n_tokens: 1,
        });
    }
    Some(out)
}
