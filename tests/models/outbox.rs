//! The polling dispatcher and envelopes claimed by another process's
//! dispatcher: left alone while that process may still publish them, taken
//! over once they are stale (their publisher died before marking them).
use std::time::Duration;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::json;
use vigil::{
    models::_entities::outbox_envelopes,
    workers::dispatcher::{Feed, CLAIM_GRACE},
};

async fn envelope(
    db: &sea_orm::DatabaseConnection,
    claimed_by: Option<uuid::Uuid>,
    age: chrono::Duration,
) -> i64 {
    let at = Utc::now() - age;
    let id = uuid::Uuid::now_v7();
    outbox_envelopes::ActiveModel {
        envelope_id: ActiveValue::set(id),
        event_type: ActiveValue::set("alert.created".into()),
        alert_pid: ActiveValue::set(uuid::Uuid::now_v7()),
        severity_rank: ActiveValue::set(3),
        envelope: ActiveValue::set(json!({"id": id.to_string(), "type": "alert.created"})),
        claimed_by: ActiveValue::set(claimed_by),
        created_at: ActiveValue::set(at.into()),
        updated_at: ActiveValue::set(at.into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("envelope")
    .id
}

#[tokio::test]
async fn claimed_envelopes_are_taken_over_only_once_stale() {
    let app = crate::support::boot().await;
    let db = app.app_context.db.clone();
    // The app's own dispatcher polls this database.
    let feed = Feed::get(&app.app_context).expect("feed");
    let mut live = feed.subscribe();
    let other = Some(uuid::Uuid::now_v7());
    let grace = chrono::Duration::from_std(CLAIM_GRACE).unwrap();

    let fresh = envelope(&db, other, chrono::Duration::zero()).await;
    let unclaimed = envelope(&db, None, chrono::Duration::zero()).await;
    let stale = envelope(&db, other, grace + chrono::Duration::seconds(5)).await;
    feed.poke();

    // The unclaimed and the stale one are published and marked; the one
    // another live dispatcher holds is not.
    let mut published = Vec::new();
    while published.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(5), live.recv()).await {
            Ok(Ok(d)) => published.push(d.id),
            other => panic!("published {published:?}, then {other:?}"),
        }
    }
    published.sort_unstable();
    assert_eq!(published, [unclaimed, stale]);
    // Two more polls later the claimed one is still left to its owner.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(live.try_recv().is_err(), "nothing else published");
    // The marks are committed after publishing: allow them a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let marked = outbox_envelopes::Entity::find()
            .filter(outbox_envelopes::Column::Id.is_in([unclaimed, stale]))
            .filter(outbox_envelopes::Column::DeliveredAt.is_not_null())
            .count(&db)
            .await
            .unwrap();
        if marked == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (id, delivered) in [(fresh, false), (unclaimed, true), (stale, true)] {
        let row = outbox_envelopes::Entity::find_by_id(id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.delivered_at.is_some(), delivered, "envelope {id}");
    }
}

/// A dispatcher's transaction reads the outbox, then marks what it read.
/// Another connection (a CLI task, say, which does not queue for this
/// process's write lock) committing in between must not break the marking:
/// on SQLite a deferred transaction would fail there at once
/// (`SQLITE_BUSY_SNAPSHOT`), after the envelopes had been published, and
/// the next pass would publish them again.
#[tokio::test]
async fn a_write_transaction_that_reads_first_outlasts_another_writer() {
    let app = crate::support::boot().await;
    let db = app.app_context.db.clone();
    // Both claimed by a live dispatcher elsewhere, so the app's own leaves
    // them alone.
    let first = envelope(&db, Some(uuid::Uuid::now_v7()), chrono::Duration::zero()).await;

    let (writer, txn) = vigil::db::write::begin_write(&db).await.expect("begin");
    let read = outbox_envelopes::Entity::find_by_id(first)
        .one(&txn)
        .await
        .unwrap()
        .expect("the envelope");
    let other = tokio::spawn({
        let db = db.clone();
        async move { envelope(&db, Some(uuid::Uuid::now_v7()), chrono::Duration::zero()).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    outbox_envelopes::Model::mark_delivered(&txn, &[read.id])
        .await
        .expect("marked after another connection's write");
    txn.commit().await.expect("commit");
    drop(writer);

    let second = other.await.expect("the other writer");
    let row = |id| {
        let db = db.clone();
        async move {
            outbox_envelopes::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .expect("stored")
        }
    };
    assert!(row(first).await.delivered_at.is_some());
    assert!(row(second).await.delivered_at.is_none());
}
