//! The cart-clear consumer, called in-process with SQS batches as Lambda
//! hands them over, against the Carts table in the emulator.

use astroshop_cart::clear::clear_ordered_lines;
use astroshop_domain::{CartLine, ProductId, Quantity, UserId};
use astroshop_saga::consume;
use astroshop_store::{CartStore, CartTable};
use local_stack_testing::{TestTables, bus_event, failed_ids, sqs_event};
use serde_json::json;

async fn carts(prefix: &str) -> CartTable {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    CartTable::new(tables.dynamodb(), tables.setting("CARTS_TABLE"))
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

async fn fill(carts: &CartTable, user_id: &str, lines: &[(&str, i64)]) {
    for (product, quantity) in lines {
        carts
            .add_to_line(
                &user(user_id),
                &ProductId::parse(product).unwrap(),
                Quantity::new(*quantity).unwrap(),
            )
            .await
            .unwrap();
    }
}

async fn lines(carts: &CartTable, user_id: &str) -> Vec<(String, u32)> {
    carts
        .cart_lines(&user(user_id))
        .await
        .unwrap()
        .into_iter()
        .map(|CartLine { product_id, quantity }| (product_id.to_string(), quantity.get()))
        .collect()
}

/// The time now, as checkout writes an order's `placedAt`.
fn now() -> String {
    astroshop_domain::Timestamp::from(time::OffsetDateTime::now_utc()).into()
}

/// Lets the clock pass into the next second, the resolution of a cart
/// line's expiry.
async fn next_second() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}

/// OrderConfirmed for `user_id`'s order of `lines`, placed at `placed_at`.
fn confirmed(user_id: &str, lines: &[(&str, i64)], placed_at: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let usd = |units: i64| json!({"currencyCode": "USD", "units": units, "nanos": 0});
    let items: Vec<_> = lines
        .iter()
        .map(|(product, quantity)| json!({"item": {"productId": product, "quantity": quantity}, "cost": usd(10)}))
        .collect();
    bus_event(
        "astroshop.orders",
        "OrderConfirmed.v1",
        &json!({
            "metadata": {"eventId": format!("{id}/OrderConfirmed.v1"), "occurredAt": "2026-11-21T10:00:01Z",
                         "correlationId": id},
            "data": {"order": {
                "orderId": id, "userId": user_id, "email": "larry@example.com", "currencyCode": "USD",
                "items": items, "shippingCost": usd(0), "total": usd(10),
                "shippingAddress": {"streetAddress": "1600 Amphitheatre Parkway", "city": "Mountain View",
                                    "state": "CA", "country": "United States", "zipCode": "94043"},
                "card": {"cardType": "visa", "last4": "0454"},
                "placedAt": placed_at,
            }, "trackingId": "5f0c2a8e-7d41-4b9a-a3e6-1c8b7d2f9e04"},
        }),
    )
}

async fn deliver(carts: &CartTable, bodies: &[String]) -> Vec<String> {
    failed_ids(&consume(sqs_event(bodies), |delivery| clear_ordered_lines(carts, delivery)).await)
}

#[tokio::test]
async fn a_confirmed_order_leaves_the_cart_with_only_what_was_not_ordered() {
    let carts = carts("side-clear-ordered").await;
    fill(
        &carts,
        "larry",
        &[("OLJCESPC7Z", 2), ("66VCHSJNUP", 1), ("L9ECAV7KIM", 3)],
    )
    .await;
    fill(&carts, "sergei", &[("OLJCESPC7Z", 2)]).await;
    let order = confirmed("larry", &[("OLJCESPC7Z", 2), ("66VCHSJNUP", 1)], &now());
    assert!(deliver(&carts, &[order]).await.is_empty());
    assert_eq!(lines(&carts, "larry").await, [("L9ECAV7KIM".to_owned(), 3)]);
    assert_eq!(lines(&carts, "sergei").await, [("OLJCESPC7Z".to_owned(), 2)]);
}

#[tokio::test]
async fn a_line_changed_after_checkout_stays_in_the_cart() {
    let carts = carts("side-clear-changed-since").await;
    fill(&carts, "larry", &[("OLJCESPC7Z", 2), ("66VCHSJNUP", 1)]).await;
    let order = confirmed("larry", &[("OLJCESPC7Z", 2), ("66VCHSJNUP", 1)], &now());
    next_second().await;
    fill(&carts, "larry", &[("OLJCESPC7Z", 1)]).await;
    assert!(deliver(&carts, &[order]).await.is_empty());
    assert_eq!(lines(&carts, "larry").await, [("OLJCESPC7Z".to_owned(), 3)]);
}

#[tokio::test]
async fn a_redelivered_order_leaves_what_was_put_back_since() {
    let carts = carts("side-clear-duplicate").await;
    fill(&carts, "larry", &[("OLJCESPC7Z", 2), ("L9ECAV7KIM", 3)]).await;
    let order = confirmed("larry", &[("OLJCESPC7Z", 2)], &now());
    assert!(deliver(&carts, std::slice::from_ref(&order)).await.is_empty());
    assert_eq!(lines(&carts, "larry").await, [("L9ECAV7KIM".to_owned(), 3)]);
    next_second().await;
    fill(&carts, "larry", &[("OLJCESPC7Z", 1)]).await;
    assert!(deliver(&carts, &[order]).await.is_empty());
    assert_eq!(
        lines(&carts, "larry").await,
        [("L9ECAV7KIM".to_owned(), 3), ("OLJCESPC7Z".to_owned(), 1)]
    );
}

#[tokio::test]
async fn unreadable_and_unexpected_messages_fail_alone_and_clear_nothing() {
    let carts = carts("side-clear-poison").await;
    fill(&carts, "larry", &[("OLJCESPC7Z", 2)]).await;
    fill(&carts, "sergei", &[("OLJCESPC7Z", 2)]).await;
    let failed_order =
        confirmed("sergei", &[("OLJCESPC7Z", 2)], &now()).replace("OrderConfirmed.v1\"", "OrderFailed.v1\"");
    let failed = deliver(
        &carts,
        &[
            "{not json".to_owned(),
            failed_order,
            confirmed("sergei", &[("OLJCESPC7Z", 2)], "today"),
            confirmed("larry", &[("OLJCESPC7Z", 2)], &now()),
        ],
    )
    .await;
    assert_eq!(failed, ["m0", "m1", "m2"]);
    assert_eq!(lines(&carts, "larry").await, []);
    assert_eq!(lines(&carts, "sergei").await, [("OLJCESPC7Z".to_owned(), 2)]);
}
