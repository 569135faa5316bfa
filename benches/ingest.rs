//! Ingest throughput on one core: articles per second through parse + extract + tag.
//!
//! Three figures: a 200-item RSS feed parsed and every item tagged; an article page's
//! metadata extracted and its text tagged (the HTML-source path, per page); a 50-item
//! listing page scraped for its links. Inputs are built from the fixtures in
//! tests/fixtures/ingest. Run: cargo bench --bench ingest

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use catalyst::ingest::listing::{parse_listing, Selectors};
use catalyst::ingest::run::tag_item;
use catalyst::ingest::tagging::Tagger;
use catalyst::ingest::{article, feed};
use catalyst::taxonomy;

const FEED_ITEMS: usize = 200;
const LISTING_ITEMS: usize = 50;

fn tagger() -> Tagger {
    let tokens = taxonomy::parse_taxonomy(taxonomy::BUILTIN_TAXONOMY, "taxonomy").unwrap();
    let rules = taxonomy::parse_tagging(taxonomy::BUILTIN_TAGGING, "tagging").unwrap();
    Tagger::new(&tokens, &rules)
}

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ingest")
        .join(name);
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

/// The curated headlines as a feed of FEED_ITEMS items (cycled, made unique).
fn big_feed() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/news/curated-events-2024-2025.csv");
    let csv = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shared data sits beside the repo)",
            path.display()
        )
    });
    let rows: Vec<(String, String)> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .filter_map(Result::ok)
        .map(|r| (r[3].to_string(), r[4].to_string()))
        .collect();
    let mut out =
        String::from(r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title>"#);
    for i in 0..FEED_ITEMS {
        let (title, summary) = &rows[i % rows.len()];
        out.push_str(&format!(
            "<item><title>{} #{i}</title><link>https://bench.example/{i}?utm_source=x</link>\
             <guid>b-{i}</guid><pubDate>Mon, 27 Jan 2025 10:{:02}:00 +0000</pubDate>\
             <description>{}</description></item>",
            xml_escape(title),
            i % 60,
            xml_escape(summary)
        ));
    }
    out.push_str("</channel></rss>");
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn bench(c: &mut Criterion) {
    let tagger = tagger();
    let feed_xml = big_feed();
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(FEED_ITEMS as u64));
    g.bench_function("rss_parse_and_tag_200_items", |b| {
        b.iter(|| {
            let parsed = feed::parse(feed_xml.as_bytes(), "bench.xml").unwrap();
            let tagged: usize = parsed
                .items
                .iter()
                .map(|i| tag_item(&tagger, i).tokens.len())
                .sum();
            assert_eq!(parsed.items.len(), FEED_ITEMS);
            tagged
        })
    });

    let page = fixture("article-deepseek.html");
    g.throughput(Throughput::Elements(1));
    g.bench_function("article_extract_and_tag_1_page", |b| {
        b.iter(|| {
            let meta = article::extract(&page, "https://daily.example/news/x");
            let text = format!(
                "{}\n{}",
                meta.title.unwrap_or_default(),
                meta.summary.unwrap_or_default()
            );
            tagger.tag(&text).tokens.len()
        })
    });

    let mut listing = String::from("<html><body><main>");
    for i in 0..LISTING_ITEMS {
        listing.push_str(&format!(
            r#"<article class="card"><h2><a class="title" href="/news/{i}">Headline {i}</a></h2><time datetime="2025-01-27T10:00:00Z">x</time></article>"#
        ));
    }
    listing.push_str("</main></body></html>");
    let sel = Selectors {
        item: "article.card".into(),
        link: "a.title".into(),
        title: None,
        time: Some("time".into()),
    }
    .compile()
    .unwrap();
    g.throughput(Throughput::Elements(LISTING_ITEMS as u64));
    g.bench_function("listing_scrape_50_links", |b| {
        b.iter(|| parse_listing(&listing, "https://daily.example/latest/", &sel).len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
