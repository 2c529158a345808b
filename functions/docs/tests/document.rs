//! The published contract against what the shop is: the document names
//! exactly the template's `/api` routes (no route undocumented, no operation
//! that routes nowhere), marks exactly the routes behind the shoppers' JWT
//! authorizer as needing a shopper's token, is valid OpenAPI 3.1 by the
//! specification's own schema, and is what `GET /api/openapi.json` serves.

use std::collections::BTreeSet;
use std::process::Command;

use astroshop_docs::api_document;
use local_stack::template::Template;
use local_stack::tools::repo_root;
use local_stack_testing::request;
use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    let path = repo_root().join("infra/openapi.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every operation of the document as `METHOD /path`, with its operation.
fn operations(document: &Value) -> Vec<(String, &Value)> {
    let paths = document["paths"].as_object().expect("the document has paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter_map(move |method| {
                item.get(*method)
                    .map(|operation| (format!("{} {path}", method.to_uppercase()), operation))
            })
        })
        .collect()
}

/// Every HttpApi route of the template under `/api`, as `METHOD /path`,
/// with the name of its authorizer.
fn api_routes() -> Vec<(String, Option<String>)> {
    let template = Template::shop().expect("the template parses");
    template
        .functions()
        .iter()
        .flat_map(|function| &function.routes)
        .filter(|route| route.path.starts_with("/api/"))
        .map(|route| {
            (
                format!("{} {}", route.method, route.path),
                route.authorizer.clone(),
            )
        })
        .collect()
}

#[test]
fn the_document_has_exactly_the_templates_api_routes() {
    let document = document();
    let documented: BTreeSet<String> = operations(&document).into_iter().map(|(key, _)| key).collect();
    let routed: BTreeSet<String> = api_routes().into_iter().map(|(key, _)| key).collect();
    let undocumented: Vec<&String> = routed.difference(&documented).collect();
    let unrouted: Vec<&String> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes of infra/template.yaml missing from infra/openapi.json: {undocumented:?}; \
         operations of infra/openapi.json no route of the template serves: {unrouted:?}"
    );
    assert!(routed.len() >= 30, "only {} /api routes", routed.len());
}

#[test]
fn exactly_the_routes_behind_the_shoppers_authorizer_need_a_shoppers_token() {
    let document = document();
    let needs_token: BTreeSet<String> = operations(&document)
        .into_iter()
        .filter(|(_, operation)| {
            operation["security"]
                .as_array()
                .is_some_and(|schemes| schemes.iter().any(|scheme| scheme.get("shopperToken").is_some()))
        })
        .map(|(key, _)| key)
        .collect();
    let authorized: BTreeSet<String> = api_routes()
        .into_iter()
        .filter(|(_, authorizer)| authorizer.as_deref() == Some("ShopperToken"))
        .map(|(key, _)| key)
        .collect();
    assert_eq!(needs_token, authorized);
    assert!(authorized.contains("GET /api/orders"), "{authorized:?}");
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    let validator = repo_root().join(".venv/contract/bin/openapi-spec-validator");
    let output = Command::new(&validator)
        .arg(repo_root().join("infra/openapi.json"))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "running {} ({e}): ./shop test installs it from localstack/contract/requirements.txt",
                validator.display()
            )
        });
    assert!(
        output.status.success(),
        "openapi-spec-validator refused infra/openapi.json:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn the_function_serves_the_document_byte_for_byte_as_json() {
    let response = api_document(request("GET", "/api/openapi.json", None, "api-document"))
        .await
        .expect("the document is served");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let lambda_http::Body::Text(served) = response.body() else {
        panic!("a text body, got {:?}", response.body());
    };
    let file = std::fs::read_to_string(repo_root().join("infra/openapi.json")).expect("the document is read");
    assert!(
        *served == file,
        "the served document differs from infra/openapi.json"
    );
}
