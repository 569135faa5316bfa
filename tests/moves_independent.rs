//! The move detector against tests/fixtures/moves/independent.py (numpy/pandas): every
//! move of the market (BTC, raw) and of the AI category (raw and abnormal) over the
//! shared hourly closes of 2024-2025, with the curated events keeping their hours out of
//! the null, equals the independent implementation's (onset, extreme, window, size, raw
//! size, z, calibrated p); and the 2024-08-05 crash's BTC moves placed on BTC's 5-minute
//! bars have the script's onset and trough. Pure: no database.
//!
//! Regenerate the check values with
//! `python3 tests/fixtures/moves/independent.py ../shared/data > tests/fixtures/moves/expected.json`.

mod common;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use catalyst::moves::detect::{scan_series, Grid, HourlyMove, Params};
use catalyst::moves::fine::{refine, FinePath};
use catalyst::moves::series::build;
use catalyst::prices::{csv::parse_bars, BarInterval};
use catalyst::study::series::Series;
use catalyst::study::store::TokenRow;
use catalyst::taxonomy::{parse_taxonomy, BUILTIN_TAXONOMY};

fn iso(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-8 * want.abs().max(1e-3),
        "{what}: {got} vs {want}"
    );
}

fn check(grid: &Grid, got: &[HourlyMove], want: &Value, name: &str) {
    let want = want.as_array().unwrap();
    assert_eq!(got.len(), want.len(), "{name}: number of moves");
    for (g, w) in got.iter().zip(want) {
        let what = format!("{name} move at {}", iso(grid.at(g.onset)));
        assert_eq!(
            iso(grid.at(g.onset)),
            w["onset"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            iso(grid.at(g.extreme)),
            w["extreme"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            iso(grid.at(g.window.0)),
            w["window"][0].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            iso(grid.at(g.window.1)),
            w["window"][1].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            iso(grid.at(g.peak_bar)),
            w["peak_bar"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            i64::from(g.direction),
            w["direction"].as_i64().unwrap(),
            "{what}"
        );
        close(
            g.size_log,
            w["size_log"].as_f64().unwrap(),
            &format!("{what} size"),
        );
        close(
            g.raw_log,
            w["raw_log"].as_f64().unwrap(),
            &format!("{what} raw"),
        );
        close(g.z, w["z"].as_f64().unwrap(), &format!("{what} z"));
        close(
            g.p_value,
            w["p_value"].as_f64().unwrap(),
            &format!("{what} p"),
        );
        assert_eq!(
            g.null_hours as u64,
            w["null_hours"].as_u64().unwrap(),
            "{what}"
        );
    }
}

#[test]
fn moves_match_the_independent_numpy_implementation() {
    let data_dir = common::shared_data_dir();
    let defs = parse_taxonomy(BUILTIN_TAXONOMY, "taxonomy.csv").unwrap();
    let mut slugs: Vec<String> = defs.iter().flat_map(|t| t.categories.clone()).collect();
    slugs.sort();
    slugs.dedup();
    let cat_id = |slug: &str| slugs.iter().position(|s| s == slug).unwrap() as i32;
    let start: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
    let grid = Grid {
        start: start.timestamp(),
        len: 24 * 731,
    };
    let mut tokens = Vec::new();
    let mut closes = HashMap::new();
    for (i, t) in defs.iter().enumerate() {
        if t.categories.iter().any(|c| c == "stablecoin") {
            continue;
        }
        let path = data_dir.join(format!("prices/binance-hourly-close/{}USDT.csv", t.symbol));
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut c = vec![f64::NAN; grid.len];
        for b in parse_bars(&text, &t.symbol, BarInterval::Hour).unwrap() {
            let k = (b.open_time.timestamp() - grid.start) / 3600;
            if (0..grid.len as i64).contains(&k) {
                c[k as usize] = b.close;
            }
        }
        closes.insert(i as i32, c);
        tokens.push(TokenRow {
            id: i as i32,
            symbol: t.symbol.clone(),
            categories: t.categories.iter().map(|c| cat_id(c)).collect(),
        });
    }
    let events: Vec<i64> = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/curated-events-2024-2025.csv"),
    )
    .unwrap()
    .lines()
    .skip(1)
    .map(|l| {
        let t: DateTime<Utc> = l.split(',').next().unwrap().parse().unwrap();
        t.timestamp()
    })
    .collect();
    let all = build(&grid, &tokens, &closes).unwrap();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("moves/expected.json")).unwrap(),
    )
    .unwrap();
    let params = Params::default();
    let find = |series: Series, basis: &str| {
        all.iter()
            .find(|s| s.series == series && s.basis_name == basis)
            .unwrap()
    };
    let ai = Series::Category {
        category_id: cat_id("ai"),
    };
    assert_eq!(
        find(ai, "raw").n_tokens as u64,
        expected["ai_members"].as_u64().unwrap()
    );
    let mut market_moves = Vec::new();
    for (name, series, basis) in [
        ("market", Series::Market, "raw"),
        ("ai_raw", ai, "raw"),
        ("ai_abnormal", ai, "abnormal"),
    ] {
        let s = find(series, basis);
        let mut got = scan_series(&grid, &s.basis, &s.raw, &events, &params);
        // The scan keeps one move per onset (the smaller p), as the script does.
        got.sort_by(|a, b| a.onset.cmp(&b.onset).then(a.p_value.total_cmp(&b.p_value)));
        got.dedup_by(|later, kept| later.onset == kept.onset);
        check(&grid, &got, &expected[name], name);
        if name == "market" {
            market_moves = got;
        }
    }

    // The 2024-08-05 crash on BTC's 5-minute bars.
    let text =
        std::fs::read_to_string(data_dir.join("prices/binance-spot-ohlcv-5m/BTCUSDT.csv")).unwrap();
    let fine: HashMap<i64, f64> = text
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            let t = NaiveDateTime::parse_from_str(f.next().unwrap(), "%Y-%m-%d %H:%M:%S").unwrap();
            let close: f64 = f.nth(3).unwrap().parse().unwrap();
            (t.and_utc().timestamp(), close)
        })
        .collect();
    let want = expected["market_5m_2024_08"].as_array().unwrap();
    let crash: Vec<&HourlyMove> = market_moves
        .iter()
        .filter(|m| ("2024-08-04".."2024-08-07").contains(&&iso(grid.at(m.onset))[..10]))
        .collect();
    assert_eq!(crash.len(), want.len());
    assert!(!crash.is_empty());
    for (m, w) in crash.iter().zip(want) {
        let (on, ex) = (grid.at(m.onset), grid.at(m.extreme));
        let a = on - 3600 - 300;
        let n = ((ex + 3600 - a) / 300 + 1) as usize;
        let c: Vec<f64> = (0..n)
            .map(|i| fine.get(&(a + 300 * i as i64)).copied().unwrap_or(f64::NAN))
            .collect();
        let path = FinePath::from_closes(a, 300, &[c], 1).unwrap();
        let (fo, fe) = refine(m.direction, on, ex, &path).unwrap();
        assert_eq!(iso(fo), w["fine"][0].as_str().unwrap());
        assert_eq!(iso(fe), w["fine"][1].as_str().unwrap());
    }
}
