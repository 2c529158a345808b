//! The OpenTelemetry demo's load generator, replayed: each call its
//! locustfile makes (checkout aside), in its shapes, must succeed.

use anyhow::{Context, Result};
use astroshop_tests::{Shop, ensure_that};
use serde_json::json;

use crate::cart::unique_user;

pub const TESTS: &[(&str, crate::Test)] = tests![every_load_generator_call_succeeds];

/// The locustfile's products and ad categories (`None` is sent literally).
const PRODUCTS: [&str; 10] = [
    "0PUK6V6EV0",
    "1YMWWN1N4O",
    "2ZYFJ3GM2N",
    "66VCHSJNUP",
    "6E92ZMYYFZ",
    "9SIQT8TOJO",
    "L9ECAV7KIM",
    "LS4PSXUNUM",
    "OLJCESPC7Z",
    "HQTGWGPNH4",
];
const CATEGORIES: [&str; 7] = [
    "binoculars",
    "telescopes",
    "accessories",
    "assembly",
    "travel",
    "books",
    "None",
];

/// The status of a GET whose answer need not be JSON (the storefront's HTML).
fn status_of(shop: &Shop, path: &str) -> Result<u16> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let response = reqwest::get(format!("{}{path}", shop.base_url()))
            .await
            .with_context(|| format!("requesting {path}"))?;
        Ok(response.status().as_u16())
    })
}

fn every_load_generator_call_succeeds(shop: &Shop) -> Result<()> {
    let index = status_of(shop, "/")?;
    ensure_that!((200..300).contains(&index), "GET /: status {index}");
    let user = unique_user("loadgen");
    for (i, product) in PRODUCTS.iter().enumerate() {
        let mut calls = vec![
            ("GET", format!("/api/products/{product}"), None),
            ("GET", format!("/api/recommendations?productIds={product}"), None),
            (
                "GET",
                format!("/api/data/?contextKeys={}", CATEGORIES[i % CATEGORIES.len()]),
                None,
            ),
            ("GET", "/api/cart".to_owned(), None),
        ];
        let quantity = [1, 2, 3, 4, 5, 10][i % 6];
        let item = json!({"item": {"productId": product, "quantity": quantity}, "userId": user});
        calls.push(("POST", "/api/cart".to_owned(), Some(item)));
        for (method, path, body) in calls {
            let reply = shop.send(method, &path, body.as_ref())?;
            ensure_that!(
                (200..300).contains(&reply.status),
                "{method} {path}: status {}: {}",
                reply.status,
                reply.body
            );
        }
    }
    Ok(())
}
