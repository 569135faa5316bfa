//! The study's in-memory universe: every token's returns on one bar grid, the market
//! proxy's returns, category portfolios, and the prefix sums that make each estimation
//! fit O(1). Built once per run; pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::PairSums;

/// Simple or log returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ReturnKind {
    #[default]
    Simple,
    Log,
}

impl ReturnKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnKind::Simple => "simple",
            ReturnKind::Log => "log",
        }
    }

    fn of(self, p0: f64, p1: f64) -> f64 {
        match self {
            ReturnKind::Simple => p1 / p0 - 1.0,
            ReturnKind::Log => (p1 / p0).ln(),
        }
    }

    /// The compounded return of a run of bar returns.
    pub fn compound(self, rs: impl Iterator<Item = f64>) -> f64 {
        match self {
            ReturnKind::Simple => rs.fold(1.0, |acc, r| acc * (1.0 + r)) - 1.0,
            ReturnKind::Log => rs.sum::<f64>().exp() - 1.0,
        }
    }
}

impl std::str::FromStr for ReturnKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "simple" => Ok(ReturnKind::Simple),
            "log" => Ok(ReturnKind::Log),
            other => Err(format!("unknown return kind {other:?} (simple, log)")),
        }
    }
}

/// The market return series the models measure against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Proxy {
    /// BTC; BTC itself is measured against ETH.
    #[default]
    Btc,
    /// ETH; ETH itself is measured against BTC.
    Eth,
    /// Equal-weighted mean return of every token in the universe with a return that bar.
    EqualWeighted,
    /// Market-cap-weighted mean return (weights: caps at the previous bar's close).
    ValueWeighted,
}

impl Proxy {
    pub fn as_str(self) -> &'static str {
        match self {
            Proxy::Btc => "BTC",
            Proxy::Eth => "ETH",
            Proxy::EqualWeighted => "equal-weighted index",
            Proxy::ValueWeighted => "value-weighted index",
        }
    }
}

impl std::str::FromStr for Proxy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "btc" => Ok(Proxy::Btc),
            "eth" => Ok(Proxy::Eth),
            "ew" | "equal-weighted" => Ok(Proxy::EqualWeighted),
            "vw" | "value-weighted" => Ok(Proxy::ValueWeighted),
            other => Err(format!("unknown proxy {other:?} (btc, eth, ew, vw)")),
        }
    }
}

/// One token's prices on the grid, as loaded.
#[derive(Debug, Clone)]
pub struct TokenInput {
    pub id: i32,
    pub symbol: String,
    pub categories: Vec<i32>,
    /// Closes per grid bar (NaN = missing).
    pub closes: Vec<f64>,
    /// Market caps per grid bar, if the source gave any.
    pub caps: Option<Vec<f64>>,
}

#[derive(Debug)]
pub struct UToken {
    pub id: i32,
    pub symbol: String,
    pub categories: Vec<i32>,
    pub returns: Vec<f64>,
    pub caps: Option<Vec<f64>>,
    /// Index into `Universe::markets` of the market series this token is measured against.
    pub market: usize,
    pub sums: PairSums,
    pub has_data: bool,
}

