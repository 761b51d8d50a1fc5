//! Access-log lines in nginx and Apache `combined` format:
//!
//! ```text
//! 203.0.113.7 - alice [10/Oct/2026:13:55:36 -0700] "GET /a?b=c HTTP/1.1" 200 2326 "https://ref/" "Mozilla/5.0 …"
//! ```
//!
//! nginx escapes `"` and non-printable bytes inside quoted fields as `\xHH`,
//! Apache as `\"`, `\\` and `\xhh`; both are undone here. A request line that
//! is not `METHOD TARGET [HTTP/x.y]` (a TLS handshake sent to port 80, junk,
//! `-`) is kept as [`Request::Other`] so the rules still see it. Fields after
//! the user agent (common `combined` extensions) are ignored.
//!
//! Parsing only splits at ASCII delimiters, so it cannot cut a UTF-8
//! character, and it never panics: every failure is a [`ParseError`].
use std::{borrow::Cow, fmt, net::IpAddr};

use chrono::{DateTime, NaiveDate, Utc};

/// Longer lines are refused rather than stored in events.
pub const MAX_LINE: usize = 64 * 1024;

/// One parsed access-log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine<'a> {
    pub client: IpAddr,
    /// `$remote_user` / `%u`; `None` for `-`.
    pub user: Option<&'a str>,
    pub time: DateTime<Utc>,
    pub request: Request<'a>,
    pub status: u16,
    /// `None` for `-` (Apache's `%b` for an empty body).
    pub bytes: Option<u64>,
    /// `None` for `-`.
    pub referer: Option<Cow<'a, str>>,
    /// `None` for `-`.
    pub user_agent: Option<Cow<'a, str>>,
}

/// The quoted request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    Http {
        method: Cow<'a, str>,
        /// Path and query, as sent (still percent-encoded).
        target: Cow<'a, str>,
        /// `None` for an HTTP/0.9 request line (`GET /`).
        protocol: Option<Cow<'a, str>>,
    },
    /// Anything else, unescaped (`-` is the empty string).
    Other(Cow<'a, str>),
}

impl Request<'_> {
    #[must_use]
    pub fn method(&self) -> Option<&str> {
        match self {
            Self::Http { method, .. } => Some(method),
            Self::Other(_) => None,
        }
    }

    /// The request target, or for a request line that is not HTTP, the
    /// whole of it: what the URI rules look at.
    #[must_use]
    pub fn target(&self) -> &str {
        match self {
            Self::Http { target, .. } => target,
            Self::Other(raw) => raw,
        }
    }
}

/// Why a line is not a `combined` log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    Empty,
    TooLong,
    /// A field is missing: the line ends early or a delimiter is absent.
    Missing(&'static str),
    /// The client is not an IPv4 or IPv6 address.
    ClientAddress,
    Timestamp,
    /// A quoted field has no closing quote.
    Unterminated(&'static str),
    Status,
    Size,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty line"),
            Self::TooLong => write!(f, "line longer than {} KiB", MAX_LINE / 1024),
            Self::Missing(field) => write!(f, "missing {field}"),
            Self::ClientAddress => f.write_str("client is not an IPv4 or IPv6 address"),
            Self::Timestamp => f.write_str("timestamp is not [dd/Mon/yyyy:HH:MM:SS ±hhmm]"),
            Self::Unterminated(field) => write!(f, "{field} has no closing quote"),
            Self::Status => f.write_str("status is not a three-digit code"),
            Self::Size => f.write_str("size is neither a number nor -"),
        }
    }
}

impl std::error::Error for ParseError {}

