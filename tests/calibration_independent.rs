//! The calibrated score against tests/fixtures/calibration/independent.py (numpy/scipy):
//! for three real events (a category story at a bar's opening, one published inside a bar,
//! a story about the market as a whole) and 1,000 ordinary hours of the shared Binance
//! closes, every component's t and calibrated p under both market models, the effective
//! number of looks, the corrected p (both models, and the run's alone) and the minimum
//! detectable effect equal the independent implementation's. Pure: no database.

mod common;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use catalyst::prices::{csv::parse_bars, BarInterval};
use catalyst::study::engine::{bar_of, bar_zero, StudyParams, Window};
use catalyst::study::null;
use catalyst::study::score::{ModelCtx, ScoreInput, Scorer, Targets};
use catalyst::study::series::Series as ScoreSeries;
use catalyst::study::universe::{Proxy, ReturnKind, TokenInput, Universe};
use catalyst::taxonomy::{parse_taxonomy, BUILTIN_TAXONOMY};

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-7 * want.abs().max(1e-3),
        "{what}: {got} vs {want}"
    );
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn calibrated_scores_match_the_independent_numpy_implementation() {
    let dir = common::shared_data_dir().join("prices/binance-hourly-close");
    let tokens = parse_taxonomy(BUILTIN_TAXONOMY, "taxonomy.csv").unwrap();
    let mut slugs: Vec<String> = tokens.iter().flat_map(|t| t.categories.clone()).collect();
    slugs.sort();
    slugs.dedup();
    let cat_id = |slug: &str| slugs.iter().position(|s| s == slug).unwrap() as i32;

    // Every non-stablecoin token's closes on one hourly grid.
    // (token id, symbol, category ids, (bar, close) points)
    type Series = (usize, String, Vec<i32>, Vec<(i64, f64)>);
    let mut series: Vec<Series> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if t.categories.iter().any(|c| c == "stablecoin") {
            continue;
        }
        let file = dir.join(format!("{}USDT.csv", t.symbol));
        let text = std::fs::read_to_string(&file).unwrap();
        let bars = parse_bars(&text, &t.symbol, BarInterval::Hour).unwrap();
        let points = bars
            .iter()
            .map(|b| (bar_of(b.open_time, BarInterval::Hour), b.close))
            .collect();
        let cats = t.categories.iter().map(|c| cat_id(c)).collect();
        series.push((i, t.symbol.clone(), cats, points));
    }
    let first = series.iter().map(|s| s.3[0].0).min().unwrap();
    let last = series.iter().map(|s| s.3.last().unwrap().0).max().unwrap();
    let len = (last - first + 1) as usize;
    let inputs: Vec<TokenInput> = series
        .iter()
        .map(|(i, sym, cats, points)| {
            let mut closes = vec![f64::NAN; len];
            for (b, c) in points {
                closes[(b - first) as usize] = *c;
            }
            TokenInput {
                id: *i as i32,
                symbol: sym.clone(),
                categories: cats.clone(),
                closes,
                caps: None,
            }
        })
        .collect();
    let btc = Universe::build(first, len, inputs.clone(), ReturnKind::Simple, Proxy::Btc).unwrap();
    let ew = Universe::build(first, len, inputs, ReturnKind::Simple, Proxy::EqualWeighted).unwrap();

    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("calibration/inputs.json")).unwrap(),
    )
    .unwrap();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("calibration/expected.json")).unwrap(),
    )
    .unwrap();
    let hours: Vec<i64> = fixture["null_hours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| bar_of(time(h.as_str().unwrap()), BarInterval::Hour))
        .collect();
    let params = StudyParams::default();
    let (n_btc, n_ew) = (
        null::build(&btc, &params, &hours),
        null::build(&ew, &params, &hours),
    );
    let scorer = Scorer::new(
        &params,
        vec![
            ModelCtx {
                u: &btc,
                null: &n_btc,
            },
            ModelCtx {
                u: &ew,
                null: &n_ew,
            },
        ],
    );

    let wanted: HashMap<String, &Value> = expected["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e))
        .collect();
    for ev in fixture["events"].as_array().unwrap() {
        let name = ev["name"].as_str().unwrap();
        let want = wanted[name];
        let t0 = time(ev["time"].as_str().unwrap());
        let input = ScoreInput {
            bar0: bar_zero(t0, BarInterval::Hour),
            mid_bar: t0.timestamp() % 3600 != 0,
            targets: Targets {
                categories: ev["categories"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| cat_id(c.as_str().unwrap()))
                    .collect(),
                market_wide: ev["market_wide"].as_bool().unwrap(),
                tagged: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let s = scorer.score(&input);
        let comps = want["components"].as_array().unwrap();
        assert_eq!(s.components.len(), comps.len(), "{name}: components");
        for (c, w) in s.components.iter().zip(comps) {
            let label = format!(
                "{name} {:?} [{}, {})",
                c.series, c.window.start, c.window.end
            );
            let series = w["series"].as_str().unwrap();
            let expected_series = if series == "market" {
                ScoreSeries::Market
            } else {
                ScoreSeries::Category {
                    category_id: cat_id(series),
                }
            };
            assert_eq!(c.series, expected_series, "{label}");
            let win = w["window"].as_array().unwrap();
            assert_eq!(
                c.window,
                Window::new(
                    win[0].as_i64().unwrap() as i32,
                    win[1].as_i64().unwrap() as i32
                ),
                "{label}"
            );
            for m in 0..2 {
                let e = &c.models[m];
                close(
                    e.t,
                    w["t"][m].as_f64().unwrap(),
                    &format!("{label} t, model {m}"),
                );
                close(
                    e.abnormal,
                    w["abnormal"][m].as_f64().unwrap(),
                    &format!("{label} abnormal, model {m}"),
                );
                close(
                    e.ln_p_calibrated.unwrap().exp(),
                    w["p_calibrated"][m].as_f64().unwrap(),
                    &format!("{label} calibrated p, model {m}"),
                );
            }
            close(
                c.mde.unwrap(),
                w["mde"].as_f64().unwrap(),
                &format!("{label} mde"),
            );
        }
        assert!(s.calibrated, "{name}: not calibrated");
        close(
            s.k_eff.unwrap(),
            want["k_eff"].as_f64().unwrap(),
            &format!("{name} k_eff"),
        );
        close(
            s.ln_p.unwrap().exp(),
            want["p_value"].as_f64().unwrap(),
            &format!("{name} p"),
        );
        close(
            s.ln_p_primary.unwrap().exp(),
            want["p_primary"].as_f64().unwrap(),
            &format!("{name} p under BTC alone"),
        );
        close(
            s.impact.unwrap(),
            want["score"].as_f64().unwrap(),
            &format!("{name} score"),
        );
    }
}
