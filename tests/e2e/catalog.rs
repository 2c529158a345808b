//! Browsing the catalogue.

use anyhow::Result;
use astroshop_tests::{Reply, Shop, ensure_that};
use serde_json::{Value, json};

use crate::search::{FIRST_INDEXING_DEADLINE, eventually};

pub const TESTS: &[(&str, crate::Test)] = tests![
    the_ten_seeded_products_are_priced_in_eur_to_the_nano,
    products_default_to_usd,
    a_product_page_is_found_by_id,
    an_unknown_product_is_a_json_404,
    an_unsupported_currency_is_a_json_400,
];

/// Worked out apart from the shop, with decimal arithmetic: USD price / 1.1305,
/// rounded half to even at the nano.
const EUR_PRICES: [(&str, i64, i64); 10] = [
    ("OLJCESPC7Z", 90, 190181336),
    ("66VCHSJNUP", 309, 553295002),
    ("1YMWWN1N4O", 114, 949137550),
    ("L9ECAV7KIM", 19, 416187528),
    ("2ZYFJ3GM2N", 185, 714285714),
    ("0PUK6V6EV0", 154, 798761610),
    ("LS4PSXUNUM", 50, 490933215),
    ("9SIQT8TOJO", 3183, 547103052),
    ("6E92ZMYYFZ", 61, 875276426),
    ("HQTGWGPNH4", 0, 875718709),
];

/// The list at `path` once it holds the ten seeded products: it is read from
/// the read model, which the indexer fills from the `Products` stream once
/// the shop is up. The tests start once `/api/products` does.
pub fn seeded_list(shop: &Shop, path: &str) -> Result<Reply> {
    eventually(
        &format!("{path} lists the seeded catalogue"),
        FIRST_INDEXING_DEADLINE,
        || {
            let reply = shop.get(path)?;
            ensure_that!(
                reply.status == 200,
                "{path}: status {}: {}",
                reply.status,
                reply.body
            );
            let listed = reply.body.as_array().map_or(0, Vec::len);
            // Admin tests running alongside may add products of their own for a moment.
            Ok(if listed >= 10 {
                Ok(reply)
            } else {
                Err(format!("{listed} products listed"))
            })
        },
    )
}

fn the_ten_seeded_products_are_priced_in_eur_to_the_nano(shop: &Shop) -> Result<()> {
    let reply = shop.get("/api/products?currencyCode=EUR")?;
    ensure_that!(reply.status == 200, "status {}: {}", reply.status, reply.body);
    // Admin tests running alongside may add products of their own for a moment.
    let products = reply.body.as_array().cloned().unwrap_or_default();
    ensure_that!(products.len() >= 10, "{} products listed", products.len());
    for (id, units, nanos) in EUR_PRICES {
        let product = products.iter().find(|p| p["id"] == id);
        let price = product.map(|p| &p["priceUsd"]);
        let expected = json!({"currencyCode": "EUR", "units": units, "nanos": nanos});
        ensure_that!(
            price == Some(&expected),
            "{id}: got {price:?}, expected {expected}"
        );
    }
    for product in &products {
        for field in ["name", "description", "picture"] {
            ensure_that!(
                product[field].as_str().is_some_and(|s| !s.is_empty()),
                "{field} missing in {product}"
            );
        }
        ensure_that!(
            product["categories"].as_array().is_some_and(|c| !c.is_empty()),
            "no categories: {product}"
        );
    }
    Ok(())
}

fn products_default_to_usd(shop: &Shop) -> Result<()> {
    let reply = shop.get("/api/products")?;
    ensure_that!(reply.status == 200, "status {}", reply.status);
    let products = reply.body.as_array().cloned().unwrap_or_default();
    ensure_that!(products.len() >= 10, "{} products listed", products.len());
    let all_usd = products.iter().all(|p| p["priceUsd"]["currencyCode"] == "USD");
    ensure_that!(all_usd, "not every price is in USD: {}", reply.body);
    Ok(())
}

fn a_product_page_is_found_by_id(shop: &Shop) -> Result<()> {
    let reply = shop.get("/api/products/OLJCESPC7Z")?;
    ensure_that!(reply.status == 200, "status {}: {}", reply.status, reply.body);
    ensure_that!(
        reply.body["name"] == "National Park Foundation Explorascope",
        "{}",
        reply.body
    );
    ensure_that!(
        reply.body["picture"] == "NationalParkFoundationExplorascope.jpg",
        "{}",
        reply.body
    );
    let expected = json!({"currencyCode": "USD", "units": 101, "nanos": 960000000});
    ensure_that!(reply.body["priceUsd"] == expected, "{}", reply.body);
    Ok(())
}

fn an_unknown_product_is_a_json_404(shop: &Shop) -> Result<()> {
    let reply = shop.get("/api/products/NOSUCHTHING")?;
    ensure_that!(reply.status == 404, "status {}", reply.status);
    ensure_error(&reply.body, "product_not_found")
}

fn an_unsupported_currency_is_a_json_400(shop: &Shop) -> Result<()> {
    for path in [
        "/api/products?currencyCode=XXX",
        "/api/products/OLJCESPC7Z?currencyCode=XXX",
    ] {
        let reply = shop.get(path)?;
        ensure_that!(reply.status == 400, "{path}: status {}", reply.status);
        ensure_error(&reply.body, "unsupported_currency")?;
    }
    let reply = shop.get("/api/products?currencyCode=%3Cscript%3E")?;
    ensure_that!(reply.status == 400, "status {}", reply.status);
    ensure_error(&reply.body, "invalid_currency")
}

/// The shop's error shape: `{"error": {"code", "message"}}`.
pub fn ensure_error(body: &Value, code: &str) -> Result<()> {
    ensure_that!(body["error"]["code"] == code, "expected error {code}, got {body}");
    ensure_that!(
        body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no error message in {body}"
    );
    Ok(())
}
