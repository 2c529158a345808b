//! The cart over HTTP: what a shopper adds, sees, removes and empties.

use anyhow::Result;
use astroshop_tests::{Reply, Shop, ensure_that};
use serde_json::{Value, json};

use crate::catalog::ensure_error;

pub const TESTS: &[(&str, crate::Test)] = tests![
    adding_2_then_3_of_a_product_shows_5,
    a_rejected_add_leaves_the_cart_unchanged,
    the_cart_is_priced_in_the_asked_currency,
    no_session_is_an_empty_cart,
    an_unknown_product_cannot_be_added,
    deleting_the_cart_empties_it,
    removing_a_line_keeps_the_others,
];

/// A user id no other test (or run) uses, so tests can share one stack.
pub fn unique_user(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("e2e-{test}-{}-{nanos}", std::process::id())
}

pub fn add(shop: &Shop, user: &str, product: &str, quantity: i64) -> Result<Reply> {
    let body = json!({"userId": user, "item": {"productId": product, "quantity": quantity}});
    shop.send("POST", "/api/cart", Some(&body))
}

/// `(productId, quantity)` of each line of the user's cart.
pub fn lines(shop: &Shop, user: &str) -> Result<Vec<(String, i64)>> {
    let reply = shop.get(&format!("/api/cart?sessionId={user}"))?;
    ensure_that!(reply.status == 200, "status {}: {}", reply.status, reply.body);
    ensure_that!(reply.body["userId"] == user, "cart of {}", reply.body["userId"]);
    let mut lines: Vec<(String, i64)> = items(&reply.body)
        .iter()
        .map(|item| {
            (
                item["productId"].as_str().unwrap_or_default().to_owned(),
                item["quantity"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    lines.sort();
    Ok(lines)
}

fn items(cart: &Value) -> Vec<Value> {
    cart["items"].as_array().cloned().unwrap_or_default()
}

fn line(product: &str, quantity: i64) -> (String, i64) {
    (product.to_owned(), quantity)
}

fn adding_2_then_3_of_a_product_shows_5(shop: &Shop) -> Result<()> {
    let user = unique_user("add");
    let reply = add(shop, &user, "OLJCESPC7Z", 2)?;
    ensure_that!(reply.status == 200, "status {}: {}", reply.status, reply.body);
    let reply = add(shop, &user, "OLJCESPC7Z", 3)?;
    ensure_that!(reply.status == 200, "status {}: {}", reply.status, reply.body);
    let answered = items(&reply.body);
    ensure_that!(
        answered.len() == 1 && answered[0]["quantity"] == 5,
        "the add answered {}",
        reply.body
    );
    ensure_that!(
        answered[0]["product"]["name"] == "National Park Foundation Explorascope",
        "{}",
        reply.body
    );
    let seen = lines(shop, &user)?;
    ensure_that!(seen == [line("OLJCESPC7Z", 5)], "the cart holds {seen:?}");
    Ok(())
}

fn a_rejected_add_leaves_the_cart_unchanged(shop: &Shop) -> Result<()> {
    let user = unique_user("rejected");
    ensure_that!(
        add(shop, &user, "L9ECAV7KIM", 90)?.status == 200,
        "first add failed"
    );
    let reply = add(shop, &user, "L9ECAV7KIM", 10)?;
    ensure_that!(reply.status == 409, "over the cap: status {}", reply.status);
    ensure_error(&reply.body, "quantity_limit_exceeded")?;
    for quantity in [0, -1, 100] {
        let reply = add(shop, &user, "L9ECAV7KIM", quantity)?;
        ensure_that!(
            reply.status == 400,
            "quantity {quantity}: status {}",
            reply.status
        );
        ensure_error(&reply.body, "invalid_body")?;
    }
    let huge = json!({"userId": user, "item": {"productId": "L9ECAV7KIM", "quantity": 1e30}});
    let reply = shop.send("POST", "/api/cart", Some(&huge))?;
    ensure_that!(reply.status == 400, "a huge quantity: status {}", reply.status);
    let seen = lines(shop, &user)?;
    ensure_that!(seen == [line("L9ECAV7KIM", 90)], "the cart holds {seen:?}");
    Ok(())
}

fn the_cart_is_priced_in_the_asked_currency(shop: &Shop) -> Result<()> {
    let user = unique_user("currency");
    add(shop, &user, "66VCHSJNUP", 2)?;
    let reply = shop.get(&format!("/api/cart?sessionId={user}&currencyCode=EUR"))?;
    ensure_that!(reply.status == 200, "status {}: {}", reply.status, reply.body);
    // 349.95 USD / 1.1305 = 309.553295002211... EUR: a unit price, whatever the quantity.
    let price = &items(&reply.body)[0]["product"]["priceUsd"];
    let expected = json!({"currencyCode": "EUR", "units": 309, "nanos": 553295002});
    ensure_that!(*price == expected, "priced {price}");
    let reply = shop.get(&format!("/api/cart?sessionId={user}&currencyCode=XXX"))?;
    ensure_that!(
        reply.status == 400,
        "an unsupported currency: status {}",
        reply.status
    );
    ensure_error(&reply.body, "unsupported_currency")
}

fn no_session_is_an_empty_cart(shop: &Shop) -> Result<()> {
    for path in ["/api/cart", "/api/cart?sessionId=&currencyCode="] {
        let reply = shop.get(path)?;
        ensure_that!(reply.status == 200, "{path}: status {}", reply.status);
        ensure_that!(
            reply.body == json!({"userId": "", "items": []}),
            "{path}: {}",
            reply.body
        );
    }
    Ok(())
}

fn an_unknown_product_cannot_be_added(shop: &Shop) -> Result<()> {
    let user = unique_user("unknown");
    let reply = add(shop, &user, "NOSUCHPRODUCT", 1)?;
    ensure_that!(reply.status == 404, "status {}", reply.status);
    ensure_error(&reply.body, "product_not_found")?;
    ensure_that!(lines(shop, &user)?.is_empty(), "something was added");
    Ok(())
}

fn deleting_the_cart_empties_it(shop: &Shop) -> Result<()> {
    let user = unique_user("empty");
    add(shop, &user, "OLJCESPC7Z", 1)?;
    add(shop, &user, "HQTGWGPNH4", 3)?;
    ensure_that!(lines(shop, &user)?.len() == 2, "two lines before emptying");
    let reply = shop.send("DELETE", "/api/cart", Some(&json!({"userId": user})))?;
    ensure_that!(reply.status == 204, "status {}: {}", reply.status, reply.body);
    let seen = lines(shop, &user)?;
    ensure_that!(seen.is_empty(), "the cart still holds {seen:?}");
    let reply = shop.send("DELETE", "/api/cart", Some(&json!({"user": user})))?;
    ensure_that!(reply.status == 400, "no userId: status {}", reply.status);
    Ok(())
}

fn removing_a_line_keeps_the_others(shop: &Shop) -> Result<()> {
    let user = unique_user("remove");
    add(shop, &user, "OLJCESPC7Z", 1)?;
    add(shop, &user, "6E92ZMYYFZ", 2)?;
    let path = format!("/api/cart/items/OLJCESPC7Z?sessionId={user}");
    let reply = shop.send("DELETE", &path, None)?;
    ensure_that!(reply.status == 204, "status {}: {}", reply.status, reply.body);
    let seen = lines(shop, &user)?;
    ensure_that!(seen == [line("6E92ZMYYFZ", 2)], "the cart holds {seen:?}");
    let reply = shop.send("DELETE", &path, None)?;
    ensure_that!(reply.status == 404, "removing it again: status {}", reply.status);
    ensure_error(&reply.body, "cart_line_not_found")
}
