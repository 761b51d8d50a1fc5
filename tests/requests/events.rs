use sea_orm::{EntityTrait, PaginatorTrait, QueryOrder};
use serde_json::{json, Value};
use vigil::models::{
    _entities::{alerts, events, outbox_envelopes},
    users::Role,
};

use super::prepare_data::{assert_error, token_for};

fn high(source_ip: &str) -> Value {
    json!({
        "source": "fw-edge-01",
        "event_type": "port_scan",
        "severity": "high",
        "description": "SYN scan of 1,024 ports <script>alert(1)</script>",
        "source_ip": source_ip,
        "destination_ip": "10.0.0.5",
        "occurred_at": "2026-11-20T10:00:00Z",
        "metadata": {"rule": "ET SCAN"}
    })
}

#[tokio::test]
async fn a_high_event_creates_an_alert_and_is_returned_as_sent() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let r = request
            .post("/api/events")
            .authorization_bearer(&token)
            .json(&high("203.0.113.7"))
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let body: Value = r.json();
        assert_eq!(body["severity"], "HIGH");
        assert_eq!(
            body["description"],
            "SYN scan of 1,024 ports <script>alert(1)</script>"
        );
        assert_eq!(body["occurred_at"], "2026-11-20T10:00:00Z");
        assert_eq!(body["metadata"]["rule"], "ET SCAN");
        let alert = &body["alert"];
        assert_eq!(alert["status"], "OPEN");
        assert_eq!(alert["occurrences"], 1);
        assert_eq!(alert["event"], body["id"]);
        assert_eq!(alert["source_ip"], "203.0.113.7");

        assert_eq!(events::Entity::find().count(&ctx.db).await.unwrap(), 1);
        assert_eq!(alerts::Entity::find().count(&ctx.db).await.unwrap(), 1);
        let envelopes = outbox_envelopes::Entity::find().all(&ctx.db).await.unwrap();
        assert_eq!(envelopes.len(), 1);
        assert_eq!(envelopes[0].envelope["type"], "alert.created");
        assert_eq!(envelopes[0].envelope["source"], "vigil");
        assert_eq!(envelopes[0].envelope["payload"]["id"], alert["id"]);
        assert_eq!(envelopes[0].envelope["meta"]["version"], 1);

        let r = request
            .get(&format!("/api/events/{}", body["id"].as_str().unwrap()))
            .authorization_bearer(&token)
            .await;
        assert_eq!(r.status_code(), 200);
        assert_eq!(r.json::<Value>()["source"], "fw-edge-01");
    })
    .await;
}

#[tokio::test]
async fn the_stored_event_reads_back_exactly_as_the_201_showed_it() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let mut sent = high("2001:db8::7");
        // Nanoseconds: both databases keep microseconds.
        sent["occurred_at"] = json!("2026-11-20T10:00:00.123456789+02:00");
        // Values the JSON-bound inserts must carry through unchanged:
        // escapes, control characters, astral code points, a u64 beyond
        // i64, tiny and huge floats.
        sent["metadata"] = json!({
            "rule": "ET SCAN", "hits": [1, 2.5, null], "nested": {"a": true},
            "text": "é \"quoted\" back\\slash\nline \u{1} 😀",
            "big": 18_446_744_073_709_551_615_u64, "tiny": -0.0001, "huge": 1e300
        });
        let r = request
            .post("/api/events")
            .authorization_bearer(&token)
            .json(&sent)
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let mut created: Value = r.json();
        assert_eq!(created["occurred_at"], "2026-11-20T08:00:00.123456Z");
        assert_eq!(created["metadata"], sent["metadata"]);
        let alert = created.as_object_mut().unwrap().remove("alert").unwrap();
        assert_eq!(alert["first_seen"], "2026-11-20T08:00:00.123456Z");
        let r = request
            .get(&format!("/api/alerts/{}", alert["id"].as_str().unwrap()))
            .authorization_bearer(&token)
            .await;
        assert_eq!(r.status_code(), 200);
        let read: Value = r.json();
        for field in [
            "id",
            "title",
            "severity",
            "status",
            "occurrences",
            "first_seen",
            "last_seen",
            "created_at",
            "updated_at",
        ] {
            assert!(!alert[field].is_null(), "alert {field} shown");
            assert_eq!(read[field], alert[field], "alert {field}");
        }

        let batch = request
            .post("/api/events/batch")
            .authorization_bearer(&token)
            .json(&json!({"events": [high("203.0.113.9")]}))
            .await;
        assert_eq!(batch.status_code(), 201, "{}", batch.text());
        let mut batched = batch.json::<Value>()["results"][0]["event"].clone();
        batched.as_object_mut().unwrap().remove("alert");

        for shown in [created, batched] {
            let id = shown["id"].as_str().unwrap().to_string();
            let r = request
                .get(&format!("/api/events/{id}"))
                .authorization_bearer(&token)
                .await;
            assert_eq!(r.status_code(), 200);
            assert_eq!(r.json::<Value>(), shown, "GET /api/events/{id}");
        }
    })
    .await;
}

