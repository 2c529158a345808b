//! The orders handlers against the template's table and bus in the emulator:
//! the HTTP reads, the outbox publisher fed stream records of what was
//! written, the order-state consumer fed the saga's events as its queue
//! delivers them, and the sweeper. What is asserted is what a shopper,
//! an operator or the next saga step would see: the API's answers, the
//! items in the table, and the events on the bus.

use std::collections::HashMap;

use astroshop_domain::card::{CardSummary, CardType};
use astroshop_domain::events::{
    Charge, DomainEvent, Envelope, InventoryReleased, InventoryReserved, OrderFlagged, OrderPlaced,
    OrderShipped, PaymentFailed, PaymentSucceeded, SealedCard,
};
use astroshop_domain::{EmailAddress, Order, OrderId, Timestamp, UserId};
use astroshop_edge::OrderLinks;
use astroshop_edge::order_link::sign;
use astroshop_orders::outbox::{DeadLetter, DeadLetterQueue, publish_outbox};
use astroshop_orders::state::follow_saga_event;
use astroshop_orders::sweeper::sweep_stuck_orders;
use astroshop_orders::{get_order, list_orders};
use astroshop_saga::{Entry, Publisher, consume};
use astroshop_store::OrderTable;
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::LambdaEvent;
use local_stack_testing::{
    EventTap, TestTables, bus_event, failed_ids, json_response as json, larrys_order, new_order_id, request,
    signed_in_request, sqs_event,
};
use serde_json::{Value, json};
use time::OffsetDateTime;

const TRACE: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

struct Orders {
    tables: TestTables,
    table: OrderTable,
    publisher: Publisher,
    bus_down: Publisher,
    dead_letters: DeadLetterQueue,
    tap: EventTap,
    links: OrderLinks,
}

async fn orders(prefix: &str) -> Orders {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    let tap = EventTap::attach(&tables).await.expect("tap attached");
    Orders {
        table: OrderTable::new(tables.dynamodb(), tables.setting("ORDERS_TABLE")),
        publisher: tables.publisher(),
        bus_down: tables.publisher_while_the_bus_is_down(),
        dead_letters: DeadLetterQueue::new(
            aws_sdk_sqs::Client::new(tables.config()),
            tables.setting("OUTBOX_DEAD_LETTERS_URL"),
        ),
        links: OrderLinks::new(
            aws_sdk_ssm::Client::new(tables.config()),
            tables.setting("ORDER_LINK_KEY_PARAMETER"),
            OrderLinks::TTL,
        ),
        tables,
        tap,
    }
}

/// 580.84 USD, as the API shows Larry's order's total.
fn larrys_total() -> Value {
    json!({"currencyCode": "USD", "units": 580, "nanos": 840_000_000})
}

/// Larry's order, of `user` this time, placed at `placed_at`.
fn an_order(user: &str, placed_at: OffsetDateTime) -> Order {
    Order {
        order_id: new_order_id(),
        user_id: UserId::parse(user).unwrap(),
        email: EmailAddress::parse(&format!("{user}@example.com")).unwrap(),
        placed_at: Timestamp::from(placed_at),
        ..larrys_order()
    }
}

/// An order of the signed-in shopper whose token's `sub` is `sub`.
fn an_account_order(sub: &str, placed_at: OffsetDateTime) -> Order {
    Order {
        user_id: UserId::account(sub).unwrap(),
        ..an_order("account-holder", placed_at)
    }
}

fn sealed() -> SealedCard {
    SealedCard {
        ciphertext: "c2VhbGVk".into(),
    }
}

/// A saga event as the order-state queue delivers it.
fn delivered<T: DomainEvent>(data: T, at: OffsetDateTime) -> String {
    let envelope = Envelope::first(data, at, Some(TRACE.into()));
    bus_event(
        T::SOURCE,
        T::DETAIL_TYPE,
        &serde_json::to_value(envelope).unwrap(),
    )
}

fn ago(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - time::Duration::seconds(seconds)
}

impl Orders {
    /// Writes `order` as checkout does: pending, with OrderPlaced in its outbox.
    async fn place(&self, order: &Order) {
        let placed = Entry::of(&Envelope::first(
            OrderPlaced {
                order: order.clone(),
                card: sealed(),
            },
            OffsetDateTime::now_utc(),
            Some(TRACE.into()),
        ))
        .unwrap();
        let writes = self
            .table
            .placement(order, TRACE, &placed, OffsetDateTime::now_utc())
            .unwrap();
        self.tables
            .dynamodb()
            .transact_write_items()
            .set_transact_items(Some(writes.into()))
            .send()
            .await
            .unwrap();
    }

