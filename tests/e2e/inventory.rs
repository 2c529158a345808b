//! Stock, read over HTTP: every seeded product (the ten the demo's load
//! generator asks for) is stocked, the list and a product's own answer
//! agree, and a product never stocked is a 404.

use anyhow::Result;
use astroshop_tests::{Shop, ensure_that};

use crate::catalog::ensure_error;
use crate::loadgen::PRODUCTS;

pub const TESTS: &[(&str, crate::Test)] = tests![
    every_seeded_product_is_stocked_and_its_own_answer_agrees,
    a_product_never_stocked_is_a_json_404_and_a_bad_id_a_400,
];

fn every_seeded_product_is_stocked_and_its_own_answer_agrees(shop: &Shop) -> Result<()> {
    let list = shop.get("/api/inventory")?;
    ensure_that!(list.status == 200, "list: status {}: {}", list.status, list.body);
    let levels = list.body.as_array().cloned().unwrap_or_default();
    let ids: Vec<&str> = levels.iter().filter_map(|l| l["productId"].as_str()).collect();
    for product in PRODUCTS {
        ensure_that!(
            ids.contains(&product),
            "{product} is not in the stock list: {ids:?}"
        );
    }
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    ensure_that!(sorted == ids, "the list is not by id: {ids:?}");
    for level in &levels {
        ensure_that!(
            level["available"].is_u64(),
            "a stock level without a count: {level}"
        );
    }
    // Checkouts run beside this test, so a product's count may move between
    // the two reads; its own answer is read second and can only be lower.
    let listed = levels
        .iter()
        .find(|l| l["productId"] == "OLJCESPC7Z")
        .and_then(|l| l["available"].as_u64())
        .unwrap_or_default();
    let one = shop.get("/api/inventory/OLJCESPC7Z")?;
    ensure_that!(one.status == 200, "one: status {}: {}", one.status, one.body);
    ensure_that!(
        one.body["productId"] == "OLJCESPC7Z",
        "another product: {}",
        one.body
    );
    let own = one.body["available"].as_u64().unwrap_or(u64::MAX);
    ensure_that!(own <= listed, "OLJCESPC7Z: {own} alone, {listed} in the list");
    Ok(())
}

fn a_product_never_stocked_is_a_json_404_and_a_bad_id_a_400(shop: &Shop) -> Result<()> {
    let unknown = shop.get("/api/inventory/NEVERSTOCKED")?;
    ensure_that!(unknown.status == 404, "unknown: status {}", unknown.status);
    ensure_error(&unknown.body, "stock_not_found")?;
    let bad = shop.get("/api/inventory/not%20an%20id")?;
    ensure_that!(bad.status == 400, "bad id: status {}", bad.status);
    ensure_error(&bad.body, "invalid_product_id")?;
    Ok(())
}