#[tokio::test]
async fn matching_events_join_one_alert_and_raise_its_severity() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let mut first = high("203.0.113.7");
        first["occurred_at"] = json!("2026-11-20T10:00:00Z");
        let r = request
            .post("/api/events")
            .authorization_bearer(&token)
            .json(&first)
            .await;
        let alert_id = r.json::<Value>()["alert"]["id"].clone();

        let mut second = high("203.0.113.7");
        second["severity"] = json!("CRITICAL");
        second["occurred_at"] = json!("2026-11-20T11:00:00Z");
        let r = request
            .post("/api/events")
            .authorization_bearer(&token)
            .json(&second)
            .await;
        let alert = r.json::<Value>()["alert"].clone();
        assert_eq!(alert["id"], alert_id);
        assert_eq!(alert["occurrences"], 2);
        assert_eq!(alert["severity"], "CRITICAL");
        assert_eq!(alert["last_seen"], "2026-11-20T11:00:00Z");
        assert_eq!(alert["first_seen"], "2026-11-20T10:00:00Z");

        // A lower severity later does not lower it; an older event does not move last_seen back.
        let mut third = high("203.0.113.7");
        third["occurred_at"] = json!("2026-11-20T09:00:00Z");
        let r = request
            .post("/api/events")
            .authorization_bearer(&token)
            .json(&third)
            .await;
        let alert = r.json::<Value>()["alert"].clone();
        assert_eq!(alert["occurrences"], 3);
        assert_eq!(alert["severity"], "CRITICAL");
        assert_eq!(alert["last_seen"], "2026-11-20T11:00:00Z");

        // Another source IP is another attack.
        let r = request
            .post("/api/events")
            .authorization_bearer(&token)
            .json(&high("198.51.100.1"))
            .await;
        assert_ne!(r.json::<Value>()["alert"]["id"], alert_id);
        assert_eq!(alerts::Entity::find().count(&ctx.db).await.unwrap(), 2);
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
                "alert.updated",
                "alert.updated",
                "alert.created"
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn events_below_the_threshold_never_create_alerts() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        for sev in ["LOW", "medium"] {
            let mut e = high("203.0.113.7");
            e["severity"] = json!(sev);
            let r = request
                .post("/api/events")
                .authorization_bearer(&token)
                .json(&e)
                .await;
            assert_eq!(r.status_code(), 201);
            assert!(r.json::<Value>()["alert"].is_null());
        }
        assert_eq!(alerts::Entity::find().count(&ctx.db).await.unwrap(), 0);
        assert_eq!(
            outbox_envelopes::Entity::find()
                .count(&ctx.db)
                .await
                .unwrap(),
            0
        );
    })
    .await;
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let r = request
            .post("/api/events")
            .authorization_bearer(&token)
            .json(&json!({
                "source": "",
                "severity": "urgent",
                "source_ip": "300.1.1.1",
                "destination_ip": "not-an-ip",
                "occurred_at": "2999-01-01T00:00:00Z",
                "metadata": "a string",
                "description": "x".repeat(10_001),
                "dedup_key": "k".repeat(256)
            }))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        for f in [
            "source",
            "event_type",
            "severity",
            "source_ip",
            "destination_ip",
            "occurred_at",
            "metadata",
            "description",
            "dedup_key",
        ] {
            assert!(body["fields"][f].is_array(), "{f} missing in {body}");
        }
        let big = json!({"source": "s", "event_type": "t", "severity": "LOW",
            "metadata": {"blob": "x".repeat(70 * 1024)}});
        let r = request
            .post("/api/events")
            .authorization_bearer(&token)
            .json(&big)
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["metadata"].is_array());
        assert_eq!(events::Entity::find().count(&ctx.db).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn ingestion_requires_a_user() {
    crate::support::request(|request, ctx| async move {
        let r = request.post("/api/events").json(&high("203.0.113.7")).await;
        assert_error(&r, 401, "unauthorized");
        let r = request.get("/api/events").await;
        assert_error(&r, 401, "unauthorized");
        // Admins may ingest too.
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let r = request
            .post("/api/events/")
            .authorization_bearer(&admin)
            .json(&high("203.0.113.7"))
            .await;
        assert_eq!(r.status_code(), 201);
    })
    .await;
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let send = |body: Value| {
            request
                .post("/api/events")
                .authorization_bearer(&token)
                .add_header("idempotency-key", "retry-1")
                .json(&body)
        };
        let first = send(high("203.0.113.7")).await;
        assert_eq!(first.status_code(), 201);
        let second = send(high("203.0.113.7")).await;
        assert_eq!(second.status_code(), 201);
        assert_eq!(first.text(), second.text(), "same answer, byte for byte");
        assert_eq!(events::Entity::find().count(&ctx.db).await.unwrap(), 1);
        assert_eq!(
            alerts::Entity::find()
                .one(&ctx.db)
                .await
                .unwrap()
                .unwrap()
                .occurrences,
            1
        );

        let other = send(high("198.51.100.1")).await;
        assert_error(&other, 422, "idempotency_key_reused");
        assert_eq!(events::Entity::find().count(&ctx.db).await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn an_idempotent_batch_retry_replays_its_answer_and_another_body_is_refused() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let send = |events: Vec<Value>| {
            request
                .post("/api/events/batch")
                .authorization_bearer(&token)
                .add_header("idempotency-key", "batch-1")
                .json(&json!({ "events": events }))
        };
        let batch = vec![
            high("203.0.113.7"),
            json!({"source": "x"}),
            high("198.51.100.9"),
        ];
        let first = send(batch.clone()).await;
        assert_eq!(first.status_code(), 207, "{}", first.text());
        let second = send(batch).await;
        assert_eq!(second.status_code(), 207);
        assert_eq!(first.text(), second.text(), "same answer, byte for byte");
        assert_eq!(events::Entity::find().count(&ctx.db).await.unwrap(), 2);

        let other = send(vec![high("203.0.113.7")]).await;
        assert_error(&other, 422, "idempotency_key_reused");
        assert_eq!(events::Entity::find().count(&ctx.db).await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn batch_stores_valid_items_and_reports_the_others() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let r = request
            .post("/api/events/batch")
            .authorization_bearer(&token)
            .json(&json!({"events": [
                high("203.0.113.7"),
                {"source": "x", "severity": "nope"},
                high("203.0.113.7"),
                {"source": "ids", "event_type": "login", "severity": "LOW"}
            ]}))
            .await;
        assert_eq!(r.status_code(), 207, "{}", r.text());
        let body: Value = r.json();
        assert_eq!(body["stored"], 3);
        assert_eq!(body["failed"], 1);
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), 4);
        assert_eq!(results[1]["index"], 1);
        assert_eq!(results[1]["status"], 400);
        assert!(results[1]["errors"]["severity"].is_array());
        assert!(results[1]["errors"]["event_type"].is_array());
        assert_eq!(results[2]["event"]["alert"]["occurrences"], 2);
        assert_eq!(events::Entity::find().count(&ctx.db).await.unwrap(), 3);

        let too_many: Vec<Value> = (0..1001).map(|_| high("203.0.113.7")).collect();
        let r = request
            .post("/api/events/batch")
            .authorization_bearer(&token)
            .json(&json!({ "events": too_many }))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["events"].is_array());
        let r = request
            .post("/api/events/batch")
            .authorization_bearer(&token)
            .json(&json!([1]))
            .await;
        assert_error(&r, 400, "validation_failed");
    })
    .await;
}

