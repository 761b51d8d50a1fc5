use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{json, Value};
use vigil::models::{_entities::outbox_envelopes, users::Role};

use super::prepare_data::{assert_error, open_alert, token_for};

async fn set_status(
    request: &axum_test::TestServer,
    token: &str,
    id: &str,
    status: &str,
) -> axum_test::TestResponse {
    request
        .patch(&format!("/api/alerts/{id}/status"))
        .authorization_bearer(token)
        .json(&json!({"status": status, "note": format!("to {status}"), "created_at": "2000-01-01T00:00:00Z", "event": "x"}))
        .await
}

#[tokio::test]
async fn admins_drive_the_lifecycle_and_history_records_it() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let id = open_alert(&request, &admin, "203.0.113.7").await;

        let r = set_status(&request, &admin, &id, "acknowledged").await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let body: Value = r.json();
        assert_eq!(body["status"], "ACKNOWLEDGED");
        assert!(body["acknowledged_at"].is_string());
        assert_ne!(
            body["created_at"], "2000-01-01T00:00:00Z",
            "read-only fields ignored"
        );

        // Same status again: a 200 no-op, no history line.
        let r = set_status(&request, &admin, &id, "ACKNOWLEDGED").await;
        assert_eq!(r.status_code(), 200);

        for status in ["ESCALATED", "MITIGATED", "RESOLVED"] {
            let r = set_status(&request, &admin, &id, status).await;
            assert_eq!(r.status_code(), 200, "{status}: {}", r.text());
        }
        let r = request
            .get(&format!("/api/alerts/{id}"))
            .authorization_bearer(&admin)
            .await;
        let alert: Value = r.json();
        assert_eq!(alert["status"], "RESOLVED");
        assert!(alert["resolved_at"].is_string());

        let r = request
            .get(&format!("/api/alerts/{id}/history"))
            .authorization_bearer(&admin)
            .await;
        let history: Vec<Value> = r.json();
        let moves: Vec<(Value, Value)> = history
            .iter()
            .map(|h| (h["from_status"].clone(), h["to_status"].clone()))
            .collect();
        assert_eq!(history[0]["action"], "created");
        assert_eq!(moves[1], (json!("OPEN"), json!("ACKNOWLEDGED")));
        assert_eq!(moves[4], (json!("MITIGATED"), json!("RESOLVED")));
        assert_eq!(history.len(), 5);
        assert_eq!(history[1]["actor"], "root");
        assert_eq!(history[1]["note"], "to acknowledged");

        let types: Vec<String> = outbox_envelopes::Entity::find()
            .order_by_asc(outbox_envelopes::Column::Id)
            .all(&ctx.db)
            .await
            .unwrap()
            .iter()
            .map(|o| o.event_type.clone())
            .collect();
        assert_eq!(
            types,
            [
                "alert.created",
                "alert.status_changed",
                "alert.status_changed",
                "alert.escalated",
                "alert.status_changed",
                "alert.mitigated",
                "alert.status_changed",
                "alert.resolved"
            ]
        );
        let mitigated = outbox_envelopes::Entity::find()
            .all(&ctx.db)
            .await
            .unwrap()
            .into_iter()
            .find(|o| o.event_type == "alert.mitigated")
            .unwrap();
        assert!(mitigated.envelope["payload"]["duration_seconds"].is_i64());
    })
    .await;
}