    /// Delivers one batch to `orders-state`; the ids of the messages it failed.
    async fn follow(&self, bodies: &[String]) -> Vec<String> {
        self.follow_on(&self.publisher, bodies).await
    }

    async fn follow_on(&self, bus: &Publisher, bodies: &[String]) -> Vec<String> {
        failed_ids(
            &consume(sqs_event(bodies), |delivery| {
                follow_saga_event(&self.table, bus, delivery)
            })
            .await,
        )
    }

    async fn get(&self, uri: &str) -> (u16, Value) {
        json(
            get_order(&self.table, &self.links, request("GET", uri, None, "orders-get"))
                .await
                .unwrap_or_else(|e| e.into_response()),
        )
    }

    /// The key in the order's link, as checkout answers it.
    async fn key(&self, id: &OrderId) -> String {
        sign(
            self.tables.secret("ORDER_LINK_KEY_PARAMETER").await.as_bytes(),
            id,
        )
    }

    /// The order as the holder of its link sees it.
    async fn order(&self, order: &Order) -> Value {
        let key = self.key(&order.order_id).await;
        let (status, body) = self
            .get(&format!("/api/orders/{}?key={key}", order.order_id))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Every item of the order's partition, by sort key.
    async fn partition(&self, id: &OrderId) -> HashMap<String, HashMap<String, AttributeValue>> {
        self.tables
            .dynamodb()
            .query()
            .table_name(self.tables.setting("ORDERS_TABLE"))
            .key_condition_expression("orderId = :id")
            .expression_attribute_values(":id", AttributeValue::S(id.to_string()))
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| (item["sk"].as_s().unwrap().clone(), item))
            .collect()
    }

    /// The order's outbox items, as stream INSERT records (sequence numbers
    /// from `first_sequence` up), in sort-key order.
    async fn outbox_records(&self, id: &OrderId, first_sequence: u64) -> Vec<EventRecord> {
        let mut outbox: Vec<_> = self
            .partition(id)
            .await
            .into_iter()
            .filter(|(sk, _)| sk.starts_with("OUTBOX#"))
            .collect();
        outbox.sort_by(|a, b| a.0.cmp(&b.0));
        outbox
            .into_iter()
            .zip(first_sequence..)
            .map(|((_, item), sequence)| insert_record(item, sequence))
            .collect()
    }

    /// Runs the publisher over stream records; the sequence numbers it failed.
    async fn publish(&self, records: Vec<EventRecord>) -> Vec<String> {
        self.publish_on(&self.publisher, records).await
    }

    async fn publish_on(&self, bus: &Publisher, records: Vec<EventRecord>) -> Vec<String> {
        self.publish_parking_in(bus, &self.dead_letters, records).await
    }

    async fn publish_parking_in(
        &self,
        bus: &Publisher,
        dead_letters: &DeadLetterQueue,
        records: Vec<EventRecord>,
    ) -> Vec<String> {
        let mut event = Event::default();
        event.records = records;
        publish_outbox(
            bus,
            dead_letters,
            LambdaEvent::new(event, lambda_runtime::Context::default()),
        )
        .await
        .unwrap()
        .batch_item_failures
        .into_iter()
        .filter_map(|failure| failure.item_identifier)
        .collect()
    }

    /// What waits in the outbox dead-letter queue, as an operator reads it.
    async fn parked(&self) -> Vec<DeadLetter> {
        let sqs = aws_sdk_sqs::Client::new(self.tables.config());
        let received = sqs
            .receive_message()
            .queue_url(self.tables.setting("OUTBOX_DEAD_LETTERS_URL"))
            .max_number_of_messages(10)
            .send()
            .await
            .expect("the outbox dead-letter queue answers");
        received
            .messages()
            .iter()
            .map(|message| serde_json::from_str(message.body().unwrap()).expect("a dead letter"))
            .collect()
    }

    /// The events published for `order` so far: (detail-type, detail).
    async fn published(&self, order: &Order) -> Vec<(String, Value)> {
        self.tap
            .events()
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, detail)| detail["metadata"]["correlationId"] == order.order_id.as_str())
            .collect()
    }
}

