//! CSV price files. Pure: text in, bars or an error naming file, line and field out.
//!
//! Two layouts, told apart by the header (column order is free, names are not):
//! - close only: `open_time,close` (the format of the shared Binance hourly files);
//! - OHLCV: `open_time,open,high,low,close[,volume][,market_cap]`, with the Binance kline
//!   columns where known: `quote_volume` (or `quote_asset_volume`), `trades`,
//!   `taker_buy_base`, `taker_buy_quote`.
//!
//! `volume` is the **base-asset** volume (BTC for BTC), as in Binance klines and the files
//! of freqtrade and the shared data; the quote (USDT) volume is `quote_volume`.
//!
//! `open_time` is the bar's opening time in UTC: `YYYY-MM-DD HH:MM:SS` (no zone, UTC),
//! RFC 3339 (`2025-01-27T10:00:00Z`, `+00:00`), or integer epoch milliseconds. It must
//! fall on the interval's grid. Prices must be positive; a time may appear only once.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

use super::{Bar, BarInterval, Flow};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{file}, line {line}, field {field}: {message}")]
pub struct CsvError {
    pub file: String,
    pub line: u64,
    pub field: String,
    pub message: String,
}

struct Columns {
    open_time: usize,
    close: usize,
    open: Option<usize>,
    high: Option<usize>,
    low: Option<usize>,
    base_volume: Option<usize>,
    quote_volume: Option<usize>,
    trades: Option<usize>,
    taker_buy_base: Option<usize>,
    taker_buy_quote: Option<usize>,
    market_cap: Option<usize>,
}

/// Parse a price file. `file` names it in errors. Bars come back sorted by time.
pub fn parse_bars(text: &str, file: &str, interval: BarInterval) -> Result<Vec<Bar>, CsvError> {
    let err = |line: u64, field: &str, message: String| CsvError {
        file: file.to_string(),
        line,
        field: field.to_string(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| err(1, "header", e.to_string()))?
        .clone();
    let find = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let cols = Columns {
        open_time: find("open_time").ok_or_else(|| {
            err(
                1,
                "open_time",
                "missing column (expected open_time,close or open_time,open,high,low,close,volume)"
                    .into(),
            )
        })?,
        close: find("close").ok_or_else(|| err(1, "close", "missing column".into()))?,
        open: find("open"),
        high: find("high"),
        low: find("low"),
        base_volume: find("volume").or_else(|| find("base_volume")),
        quote_volume: find("quote_volume").or_else(|| find("quote_asset_volume")),
        trades: find("trades").or_else(|| find("number_of_trades")),
        taker_buy_base: find("taker_buy_base").or_else(|| find("taker_buy_base_asset_volume")),
        taker_buy_quote: find("taker_buy_quote").or_else(|| find("taker_buy_quote_asset_volume")),
        market_cap: find("market_cap"),
    };

    let mut bars = Vec::new();
    let mut seen: HashMap<i64, u64> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            err(line, "row", e.to_string())
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let get = |i: usize| record.get(i).unwrap_or("");
        let open_time = parse_time(get(cols.open_time)).ok_or_else(|| {
            err(
                line,
                "open_time",
                format!(
                    "{:?} is not a UTC time (YYYY-MM-DD HH:MM:SS, RFC 3339 or epoch milliseconds)",
                    get(cols.open_time)
                ),
            )
        })?;
        if !interval.is_aligned(open_time) {
            return Err(err(
                line,
                "open_time",
                format!("{open_time} is not on the {} grid", interval.as_str()),
            ));
        }
        if let Some(first) = seen.insert(open_time.timestamp(), line) {
            return Err(err(
                line,
                "open_time",
                format!("{open_time} appears twice (also on line {first})"),
            ));
        }
        let price = |name: &str, idx: usize| -> Result<f64, CsvError> {
            let raw = get(idx);
            match raw.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
                _ => Err(err(line, name, format!("{raw:?} is not a positive number"))),
            }
        };
        let optional =
            |name: &str, idx: Option<usize>, allow_zero: bool| -> Result<Option<f64>, CsvError> {
                let Some(i) = idx else { return Ok(None) };
                let raw = get(i);
                if raw.is_empty() {
                    return Ok(None);
                }
                match raw.parse::<f64>() {
                    Ok(v) if v.is_finite() && (v > 0.0 || (allow_zero && v == 0.0)) => Ok(Some(v)),
                    _ => Err(err(line, name, format!("{raw:?} is not a valid number"))),
                }
            };
        let close = price("close", cols.close)?;
        let open = optional("open", cols.open, false)?;
        let high = optional("high", cols.high, false)?;
        let low = optional("low", cols.low, false)?;
        if let (Some(h), Some(l)) = (high, low) {
            if h < l {
                return Err(err(line, "high", format!("high {h} is below low {l}")));
            }
        }
        bars.push(Bar {
            open_time,
            open,
            high,
            low,
            close,
            volume: optional("quote_volume", cols.quote_volume, true)?,
            market_cap: optional("market_cap", cols.market_cap, true)?,
            flow: Flow {
                base_volume: optional("volume", cols.base_volume, true)?,
                trades: optional("trades", cols.trades, true)?
                    .map(|n| {
                        if n.fract() == 0.0 && n <= i64::MAX as f64 {
                            Ok(n as i64)
                        } else {
                            Err(err(line, "trades", format!("{n} is not a whole count")))
                        }
                    })
                    .transpose()?,
                taker_buy_base: optional("taker_buy_base", cols.taker_buy_base, true)?,
                taker_buy_quote: optional("taker_buy_quote", cols.taker_buy_quote, true)?,
                volume_24h: None,
            },
        });
    }
    bars.sort_by_key(|b| b.open_time);
    Ok(bars)
}

