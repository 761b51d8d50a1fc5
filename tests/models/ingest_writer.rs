//! The group-commit writer: several writers (as several instances would
//! run) on one database still keep one open alert per fingerprint.
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use vigil::{
    ingestion::writer::IngestWriter,
    models::{
        _entities::{alerts, events, outbox_envelopes},
        new_event::NewEvent,
        severity::Severity,
    },
    views::events::IngestAnswer,
};

fn event(source_ip: &str, severity: Severity) -> NewEvent {
    NewEvent::new("ids", "brute_force", severity, Utc::now())
        .with_source_ip(source_ip.parse().expect("an address"))
        .checked()
        .expect("valid event")
}

#[tokio::test]
async fn writers_sharing_a_database_keep_one_open_alert_per_fingerprint() {
    let app = crate::support::boot().await;
    let db = app.app_context.db.clone();
    let writers: Vec<IngestWriter> = (0..4)
        .map(|_| IngestWriter::start(db.clone(), Severity::High, None))
        .collect();
    // 4 writers × 25 requests at once, each request 10 events over two
    // fingerprints (one event of each request is CRITICAL).
    let requests = writers.iter().flat_map(|w| {
        let db = db.clone();
        (0..25).map(move |r| {
            let db = db.clone();
            async move {
                let items: Vec<NewEvent> = (0..10)
                    .map(|i| {
                        let sev = if i == 0 && r % 5 == 0 {
                            Severity::Critical
                        } else {
                            Severity::High
                        };
                        event(if i % 2 == 0 { "192.0.2.1" } else { "192.0.2.2" }, sev)
                    })
                    .collect();
                let answer = IngestAnswer::Batch {
                    stored_at: (0..items.len()).collect(),
                    refused: Vec::new(),
                };
                w.submit_request(&db, items, "test", None, answer).await
            }
        })
    });
    let answers = futures_util::future::join_all(requests).await;
    assert_eq!(answers.len(), 100);
    for a in answers {
        let answer = a.expect("stored");
        assert_eq!(answer.status, 201);
        let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["stored"], 10, "{body}");
    }

    let all = alerts::Entity::find().all(&db).await.unwrap();
    assert_eq!(all.len(), 2, "one alert per fingerprint: {all:?}");
    for alert in &all {
        assert_eq!(alert.occurrences, 500);
        assert_eq!(alert.status, "OPEN");
        let linked = events::Entity::find()
            .filter(events::Column::AlertId.eq(alert.id))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(linked, 500, "every event points at its alert");
    }
    let critical = all
        .iter()
        .find(|a| a.source_ip.as_deref() == Some("192.0.2.1"))
        .unwrap();
    assert_eq!(critical.severity, "CRITICAL");
    assert_eq!(events::Entity::find().count(&db).await.unwrap(), 1000);
    let created = outbox_envelopes::Entity::find()
        .filter(outbox_envelopes::Column::EventType.eq("alert.created"))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(created, 2, "one alert.created per alert");
}

#[tokio::test]
async fn one_round_of_4000_new_alerts_fits_the_database_limits() {
    // 4,000 rows of history or envelopes in one INSERT would exceed
    // SQLite's bound-value limit: they go in chunks.
    let app = crate::support::boot().await;
    let db = app.app_context.db.clone();
    let items: Vec<NewEvent> = (0..4000)
        .map(|i| event(&format!("10.0.{}.{}", i / 256, i % 256), Severity::High))
        .collect();
    let txn = sea_orm::TransactionTrait::begin(&db).await.unwrap();
    let claimant = uuid::Uuid::new_v4();
    let (stored, claimed) = vigil::models::events::Model::ingest(
        &txn,
        &[vigil::models::events::IngestRequest {
            events: &items,
            correlation_id: "cid",
        }],
        Severity::High,
        &vigil::ingestion::gate::Snapshot::default(),
        Some(claimant),
    )
    .await
    .expect("one round");
    txn.commit().await.unwrap();
    assert_eq!(stored[0].len(), 4000);
    assert_eq!(alerts::Entity::find().count(&db).await.unwrap(), 4000);
    assert_eq!(
        outbox_envelopes::Entity::find().count(&db).await.unwrap(),
        4000
    );
    assert_eq!(
        vigil::models::_entities::alert_histories::Entity::find()
            .count(&db)
            .await
            .unwrap(),
        4000
    );
    // Claimed for the dispatcher: every envelope comes back, in row order,
    // with the row's id and its text, ready to publish.
    assert_eq!(claimed.len(), 4000);
    let rows = outbox_envelopes::Entity::find()
        .order_by_asc(outbox_envelopes::Column::Id)
        .all(&db)
        .await
        .unwrap();
    for (c, row) in claimed.iter().zip(&rows) {
        assert_eq!(c.delivered.id, row.id);
        assert_eq!(c.delivered.envelope_id, row.envelope_id);
        assert_eq!(row.claimed_by, Some(claimant));
        let text: serde_json::Value = serde_json::from_str(c.delivered.text.as_str()).unwrap();
        assert_eq!(text, row.envelope);
    }
}
