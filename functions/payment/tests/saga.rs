//! The charge and refund steps and the payment API, against the template's
//! table, bus and card key in the emulator. Cards are sealed here as
//! checkout seals them (the shop's `CardKey`); what the steps publish is caught on the bus by a tap.

use astroshop_domain::card::{CardDetails, CardNumber, Expiry};
use astroshop_domain::events::{
    DomainEvent, Envelope, InventoryReserved, OrderFailed, OrderPlaced, SealedCard,
};
use astroshop_domain::order::{Order, OrderId};
use astroshop_edge::OrderLinks;
use astroshop_edge::order_link::sign;
use std::time::Duration;

use astroshop_edge::SecretParameter;
use astroshop_payment::breaker::{Admission, Breaker, Policy};
use astroshop_payment::processor::{CardProcessor, HttpProcessor, InProcess};
use astroshop_payment::store::{Payments, PaymentsTable};
use astroshop_payment::{Charging, charge_card, get_payment, refund_payment};
use astroshop_saga::{Parking, Publisher, consume, consume_parking};
use astroshop_store::{CardKey, CardSealer};
use aws_lambda_events::event::sqs::SqsBatchResponse;
use local_stack_testing::{
    EventTap, TestTables, bus_event, failed_ids, json_response, larrys_order, new_order_id, request,
    sqs_event,
};
use serde_json::{Value, json};

const GOOD_VISA: &str = "4432-8015-6152-0454";

struct Shop {
    links: OrderLinks,
    payments: PaymentsTable,
    cards: CardKey,
    bus: Publisher,
    bus_down: Publisher,
    breaker: Breaker,
    tap: EventTap,
    tables: TestTables,
}

/// A breaker quick enough for a test: 3 failures open it for a second.
const QUICK: Policy = Policy {
    threshold: 3,
    window: Duration::from_secs(30),
    cool_down: Duration::from_secs(1),
    probe_timeout: Duration::from_secs(2),
};

async fn shop(prefix: &str) -> Shop {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    let tap = EventTap::attach(&tables).await.expect("tap attached");
    Shop {
        links: OrderLinks::new(
            aws_sdk_ssm::Client::new(tables.config()),
            tables.setting("ORDER_LINK_KEY_PARAMETER"),
            OrderLinks::TTL,
        ),
        payments: PaymentsTable::new(tables.dynamodb(), tables.setting("PAYMENTS_TABLE")),
        cards: CardKey::new(
            aws_sdk_kms::Client::new(tables.config()),
            tables.setting("CARD_KEY_ID"),
        ),
        bus: tables.publisher(),
        bus_down: tables.publisher_while_the_bus_is_down(),
        breaker: Breaker::new(
            tables.dynamodb(),
            tables.setting("BREAKERS_TABLE"),
            "card-processor",
            QUICK,
        ),
        tap,
        tables,
    }
}

