//! Any bytes through the feed path: charset decoding, the XML declaration rewrite, and
//! RSS/Atom/JSON Feed parsing. Errors are fine; panics are bugs, and so is a parsed item
//! PostgreSQL would refuse (`feed::assert_storable`).
#![no_main]

use libfuzzer_sys::fuzz_target;

use catalyst::ingest::charset::{decode, xml_as_utf8};
use catalyst::ingest::feed;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = feed::parse(data, "fuzz") {
        feed::assert_storable(&f);
    }
    let text = decode(data, Some("application/rss+xml; charset=iso-8859-1"));
    if let Ok(f) = feed::parse(xml_as_utf8(&text).as_bytes(), "fuzz") {
        feed::assert_storable(&f);
    }
});
