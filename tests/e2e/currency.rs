//! Currencies.

use anyhow::Result;
use astroshop_tests::{Shop, ensure_that};
use serde_json::json;

use crate::catalog::ensure_error;

pub const TESTS: &[(&str, crate::Test)] = tests![
    the_33_supported_codes_are_listed,
    conversion_is_exact,
    a_bad_amount_is_a_json_400,
];

fn the_33_supported_codes_are_listed(shop: &Shop) -> Result<()> {
    let reply = shop.get("/api/currency")?;
    ensure_that!(reply.status == 200, "status {}", reply.status);
    let codes = reply.body.as_array().cloned().unwrap_or_default();
    ensure_that!(codes.len() == 33, "{} codes: {}", codes.len(), reply.body);
    for code in ["EUR", "USD", "JPY", "GBP", "CHF", "ZAR"] {
        ensure_that!(codes.contains(&json!(code)), "{code} missing");
    }
    Ok(())
}

fn conversion_is_exact(shop: &Shop) -> Result<()> {
    let reply = shop.get("/api/currency/convert?from=USD&to=JPY&units=8&nanos=990000000")?;
    ensure_that!(reply.status == 200, "status {}: {}", reply.status, reply.body);
    // 8.99 × 126.4 / 1.1305 = 1005.16231755860...
    let expected = json!({"currencyCode": "JPY", "units": 1005, "nanos": 162317559});
    ensure_that!(reply.body == expected, "got {}", reply.body);
    Ok(())
}

fn a_bad_amount_is_a_json_400(shop: &Shop) -> Result<()> {
    let reply = shop.get("/api/currency/convert?from=USD&to=EUR&units=12abc")?;
    ensure_that!(reply.status == 400, "status {}", reply.status);
    ensure_error(&reply.body, "invalid_amount")
}
