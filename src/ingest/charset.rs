//! Text of fetched bytes in whatever charset the server used. Pure.
//!
//! Order, first found wins: a byte-order mark; the Content-Type header's `charset`; the
//! document's own declaration in its first 1024 bytes (`<?xml … encoding="…"?>`,
//! `<meta charset>`, `<meta http-equiv=Content-Type content="…; charset=…">`); UTF-8.
//! Labels follow the WHATWG Encoding Standard (`encoding_rs`), so `iso-8859-1` decodes as
//! windows-1252, its superset, as browsers do. Invalid sequences become U+FFFD.

use encoding_rs::{Encoding, UTF_8};

/// How far into a document its charset declaration is looked for.
const SNIFF_BYTES: usize = 1024;

/// Decode `bytes` to a string (see the module doc for the rules).
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> String {
    let encoding = Encoding::for_bom(bytes)
        .map(|(e, _)| e)
        .or_else(|| content_type.and_then(charset_param).and_then(label))
        .or_else(|| declared(bytes))
        .unwrap_or(UTF_8);
    // `decode` strips a BOM and lets it override, as the standard says.
    let (text, _, _) = encoding.decode(bytes);
    text.into_owned()
}

/// An XML document decoded to UTF-8 text must say so, or an XML parser that honours the
/// declaration would decode it a second time: rewrite the declaration's encoding.
pub fn xml_as_utf8(text: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = text.trim_start_matches('\u{feff}');
    if !trimmed.starts_with("<?xml") {
        return text.into();
    }
    let Some(end) = trimmed.find("?>") else {
        return text.into();
    };
    let decl = &trimmed[..end];
    if !decl.contains("encoding") {
        return text.into();
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>{}",
        &trimmed[end + 2..]
    )
    .into()
}

fn label(l: &str) -> Option<&'static Encoding> {
    Encoding::for_label(l.trim().trim_matches(['"', '\'']).as_bytes())
}

/// The `charset=` parameter of a Content-Type value.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then_some(v.trim())
    })
}

/// A charset declared inside the document's first bytes.
fn declared(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let value_after = |key: &str| -> Option<&'static Encoding> {
        let start = head.find(key)? + key.len();
        let rest = head[start..].trim_start_matches([' ', '=', '"', '\'']);
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-_:.".contains(c)))
            .unwrap_or(rest.len());
        label(&rest[..end])
    };
    if head.trim_start().starts_with("<?xml") {
        let decl_end = head.find("?>").unwrap_or(head.len());
        let decl = &head[..decl_end];
        if let Some(pos) = decl.find("encoding") {
            let rest = decl[pos + "encoding".len()..].trim_start_matches([' ', '=', '"', '\'']);
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "-_:.".contains(c)))
                .unwrap_or(rest.len());
            if let Some(e) = label(&rest[..end]) {
                return Some(e);
            }
        }
    }
    value_after("charset")
}

#[cfg(test)]
mod tests {
    use super::*;

    // "Société Générale lance un stablecoin en euros" in ISO-8859-1: é is the byte 0xE9.
    fn latin1(s: &str) -> Vec<u8> {
        s.chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap())
            .collect()
    }

    #[test]
    fn header_charset_wins() {
        let bytes = latin1("Société Générale");
        assert_eq!(
            decode(&bytes, Some("text/html; charset=ISO-8859-1")),
            "Société Générale"
        );
        assert_eq!(
            decode(&bytes, Some("text/html;charset=\"latin1\"")),
            "Société Générale"
        );
    }

    #[test]
    fn meta_and_xml_declarations_are_read() {
        let html = latin1("<html><head><meta charset=\"iso-8859-1\"></head><p>Société</p>");
        assert!(decode(&html, Some("text/html")).contains("Société"));
        let html = latin1(
            "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-1\"><p>Générale</p>",
        );
        assert!(decode(&html, None).contains("Générale"));
        let xml = latin1(
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss><title>Société</title></rss>",
        );
        let text = decode(&xml, Some("application/rss+xml"));
        assert!(text.contains("Société"));
        assert!(xml_as_utf8(&text).starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss>"));
    }

    #[test]
    fn utf8_is_the_default_and_bad_bytes_do_not_fail() {
        assert_eq!(decode("Société".as_bytes(), None), "Société");
        assert_eq!(decode(b"a\xffb", None), "a\u{fffd}b");
        assert_eq!(
            decode(b"\xef\xbb\xbfBOM", Some("text/html; charset=latin1")),
            "BOM"
        );
    }
}
