//! CSV files as a provider: a directory of `<ID>.csv` files in the import format (see
//! `csv.rs`), where ID is the token's Binance symbol (`FETUSDT.csv`, `RNDRUSDT.csv`), as
//! in `../shared/data/prices/binance-hourly-close/`. A file is one page.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::provider::{Page, PriceSource, ProviderError};
use super::{csv, BarInterval, PriceError};

#[derive(Debug, Clone)]
pub struct CsvSource {
    dir: PathBuf,
}

impl CsvSource {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CsvSource { dir: dir.into() }
    }
}

impl PriceSource for CsvSource {
    fn registry_key(&self) -> &'static str {
        "binance"
    }

    fn source_tag(&self, id: &str) -> String {
        format!("csv:{id}.csv")
    }

    async fn fetch_page(
        &self,
        id: &str,
        interval: BarInterval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Page, ProviderError> {
        let path = self.dir.join(format!("{id}.csv"));
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(t) => t,
            // No file for this id: nothing to offer, like an exchange before a listing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Page::default()),
            Err(source) => {
                return Err(PriceError::Io {
                    path: path.display().to_string(),
                    source,
                }
                .into())
            }
        };
        let name = path.display().to_string();
        let mut bars = tokio::task::spawn_blocking(move || csv::parse_bars(&text, &name, interval))
            .await
            .map_err(|e| PriceError::Io {
                path: path.display().to_string(),
                source: std::io::Error::other(e),
            })?
            .map_err(PriceError::from)?;
        bars.retain(|b| b.open_time >= from && b.open_time < to);
        Ok(Page { bars, next: None })
    }
}
