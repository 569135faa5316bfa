//! Story clustering as the number of articles in the time window grows: 1k, 10k and 100k
//! articles all published within the same 48 hours (the worst case for a time-window
//! lookup, which alone would compare every new article with every earlier one).
//!
//! Measures `StoryIndex::insert` (term extraction, MinHash signature, LSH candidate
//! lookup, similarity against the candidates): the same rule and lookup as ingest, in
//! memory. Near-linear scaling shows as a flat articles/s figure across the sizes; the
//! candidates compared per article are printed beside it. Run: cargo bench --bench stories

use chrono::{Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use catalyst::ingest::stories::{Story, StoryIndex};

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
const VOCABULARY: u64 = 50_000;
/// Words nearly every crypto headline shares.
const COMMON: [&str; 6] = ["bitcoin", "crypto", "price", "market", "token", "exchange"];

/// A deterministic synthetic news stream: stories of 1 to 3 articles, each article the
/// story's 10 words with two replaced, two common words, and one or two entities.
fn articles(n: usize) -> Vec<(String, String, Vec<String>, i64)> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        // Skewed word choice: small ids (frequent words) come up far more often.
        let word = |next: &mut dyn FnMut() -> u64| {
            let r = next() % VOCABULARY;
            let skewed = r * r / VOCABULARY;
            format!("w{skewed}")
        };
        let story: Vec<String> = (0..10).map(|_| word(&mut next)).collect();
        let minute = (next() % (48 * 60)) as i64;
        let copies = 1 + (next() % 3) as usize;
        for c in 0..copies {
            if out.len() == n {
                break;
            }
            let mut words = story.clone();
            for _ in 0..2 {
                let i = (next() % words.len() as u64) as usize;
                words[i] = word(&mut next);
            }
            words.push(COMMON[(next() % 6) as usize].to_string());
            words.push(COMMON[(next() % 6) as usize].to_string());
            let (title, summary) = words.split_at(6);
            let entities = vec![format!("T{}", next() % 80)];
            out.push((
                title.join(" "),
                summary.join(" "),
                entities,
                minute + c as i64 * 30,
            ));
        }
    }
    out
}

fn cluster(input: &[(String, String, Vec<String>, i64)]) -> StoryIndex {
    let t0 = Utc.with_ymd_and_hms(2025, 1, 27, 0, 0, 0).unwrap();
    let mut index = StoryIndex::new();
    for (title, summary, entities, minute) in input {
        index.insert(Story::new(
            title,
            Some(summary),
            entities.iter().cloned(),
            t0 + Duration::minutes(*minute),
        ));
    }
    index
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("stories/cluster");
    group.sample_size(10);
    for n in SIZES {
        let input = articles(n);
        let once = cluster(&input);
        println!(
            "stories/cluster/{n}: {:.1} candidates compared per article",
            once.comparisons as f64 / n as f64
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &input, |b, input| {
            b.iter(|| cluster(input).len())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
