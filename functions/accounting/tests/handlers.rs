//! The ledger consumer, called in-process with SQS batches as Lambda hands
//! them over, against the template's Ledger table in the emulator.

use astroshop_accounting::{LedgerTable, count_confirmed_order};
use astroshop_saga::consume;
use aws_sdk_dynamodb::types::AttributeValue;
use local_stack_testing::{TestTables, bus_event, failed_ids, sqs_event};
use serde_json::{Value, json};

struct Books {
    tables: TestTables,
    ledger: LedgerTable,
}

async fn books(prefix: &str) -> Books {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    Books {
        ledger: LedgerTable::new(tables.dynamodb(), tables.setting("LEDGER_TABLE")),
        tables,
    }
}

/// An order of `units`.`nanos` in `currency`, placed at `placed_at`.
fn order(currency: &str, units: i64, nanos: i64, placed_at: &str) -> Value {
    let order_id = uuid::Uuid::new_v4().to_string();
    json!({
        "orderId": order_id, "userId": "larry", "email": "larry@example.com",
        "currencyCode": currency,
        "items": [{"item": {"productId": "OLJCESPC7Z", "quantity": 1},
                   "cost": {"currencyCode": currency, "units": units, "nanos": nanos}}],
        "shippingCost": {"currencyCode": currency, "units": 0, "nanos": 0},
        "total": {"currencyCode": currency, "units": units, "nanos": nanos},
        "shippingAddress": {"streetAddress": "1600 Amphitheatre Parkway", "city": "Mountain View",
                            "state": "CA", "country": "United States", "zipCode": "94043"},
        "card": {"cardType": "visa", "last4": "0454"},
        "placedAt": placed_at,
    })
}

fn confirmed(order: &Value) -> String {
    let id = order["orderId"].as_str().unwrap();
    bus_event(
        "astroshop.orders",
        "OrderConfirmed.v1",
        &json!({
            "metadata": {"eventId": format!("{id}/OrderConfirmed.v1"), "occurredAt": "2026-11-21T10:00:01Z",
                         "correlationId": id, "causationId": format!("{id}/OrderShipped.v1")},
            "data": {"order": order, "trackingId": "5f0c2a8e-7d41-4b9a-a3e6-1c8b7d2f9e04"},
        }),
    )
}

impl Books {
    /// Delivers a batch; the ids of the messages that failed.
    async fn deliver(&self, bodies: &[String]) -> Vec<String> {
        failed_ids(
            &consume(sqs_event(bodies), |delivery| {
                count_confirmed_order(&self.ledger, delivery)
            })
            .await,
        )
    }

    /// The daily total `<currency>#<day>` as (total nanos, orders), if any.
    async fn total(&self, key: &str) -> Option<(i128, u64)> {
        let item = self
            .tables
            .dynamodb()
            .get_item()
            .table_name(self.tables.setting("LEDGER_TABLE"))
            .key("pk", AttributeValue::S(key.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item?;
        let number = |name: &str| item[name].as_n().unwrap().clone();
        Some((
            number("totalNanos").parse().unwrap(),
            number("orders").parse().unwrap(),
        ))
    }
}

#[tokio::test]
async fn confirmed_orders_add_up_exactly_per_currency_and_day() {
    let books = books("side-ledger-totals").await;
    let failed = books
        .deliver(&[
            confirmed(&order("USD", 580, 840_000_000, "2026-11-21T10:00:00Z")),
            confirmed(&order("USD", 0, 160_000_001, "2026-11-21T23:59:59Z")),
            confirmed(&order("EUR", 99, 990_000_000, "2026-11-21T12:00:00Z")),
            // 21:30 in New York is the next day in UTC.
            confirmed(&order("USD", 10, 0, "2026-11-21T21:30:00-05:00")),
        ])
        .await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(books.total("USD#2026-11-21").await, Some((581_000_000_001, 2)));
    assert_eq!(books.total("EUR#2026-11-21").await, Some((99_990_000_000, 1)));
    assert_eq!(books.total("USD#2026-11-22").await, Some((10_000_000_000, 1)));
}

#[tokio::test]
async fn ten_concurrent_duplicate_deliveries_count_the_order_once() {
    let books = books("side-ledger-duplicates").await;
    let first = order("USD", 123, 450_000_000, "2026-11-21T10:00:00Z");
    let second = order("USD", 1, 0, "2026-11-21T11:00:00Z");
    let body = confirmed(&first);
    let deliveries = (0..10).map(|_| books.deliver(std::slice::from_ref(&body)));
    let failed = futures::future::join_all(deliveries)
        .await
        .into_iter()
        .filter(|failed| !failed.is_empty())
        .count();
    // A delivery that lost a race with a concurrent transaction fails and SQS
    // delivers it again; with the race over, each redelivery is handled.
    for _ in 0..failed {
        assert!(books.deliver(std::slice::from_ref(&body)).await.is_empty());
    }
    assert!(books.deliver(&[confirmed(&second)]).await.is_empty());
    assert_eq!(books.total("USD#2026-11-21").await, Some((124_450_000_000, 2)));
}

#[tokio::test]
async fn unreadable_and_unexpected_messages_fail_alone_and_count_nothing() {
    let books = books("side-ledger-poison").await;
    let good = order("USD", 5, 0, "2026-11-21T10:00:00Z");
    let mut wrong_type = order("USD", 7, 0, "2026-11-21T10:00:00Z");
    let not_a_time = order("USD", 9, 0, "last tuesday");
    let failed_event = bus_event(
        "astroshop.orders",
        "OrderFailed.v1",
        &json!({"metadata": {"eventId": "x/OrderFailed.v1", "occurredAt": "2026-11-21T10:00:01Z",
                             "correlationId": "x"},
                "data": {"order": wrong_type.take(), "reason": "declined"}}),
    );
    let failed = books
        .deliver(&[
            "{not json".to_owned(),
            confirmed(&good),
            failed_event,
            confirmed(&not_a_time),
        ])
        .await;
    assert_eq!(failed, ["m0", "m2", "m3"]);
    assert_eq!(books.total("USD#2026-11-21").await, Some((5_000_000_000, 1)));
}
