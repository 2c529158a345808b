//! The fraud consumer, called in-process with SQS batches as Lambda hands
//! them over, with the seeded rates in the emulator and a tap on the bus for
//! what it publishes.

use astroshop_fraud::check_order;
use astroshop_saga::{Publisher, consume};
use astroshop_store::RateTableStore;
use local_stack_testing::{EventTap, TestTables, bus_event, failed_ids, sqs_event};
use serde_json::{Value, json};

struct Fraud {
    rates: RateTableStore,
    publisher: Publisher,
    bus_down: Publisher,
    tap: EventTap,
}

async fn fraud(prefix: &str) -> Fraud {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    Fraud {
        rates: RateTableStore::new(tables.dynamodb(), tables.setting("CURRENCY_RATES_TABLE")),
        publisher: tables.publisher(),
        bus_down: tables.publisher_while_the_bus_is_down(),
        tap: EventTap::attach(&tables).await.expect("tap attached"),
    }
}

/// A confirmed order of `quantity` units at `units` each, in `currency`.
fn confirmed(currency: &str, quantity: u32, units: i64) -> (String, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let money = |units: i64| json!({"currencyCode": currency, "units": units, "nanos": 0});
    let order = json!({
        "orderId": id, "userId": "larry", "email": "larry@example.com", "currencyCode": currency,
        "items": [{"item": {"productId": "OLJCESPC7Z", "quantity": quantity}, "cost": money(units)}],
        "shippingCost": money(0),
        "total": money(units * i64::from(quantity)),
        "shippingAddress": {"streetAddress": "1600 Amphitheatre Parkway", "city": "Mountain View",
                            "state": "CA", "country": "United States", "zipCode": "94043"},
        "card": {"cardType": "visa", "last4": "0454"},
        "placedAt": "2026-11-21T10:00:00Z",
    });
    let body = bus_event(
        "astroshop.orders",
        "OrderConfirmed.v1",
        &json!({
            "metadata": {"eventId": format!("{id}/OrderConfirmed.v1"), "occurredAt": "2026-11-21T10:00:01Z",
                         "correlationId": id, "causationId": format!("{id}/OrderShipped.v1"),
                         "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
            "data": {"order": order, "trackingId": "5f0c2a8e-7d41-4b9a-a3e6-1c8b7d2f9e04"},
        }),
    );
    (id, body)
}

impl Fraud {
    /// Delivers a batch; the ids of the messages that failed.
    async fn deliver(&self, bodies: &[String]) -> Vec<String> {
        self.deliver_on(&self.publisher, bodies).await
    }

    async fn deliver_on(&self, bus: &Publisher, bodies: &[String]) -> Vec<String> {
        failed_ids(
            &consume(sqs_event(bodies), |delivery| {
                check_order(&self.rates, bus, delivery)
            })
            .await,
        )
    }

    async fn flags(&self) -> Vec<Value> {
        self.tap
            .events()
            .await
            .expect("tap read")
            .into_iter()
            .filter(|(kind, _)| kind == "OrderFlagged.v1")
            .map(|(_, detail)| detail)
            .collect()
    }
}

#[tokio::test]
async fn a_large_bulk_order_is_flagged_with_its_score_and_reasons() {
    let fraud = fraud("side-fraud-flag").await;
    let (id, body) = confirmed("USD", 12, 101);
    assert!(fraud.deliver(&[body]).await.is_empty());
    let flags = fraud.flags().await;
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(
        flags[0]["data"],
        json!({"orderId": id, "score": 70, "reasons": [
            "the total 1212.00 USD is 1000 USD or more",
            "12 units of one product (OLJCESPC7Z), 10 or more",
        ]})
    );
    let metadata = &flags[0]["metadata"];
    assert_eq!(metadata["eventId"], format!("{id}/OrderFlagged.v1"));
    assert_eq!(metadata["causationId"], format!("{id}/OrderConfirmed.v1"));
    assert_eq!(metadata["correlationId"], id);
    assert_eq!(
        metadata["traceparent"],
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
}

#[tokio::test]
async fn everyday_orders_are_not_flagged() {
    let fraud = fraud("side-fraud-everyday").await;
    let (_, small) = confirmed("USD", 2, 101);
    // 150 000 yen is 1341.57 USD at the seeded rates: a large order, which
    // alone is noted, not flagged.
    let (_, large) = confirmed("JPY", 1, 150_000);
    assert!(fraud.deliver(&[small, large]).await.is_empty());
    assert_eq!(fraud.flags().await, Vec::<Value>::new());
}

#[tokio::test]
async fn the_dollar_threshold_applies_to_an_order_in_euros() {
    let fraud = fraud("side-fraud-euros").await;
    let (id, body) = confirmed("EUR", 12, 90);
    assert!(fraud.deliver(&[body]).await.is_empty());
    let flags = fraud.flags().await;
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0]["data"]["orderId"], id);
    assert_eq!(
        flags[0]["data"]["reasons"][0],
        "the total 1080.00 EUR (1220.94 USD) is 1000 USD or more"
    );
}

#[tokio::test]
async fn a_redelivered_order_is_flagged_again_as_the_same_event() {
    let fraud = fraud("side-fraud-duplicate").await;
    let (id, body) = confirmed("USD", 60, 101);
    assert!(fraud.deliver(std::slice::from_ref(&body)).await.is_empty());
    assert!(fraud.deliver(&[body]).await.is_empty());
    let flags = fraud.flags().await;
    assert_eq!(flags.len(), 2, "{flags:?}");
    assert_eq!(flags[0]["metadata"]["eventId"], format!("{id}/OrderFlagged.v1"));
    assert_eq!(flags[0]["metadata"]["eventId"], flags[1]["metadata"]["eventId"]);
    assert_eq!(flags[0]["data"], flags[1]["data"]);
}

#[tokio::test]
async fn unreadable_unexpected_and_unpriceable_messages_fail_alone() {
    let fraud = fraud("side-fraud-poison").await;
    let (_, flagged) = confirmed("USD", 12, 101);
    let (_, unknown_currency) = confirmed("XYZ", 12, 101);
    let (_, confirmed_body) = confirmed("USD", 12, 101);
    let wrong_type = confirmed_body.replace("OrderConfirmed.v1\"", "OrderFailed.v1\"");
    let failed = fraud
        .deliver(&["{not json".to_owned(), flagged, wrong_type, unknown_currency])
        .await;
    assert_eq!(failed, ["m0", "m2", "m3"]);
    assert_eq!(fraud.flags().await.len(), 1);
}

#[tokio::test]
async fn a_flag_whose_publish_failed_is_announced_by_its_redelivery() {
    let fraud = fraud("side-fraud-bus-down").await;
    let (id, body) = confirmed("USD", 12, 101);
    let failed = fraud
        .deliver_on(&fraud.bus_down, std::slice::from_ref(&body))
        .await;
    assert_eq!(failed, ["m0"], "the message goes back to its queue");
    assert!(fraud.flags().await.is_empty());

    assert!(fraud.deliver(&[body]).await.is_empty());
    let flags = fraud.flags().await;
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0]["data"]["orderId"], id);
}
