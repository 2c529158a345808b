//! The front door: routes as API Gateway matches them, errors as JSON.

use anyhow::Result;
use astroshop_tests::{Shop, ensure_that};

use crate::catalog::ensure_error;

pub const TESTS: &[(&str, crate::Test)] = tests![
    an_unknown_route_is_a_json_404,
    a_known_path_with_the_wrong_method_is_a_json_405,
    a_body_over_10_mb_is_a_json_413,
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