#[tokio::test]
async fn illegal_moves_are_409_and_unknown_statuses_400() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let id = open_alert(&request, &admin, "203.0.113.7").await;
        assert_eq!(
            set_status(&request, &admin, &id, "INVESTIGATING")
                .await
                .status_code(),
            200
        );
        assert_error(
            &set_status(&request, &admin, &id, "ACKNOWLEDGED").await,
            409,
            "invalid_transition",
        );
        assert_error(
            &set_status(&request, &admin, &id, "OPEN").await,
            409,
            "invalid_transition",
        );
        let body = assert_error(
            &set_status(&request, &admin, &id, "DONE").await,
            400,
            "validation_failed",
        );
        assert!(body["fields"]["status"].is_array());
        assert_error(
            &set_status(&request, &admin, "nope", "RESOLVED").await,
            404,
            "not_found",
        );
        assert_eq!(
            set_status(&request, &admin, &id, "IGNORED")
                .await
                .status_code(),
            200
        );
        assert_error(
            &set_status(&request, &admin, &id, "RESOLVED").await,
            409,
            "invalid_transition",
        );
        assert_eq!(
            set_status(&request, &admin, &id, "OPEN")
                .await
                .status_code(),
            200
        );
    })
    .await;
}

#[tokio::test]
async fn analysts_cannot_change_status_or_edit_but_can_read_and_note() {
    crate::support::request(|request, ctx| async move {
        let analyst = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let id = open_alert(&request, &analyst, "203.0.113.7").await;

        assert_error(
            &set_status(&request, &analyst, &id, "ACKNOWLEDGED").await,
            403,
            "forbidden",
        );
        let r = request
            .patch(&format!("/api/alerts/{id}"))
            .authorization_bearer(&analyst)
            .json(&json!({"tags": ["x"]}))
            .await;
        assert_error(&r, 403, "forbidden");
        let r = request
            .post("/api/alerts/bulk-status")
            .authorization_bearer(&analyst)
            .json(&json!({"ids": [id], "status": "RESOLVED"}))
            .await;
        assert_error(&r, 403, "forbidden");
        let r = request
            .patch(&format!("/api/alerts/{id}/status"))
            .json(&json!({"status": "RESOLVED"}))
            .await;
        assert_error(&r, 401, "unauthorized");

        let r = request
            .get(&format!("/api/alerts/{id}"))
            .authorization_bearer(&analyst)
            .await;
        assert_eq!(r.json::<Value>()["status"], "OPEN");

        let r = request
            .post(&format!("/api/alerts/{id}/notes"))
            .authorization_bearer(&analyst)
            .json(&json!({"note": "looks like sqlmap"}))
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let r = request
            .post(&format!("/api/alerts/{id}/notes"))
            .authorization_bearer(&analyst)
            .json(&json!({"note": "  "}))
            .await;
        assert_error(&r, 400, "validation_failed");
        let history: Vec<Value> = request
            .get(&format!("/api/alerts/{id}/history"))
            .authorization_bearer(&analyst)
            .await
            .json();
        assert_eq!(history.last().unwrap()["note"], "looks like sqlmap");
        assert_eq!(history.last().unwrap()["actor"], "alice");
    })
    .await;
}

#[tokio::test]
async fn a_resolved_alert_is_never_joined() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let first = open_alert(&request, &admin, "203.0.113.7").await;
        assert_eq!(
            set_status(&request, &admin, &first, "RESOLVED")
                .await
                .status_code(),
            200
        );
        let second = open_alert(&request, &admin, "203.0.113.7").await;
        assert_ne!(first, second);
        // Reopening the old one would make two open alerts for one fingerprint.
        assert_error(
            &set_status(&request, &admin, &first, "OPEN").await,
            409,
            "fingerprint_reopened",
        );
        assert_eq!(open_alert(&request, &admin, "203.0.113.7").await, second);
    })
    .await;
}

