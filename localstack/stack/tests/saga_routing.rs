//! The shop template's saga wiring, provisioned in the emulator: every event
//! the bus receives reaches exactly the queues whose rules name it, as the
//! event catalogue (`events/README.md`) says.

use std::collections::BTreeSet;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use local_stack_testing::{EventTap, TestTables};
use serde_json::json;

/// Every saga queue, by the logical id prefix of the template.
const QUEUES: [&str; 10] = [
    "InventoryReserve",
    "PaymentCharge",
    "InventoryRelease",
    "PaymentRefund",
    "Shipping",
    "OrderState",
    "CartClear",
    "Notification",
    "Accounting",
    "Fraud",
];

async fn queues_holding_a_message(tables: &TestTables) -> BTreeSet<&'static str> {
    let sqs = aws_sdk_sqs::Client::new(tables.config());
    let mut holding = BTreeSet::new();
    for queue in QUEUES {
        let name = format!("{}-{queue}Queue", tables.prefix());
        let url = sqs
            .get_queue_url()
            .queue_name(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("queue {name}: {e:?}"));
        let received = sqs
            .receive_message()
            .queue_url(url.queue_url().unwrap())
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        if !received.messages().is_empty() {
            holding.insert(queue);
        }
    }
    holding
}

/// The queues an event put on the bus lands in; and whether the tap (every
/// saga source) saw it.
async fn routed_to(prefix: &str, source: &str, detail_type: &str) -> (BTreeSet<&'static str>, bool) {
    let tables = TestTables::provision(prefix).await.expect("template provisioned");
    let tap = EventTap::attach(&tables).await.unwrap();
    let events = aws_sdk_eventbridge::Client::new(tables.config());
    let detail = json!({"metadata": {"eventId": "e", "occurredAt": "2026-11-21T10:00:00Z", "correlationId": "o"}, "data": {}});
    let sent = events
        .put_events()
        .entries(
            PutEventsRequestEntry::builder()
                .event_bus_name(tables.setting("EVENT_BUS_NAME"))
                .source(source)
                .detail_type(detail_type)
                .detail(detail.to_string())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(sent.failed_entry_count(), 0);
    let tapped = tap.detail_types().await.unwrap() == [detail_type];
    (queues_holding_a_message(&tables).await, tapped)
}

#[tokio::test]
async fn order_placed_goes_to_reservation_and_order_state() {
    let (queues, tapped) = routed_to("routing-placed", "astroshop.orders", "OrderPlaced.v1").await;
    assert!(tapped);
    assert_eq!(queues, BTreeSet::from(["InventoryReserve", "OrderState"]));
}

#[tokio::test]
async fn a_failed_payment_is_compensated_and_recorded() {
    let (queues, tapped) = routed_to("routing-payfail", "astroshop.payment", "PaymentFailed.v1").await;
    assert!(tapped);
    assert_eq!(queues, BTreeSet::from(["InventoryRelease", "OrderState"]));
}

#[tokio::test]
async fn a_confirmed_order_fans_out_to_the_side_steps() {
    let (queues, tapped) = routed_to("routing-confirmed", "astroshop.orders", "OrderConfirmed.v1").await;
    assert!(tapped);
    assert_eq!(
        queues,
        BTreeSet::from(["CartClear", "Notification", "Accounting", "Fraud"])
    );
}

#[tokio::test]
async fn a_failed_order_is_released_refunded_mailed_and_never_shipped() {
    let (queues, tapped) = routed_to("routing-failed", "astroshop.orders", "OrderFailed.v1").await;
    assert!(tapped);
    assert_eq!(
        queues,
        BTreeSet::from(["InventoryRelease", "PaymentRefund", "Notification", "Shipping"])
    );
}

#[tokio::test]
async fn a_withheld_shipment_joins_the_orders_history_only() {
    let (queues, tapped) = routed_to("routing-withheld", "astroshop.shipping", "ShipmentWithheld.v1").await;
    assert!(tapped);
    assert_eq!(queues, BTreeSet::from(["OrderState"]));
}

#[tokio::test]
async fn an_event_from_the_wrong_source_reaches_no_queue() {
    let (queues, tapped) = routed_to("routing-spoofed", "astroshop.storefront", "OrderPlaced.v1").await;
    assert!(queues.is_empty() && !tapped, "{queues:?}");
}