/// Larry's order (580.84 USD, a Visa ending 0454), under a new id.
fn order() -> Order {
    Order {
        order_id: new_order_id(),
        ..larrys_order()
    }
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

impl Shop {
    /// The card as checkout seals it for `order`.
    async fn seal(&self, order: &OrderId, number: &str, month: u8, year: u16) -> SealedCard {
        let card = CardDetails {
            number: CardNumber::parse(number).expect("a card number's shape"),
            expiry: Expiry::new(month.into(), year.into()).expect("a month and year"),
        };
        self.cards.seal(&card, order).await.expect("KMS encrypts")
    }

    fn reserved(&self, order: &Order, card: &SealedCard) -> String {
        message(InventoryReserved {
            order: order.clone(),
            card: card.clone(),
        })
    }

    fn order_failed(&self, order: &Order) -> String {
        message(OrderFailed {
            order: order.clone(),
            reason: "the sweeper gave up on it".into(),
        })
    }

    async fn charge(&self, bodies: &[String]) -> SqsBatchResponse {
        self.charge_on(&self.bus, bodies).await
    }

    async fn charge_on(&self, bus: &Publisher, bodies: &[String]) -> SqsBatchResponse {
        consume(sqs_event(bodies), |delivery| {
            charge_card(
                &self.payments,
                &self.cards,
                self.charging(&InProcess),
                bus,
                delivery,
            )
        })
        .await
    }

    fn charging<'a, P: CardProcessor>(&'a self, processor: &'a P) -> Charging<'a, P> {
        Charging {
            processor,
            breaker: &self.breaker,
        }
    }

    async fn refund(&self, bodies: &[String]) -> SqsBatchResponse {
        self.refund_on(&self.bus, bodies).await
    }

    async fn refund_on(&self, bus: &Publisher, bodies: &[String]) -> SqsBatchResponse {
        consume(sqs_event(bodies), |delivery| {
            refund_payment(&self.payments, bus, delivery)
        })
        .await
    }

    /// The key in the order's link.
    async fn key(&self, order: &str) -> String {
        let order = OrderId::parse(order).unwrap();
        sign(
            self.tables.secret("ORDER_LINK_KEY_PARAMETER").await.as_bytes(),
            &order,
        )
    }

    /// The payment as `GET /api/payments/{orderId}?key=` shows it to the
    /// holder of the order's link.
    async fn shown(&self, order: &str) -> (u16, Value) {
        let key = self.key(order).await;
        self.shown_at(&format!("/api/payments/{order}?key={key}")).await
    }

    async fn shown_at(&self, uri: &str) -> (u16, Value) {
        let request = request("GET", uri, None, "payment-get");
        json_response(
            get_payment(&self.payments, &self.links, request)
                .await
                .unwrap_or_else(|e| e.into_response()),
        )
    }

    /// The events published for `order`, as (detail-type, data).
    async fn published_for(&self, order: &OrderId) -> Vec<(String, Value)> {
        self.tap
            .events()
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, detail)| detail["metadata"]["correlationId"] == order.as_str())
            .map(|(kind, detail)| (kind, detail["data"].clone()))
            .collect()
    }

    /// Every attribute of every stored payment, as text.
    async fn stored_text(&self) -> String {
        let scanned = self
            .tables
            .dynamodb()
            .scan()
            .table_name(self.tables.setting("PAYMENTS_TABLE"))
            .send()
            .await
            .unwrap();
        format!("{:?}", scanned.items())
    }
}

#[tokio::test]
async fn a_good_visa_is_charged_once_whatever_is_redelivered() {
    let shop = shop("invpay-pay-charge").await;
    let order = order();
    let card = shop.seal(&order.order_id, GOOD_VISA, 1, 2039).await;
    let event = shop.reserved(&order, &card);
    assert!(
        shop.charge(&[event.clone(), event.clone()])
            .await
            .batch_item_failures
            .is_empty()
    );
    assert!(shop.charge(&[event]).await.batch_item_failures.is_empty());

    let (status, payment) = shop.shown(order.order_id.as_str()).await;
    assert_eq!(status, 200, "{payment}");
    assert_eq!(payment["status"], "CHARGED");
    assert_eq!(
        payment["amount"],
        json!({"currencyCode": "USD", "units": 580, "nanos": 840000000})
    );
    assert_eq!(
        (payment["cardType"].as_str(), payment["last4"].as_str()),
        (Some("visa"), Some("0454"))
    );
    let transaction = payment["transactionId"]
        .as_str()
        .expect("a transaction id")
        .to_owned();
    assert!(payment["chargedAt"].is_string() && payment.get("reason").is_none());

    let published = shop.published_for(&order.order_id).await;
    assert_eq!(published.len(), 3, "one outcome per delivery: {published:?}");
    for (kind, data) in &published {
        assert_eq!(kind, "PaymentSucceeded.v1");
        assert_eq!(
            data["payment"],
            json!({
                "transactionId": transaction, "cardType": "visa", "last4": "0454",
                "amount": {"currencyCode": "USD", "units": 580, "nanos": 840000000}
            })
        );
    }
    let stored = shop.stored_text().await;
    assert!(
        !stored.contains("443280156152"),
        "the card number is stored: {stored}"
    );
}

