//! The console in a real headless Chromium, driven over WebDriver
//! (`chromedriver`), against a real `vigil-cli start`. Needs Debian's
//! `chromium` and `chromium-driver` (`.ci/run` installs them); without
//! them the test says so on standard error and passes, unless
//! `VIGIL_E2E=required` (set by `.ci/run`), where it fails.
use std::{
    io::Write,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client as Browser, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use vigil::models::users::{self, NewUser, Role};

use super::{configured_db, connect, create_admin, free_port, Server, PASSWORD};
use crate::support::TestDb;

fn find_tool(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// `chromedriver` on a free port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    async fn start(path: &PathBuf) -> Self {
        let port = free_port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, port }
    }

    async fn browser(&self, chrome: &PathBuf) -> Browser {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chrome,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,1000", "--no-first-run",
                         // Nothing leaves the machine: Chromium's own calls
                         // home are off, and any request not for loopback
                         // goes to a proxy on a closed loopback port
                         // (loopback itself bypasses a proxy).
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--disable-domain-reliability",
                         "--disable-client-side-phishing-detection", "--no-default-browser-check",
                         "--disable-features=OptimizationHints,Translate,MediaRouter,AutofillServerCommunication",
                         "--proxy-server=http://127.0.0.1:9"],
            }),
        );
        ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where screenshots go: `target/console-screenshots/`.
fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

async fn shoot(b: &Browser, name: &str) {
    let png = b.screenshot().await.expect("screenshot");
    std::fs::write(shots().join(format!("{name}.png")), png).expect("write screenshot");
}

