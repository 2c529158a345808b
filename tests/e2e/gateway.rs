//! The front door: routes as API Gateway matches them, errors as JSON.

use anyhow::Result;
use astroshop_tests::{Shop, ensure_that};
use local_stack::template::Template;
use serde_json::json;

use crate::cart::{lines, unique_user};
use crate::catalog::ensure_error;

pub const TESTS: &[(&str, crate::Test)] = tests![
    an_unknown_route_is_a_json_404,
    a_known_path_with_the_wrong_method_is_a_json_405,
    a_body_over_10_mb_is_a_json_413,
    a_2_mb_body_to_every_api_route_is_a_413_and_writes_nothing,
    answers_are_json_with_their_content_type,
];

fn an_unknown_route_is_a_json_404(shop: &Shop) -> Result<()> {
    let reply = shop.get("/api/no-such-thing")?;
    ensure_that!(reply.status == 404, "status {}", reply.status);
    ensure_error(&reply.body, "route_not_found")
}

fn a_known_path_with_the_wrong_method_is_a_json_405(shop: &Shop) -> Result<()> {
    let reply = shop.send("DELETE", "/api/products/OLJCESPC7Z", None)?;
    ensure_that!(reply.status == 405, "status {}", reply.status);
    let allow = reply.headers.get("allow").and_then(|v| v.to_str().ok());
    ensure_that!(allow == Some("GET"), "allow header {allow:?}");
    ensure_error(&reply.body, "method_not_allowed")
}

fn a_body_over_10_mb_is_a_json_413(shop: &Shop) -> Result<()> {
    let oversized = serde_json::Value::String("x".repeat(10 * 1024 * 1024 + 1));
    let reply = shop.send("GET", "/api/products", Some(&oversized))?;
    ensure_that!(reply.status == 413, "status {}", reply.status);
    ensure_error(&reply.body, "payload_too_large")
}

/// Every route of the API the template declares that a client may send a
/// body to refuses one of 2 MB before its function reads it: 413 in the
/// shop's error shape, and the cart the body names is left as it was. A route
/// with the JWT authorizer answers 401 first, as API Gateway does.
fn a_2_mb_body_to_every_api_route_is_a_413_and_writes_nothing(shop: &Shop) -> Result<()> {
    let user = unique_user("oversized");
    let filler = "x".repeat(2 * 1024 * 1024);
    let body = json!({"userId": user, "item": {"productId": "OLJCESPC7Z", "quantity": 1}, "filler": filler});
    let template = Template::shop()?;
    let mut tried = 0;
    for function in template.functions() {
        for route in &function.routes {
            if !route.path.starts_with("/api/") || route.authorizer.is_some() || route.method == "GET" {
                continue;
            }
            let path = route
                .path
                .replace("{productId}", "OLJCESPC7Z")
                .replace("{orderId}", "3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11");
            let reply = shop.send(&route.method, &path, Some(&body))?;
            ensure_that!(
                reply.status == 413,
                "{} {path} ({}): {} {}",
                route.method,
                function.binary,
                reply.status,
                reply.body
            );
            ensure_error(&reply.body, "payload_too_large")?;
            tried += 1;
        }
    }
    ensure_that!(tried >= 8, "only {tried} routes take a body");
    ensure_that!(
        lines(shop, &user)?.is_empty(),
        "the oversized body wrote to the cart"
    );
    Ok(())
}

fn answers_are_json_with_their_content_type(shop: &Shop) -> Result<()> {
    for path in ["/api/products", "/api/products/NOPE", "/api/nothing-here"] {
        let reply = shop.get(path)?;
        let content_type = reply.headers.get("content-type").and_then(|v| v.to_str().ok());
        ensure_that!(
            content_type == Some("application/json"),
            "{path}: content-type {content_type:?}"
        );
    }
    Ok(())
}
