//! The front door: routes as API Gateway matches them, errors as JSON.

use anyhow::Result;
use astroshop_tests::{Shop, ensure_that};

use crate::catalog::ensure_error;

pub const TESTS: &[(&str, crate::Test)] = &[
    (
        "gateway::an_unknown_route_is_a_json_404",
        an_unknown_route_is_a_json_404,
    ),
    (
        "gateway::a_known_path_with_the_wrong_method_is_a_json_405",
        a_known_path_with_the_wrong_method_is_a_json_405,
    ),
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
