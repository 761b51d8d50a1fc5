//! The console phase: signs in through the login form, reports what a
//! first load of the alerts page transfers, then the latency of the
//! overview, the alerts page and an alert's page under `--clients`
//! connections (`--console-requests` each).
use hyper::body::Bytes;
use serde_json::Value;

use crate::{report, run, Args, Client};

/// One request on a fresh connection: status, headers, body.
async fn once(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<String>,
) -> (u16, hyper::HeaderMap, Bytes) {
    Client::connect(host, "")
        .await
        .send(method, path, headers, body.unwrap_or_default().into_bytes())
        .await
}

fn cookie(headers: &hyper::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

fn between<'a>(text: &'a str, start: &str, end: char) -> Option<&'a str> {
    let i = text.find(start)? + start.len();
    let j = text[i..].find(end)?;
    Some(&text[i..i + j])
}

/// Signs in as a browser does; the `Cookie` header value of the session.
async fn sign_in(args: &Args) -> String {
    let (status, headers, body) = once(&args.host, "GET", "/console/login", &[], None).await;
    assert_eq!(status, 200, "GET /console/login");
    let nonce = cookie(&headers, "vigil_login").expect("login cookie");
    let page = String::from_utf8_lossy(&body);
    let csrf = between(&page, "data-csrf=\"", '"')
        .expect("csrf")
        .to_string();
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &csrf)
        .append_pair("login", &args.username)
        .append_pair("password", &args.password)
        .finish();
    let (status, headers, body) = once(
        &args.host,
        "POST",
        "/console/login",
        &[
            ("cookie", nonce),
            (
                "content-type",
                "application/x-www-form-urlencoded".to_string(),
            ),
        ],
        Some(form),
    )
    .await;
    assert_eq!(
        status,
        303,
        "console sign-in: {}",
        String::from_utf8_lossy(&body)
    );
    cookie(&headers, "vigil_session").expect("session cookie")
}

pub async fn bench(args: &Args, token: &str) {
    let session = sign_in(args).await;
    // What a browser's first visit to the alerts page transfers: the page
    // and every script and stylesheet it names (gzip accepted).
    let (status, _, page) = once(
        &args.host,
        "GET",
        "/console/alerts",
        &[
            ("cookie", session.clone()),
            ("accept-encoding", "gzip".to_string()),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "GET /console/alerts");
    let html = String::from_utf8_lossy(&page).to_string();
    let mut total = page.len();
    let mut assets = 0;
    for (i, _) in html.match_indices("\"/console/assets/") {
        let url = &html[i + 1..i + 1 + html[i + 1..].find('"').unwrap_or(0)];
        let (status, headers, body) = once(
            &args.host,
            "GET",
            url,
            &[("accept-encoding", "gzip".to_string())],
            None,
        )
        .await;
        assert_eq!(status, 200, "{url}");
        assert!(
            headers.get("content-encoding").is_some(),
            "{url} is served compressed"
        );
        total += body.len();
        assets += 1;
    }
    println!(
        "console: first load of the alerts page {:.1} KB ({} B page + {assets} assets, gzip)",
        total as f64 / 1024.0,
        page.len()
    );

    // An alert to show: the newest.
    let mut c = Client::connect(&args.host, token).await;
    let (_, body) = c.call("GET", "/api/alerts?page_size=1", None).await;
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let alert = v["results"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let as_cookie = format!("cookie:{session}");
    for (name, path) in [
        ("console overview", "/console".to_string()),
        ("console alerts page", "/console/alerts".to_string()),
        ("console alert page", format!("/console/alerts/{alert}")),
    ] {
        let p = path.clone();
        let make = move |_| ("GET", p.clone(), None);
        crate::warm_up(args, &as_cookie, make.clone()).await;
        let (lat, took) = run(args, &as_cookie, args.clients, args.console_requests, make).await;
        report(name, lat, args.console_requests, took);
    }
}
