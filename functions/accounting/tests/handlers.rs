//! The ledger consumer, called in-process with SQS batches as Lambda hands
//! them over, against the template's Ledger table in the emulator. The
//! emulator runs one request at a time, so it never cancels a transaction
//! for a conflict as DynamoDB does under contention: [`Contended`] answers
//! some with DynamoDB's cancellation instead, and passes the rest on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use astroshop_accounting::{
    CONFLICTS, Counted, Ledger, LedgerEntry, LedgerError, LedgerTable, count_confirmed_order,
};
use astroshop_domain::{CurrencyCode, OrderId};
use astroshop_saga::consume;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::CancellationReason;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use local_stack_testing::{TestTables, bus_event, failed_ids, sqs_event};
use serde_json::{Value, json};
use time::Date;
use time::macros::date;

struct Books {
    ledger: LedgerTable,
}

async fn books(prefix: &str) -> Books {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    Books {
        ledger: LedgerTable::new(tables.dynamodb(), tables.setting("LEDGER_TABLE")),
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

/// Delivers a batch to the consumer counting into `ledger`; the ids of the
/// messages that failed.
async fn deliver_to(ledger: &impl Ledger, bodies: &[String]) -> Vec<String> {
    failed_ids(
        &consume(sqs_event(bodies), |delivery| {
            count_confirmed_order(ledger, delivery)
        })
        .await,
    )
}

impl Books {
    /// Delivers a batch; the ids of the messages that failed.
    async fn deliver(&self, bodies: &[String]) -> Vec<String> {
        deliver_to(&self.ledger, bodies).await
    }

    /// A currency's total on a day as (total nanos, orders).
    async fn total(&self, currency: &str, day: Date) -> (i128, u64) {
        let total = self
            .ledger
            .daily_total(&CurrencyCode::parse(currency).unwrap(), day)
            .await
            .unwrap();
        (total.total_nanos, total.orders)
    }
}

/// The ledger table under contention, as DynamoDB answers it: the
/// transactions of the orders it is given are cancelled for a conflict on
/// their total, as many times as it is given, with the error DynamoDB
/// sends; every other transaction is the table's own.
struct Contended {
    table: LedgerTable,
    conflicts_left: Mutex<HashMap<OrderId, u32>>,
    cancelled: AtomicU32,
    sent_to_the_table: AtomicU32,
}

impl Contended {
    fn new(table: LedgerTable, conflicts: HashMap<OrderId, u32>) -> Self {
        Self {
            table,
            conflicts_left: Mutex::new(conflicts),
            cancelled: AtomicU32::new(0),
            sent_to_the_table: AtomicU32::new(0),
        }
    }

    /// Whether this transaction of the order is one to cancel.
    fn cancels(&self, order: &OrderId) -> bool {
        let mut conflicts_left = self.conflicts_left.lock().unwrap();
        match conflicts_left.get_mut(order) {
            Some(left) if *left > 0 => {
                *left -= 1;
                self.cancelled.fetch_add(1, Ordering::SeqCst);
                true
            }
            _ => false,
        }
    }
}

impl Ledger for Contended {
    async fn count(&self, entry: &LedgerEntry) -> Result<Counted, LedgerError> {
        if self.cancels(&entry.order_id) {
            return Err(LedgerError::refused(transaction_conflict(), "Ledger"));
        }
        self.sent_to_the_table.fetch_add(1, Ordering::SeqCst);
        self.table.count(entry).await
    }
}

/// DynamoDB's answer to a transaction while another one is writing an item
/// of it: here the daily total, the transaction's second item.
fn transaction_conflict() -> SdkError<TransactWriteItemsError, HttpResponse> {
    let message = "Transaction cancelled, please refer cancellation reasons for specific reasons \
                   [None, TransactionConflict]";
    let ongoing = "Transaction is ongoing for the item";
    let body = json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": message,
        "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict", "Message": ongoing}],
    });
    let cancelled = TransactionCanceledException::builder()
        .message(message)
        .cancellation_reasons(CancellationReason::builder().code("None").build())
        .cancellation_reasons(
            CancellationReason::builder()
                .code("TransactionConflict")
                .message(ongoing)
                .build(),
        )
        .meta(
            ErrorMetadata::builder()
                .code("TransactionCanceledException")
                .message(message)
                .build(),
        )
        .build();
    let response = http::Response::builder()
        .status(400)
        .header("content-type", "application/x-amz-json-1.0")
        .body(body.to_string().into())
        .unwrap();
    SdkError::service_error(
        TransactWriteItemsError::TransactionCanceledException(cancelled),
        HttpResponse::try_from(response).unwrap(),
    )
}