fn insert_record(item: HashMap<String, AttributeValue>, sequence: u64) -> EventRecord {
    let mut record = EventRecord::default();
    record.event_id = format!("record-{sequence}");
    record.event_name = "INSERT".into();
    record.change.sequence_number = Some(sequence.to_string());
    record.change.new_image = serde_dynamo::Item::from(item);
    record
}

fn steps(order: &Value) -> Vec<String> {
    order["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["step"].as_str().unwrap().to_owned())
        .collect()
}

fn kinds(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(kind, _)| kind.as_str()).collect()
}

fn shipped(order: &Order, at: OffsetDateTime) -> String {
    delivered(
        OrderShipped {
            order: order.clone(),
            tracking_id: "TRACK-1".into(),
        },
        at,
    )
}

/// The events of a happy saga up to the shipment, a second apart.
fn happy_saga(order: &Order) -> Vec<String> {
    vec![
        delivered(
            OrderPlaced {
                order: order.clone(),
                card: sealed(),
            },
            ago(40),
        ),
        delivered(
            InventoryReserved {
                order: order.clone(),
                card: sealed(),
            },
            ago(39),
        ),
        delivered(
            PaymentSucceeded {
                order: order.clone(),
                payment: Charge {
                    transaction_id: "txn-1".into(),
                    card: CardSummary {
                        card_type: CardType::Visa,
                        last4: "0454".into(),
                    },
                    amount: order.total.clone(),
                },
            },
            ago(38),
        ),
        shipped(order, ago(37)),
    ]
}

// ------------------------------------------------------------------ the API

#[tokio::test]
async fn an_order_is_shown_to_the_holder_of_its_link_and_to_no_one_else() {
    let orders = orders("orders-get").await;
    let order = an_order("ada", ago(5));
    orders.place(&order).await;
    let key = orders.key(&order.order_id).await;
    let shown = orders.order(&order).await;
    assert_eq!(shown["orderId"], order.order_id.as_str());
    assert_eq!(shown["status"], "PENDING");
    assert_eq!(shown["flagged"], false);
    assert_eq!(shown["total"], larrys_total());
    assert_eq!(shown["items"][0]["item"]["quantity"], 2);
    assert_eq!(shown["link"], format!("/api/orders/{}?key={key}", order.order_id));
    assert_eq!(shown["key"], key.as_str());
    assert_eq!(shown["email"], order.email.as_str());
    assert_eq!(shown["history"], json!([]));
    assert!(shown.get("trackingId").is_none() && shown.get("traceparent").is_none());
    assert!(
        shown.get("userId").is_none(),
        "whose order it is stays hidden: {shown}"
    );

    // Without the key, with another order's or a doctored one, the order does not exist.
    let other = orders.key(&new_order_id()).await;
    let mut doctored = key.clone().into_bytes();
    doctored[0] = if doctored[0] == b'A' { b'B' } else { b'A' };
    let doctored = String::from_utf8(doctored).unwrap();
    for query in [
        String::new(),
        "?key=".into(),
        format!("?key={other}"),
        format!("?key={doctored}"),
    ] {
        let (status, body) = orders
            .get(&format!("/api/orders/{}{query}", order.order_id))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("order_not_found")),
            "{query}"
        );
        let text = body.to_string();
        for private in [
            order.email.as_str(),
            "ada",
            "Amphitheatre",
            order.card.last4.as_str(),
        ] {
            assert!(!text.contains(private), "{query}: {text} shows {private}");
        }
    }

    let unknown = OrderId::parse("3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11").unwrap();
    let unknown_key = orders.key(&unknown).await;
    let (status, body) = orders
        .get(&format!("/api/orders/{unknown}?key={unknown_key}"))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("order_not_found"))
    );
    let (status, body) = orders.get("/api/orders/not-an-order").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_order_id"))
    );
}

