//! The log upload: an access log scored as `POST /api/ingest/nginx` does.
use axum::http::StatusCode;
use loco_rs::prelude::*;

use super::{
    lists::link,
    page,
    session::{Console, Posted},
    Page,
};
use crate::{
    controllers::extract::CorrelationId,
    ingestion::{
        log_stream::{self, LogIngest},
        writer::IngestWriter,
    },
    settings::Settings,
    views::{console::pages::UploadPage, ingest::LogIngestResponse},
};

fn upload_form(console: &Console, source: &str) -> UploadPage {
    UploadPage {
        layout: console.layout("Log upload", "upload"),
        source: source.to_string(),
        result: None,
        source_link: None,
        opened_link: None,
        error: None,
    }
}

/// `GET /console/upload`: the log upload form.
pub async fn upload_page(console: Console) -> Page {
    page("upload.html", &upload_form(&console, ""))
}

/// `POST /console/upload`: the text is scored and stored as
/// `POST /api/ingest/nginx` does; the page shows the counts and links to
/// the alerts the upload opened.
pub async fn upload(
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    Posted { console, form, .. }: Posted,
) -> Page {
    let raw_source = form.get("source").unwrap_or_default().trim().to_string();
    let mut data = upload_form(&console, &raw_source);
    let text = form.get("log").unwrap_or_default();
    let source = match log_stream::check_source(&raw_source) {
        Ok(s) => s,
        Err(m) => {
            data.error = Some(format!("source: {m}"));
            let mut response = page("upload.html", &data)?;
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(response);
        }
    };
    if text.contains('\0') {
        data.error = Some(format!("log: {}", crate::input::NUL_MESSAGE));
        let mut response = page("upload.html", &data)?;
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(response);
    }
    let started = chrono::Utc::now() - chrono::Duration::seconds(1);
    let stream = LogIngest::new(
        log_stream::rules(&ctx)?,
        &Settings::get(&ctx).detection,
        source.clone(),
    );
    let writer = IngestWriter::get(&ctx)?;
    let (counts, errors) = stream.ingest_text(&writer, text, &cid).await?;
    data.result = Some(LogIngestResponse::new(counts, &errors));
    data.source_link = Some(link("/console/alerts", &[("source", &source)]));
    data.opened_link = Some(link(
        "/console/alerts",
        &[
            ("source", &source),
            (
                "since",
                &started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
        ],
    ));
    page("upload.html", &data)
}