/// A UTC time in any of the accepted forms.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Some(Utc.from_utc_datetime(&t));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        let ms: i64 = s.parse().ok()?;
        return Utc.timestamp_millis_opt(ms).single();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h() -> BarInterval {
        BarInterval::Hour
    }

    #[test]
    fn shared_close_only_format() {
        let bars = parse_bars(
            "open_time,close\n2024-01-01 01:00:00,2.5\n2024-01-01 00:00:00,2\n",
            "X.csv",
            h(),
        )
        .unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[0].open_time.to_rfc3339(), "2024-01-01T00:00:00+00:00");
        assert_eq!(bars[1].close, 2.5);
        assert_eq!(bars[0].open, None);
    }

    #[test]
    fn ohlcv_format_and_time_forms_agree() {
        let text = "open_time,open,high,low,close,volume\n\
                    2025-01-27T10:00:00Z,1,2,0.5,1.5,100\n\
                    1737979200000,1.5,1.6,1.4,1.55,0\n\
                    2025-01-27T15:00:00+02:00,1,1,1,1,\n";
        let bars = parse_bars(text, "o.csv", h()).unwrap();
        assert_eq!(bars[0].open_time.to_rfc3339(), "2025-01-27T10:00:00+00:00");
        assert_eq!(bars[1].open_time.to_rfc3339(), "2025-01-27T12:00:00+00:00");
        assert_eq!(bars[2].open_time.to_rfc3339(), "2025-01-27T13:00:00+00:00");
        assert_eq!(bars[2].flow.base_volume, None);
        assert_eq!(bars[0].high, Some(2.0));
        assert_eq!(bars[1].flow.base_volume, Some(0.0));
        assert_eq!(
            bars[0].volume, None,
            "volume is the base volume, not the quote's"
        );
    }

    #[test]
    fn binance_kline_columns() {
        let text = "open_time,open,high,low,close,volume,quote_asset_volume,trades,taker_buy_base,taker_buy_quote\n\
                    2024-01-01 00:00:00,42283.58,44184.1,42180.77,44179.55,27174.29903,1169995682.02,1114623,14331.7318,617352094.56\n";
        let bars = parse_bars(text, "BTCUSDT.csv", BarInterval::Day).unwrap();
        let b = &bars[0];
        assert_eq!(b.flow.base_volume, Some(27174.29903));
        assert_eq!(b.volume, Some(1169995682.02));
        assert_eq!(b.flow.trades, Some(1114623));
        assert_eq!(b.flow.taker_buy_base, Some(14331.7318));
        assert_eq!(b.flow.taker_buy_quote, Some(617352094.56));
        let e = parse_bars(
            "open_time,close,trades\n2024-01-01 00:00:00,1,2.5\n",
            "t.csv",
            BarInterval::Day,
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "trades"));
    }

    #[test]
    fn bad_rows_name_line_and_field() {
        let e = parse_bars(
            "open_time,close\n2024-01-01 00:00:00,1\n2024-01-01 01:00:00,abc\n",
            "f.csv",
            h(),
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (3, "close"));
        assert!(e.to_string().starts_with("f.csv, line 3, field close"));
        let e = parse_bars("open_time,close\nyesterday,1\n", "f.csv", h()).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "open_time"));
        let e = parse_bars("open_time,close\n2024-01-01 00:30:00,1\n", "f.csv", h()).unwrap_err();
        assert!(e.message.contains("grid"));
        let e = parse_bars("open_time,close\n2024-01-01 00:00:00,-1\n", "f.csv", h()).unwrap_err();
        assert_eq!(e.field, "close");
        let e = parse_bars("time,price\n", "f.csv", h()).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (1, "open_time"));
        let e = parse_bars(
            "open_time,close\n2024-01-01 00:00:00,1\n2024-01-01 00:00:00,2\n",
            "f.csv",
            h(),
        )
        .unwrap_err();
        assert!(e.message.contains("line 2"), "{e}");
        let e = parse_bars("open_time,close\n2024-01-01 00:00:00,1,9\n", "f.csv", h()).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "row"));
    }
}
