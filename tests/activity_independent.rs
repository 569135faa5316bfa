//! Volume, volatility and taker-buy measures against tests/fixtures/activity/
//! independent.py (numpy): for the DeepSeek sell-off, the yen carry unwind and a quiet
//! hour published inside a bar, every token's and category's raw excess, seasonal
//! abnormal excess and z in every window equal the independent implementation's, read
//! from the same shared OHLCV and daily klines. Pure: no database.
//!
//! Regenerate the check values with
//! `python3 tests/fixtures/activity/independent.py ../shared/data > tests/fixtures/activity/expected.json`.

mod common;

use chrono::{DateTime, Utc};
use serde_json::Value;

use catalyst::prices::{csv::parse_bars, BarInterval};
use catalyst::study::activity::{
    event_rows, ActivityData, ActivityNull, Measure, Subject, TokenSeries,
};
use catalyst::study::engine::{bar_of, bar_zero, StudyParams};
use catalyst::taxonomy::{parse_taxonomy, BUILTIN_TAXONOMY};

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-8 * want.abs().max(1e-3),
        "{what}: {got} vs {want}"
    );
}

#[test]
fn activity_measures_match_the_independent_numpy_implementation() {
    let data_dir = common::shared_data_dir();
    let tokens = parse_taxonomy(BUILTIN_TAXONOMY, "taxonomy.csv").unwrap();
    let mut slugs: Vec<String> = tokens.iter().flat_map(|t| t.categories.clone()).collect();
    slugs.sort();
    slugs.dedup();
    let cat_id = |slug: &str| slugs.iter().position(|s| s == slug).unwrap() as i32;

    // Hourly grid over 2024-01-01 .. 2026-01-01, days over the same span.
    let first_bar = bar_of("2024-01-01T00:00:00Z".parse().unwrap(), BarInterval::Hour);
    let len = 24 * 731;
    let first_day = first_bar / 24;
    let mut series = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if t.categories.iter().any(|c| c == "stablecoin") {
            continue;
        }
        let mut s = TokenSeries {
            token_id: i as i32,
            categories: t.categories.iter().map(|c| cat_id(c)).collect(),
            log_volume: vec![f64::NAN; len],
            range_variance: vec![f64::NAN; len],
            taker_share: Vec::new(),
        };
        let hourly = data_dir.join(format!("prices/binance-spot-ohlcv-1h/{}USDT.csv", t.symbol));
        if let Ok(text) = std::fs::read_to_string(&hourly) {
            for b in parse_bars(&text, &t.symbol, BarInterval::Hour).unwrap() {
                let g = (bar_of(b.open_time, BarInterval::Hour) - first_bar) as usize;
                if g >= len {
                    continue;
                }
                if let Some(v) = b.flow.base_volume.filter(|v| *v > 0.0) {
                    s.log_volume[g] = v.ln();
                }
                let (h, l) = (b.high.unwrap(), b.low.unwrap());
                s.range_variance[g] = (h / l).ln().powi(2) / (4.0 * std::f64::consts::LN_2);
            }
        }
        let daily = data_dir.join(format!(
            "prices/binance-spot-klines-1d/{}USDT.csv",
            t.symbol
        ));
        if let Ok(text) = std::fs::read_to_string(&daily) {
            s.taker_share = vec![f64::NAN; len / 24 + 2];
            for b in parse_bars(&text, &t.symbol, BarInterval::Day).unwrap() {
                let d = (bar_of(b.open_time, BarInterval::Day) - first_day) as usize;
                if let (Some(base), Some(taker)) = (b.flow.base_volume, b.flow.taker_buy_base) {
                    if base > 0.0 && d < s.taker_share.len() {
                        s.taker_share[d] = (taker / base).clamp(0.0, 1.0);
                    }
                }
            }
        }
        series.push(s);
    }
    let data = ActivityData {
        first_bar,
        bar_seconds: 3600,
        first_day,
        tokens: series,
    };
    let params = StudyParams::default();
    let null = ActivityNull::build(&data, &params, &[], None);

    let inputs: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("activity/inputs.json")).unwrap(),
    )
    .unwrap();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("activity/expected.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for (ev, want) in inputs["events"]
        .as_array()
        .unwrap()
        .iter()
        .zip(expected["events"].as_array().unwrap())
    {
        let name = ev["name"].as_str().unwrap();
        assert_eq!(want["name"].as_str().unwrap(), name);
        let t0: DateTime<Utc> = ev["time"].as_str().unwrap().parse().unwrap();
        let ids: Vec<i32> = ev["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let s = s.as_str().unwrap();
                tokens.iter().position(|t| t.symbol == s).unwrap() as i32
            })
            .collect();
        let rows = event_rows(&data, &params, &null, bar_zero(t0, BarInterval::Hour), &ids);
        for (key, by_measure) in want["series"].as_object().unwrap() {
            let subject = match key.strip_prefix("category:") {
                Some(slug) => Subject::Category(cat_id(slug)),
                None => {
                    Subject::Token(tokens.iter().position(|t| &t.symbol == key).unwrap() as i32)
                }
            };
            for (m, by_window) in by_measure.as_object().unwrap() {
                let measure = match m.as_str() {
                    "volume" => Measure::Volume,
                    "volatility" => Measure::Volatility,
                    _ => Measure::TakerBuy,
                };
                for (w, v) in by_window.as_object().unwrap() {
                    if w == "n_tokens" {
                        continue;
                    }
                    let what = format!("{name} {key} {m} {w}");
                    let row = rows
                        .iter()
                        .find(|r| {
                            r.m.subject == subject
                                && r.m.measure == measure
                                && format!("[{},{})", r.m.window.start, r.m.window.end) == *w
                        })
                        .unwrap_or_else(|| panic!("{what}: not measured"));
                    close(
                        row.m.raw,
                        v["raw"].as_f64().unwrap(),
                        &format!("{what} raw"),
                    );
                    close(
                        row.m.abnormal,
                        v["abnormal"].as_f64().unwrap(),
                        &format!("{what} abnormal"),
                    );
                    match (row.m.z, v["z"].as_f64()) {
                        (Some(g), Some(e)) => close(g, e, &format!("{what} z")),
                        (g, e) => assert_eq!(g.is_some(), e.is_some(), "{what} z"),
                    }
                    if let Some(n) = by_window.get("n_tokens").and_then(Value::as_u64) {
                        assert_eq!(row.m.n_tokens as u64, n, "{what} n_tokens");
                    }
                    checked += 1;
                }
            }
        }
        // No measurement the independent implementation did not make.
        let keys = want["series"].as_object().unwrap();
        for r in &rows {
            let key = match r.m.subject {
                Subject::Token(id) => tokens[id as usize].symbol.clone(),
                Subject::Category(c) => format!("category:{}", slugs[c as usize]),
            };
            let wanted_category = ev["categories"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| format!("category:{}", c.as_str().unwrap()) == key);
            if matches!(r.m.subject, Subject::Token(_)) || wanted_category {
                assert!(
                    keys.get(&key)
                        .and_then(|k| k.get(r.m.measure.as_str()))
                        .is_some(),
                    "{name}: {key} {} measured here only",
                    r.m.measure.as_str()
                );
            }
        }
    }
    assert!(checked > 100, "{checked} values checked");

    // The acceptance figures of issue 15, read off the same rows.
    let get = |name: &str, key: &str, m: &str, w: &str| {
        let e = expected["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap();
        e["series"][key][m][w]["raw"].as_f64().unwrap()
    };
    let deepseek_ai = get("deepseek-sell-off", "category:ai", "volume", "[0,4)");
    assert!((0.7..0.95).contains(&deepseek_ai), "{deepseek_ai}");
    let deepseek_btc = get("deepseek-sell-off", "BTC", "volume", "[0,4)");
    assert!((0.9..1.15).contains(&deepseek_btc), "{deepseek_btc}");
    let yen_btc_var = get("yen-carry-unwind", "BTC", "volatility", "[-24,24)").exp();
    assert!((7.0..9.5).contains(&yen_btc_var), "{yen_btc_var}");
    let yen_ai = get("yen-carry-unwind", "category:ai", "volume", "[0,24)");
    assert!((1.25..1.55).contains(&yen_ai), "{yen_ai}");
}