#[tokio::test]
async fn admins_edit_assignee_tags_and_severity() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let id = open_alert(&request, &admin, "203.0.113.7").await;
        let r = request
            .patch(&format!("/api/alerts/{id}"))
            .authorization_bearer(&admin)
            .json(&json!({"assignee": "root", "tags": ["web", "sqli", "web"], "severity": "critical"}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let body: Value = r.json();
        assert_eq!(body["assignee"], "root");
        assert_eq!(body["tags"], json!(["sqli", "web"]));
        assert_eq!(body["severity"], "CRITICAL");

        let r = request
            .patch(&format!("/api/alerts/{id}"))
            .authorization_bearer(&admin)
            .json(&json!({"assignee": "ghost"}))
            .await;
        assert_error(&r, 400, "validation_failed");
        let r = request
            .patch(&format!("/api/alerts/{id}"))
            .authorization_bearer(&admin)
            .json(&json!({"assignee": null}))
            .await;
        assert!(r.json::<Value>()["assignee"].is_null());

        let body: Value = request
            .get("/api/alerts?severity=CRITICAL&assignee=root")
            .authorization_bearer(&admin)
            .await
            .json();
        assert_eq!(body["count"], 0);
        let body: Value = request
            .get("/api/alerts?event__severity=critical")
            .authorization_bearer(&admin)
            .await
            .json();
        assert_eq!(body["count"], 1);
    })
    .await;
}

#[tokio::test]
async fn bulk_status_answers_per_id() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let a = open_alert(&request, &admin, "203.0.113.7").await;
        let b = open_alert(&request, &admin, "203.0.113.8").await;
        assert_eq!(
            set_status(&request, &admin, &b, "RESOLVED")
                .await
                .status_code(),
            200
        );
        let r = request
            .post("/api/alerts/bulk-status")
            .authorization_bearer(&admin)
            .json(&json!({"ids": [a, b, "missing"], "status": "ACKNOWLEDGED"}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let results: Vec<Value> = r.json();
        assert_eq!(results[0]["status"], 200);
        assert_eq!(results[0]["alert"]["status"], "ACKNOWLEDGED");
        assert_eq!(results[1]["status"], 409);
        assert_eq!(results[1]["error"]["error"], "invalid_transition");
        assert_eq!(results[2]["status"], 404);
    })
    .await;
}

#[tokio::test]
async fn alert_lists_filter_by_status_and_order_by_occurrences() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let a = open_alert(&request, &admin, "203.0.113.7").await;
        open_alert(&request, &admin, "203.0.113.7").await;
        let b = open_alert(&request, &admin, "203.0.113.8").await;
        assert_eq!(
            set_status(&request, &admin, &b, "ACKNOWLEDGED")
                .await
                .status_code(),
            200
        );

        let body: Value = request
            .get("/api/alerts?ordering=-occurrences")
            .authorization_bearer(&admin)
            .await
            .json();
        assert_eq!(body["results"][0]["id"], a);
        let body: Value = request
            .get("/api/alerts?status=acknowledged")
            .authorization_bearer(&admin)
            .await
            .json();
        assert_eq!(body["count"], 1);
        assert_eq!(body["results"][0]["id"], b);
        let r = request
            .get("/api/alerts?status=DONE")
            .authorization_bearer(&admin)
            .await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["status"].is_array());
    })
    .await;
}

