//! The shipping quote handler, called in-process with the API Gateway events
//! the gateway builds, against the template's tables in the emulator.

use astroshop_flags::Flags;
use astroshop_shipping::quote_shipping;
use astroshop_store::RateTableStore;
use local_stack_testing::{TestTables, json_response as json, request};
use serde_json::{Value, json};

const ADDRESS: &str = r#"{"streetAddress":"1600 Amphitheatre Parkway","city":"Mountain View","state":"CA","country":"United States","zipCode":"94043"}"#;

async fn rates(prefix: &str) -> RateTableStore {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    RateTableStore::new(tables.dynamodb(), tables.setting("CURRENCY_RATES_TABLE"))
}

fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn quote(rates: &RateTableStore, items: &str, currency: &str, address: &str) -> (u16, Value) {
    let uri = format!(
        "/api/shipping?itemList={}&currencyCode={currency}&address={}",
        encoded(items),
        encoded(address)
    );
    let request = request("GET", &uri, None, "shipping-quote");
    json(
        quote_shipping(rates, &Flags::none(), request)
            .await
            .unwrap_or_else(|e| e.into_response()),
    )
}

#[tokio::test]
async fn each_item_costs_8_99_usd() {
    let rates = rates("shipping-usd").await;
    let items = r#"[{"productId":"OLJCESPC7Z","quantity":2},{"productId":"66VCHSJNUP","quantity":3}]"#;
    let (status, cost) = quote(&rates, items, "USD", ADDRESS).await;
    assert_eq!(status, 200, "{cost}");
    assert_eq!(
        cost,
        json!({"currencyCode": "USD", "units": 44, "nanos": 950000000})
    );
    let (status, cost) = quote(&rates, items, "", ADDRESS).await;
    assert_eq!((status, &cost["currencyCode"]), (200, &json!("USD")));
}

#[tokio::test]
async fn a_quote_in_eur_is_the_exact_total_converted_once() {
    let rates = rates("shipping-eur").await;
    // 5 × 8.99 = 44.95 USD; 44.95 / 1.1305 = 39.7611676249447... EUR.
    let items = r#"[{"productId":"OLJCESPC7Z","quantity":5}]"#;
    let (status, cost) = quote(&rates, items, "EUR", ADDRESS).await;
    assert_eq!(status, 200, "{cost}");
    assert_eq!(
        cost,
        json!({"currencyCode": "EUR", "units": 39, "nanos": 761167625})
    );
}

#[tokio::test]
async fn nothing_to_ship_costs_nothing() {
    let rates = rates("shipping-empty").await;
    let (status, cost) = quote(&rates, "[]", "CHF", ADDRESS).await;
    assert_eq!(status, 200, "{cost}");
    assert_eq!(cost, json!({"currencyCode": "CHF", "units": 0, "nanos": 0}));
}

#[tokio::test]
async fn malformed_json_in_a_parameter_is_a_400_naming_it() {
    let rates = rates("shipping-malformed").await;
    let good_items = r#"[{"productId":"OLJCESPC7Z","quantity":1}]"#;
    let cases = [
        ("[{", ADDRESS, "itemList"),
        ("not json", ADDRESS, "itemList"),
        (
            r#"[{"productId":"OLJCESPC7Z","quantity":0}]"#,
            ADDRESS,
            "itemList",
        ),
        (
            r#"[{"productId":"OLJCESPC7Z","quantity":-1}]"#,
            ADDRESS,
            "itemList",
        ),
        (r#"[{"productId":"OLJCESPC7Z"}]"#, ADDRESS, "itemList"),
        (r#"{"productId":"OLJCESPC7Z","quantity":1}"#, ADDRESS, "itemList"),
        (good_items, "{", "address"),
        (good_items, r#"{"city":"Mountain View"}"#, "address"),
        (good_items, "[]", "address"),
    ];
    for (items, address, named) in cases {
        let (status, body) = quote(&rates, items, "USD", address).await;
        assert_eq!(status, 400, "{items} {address}: {body}");
        assert_eq!(body["error"]["code"], "invalid_parameter", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{message} does not name {named}");
    }
}

#[tokio::test]
async fn missing_parameters_and_bad_currencies_are_400s() {
    let rates = rates("shipping-missing").await;
    let items = r#"[{"productId":"OLJCESPC7Z","quantity":1}]"#;
    let (status, body) = quote(&rates, items, "XXX", ADDRESS).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("unsupported_currency"))
    );
    let (status, body) = quote(&rates, items, "usd", ADDRESS).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_currency"))
    );
    let request = request("GET", "/api/shipping?currencyCode=USD", None, "shipping-quote");
    let (status, body) = json(
        quote_shipping(&rates, &Flags::none(), request)
            .await
            .unwrap_or_else(|e| e.into_response()),
    );
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("missing_parameter"))
    );
    let too_many =
        serde_json::to_string(&vec![json!({"productId": "OLJCESPC7Z", "quantity": 1}); 101]).unwrap();
    let (status, body) = quote(&rates, &too_many, "USD", ADDRESS).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_parameter"))
    );
}
