//! The console's static files: vendored htmx and uPlot, its own CSS and
//! script. Each is served under a name carrying a digest of its content
//! (`console.3f2a…c1.js`), so it can be cached for a year and a new build
//! is never served an old copy, and gzip-compressed once, at first use.
use std::{collections::BTreeMap, io::Write, sync::OnceLock};

/// One static file.
pub struct Asset {
    /// The name templates use (`htmx.js`).
    pub name: &'static str,
    /// The name it is served under (`htmx.0123456789ab.js`).
    pub file: String,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// `body`, gzip-compressed.
    pub gzip: Vec<u8>,
}

const FILES: &[(&str, &str, &[u8])] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../assets/static/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/static/console.js"),
    ),
    (
        "htmx.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/static/vendor/htmx-2.0.11.min.js"),
    ),
    (
        "uplot.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/static/vendor/uplot-1.6.32.min.js"),
    ),
    (
        "uplot.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../assets/static/vendor/uplot-1.6.32.min.css"),
    ),
];

/// Where every console asset is served from.
pub const PREFIX: &str = "/console/assets/";

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

/// Every asset, made once.
pub fn all() -> &'static [Asset] {
    static ALL: OnceLock<Vec<Asset>> = OnceLock::new();
    ALL.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, content_type, body)| {
                let digest = crate::digest::sha256_hex(body);
                let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
                Asset {
                    name,
                    file: format!("{stem}.{}.{ext}", &digest[..12]),
                    content_type,
                    body,
                    gzip: gzip(body),
                }
            })
            .collect()
    })
}

/// The asset served as `file`.
#[must_use]
pub fn find(file: &str) -> Option<&'static Asset> {
    all().iter().find(|a| a.file == file)
}

/// Template name → URL, for every asset (`assets["htmx.js"]` in templates
/// reads `assets.htmx_js`).
#[must_use]
pub fn urls() -> BTreeMap<String, String> {
    all()
        .iter()
        .map(|a| (a.name.replace('.', "_"), format!("{PREFIX}{}", a.file)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_content_digest_and_gzip_round_trips() {
        for asset in all() {
            let digest = crate::digest::sha256_hex(asset.body);
            assert!(asset.file.contains(&digest[..12]), "{}", asset.file);
            let mut plain = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(asset.gzip.as_slice()),
                &mut plain,
            )
            .unwrap();
            assert_eq!(plain, asset.body);
            assert!(asset.gzip.len() < asset.body.len(), "{}", asset.name);
        }
    }
}