/// A cursor over one line's bytes.
struct Fields<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Fields<'a> {
    fn skip_spaces(&mut self) {
        let b = self.line.as_bytes();
        while self.pos < b.len() && b[self.pos] == b' ' {
            self.pos += 1;
        }
    }

    /// The next space-delimited token.
    fn token(&mut self, name: &'static str) -> Result<&'a str, ParseError> {
        self.skip_spaces();
        let b = self.line.as_bytes();
        let start = self.pos;
        while self.pos < b.len() && b[self.pos] != b' ' {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(ParseError::Missing(name));
        }
        Ok(&self.line[start..self.pos])
    }

    /// `[ … ]`, without the brackets.
    fn bracketed(&mut self, name: &'static str) -> Result<&'a str, ParseError> {
        self.skip_spaces();
        let rest = &self.line[self.pos..];
        if !rest.starts_with('[') {
            return Err(ParseError::Missing(name));
        }
        let end = rest.find(']').ok_or(ParseError::Missing(name))?;
        self.pos += end + 1;
        Ok(&rest[1..end])
    }

    /// `" … "`, unescaped. A backslash escapes the next byte (Apache's
    /// `\"`); nginx's `\x22` has no quote in it to begin with.
    fn quoted(&mut self, name: &'static str) -> Result<Cow<'a, str>, ParseError> {
        self.skip_spaces();
        let b = self.line.as_bytes();
        if self.pos >= b.len() || b[self.pos] != b'"' {
            return Err(ParseError::Missing(name));
        }
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        while i < b.len() {
            match b[i] {
                b'\\' => {
                    escaped = true;
                    i += 2;
                    continue;
                }
                b'"' => break,
                _ => i += 1,
            }
        }
        if i >= b.len() {
            return Err(ParseError::Unterminated(name));
        }
        self.pos = i + 1;
        let raw = &self.line[start..i];
        Ok(if escaped {
            unescape(raw)
        } else {
            Cow::Borrowed(raw)
        })
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Undoes `\xHH`, `\"` and `\\`; other backslashes stay as they are.
fn unescape(raw: &str) -> Cow<'_, str> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'"' | b'\\' => {
                    out.push(b[i + 1]);
                    i += 2;
                    continue;
                }
                b'x' if i + 3 < b.len() => {
                    if let (Some(hi), Some(lo)) = (hex_value(b[i + 2]), hex_value(b[i + 3])) {
                        out.push(hi << 4 | lo);
                        i += 4;
                        continue;
                    }
                }
                _ => {}
            }
        }
        out.push(b[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn client(token: &str) -> Result<IpAddr, ParseError> {
    let bare = token
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(token);
    bare.parse().map_err(|_| ParseError::ClientAddress)
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 4 {
        return None;
    }
    s.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

fn month(name: &[u8]) -> Option<u32> {
    const NAMES: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let lower: Vec<u8> = name.iter().map(u8::to_ascii_lowercase).collect();
    NAMES
        .iter()
        .position(|n| n.as_slice() == lower.as_slice())
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// `10/Oct/2026:13:55:36 -0700` (nginx `$time_local`, Apache `%t`).
///
/// # Errors
/// [`ParseError::Timestamp`] for anything else.
pub fn timestamp(s: &str) -> Result<DateTime<Utc>, ParseError> {
    let b = s.as_bytes();
    let bad = ParseError::Timestamp;
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return Err(bad);
    }
    if b[14] != b':' || b[17] != b':' {
        return Err(bad);
    }
    let day = digits(&b[0..2]).ok_or(bad)?;
    let mon = month(&b[3..6]).ok_or(bad)?;
    let year = digits(&b[7..11]).ok_or(bad)?;
    let (h, m, sec) = (
        digits(&b[12..14]).ok_or(bad)?,
        digits(&b[15..17]).ok_or(bad)?,
        digits(&b[18..20]).ok_or(bad)?,
    );
    let sign: i64 = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err(bad),
    };
    let (oh, om) = (
        digits(&b[22..24]).ok_or(bad)?,
        digits(&b[24..26]).ok_or(bad)?,
    );
    if oh > 14 || om > 59 {
        return Err(bad);
    }
    let local = NaiveDate::from_ymd_opt(i32::try_from(year).map_err(|_| bad)?, mon, day)
        .and_then(|d| d.and_hms_opt(h, m, sec))
        .ok_or(bad)?;
    let offset = sign * (i64::from(oh) * 3600 + i64::from(om) * 60);
    let utc = local - chrono::Duration::seconds(offset);
    Ok(DateTime::from_naive_utc_and_offset(utc, Utc))
}

fn is_method(s: &str) -> bool {
    (1..=20).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_uppercase() || c == b'-' || c == b'_')
}

fn is_protocol(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 6
        && b.starts_with(b"HTTP/")
        && b[5..].iter().all(|c| c.is_ascii_digit() || *c == b'.')
}

fn split_request(raw: Cow<'_, str>) -> Request<'_> {
    fn parts(s: &str) -> Option<(&str, &str, Option<&str>)> {
        let mut it = s.split(' ');
        let (method, target) = (it.next()?, it.next()?);
        let protocol = it.next();
        if it.next().is_some() || !is_method(method) || target.is_empty() {
            return None;
        }
        if protocol.is_some_and(|p| !is_protocol(p)) {
            return None;
        }
        Some((method, target, protocol))
    }
    match raw {
        Cow::Borrowed(s) => match parts(s) {
            Some((method, target, protocol)) => Request::Http {
                method: Cow::Borrowed(method),
                target: Cow::Borrowed(target),
                protocol: protocol.map(Cow::Borrowed),
            },
            None => Request::Other(Cow::Borrowed(s)),
        },
        Cow::Owned(s) => match parts(&s) {
            Some((method, target, protocol)) => Request::Http {
                method: Cow::Owned(method.to_string()),
                target: Cow::Owned(target.to_string()),
                protocol: protocol.map(|p| Cow::Owned(p.to_string())),
            },
            None => Request::Other(Cow::Owned(s)),
        },
    }
}

fn dash_none(s: Cow<'_, str>) -> Option<Cow<'_, str>> {
    (s != "-").then_some(s)
}

/// Parses one `combined` line (a trailing `\r` or `\n` is ignored).
///
/// # Errors
/// A [`ParseError`] naming the first field that is wrong.
pub fn parse(line: &str) -> Result<LogLine<'_>, ParseError> {
    parse_with(line, &mut TimeCache::default())
}

/// Log lines of one second share a timestamp: remembering the last one
/// saves most of the date arithmetic on a busy log.
#[derive(Debug, Default)]
pub struct TimeCache {
    raw: String,
    time: Option<DateTime<Utc>>,
}

/// [`parse`], with a timestamp cache carried from line to line.
///
/// # Errors
/// A [`ParseError`] naming the first field that is wrong.
pub fn parse_with<'a>(line: &'a str, cache: &mut TimeCache) -> Result<LogLine<'a>, ParseError> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.len() > MAX_LINE {
        return Err(ParseError::TooLong);
    }
    if line.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let mut f = Fields { line, pos: 0 };
    let client = client(f.token("client address")?)?;
    f.token("ident")?;
    let user = f.token("user")?;
    let raw_time = f.bracketed("timestamp")?;
    let time = match cache.time {
        Some(t) if cache.raw == raw_time => t,
        _ => {
            let t = timestamp(raw_time)?;
            raw_time.clone_into(&mut cache.raw);
            cache.time = Some(t);
            t
        }
    };
    let request = split_request(f.quoted("request")?);
    let status = f.token("status")?;
    let status = match status.as_bytes() {
        [a, b, c] if status.bytes().all(|d| d.is_ascii_digit()) && *a != b'0' => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(ParseError::Status),
    };
    let bytes = match f.token("size")? {
        "-" => None,
        s if s.len() <= 19 && s.bytes().all(|d| d.is_ascii_digit()) => {
            Some(s.parse().map_err(|_| ParseError::Size)?)
        }
        _ => return Err(ParseError::Size),
    };
    let referer = dash_none(f.quoted("referer")?);
    let user_agent = dash_none(f.quoted("user agent")?);
    Ok(LogLine {
        client,
        user: (user != "-").then_some(user),
        time,
        request,
        status,
        bytes,
        referer,
        user_agent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> LogLine<'_> {
        parse(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn nginx_combined_ipv4() {
        let l = ok(
            r#"203.0.113.7 - - [20/Nov/2026:10:00:00 +0000] "GET /index.html?a=1 HTTP/1.1" 200 612 "-" "Mozilla/5.0 (X11; Linux x86_64)""#,
        );
        assert_eq!(l.client.to_string(), "203.0.113.7");
        assert_eq!(l.user, None);
        assert_eq!(l.time.to_rfc3339(), "2026-11-20T10:00:00+00:00");
        assert_eq!(l.request.method(), Some("GET"));
        assert_eq!(l.request.target(), "/index.html?a=1");
        assert_eq!(l.status, 200);
        assert_eq!(l.bytes, Some(612));
        assert_eq!(l.referer, None);
        assert_eq!(
            l.user_agent.as_deref(),
            Some("Mozilla/5.0 (X11; Linux x86_64)")
        );
    }

    #[test]
    fn apache_combined_ipv6_dash_size_and_user() {
        let l = ok(
            r#"2001:db8::1 - frank [10/Oct/2026:13:55:36 -0700] "HEAD /apache_pb.gif HTTP/1.0" 304 - "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
        );
        assert_eq!(l.client.to_string(), "2001:db8::1");
        assert_eq!(l.user, Some("frank"));
        assert_eq!(l.time.to_rfc3339(), "2026-10-10T20:55:36+00:00");
        assert_eq!(l.bytes, None);
        assert_eq!(
            l.referer.as_deref(),
            Some("http://www.example.com/start.html")
        );
        assert_eq!(
            l.user_agent.as_deref(),
            Some("Mozilla/4.08 [en] (Win98; I ;Nav)")
        );
    }

    #[test]
    fn escaped_quotes_in_user_agent_both_styles() {
        let apache = ok(
            r#"198.51.100.2 - - [20/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1 "-" "say \"hi\" \\o/""#,
        );
        assert_eq!(apache.user_agent.as_deref(), Some(r#"say "hi" \o/"#));
        let nginx = ok(
            r#"198.51.100.2 - - [20/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1 "-" "say \x22hi\x22""#,
        );
        assert_eq!(nginx.user_agent.as_deref(), Some(r#"say "hi""#));
    }

    #[test]
    fn request_lines_that_are_not_http() {
        let tls = ok(
            r#"192.0.2.9 - - [20/Nov/2026:10:00:00 +0000] "\x16\x03\x01\x00\xCA\x01" 400 157 "-" "-""#,
        );
        assert!(matches!(tls.request, Request::Other(_)));
        assert_eq!(tls.request.method(), None);
        assert_eq!(tls.user_agent, None);
        let dash = ok(r#"192.0.2.9 - - [20/Nov/2026:10:00:00 +0000] "-" 400 0 "-" "-""#);
        assert_eq!(dash.request, Request::Other(Cow::Borrowed("-")));
        let junk =
            ok(r#"192.0.2.9 - - [20/Nov/2026:10:00:00 +0000] "${jndi:ldap://x/a}" 400 0 "-" "-""#);
        assert_eq!(junk.request.target(), "${jndi:ldap://x/a}");
        let http09 = ok(r#"192.0.2.9 - - [20/Nov/2026:10:00:00 +0000] "GET /" 200 0 "-" "-""#);
        assert_eq!(http09.request.method(), Some("GET"));
        let lower =
            ok(r#"192.0.2.9 - - [20/Nov/2026:10:00:00 +0000] "get / HTTP/1.1" 400 0 "-" "-""#);
        assert!(matches!(lower.request, Request::Other(_)));
    }

    #[test]
    fn extra_fields_after_the_user_agent_are_ignored() {
        let l = ok(
            r#"10.1.2.3 - - [20/Nov/2026:10:00:00 +0000] "GET / HTTP/2.0" 200 5 "-" "curl/8.4.0" "203.0.113.50" rt=0.004"#,
        );
        assert_eq!(l.user_agent.as_deref(), Some("curl/8.4.0"));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("", ParseError::Empty),
            ("   ", ParseError::Empty),
            ("example.com - - [20/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"", ParseError::ClientAddress),
            ("1.2.3.4 - - [20/Nov/2026:10:00:00 +0000", ParseError::Missing("timestamp")),
            ("1.2.3.4 - - [31/Feb/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"", ParseError::Timestamp),
            ("1.2.3.4 - - [20/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1 200 1", ParseError::Unterminated("request")),
            ("1.2.3.4 - - [20/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" OK 1 \"-\" \"-\"", ParseError::Status),
            ("1.2.3.4 - - [20/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1k \"-\" \"-\"", ParseError::Size),
            ("1.2.3.4 - - [20/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\"", ParseError::Missing("user agent")),
            ("1.2.3.4 - - [20/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"ends with \\\"", ParseError::Unterminated("user agent")),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(line).unwrap_err(), expected, "{line}");
        }
        let long = format!(
            "1.2.3.4 - - [20/Nov/2026:10:00:00 +0000] \"GET /{} HTTP/1.1\" 200 1 \"-\" \"-\"",
            "a".repeat(MAX_LINE)
        );
        assert_eq!(parse(&long).unwrap_err(), ParseError::TooLong);
    }

    #[test]
    fn the_time_cache_is_keyed_on_the_text() {
        let mut cache = TimeCache::default();
        let a = r#"1.2.3.4 - - [20/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#;
        let b = r#"1.2.3.4 - - [20/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#;
        let t1 = parse_with(a, &mut cache).unwrap().time;
        let t2 = parse_with(b, &mut cache).unwrap().time;
        assert_eq!((t2 - t1).num_seconds(), 1);
        assert_eq!(parse_with(a, &mut cache).unwrap().time, t1);
    }
}
