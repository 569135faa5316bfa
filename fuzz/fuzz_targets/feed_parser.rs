//! Any bytes through the feed path: charset decoding, the XML declaration rewrite, and
//! RSS/Atom/JSON Feed parsing. Errors are fine; panics are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;

use catalyst::ingest::charset::{decode, xml_as_utf8};
use catalyst::ingest::feed;

fuzz_target!(|data: &[u8]| {
    let _ = feed::parse(data, "fuzz");
    let text = decode(data, Some("application/rss+xml; charset=iso-8859-1"));
    let _ = feed::parse(xml_as_utf8(&text).as_bytes(), "fuzz");
});
