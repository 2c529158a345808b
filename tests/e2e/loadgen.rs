//! The OpenTelemetry demo's load generator, replayed: each call its
//! locustfile makes, in its shapes, must succeed, and the checkouts of its
//! shopper personas (`tests/data/people.json`, the demo's own) must confirm.

use anyhow::{Context, Result};
use astroshop_tests::{Shop, ensure_that};
use serde_json::json;

use crate::cart::unique_user;
use crate::checkout::settled;

pub const TESTS: &[(&str, crate::Test)] = tests![
    every_load_generator_call_succeeds,
    every_persona_checks_out_and_the_order_confirms,
];

/// The demo's shopper personas: e-mail, address, currency and card.
const PEOPLE: &str = include_str!("../data/people.json");

/// The locustfile's products and ad categories (`None` is sent literally).
pub const PRODUCTS: [&str; 10] = [
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

/// The locustfile's `checkout` and `checkout_multi` tasks: a fresh user fills
/// a cart (one product, or several) and checks out as one of the personas,
/// posting the persona as the demo does with its `userId` added.
fn every_persona_checks_out_and_the_order_confirms(shop: &Shop) -> Result<()> {
    let people: Vec<serde_json::Value> = serde_json::from_str(PEOPLE)?;
    ensure_that!(people.len() == 9, "{} personas", people.len());
    let mut placed = Vec::new();
    for (i, person) in people.iter().enumerate() {
        let user = unique_user(&format!("persona{i}"));
        let basket: &[&str] = if i % 2 == 0 {
            &PRODUCTS[i..=i]
        } else {
            &PRODUCTS[i - 1..=i]
        };
        for product in basket {
            let item = json!({"item": {"productId": product, "quantity": 1}, "userId": user});
            let reply = shop.send("POST", "/api/cart", Some(&item))?;
            ensure_that!(
                reply.status == 200,
                "adding {product}: {} {}",
                reply.status,
                reply.body
            );
        }
        let mut checkout = person.clone();
        checkout["userId"] = json!(user);
        let currency = person["userCurrency"].as_str().unwrap_or("USD");
        let reply = shop.send(
            "POST",
            &format!("/api/checkout?currencyCode={currency}"),
            Some(&checkout),
        )?;
        ensure_that!(
            (200..300).contains(&reply.status),
            "checkout as {}: {} {}",
            person["email"],
            reply.status,
            reply.body
        );
        let id = reply.body["orderId"].as_str().context("no orderId")?.to_owned();
        ensure_that!(
            reply.body["items"].as_array().map(Vec::len) == Some(basket.len()),
            "ordered {} for a basket of {}",
            reply.body["items"],
            basket.len()
        );
        placed.push((person["email"].clone(), id));
    }
    for (email, id) in placed {
        let order = settled(shop, &id)?;
        ensure_that!(
            order["status"] == "CONFIRMED",
            "{email}'s order {id} ended {}",
            order["status"]
        );
    }
    Ok(())
}