#[tokio::test]
async fn cards_the_demo_refuses_are_declined_and_nothing_is_charged() {
    let shop = shop("invpay-pay-decline").await;
    let cards = [
        (
            "4432-8015-6152-0455",
            1,
            2039,
            "the card number is not valid",
            "visa",
            "0455",
        ),
        (
            "3782-822463-10005",
            1,
            2039,
            "American Express cards are not accepted; only Visa and Mastercard",
            "amex",
            "0005",
        ),
        (GOOD_VISA, 1, 2020, "the card expired in 01/2020", "visa", "0454"),
    ];
    for (number, month, year, reason, card_type, last4) in cards {
        let order = order();
        let card = shop.seal(&order.order_id, number, month, year).await;
        let event = shop.reserved(&order, &card);
        assert!(
            shop.charge(&[event.clone(), event])
                .await
                .batch_item_failures
                .is_empty()
        );
        let (status, payment) = shop.shown(order.order_id.as_str()).await;
        assert_eq!(status, 200);
        assert_eq!(payment["status"], "DECLINED", "{number}");
        assert_eq!(payment["reason"], reason);
        assert_eq!(
            (payment["cardType"].as_str(), payment["last4"].as_str()),
            (Some(card_type), Some(last4))
        );
        assert!(payment.get("transactionId").is_none() && payment.get("chargedAt").is_none());
        let published = shop.published_for(&order.order_id).await;
        let expected = ("PaymentFailed.v1".to_owned(), json!(reason));
        let outcomes: Vec<(String, Value)> = published
            .into_iter()
            .map(|(kind, data)| (kind, data["reason"].clone()))
            .collect();
        assert_eq!(outcomes, [expected.clone(), expected], "{number}");
    }
}

#[tokio::test]
async fn a_card_sealed_for_another_order_or_damaged_is_declined_unread() {
    let shop = shop("invpay-pay-unreadable").await;
    let elsewhere = order();
    let stolen = shop.seal(&elsewhere.order_id, GOOD_VISA, 1, 2039).await;
    let damaged = SealedCard {
        ciphertext: "not base64 at all!".into(),
    };
    for card in [stolen, damaged] {
        let order = order();
        assert!(
            shop.charge(&[shop.reserved(&order, &card)])
                .await
                .batch_item_failures
                .is_empty()
        );
        let (_, payment) = shop.shown(order.order_id.as_str()).await;
        assert_eq!(payment["status"], "DECLINED");
        assert_eq!(payment["reason"], "the card details could not be read");
        let published = shop.published_for(&order.order_id).await;
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].0, "PaymentFailed.v1");
    }
}

#[tokio::test]
async fn refunding_a_charge_marks_it_refunded_once_and_publishes_the_refund() {
    let shop = shop("invpay-pay-refund").await;
    let order = order();
    let card = shop.seal(&order.order_id, GOOD_VISA, 1, 2039).await;
    assert!(
        shop.charge(&[shop.reserved(&order, &card)])
            .await
            .batch_item_failures
            .is_empty()
    );
    let transaction = shop.shown(order.order_id.as_str()).await.1["transactionId"].clone();

    let failed = shop.order_failed(&order);
    assert!(
        shop.refund(std::slice::from_ref(&failed))
            .await
            .batch_item_failures
            .is_empty()
    );
    let (_, refunded) = shop.shown(order.order_id.as_str()).await;
    assert_eq!(refunded["status"], "REFUNDED");
    assert_eq!(refunded["transactionId"], transaction);
    let refunded_at = refunded["refundedAt"].clone();
    assert!(refunded_at.is_string());
    // Redelivered: the same refund again, and the record unchanged.
    assert!(shop.refund(&[failed]).await.batch_item_failures.is_empty());
    assert_eq!(shop.shown(order.order_id.as_str()).await.1, refunded);

    let refunds: Vec<Value> = shop
        .published_for(&order.order_id)
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "PaymentRefunded.v1")
        .map(|(_, data)| data)
        .collect();
    let expected = json!({
        "orderId": order.order_id.as_str(), "transactionId": transaction,
        "amount": {"currencyCode": "USD", "units": 580, "nanos": 840000000}
    });
    assert_eq!(refunds, [expected.clone(), expected]);
}

