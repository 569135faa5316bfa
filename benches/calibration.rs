//! Calibration on ordinary hours: building the null (every token, category and the
//! market, in the five calibrated windows, at each ordinary hour) and scoring an event
//! against it, on a synthetic universe shaped like the shared data (82 tokens, 12,700
//! hourly bars, 24 categories). Run: cargo bench --bench calibration

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use catalyst::study::engine::StudyParams;
use catalyst::study::null;
use catalyst::study::score::{ModelCtx, ScoreInput, Scorer, Targets};
use catalyst::study::universe::{Proxy, ReturnKind, TokenInput, Universe};

const TOKENS: usize = 82;
const BARS: usize = 12_700;
const CATEGORIES: i32 = 24;

fn universe(proxy: Proxy) -> Universe {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state as f64 / u64::MAX as f64 - 0.5) * 0.02
    };
    let btc: Vec<f64> = (0..BARS).map(|_| noise()).collect();
    let inputs = (0..TOKENS)
        .map(|i| {
            let beta = 0.8 + (i % 10) as f64 * 0.1;
            let mut p = 100.0;
            let closes = (0..BARS)
                .map(|t| {
                    let r = if i == 0 {
                        btc[t]
                    } else {
                        beta * btc[t] + noise()
                    };
                    p *= 1.0 + r;
                    p
                })
                .collect();
            TokenInput {
                id: i as i32,
                symbol: match i {
                    0 => "BTC".into(),
                    1 => "ETH".into(),
                    _ => format!("T{i}"),
                },
                categories: vec![(i as i32) % CATEGORIES, (i as i32 * 7) % CATEGORIES],
                closes,
                caps: None,
            }
        })
        .collect();
    Universe::build(0, BARS, inputs, ReturnKind::Simple, proxy).expect("universe")
}

fn bench(c: &mut Criterion) {
    let params = StudyParams::hourly();
    let (btc, ew) = (universe(Proxy::Btc), universe(Proxy::EqualWeighted));
    let eligible = null::eligible_hours(&btc, &params, &[]);
    let hours = null::sample_hours(&eligible, 1000, 1);
    let mut group = c.benchmark_group("calibration");
    group.sample_size(10);
    group.throughput(Throughput::Elements(hours.len() as u64));
    group.bench_function("null of one model, ordinary hours", |b| {
        b.iter(|| null::build(&btc, &params, &hours).stats.len())
    });
    let (n1, n2) = (
        null::build(&btc, &params, &hours),
        null::build(&ew, &params, &hours),
    );
    let scorer = Scorer::new(
        &params,
        vec![
            ModelCtx { u: &btc, null: &n1 },
            ModelCtx { u: &ew, null: &n2 },
        ],
    );
    let events: Vec<ScoreInput> = (0..100)
        .map(|i| ScoreInput {
            bar0: 1_000 + (i * 97) as i64,
            mid_bar: i % 2 == 0,
            targets: Targets {
                categories: vec![(i as i32) % CATEGORIES],
                tokens: vec![(i % TOKENS) as i32],
                market_wide: i % 3 == 0,
                tagged: true,
            },
            excluded: Vec::new(),
        })
        .collect();
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("score events against two models' nulls", |b| {
        b.iter(|| {
            events
                .iter()
                .filter(|e| scorer.score(e).significant())
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
