//! The hold and release steps, fed SQS batches of bus events exactly as the
//! rules' queues deliver them, against the template's table and bus in the
//! emulator. What they publish is caught on the bus by a tap, as the next
//! step would receive it.

use std::collections::BTreeMap;

use astroshop_domain::ProductId;
use astroshop_domain::events::{
    DomainEvent, Envelope, OrderConfirmed, OrderFailed, OrderPlaced, PaymentFailed, SealedCard,
};
use astroshop_domain::order::{Order, OrderId};
use astroshop_inventory::store::{InventoryTable, Reservation, ReservationStatus, Reservations, StockLevels};
use astroshop_inventory::{release_stock, reserve_stock};
use astroshop_saga::{Publisher, consume};
use aws_lambda_events::event::sqs::SqsBatchResponse;
use local_stack_testing::{EventTap, TestTables, bus_event, failed_ids, sqs_event};
use serde_json::{Value, json};

struct Saga {
    stock: InventoryTable,
    bus: Publisher,
    bus_down: Publisher,
    tap: EventTap,
    tables: TestTables,
}

async fn saga(prefix: &str) -> Saga {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    let tap = EventTap::attach(&tables).await.expect("tap attached");
    Saga {
        stock: InventoryTable::new(tables.dynamodb(), tables.setting("INVENTORY_TABLE")),
        bus: tables.publisher(),
        bus_down: tables.publisher_while_the_bus_is_down(),
        tap,
        tables,
    }
}

/// An order for `lines` of (product, quantity), as checkout places it.
fn order(lines: &[(&str, u32)]) -> Order {
    let items: Vec<Value> = lines
        .iter()
        .map(|(product, quantity)| {
            json!({
                "item": {"productId": product, "quantity": quantity},
                "cost": {"currencyCode": "USD", "units": 10, "nanos": 0}
            })
        })
        .collect();
    serde_json::from_value(json!({
        "orderId": uuid::Uuid::new_v4().to_string(),
        "userId": "larry",
        "email": "larry@example.com",
        "currencyCode": "USD",
        "items": items,
        "shippingCost": {"currencyCode": "USD", "units": 8, "nanos": 990000000},
        "total": {"currencyCode": "USD", "units": 18, "nanos": 990000000},
        "shippingAddress": {
            "streetAddress": "1600 Amphitheatre Parkway", "city": "Mountain View",
            "state": "CA", "country": "United States", "zipCode": "94043"
        },
        "card": {"cardType": "visa", "last4": "0454"},
        "placedAt": "2026-11-21T10:00:00Z"
    }))
    .expect("a well-formed order")
}

/// The SQS message body of `event` on the bus.
fn message<T: DomainEvent>(event: T) -> String {
    let envelope = Envelope::first(event, astroshop_saga::now(), None);
    bus_event(
        T::SOURCE,
        T::DETAIL_TYPE,
        &serde_json::to_value(&envelope).unwrap(),
    )
}

fn placed(order: &Order) -> String {
    message(OrderPlaced {
        order: order.clone(),
        card: SealedCard {
            ciphertext: "c2VhbGVk".into(),
        },
    })
}

fn payment_failed(order: &Order) -> String {
    message(PaymentFailed {
        order: order.clone(),
        reason: "the card number is not valid".into(),
    })
}

fn order_failed(order: &Order) -> String {
    message(OrderFailed {
        order: order.clone(),
        reason: "the card number is not valid".into(),
    })
}

impl Saga {
    async fn reserve(&self, bodies: &[String]) -> SqsBatchResponse {
        consume(sqs_event(bodies), |delivery| {
            reserve_stock(&self.stock, &self.bus, delivery)
        })
        .await
    }

    async fn reserve_while_the_bus_is_down(&self, bodies: &[String]) -> SqsBatchResponse {
        consume(sqs_event(bodies), |delivery| {
            reserve_stock(&self.stock, &self.bus_down, delivery)
        })
        .await
    }

