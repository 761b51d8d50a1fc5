//! The OpenAPI document is a reviewed artifact: any API change shows up here.
use vigil::controllers::docs;

#[test]
fn openapi_document_snapshot() {
    let doc = serde_json::to_value(docs::openapi()).unwrap();
    insta::assert_json_snapshot!("openapi", doc);
}

#[test]
fn every_route_is_documented_with_its_errors() {
    let doc = serde_json::to_value(docs::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for expected in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/auth/me",
        "/api/users",
        "/api/users/{id}",
        "/api/events",
        "/api/events/batch",
        "/api/events/{id}",
        "/api/ingest/nginx",
        "/api/alerts",
        "/api/alerts/{id}",
        "/api/alerts/{id}/status",
        "/api/alerts/{id}/history",
        "/api/alerts/{id}/notes",
        "/api/alerts/bulk-status",
        "/api/alerts/export",
        "/api/stats",
        "/_ping",
        "/_health",
    ] {
        assert!(
            paths.contains_key(expected),
            "{expected} missing from the document"
        );
    }
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let protected = op.get("security").is_some();
            if protected {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} documents 401"
                );
            }
        }
    }
    assert!(!doc["info"]["description"].as_str().unwrap().is_empty());
    assert!(doc["info"]["license"]["name"].is_string());
}

/// The document is valid OpenAPI as tools read it: unique operation ids,
/// every `$ref` resolves, every path template parameter declared, every
/// operation answers something.
#[test]
fn the_document_is_valid() {
    use std::collections::HashSet;
    let doc = serde_json::to_value(docs::openapi()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut ids = HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let templated: Vec<&str> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
            assert!(
                !op["responses"].as_object().unwrap().is_empty(),
                "{method} {path} answers nothing"
            );
            let declared: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            for name in &templated {
                assert!(
                    declared.contains(name),
                    "{method} {path}: {{{name}}} undeclared"
                );
            }
        }
    }
    // Every reference points at a schema that exists.
    fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    if k == "$ref" {
                        out.push(v.as_str().unwrap());
                    } else {
                        refs(v, out);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for r in found {
        let pointer = r.strip_prefix('#').expect("local reference");
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
}