fn order_id(order: &Value) -> OrderId {
    OrderId::parse(order["orderId"].as_str().unwrap()).unwrap()
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
    assert_eq!(
        books.total("USD", date!(2026 - 11 - 21)).await,
        (581_000_000_001, 2)
    );
    assert_eq!(
        books.total("EUR", date!(2026 - 11 - 21)).await,
        (99_990_000_000, 1)
    );
    assert_eq!(
        books.total("USD", date!(2026 - 11 - 22)).await,
        (10_000_000_000, 1)
    );
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
    // A delivery still losing to a concurrent transaction once its retries
    // are spent fails and SQS delivers it again; with the race over, each
    // redelivery is handled.
    for _ in 0..failed {
        assert!(books.deliver(std::slice::from_ref(&body)).await.is_empty());
    }
    assert!(books.deliver(&[confirmed(&second)]).await.is_empty());
    assert_eq!(
        books.total("USD", date!(2026 - 11 - 21)).await,
        (124_450_000_000, 2)
    );
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
    assert_eq!(
        books.total("USD", date!(2026 - 11 - 21)).await,
        (5_000_000_000, 1)
    );
}

#[tokio::test]
async fn fifty_concurrent_orders_of_one_day_cancelled_by_contention_are_all_counted_exactly() {
    let books = books("side-ledger-contention").await;
    // The n-th order costs n.00n00n EUR: 1_001_000_001 * n nanos.
    let orders: Vec<Value> = (1..=50)
        .map(|n| order("EUR", n, n * 1_000_001, "2026-11-21T10:00:00Z"))
        .collect();
    // Cancelled from none to as many times as the back-off tries again.
    let retries = CONFLICTS.retries().count() as u32;
    assert_eq!(retries, 5);
    let conflicts = orders
        .iter()
        .zip((0..=retries).cycle())
        .map(|(order, conflicts)| (order_id(order), conflicts))
        .collect();
    let ledger = Contended::new(books.ledger.clone(), conflicts);
    let bodies: Vec<String> = orders.iter().map(confirmed).collect();

    // Five invocations of ten messages at once: the function's reserved
    // concurrency times its batch size.
    let batches = bodies.chunks(10).map(|batch| deliver_to(&ledger, batch));
    let failed = futures::future::join_all(batches).await.concat();

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(ledger.cancelled.load(Ordering::SeqCst), 121);
    // Every order written once: no conflict left a write behind.
    assert_eq!(ledger.sent_to_the_table.load(Ordering::SeqCst), 50);
    let total = 1_001_000_001 * (1..=50).sum::<i128>();
    assert_eq!(total, 1_276_275_001_275);
    assert_eq!(books.total("EUR", date!(2026 - 11 - 21)).await, (total, 50));

    // Delivered again, no order is counted twice.
    assert!(books.deliver(&bodies[..10]).await.is_empty());
    assert_eq!(books.total("EUR", date!(2026 - 11 - 21)).await, (total, 50));
}

#[tokio::test]
async fn an_order_cancelled_past_the_back_off_fails_alone_and_is_counted_once_redelivered() {
    let books = books("side-ledger-lasting-conflict").await;
    let held_up = order("EUR", 7, 0, "2026-11-21T10:00:00Z");
    let free = order("EUR", 3, 0, "2026-11-21T11:00:00Z");
    let attempts = CONFLICTS.retries().count() as u32 + 1;
    let ledger = Contended::new(
        books.ledger.clone(),
        HashMap::from([(order_id(&held_up), attempts)]),
    );

    let failed = deliver_to(&ledger, &[confirmed(&held_up), confirmed(&free)]).await;

    assert_eq!(failed, ["m0"]);
    assert_eq!(ledger.cancelled.load(Ordering::SeqCst), attempts);
    assert_eq!(
        books.total("EUR", date!(2026 - 11 - 21)).await,
        (3_000_000_000, 1)
    );
    // The queue delivers it again, once the contention is over.
    assert!(deliver_to(&ledger, &[confirmed(&held_up)]).await.is_empty());
    assert!(deliver_to(&ledger, &[confirmed(&held_up)]).await.is_empty());
    assert_eq!(
        books.total("EUR", date!(2026 - 11 - 21)).await,
        (10_000_000_000, 2)
    );
}