/// Polls `check` every 25 ms until it holds or `limit` passes.
async fn within<F, Fut>(limit: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn text_of(b: &Browser, css: &str) -> String {
    match b.find(Locator::Css(css)).await {
        Ok(el) => el.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn sign_in(b: &Browser, base: &str, login: &str) {
    b.goto(&format!("{base}/console/login")).await.unwrap();
    b.find(Locator::Id("login"))
        .await
        .unwrap()
        .send_keys(login)
        .await
        .unwrap();
    b.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    b.find(Locator::Css(".login button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    within(Duration::from_secs(10), "signed in", || async {
        b.current_url().await.is_ok_and(|u| u.path() == "/console")
    })
    .await;
}

async fn post_event(server: &Server, token: &str, body: serde_json::Value) -> (String, String) {
    let (status, answer) = server
        .call("POST", "/api/events", Some(token), Some(&body))
        .await
        .expect("POST /api/events");
    assert_eq!(status, 201, "{answer}");
    (
        answer["alert"]["id"]
            .as_str()
            .expect("an alert")
            .to_string(),
        answer["alert"]["title"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test]
async fn the_console_works_in_a_real_browser() {
    let chrome = find_tool(
        "CHROME_BIN",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    let driver = find_tool("CHROMEDRIVER", &["chromedriver"]);
    let (Some(chrome), Some(driver)) = (chrome, driver) else {
        let required = std::env::var("VIGIL_E2E").is_ok_and(|v| v == "required");
        assert!(
            !required,
            "VIGIL_E2E=required but chromium or chromedriver is missing"
        );
        // Straight to the terminal: the harness shows no captured output of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED the_console_works_in_a_real_browser: chromium and chromedriver not found \
             (Debian: apt-get install chromium chromium-driver; .ci/run installs them)"
        );
        return;
    };
    let (_db, url) = TestDb::create(&configured_db().await).await;
    let port = free_port();
    let server = Server::start(&url, port, None).await;
    let db = connect(&url).await;
    create_admin(&db, "root").await;
    users::Model::create_with_password(
        &db,
        &vigil::models::audit::By::new("test", None),
        &NewUser {
            username: "alice",
            email: "alice@example.com",
            password: PASSWORD,
            role: Role::Analyst,
        },
    )
    .await
    .expect("analyst");
    let token = server.token("root").await;
    let base = format!("http://127.0.0.1:{port}");
    let driver = Driver::start(&driver).await;

    // An analyst signs in and watches the alert list.
    let analyst = driver.browser(&chrome).await;
    analyst
        .goto(&format!("{base}/console/alerts"))
        .await
        .unwrap();
    shoot(&analyst, "sign-in").await;
    sign_in(&analyst, &base, "alice").await;
    analyst
        .goto(&format!("{base}/console/alerts"))
        .await
        .unwrap();
    within(
        Duration::from_secs(10),
        "the live feed connects",
        || async {
            analyst
                .execute("return document.body.getAttribute('data-feed')", vec![])
                .await
                .is_ok_and(|v| v == json!("live"))
        },
    )
    .await;
    analyst
        .execute("window.vigilMarker = 42", vec![])
        .await
        .unwrap();

    // An event through the API: its alert shows up, marked new, without a reload.
    let (first, title) = post_event(
        &server,
        &token,
        json!({"source": "e2e-sensor", "event_type": "port_scan", "severity": "HIGH",
               "source_ip": "203.0.113.77", "description": "a scan seen by the e2e test"}),
    )
    .await;
    let row = format!("tr.is-new[data-id='{first}']");
    let took = within(
        Duration::from_secs(1),
        "the new alert in the open table",
        || async { analyst.find(Locator::Css(&row)).await.is_ok() },
    )
    .await;
    let _ = writeln!(
        std::io::stderr(),
        "console e2e: new alert on screen {took:?} after the POST"
    );
    assert_eq!(
        analyst
            .execute("return window.vigilMarker", vec![])
            .await
            .unwrap(),
        json!(42),
        "the page was not reloaded"
    );
    assert!(text_of(&analyst, &row).await.contains(&title));
    shoot(&analyst, "alerts").await;

    // Hostile text renders as text, and nothing runs.
    let (hostile, _) = post_event(
        &server,
        &token,
        json!({"source": "e2e-sensor", "event_type": "xss", "severity": "HIGH",
               "source_ip": "203.0.113.78", "description": "<img src=x onerror=alert(1)>"}),
    )
    .await;
    analyst
        .goto(&format!("{base}/console/alerts/{hostile}"))
        .await
        .unwrap();
    let shown = text_of(&analyst, "dd.text").await;
    assert_eq!(shown, "<img src=x onerror=alert(1)>");
    assert!(analyst
        .find_all(Locator::Css("main img"))
        .await
        .unwrap()
        .is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(analyst.get_alert_text().await.is_err(), "no dialog opened");
    // An analyst's alert page offers no status buttons.
    assert!(analyst
        .find_all(Locator::Css("form.status-change"))
        .await
        .unwrap()
        .is_empty());
    assert!(analyst.find(Locator::Css("form.note")).await.is_ok());
    shoot(&analyst, "alert-analyst").await;

    // An admin acknowledges, then resolves, from the alert's page.
    let admin = driver.browser(&chrome).await;
    sign_in(&admin, &base, "root").await;
    admin
        .goto(&format!("{base}/console/alerts/{first}"))
        .await
        .unwrap();
    for status in ["ACKNOWLEDGED", "RESOLVED"] {
        admin
            .find(Locator::Css(&format!(
                "form.status-change button[value='{status}']"
            )))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        within(Duration::from_secs(5), status, || async {
            text_of(&admin, "#alert-status").await == status
        })
        .await;
    }
    let timeline = text_of(&admin, "#timeline").await;
    assert!(
        timeline.contains("root moved it from OPEN to ACKNOWLEDGED"),
        "{timeline}"
    );
    assert!(
        timeline.contains("root moved it from ACKNOWLEDGED to RESOLVED"),
        "{timeline}"
    );
    shoot(&admin, "alert-admin").await;
    // The overview catches up by itself, then follows the feed without a reload.
    admin.goto(&format!("{base}/console")).await.unwrap();
    within(
        Duration::from_secs(8),
        "the overview counts the open alert",
        || async { text_of(&admin, "[data-figure=open]").await == "1" },
    )
    .await;
    admin
        .execute("window.vigilMarker = 7", vec![])
        .await
        .unwrap();
    post_event(
        &server,
        &token,
        json!({"source": "e2e-sensor", "event_type": "brute_force", "severity": "CRITICAL",
               "source_ip": "203.0.113.79"}),
    )
    .await;
    within(
        Duration::from_secs(8),
        "the overview follows the feed",
        || async {
            text_of(&admin, "[data-figure=open]").await == "2"
                && text_of(&admin, "[data-figure=open-critical]").await == "1"
        },
    )
    .await;
    assert_eq!(
        admin
            .execute("return window.vigilMarker", vec![])
            .await
            .unwrap(),
        json!(7)
    );
    shoot(&admin, "overview").await;
    for (path, name) in [
        ("/console/events", "events"),
        ("/console/upload", "upload"),
        ("/console/admin/users", "admin-users"),
        ("/console/admin/keys", "admin-keys"),
        ("/console/admin/webhooks", "admin-webhooks"),
    ] {
        admin.goto(&format!("{base}{path}")).await.unwrap();
        shoot(&admin, name).await;
    }
    admin.set_window_size(390, 844).await.unwrap();
    admin.goto(&format!("{base}/console/alerts")).await.unwrap();
    shoot(&admin, "alerts-390px").await;
    admin.close().await.unwrap();

    // After signing out, the back button shows no data.
    analyst
        .goto(&format!("{base}/console/alerts/{hostile}"))
        .await
        .unwrap();
    analyst
        .find(Locator::Css(".whoami button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    within(Duration::from_secs(5), "the sign-in page", || async {
        analyst
            .current_url()
            .await
            .is_ok_and(|u| u.path() == "/console/login")
    })
    .await;
    analyst.back().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let page = analyst.source().await.unwrap();
    assert!(
        !page.contains("203.0.113.78"),
        "the alert's data after sign-out"
    );
    assert_eq!(
        analyst.current_url().await.unwrap().path(),
        "/console/login"
    );
    shoot(&analyst, "after-sign-out").await;
    analyst.close().await.unwrap();
}
