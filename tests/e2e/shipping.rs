//! Shipping quotes over HTTP, asked as the demo's storefront asks them: the
//! items and the address as JSON in the query string.

use anyhow::Result;
use astroshop_tests::{Reply, Shop, ensure_that};
use serde_json::json;

use crate::catalog::ensure_error;

pub const TESTS: &[(&str, crate::Test)] = tests![
    a_quote_is_8_99_usd_per_item,
    a_quote_in_eur_is_the_exact_converted_total,
    malformed_json_in_the_query_is_a_400_naming_the_parameter,
];

const ADDRESS: &str = r#"{"streetAddress":"1600 Amphitheatre Parkway","city":"Mountain View","state":"CA","country":"United States","zipCode":"94043"}"#;

/// Percent-encodes a query value as a browser's `encodeURIComponent` does.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn quote(shop: &Shop, items: &str, currency: &str, address: &str) -> Result<Reply> {
    shop.get(&format!(
        "/api/shipping?itemList={}&currencyCode={currency}&address={}",
        encode(items),
        encode(address)
    ))
}

fn a_quote_is_8_99_usd_per_item(shop: &Shop) -> Result<()> {
    let items = r#"[{"productId":"OLJCESPC7Z","quantity":2},{"productId":"66VCHSJNUP","quantity":3}]"#;
    let reply = quote(shop, items, "USD", ADDRESS)?;
    ensure_that!(reply.status == 200, "status {}: {}", reply.status, reply.body);
    let expected = json!({"currencyCode": "USD", "units": 44, "nanos": 950000000});
    ensure_that!(reply.body == expected, "quoted {}", reply.body);
    Ok(())
}

fn a_quote_in_eur_is_the_exact_converted_total(shop: &Shop) -> Result<()> {
    // Worked out with decimal arithmetic: 7 × 8.99 = 62.93 USD;
    // 62.93 / 1.1305 = 55.66563467492260061... EUR, rounded half to even at the nano.
    let items = r#"[{"productId":"OLJCESPC7Z","quantity":4},{"productId":"HQTGWGPNH4","quantity":3}]"#;
    let reply = quote(shop, items, "EUR", ADDRESS)?;
    ensure_that!(reply.status == 200, "status {}: {}", reply.status, reply.body);
    let expected = json!({"currencyCode": "EUR", "units": 55, "nanos": 665634675});
    ensure_that!(reply.body == expected, "quoted {}", reply.body);
    Ok(())
}

fn malformed_json_in_the_query_is_a_400_naming_the_parameter(shop: &Shop) -> Result<()> {
    for (items, address, named) in [
        ("[{\"productId\":", ADDRESS, "itemList"),
        (
            r#"[{"productId":"OLJCESPC7Z","quantity":0}]"#,
            ADDRESS,
            "itemList",
        ),
        ("[]", "{\"city\":", "address"),
    ] {
        let reply = quote(shop, items, "USD", address)?;
        ensure_that!(reply.status == 400, "{items} {address}: status {}", reply.status);
        ensure_error(&reply.body, "invalid_parameter")?;
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        ensure_that!(message.contains(named), "{message:?} does not name {named}");
    }
    let reply = quote(shop, "[]", "XXX", ADDRESS)?;
    ensure_that!(
        reply.status == 400,
        "an unsupported currency: status {}",
        reply.status
    );
    ensure_error(&reply.body, "unsupported_currency")
}