    async fn release_while_the_bus_is_down(&self, bodies: &[String]) -> SqsBatchResponse {
        consume(sqs_event(bodies), |delivery| {
            release_stock(&self.stock, &self.bus_down, delivery)
        })
        .await
    }

    async fn release(&self, bodies: &[String]) -> SqsBatchResponse {
        consume(sqs_event(bodies), |delivery| {
            release_stock(&self.stock, &self.bus, delivery)
        })
        .await
    }

    async fn stock_up(&self, levels: &[(&str, u64)]) {
        for (product, available) in levels {
            let product = ProductId::parse(product).unwrap();
            self.stock.set_stock(&product, *available).await.unwrap();
        }
    }

    async fn available(&self, product: &str) -> Option<u64> {
        let product = ProductId::parse(product).unwrap();
        self.stock
            .stock_level(&product)
            .await
            .unwrap()
            .map(|level| level.available)
    }

    async fn reservation(&self, order: &Order) -> Option<Reservation> {
        self.stock.reservation(&order.order_id).await.unwrap()
    }

    /// The events published for `order`, as (detail-type, detail).
    async fn published_for(&self, order: &OrderId) -> Vec<(String, Value)> {
        self.tap
            .events()
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, detail)| detail["metadata"]["correlationId"] == order.as_str())
            .collect()
    }
}

fn lines(pairs: &[(&str, u32)]) -> Value {
    pairs
        .iter()
        .map(|(product, quantity)| json!({"productId": product, "quantity": quantity}))
        .collect()
}

#[tokio::test]
async fn twenty_concurrent_holds_of_one_unit_for_five_in_stock_hold_exactly_five() {
    let saga = saga("invpay-inv-race").await;
    saga.stock_up(&[("RACE-1", 5)]).await;
    let orders: Vec<Order> = (0..20).map(|_| order(&[("RACE-1", 1)])).collect();
    let messages: Vec<[String; 1]> = orders.iter().map(|order| [placed(order)]).collect();
    let responses = futures::future::join_all(messages.iter().map(|batch| saga.reserve(batch))).await;
    assert!(responses.iter().all(|r| r.batch_item_failures.is_empty()));

    let mut statuses = BTreeMap::new();
    for order in &orders {
        let status = saga
            .reservation(order)
            .await
            .expect("every order has a reservation")
            .status;
        *statuses.entry(format!("{status:?}")).or_insert(0) += 1;
    }
    assert_eq!(
        statuses,
        BTreeMap::from([("Failed".into(), 15), ("Reserved".into(), 5)])
    );
    assert_eq!(saga.available("RACE-1").await, Some(0));

    let mut published = BTreeMap::new();
    for (kind, detail) in saga.tap.events().await.unwrap() {
        if kind == "InventoryReservationFailed.v1" {
            assert_eq!(detail["data"]["reason"], "only 0 of RACE-1 available, 1 ordered");
        }
        *published.entry(kind).or_insert(0) += 1;
    }
    assert_eq!(
        published,
        BTreeMap::from([
            ("InventoryReservationFailed.v1".into(), 15),
            ("InventoryReserved.v1".into(), 5)
        ])
    );
}

