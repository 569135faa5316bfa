//! Prices: bars per token and interval, from CSV files or fetched from providers
//! (Binance, CoinGecko), kept complete by backfills and upkeep, summarised as market
//! proxies. See docs/prices.md.

pub mod backfill;
pub mod binance;
pub mod coingecko;
pub mod csv;
pub mod csv_source;
pub mod provider;
pub mod proxies;
pub mod registry;
pub mod store;
pub mod upkeep;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

pub use self::csv::CsvError;

/// One price bar. Only `close` is required: some sources give closes only.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub open_time: DateTime<Utc>,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub close: f64,
    /// Quote-currency (USDT) volume.
    pub volume: Option<f64>,
    pub market_cap: Option<f64>,
    pub flow: Flow,
}

/// What a bar may say about trading beyond prices and quote volume (Binance klines give
/// all but `volume_24h`; CoinGecko gives only `volume_24h`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Flow {
    /// Base-asset volume (BTC for BTC).
    pub base_volume: Option<f64>,
    pub trades: Option<i64>,
    /// Base-asset volume bought by takers.
    pub taker_buy_base: Option<f64>,
    /// Quote volume bought by takers.
    pub taker_buy_quote: Option<f64>,
    /// Rolling 24-hour quote volume at the close (not the bar's own).
    pub volume_24h: Option<f64>,
}

/// Bar length. Catalyst's default grid is hourly; the study runs on hourly or daily bars,
/// and 1- and 5-minute bars are stored for a closer look at event days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BarInterval {
    Minute,
    FiveMinutes,
    #[default]
    Hour,
    Day,
}

impl BarInterval {
    /// Every interval, shortest first.
    pub const ALL: [BarInterval; 4] = [
        BarInterval::Minute,
        BarInterval::FiveMinutes,
        BarInterval::Hour,
        BarInterval::Day,
    ];

    /// The name in price_bars.interval, the CLI and Binance's `interval` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            BarInterval::Minute => "1m",
            BarInterval::FiveMinutes => "5m",
            BarInterval::Hour => "1h",
            BarInterval::Day => "1d",
        }
    }

    pub fn seconds(self) -> i64 {
        match self {
            BarInterval::Minute => 60,
            BarInterval::FiveMinutes => 300,
            BarInterval::Hour => 3600,
            BarInterval::Day => 86_400,
        }
    }

    /// Shorter than an hour: stored and served, but not a grid the study runs on.
    pub fn is_intraday(self) -> bool {
        self.seconds() < 3600
    }

    pub fn is_aligned(self, t: DateTime<Utc>) -> bool {
        t.timestamp().rem_euclid(self.seconds()) == 0 && t.timestamp_subsec_nanos() == 0
    }
}

impl std::str::FromStr for BarInterval {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BarInterval::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| format!("unknown interval {s:?} (expected 1m, 5m, 1h or 1d)"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error("{path}: cannot tell the token from the file name; pass --symbol")]
    NoSymbol { path: String },
    #[error("{path}: no .csv files in this directory")]
    EmptyDir { path: String },
    #[error("{path}: COPY into the database did not finish within {secs} s (a lock held elsewhere?); nothing was stored")]
    CopyTimeout { path: String, secs: f64 },
    #[error("database error while importing prices: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
}

/// Store the built-in token registry (`config/tokens.toml`): provider ids, renames and
/// the stablecoin flag. Idempotent; the worker calls it once before `upkeep::run_once`.
pub async fn load_builtin_registry(pool: &PgPool) -> Result<(), PriceError> {
    let reg = registry::parse(registry::BUILTIN_REGISTRY, "built-in config/tokens.toml")?;
    store::save_registry(pool, &reg).await?;
    Ok(())
}