#[tokio::test]
async fn a_signed_in_shoppers_orders_are_listed_newest_first_with_their_links() {
    let orders = orders("orders-list").await;
    let grace = "0d7a4c55-3b1e-4a8f-b2c6-9e1f5d3a7c20";
    let older = an_account_order(grace, ago(120));
    let newer = an_account_order(grace, ago(10));
    let someone_elses = an_account_order("9b3e1f7a-2c4d-4e6f-8a0b-1c2d3e4f5a6b", ago(60));
    let a_guests_named_like_her = an_order(grace, ago(30));
    for order in [&older, &newer, &someone_elses, &a_guests_named_like_her] {
        orders.place(order).await;
    }
    let list = |sub: &str| {
        let request = signed_in_request("GET", "/api/orders", None, "orders-list", sub);
        async {
            json(
                list_orders(&orders.table, &orders.links, request)
                    .await
                    .unwrap_or_else(|e| e.into_response()),
            )
        }
    };
    let (status, body) = list(grace).await;
    assert_eq!(status, 200, "{body}");
    let listed: Vec<&str> = body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["orderId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [newer.order_id.as_str(), older.order_id.as_str()]);
    let first = &body["orders"][0];
    assert_eq!(first["status"], "PENDING");
    assert_eq!(first["items"], 3);
    assert_eq!(first["total"], larrys_total());
    let key = orders.key(&newer.order_id).await;
    assert_eq!(first["link"], format!("/api/orders/{}?key={key}", newer.order_id));
    assert_eq!(first["key"], key.as_str());

    let (status, body) = list("a3c1e5f7-0000-4000-8000-000000000000").await;
    assert_eq!((status, body), (200, json!({"orders": []})));
    // Without the gateway's checked token (a route without the authorizer)
    // there is no one to list for; a userId parameter names no one.
    let (status, body) = json(
        list_orders(
            &orders.table,
            &orders.links,
            request(
                "GET",
                &format!("/api/orders?userId=account:{grace}"),
                None,
                "orders-list",
            ),
        )
        .await
        .unwrap_or_else(|e| e.into_response()),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
}

#[tokio::test]
async fn a_shoppers_orders_come_a_page_at_a_time_and_a_cursor_is_hers_alone() {
    let orders = orders("orders-pages").await;
    let ada = "5e0c2b1a-7d3f-4c9e-8b6a-2f1e0d9c8b7a";
    let placed: Vec<_> = (0..5)
        .map(|minutes| an_account_order(ada, ago(600 - minutes * 60)))
        .collect();
    for order in &placed {
        orders.place(order).await;
    }
    let list = |uri: String, sub: &str| {
        let request = signed_in_request("GET", &uri, None, "orders-list", sub);
        async {
            let response = list_orders(&orders.table, &orders.links, request)
                .await
                .unwrap_or_else(|e| e.into_response());
            let link = response
                .headers()
                .get("link")
                .map(|l| l.to_str().unwrap().to_owned());
            let (status, body) = json(response);
            (status, body, link)
        }
    };
    let mut seen = Vec::new();
    let mut uri = "/api/orders?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (status, body, link) = list(uri.clone(), ada).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        seen.extend(
            body["orders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|order| order["orderId"].as_str().unwrap().to_owned()),
        );
        let Some(cursor) = body["nextCursor"].as_str() else {
            assert_eq!(link, None, "no Link on the last page");
            break;
        };
        assert_eq!(
            link.unwrap(),
            format!("</api/orders?limit=2&cursor={cursor}>; rel=\"next\"")
        );
        // Another shopper cannot read on from her cursor.
        let (status, body, _) = list(
            format!("/api/orders?limit=2&cursor={cursor}"),
            "9b3e1f7a-2c4d-4e6f-8a0b-1c2d3e4f5a6b",
        )
        .await;
        assert_eq!(
            (status, body["error"]["parameter"].as_str()),
            (400, Some("cursor")),
            "{body}"
        );
        uri = format!("/api/orders?limit=2&cursor={cursor}");
    }
    let newest_first: Vec<String> = placed.iter().rev().map(|o| o.order_id.to_string()).collect();
    assert_eq!((pages, seen), (3, newest_first));
    let (status, body, _) = list("/api/orders?limit=500".to_owned(), ada).await;
    assert_eq!(
        (status, body["error"]["parameter"].as_str()),
        (400, Some("limit")),
        "{body}"
    );
}

// --------------------------------------------------------------- the outbox

#[tokio::test]
async fn the_publisher_puts_each_new_outbox_event_on_the_bus_and_passes_other_records_by() {
    let orders = orders("orders-outbox").await;
    let order = an_order("edsger", ago(1));
    orders.place(&order).await;
    let stored = orders.partition(&order.order_id).await;
    // The order item's own insert comes first in the stream; it is not an event.
    let mut records = vec![insert_record(stored["ORDER"].clone(), 1)];
    records.extend(orders.outbox_records(&order.order_id, 2).await);
    let mut removal = insert_record(stored["ORDER"].clone(), 9);
    removal.event_name = "REMOVE".into();
    records.push(removal);

    assert_eq!(orders.publish(records).await, Vec::<String>::new());
    let published = orders.published(&order).await;
    assert_eq!(kinds(&published), ["OrderPlaced.v1"]);
    let detail = &published[0].1;
    assert_eq!(
        detail["metadata"]["eventId"],
        format!("{}/OrderPlaced.v1", order.order_id)
    );
    assert_eq!(detail["metadata"]["traceparent"], TRACE);
    assert_eq!(detail["data"]["order"]["total"], larrys_total());
    assert_eq!(detail["data"]["card"]["ciphertext"], "c2VhbGVk");
}

#[tokio::test]
async fn an_unreadable_outbox_item_is_parked_whole_and_the_records_after_it_are_published() {
    let orders = orders("orders-outbox-bad").await;
    let order = an_order("barbara", ago(1));
    orders.place(&order).await;
    let mut records = orders.outbox_records(&order.order_id, 1).await;
    let mut broken = records[0].clone();
    broken.change.sequence_number = Some("2".into());
    broken.change.new_image.remove("detail");
    let later = an_order("barbara", ago(1));
    orders.place(&later).await;
    records.push(broken);
    records.extend(orders.outbox_records(&later.order_id, 3).await);

    assert_eq!(orders.publish(records).await, Vec::<String>::new());
    assert_eq!(kinds(&orders.published(&order).await), ["OrderPlaced.v1"]);
    assert_eq!(kinds(&orders.published(&later).await), ["OrderPlaced.v1"]);
    let parked = orders.parked().await;
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0].sequence_number.as_deref(), Some("2"));
    assert!(
        parked[0].reason.contains("lacks source, detailType or detail"),
        "{}",
        parked[0].reason
    );
    assert_eq!(
        parked[0].new_image["detailType"]["S"], "OrderPlaced.v1",
        "the record is parked with its content"
    );
    assert_eq!(parked[0].entry, None);
}