/// The page `count` of unfiltered and status-filtered lists comes from the
/// running tallies: after ingestion, status changes (single, bulk, reopen)
/// and a purge, every count still equals the rows in the database.
#[tokio::test]
async fn page_counts_stay_exact_through_ingestion_lifecycle_and_purge() {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    use vigil::models::_entities::{alerts, events, tallies};
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let a = open_alert(&request, &admin, "203.0.113.1").await;
        let b = open_alert(&request, &admin, "203.0.113.2").await;
        let c = open_alert(&request, &admin, "203.0.113.3").await;
        open_alert(&request, &admin, "203.0.113.3").await; // joins c
        let r = request
            .post("/api/events/batch")
            .authorization_bearer(&admin)
            .json(&json!({"events": [
                {"source": "ids-1", "event_type": "sqli", "severity": "CRITICAL", "source_ip": "203.0.113.4"},
                {"source": "ids-1", "event_type": "probe", "severity": "LOW"},
                {"source": "ids-1", "event_type": "sqli", "severity": "HIGH", "source_ip": "203.0.113.1"}
            ]}))
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        assert_eq!(set_status(&request, &admin, &a, "ACKNOWLEDGED").await.status_code(), 200);
        assert_eq!(set_status(&request, &admin, &b, "RESOLVED").await.status_code(), 200);
        assert_eq!(set_status(&request, &admin, &b, "OPEN").await.status_code(), 200);
        assert_eq!(set_status(&request, &admin, &b, "IGNORED").await.status_code(), 200);
        assert_eq!(set_status(&request, &admin, &c, "OPEN").await.status_code(), 200); // no-op
        let r = request
            .post("/api/alerts/bulk-status")
            .authorization_bearer(&admin)
            .json(&json!({"ids": [a, c, "missing"], "status": "RESOLVED"}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        // Events that opened no alert go; the rest stay.
        let purged = vigil::models::events::Model::purge_before(
            &ctx.db,
            chrono::Utc::now() + chrono::Duration::days(1),
        )
        .await
        .unwrap();
        assert_eq!(purged, 3);

        let count = |path: &'static str| {
            let request = &request;
            let admin = admin.clone();
            async move {
                let r = request.get(path).authorization_bearer(&admin).await;
                assert_eq!(r.status_code(), 200, "{}", r.text());
                r.json::<Value>()["count"].as_u64().unwrap()
            }
        };
        let in_db = |statuses: &'static [&'static str]| {
            let db = ctx.db.clone();
            async move {
                let mut q = alerts::Entity::find();
                if !statuses.is_empty() {
                    q = q.filter(alerts::Column::Status.is_in(statuses.iter().copied()));
                }
                q.count(&db).await.unwrap()
            }
        };
        assert_eq!(count("/api/alerts").await, 4);
        assert_eq!(count("/api/alerts").await, in_db(&[]).await);
        assert_eq!(count("/api/alerts?status=OPEN").await, in_db(&["OPEN"]).await);
        assert_eq!(count("/api/alerts?status=OPEN").await, 1);
        assert_eq!(
            count("/api/alerts?status=RESOLVED,IGNORED&status=RESOLVED").await,
            in_db(&["RESOLVED", "IGNORED"]).await
        );
        assert_eq!(count("/api/alerts?status=RESOLVED,IGNORED").await, 3);
        assert_eq!(count("/api/alerts?status=ACKNOWLEDGED").await, 0);
        // A page's rows carry the count; a page past the last row has none
        // to carry it, and still reports it.
        let r = request
            .get("/api/alerts?page_size=3&page=2")
            .authorization_bearer(&admin)
            .await;
        let body: Value = r.json();
        assert_eq!(body["count"], 4, "{body}");
        assert_eq!(body["results"].as_array().unwrap().len(), 1, "{body}");
        let r = request
            .get("/api/alerts?page_size=3&page=7")
            .authorization_bearer(&admin)
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let body: Value = r.json();
        assert_eq!(body["count"], 4, "{body}");
        assert_eq!(body["results"], json!([]), "{body}");
        let events_left = events::Entity::find().count(&ctx.db).await.unwrap();
        assert_eq!(events_left, 4);
        assert_eq!(count("/api/events").await, events_left);
        // And the tallies themselves, status by status.
        for row in tallies::Entity::find().all(&ctx.db).await.unwrap() {
            let real = match row.name.strip_prefix("alerts:") {
                Some(status) => alerts::Entity::find()
                    .filter(alerts::Column::Status.eq(status))
                    .count(&ctx.db)
                    .await
                    .unwrap(),
                None => events_left,
            };
            assert_eq!(u64::try_from(row.n).unwrap(), real, "{}", row.name);
        }
    })
    .await;
}

