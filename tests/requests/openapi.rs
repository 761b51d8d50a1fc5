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