#[tokio::test]
async fn an_event_the_bus_refuses_for_what_it_is_is_parked_with_its_content_and_its_batch_mates_go_out() {
    let orders = orders("orders-outbox-poison").await;
    let first = an_order("mallory", ago(1));
    let later = an_order("mallory", ago(1));
    orders.place(&first).await;
    orders.place(&later).await;
    let mut records = orders.outbox_records(&first.order_id, 1).await;
    let mut poison = records[0].clone();
    poison.change.sequence_number = Some("2".into());
    poison.change.new_image.insert(
        "detail".into(),
        serde_dynamo::AttributeValue::S("{not json".into()),
    );
    records.push(poison);
    records.extend(orders.outbox_records(&later.order_id, 3).await);

    assert_eq!(orders.publish(records).await, Vec::<String>::new());
    assert_eq!(kinds(&orders.published(&first).await), ["OrderPlaced.v1"]);
    assert_eq!(kinds(&orders.published(&later).await), ["OrderPlaced.v1"]);
    let parked = orders.parked().await;
    assert_eq!(parked.len(), 1, "{parked:?}");
    let entry = parked[0].entry.as_ref().expect("the refused event is kept");
    assert_eq!(entry.detail, "{not json");
    assert_eq!(entry.detail_type, "OrderPlaced.v1");
    assert!(
        parked[0].reason.contains("MalformedDetail"),
        "{}",
        parked[0].reason
    );
}

#[tokio::test]
async fn a_poison_record_that_cannot_be_parked_is_retried_not_dropped() {
    let orders = orders("orders-outbox-park-down").await;
    let order = an_order("trent", ago(1));
    orders.place(&order).await;
    let mut records = orders.outbox_records(&order.order_id, 1).await;
    records[0].change.new_image.remove("detail");
    let nowhere = DeadLetterQueue::new(
        aws_sdk_sqs::Client::new(orders.tables.config()),
        format!(
            "{}-no-such-queue",
            orders.tables.setting("OUTBOX_DEAD_LETTERS_URL")
        ),
    );

    let failed = orders
        .publish_parking_in(&orders.publisher, &nowhere, records)
        .await;
    assert_eq!(failed, ["1"], "the stream retries the record");
    assert!(orders.parked().await.is_empty());
}

