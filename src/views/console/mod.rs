//! The console's HTML: Tera templates and static files, both compiled into
//! the binary (`include_str!`/`include_bytes!`), so the one executable
//! serves everything and nothing is read from disk at run time.
//!
//! Every value a template prints is HTML-escaped (the templates end in
//! `.html`, which turns Tera's autoescaping on); no template uses `safe`.
pub mod assets;
pub mod pages;

use std::sync::OnceLock;

use serde::Serialize;

/// The templates, by the name pages render them with.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../../assets/views/console/base.html"),
    ),
    (
        "login.html",
        include_str!("../../../assets/views/console/login.html"),
    ),
    (
        "error.html",
        include_str!("../../../assets/views/console/error.html"),
    ),
    (
        "overview.html",
        include_str!("../../../assets/views/console/overview.html"),
    ),
    (
        "overview_body.html",
        include_str!("../../../assets/views/console/overview_body.html"),
    ),
    (
        "alerts.html",
        include_str!("../../../assets/views/console/alerts.html"),
    ),
    (
        "alert_rows.html",
        include_str!("../../../assets/views/console/alert_rows.html"),
    ),
    (
        "alert.html",
        include_str!("../../../assets/views/console/alert.html"),
    ),
    (
        "events.html",
        include_str!("../../../assets/views/console/events.html"),
    ),
    (
        "event.html",
        include_str!("../../../assets/views/console/event.html"),
    ),
    (
        "upload.html",
        include_str!("../../../assets/views/console/upload.html"),
    ),
    (
        "users.html",
        include_str!("../../../assets/views/console/users.html"),
    ),
    (
        "keys.html",
        include_str!("../../../assets/views/console/keys.html"),
    ),
    (
        "webhooks.html",
        include_str!("../../../assets/views/console/webhooks.html"),
    ),
    (
        "webhook.html",
        include_str!("../../../assets/views/console/webhook.html"),
    ),
    (
        "silences.html",
        include_str!("../../../assets/views/console/silences.html"),
    ),
    (
        "allowlist.html",
        include_str!("../../../assets/views/console/allowlist.html"),
    ),
    (
        "audit.html",
        include_str!("../../../assets/views/console/audit.html"),
    ),
];

/// `2026-12-01T06:01:02.123Z` → `2026-12-01 06:01:02 UTC`; anything else as it is.
fn when(text: &str) -> String {
    // The API's own form (UTC, `Z`): cut, not parsed (a page has 25 rows
    // of timestamps).
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() >= 20
        && text.ends_with('Z')
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
    {
        return format!("{} {} UTC", &text[..10], &text[11..19]);
    }
    chrono::DateTime::parse_from_rfc3339(text).map_or_else(
        |_| text.to_string(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        },
    )
}

fn build() -> Result<tera::Tera, String> {
    let mut tera = tera::Tera::new();
    tera.autoescape_on(vec![".html"]);
    tera.register_filter("when", |x: &str, _: tera::Kwargs, _: &tera::State| when(x));
    tera.global_context().insert("assets", &assets::urls());
    tera.add_raw_templates(TEMPLATES.iter().copied())
        .map_err(|e| format!("console templates: {e:?}"))?;
    Ok(tera)
}

fn engine() -> Result<&'static tera::Tera, loco_rs::Error> {
    static ENGINE: OnceLock<Result<tera::Tera, String>> = OnceLock::new();
    ENGINE
        .get_or_init(build)
        .as_ref()
        .map_err(|e| loco_rs::Error::string(e))
}

/// Renders `template` with `data` (a struct of [`pages`]): the page's
/// UTF-8 bytes.
///
/// # Errors
/// A template that does not compile or fails on this data (tests render
/// every page).
pub fn render<T: Serialize>(template: &str, data: &T) -> Result<Vec<u8>, loco_rs::Error> {
    let context = tera::Context::from_serialize(data)
        .map_err(|e| loco_rs::Error::string(&format!("console context: {e}")))?;
    // Sized for a page of alert rows, so the text is not copied as it grows.
    let mut out = Vec::with_capacity(32 * 1024);
    engine()?
        .render_to(template, &context, &mut out)
        .map_err(|e| loco_rs::Error::string(&format!("console template {template}: {e:?}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        build().unwrap();
    }

    #[test]
    fn times_read_as_utc() {
        assert_eq!(
            when("2026-12-01T06:01:02.5+01:00"),
            "2026-12-01 05:01:02 UTC"
        );
        assert_eq!(when("<b>"), "<b>");
    }
}
