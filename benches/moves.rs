//! The move scan's detector on one hourly series, at 3 lengths (how it grows with bars),
//! and on 96 series shaped like the demo's (how it grows with series; rayon over both
//! cores). Run: cargo bench --bench moves

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use catalyst::moves::detect::{scan_series, Grid, Params};

fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = s as f64 / u64::MAX as f64 - 0.5;
            0.01 * u * (1.0 + 4.0 * u * u)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let params = Params::default();
    let mut g = c.benchmark_group("moves_one_series");
    g.sample_size(10);
    for bars in [3_000usize, 12_700, 50_000] {
        let grid = Grid {
            start: 1_704_067_200,
            len: bars,
        };
        let x = noise(bars, bars as u64);
        g.throughput(Throughput::Elements(bars as u64));
        g.bench_with_input(BenchmarkId::from_parameter(bars), &x, |b, x| {
            b.iter(|| scan_series(&grid, x, x, &[], &params))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("moves_demo_shape");
    g.sample_size(10);
    let grid = Grid {
        start: 1_704_067_200,
        len: 12_700,
    };
    let series: Vec<Vec<f64>> = (0..96).map(|i| noise(grid.len, 1000 + i)).collect();
    g.throughput(Throughput::Elements((96 * grid.len) as u64));
    g.bench_function("96x12700", |b| {
        use rayon::prelude::*;
        b.iter(|| {
            series
                .par_iter()
                .map(|x| scan_series(&grid, x, x, &[], &params).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