#[tokio::test]
async fn outbox_events_the_bus_refused_are_published_when_the_stream_redelivers_them() {
    let orders = orders("orders-outbox-bus-down").await;
    let order = an_order("grace", ago(1));
    orders.place(&order).await;
    let records = orders.outbox_records(&order.order_id, 1).await;

    let failed = orders.publish_on(&orders.bus_down, records.clone()).await;
    assert_eq!(
        failed,
        ["1"],
        "the stream retries from the first record not published"
    );
    assert!(orders.published(&order).await.is_empty());

    assert_eq!(orders.publish(records).await, Vec::<String>::new());
    assert_eq!(kinds(&orders.published(&order).await), ["OrderPlaced.v1"]);
}

#[tokio::test]
async fn the_sample_outbox_insert_puts_larrys_order_placed_on_the_bus() {
    let orders = orders("orders-outbox-sample").await;
    let sample = include_str!("../../../events/dynamodb/orders-outbox-insert.json");
    let event: Event = serde_json::from_str(sample).expect("the sample is a DynamoDB stream event");
    assert_eq!(orders.publish(event.records).await, Vec::<String>::new());

    let larry = larrys_order();
    let caught = orders.tap.caught().await.unwrap();
    assert_eq!(caught.len(), 1, "{caught:?}");
    let placed = &caught[0];
    assert_eq!(
        (placed.source.as_str(), placed.detail_type.as_str()),
        ("astroshop.orders", "OrderPlaced.v1")
    );
    assert_eq!(
        placed.detail["metadata"]["eventId"],
        format!("{}/OrderPlaced.v1", larry.order_id)
    );
    assert_eq!(placed.detail["metadata"]["traceparent"], TRACE);
    let envelope: Envelope<OrderPlaced> =
        serde_json::from_value(placed.detail.clone()).expect("the detail is an OrderPlaced envelope");
    assert_eq!(envelope.data.order, larry);
}

// -------------------------------------------------------------- saga state

#[tokio::test]
async fn the_saga_steps_drive_an_order_to_confirmed_with_every_step_in_its_history() {
    let orders = orders("orders-state-confirm").await;
    let order = an_order("margaret", ago(41));
    orders.place(&order).await;

    assert_eq!(orders.follow(&happy_saga(&order)).await, Vec::<String>::new());
    let shown = orders.order(&order).await;
    assert_eq!(shown["status"], "CONFIRMED");
    assert_eq!(shown["trackingId"], "TRACK-1");
    assert_eq!(
        steps(&shown),
        [
            "OrderPlaced",
            "InventoryReserved",
            "PaymentSucceeded",
            "OrderShipped",
            "OrderConfirmed"
        ]
    );
    assert!(shown["history"][2]["summary"].as_str().unwrap().contains("txn-1"));
    let stored = orders.partition(&order.order_id).await;
    assert!(
        !stored["ORDER"].contains_key("pending"),
        "a confirmed order is off the sweeper's index"
    );

    // The confirmation waits in the outbox, written with the status; the
    // publisher carries it to the bus.
    let outbox = orders.outbox_records(&order.order_id, 1).await;
    assert_eq!(outbox.len(), 2, "OrderPlaced and OrderConfirmed");
    assert_eq!(orders.publish(outbox).await, Vec::<String>::new());
    let published = orders.published(&order).await;
    let (_, confirmed) = published
        .iter()
        .find(|(kind, _)| kind == "OrderConfirmed.v1")
        .expect("OrderConfirmed published");
    assert_eq!(confirmed["data"]["trackingId"], "TRACK-1");
    assert_eq!(confirmed["data"]["order"]["orderId"], order.order_id.as_str());
    assert_eq!(
        confirmed["metadata"]["causationId"],
        format!("{}/OrderShipped.v1", order.order_id)
    );
    assert_eq!(confirmed["metadata"]["traceparent"], TRACE);

    // Fraud checks flag a confirmed order; it stays confirmed.
    let flagged = delivered(
        OrderFlagged {
            order_id: order.order_id.clone(),
            score: 70,
            reasons: vec!["a large order".into()],
        },
        ago(1),
    );
    assert_eq!(orders.follow(&[flagged]).await, Vec::<String>::new());
    let shown = orders.order(&order).await;
    assert_eq!(
        (shown["status"].as_str(), shown["flagged"].as_bool()),
        (Some("CONFIRMED"), Some(true))
    );
    assert_eq!(steps(&shown).last().map(String::as_str), Some("OrderFlagged"));
}

