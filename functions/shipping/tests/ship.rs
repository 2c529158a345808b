//! The shipping consumer, called in-process with SQS batches as Lambda hands
//! them over, against the Shipments table in the emulator, with a tap on the
//! bus for what it publishes: paid orders ship once, failed ones never do.

use astroshop_saga::{Publisher, consume};
use astroshop_shipping::ShipmentTable;
use astroshop_shipping::ship::ship_or_withhold;
use aws_sdk_dynamodb::types::AttributeValue;
use local_stack_testing::{EventTap, TestTables, bus_event, failed_ids, sqs_event};
use serde_json::{Value, json};

struct Warehouse {
    tables: TestTables,
    shipments: ShipmentTable,
    publisher: Publisher,
    bus_down: Publisher,
    tap: EventTap,
}

async fn warehouse(prefix: &str) -> Warehouse {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    Warehouse {
        shipments: ShipmentTable::new(tables.dynamodb(), tables.setting("SHIPMENTS_TABLE")),
        publisher: tables.publisher(),
        bus_down: tables.publisher_while_the_bus_is_down(),
        tap: EventTap::attach(&tables).await.expect("tap attached"),
        tables,
    }
}

fn order(id: &str) -> Value {
    let usd = |units: i64, nanos: i64| json!({"currencyCode": "USD", "units": units, "nanos": nanos});
    json!({
        "orderId": id, "userId": "larry", "email": "larry@example.com", "currencyCode": "USD",
        "items": [{"item": {"productId": "OLJCESPC7Z", "quantity": 2}, "cost": usd(101, 960_000_000)}],
        "shippingCost": usd(17, 980_000_000),
        "total": usd(221, 900_000_000),
        "shippingAddress": {"streetAddress": "1600 Amphitheatre Parkway", "city": "Mountain View",
                            "state": "CA", "country": "United States", "zipCode": "94043"},
        "card": {"cardType": "visa", "last4": "0454"},
        "placedAt": "2026-11-21T10:00:00Z",
    })
}

/// A PaymentSucceeded event for a new order; its id and the message body.
fn paid() -> (String, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let body = paid_for(&id);
    (id, body)
}

