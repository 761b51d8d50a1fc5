use serde_json::{json, Value};
use vigil::models::users::Role;

use super::prepare_data::{assert_error, token_for};

async fn seed(request: &axum_test::TestServer, token: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for (sev, ip) in [
        ("HIGH", "192.0.2.1"),
        ("CRITICAL", "192.0.2.2"),
        ("LOW", "192.0.2.3"),
        ("HIGH", "192.0.2.1"),
    ] {
        let r = request
            .post("/api/events")
            .authorization_bearer(token)
            .json(&json!({"source": "fw", "event_type": "=cmd|' /C calc'!A0", "severity": sev, "source_ip": ip}))
            .await;
        if let Some(id) = r.json::<Value>()["alert"]["id"].as_str() {
            if !ids.contains(&id.to_string()) {
                ids.push(id.to_string());
            }
        }
    }
    ids
}

#[tokio::test]
async fn stats_count_by_severity_status_and_hour() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let ids = seed(&request, &admin).await;
        for (id, status) in [(&ids[0], "ACKNOWLEDGED"), (&ids[1], "RESOLVED")] {
            let r = request
                .patch(&format!("/api/alerts/{id}/status"))
                .authorization_bearer(&admin)
                .json(&json!({"status": status}))
                .await;
            assert_eq!(r.status_code(), 200);
        }
        let r = request.get("/api/stats").authorization_bearer(&admin).await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let s: Value = r.json();
        assert_eq!(s["events"]["total"], 4);
        assert_eq!(s["events"]["by_severity"]["HIGH"], 2);
        assert_eq!(s["events"]["by_severity"]["LOW"], 1);
        assert_eq!(s["events"]["by_severity"]["MEDIUM"], 0);
        let hours = s["events"]["per_hour"].as_array().unwrap();
        assert_eq!(hours.len(), 25);
        assert_eq!(hours.last().unwrap()["count"], 4, "all posted this hour");
        assert_eq!(s["alerts"]["total"], 2);
        assert_eq!(s["alerts"]["open"], 1);
        assert_eq!(s["alerts"]["by_status"]["ACKNOWLEDGED"], 1);
        assert_eq!(s["alerts"]["by_status"]["RESOLVED"], 1);
        assert_eq!(s["alerts"]["by_severity"]["CRITICAL"], 1);
        assert!(
            s["alerts"]["mean_time_to_acknowledge_seconds"]
                .as_f64()
                .unwrap()
                >= 0.0
        );
        assert!(
            s["alerts"]["mean_time_to_resolve_seconds"]
                .as_f64()
                .unwrap()
                >= 0.0
        );

        assert_error(&request.get("/api/stats").await, 401, "unauthorized");
    })
    .await;
}

#[tokio::test]
async fn export_streams_csv_and_ndjson_with_filters_for_admins_only() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let analyst = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let ids = seed(&request, &admin).await;

        let r = request
            .get("/api/alerts/export")
            .authorization_bearer(&admin)
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let text = r.text();
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 3, "header and two alerts: {text}");
        assert!(lines[0].starts_with("id,title,severity,status"));
        assert!(lines[1].starts_with(&format!("\"{}\",", ids[0])), "{text}");
        // Formula-looking text is defused, never executable in a spreadsheet.
        assert!(text.contains("'=cmd|' /C calc'!A0"), "{text}");

        let r = request
            .get("/api/alerts/export?format=ndjson&severity=critical")
            .authorization_bearer(&admin)
            .await;
        assert_eq!(r.headers()["content-type"], "application/x-ndjson");
        let rows: Vec<Value> = r
            .text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["id"], ids[1]);

        let r = request
            .get("/api/alerts/export?format=xml")
            .authorization_bearer(&admin)
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["format"].is_array());
        // Every bad parameter at once, each by its name.
        let r = request
            .get("/api/alerts/export?format=xml&page=2&colour=red&severity=urgent")
            .authorization_bearer(&admin)
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        let named: Vec<&String> = body["fields"].as_object().unwrap().keys().collect();
        assert_eq!(named, ["colour", "format", "page", "severity"], "{body}");
        let r = request
            .get("/api/alerts/export")
            .authorization_bearer(&analyst)
            .await;
        assert_error(&r, 403, "forbidden");
    })
    .await;
}