#[tokio::test]
async fn a_declined_payment_fails_the_order_and_a_late_shipment_only_joins_its_history() {
    let orders = orders("orders-state-fail").await;
    let order = an_order("katherine", ago(30));
    orders.place(&order).await;
    let declined = delivered(
        PaymentFailed {
            order: order.clone(),
            reason: "the card expired in 01/2020".into(),
        },
        ago(20),
    );
    let released = delivered(
        InventoryReleased {
            order_id: order.order_id.clone(),
            items: order.lines(),
        },
        ago(19),
    );
    assert_eq!(orders.follow(&[declined, released]).await, Vec::<String>::new());
    let shown = orders.order(&order).await;
    assert_eq!(shown["status"], "FAILED");
    assert_eq!(shown["failureReason"], "the card expired in 01/2020");
    assert_eq!(
        steps(&shown),
        ["PaymentFailed", "InventoryReleased", "OrderFailed"]
    );
    assert!(
        shown["history"][1]["summary"]
            .as_str()
            .unwrap()
            .contains("3 held unit")
    );
    let outbox = orders.outbox_records(&order.order_id, 1).await;
    assert_eq!(orders.publish(outbox).await, Vec::<String>::new());
    let published = orders.published(&order).await;
    let (_, failed) = published
        .iter()
        .find(|(kind, _)| kind == "OrderFailed.v1")
        .expect("OrderFailed published");
    assert_eq!(failed["data"]["reason"], "the card expired in 01/2020");

    // A shipment that comes after the failure cannot confirm the order.
    assert_eq!(
        orders.follow(&[shipped(&order, ago(1))]).await,
        Vec::<String>::new()
    );
    let shown = orders.order(&order).await;
    assert_eq!(shown["status"], "FAILED");
    assert!(shown.get("trackingId").is_none());
    assert_eq!(
        steps(&shown),
        [
            "PaymentFailed",
            "InventoryReleased",
            "OrderFailed",
            "OrderShipped"
        ]
    );
    assert!(
        !orders
            .partition(&order.order_id)
            .await
            .keys()
            .any(|sk| sk.contains("OrderConfirmed")),
        "a failed order was confirmed"
    );
}

#[tokio::test]
async fn a_redelivered_step_changes_nothing_and_republishes_the_final_event() {
    let orders = orders("orders-state-redelivery").await;
    let order = an_order("barbara", ago(41));
    orders.place(&order).await;
    let saga = happy_saga(&order);
    assert_eq!(orders.follow(&saga).await, Vec::<String>::new());
    let before = orders.partition(&order.order_id).await;
    let shown_before = orders.order(&order).await;

    // Every event again, the shipment twice, in one batch.
    let mut again = saga.clone();
    again.push(saga[3].clone());
    assert_eq!(orders.follow(&again).await, Vec::<String>::new());
    let after = orders.partition(&order.order_id).await;
    assert_eq!(after.len(), before.len(), "a redelivery wrote an item");
    assert_eq!(orders.order(&order).await["history"], shown_before["history"]);
    assert_eq!(after["ORDER"]["status"], before["ORDER"]["status"]);
    assert_eq!(after["ORDER"]["updatedAt"], before["ORDER"]["updatedAt"]);

    // Only the steps that can end an order say again how it ended.
    let published = orders.published(&order).await;
    assert_eq!(kinds(&published), ["OrderConfirmed.v1", "OrderConfirmed.v1"]);
    assert!(
        published
            .iter()
            .all(|(_, detail)| detail["metadata"]["eventId"]
                == format!("{}/OrderConfirmed.v1", order.order_id)),
        "a republished event is recognisably the same event"
    );
}