#[derive(Debug)]
pub struct UCategory {
    pub id: i32,
    pub members: Vec<usize>,
    /// The category's equal-weighted portfolio: mean return of members with a return that bar.
    pub portfolio: Vec<f64>,
    pub sums: PairSums,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UniverseError {
    #[error("the market proxy {0} has no price bars: import its prices first")]
    NoProxy(&'static str),
    #[error("the value-weighted proxy needs market caps, and no price bar has one")]
    NoCaps,
}

#[derive(Debug)]
pub struct Universe {
    /// Bar number of grid index 0.
    pub first_bar: i64,
    pub len: usize,
    pub kind: ReturnKind,
    pub proxy: Proxy,
    pub tokens: Vec<UToken>,
    pub categories: Vec<UCategory>,
    /// Market series: [0] the proxy, [1] the alternative for the proxy token itself.
    pub markets: Vec<Vec<f64>>,
    /// Prefix sums of the proxy against itself (for the market's own volatility).
    pub market_sums: PairSums,
    /// Category portfolios of the token sets events and ordinary hours keep (see
    /// `Universe::portfolio`), keyed by member indices.
    pub portfolios: PortfolioCache,
}

/// Portfolios by member set, shared across threads.
pub type PortfolioCache = std::sync::RwLock<
    std::collections::HashMap<Vec<usize>, std::sync::Arc<super::series::Portfolio>>,
>;

fn returns_of(closes: &[f64], kind: ReturnKind) -> Vec<f64> {
    let mut r = vec![f64::NAN; closes.len()];
    for t in 1..closes.len() {
        let (a, b) = (closes[t - 1], closes[t]);
        if a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0 {
            r[t] = kind.of(a, b);
        }
    }
    r
}

pub(crate) fn mean_across(series: &[&[f64]], len: usize) -> Vec<f64> {
    (0..len)
        .map(|t| {
            let (s, n) = series.iter().fold((0.0, 0.0), |(s, n), r| {
                if r[t].is_finite() {
                    (s + r[t], n + 1.0)
                } else {
                    (s, n)
                }
            });
            if n > 0.0 {
                s / n
            } else {
                f64::NAN
            }
        })
        .collect()
}

impl Universe {
    pub fn build(
        first_bar: i64,
        len: usize,
        inputs: Vec<TokenInput>,
        kind: ReturnKind,
        proxy: Proxy,
    ) -> Result<Self, UniverseError> {
        let returns: Vec<Vec<f64>> = inputs.iter().map(|t| returns_of(&t.closes, kind)).collect();
        let find = |sym: &str| inputs.iter().position(|t| t.symbol == sym);
        let has = |i: usize| returns[i].iter().any(|r| r.is_finite());
        let (main, alt, proxy_token) = match proxy {
            Proxy::Btc | Proxy::Eth => {
                let (own, other) = if proxy == Proxy::Btc {
                    ("BTC", "ETH")
                } else {
                    ("ETH", "BTC")
                };
                let i = find(own)
                    .filter(|&i| has(i))
                    .ok_or(UniverseError::NoProxy(proxy.as_str()))?;
                let alt = find(other)
                    .map(|j| returns[j].clone())
                    .unwrap_or_else(|| vec![f64::NAN; len]);
                (returns[i].clone(), alt, Some(i))
            }
            Proxy::EqualWeighted => {
                let all: Vec<&[f64]> = returns.iter().map(Vec::as_slice).collect();
                (mean_across(&all, len), vec![f64::NAN; len], None)
            }
            Proxy::ValueWeighted => {
                let mut out = vec![f64::NAN; len];
                let mut any = false;
                for (t, slot) in out.iter_mut().enumerate().skip(1) {
                    let (mut s, mut w) = (0.0, 0.0);
                    for (i, inp) in inputs.iter().enumerate() {
                        let cap = inp.caps.as_ref().map(|c| c[t - 1]).unwrap_or(f64::NAN);
                        if cap.is_finite() && cap > 0.0 && returns[i][t].is_finite() {
                            s += cap * returns[i][t];
                            w += cap;
                        }
                    }
                    if w > 0.0 {
                        *slot = s / w;
                        any = true;
                    }
                }
                if !any {
                    return Err(UniverseError::NoCaps);
                }
                (out, vec![f64::NAN; len], None)
            }
        };
        let market_sums = PairSums::new(&main, &main);
        let markets = vec![main, alt];

        let tokens: Vec<UToken> = inputs
            .into_iter()
            .zip(returns)
            .enumerate()
            .map(|(i, (inp, r))| {
                let market = usize::from(Some(i) == proxy_token);
                let sums = PairSums::new(&r, &markets[market]);
                UToken {
                    has_data: r.iter().any(|x| x.is_finite()),
                    id: inp.id,
                    symbol: inp.symbol,
                    categories: inp.categories,
                    returns: r,
                    caps: inp.caps,
                    market,
                    sums,
                }
            })
            .collect();

        let mut members: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (i, t) in tokens.iter().enumerate() {
            for &c in &t.categories {
                members.entry(c).or_default().push(i);
            }
        }
        let categories = members
            .into_iter()
            .map(|(id, members)| {
                let series: Vec<&[f64]> = members
                    .iter()
                    .map(|&i| tokens[i].returns.as_slice())
                    .collect();
                let portfolio = mean_across(&series, len);
                let sums = PairSums::new(&portfolio, &markets[0]);
                UCategory {
                    id,
                    members,
                    portfolio,
                    sums,
                }
            })
            .collect();
        Ok(Universe {
            first_bar,
            len,
            kind,
            proxy,
            tokens,
            categories,
            markets,
            market_sums,
            portfolios: Default::default(),
        })
    }

    /// Grid index of an absolute bar number (may be out of range).
    pub fn idx(&self, bar: i64) -> i64 {
        bar - self.first_bar
    }

    /// Value of `series` at grid index `i`, NaN outside the grid.
    pub fn at(series: &[f64], i: i64) -> f64 {
        usize::try_from(i)
            .ok()
            .and_then(|i| series.get(i).copied())
            .unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: i32, sym: &str, cats: &[i32], closes: &[f64]) -> TokenInput {
        TokenInput {
            id,
            symbol: sym.into(),
            categories: cats.to_vec(),
            closes: closes.to_vec(),
            caps: None,
        }
    }

    #[test]
    fn proxies_and_portfolios() {
        let u = Universe::build(
            100,
            3,
            vec![
                token(1, "BTC", &[], &[100.0, 110.0, 99.0]),
                token(2, "ETH", &[7], &[10.0, 10.0, 11.0]),
                token(3, "FET", &[7], &[1.0, f64::NAN, 2.0]),
            ],
            ReturnKind::Simple,
            Proxy::Btc,
        )
        .unwrap();
        assert!((u.markets[0][1] - 0.1).abs() < 1e-12);
        assert_eq!(u.tokens[0].market, 1, "BTC is measured against ETH");
        assert_eq!(u.tokens[1].market, 0);
        let cat = &u.categories[0];
        assert_eq!(cat.members, vec![1, 2]);
        // Bar 1: only ETH has a return (0); bar 2: ETH +10%, FET missing (gap before).
        assert_eq!(cat.portfolio[1], 0.0);
        assert!((cat.portfolio[2] - 0.1).abs() < 1e-12);
        let ew = Universe::build(
            0,
            3,
            vec![
                token(1, "A", &[], &[1.0, 2.0, 2.0]),
                token(2, "B", &[], &[1.0, 1.0, 1.5]),
            ],
            ReturnKind::Log,
            Proxy::EqualWeighted,
        )
        .unwrap();
        assert!((ew.markets[0][1] - 2f64.ln() / 2.0).abs() < 1e-12);
        assert_eq!(
            Universe::build(
                0,
                2,
                vec![token(1, "A", &[], &[1.0, 2.0])],
                ReturnKind::Simple,
                Proxy::Btc
            )
            .unwrap_err(),
            UniverseError::NoProxy("BTC")
        );
    }
}
