//! The currency handlers, called in-process with the API Gateway events the
//! gateway builds, against the template's rates table in the emulator.

use astroshop_currency::{convert_currency, list_currencies};
use astroshop_store::RateTableStore;
use local_stack_testing::{TestTables, json_response as json, request, sample_request};
use serde_json::{Value, json};

async fn rates(prefix: &str) -> RateTableStore {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    RateTableStore::new(tables.dynamodb(), tables.setting("CURRENCY_RATES_TABLE"))
}

async fn convert(rates: &RateTableStore, query: &str) -> (u16, Value) {
    let request = request(
        "GET",
        &format!("/api/currency/convert?{query}"),
        None,
        "currency-convert",
    );
    json(
        convert_currency(rates, request)
            .await
            .unwrap_or_else(|e| e.into_response()),
    )
}

#[tokio::test]
async fn the_33_currencies_of_the_rates_are_listed() {
    let rates = rates("currency-list").await;
    let (status, codes) = json(
        list_currencies(&rates, request("GET", "/api/currency", None, "currency-list"))
            .await
            .unwrap(),
    );
    assert_eq!(status, 200);
    let codes = codes.as_array().unwrap();
    assert_eq!(codes.len(), 33);
    assert!(codes.contains(&json!("EUR")) && codes.contains(&json!("JPY")));
}

#[tokio::test]
async fn conversion_is_exact_to_the_nano() {
    let rates = rates("currency-convert").await;
    let (status, body) = convert(&rates, "from=USD&to=EUR&units=101&nanos=960000000").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"currencyCode": "EUR", "units": 90, "nanos": 190181336})
    );
    // 10 EUR in GBP at 0.8597: exactly 8.597.
    let (_, body) = convert(&rates, "from=EUR&to=GBP&units=10").await;
    assert_eq!(
        body,
        json!({"currencyCode": "GBP", "units": 8, "nanos": 597000000})
    );
}

#[tokio::test]
async fn bad_conversion_requests_are_400s_that_say_why() {
    let rates = rates("currency-bad").await;
    for (query, code) in [
        ("to=EUR&units=1", "missing_parameter"),
        ("from=USD&units=1", "missing_parameter"),
        ("from=USD&to=EUR", "missing_parameter"),
        ("from=usd&to=EUR&units=1", "invalid_currency"),
        ("from=USD&to=XXX&units=1", "unsupported_currency"),
        ("from=USD&to=EUR&units=one", "invalid_amount"),
        ("from=USD&to=EUR&units=1&nanos=1000000000", "invalid_amount"),
        ("from=USD&to=EUR&units=1&nanos=-5", "invalid_amount"),
        ("from=USD&to=EUR&units=99999999999999999999", "invalid_amount"),
        ("from=EUR&to=IDR&units=9223372036854775807", "amount_out_of_range"),
    ] {
        let (status, body) = convert(&rates, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], code, "{query}: {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn the_sample_events_in_events_are_served() {
    let rates = rates("currency-sample").await;
    let request = sample_request("http/currency-convert.json").unwrap();
    let (status, body) = json(convert_currency(&rates, request).await.unwrap());
    assert_eq!((status, body["units"].as_i64()), (200, Some(90)));
    let request = sample_request("http/currency-list.json").unwrap();
    let (status, codes) = json(list_currencies(&rates, request).await.unwrap());
    assert_eq!((status, codes.as_array().map(Vec::len)), (200, Some(33)));
}
