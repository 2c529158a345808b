//! Buying things, as the end-to-end tests and the checkout benchmark do:
//! a product of the caller's own with its own stock, the demo's checkout
//! request, and an order's link as its owner holds it.

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::{Shop, ensure_that};

/// A Visa number that passes the Luhn check (the demo's first shopper's).
pub const GOOD_CARD: &str = "4432-8015-6152-0454";

/// A product only this test buys, with `stock` units; its id.
pub fn fresh_product(shop: &Shop, test: &str, units: i64, stock: i64) -> Result<String> {
    let id = format!("E2E-{}", uuid::Uuid::new_v4().simple()).to_uppercase();
    let bearer = format!("Bearer {}", shop.admin_key()?);
    let product = json!({
        "id": id,
        "name": format!("Star chart for the {test} test"),
        "description": "A chart of the northern sky, sold only to one end-to-end test.",
        "picture": "StarsenseExplorer.jpg",
        "priceUsd": {"currencyCode": "USD", "units": units, "nanos": 0},
        "categories": ["charts"]
    });
    let created = shop.send_with_headers(
        "POST",
        "/api/admin/products",
        &[("authorization", &bearer)],
        Some(&product),
    )?;
    ensure_that!(
        created.status == 201,
        "creating {id}: {} {}",
        created.status,
        created.body
    );
    set_stock(shop, &id, stock)?;
    Ok(id)
}

pub fn set_stock(shop: &Shop, product: &str, available: i64) -> Result<()> {
    let bearer = format!("Bearer {}", shop.admin_key()?);
    let reply = shop.send_with_headers(
        "PUT",
        &format!("/api/admin/inventory/{product}"),
        &[("authorization", &bearer)],
        Some(&json!({"available": available})),
    )?;
    ensure_that!(
        reply.status == 200,
        "restocking {product}: {} {}",
        reply.status,
        reply.body
    );
    Ok(())
}

/// The units of `product` available now.
pub fn stock(shop: &Shop, product: &str) -> Result<i64> {
    let reply = shop.get(&format!("/api/inventory/{product}"))?;
    ensure_that!(
        reply.status == 200,
        "stock of {product}: {} {}",
        reply.status,
        reply.body
    );
    reply.body["available"]
        .as_i64()
        .with_context(|| format!("no available count in {}", reply.body))
}

/// The demo's checkout request for `user`, paying with `card`.
pub fn checkout_request(user: &str, email: &str, currency: &str, card: (&str, i64, i64)) -> Value {
    let (number, month, year) = card;
    json!({
        "userId": user,
        "email": email,
        "address": {
            "streetAddress": "1600 Amphitheatre Parkway",
            "city": "Mountain View",
            "state": "CA",
            "country": "United States",
            "zipCode": "94043"
        },
        "userCurrency": currency,
        "creditCard": {
            "creditCardNumber": number,
            "creditCardCvv": 672,
            "creditCardExpirationMonth": month,
            "creditCardExpirationYear": year
        }
    })
}

/// The key of an order's link, which checkout gives the shopper. The tests
/// that follow many orders by id sign it as the shop does, with the secret
/// an operator reads from SSM (the template's `OrderLinkKey`);
/// `ASTROSHOP_ORDER_LINK_KEY` gives the secret for a deployed shop.
pub fn order_key(shop: &Shop, id: &str) -> Result<String> {
    // Read once: the tests that follow an order ask for its key on every poll.
    static SECRET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let secret = match SECRET.get() {
        Some(secret) => secret,
        None => {
            let secret = match std::env::var("ASTROSHOP_ORDER_LINK_KEY") {
                Ok(secret) => secret,
                Err(_) => {
                    let parameter = shop.setting("ORDER_LINK_KEY_PARAMETER")?;
                    let ssm = aws_sdk_ssm::Client::new(&shop.aws()?);
                    shop.block_on(ssm.get_parameter().name(&parameter).with_decryption(true).send())?
                        .parameter
                        .and_then(|parameter| parameter.value)
                        .with_context(|| format!("the parameter {parameter} has no value"))?
                }
            };
            SECRET.get_or_init(|| secret)
        }
    };
    let id = astroshop_domain::OrderId::parse(id)?;
    Ok(astroshop_edge::order_link::sign(secret.as_bytes(), &id))
}

/// `GET /api/orders/<id>?key=<key>`, as the holder of the order's link asks.
pub fn order_path(shop: &Shop, id: &str) -> Result<String> {
    Ok(format!("/api/orders/{id}?key={}", order_key(shop, id)?))
}