#[tokio::test]
async fn a_final_event_republished_while_the_bus_is_down_goes_out_on_the_next_redelivery() {
    let orders = orders("orders-state-bus-down").await;
    let order = an_order("grace", ago(41));
    orders.place(&order).await;
    let saga = happy_saga(&order);
    assert_eq!(orders.follow(&saga).await, Vec::<String>::new());
    let shipped = saga[3].clone();

    let failed = orders
        .follow_on(&orders.bus_down, std::slice::from_ref(&shipped))
        .await;
    assert_eq!(failed, ["m0"], "the message goes back to its queue");
    assert!(orders.published(&order).await.is_empty());

    assert_eq!(orders.follow(&[shipped]).await, Vec::<String>::new());
    assert_eq!(kinds(&orders.published(&order).await), ["OrderConfirmed.v1"]);
}

#[tokio::test]
async fn unreadable_messages_and_events_of_unknown_orders_fail_alone_in_their_batch() {
    let orders = orders("orders-state-poison").await;
    let order = an_order("frances", ago(10));
    orders.place(&order).await;
    let stranger = an_order("nobody", ago(10));
    let batch = [
        delivered(
            InventoryReserved {
                order: order.clone(),
                card: sealed(),
            },
            ago(5),
        ),
        "{not json".to_owned(),
        shipped(&stranger, ago(4)),
        bus_event(
            "astroshop.orders",
            "OrderSomethingElse.v1",
            &json!({"metadata": {"eventId": "x", "occurredAt": "2026-11-21T10:00:00Z", "correlationId": "x"},
                     "data": {}}),
        ),
        // The right name from the wrong service is not trusted.
        bus_event(
            "astroshop.fraud",
            "OrderShipped.v1",
            &json!({"metadata": {"eventId": "y", "occurredAt": "2026-11-21T10:00:00Z", "correlationId": "y"},
                     "data": {"order": serde_json::to_value(&order).unwrap(), "trackingId": "FAKE"}}),
        ),
    ];
    assert_eq!(orders.follow(&batch).await, ["m1", "m2", "m3", "m4"]);
    let shown = orders.order(&order).await;
    assert_eq!(steps(&shown), ["InventoryReserved"]);
    assert_eq!(shown["status"], "PENDING");
    assert!(
        orders.partition(&stranger.order_id).await.is_empty(),
        "an event of an unknown order wrote history"
    );
}

// ------------------------------------------------------------------ sweeper

#[tokio::test]
async fn the_sweeper_fails_an_old_pending_order_and_leaves_a_young_one() {
    let orders = orders("orders-sweeper").await;
    let stuck = an_order("stuck", ago(600));
    let young = an_order("young", ago(10));
    let confirmed = an_order("done", ago(900));
    for order in [&stuck, &young, &confirmed] {
        orders.place(order).await;
    }
    let reserved = delivered(
        InventoryReserved {
            order: stuck.clone(),
            card: sealed(),
        },
        ago(590),
    );
    let mut steps_so_far = vec![reserved];
    steps_so_far.extend(happy_saga(&confirmed));
    assert_eq!(orders.follow(&steps_so_far).await, Vec::<String>::new());

    let deadline = std::time::Duration::from_secs(300);
    let swept = sweep_stuck_orders(&orders.table, deadline, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(swept.stuck, 1);
    assert_eq!(swept.failed, [stuck.order_id.to_string()]);

    let shown = orders.order(&stuck).await;
    assert_eq!(shown["status"], "FAILED");
    let reason = shown["failureReason"].as_str().unwrap();
    assert!(
        reason.starts_with("no progress for 59")
            && reason.ends_with("seconds (stuck after InventoryReserved)"),
        "{reason}"
    );
    assert_eq!(steps(&shown), ["InventoryReserved", "OrderFailed"]);
    assert_eq!(orders.order(&young).await["status"], "PENDING");
    assert_eq!(orders.order(&confirmed).await["status"], "CONFIRMED");

    // OrderFailed is in the failed order's outbox, in the order's own trace.
    let outbox = orders.outbox_records(&stuck.order_id, 1).await;
    assert_eq!(orders.publish(outbox).await, Vec::<String>::new());
    let published = orders.published(&stuck).await;
    let (_, failed) = published
        .iter()
        .find(|(kind, _)| kind == "OrderFailed.v1")
        .expect("OrderFailed published");
    assert_eq!(failed["data"]["reason"], reason);
    assert_eq!(failed["metadata"]["traceparent"], TRACE);

    // A second sweep finds nothing left to fail.
    let again = sweep_stuck_orders(&orders.table, deadline, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!((again.stuck, again.failed.len()), (0, 0));
}
