//! Any bytes as a price CSV file (both the shared data's `open_time,close` form and the
//! OHLCV form). Errors naming file, line and field are fine; panics are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;

use catalyst::prices::{csv, BarInterval};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = csv::parse_bars(&text, "fuzz.csv", BarInterval::Hour);
    let _ = csv::parse_bars(&text, "fuzz.csv", BarInterval::Day);
});
