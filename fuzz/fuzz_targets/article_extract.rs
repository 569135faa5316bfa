//! Any bytes through the article path: charset decoding, metadata extraction, listing
//! scraping and time parsing. Panics are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;

use catalyst::ingest::charset::decode;
use catalyst::ingest::listing::{parse_listing, Selectors};
use catalyst::ingest::{article, published};

fuzz_target!(|data: &[u8]| {
    let html = decode(data, None);
    let meta = article::extract(&html, "https://fuzz.example/a/b");
    if let Some(t) = meta.published_at {
        let _ = published::implausible(t, t);
    }
    let _ = published::parse_time(&html);
    let sel = Selectors {
        item: "article, li".into(),
        link: "a".into(),
        title: Some("h2".into()),
        time: Some("time".into()),
    };
    if let Ok(compiled) = sel.compile() {
        let _ = parse_listing(&html, "https://fuzz.example/", &compiled);
    }
});