/// The PaymentSucceeded event of order `id`, as the shipping queue delivers it.
fn paid_for(id: &str) -> String {
    bus_event(
        "astroshop.payment",
        "PaymentSucceeded.v1",
        &json!({
            "metadata": {"eventId": format!("{id}/PaymentSucceeded.v1"), "occurredAt": "2026-11-21T10:00:01Z",
                         "correlationId": id, "causationId": format!("{id}/InventoryReserved.v1"),
                         "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
            "data": {"order": order(id), "payment": {
                "transactionId": "b0f2f8a4-3c1d-4e5f-8a9b-0c1d2e3f4a5b", "cardType": "visa", "last4": "0454",
                "amount": {"currencyCode": "USD", "units": 221, "nanos": 900_000_000}}},
        }),
    )
}

/// Why the sweeper fails the orders of these tests.
const STUCK: &str = "no progress for 300 seconds (stuck after PaymentSucceeded)";

/// The OrderFailed event of order `id`, as the sweeper publishes it.
fn failed(id: &str) -> String {
    bus_event(
        "astroshop.orders",
        "OrderFailed.v1",
        &json!({
            "metadata": {"eventId": format!("{id}/OrderFailed.v1"), "occurredAt": "2026-11-21T10:05:00Z",
                         "correlationId": id,
                         "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
            "data": {"order": order(id), "reason": STUCK},
        }),
    )
}

impl Warehouse {
    /// Delivers a batch; the ids of the messages that failed.
    async fn deliver(&self, bodies: &[String]) -> Vec<String> {
        self.deliver_on(&self.publisher, bodies).await
    }

    async fn deliver_on(&self, bus: &Publisher, bodies: &[String]) -> Vec<String> {
        failed_ids(
            &consume(sqs_event(bodies), |delivery| {
                ship_or_withhold(&self.shipments, bus, delivery)
            })
            .await,
        )
    }

    async fn shipment(&self, order_id: &str) -> Option<Value> {
        let item = self
            .tables
            .dynamodb()
            .get_item()
            .table_name(self.tables.setting("SHIPMENTS_TABLE"))
            .key("orderId", AttributeValue::S(order_id.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item?;
        Some(serde_dynamo::from_item(item).unwrap())
    }

    async fn shipped(&self) -> Vec<Value> {
        self.published("OrderShipped.v1").await
    }

    async fn withheld(&self) -> Vec<Value> {
        self.published("ShipmentWithheld.v1").await
    }

    /// The events of one type published so far, oldest first.
    async fn published(&self, detail_type: &str) -> Vec<Value> {
        self.tap
            .events()
            .await
            .expect("tap read")
            .into_iter()
            .filter(|(kind, _)| kind == detail_type)
            .map(|(_, detail)| detail)
            .collect()
    }

    async fn shipment_count(&self) -> i32 {
        self.tables
            .dynamodb()
            .scan()
            .table_name(self.tables.setting("SHIPMENTS_TABLE"))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .count()
    }
}

#[tokio::test]
async fn a_paid_order_is_shipped_to_its_address_with_a_tracking_id_and_announced() {
    let warehouse = warehouse("side-ship-paid").await;
    let (id, body) = paid();
    assert!(warehouse.deliver(&[body]).await.is_empty());

    let shipment = warehouse.shipment(&id).await.expect("a shipment recorded");
    let tracking_id = shipment["trackingId"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&tracking_id).is_ok(), "{tracking_id}");
    assert_eq!(shipment["address"], order(&id)["shippingAddress"]);
    assert!(
        shipment["shippedAt"].as_str().unwrap().ends_with('Z'),
        "{shipment}"
    );

    let shipped = warehouse.shipped().await;
    assert_eq!(shipped.len(), 1, "{shipped:?}");
    assert_eq!(
        shipped[0]["data"],
        json!({"order": order(&id), "trackingId": tracking_id})
    );
    assert_eq!(shipped[0]["metadata"]["eventId"], format!("{id}/OrderShipped.v1"));
    assert_eq!(
        shipped[0]["metadata"]["causationId"],
        format!("{id}/PaymentSucceeded.v1")
    );
}

#[tokio::test]
async fn a_redelivered_payment_ships_nothing_new_and_repeats_the_same_tracking_id() {
    let warehouse = warehouse("side-ship-duplicate").await;
    let (id, body) = paid();
    assert!(warehouse.deliver(std::slice::from_ref(&body)).await.is_empty());
    let first = warehouse.shipment(&id).await.unwrap();
    assert!(warehouse.deliver(&[body.clone(), body]).await.is_empty());

    assert_eq!(warehouse.shipment(&id).await.unwrap(), first);
    assert_eq!(warehouse.shipment_count().await, 1);
    let shipped = warehouse.shipped().await;
    assert_eq!(shipped.len(), 3, "{shipped:?}");
    for event in &shipped {
        assert_eq!(event["data"]["trackingId"], first["trackingId"]);
        assert_eq!(event["metadata"]["eventId"], format!("{id}/OrderShipped.v1"));
    }
}

#[tokio::test]
async fn unreadable_and_unexpected_messages_fail_alone_and_ship_nothing() {
    let warehouse = warehouse("side-ship-poison").await;
    let (good, body) = paid();
    let (_, other) = paid();
    let wrong_type = other.replace("PaymentSucceeded.v1\"", "PaymentFailed.v1\"");
    let (_, other) = paid();
    let no_address = other.replace("\"shippingAddress\"", "\"address\"");
    let failed = warehouse
        .deliver(&[wrong_type, "{not json".to_owned(), body, no_address])
        .await;
    assert_eq!(failed, ["m0", "m1", "m3"]);
    assert_eq!(warehouse.shipment_count().await, 1);
    assert!(warehouse.shipment(&good).await.is_some());
    assert_eq!(warehouse.shipped().await.len(), 1);
}

#[tokio::test]
async fn a_shipment_whose_publish_failed_is_announced_by_its_redelivery_and_shipped_once() {
    let warehouse = warehouse("side-ship-bus-down").await;
    let (id, body) = paid();
    let failed = warehouse
        .deliver_on(&warehouse.bus_down, std::slice::from_ref(&body))
        .await;
    assert_eq!(failed, ["m0"], "the message goes back to its queue");
    let first = warehouse.shipment(&id).await.expect("the shipment was recorded");
    assert!(warehouse.shipped().await.is_empty());

    assert!(warehouse.deliver(&[body]).await.is_empty());
    assert_eq!(warehouse.shipment(&id).await.unwrap(), first, "shipped once");
    let shipped = warehouse.shipped().await;
    assert_eq!(shipped.len(), 1, "{shipped:?}");
    assert_eq!(shipped[0]["data"]["trackingId"], first["trackingId"]);
}

#[tokio::test]
async fn a_payment_arriving_after_its_order_failed_ships_nothing_and_says_why() {
    let warehouse = warehouse("side-ship-withheld").await;
    let id = uuid::Uuid::new_v4().to_string();
    assert!(warehouse.deliver(&[failed(&id)]).await.is_empty());
    assert!(warehouse.deliver(&[paid_for(&id)]).await.is_empty());

    let record = warehouse.shipment(&id).await.expect("the order's record");
    assert!(record.get("trackingId").is_none(), "shipped: {record}");
    assert_eq!(record["reason"], format!("the order failed ({STUCK})"));
    assert!(warehouse.shipped().await.is_empty());
    let withheld = warehouse.withheld().await;
    assert_eq!(withheld.len(), 1, "{withheld:?}");
    assert_eq!(
        withheld[0]["data"],
        json!({"orderId": id, "reason": format!("the order failed ({STUCK})")})
    );
    assert_eq!(
        withheld[0]["metadata"]["eventId"],
        format!("{id}/ShipmentWithheld.v1")
    );
    assert_eq!(
        withheld[0]["metadata"]["causationId"],
        format!("{id}/PaymentSucceeded.v1")
    );
}

#[tokio::test]
async fn a_withheld_order_stays_unshipped_whatever_is_redelivered() {
    let warehouse = warehouse("side-ship-withheld-again").await;
    let id = uuid::Uuid::new_v4().to_string();
    assert!(warehouse.deliver(&[failed(&id), paid_for(&id)]).await.is_empty());
    let first = warehouse.shipment(&id).await.unwrap();
    assert!(
        warehouse
            .deliver(&[failed(&id), paid_for(&id), paid_for(&id)])
            .await
            .is_empty()
    );

    assert_eq!(warehouse.shipment(&id).await.unwrap(), first);
    assert_eq!(warehouse.shipment_count().await, 1);
    assert!(warehouse.shipped().await.is_empty());
    let withheld = warehouse.withheld().await;
    assert_eq!(withheld.len(), 3, "one for each payment: {withheld:?}");
    for event in &withheld {
        assert_eq!(event["metadata"]["eventId"], format!("{id}/ShipmentWithheld.v1"));
        assert_eq!(event["data"]["reason"], first["reason"]);
    }
}

#[tokio::test]
async fn a_withheld_notice_whose_publish_failed_goes_out_when_the_payment_is_redelivered() {
    let warehouse = warehouse("side-ship-withheld-bus-down").await;
    let id = uuid::Uuid::new_v4().to_string();
    assert!(warehouse.deliver(&[failed(&id)]).await.is_empty());
    let failed_ids = warehouse.deliver_on(&warehouse.bus_down, &[paid_for(&id)]).await;
    assert_eq!(failed_ids, ["m0"], "the payment goes back to its queue");
    assert!(warehouse.withheld().await.is_empty());

    assert!(warehouse.deliver(&[paid_for(&id)]).await.is_empty());
    assert_eq!(warehouse.withheld().await.len(), 1);
    assert!(warehouse.shipped().await.is_empty());
}

#[tokio::test]
async fn an_order_that_failed_after_it_shipped_has_its_shipment_recalled() {
    let warehouse = warehouse("side-ship-recalled").await;
    let (id, body) = paid();
    assert!(warehouse.deliver(&[body]).await.is_empty());
    let shipped = warehouse.shipment(&id).await.unwrap();
    assert!(warehouse.deliver(&[failed(&id)]).await.is_empty());

    let recalled = warehouse.shipment(&id).await.unwrap();
    assert_eq!(recalled["trackingId"], shipped["trackingId"]);
    assert_eq!(recalled["shippedAt"], shipped["shippedAt"]);
    assert_eq!(
        recalled["recall"]["reason"],
        format!("the order failed ({STUCK})")
    );
    assert!(
        recalled["recall"]["recalledAt"].as_str().unwrap().ends_with('Z'),
        "{recalled}"
    );
    assert_eq!(warehouse.shipped().await.len(), 1, "announced when it shipped");
    assert!(warehouse.withheld().await.is_empty());
}

#[tokio::test]
async fn a_recalled_shipment_stays_recalled_once_and_unannounced_whatever_is_redelivered() {
    let warehouse = warehouse("side-ship-recalled-again").await;
    let (id, body) = paid();
    assert!(warehouse.deliver(std::slice::from_ref(&body)).await.is_empty());
    assert!(warehouse.deliver(&[failed(&id)]).await.is_empty());
    let recalled = warehouse.shipment(&id).await.unwrap();

    assert!(
        warehouse
            .deliver(&[failed(&id), body.clone(), failed(&id), body])
            .await
            .is_empty()
    );
    assert_eq!(
        warehouse.shipment(&id).await.unwrap(),
        recalled,
        "the first recall stays"
    );
    assert_eq!(warehouse.shipment_count().await, 1);
    assert_eq!(
        warehouse.shipped().await.len(),
        1,
        "not announced again once recalled"
    );
    assert!(warehouse.withheld().await.is_empty());
}