#[tokio::test]
async fn an_order_failed_before_its_charge_is_voided_and_the_late_charge_does_nothing() {
    let shop = shop("invpay-pay-void").await;
    let order = order();
    assert!(
        shop.refund(&[shop.order_failed(&order)])
            .await
            .batch_item_failures
            .is_empty()
    );
    let (_, voided) = shop.shown(order.order_id.as_str()).await;
    assert_eq!(voided["status"], "VOIDED");
    assert_eq!(
        voided["reason"],
        "the order failed before it was charged: the sweeper gave up on it"
    );
    assert!(voided.get("transactionId").is_none());

    let card = shop.seal(&order.order_id, GOOD_VISA, 1, 2039).await;
    assert!(
        shop.charge(&[shop.reserved(&order, &card)])
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(shop.shown(order.order_id.as_str()).await.1, voided);
    assert_eq!(
        shop.published_for(&order.order_id).await,
        [],
        "no charge, no refund"
    );
}

#[tokio::test]
async fn a_failed_order_whose_card_was_declined_needs_no_refund() {
    let shop = shop("invpay-pay-declined-refund").await;
    let order = order();
    let card = shop.seal(&order.order_id, GOOD_VISA, 1, 2020).await;
    assert!(
        shop.charge(&[shop.reserved(&order, &card)])
            .await
            .batch_item_failures
            .is_empty()
    );
    let (_, declined) = shop.shown(order.order_id.as_str()).await;
    assert!(
        shop.refund(&[shop.order_failed(&order)])
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(shop.shown(order.order_id.as_str()).await.1, declined);
    let kinds = shop.tap.detail_types_for(order.order_id.as_str()).await.unwrap();
    assert_eq!(kinds, ["PaymentFailed.v1"]);
}

#[tokio::test]
async fn unreadable_and_foreign_messages_fail_alone_and_the_rest_of_the_batch_is_handled() {
    let shop = shop("invpay-pay-poison").await;
    let order = order();
    let card = shop.seal(&order.order_id, GOOD_VISA, 1, 2039).await;
    let placed = message(OrderPlaced {
        order: order.clone(),
        card: card.clone(),
    });
    let mut broken: Value = serde_json::from_str(&shop.reserved(&order, &card)).unwrap();
    broken["detail"]["data"]["order"]["total"] = json!("a lot");
    let batch = [
        "{not json".to_owned(),
        broken.to_string(),
        placed.clone(),
        shop.reserved(&order, &card),
    ];
    assert_eq!(failed_ids(&shop.charge(&batch).await), ["m0", "m1", "m2"]);
    assert_eq!(shop.shown(order.order_id.as_str()).await.1["status"], "CHARGED");

    let batch = ["{not json".to_owned(), placed, shop.order_failed(&order)];
    assert_eq!(failed_ids(&shop.refund(&batch).await), ["m0", "m1"]);
    assert_eq!(shop.shown(order.order_id.as_str()).await.1["status"], "REFUNDED");
}

#[tokio::test]
async fn an_unknown_order_has_no_payment_and_a_malformed_id_is_refused() {
    let shop = shop("invpay-pay-get").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let (status, body) = shop.shown(&unknown).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("payment_not_found"))
    );
    let (status, body) = shop.shown_at("/api/payments/not-an-order?key=k").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_order_id"))
    );
    assert!(
        shop.payments
            .payment(&OrderId::parse(&unknown).unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

/// A Lambda SQS event shipped in `events/sqs`.
fn sample(json: &str) -> lambda_runtime::LambdaEvent<aws_lambda_events::event::sqs::SqsEvent> {
    let event = serde_json::from_str(json).expect("the sample is an SQS event");
    lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default())
}

#[tokio::test]
async fn the_sample_events_void_the_payment_before_the_late_charge() {
    let shop = shop("invpay-pay-samples").await;
    let shown = |response| json_response(response);
    // The sample asks without a key; the holder of the order's link adds it.
    let key = shop.key("3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11").await;
    let sample_request = |key: Option<&str>| {
        let mut event: Value =
            serde_json::from_str(include_str!("../../../events/http/payment-get.json")).unwrap();
        if let Some(key) = key {
            event["rawQueryString"] = json!(format!("key={key}"));
            event["queryStringParameters"] = json!({"key": key});
        }
        lambda_http::request::from_str(&event.to_string()).unwrap()
    };
    assert_eq!(
        get_payment(&shop.payments, &shop.links, sample_request(None))
            .await
            .unwrap_err()
            .status(),
        404
    );
    let get = || async {
        shown(
            get_payment(&shop.payments, &shop.links, sample_request(Some(&key)))
                .await
                .unwrap_or_else(|e| e.into_response()),
        )
    };
    assert_eq!(get().await.0, 404);
    let refund = sample(include_str!("../../../events/sqs/payment-refund.json"));
    let voided = consume(refund, |delivery| {
        refund_payment(&shop.payments, &shop.bus, delivery)
    })
    .await;
    assert!(voided.batch_item_failures.is_empty());
    let charge = sample(include_str!("../../../events/sqs/payment-charge.json"));
    let charged = consume(charge, |delivery| {
        charge_card(
            &shop.payments,
            &shop.cards,
            shop.charging(&InProcess),
            &shop.bus,
            delivery,
        )
    })
    .await;
    assert!(charged.batch_item_failures.is_empty());
    let (status, payment) = get().await;
    assert_eq!((status, payment["status"].as_str()), (200, Some("VOIDED")));
    assert_eq!(
        payment["amount"],
        json!({"currencyCode": "USD", "units": 580, "nanos": 840000000})
    );
    let order = OrderId::parse("3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11").unwrap();
    assert_eq!(shop.published_for(&order).await, []);
}

#[tokio::test]
async fn a_payment_is_shown_only_to_the_holder_of_the_orders_link() {
    let shop = shop("invpay-pay-owner").await;
    let order = order();
    let card = shop.seal(&order.order_id, GOOD_VISA, 1, 2039).await;
    let charged = shop.charge(&[shop.reserved(&order, &card)]).await;
    assert!(charged.batch_item_failures.is_empty());
    let id = order.order_id.as_str();
    assert_eq!(shop.shown(id).await.0, 200);
    let someone_elses = shop.key(new_order_id().as_str()).await;
    for uri in [
        format!("/api/payments/{id}"),
        format!("/api/payments/{id}?key="),
        format!("/api/payments/{id}?key={someone_elses}"),
    ] {
        let (status, body) = shop.shown_at(&uri).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("payment_not_found")),
            "{uri}"
        );
        assert!(!body.to_string().contains("0454"), "{uri}: {body}");
    }
}

