//! Percent-decoding of request targets, as the URI rules see them.
use std::borrow::Cow;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` once and `+` as a space (browsers send form spaces as `+`,
/// and attackers rely on it: `union+select`). A `%` not followed by two hex
/// digits stays. Bytes that do not make UTF-8 become U+FFFD.
#[must_use]
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'%' || c == b'+') {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// Whether `s` still holds a `%XX` escape (what a second decoding would
/// change): after one decoding, a sign of double encoding.
#[must_use]
pub fn has_escape(s: &str) -> bool {
    s.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && hex(w[1]).is_some() && hex(w[2]).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_once() {
        assert_eq!(percent_decode("/a%20b+c"), "/a b c");
        assert_eq!(percent_decode("%27%20OR%201%3D1"), "' OR 1=1");
        assert_eq!(percent_decode("%252e%252e%252f"), "%2e%2e%2f");
        assert!(has_escape(&percent_decode("%252e%252e%252f")));
        assert!(!has_escape(&percent_decode("/a%20b")));
    }

    #[test]
    fn leaves_broken_escapes() {
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%ff%fe"), "\u{fffd}\u{fffd}");
        assert!(matches!(percent_decode("/plain/path"), Cow::Borrowed(_)));
    }
}
