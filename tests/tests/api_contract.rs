//! `docs/API.md`, the contract in words, and `/openapi.json`, the contract
//! in full, name the same operations: a route added to one and not the
//! other fails here. (Whether the document tells the truth about each
//! operation is `scripts/lib/api-conformance`'s job.)

use std::collections::BTreeSet;

const API_MD: &str = include_str!("../../docs/API.md");

/// The operations the endpoint table of API.md names, as `METHOD /path`
/// (query strings dropped). `/metrics` is served on another listener and
/// `/docs` is a page, so neither is in the document.
fn in_api_md() -> BTreeSet<String> {
    let mut operations = BTreeSet::new();
    for line in API_MD.lines().filter(|l| l.starts_with("| ")) {
        let Some(first) = line.split('|').nth(1) else {
            continue;
        };
        let words: Vec<&str> = first.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        for pair in words.windows(2) {
            let method = pair[0];
            if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) {
                let path = pair[1].split('?').next().unwrap();
                operations.insert(format!("{method} {path}"));
            }
        }
    }
    operations.remove("GET /metrics");
    operations.remove("GET /docs");
    operations
}

fn in_openapi() -> BTreeSet<String> {
    let document = serde_json::to_value(estrade_api::openapi::document()).unwrap();
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    // The document itself is served, not described.
    operations.insert("GET /openapi.json".to_owned());
    operations
}

#[test]
fn api_md_and_the_openapi_document_name_the_same_operations() {
    let words = in_api_md();
    let document = in_openapi();
    assert!(words.len() > 30, "the table was read: {words:?}");
    let only_words: Vec<_> = words.difference(&document).collect();
    let only_document: Vec<_> = document.difference(&words).collect();
    assert!(
        only_words.is_empty() && only_document.is_empty(),
        "docs/API.md names {only_words:?} that /openapi.json does not; /openapi.json has {only_document:?} that docs/API.md does not"
    );
}

#[test]
fn the_report_is_documented_as_json_and_as_csv() {
    let document = serde_json::to_value(estrade_api::openapi::document()).unwrap();
    let ok = &document["paths"]["/v1/sessions/{id}/report"]["get"]["responses"]["200"]["content"];
    assert!(ok.get("application/json").is_some(), "{ok}");
    assert!(ok.get("text/csv").is_some(), "{ok}");
}
