//! `local-stack redrive`: what waits in a dead-letter queue of the shop goes
//! back where it was going: a saga queue's messages to that queue, a parked
//! outbox record to the bus as its event; a stream batch's coordinates,
//! which cannot be sent anywhere, stay.

use local_stack::redrive::{Redriven, redrive};
use local_stack::resolve::{Names, Resolver};
use local_stack::template::Template;
use local_stack_testing::{EventTap, TestTables, larrys_order};
use serde_json::{Value, json};

async fn bodies(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let received = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    received
        .messages()
        .iter()
        .map(|m| m.body().unwrap().to_owned())
        .collect()
}

async fn send(sqs: &aws_sdk_sqs::Client, url: &str, body: &str) {
    sqs.send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_saga_queues_dead_letters_go_back_to_it_unchanged() {
    let tables = TestTables::provision("redrive-saga").await.unwrap();
    let template = Template::shop().unwrap();
    let resolver = Resolver::new(&template, Names::local(tables.prefix()));
    let sqs = aws_sdk_sqs::Client::new(tables.config());
    let url = |id: &str| format!("{}/{}-{id}", sqs_base(&tables), tables.prefix());
    for n in 0..12 {
        send(&sqs, &url("ShippingDeadLetters"), &format!("{{\"n\":{n}}}")).await;
    }

    let done = redrive(&resolver, tables.config(), "ShippingDeadLetters")
        .await
        .unwrap();
    assert_eq!(
        done,
        Redriven {
            moved: 12,
            published: 0,
            left: 0
        }
    );
    assert!(bodies(&sqs, &url("ShippingDeadLetters")).await.is_empty());
    let mut back = Vec::new();
    for _ in 0..3 {
        back.extend(bodies(&sqs, &url("ShippingQueue")).await);
    }
    back.sort();
    let mut expected: Vec<String> = (0..12).map(|n| format!("{{\"n\":{n}}}")).collect();
    expected.sort();
    assert_eq!(back, expected);

    let error = redrive(&resolver, tables.config(), "OrdersTable")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not a queue"), "{error}");
}

#[tokio::test]
async fn a_parked_outbox_event_goes_to_the_bus_and_a_stream_batchs_coordinates_stay() {
    let tables = TestTables::provision("redrive-outbox").await.unwrap();
    let tap = EventTap::attach(&tables).await.unwrap();
    let template = Template::shop().unwrap();
    let resolver = Resolver::new(&template, Names::local(tables.prefix()));
    let sqs = aws_sdk_sqs::Client::new(tables.config());
    let dead_letters = tables.setting("OUTBOX_DEAD_LETTERS_URL");
    let order = larrys_order();
    let detail = json!({
        "metadata": {"eventId": format!("{}/OrderPlaced.v1", order.order_id), "occurredAt": "2026-12-02T10:00:00.000Z"},
        "data": {"order": order},
    });
    let parked = json!({
        "reason": "EventBridge refused the event: InternalFailure",
        "eventId": "record-7",
        "sequenceNumber": "7",
        "keys": {},
        "newImage": {},
        "entry": {"source": "astroshop.orders", "detailType": "OrderPlaced.v1", "detail": detail.to_string()},
    });
    send(&sqs, dead_letters, &parked.to_string()).await;
    let coordinates = json!({
        "requestContext": {"condition": "RetryAttemptsExhausted"},
        "DDBStreamBatchInfo": {"shardId": "shard-1", "startSequenceNumber": "8", "endSequenceNumber": "8", "batchSize": 1},
    });
    send(&sqs, dead_letters, &coordinates.to_string()).await;

    let done = redrive(&resolver, tables.config(), "OutboxDeadLetters")
        .await
        .unwrap();
    assert_eq!(
        done,
        Redriven {
            moved: 0,
            published: 1,
            left: 1
        }
    );
    let published = tap.events().await.unwrap();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].0, "OrderPlaced.v1");
    assert_eq!(
        published[0].1["data"]["order"]["orderId"],
        order.order_id.to_string()
    );
    let left: Vec<Value> = bodies(&sqs, dead_letters)
        .await
        .iter()
        .map(|body| serde_json::from_str(body).unwrap())
        .collect();
    assert_eq!(left, [coordinates], "the coordinates stay, visible at once");
}

/// The emulator's queue URLs start with this.
fn sqs_base(tables: &TestTables) -> String {
    let url = tables.setting("OUTBOX_DEAD_LETTERS_URL");
    url[..url.rfind('/').unwrap()].to_owned()
}