#[tokio::test]
async fn a_batch_joins_each_fingerprint_once_with_one_envelope_per_alert() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let post = |events: Vec<Value>| {
            request
                .post("/api/events/batch")
                .authorization_bearer(&token)
                .json(&json!({ "events": events }))
        };
        let mut critical = high("203.0.113.7");
        critical["severity"] = json!("CRITICAL");
        critical["occurred_at"] = json!("2026-11-20T11:00:00Z");
        let r = post(vec![
            high("203.0.113.7"),
            high("198.51.100.1"),
            critical,
            high("203.0.113.7"),
        ])
        .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let body: Value = r.json();
        let alert = &body["results"][3]["event"]["alert"];
        assert_eq!(alert["occurrences"], 3);
        assert_eq!(alert["severity"], "CRITICAL");
        assert_eq!(alert["first_seen"], "2026-11-20T10:00:00Z");
        assert_eq!(alert["last_seen"], "2026-11-20T11:00:00Z");
        assert_eq!(body["results"][0]["event"]["alert"]["id"], alert["id"]);
        assert_eq!(
            alert["event"], body["results"][0]["event"]["id"],
            "the first event of the fingerprint opened the alert"
        );
        assert_eq!(body["results"][1]["event"]["alert"]["occurrences"], 1);

        // A second batch joins the open alerts.
        let r = post(vec![high("203.0.113.7"), high("203.0.113.7")]).await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        assert_eq!(
            r.json::<Value>()["results"][1]["event"]["alert"]["occurrences"],
            5
        );

        let envelopes = outbox_envelopes::Entity::find()
            .order_by_asc(outbox_envelopes::Column::Id)
            .all(&ctx.db)
            .await
            .unwrap();
        let seen: Vec<(String, Value)> = envelopes
            .iter()
            .map(|o| {
                (
                    o.event_type.clone(),
                    o.envelope["payload"]["occurrences"].clone(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("alert.created".to_string(), json!(3)),
                ("alert.created".to_string(), json!(1)),
                ("alert.updated".to_string(), json!(5)),
            ]
        );
        assert_eq!(alerts::Entity::find().count(&ctx.db).await.unwrap(), 2);
        assert_eq!(events::Entity::find().count(&ctx.db).await.unwrap(), 6);
    })
    .await;
}