#[tokio::test]
async fn a_redelivered_order_placed_holds_nothing_more_and_publishes_the_same_outcome() {
    let saga = saga("invpay-inv-duplicate").await;
    saga.stock_up(&[("DUP-A", 10), ("DUP-B", 1)]).await;
    let held = order(&[("DUP-A", 2), ("DUP-B", 1)]);
    let short = order(&[("DUP-A", 1), ("DUP-B", 1)]);
    for _ in 0..2 {
        assert!(
            saga.reserve(&[placed(&held)])
                .await
                .batch_item_failures
                .is_empty()
        );
    }
    for _ in 0..2 {
        assert!(
            saga.reserve(&[placed(&short)])
                .await
                .batch_item_failures
                .is_empty()
        );
    }
    assert_eq!(saga.available("DUP-A").await, Some(8));
    assert_eq!(saga.available("DUP-B").await, Some(0));

    let reserved = saga.published_for(&held.order_id).await;
    assert_eq!(reserved.len(), 2, "{reserved:?}");
    assert_eq!(reserved[0].0, "InventoryReserved.v1");
    assert_eq!(reserved[1].0, "InventoryReserved.v1");
    assert_eq!(reserved[0].1["data"], reserved[1].1["data"]);
    assert_eq!(
        reserved[0].1["metadata"]["eventId"],
        reserved[1].1["metadata"]["eventId"]
    );
    let data = &reserved[0].1["data"];
    assert_eq!(data["order"], serde_json::to_value(&held).unwrap());
    assert_eq!(
        data["card"]["ciphertext"], "c2VhbGVk",
        "the sealed card goes on to payment"
    );
    assert_eq!(
        reserved[0].1["metadata"]["eventId"],
        format!("{}/InventoryReserved.v1", held.order_id)
    );

    let failed = saga.published_for(&short.order_id).await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].0, "InventoryReservationFailed.v1");
    assert_eq!(failed[0].1["data"], failed[1].1["data"]);
    assert_eq!(
        failed[0].1["data"]["reason"],
        "only 0 of DUP-B available, 1 ordered"
    );
}

#[tokio::test]
async fn an_order_short_on_one_line_holds_none_of_its_lines_and_names_what_is_short() {
    let saga = saga("invpay-inv-short").await;
    saga.stock_up(&[("SHORT-A", 10), ("SHORT-B", 2)]).await;
    let order = order(&[("SHORT-A", 2), ("SHORT-B", 3), ("SHORT-C", 1)]);
    assert!(
        saga.reserve(&[placed(&order)])
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(saga.available("SHORT-A").await, Some(10));
    assert_eq!(saga.available("SHORT-B").await, Some(2));
    assert_eq!(saga.available("SHORT-C").await, None, "no stock item is made up");
    let reservation = saga.reservation(&order).await.unwrap();
    assert_eq!(reservation.status, ReservationStatus::Failed);
    let published = saga.published_for(&order.order_id).await;
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0].1["data"]["reason"],
        "only 2 of SHORT-B available, 3 ordered; SHORT-C is not stocked"
    );
}

