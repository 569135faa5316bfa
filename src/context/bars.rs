//! Daily bar files of context assets. Pure: text in, bars or an error naming the file,
//! line and field out.
//!
//! Columns (order free, names not): `date,close` required; `open,high,low,adj_close,
//! volume` optional. `date` is the New York trading day, `YYYY-MM-DD`, a weekday, each
//! date once. Prices must be positive, volume not negative.

use chrono::{Datelike, NaiveDate, Weekday};

use super::ContextError;

/// One session's bar.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyBar {
    pub date: NaiveDate,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub close: f64,
    pub adj_close: Option<f64>,
    pub volume: Option<f64>,
}

/// Parse a daily file; `file` names it in errors. Bars come back sorted by date.
pub fn parse_daily(text: &str, file: &str) -> Result<Vec<DailyBar>, ContextError> {
    let err = |line: u64, field: &str, message: String| ContextError::Csv {
        file: file.to_string(),
        line,
        field: field.to_string(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| err(1, "header", e.to_string()))?
        .clone();
    let find = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let date_col = find("date").ok_or_else(|| {
        err(
            1,
            "date",
            "missing column (expected date,open,high,low,close[,adj_close],volume)".into(),
        )
    })?;
    let close_col = find("close").ok_or_else(|| err(1, "close", "missing column".to_string()))?;
    let optional = ["open", "high", "low", "adj_close", "volume"].map(|n| (n, find(n)));

    let mut bars: Vec<DailyBar> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            err(line, "row", e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let cell = |i: usize| record.get(i).unwrap_or("");
        let text_date = cell(date_col);
        let date = NaiveDate::parse_from_str(text_date, "%Y-%m-%d")
            .map_err(|_| err(line, "date", format!("{text_date:?} is not YYYY-MM-DD")))?;
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            return Err(err(
                line,
                "date",
                format!(
                    "{date} is a {}: US sessions are on weekdays",
                    date.format("%A")
                ),
            ));
        }
        let number = |field: &str, s: &str| -> Result<f64, ContextError> {
            let v: f64 = s
                .parse()
                .map_err(|_| err(line, field, format!("{s:?} is not a number")))?;
            let ok = if field == "volume" { v >= 0.0 } else { v > 0.0 };
            if !v.is_finite() || !ok {
                let want = if field == "volume" {
                    "not negative"
                } else {
                    "positive"
                };
                return Err(err(line, field, format!("{s} must be {want}")));
            }
            Ok(v)
        };
        let close = number("close", cell(close_col))?;
        let mut values = [None; 5];
        for (slot, (name, col)) in values.iter_mut().zip(optional) {
            if let Some(i) = col {
                let s = cell(i);
                if !s.is_empty() {
                    *slot = Some(number(name, s)?);
                }
            }
        }
        let [open, high, low, adj_close, volume] = values;
        if let (Some(h), Some(l)) = (high, low) {
            if h < l {
                return Err(err(line, "high", format!("high {h} is below low {l}")));
            }
        }
        bars.push(DailyBar {
            date,
            open,
            high,
            low,
            close,
            adj_close,
            volume,
        });
        // Find a repeated date at the line that repeats it.
        if bars.len() > 1 && bars[bars.len() - 2].date >= date {
            if bars[..bars.len() - 1].iter().any(|b| b.date == date) {
                return Err(err(line, "date", format!("{date} appears twice")));
            }
            bars.sort_by_key(|b| b.date);
        }
    }
    Ok(bars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shared_layouts_parse() {
        let five =
            "date,open,high,low,close,volume\n2025-01-27,124.8,128.4,116.7,118.42,818830900.0\n";
        let bars = parse_daily(five, "NVDA.csv").unwrap();
        assert_eq!(bars[0].close, 118.42);
        assert_eq!(bars[0].adj_close, None);
        assert_eq!(bars[0].volume, Some(818_830_900.0));
        let six = "date,open,high,low,close,adj_close,volume\n2025-01-27,240,241,230,235.81,234.5,1000\n2025-01-24,250,251,247,249,248,900\n";
        let bars = parse_daily(six, "SMH.csv").unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[0].date.to_string(), "2025-01-24");
        assert_eq!(bars[1].adj_close, Some(234.5));
    }

    #[test]
    fn bad_rows_are_named_by_file_line_and_field() {
        let e = |t: &str| parse_daily(t, "X.csv").unwrap_err().to_string();
        assert_eq!(
            e("day,close\n2025-01-27,1\n"),
            "X.csv, line 1, field date: missing column (expected date,open,high,low,close[,adj_close],volume)"
        );
        assert_eq!(
            e("date,close\n2025-01-27,1\n2025-01-28,-3\n"),
            "X.csv, line 3, field close: -3 must be positive"
        );
        assert_eq!(
            e("date,close\n2025-01-27,1\n27/01/2025,2\n"),
            "X.csv, line 3, field date: \"27/01/2025\" is not YYYY-MM-DD"
        );
        assert_eq!(
            e("date,close\n2025-01-25,1\n"),
            "X.csv, line 2, field date: 2025-01-25 is a Saturday: US sessions are on weekdays"
        );
        assert_eq!(
            e("date,close\n2025-01-27,1\n2025-01-28,2\n2025-01-27,3\n"),
            "X.csv, line 4, field date: 2025-01-27 appears twice"
        );
        assert_eq!(
            e("date,close,volume\n2025-01-27,1,abc\n"),
            "X.csv, line 2, field volume: \"abc\" is not a number"
        );
        assert_eq!(
            e("date,high,low,close\n2025-01-27,1,2,1.5\n"),
            "X.csv, line 2, field high: high 1 is below low 2"
        );
        assert!(e("date,close\n2025-01-27,1,9\n").starts_with("X.csv, line 2, field row: "));
    }
}