#[tokio::test]
async fn concurrent_retries_of_one_idempotent_request_store_it_once() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let request = std::rc::Rc::new(request);
        let local = tokio::task::LocalSet::new();
        let answers = local
            .run_until(async {
                let tries: Vec<_> = (0..6)
                    .map(|_| {
                        let (request, token) = (request.clone(), token.clone());
                        tokio::task::spawn_local(async move {
                            let r = request
                                .post("/api/events")
                                .authorization_bearer(&token)
                                .add_header("idempotency-key", "sensor-7-seq-42")
                                .json(&high("203.0.113.7"))
                                .await;
                            (r.status_code().as_u16(), r.text())
                        })
                    })
                    .collect();
                let mut answers = Vec::new();
                for t in tries {
                    answers.push(t.await.unwrap());
                }
                answers
            })
            .await;
        assert_eq!(answers[0].0, 201, "{}", answers[0].1);
        assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
        assert_eq!(events::Entity::find().count(&ctx.db).await.unwrap(), 1);
        assert_eq!(
            alerts::Entity::find()
                .one(&ctx.db)
                .await
                .unwrap()
                .unwrap()
                .occurrences,
            1
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_matching_events_open_exactly_one_alert() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        // 8 clients at once, 500 matching HIGH events each, through one
        // process's group-commit writer. Writers of several instances racing
        // in the database: ingestion::writer.
        let request = std::rc::Rc::new(request);
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let clients: Vec<_> = (0..8)
                    .map(|_| {
                        let request = request.clone();
                        let token = token.clone();
                        tokio::task::spawn_local(async move {
                            for _ in 0..500 {
                                let r = request
                                    .post("/api/events")
                                    .authorization_bearer(&token)
                                    .json(&high("203.0.113.7"))
                                    .await;
                                assert_eq!(r.status_code(), 201, "{}", r.text());
                            }
                        })
                    })
                    .collect();
                for c in clients {
                    c.await.unwrap();
                }
            })
            .await;
        let all = alerts::Entity::find().all(&ctx.db).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].occurrences, 4000);
        assert_eq!(events::Entity::find().count(&ctx.db).await.unwrap(), 4000);
    })
    .await;
}

