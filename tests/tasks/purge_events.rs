use chrono::{Duration, Utc};
use loco_rs::{boot::run_task, task};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use vigil::{
    app::App,
    models::{
        _entities::{alerts, events},
        users::Role,
    },
};

use crate::requests::prepare_data::token_for;

fn vars(days: Option<&str>) -> task::Vars {
    task::Vars::from_cli_args(
        days.map(|d| vec![("days".to_string(), d.to_string())])
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn purge_deletes_old_events_but_keeps_alerts_and_their_first_event() {
    let app = crate::support::boot().await;
    let (request, ctx) = (app.server(), app.ctx());
    let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
    let post = |sev: &str| {
        request
            .post("/api/events")
            .authorization_bearer(&token)
            .json(&json!({"source": "s", "event_type": "t", "severity": sev, "source_ip": "192.0.2.1"}))
    };
    let opening: Value = post("HIGH").await.json();
    post("HIGH").await;
    post("LOW").await;
    // Everything so far is 100 days old; one fresh event follows.
    events::Entity::update_many()
        .col_expr(
            events::Column::CreatedAt,
            Expr::value((Utc::now() - Duration::days(100)).fixed_offset()),
        )
        .exec(&ctx.db)
        .await
        .unwrap();
    post("LOW").await;

    let name = "purge_events".to_string();
    run_task::<App>(&ctx, Some(&name), &vars(Some("200")))
        .await
        .unwrap();
    assert_eq!(
        events::Entity::find().count(&ctx.db).await.unwrap(),
        4,
        "nothing is 200 days old"
    );

    run_task::<App>(&ctx, Some(&name), &vars(None))
        .await
        .unwrap();
    let left = events::Entity::find().all(&ctx.db).await.unwrap();
    assert_eq!(left.len(), 2, "the opening event and the fresh one remain");
    assert!(left
        .iter()
        .any(|e| e.pid.to_string() == opening["id"].as_str().unwrap()));
    let alert = alerts::Entity::find().one(&ctx.db).await.unwrap().unwrap();
    assert_eq!(alert.occurrences, 2, "alerts are kept as they were");
    assert_eq!(
        events::Entity::find()
            .filter(events::Column::SeverityRank.eq(1))
            .count(&ctx.db)
            .await
            .unwrap(),
        1
    );

    let err = run_task::<App>(&ctx, Some(&name), &vars(Some("soon")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("days"), "{err}");
}

#[tokio::test]
async fn purge_deletes_day_old_idempotency_answers_and_ended_throttle_windows() {
    use vigil::models::_entities::{idempotency_keys, login_throttles};
    let app = crate::support::boot().await;
    let (request, ctx) = (app.server(), app.ctx());
    let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
    for key in ["old", "new"] {
        let r = request
            .post("/api/events")
            .authorization_bearer(&token)
            .add_header("idempotency-key", key)
            .json(&json!({"source": "s", "event_type": key, "severity": "LOW"}))
            .await;
        assert_eq!(r.status_code(), 201);
    }
    for name in ["ghost-1", "ghost-2"] {
        request
            .post("/api/auth/login")
            .json(&json!({"username": name, "password": "wrong-password"}))
            .await;
    }
    idempotency_keys::Entity::update_many()
        .col_expr(
            idempotency_keys::Column::CreatedAt,
            Expr::value((Utc::now() - Duration::hours(25)).fixed_offset()),
        )
        .filter(idempotency_keys::Column::Key.eq("old"))
        .exec(&ctx.db)
        .await
        .unwrap();
    // ghost-1's windows ended long ago; ghost-2's and the client's run on.
    login_throttles::Entity::update_many()
        .col_expr(
            login_throttles::Column::WindowStartedAt,
            Expr::value((Utc::now() - Duration::hours(2)).fixed_offset()),
        )
        .filter(login_throttles::Column::Key.contains("ghost-1"))
        .exec(&ctx.db)
        .await
        .unwrap();
    let throttles_before = login_throttles::Entity::find()
        .count(&ctx.db)
        .await
        .unwrap();

    let name = "purge_events".to_string();
    run_task::<App>(&ctx, Some(&name), &vars(None))
        .await
        .unwrap();
    let keys: Vec<String> = idempotency_keys::Entity::find()
        .all(&ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.key)
        .collect();
    assert_eq!(keys, ["new"]);
    let left = login_throttles::Entity::find().all(&ctx.db).await.unwrap();
    assert_eq!(
        left.len() as u64,
        throttles_before - 2,
        "ghost-1's pair and account"
    );
    assert!(left.iter().all(|t| !t.key.contains("ghost-1")));
    assert!(left.iter().any(|t| t.key.contains("ghost-2")));
}