#[tokio::test]
async fn a_release_gives_back_exactly_what_was_held_and_a_second_one_nothing_more() {
    let saga = saga("invpay-inv-release").await;
    saga.stock_up(&[("REL-A", 10), ("REL-B", 5), ("REL-C", 7)]).await;
    let order = order(&[("REL-A", 3), ("REL-B", 1)]);
    assert!(
        saga.reserve(&[placed(&order)])
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(saga.available("REL-A").await, Some(7));
    // Meanwhile others buy: the release adds back, it does not reset.
    saga.stock_up(&[("REL-B", 2)]).await;

    // The payment failed, and then the order: two releases for one order.
    assert!(
        saga.release(&[payment_failed(&order)])
            .await
            .batch_item_failures
            .is_empty()
    );
    assert!(
        saga.release(&[order_failed(&order)])
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(saga.available("REL-A").await, Some(10));
    assert_eq!(saga.available("REL-B").await, Some(3));
    assert_eq!(saga.available("REL-C").await, Some(7));
    assert_eq!(
        saga.reservation(&order).await.unwrap().status,
        ReservationStatus::Released
    );

    let released: Vec<(String, Value)> = saga
        .published_for(&order.order_id)
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "InventoryReleased.v1")
        .collect();
    assert_eq!(released.len(), 2, "{released:?}");
    for (_, detail) in &released {
        assert_eq!(detail["data"]["orderId"], order.order_id.as_str());
        assert_eq!(detail["data"]["items"], lines(&[("REL-A", 3), ("REL-B", 1)]));
        assert_eq!(
            detail["metadata"]["eventId"],
            format!("{}/InventoryReleased.v1", order.order_id)
        );
    }
}

#[tokio::test]
async fn a_release_before_the_hold_leaves_a_tombstone_so_the_late_hold_holds_nothing() {
    let saga = saga("invpay-inv-tombstone").await;
    saga.stock_up(&[("LATE-A", 4)]).await;
    let order = order(&[("LATE-A", 2)]);
    assert!(
        saga.release(&[order_failed(&order)])
            .await
            .batch_item_failures
            .is_empty()
    );
    assert!(
        saga.reserve(&[placed(&order)])
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(saga.available("LATE-A").await, Some(4));
    let reservation = saga.reservation(&order).await.unwrap();
    assert_eq!(
        (reservation.status, reservation.items),
        (ReservationStatus::Released, vec![])
    );
    let published = saga.published_for(&order.order_id).await;
    assert_eq!(published.len(), 1, "only the release is published: {published:?}");
    assert_eq!(published[0].0, "InventoryReleased.v1");
    assert_eq!(published[0].1["data"]["items"], json!([]));
}

#[tokio::test]
async fn releasing_an_order_that_could_not_be_held_gives_back_nothing() {
    let saga = saga("invpay-inv-release-failed").await;
    saga.stock_up(&[("NONE-A", 1)]).await;
    let order = order(&[("NONE-A", 2)]);
    assert!(
        saga.reserve(&[placed(&order)])
            .await
            .batch_item_failures
            .is_empty()
    );
    assert!(
        saga.release(&[order_failed(&order)])
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(saga.available("NONE-A").await, Some(1));
    assert_eq!(
        saga.reservation(&order).await.unwrap().status,
        ReservationStatus::Failed
    );
    let kinds: Vec<(String, Value)> = saga
        .published_for(&order.order_id)
        .await
        .into_iter()
        .map(|(kind, detail)| (kind, detail["data"]["items"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("InventoryReservationFailed.v1".to_owned(), Value::Null),
            ("InventoryReleased.v1".to_owned(), json!([]))
        ]
    );
}

#[tokio::test]
async fn unreadable_and_foreign_messages_fail_alone_and_the_rest_of_the_batch_is_handled() {
    let saga = saga("invpay-inv-poison").await;
    saga.stock_up(&[("POISON-A", 3)]).await;
    let good = order(&[("POISON-A", 1)]);
    let mut broken: Value = serde_json::from_str(&placed(&good)).unwrap();
    broken["detail"]["data"]["order"]["orderId"] = json!("not-an-order-id");
    let confirmed = message(OrderConfirmed {
        order: good.clone(),
        tracking_id: "TRACK".into(),
    });
    let batch = [
        "{not json".to_owned(),
        broken.to_string(),
        confirmed.clone(),
        placed(&good),
    ];
    assert_eq!(failed_ids(&saga.reserve(&batch).await), ["m0", "m1", "m2"]);
    assert_eq!(saga.available("POISON-A").await, Some(2));

    let batch = ["{not json".to_owned(), confirmed, payment_failed(&good)];
    assert_eq!(failed_ids(&saga.release(&batch).await), ["m0", "m1"]);
    assert_eq!(saga.available("POISON-A").await, Some(3));
}

#[tokio::test]
async fn a_hold_against_a_missing_table_fails_the_message_publishes_nothing_and_its_retry_holds() {
    let saga = saga("invpay-inv-no-table").await;
    saga.stock_up(&[("NOTABLE-A", 4)]).await;
    let order = order(&[("NOTABLE-A", 3)]);
    let missing = InventoryTable::new(
        saga.tables.dynamodb(),
        format!("{}-NoSuchInventoryTable", saga.tables.prefix()),
    );
    let batch = [placed(&order)];
    let response = consume(sqs_event(&batch), |delivery| {
        reserve_stock(&missing, &saga.bus, delivery)
    })
    .await;
    assert_eq!(failed_ids(&response), ["m0"], "the queue retries the message");
    assert_eq!(
        saga.published_for(&order.order_id).await,
        [],
        "no outcome is published"
    );
    assert_eq!(saga.reservation(&order).await, None);
    assert_eq!(saga.available("NOTABLE-A").await, Some(4));

    assert!(saga.reserve(&batch).await.batch_item_failures.is_empty());
    assert_eq!(saga.available("NOTABLE-A").await, Some(1));
    let kinds = saga.tap.detail_types_for(order.order_id.as_str()).await.unwrap();
    assert_eq!(kinds, ["InventoryReserved.v1"]);
}

/// A Lambda SQS event shipped in `events/sqs`.
fn sample(json: &str) -> lambda_runtime::LambdaEvent<aws_lambda_events::event::sqs::SqsEvent> {
    let event = serde_json::from_str(json).expect("the sample is an SQS event");
    lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default())
}

#[tokio::test]
async fn the_sample_events_hold_and_give_back_the_seeded_stock() {
    let saga = saga("invpay-inv-samples").await;
    let order = OrderId::parse("3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11").unwrap();
    let reserve = sample(include_str!("../../../events/sqs/inventory-reserve.json"));
    let held = consume(reserve, |delivery| {
        reserve_stock(&saga.stock, &saga.bus, delivery)
    })
    .await;
    assert!(held.batch_item_failures.is_empty());
    assert_eq!(saga.available("OLJCESPC7Z").await, Some(248));
    assert_eq!(saga.available("66VCHSJNUP").await, Some(119));

    let release = sample(include_str!("../../../events/sqs/inventory-release.json"));
    let released = consume(release, |delivery| {
        release_stock(&saga.stock, &saga.bus, delivery)
    })
    .await;
    assert!(released.batch_item_failures.is_empty());
    assert_eq!(saga.available("OLJCESPC7Z").await, Some(250));
    assert_eq!(saga.available("66VCHSJNUP").await, Some(120));
    let kinds = saga.tap.detail_types_for(order.as_str()).await.unwrap();
    assert_eq!(kinds, ["InventoryReserved.v1", "InventoryReleased.v1"]);
}

#[tokio::test]
async fn a_hold_whose_publish_failed_is_announced_by_its_redelivery_and_held_once() {
    let saga = saga("invpay-inv-bus-down").await;
    saga.stock_up(&[("DOWN-A", 5)]).await;
    let order = order(&[("DOWN-A", 2)]);

    let failed = saga.reserve_while_the_bus_is_down(&[placed(&order)]).await;
    assert_eq!(failed_ids(&failed).len(), 1, "the message goes back to its queue");
    assert_eq!(saga.available("DOWN-A").await, Some(3), "the hold was written");
    assert!(saga.published_for(&order.order_id).await.is_empty());

    let redelivered = saga.reserve(&[placed(&order)]).await;
    assert!(failed_ids(&redelivered).is_empty());
    assert_eq!(saga.available("DOWN-A").await, Some(3), "held once");
    let kinds = saga.tap.detail_types_for(order.order_id.as_str()).await.unwrap();
    assert_eq!(kinds, ["InventoryReserved.v1"]);
}

#[tokio::test]
async fn a_release_whose_publish_failed_is_announced_by_its_redelivery_and_gives_back_once() {
    let saga = saga("invpay-inv-release-bus-down").await;
    saga.stock_up(&[("DOWN-B", 5)]).await;
    let order = order(&[("DOWN-B", 2)]);
    assert!(failed_ids(&saga.reserve(&[placed(&order)]).await).is_empty());

    let failed = saga.release_while_the_bus_is_down(&[order_failed(&order)]).await;
    assert_eq!(failed_ids(&failed).len(), 1, "the message goes back to its queue");
    assert_eq!(
        saga.available("DOWN-B").await,
        Some(5),
        "the units were given back"
    );

    let redelivered = saga.release(&[order_failed(&order)]).await;
    assert!(failed_ids(&redelivered).is_empty());
    assert_eq!(saga.available("DOWN-B").await, Some(5), "given back once");
    let released: Vec<Value> = saga
        .published_for(&order.order_id)
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "InventoryReleased.v1")
        .map(|(_, detail)| detail["data"]["items"].clone())
        .collect();
    assert_eq!(released, [lines(&[("DOWN-B", 2)])]);
}