#[tokio::test]
async fn a_charge_whose_publish_failed_is_announced_by_its_redelivery_and_charged_once() {
    let shop = shop("invpay-pay-bus-down").await;
    let order = order();
    let card = shop.seal(&order.order_id, GOOD_VISA, 1, 2039).await;
    let event = shop.reserved(&order, &card);

    let failed = shop.charge_on(&shop.bus_down, std::slice::from_ref(&event)).await;
    assert_eq!(failed_ids(&failed).len(), 1, "the message goes back to its queue");
    let (_, charged) = shop.shown(order.order_id.as_str()).await;
    assert_eq!(charged["status"], "CHARGED");
    assert!(shop.published_for(&order.order_id).await.is_empty());

    assert!(failed_ids(&shop.charge(&[event]).await).is_empty());
    let (_, payment) = shop.shown(order.order_id.as_str()).await;
    assert_eq!(payment["transactionId"], charged["transactionId"], "charged once");
    let published = shop.published_for(&order.order_id).await;
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].0, "PaymentSucceeded.v1");
    assert_eq!(
        published[0].1["payment"]["transactionId"],
        charged["transactionId"]
    );
}

#[tokio::test]
async fn a_refund_whose_publish_failed_is_announced_by_its_redelivery() {
    let shop = shop("invpay-pay-refund-bus-down").await;
    let order = order();
    let card = shop.seal(&order.order_id, GOOD_VISA, 1, 2039).await;
    assert!(failed_ids(&shop.charge(&[shop.reserved(&order, &card)]).await).is_empty());

    let failed = shop.refund_on(&shop.bus_down, &[shop.order_failed(&order)]).await;
    assert_eq!(failed_ids(&failed).len(), 1, "the message goes back to its queue");
    let (_, refunded) = shop.shown(order.order_id.as_str()).await;
    assert_eq!(refunded["status"], "REFUNDED");

    assert!(failed_ids(&shop.refund(&[shop.order_failed(&order)]).await).is_empty());
    let kinds = shop.tap.detail_types_for(order.order_id.as_str()).await.unwrap();
    assert_eq!(kinds, ["PaymentSucceeded.v1", "PaymentRefunded.v1"]);
}

