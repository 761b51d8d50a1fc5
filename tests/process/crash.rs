//! SIGKILL during ingestion: everything acknowledged is stored, and every
//! envelope committed before the crash reaches a feed client, across the
//! restart, through `?after=`.
use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use vigil::models::_entities::{events, outbox_envelopes};

use super::{batch, configured_db, connect, create_admin, free_port, Server};
use crate::support::TestDb;

#[tokio::test]
async fn a_sigkilled_server_loses_nothing_and_delivers_every_envelope_after_restart() {
    let (_db, url) = TestDb::create(&configured_db().await).await;
    let port = free_port();
    let mut server = Server::start(&url, port, None).await;
    let db = connect(&url).await;
    create_admin(&db, "root").await;
    let token = server.token("root").await;
    let mut before = server.follow(&token, None).await;

    // Four clients ingest batches of 25 new alerts until the server dies.
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut loaders = Vec::new();
    for client in 0..4 {
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        let (token, port) = (token.clone(), server.port);
        loaders.push(tokio::spawn(async move {
            let probe = super::Client { port };
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let body = batch(client * 1_000_000 + i * 25, 25);
                match probe
                    .call("POST", "/api/events/batch", Some(&token), Some(&body))
                    .await
                {
                    Ok((201, _)) => {
                        acknowledged.fetch_add(25, Ordering::SeqCst);
                        i += 1;
                    }
                    Ok((status, body)) => panic!("unexpected {status}: {body}"),
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    // Kill once the feed has shown some envelopes and ingestion is running.
    let mut seen: Vec<String> = Vec::new();
    let started = Instant::now();
    while acknowledged.load(Ordering::SeqCst) < 1_000 || seen.len() < 100 {
        if let Ok(Some(env)) = tokio::time::timeout(Duration::from_millis(50), before.recv()).await
        {
            seen.push(env["id"].as_str().unwrap().to_string());
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no load reached the server"
        );
    }
    server.kill();
    stop.store(true, Ordering::SeqCst);
    for loader in loaders {
        loader.await.unwrap();
    }
    while let Some(env) = before.recv().await {
        seen.push(env["id"].as_str().unwrap().to_string());
    }
    let acknowledged = acknowledged.load(Ordering::SeqCst);

    // Nothing acknowledged was lost; every committed event has its envelope.
    let stored = events::Entity::find().count(&db).await.unwrap();
    assert!(
        stored as usize >= acknowledged,
        "{stored} events stored, {acknowledged} acknowledged"
    );
    let committed: HashSet<String> = outbox_envelopes::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.envelope_id.to_string())
        .collect();
    assert_eq!(
        committed.len() as u64,
        stored,
        "one alert.created per event"
    );
    let undelivered = outbox_envelopes::Entity::find()
        .filter(outbox_envelopes::Column::DeliveredAt.is_null())
        .count(&db)
        .await
        .unwrap();
    eprintln!(
        "crash test: {acknowledged} events acknowledged, {stored} stored, {} envelopes, \
{undelivered} undelivered at the kill, {} seen before it",
        committed.len(),
        seen.len()
    );

    // Restart on the same database; the client reconnects after the last
    // envelope it saw and receives everything it missed.
    let server = Server::start(&url, port, None).await;
    let token = server.token("root").await;
    let last = seen.last().cloned().expect("envelopes before the kill");
    let mut after = server.follow(&token, Some(&last)).await;
    let mut have: HashSet<String> = seen.into_iter().collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while have.len() < committed.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, after.recv()).await {
            Ok(Some(env)) => {
                have.insert(env["id"].as_str().unwrap().to_string());
            }
            _ => break,
        }
    }
    let missing: Vec<&String> = committed.difference(&have).take(5).collect();
    if !missing.is_empty() {
        let rows = outbox_envelopes::Entity::find().all(&db).await.unwrap();
        let anchor = rows
            .iter()
            .find(|r| r.envelope_id.to_string() == last)
            .unwrap()
            .id;
        let mut ids: Vec<(i64, bool)> = rows
            .iter()
            .filter(|r| !have.contains(&r.envelope_id.to_string()))
            .map(|r| (r.id, r.delivered_at.is_some()))
            .collect();
        ids.sort_unstable();
        eprintln!(
            "anchor row {anchor}; missing rows {:?}",
            &ids[..ids.len().min(20)]
        );
    }
    assert!(
        missing.is_empty(),
        "{} of {} envelopes never reached the client, e.g. {missing:?}",
        committed.difference(&have).count(),
        committed.len()
    );
    // And the dispatcher marked every one delivered after the restart.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pending = outbox_envelopes::Entity::find()
            .filter(outbox_envelopes::Column::DeliveredAt.is_null())
            .count(&db)
            .await
            .unwrap();
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} envelopes still undelivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    db.close().await.ok();
}
