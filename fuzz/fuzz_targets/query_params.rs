//! Any bytes as the ranked list's query string (`/?category=ai&from=...`): decoded as the
//! web server decodes it, then validated. A bad value must become a clear 400, never a
//! panic (which would be a 500), and nothing accepted may be refused by PostgreSQL
//! (`ListFilter::assert_storable`).
#![no_main]

use libfuzzer_sys::fuzz_target;

use catalyst::web::list_query::{ListFilter, ListQuery};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(q) = serde_urlencoded::from_str::<ListQuery>(&text) {
        if let Ok(f) = ListFilter::parse(&q) {
            f.assert_storable();
        }
    }
});
