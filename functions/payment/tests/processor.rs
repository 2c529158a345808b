//! The card processor's handler, called in-process with the API Gateway
//! events the gateway builds, its key read from the emulator's SSM.

use astroshop_edge::BearerKey;
use astroshop_flags::{FlagValues, Flags};
use astroshop_payment::processor::process_charge;
use local_stack_testing::{TestTables, json_response, request};
use serde_json::{Value, json};

const GOOD_VISA: &str = "4432-8015-6152-0454";

fn charge(number: &str, year: u16) -> String {
    json!({
        "orderId": "0d6c1f57-08e8-4a3e-92a1-1f1b0e0c2a11",
        "amount": {"currencyCode": "USD", "units": 42, "nanos": 0},
        "card": {"number": number, "expiry": {"month": 1, "year": year}},
    })
    .to_string()
}

async fn process(tables: &TestTables, flags: &Flags, body: &str, key: Option<&str>) -> (u16, Value) {
    let processor_key = BearerKey::new(
        aws_sdk_ssm::Client::new(tables.config()),
        tables.setting("PROCESSOR_KEY_PARAMETER"),
        BearerKey::TTL,
        "the card processor",
    );
    let mut request = request("POST", "/api/processor/charges", Some(body), "payment-processor");
    if let Some(key) = key {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
    }
    json_response(
        process_charge(&processor_key, flags, request)
            .await
            .unwrap_or_else(|e| e.into_response()),
    )
}

#[tokio::test]
async fn the_processor_charges_by_the_demos_rules_for_payment_alone() {
    let tables = TestTables::provision("processor-rules")
        .await
        .expect("tables provisioned");
    let key = tables.secret("PROCESSOR_KEY_PARAMETER").await;
    let off = Flags::none();
    let (status, approved) = process(&tables, &off, &charge(GOOD_VISA, 2039), Some(&key)).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["outcome"], "approved");
    assert!(
        approved["transactionId"]
            .as_str()
            .is_some_and(|id| id.len() == 36),
        "{approved}"
    );
    let (status, declined) = process(&tables, &off, &charge(GOOD_VISA, 2020), Some(&key)).await;
    assert_eq!(
        (status, declined["outcome"].as_str()),
        (200, Some("declined")),
        "{declined}"
    );
    assert!(
        declined["reason"].as_str().unwrap().contains("expired"),
        "{declined}"
    );
    // Without the key, or with another, nothing is charged.
    assert_eq!(
        process(&tables, &off, &charge(GOOD_VISA, 2039), None).await.0,
        401
    );
    assert_eq!(
        process(&tables, &off, &charge(GOOD_VISA, 2039), Some("guess"))
            .await
            .0,
        403
    );
    assert_eq!(
        process(&tables, &off, "{\"orderId\": 1}", Some(&key)).await.0,
        400
    );
}

#[tokio::test]
async fn with_payment_failure_on_that_share_of_charges_is_declined() {
    let tables = TestTables::provision("processor-failure")
        .await
        .expect("tables provisioned");
    let key = tables.secret("PROCESSOR_KEY_PARAMETER").await;
    let flags = Flags::fixed(
        serde_json::from_value::<FlagValues>(json!({"paymentFailure": {"enabled": true, "rate": 1.0}}))
            .unwrap(),
    );
    let (status, declined) = process(&tables, &flags, &charge(GOOD_VISA, 2039), Some(&key)).await;
    assert_eq!(
        (status, declined["outcome"].as_str()),
        (200, Some("declined")),
        "{declined}"
    );
    assert_eq!(declined["reason"], "the card processor declined the charge");
}
