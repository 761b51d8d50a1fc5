//! The event list and an event's page.
use loco_rs::prelude::*;

use super::{
    lists::{choices, joined, kept, slice},
    page,
    session::Console,
    Page,
};
use crate::{
    controllers::extract::QueryPairs,
    models::{alerts, events, severity::Severity},
    views::{
        console::pages::{pretty_json, EventPage, EventsPage, FilterForm},
        events::{EventFilters, EventResponse},
    },
};

/// `GET /console/events`: the filters of `GET /api/events`, 25 a page.
pub async fn events(
    console: Console,
    State(ctx): State<AppContext>,
    QueryPairs(pairs): QueryPairs,
) -> Page {
    let pairs = kept(pairs, &["page", "page_size"]);
    let list = slice::<EventFilters, events::Entity>(&ctx.db, "/console/events", pairs).await?;
    let status = list.status();
    let filters = &list.filters;
    let data = EventsPage {
        layout: console.layout("Events", "events"),
        filters: FilterForm {
            severity: joined(&filters.severity),
            source: joined(&filters.source),
            event_type: joined(&filters.event_type),
            source_ip: joined(&filters.source_ip),
            search: joined(&filters.search),
            since: joined(&filters.since),
            until: joined(&filters.until),
            ..FilterForm::default()
        },
        severities: choices(
            Severity::ALL.iter().rev().map(|s| s.as_str()),
            &joined(&filters.severity),
        ),
        error: list.error.clone(),
        events: list.rows.iter().map(EventResponse::from).collect(),
        next: list.next.clone(),
    };
    let mut response = page("events.html", &data)?;
    *response.status_mut() = status;
    Ok(response)
}

/// `GET /console/events/{id}`: every field, the metadata pretty-printed.
pub async fn event(
    console: Console,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> Page {
    let event = events::Model::find_by_pid(&ctx.db, &id).await?;
    let alert = match event.alert_id {
        Some(alert_id) => alerts::Entity::find_by_id(alert_id)
            .one(&ctx.db)
            .await?
            .map(|a| a.pid.to_string()),
        None => None,
    };
    let data = EventPage {
        layout: console.layout("Event", "events"),
        metadata: pretty_json(event.metadata.as_ref()),
        event: EventResponse::from(&event),
        alert,
    };
    page("event.html", &data)
}
