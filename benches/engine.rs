//! The in-memory event-study engine: token-event pairs per second with the default
//! hourly parameters (720-bar estimation, six windows), on one core.
//!
//! Two figures: the core (fit from prefix sums, AR path, CAR and variance per window) and
//! the full study of an event (core plus every category's test battery: ranks, signs,
//! cross-correlation, portfolio tests, market move, score). Run: cargo bench --bench engine

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use catalyst::study::engine::{study_event, token_results, EventInput, StudyParams};
use catalyst::study::universe::{Proxy, ReturnKind, TokenInput, Universe};

const TOKENS: usize = 82;
const BARS: usize = 12_700;
const CATEGORIES: i32 = 24;

/// A deterministic synthetic universe: BTC a random walk, every token beta·BTC + noise.
fn universe() -> Universe {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state as f64 / u64::MAX as f64 - 0.5) * 0.02
    };
    let btc_r: Vec<f64> = (0..BARS).map(|_| noise()).collect();
    let inputs = (0..TOKENS)
        .map(|i| {
            let beta = 0.8 + (i % 10) as f64 * 0.1;
            let mut p = 100.0;
            let closes = (0..BARS)
                .map(|t| {
                    let r = if i == 0 {
                        btc_r[t]
                    } else {
                        beta * btc_r[t] + noise()
                    };
                    p *= 1.0 + r;
                    p
                })
                .collect();
            TokenInput {
                id: i as i32,
                symbol: if i == 0 {
                    "BTC".into()
                } else if i == 1 {
                    "ETH".into()
                } else {
                    format!("T{i}")
                },
                categories: vec![(i as i32) % CATEGORIES, (i as i32 * 7) % CATEGORIES],
                closes,
                caps: None,
            }
        })
        .collect();
    Universe::build(0, BARS, inputs, ReturnKind::Simple, Proxy::Btc).expect("universe")
}

fn events(n: usize) -> Vec<EventInput> {
    (0..n)
        .map(|i| EventInput {
            bar0: 800 + ((i * 7919) % (BARS - 900)) as i64,
            excluded: Vec::new(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let u = universe();
    let params = StudyParams::hourly();
    let evs = events(100);
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements((TOKENS * evs.len()) as u64));
    group.bench_function("core: fit + ARs + CARs, pairs", |b| {
        b.iter(|| {
            evs.iter()
                .map(|e| token_results(&u, e, &params).len())
                .sum::<usize>()
        })
    });
    group.sample_size(10);
    group.bench_function("full event study with category battery, pairs", |b| {
        b.iter(|| {
            evs.iter()
                .map(|e| study_event(&u, e, &params).tokens.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