/// A parsed file, ready to store.
#[derive(Debug, Clone)]
pub struct PriceFile {
    pub path: PathBuf,
    pub symbol: String,
    pub bars: Vec<Bar>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub files: usize,
    pub bars: usize,
    /// Files whose bars were all stored already, left untouched.
    pub unchanged_files: usize,
    /// Tokens created because the taxonomy did not know them.
    pub new_tokens: Vec<String>,
    /// First and last open time of the bars written (`None`: nothing changed): what the
    /// market proxies must rebuild.
    pub changed: Option<store::Span>,
}

impl ImportReport {
    /// Count `bars` (in time order) as written.
    fn touch(&mut self, bars: &[Bar]) {
        if let (Some(first), Some(last)) = (bars.first(), bars.last()) {
            self.widen(Some((first.open_time, last.open_time)));
        }
    }

    fn widen(&mut self, span: Option<store::Span>) {
        let Some((a, b)) = span else { return };
        self.changed = Some(match self.changed {
            Some((x, y)) => (x.min(a), y.max(b)),
            None => (a, b),
        });
    }
}

/// The token a file holds, from its name: `BTCUSDT.csv`, `btc-usd.csv`, `BTC.csv` → BTC.
pub fn symbol_from_file_name(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?.to_ascii_uppercase();
    let mut base = stem.as_str();
    for suffix in ["USDT", "USDC", "USD", "BUSD"] {
        if let Some(s) = base.strip_suffix(suffix) {
            if !s.is_empty() {
                base = s;
                break;
            }
        }
    }
    let base = base.trim_end_matches(['-', '_']);
    (!base.is_empty() && base.chars().all(|c| c.is_ascii_alphanumeric())).then(|| base.to_string())
}

/// Read and parse a file, or every `.csv` file of a directory (sorted by name). Nothing
/// is stored: a bad file anywhere stops the import before the database is touched.
pub fn read_files(
    path: &Path,
    symbol: Option<&str>,
    interval: BarInterval,
) -> Result<Vec<PriceFile>, PriceError> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| PriceError::Io { path: p, source }
    };
    // A missing path is said to be missing (`DIR/` with a typo is not a file whose name
    // fails to name a token).
    let meta = std::fs::metadata(path).map_err(io(path))?;
    let paths: Vec<PathBuf> = if meta.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io(path))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
            .collect();
        v.sort();
        if v.is_empty() {
            return Err(PriceError::EmptyDir {
                path: path.display().to_string(),
            });
        }
        v
    } else {
        vec![path.to_path_buf()]
    };
    let is_dir = meta.is_dir();
    paths
        .into_iter()
        .filter_map(|p| {
            // In a directory, a CSV that is not a price file at all (no open_time column:
            // a coverage table, a README export) is skipped and said so; a price file
            // with a bad row still stops the import.
            if is_dir && !has_price_header(&p) {
                tracing::warn!(file = %p.display(), "skipped: no open_time column, not a price file");
                return None;
            }
            Some(p)
        })
        .map(|p| {
            let symbol = match symbol {
                Some(s) => s.to_ascii_uppercase(),
                None => symbol_from_file_name(&p).ok_or_else(|| PriceError::NoSymbol {
                    path: p.display().to_string(),
                })?,
            };
            let text = std::fs::read_to_string(&p).map_err(io(&p))?;
            let bars = csv::parse_bars(&text, &p.display().to_string(), interval)?;
            Ok(PriceFile {
                path: p,
                symbol,
                bars,
            })
        })
        .collect()
}

/// The file's first line names an `open_time` column (unreadable: let the import say why).
fn has_price_header(p: &Path) -> bool {
    use std::io::BufRead;
    let Ok(f) = std::fs::File::open(p) else {
        return true;
    };
    let mut first = String::new();
    if std::io::BufReader::new(f).read_line(&mut first).is_err() {
        return true;
    }
    first
        .split(',')
        .any(|h| h.trim().trim_matches('"').eq_ignore_ascii_case("open_time"))
}

