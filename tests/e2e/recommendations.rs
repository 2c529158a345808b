//! Recommendations over HTTP: other products, priced for the shopper.

use std::collections::BTreeSet;

use anyhow::Result;
use astroshop_tests::{Shop, ensure_that};

use crate::catalog::ensure_error;

pub const TESTS: &[(&str, crate::Test)] = tests![
    up_to_four_other_products_are_recommended,
    recommendations_are_priced_in_the_asked_currency,
];

fn up_to_four_other_products_are_recommended(shop: &Shop) -> Result<()> {
    let reply = shop.get("/api/recommendations?productIds=OLJCESPC7Z&productIds=9SIQT8TOJO&sessionId=s")?;
    ensure_that!(reply.status == 200, "status {}: {}", reply.status, reply.body);
    let ids: Vec<&str> = reply
        .body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str())
        .collect();
    // At least eight other products are always in the catalogue.
    ensure_that!(ids.len() == 4, "{} recommended", ids.len());
    ensure_that!(
        ids.iter().collect::<BTreeSet<_>>().len() == ids.len(),
        "a product recommended twice: {ids:?}"
    );
    ensure_that!(
        !ids.contains(&"OLJCESPC7Z") && !ids.contains(&"9SIQT8TOJO"),
        "recommended what is shown: {ids:?}"
    );
    Ok(())
}

fn recommendations_are_priced_in_the_asked_currency(shop: &Shop) -> Result<()> {
    let reply = shop.get("/api/recommendations?productIds=HQTGWGPNH4&currencyCode=GBP")?;
    ensure_that!(reply.status == 200, "status {}: {}", reply.status, reply.body);
    let all_gbp = reply
        .body
        .as_array()
        .into_iter()
        .flatten()
        .all(|p| p["priceUsd"]["currencyCode"] == "GBP");
    ensure_that!(all_gbp, "not every price in GBP: {}", reply.body);
    let reply = shop.get("/api/recommendations?currencyCode=XXX")?;
    ensure_that!(
        reply.status == 400,
        "an unsupported currency: status {}",
        reply.status
    );
    ensure_error(&reply.body, "unsupported_currency")
}