#[tokio::test]
async fn lists_filter_search_order_and_reject_unknowns() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        for (sev, src, ty) in [("LOW", "web-1", "probe"), ("CRITICAL", "fw-1", "Exploit"), ("MEDIUM", "fw-2", "scan")] {
            let e = json!({"source": src, "event_type": ty, "severity": sev, "description": format!("{ty} seen")});
            request.post("/api/events").authorization_bearer(&token).json(&e).await;
        }
        let get = |q: &str| request.get(&format!("/api/events?{q}")).authorization_bearer(&token);
        let body: Value = get("severity=low,critical").await.json();
        assert_eq!(body["count"], 2);
        let body: Value = get("severity=LOW&severity=MEDIUM").await.json();
        assert_eq!(body["count"], 2);
        let body: Value = get("search=EXPLOIT").await.json();
        assert_eq!(body["count"], 1);
        assert_eq!(body["results"][0]["source"], "fw-1");
        let body: Value = get("ordering=-severity").await.json();
        let sevs: Vec<&str> = body["results"].as_array().unwrap().iter().map(|e| e["severity"].as_str().unwrap()).collect();
        assert_eq!(sevs, ["CRITICAL", "MEDIUM", "LOW"]);
        let body: Value = get("ordering=severity").await.json();
        assert_eq!(body["results"][0]["severity"], "LOW");
        let body: Value = get("source=fw-1,fw-2&page_size=1").await.json();
        assert_eq!(body["count"], 2);
        assert!(body["next"].as_str().unwrap().contains("page=2"));

        for (q, name) in [("severity=urgent", "severity"), ("ordering=title", "ordering"), ("colour=red", "colour"), ("since=yesterday", "since")] {
            let body = assert_error(&get(q).await, 400, "validation_failed");
            assert!(body["fields"][name].is_array(), "{q}: {body}");
        }
    })
    .await;
}

#[tokio::test]
async fn cursor_pages_walk_every_item_once_in_order() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let batch: Vec<Value> = (0..25)
            .map(|i| {
                let sev = ["LOW", "MEDIUM", "HIGH", "CRITICAL"][i % 4];
                json!({"source": "s", "event_type": "t", "severity": sev, "source_ip": format!("192.0.2.{i}")})
            })
            .collect();
        let r = request
            .post("/api/events/batch")
            .authorization_bearer(&token)
            .json(&json!({ "events": batch }))
            .await;
        assert_eq!(r.status_code(), 201);

        for (path, ordering) in [("/api/events", "-created_at"), ("/api/events", "-severity"), ("/api/alerts", "severity")] {
            let mut url = format!("{path}?cursor=&page_size=4&ordering={ordering}");
            let mut seen: Vec<Value> = Vec::new();
            for _ in 0..20 {
                let page: Value = request.get(&url).authorization_bearer(&token).await.json();
                assert!(page["count"].is_null());
                seen.extend(page["results"].as_array().unwrap().iter().cloned());
                match page["next"].as_str() {
                    Some(next) => url = next.trim_start_matches("http://localhost").to_string(),
                    None => break,
                }
            }
            let expected = if path == "/api/alerts" { 12 } else { 25 };
            assert_eq!(seen.len(), expected, "{path} {ordering}");
            let mut ids: Vec<&str> = seen.iter().map(|e| e["id"].as_str().unwrap()).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), expected, "no item twice");
            if ordering.ends_with("severity") {
                let rank = |s: &str| ["LOW", "MEDIUM", "HIGH", "CRITICAL"].iter().position(|x| *x == s).unwrap();
                let ranks: Vec<usize> = seen.iter().map(|e| rank(e["severity"].as_str().unwrap())).collect();
                let mut sorted = ranks.clone();
                sorted.sort_unstable();
                if ordering.starts_with('-') {
                    sorted.reverse();
                }
                assert_eq!(ranks, sorted, "{path} {ordering}");
            }
        }
        let r = request.get("/api/events?cursor=garbage").authorization_bearer(&token).await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["cursor"].is_array());
        let r = request.get("/api/events?cursor=&page=2").authorization_bearer(&token).await;
        assert_error(&r, 400, "validation_failed");
    })
    .await;
}