/// Import CSV bars from a file or directory: parse everything first, then store it all
/// in one transaction (idempotent upserts). Files already stored are skipped.
pub async fn import(
    pool: &PgPool,
    path: &Path,
    symbol: Option<&str>,
    interval: BarInterval,
) -> Result<ImportReport, PriceError> {
    let files = {
        let path = path.to_path_buf();
        let symbol = symbol.map(str::to_string);
        tokio::task::spawn_blocking(move || read_files(&path, symbol.as_deref(), interval))
            .await
            .map_err(|e| PriceError::Io {
                path: "(reader thread)".into(),
                source: std::io::Error::other(e),
            })??
    };
    store::save_files(pool, &files, interval).await
}

/// [`import`] with a choice of [`store::ImportMode`]: fill another source's gaps, or add
/// detail (volume, ranges) to its bars without changing them.
pub async fn import_as(
    pool: &PgPool,
    path: &Path,
    interval: BarInterval,
    mode: store::ImportMode,
) -> Result<ImportReport, PriceError> {
    let files = {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || read_files(&path, None, interval))
            .await
            .map_err(|e| PriceError::Io {
                path: "(reader thread)".into(),
                source: std::io::Error::other(e),
            })??
    };
    store::save_files_as(pool, &files, interval, mode).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_skips_csv_files_that_are_not_price_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("BTCUSDT.csv"),
            "open_time,close\n2025-01-01 00:00:00,1\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("coverage.csv"),
            "symbol,first,last,rows\nBTC,2024-01-01,2025-12-31,17000\n",
        )
        .unwrap();
        let files = read_files(dir.path(), None, BarInterval::Hour).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].symbol, "BTC");
        // Given alone, the same file is an error that names it.
        let e = read_files(
            &dir.path().join("coverage.csv"),
            Some("X"),
            BarInterval::Hour,
        )
        .unwrap_err();
        assert!(e.to_string().contains("coverage.csv"), "{e}");
    }

    #[test]
    fn a_missing_directory_is_reported_missing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("binance-hourly-close/");
        let e = read_files(&missing, None, BarInterval::Hour).unwrap_err();
        assert!(
            matches!(&e, PriceError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            "{e}"
        );
        std::fs::create_dir(&missing).unwrap();
        std::fs::write(
            missing.join("BTCUSDT.csv"),
            "open_time,close\n2025-01-01 00:00:00,1\n",
        )
        .unwrap();
        let with_slash = std::path::PathBuf::from(format!("{}/", missing.display()));
        let files = read_files(&with_slash, None, BarInterval::Hour).unwrap();
        assert_eq!(files[0].symbol, "BTC");
    }

    #[test]
    fn intervals_parse_round_trip_and_align() {
        use chrono::TimeZone;
        for i in BarInterval::ALL {
            assert_eq!(i.as_str().parse::<BarInterval>(), Ok(i));
        }
        let e = "15m".parse::<BarInterval>().unwrap_err();
        assert!(e.contains("1m, 5m, 1h or 1d"), "{e}");
        let at = |m: u32| Utc.with_ymd_and_hms(2025, 1, 27, 10, m, 0).unwrap();
        assert!(BarInterval::FiveMinutes.is_aligned(at(55)));
        assert!(!BarInterval::FiveMinutes.is_aligned(at(3)));
        assert!(BarInterval::Minute.is_aligned(at(3)));
        assert!(!BarInterval::Hour.is_aligned(at(5)));
        assert!(BarInterval::FiveMinutes.is_intraday() && !BarInterval::Hour.is_intraday());
    }

    #[test]
    fn symbols_from_file_names() {
        let s = |n: &str| symbol_from_file_name(Path::new(n));
        assert_eq!(s("BTCUSDT.csv").as_deref(), Some("BTC"));
        assert_eq!(s("dir/1INCHUSDT.csv").as_deref(), Some("1INCH"));
        assert_eq!(s("eth-usd.csv").as_deref(), Some("ETH"));
        assert_eq!(s("USDCUSDT.csv").as_deref(), Some("USDC"));
        assert_eq!(s("SOL.csv").as_deref(), Some("SOL"));
        assert_eq!(s("my prices.csv"), None);
    }
}