#[tokio::test]
async fn the_breaker_opens_at_its_threshold_lets_one_probe_through_and_closes_on_its_success() {
    let shop = shop("payment-breaker").await;
    let breaker = &shop.breaker;
    for _ in 0..QUICK.threshold {
        let admitted = breaker.admit().await.unwrap();
        assert_eq!(admitted, Admission::Call);
        breaker.failed(admitted).await.unwrap();
    }
    let Admission::Wait(wait) = breaker.admit().await.unwrap() else {
        panic!("an open breaker let a call through");
    };
    assert!(wait <= QUICK.cool_down, "{wait:?}");
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
    // One probe, whoever asks at once.
    let (first, second) = tokio::join!(breaker.admit(), breaker.admit());
    let admissions = [first.unwrap(), second.unwrap()];
    let probes: Vec<Admission> = admissions
        .into_iter()
        .filter(|a| matches!(a, Admission::Probe { .. }))
        .collect();
    assert_eq!(probes.len(), 1, "{admissions:?}");
    // A failed probe opens it again for a cool-down.
    breaker.failed(probes[0]).await.unwrap();
    assert!(matches!(breaker.admit().await.unwrap(), Admission::Wait(_)));
    tokio::time::sleep(QUICK.cool_down + Duration::from_millis(50)).await;
    let probe = breaker.admit().await.unwrap();
    assert!(matches!(probe, Admission::Probe { .. }), "{probe:?}");
    breaker.succeeded(probe).await.unwrap();
    assert_eq!(breaker.admit().await.unwrap(), Admission::Call);
    // Closed again, it counts failures afresh.
    let admitted = breaker.admit().await.unwrap();
    breaker.failed(admitted).await.unwrap();
    assert_eq!(breaker.admit().await.unwrap(), Admission::Call);
}

#[tokio::test]
async fn a_payment_the_processor_does_not_answer_waits_on_its_queue_and_is_charged_later() {
    let shop = shop("payment-parked").await;
    let sqs = aws_sdk_sqs::Client::new(shop.tables.config());
    let name = format!("{}-parked-payments", shop.tables.prefix());
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let order = order();
    let card = shop.seal(&order.order_id, GOOD_VISA, 1, 2039).await;
    let body = shop.reserved(&order, &card);
    let mut event = sqs_event(std::slice::from_ref(&body));
    event.payload.records[0].event_source_arn = Some(format!("arn:aws:sqs:us-east-1:123456789012:{name}"));
    // Nothing listens on port 9: the processor cannot be reached.
    let unreachable = HttpProcessor::new(
        "http://127.0.0.1:9/api/processor/charges",
        SecretParameter::new(
            aws_sdk_ssm::Client::new(shop.tables.config()),
            shop.tables.setting("PROCESSOR_KEY_PARAMETER"),
            SecretParameter::TTL,
        ),
    )
    .unwrap();
    let parking = Parking::new(sqs.clone());
    let answer = consume_parking(
        event,
        |delivery| {
            charge_card(
                &shop.payments,
                &shop.cards,
                shop.charging(&unreachable),
                &shop.bus,
                delivery,
            )
        },
        Some(&parking),
    )
    .await;
    assert!(
        answer.batch_item_failures.is_empty(),
        "a parked message is done, not failed"
    );
    assert!(
        shop.payments.payment(&order.order_id).await.unwrap().is_none(),
        "nothing recorded"
    );
    assert!(
        shop.tap
            .detail_types_for(order.order_id.as_str())
            .await
            .unwrap()
            .is_empty()
    );
    // The message is back on its queue after its delay, as it was.
    let mut parked = None;
    for _ in 0..20 {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(message) = received.messages.unwrap_or_default().pop() {
            parked = message.body;
            break;
        }
    }
    assert_eq!(
        parked.as_deref(),
        Some(body.as_str()),
        "the parked message came back"
    );
    // Redelivered once the processor answers, the order is charged.
    assert!(shop.charge(&[body]).await.batch_item_failures.is_empty());
    let payment = shop.payments.payment(&order.order_id).await.unwrap().unwrap();
    assert_eq!(payment.status, astroshop_payment::store::PaymentStatus::Charged);
}