#[tokio::test]
async fn search_matches_the_description_of_the_event_that_opened_the_alert() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        for (ip, description) in [
            ("203.0.113.1", "Mimikatz sekurlsa::logonpasswords on HOST-7"),
            ("203.0.113.2", "ordinary port scan"),
        ] {
            let r = request
                .post("/api/events")
                .authorization_bearer(&admin)
                .json(
                    &json!({"source": "edr", "event_type": "cred_dump", "severity": "HIGH",
                              "source_ip": ip, "description": description}),
                )
                .await;
            assert_eq!(r.status_code(), 201, "{}", r.text());
        }
        for (search, expected) in [
            ("MIMIKATZ", 1),
            ("logonpasswords", 1),
            ("edr", 2),
            ("100%", 0),
        ] {
            let r = request
                .get(&format!(
                    "/api/alerts?search={}",
                    search.replace('%', "%25")
                ))
                .authorization_bearer(&admin)
                .await;
            assert_eq!(r.status_code(), 200, "{}", r.text());
            assert_eq!(r.json::<Value>()["count"], expected, "search={search}");
        }
    })
    .await;
}

#[tokio::test]
async fn tag_filter_matches_alerts_carrying_any_of_the_tags() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let mut ids = Vec::new();
        for (ip, tags) in [
            ("203.0.113.1", json!(["web", "sqli"])),
            ("203.0.113.2", json!(["dns"])),
            ("203.0.113.3", json!([])),
            ("203.0.113.4", json!(["x\"y", "Web"])),
        ] {
            let id = open_alert(&request, &admin, ip).await;
            let r = request
                .patch(&format!("/api/alerts/{id}"))
                .authorization_bearer(&admin)
                .json(&json!({ "tags": tags }))
                .await;
            assert_eq!(r.status_code(), 200, "{}", r.text());
            ids.push(id);
        }
        let listed = |query: &'static str| {
            let request = &request;
            let admin = &admin;
            async move {
                let r = request
                    .get(&format!("/api/alerts?{query}"))
                    .authorization_bearer(admin)
                    .await;
                assert_eq!(r.status_code(), 200, "{query}: {}", r.text());
                let body: Value = r.json();
                let mut found: Vec<String> = body["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a["id"].as_str().unwrap().to_string())
                    .collect();
                found.sort();
                (body["count"].clone(), found)
            }
        };
        let expect = |picked: &[usize]| {
            let mut want: Vec<String> = picked.iter().map(|&i| ids[i].clone()).collect();
            want.sort();
            want
        };
        // One tag; tags match exactly (case and all).
        assert_eq!(listed("tag=web").await, (json!(1), expect(&[0])));
        assert_eq!(listed("tag=Web").await, (json!(1), expect(&[3])));
        assert_eq!(listed("tag=x%22y").await, (json!(1), expect(&[3])));
        // Comma-separated or repeated: any of them.
        assert_eq!(listed("tag=web,dns").await, (json!(2), expect(&[0, 1])));
        assert_eq!(listed("tag=web&tag=dns").await, (json!(2), expect(&[0, 1])));
        // No match is an empty page counted 0, not the tallied total of 4.
        assert_eq!(listed("tag=nope").await, (json!(0), expect(&[])));
        // With other filters, and in keyset mode.
        assert_eq!(
            listed("tag=web,dns&status=OPEN&source_ip=203.0.113.2").await,
            (json!(1), expect(&[1]))
        );
        assert_eq!(
            listed("tag=dns&status=RESOLVED").await,
            (json!(0), expect(&[]))
        );
        assert_eq!(
            listed("tag=sqli&cursor=").await,
            (Value::Null, expect(&[0]))
        );
        // The export takes the same filters.
        let r = request
            .get("/api/alerts/export?format=ndjson&tag=dns,sqli")
            .authorization_bearer(&admin)
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        assert_eq!(r.text().lines().count(), 2, "{}", r.text());
        // Analysts may filter by tag too; no token may not.
        let analyst = token_for(&request, &ctx, "ana", Role::Analyst).await;
        let r = request
            .get("/api/alerts?tag=web")
            .authorization_bearer(&analyst)
            .await;
        assert_eq!(r.json::<Value>()["count"], 1);
        let r = request.get("/api/alerts?tag=web").await;
        assert_error(&r, 401, "unauthorized");
    })
    .await;
}
