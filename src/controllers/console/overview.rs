//! `GET /console`: the overview.
use loco_rs::prelude::*;

use super::{
    lists::{link, open_statuses},
    page,
    session::Console,
    Page,
};
use crate::{
    ingestion::log_stream::{self},
    models::stats::{Overview, Span},
    views::console::pages::{chart_series, duration_in_words, Figure, OverviewBody, OverviewPage},
};

#[derive(serde::Deserialize)]
pub struct OverviewQuery {
    span: Option<String>,
    fragment: Option<String>,
}

/// `GET /console`: open alerts by severity and status, MTTA and MTTR,
/// alerts opened per hour, the top sources, addresses and rules. Figures
/// are at most a second old, or a few with a large history
/// (`Overview::recent`); the page reloads its body when
/// the live feed reports a change.
pub async fn overview(
    console: Console,
    State(ctx): State<AppContext>,
    Query(q): Query<OverviewQuery>,
) -> Page {
    let span = if q.span.as_deref() == Some("7d") {
        Span::Week
    } else {
        Span::Day
    };
    let rule_names: Vec<String> = log_stream::rules(&ctx)?
        .rules
        .iter()
        .map(|r| r.name.clone())
        .collect();
    let o = Overview::recent(&ctx.db, &ctx.cache, span, &rule_names).await?;
    let open = open_statuses();
    let top = |rows: &[(String, i64)], name: &str| -> Vec<Figure> {
        rows.iter()
            .map(|(label, n)| Figure {
                label: label.clone(),
                n: *n,
                class: String::new(),
                link: link("/console/alerts", &[("status", &open), (name, label)]),
            })
            .collect()
    };
    let body = OverviewBody {
        span: span.as_str(),
        computed_at: o.computed_at.to_rfc3339(),
        recheck_ms: o.recheck_ms(chrono::Utc::now()),
        took_ms: o.took_ms,
        open_total: o.open_by_severity.iter().map(|(_, n)| n).sum(),
        open_by_severity: o
            .open_by_severity
            .iter()
            .map(|(s, n)| Figure {
                label: format!("{s} open"),
                n: *n,
                class: s.as_str().to_lowercase(),
                link: link(
                    "/console/alerts",
                    &[("status", &open), ("severity", s.as_str())],
                ),
            })
            .collect(),
        by_status: o
            .by_status
            .iter()
            .map(|(s, n)| Figure {
                label: s.as_str().to_string(),
                n: *n,
                class: s.as_str().to_lowercase(),
                link: link("/console/alerts", &[("status", s.as_str())]),
            })
            .collect(),
        mtta: duration_in_words(o.mean_seconds_to_acknowledge),
        mttr: duration_in_words(o.mean_seconds_to_resolve),
        chart: chart_series(&o.opened_per_hour),
        opened_total: o.opened_per_hour.iter().map(|(_, n)| n).sum(),
        top_sources: top(&o.top_sources, "source"),
        top_source_ips: top(&o.top_source_ips, "source_ip"),
        top_rules: top(&o.top_rules, "event_type"),
    };
    let data = OverviewPage {
        layout: console.layout("Overview", "overview"),
        body,
    };
    if q.fragment.is_some() {
        page("overview_body.html", &data)
    } else {
        page("overview.html", &data)
    }
}
