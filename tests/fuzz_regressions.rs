//! Every fuzz seed and every input a fuzzer ever crashed on (fuzz/corpus, fuzz/regressions)
//! goes through the parsers: they may return errors, never panic.

use catalyst::ingest::charset::{decode, xml_as_utf8};
use catalyst::ingest::listing::{parse_listing, Selectors};
use catalyst::ingest::{article, feed, published};

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().is_file() {
                out.push((
                    e.path().display().to_string(),
                    std::fs::read(e.path()).unwrap(),
                ));
            }
        }
    }
    out
}

#[test]
fn feed_inputs_never_panic() {
    let all = inputs("feed_parser");
    assert!(all.len() >= 4, "the seed corpus is missing");
    for (name, data) in all {
        if let Ok(f) = feed::parse(&data, &name) {
            feed::assert_storable(&f);
        }
        let text = decode(&data, Some("application/rss+xml; charset=iso-8859-1"));
        if let Ok(f) = feed::parse(xml_as_utf8(&text).as_bytes(), &name) {
            feed::assert_storable(&f);
        }
    }
}

#[test]
fn article_inputs_never_panic() {
    let all = inputs("article_extract");
    assert!(all.len() >= 4, "the seed corpus is missing");
    let sel = Selectors {
        item: "article, li".into(),
        link: "a".into(),
        title: Some("h2".into()),
        time: Some("time".into()),
    }
    .compile()
    .unwrap();
    for (_name, data) in all {
        let html = decode(&data, None);
        let _ = article::extract(&html, "https://fuzz.example/a/b");
        let _ = published::parse_time(&html);
        let _ = parse_listing(&html, "https://fuzz.example/", &sel);
    }
}

#[test]
fn price_csv_inputs_never_panic() {
    use catalyst::prices::{csv, BarInterval};
    let all = inputs("price_csv");
    assert!(all.len() >= 4, "the seed corpus is missing");
    for (name, data) in all {
        let text = String::from_utf8_lossy(&data);
        let _ = csv::parse_bars(&text, &name, BarInterval::Hour);
        let _ = csv::parse_bars(&text, &name, BarInterval::Day);
    }
    // A bad field is an error naming the file, the line and the field.
    let err = csv::parse_bars(
        "open_time,close\n2025-01-27 00:00:00,abc\n",
        "bad.csv",
        BarInterval::Hour,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("bad.csv") && err.contains('2') && err.contains("close"),
        "{err}"
    );
}

#[test]
fn query_string_inputs_never_panic() {
    use catalyst::web::list_query::{ListFilter, ListQuery};
    let all = inputs("query_params");
    assert!(all.len() >= 4, "the seed corpus is missing");
    for (name, data) in all {
        let text = String::from_utf8_lossy(&data);
        if let Ok(q) = serde_urlencoded::from_str::<ListQuery>(&text) {
            if let Ok(f) = ListFilter::parse(&q) {
                f.assert_storable();
            }
        } else {
            panic!("{name}: seeds are valid query strings");
        }
    }
    // Bad values are refused with a message, not accepted or panicking.
    for bad in [
        "from=2025-13-45",
        "q=%00",
        "category=a%00b",
        "from=-9999-01-01",
        "to=99999-01-01",
    ] {
        let q: ListQuery = serde_urlencoded::from_str(bad).unwrap();
        assert!(ListFilter::parse(&q).is_err(), "{bad}");
    }
}

/// Arbitrary bytes in every parameter of the list: accepted values are always ones
/// PostgreSQL takes (a deterministic stand-in for the fuzzer, run on every test).
#[test]
fn random_query_strings_are_refused_or_storable() {
    use catalyst::web::list_query::{ListFilter, ListQuery};
    let names = [
        "q",
        "category",
        "token",
        "from",
        "to",
        "min_score",
        "significant",
        "sort",
        "after",
        "per_page",
        "sort_category",
        "kind",
        "source",
        "window",
    ];
    let mut rng = fastrand::Rng::with_seed(14);
    for _ in 0..20_000 {
        let name = names[rng.usize(..names.len())];
        let len = rng.usize(0..24);
        let value: Vec<u8> = (0..len)
            .map(|_| match rng.u8(0..4) {
                0 => rng.u8(..),
                1 => b"0123456789-:_"[rng.usize(..13)],
                _ => rng.alphanumeric() as u8,
            })
            .collect();
        let encoded: String = value.iter().map(|b| format!("%{b:02X}")).collect();
        if let Ok(q) = serde_urlencoded::from_str::<ListQuery>(&format!("{name}={encoded}")) {
            if let Ok(f) = ListFilter::parse(&q) {
                f.assert_storable();
            }
        }
    }
}
