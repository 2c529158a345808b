//! Checkout and the saga end to end: an order placed over HTTP is followed
//! through every step (stock held, card charged, parcel shipped, mail sent,
//! ledger counted), and every failure path is shown to compensate. Each test
//! buys its own product (created through the admin API with its own stock),
//! so tests running side by side never share a stock count; tests that count
//! the ledger each use a currency no other test pays in.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{Context, Result};
use astroshop_tests::{Reply, Shop, ensure_that};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use serde_json::{Value, json};

use astroshop_tests::checkout::{GOOD_CARD, checkout_request, fresh_product, order_key, order_path, stock};

use crate::cart::{add, lines, unique_user};
use crate::search::eventually;
use crate::shipping::encode;

pub const TESTS: &[(&str, crate::Test)] = tests![
    a_checkout_is_confirmed_shipped_mailed_and_counted,
    declined_cards_fail_the_order_release_the_stock_and_charge_nothing,
    an_order_for_more_than_the_stock_fails_and_charges_nothing,
    twenty_concurrent_checkouts_for_the_last_five_units_confirm_exactly_five,
    the_same_idempotency_key_gives_one_order_and_another_body_is_refused,
    redelivered_saga_events_change_nothing,
    bad_checkouts_are_refused_and_place_nothing,
    prefer_wait_answers_the_confirmed_order_and_a_replay_waits_for_the_same_one,
];

/// Tests that stop a consumer or sweep every pending order: they run alone,
/// after the others, so no other test's order is held up or swept.
pub const EXCLUSIVE: &[(&str, crate::Test)] = tests![
    a_poison_message_ends_in_its_dead_letter_queue_and_its_batch_is_processed,
    an_order_written_while_the_publisher_is_stopped_is_published_when_it_is_back,
    the_sweeper_fails_and_compensates_an_order_whose_step_never_came,
    a_payment_shipping_failed_on_is_redriven_once_fixed_and_the_order_completes,
];

/// How long a saga may take on a busy machine before a test gives up.
pub const SAGA_DEADLINE: Duration = Duration::from_secs(120);

pub fn place(shop: &Shop, request: &Value, idempotency_key: Option<&str>) -> Result<Reply> {
    let currency = request["userCurrency"].as_str().unwrap_or("USD");
    let path = format!("/api/checkout?currencyCode={currency}");
    match idempotency_key {
        Some(key) => shop.send_with_headers("POST", &path, &[("idempotency-key", key)], Some(request)),
        None => shop.send("POST", &path, Some(request)),
    }
}

/// Places an order and checks the answer is a placed, pending order; its id.
pub fn place_order(shop: &Shop, request: &Value) -> Result<String> {
    let reply = place(shop, request, None)?;
    ensure_that!(
        reply.status == 202,
        "checkout answered {}: {}",
        reply.status,
        reply.body
    );
    ensure_that!(
        reply.body["status"] == "PENDING",
        "a new order is {}",
        reply.body["status"]
    );
    reply.body["orderId"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no orderId in {}", reply.body))
}

/// The order, as the holder of its link reads it.
pub fn order(shop: &Shop, id: &str) -> Result<Value> {
    let reply = shop.get(&order_path(shop, id)?)?;
    ensure_that!(reply.status == 200, "order {id}: {} {}", reply.status, reply.body);
    Ok(reply.body)
}

/// Follows an order until the saga has finished with it.
pub fn settled(shop: &Shop, id: &str) -> Result<Value> {
    eventually(&format!("order {id} settled"), SAGA_DEADLINE, || {
        let order = order(shop, id)?;
        Ok(match order["status"].as_str() {
            Some("CONFIRMED" | "FAILED") => Ok(order),
            other => Err(format!("still {other:?}")),
        })
    })
}

pub fn payment(shop: &Shop, id: &str) -> Result<Reply> {
    shop.get(&format!("/api/payments/{id}?key={}", order_key(shop, id)?))
}

/// Whether nothing was taken from the card for this order: no payment, or
/// one that was declined or voided (never charged, never refunded).
pub fn nothing_charged(shop: &Shop, id: &str) -> Result<Result<(), String>> {
    let reply = payment(shop, id)?;
    Ok(match (reply.status, reply.body["status"].as_str()) {
        (404, _) | (200, Some("DECLINED" | "VOIDED"))
            if reply.body.get("transactionId").is_none_or(Value::is_null) =>
        {
            Ok(())
        }
        (status, kind) => Err(format!("payment {status} {kind:?}: {}", reply.body)),
    })
}

/// The ids of a guest's orders, read from the Orders table's `byUser` index
/// as an operator would: no API lists a guest's orders.
fn guest_orders(shop: &Shop, user: &str) -> Result<Vec<String>> {
    let dynamodb = aws_sdk_dynamodb::Client::new(&shop.aws()?);
    let page = shop.block_on(
        dynamodb
            .query()
            .table_name(shop.setting("ORDERS_TABLE")?)
            .index_name("byUser")
            .key_condition_expression("userId = :user")
            .expression_attribute_values(":user", AttributeValue::S(user.to_owned()))
            .send(),
    )?;
    Ok(page
        .items()
        .iter()
        .filter_map(|item| item.get("orderId").and_then(|id| id.as_s().ok()).cloned())
        .collect())
}

fn history_steps(order: &Value) -> Vec<String> {
    order["history"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter_map(|step| step["step"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn mails_to(shop: &Shop, email: &str) -> Result<Vec<astroshop_tests::Mail>> {
    Ok(shop
        .sent_mail()?
        .into_iter()
        .filter(|mail| mail.to.iter().any(|to| to == email))
        .collect())
}

/// The mail sent to `email`, as an operator reads it (the admin key).
pub fn notifications(shop: &Shop, email: &str) -> Result<Vec<Value>> {
    let bearer = format!("Bearer {}", shop.admin_key()?);
    let reply = shop.send_with_headers(
        "GET",
        &format!("/api/notifications?email={email}"),
        &[("authorization", &bearer)],
        None,
    )?;
    ensure_that!(
        reply.status == 200,
        "notifications: {} {}",
        reply.status,
        reply.body
    );
    Ok(reply.body["notifications"]
        .as_array()
        .or(reply.body.as_array())
        .cloned()
        .unwrap_or_default())
}

/// The ledger's total for a currency on a day, in nanos, read from its
/// table: the sum of the day's sixteen shards, `<currency>#<day>#<shard>`
/// (the accounting service adds an order to the shard named by the last hex
/// digit of its id).
fn ledger_total(shop: &Shop, currency: &str, day: &str) -> Result<i128> {
    let table = shop.setting("LEDGER_TABLE")?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&shop.aws()?);
    let shards = (0..16u32)
        .map(|shard| {
            let key = AttributeValue::S(format!("{currency}#{day}#{shard:x}"));
            HashMap::from([("pk".to_owned(), key)])
        })
        .collect();
    let request = KeysAndAttributes::builder()
        .set_keys(Some(shards))
        .consistent_read(true)
        .build()?;
    let output = shop.block_on(dynamodb.batch_get_item().request_items(&table, request).send())?;
    anyhow::ensure!(
        output.unprocessed_keys.as_ref().is_none_or(HashMap::is_empty),
        "the ledger left shards of {currency} on {day} unread"
    );
    let shards = output
        .responses
        .and_then(|mut responses| responses.remove(&table))
        .unwrap_or_default();
    shards
        .iter()
        .map(|shard| -> Result<i128> {
            match shard.get("totalNanos") {
                Some(AttributeValue::N(total)) => Ok(total.parse()?),
                other => anyhow::bail!("ledger total is {other:?}"),
            }
        })
        .sum()
}

fn money_nanos(money: &Value) -> i128 {
    i128::from(money["units"].as_i64().unwrap_or(0)) * 1_000_000_000
        + i128::from(money["nanos"].as_i64().unwrap_or(0))
}

fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

fn email_for(user: &str) -> String {
    format!("{}@example.com", user.to_lowercase())
}

// ------------------------------------------------------------------ the tests

fn a_checkout_is_confirmed_shipped_mailed_and_counted(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "happy path", 120, 10)?;
    let user = unique_user("happy");
    let email = email_for(&user);
    add(shop, &user, &product, 2)?;
    add(shop, &user, "OLJCESPC7Z", 1)?;
    // Only this test pays in Swiss francs, so the day's franc total is its own.
    let ledger_before = ledger_total(shop, "CHF", &today())?;

    let request = checkout_request(&user, &email, "CHF", (GOOD_CARD, 1, 2039));
    let reply = place(shop, &request, None)?;
    ensure_that!(
        reply.status == 202,
        "checkout answered {}: {}",
        reply.status,
        reply.body
    );
    let placed = reply.body;
    let id = placed["orderId"].as_str().context("no orderId")?.to_owned();
    let link = format!("/api/orders/{id}?key={}", order_key(shop, &id)?);
    ensure_that!(placed["link"] == link.as_str(), "link {}", placed["link"]);
    ensure_that!(
        reply.headers.get("location").and_then(|v| v.to_str().ok()) == Some(link.as_str()),
        "Location {:?}",
        reply.headers.get("location")
    );
    ensure_that!(placed["status"] == "PENDING", "status {}", placed["status"]);
    ensure_that!(
        placed["shippingAddress"]["city"] == "Mountain View",
        "address {}",
        placed["shippingAddress"]
    );
    let items = placed["items"].as_array().context("no items")?;
    ensure_that!(items.len() == 2, "{} lines ordered", items.len());
    let mut sum = money_nanos(&placed["shippingCost"]);
    for line in items {
        ensure_that!(
            line["cost"]["currencyCode"] == "CHF",
            "a line costs {}",
            line["cost"]
        );
        sum += money_nanos(&line["cost"]) * i128::from(line["item"]["quantity"].as_i64().unwrap_or(0));
    }
    ensure_that!(
        sum == money_nanos(&placed["total"]),
        "total {} is not lines + shipping",
        placed["total"]
    );
    let items = format!(r#"[{{"productId":"{product}","quantity":3}}]"#);
    let address = placed["shippingAddress"].to_string();
    let quote = shop.get(&format!(
        "/api/shipping?itemList={}&currencyCode=CHF&address={}",
        encode(&items),
        encode(&address)
    ))?;
    ensure_that!(
        quote.body == placed["shippingCost"],
        "shipping {} differs from the quote {}",
        placed["shippingCost"],
        quote.body
    );

    let order = settled(shop, &id)?;
    ensure_that!(
        order["status"] == "CONFIRMED",
        "order ended {}: {}",
        order["status"],
        order
    );
    let tracking = order["trackingId"].as_str().unwrap_or_default().to_owned();
    ensure_that!(!tracking.is_empty(), "no tracking id: {order}");
    let steps = history_steps(&order);
    for step in [
        "OrderPlaced",
        "InventoryReserved",
        "PaymentSucceeded",
        "OrderShipped",
    ] {
        ensure_that!(steps.iter().any(|s| s == step), "history {steps:?} lacks {step}");
    }

    let paid = payment(shop, &id)?;
    ensure_that!(
        paid.status == 200 && paid.body["status"] == "CHARGED",
        "payment {} {}",
        paid.status,
        paid.body
    );
    ensure_that!(
        paid.body["amount"] == placed["total"],
        "charged {} for {}",
        paid.body["amount"],
        placed["total"]
    );
    ensure_that!(
        paid.body["last4"] == "0454" && paid.body["cardType"] == "visa",
        "card {}",
        paid.body
    );
    ensure_that!(
        !paid.body.to_string().contains("4432801561520454"),
        "the card number is shown"
    );

    ensure_that!(
        stock(shop, &product)? == 8,
        "stock of {product} after buying 2 of 10"
    );
    eventually("the cart emptied", SAGA_DEADLINE, || {
        let left = lines(shop, &user)?;
        Ok(if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        })
    })?;
    let mail = eventually("the confirmation mail", SAGA_DEADLINE, || {
        let mails = mails_to(shop, &email)?;
        Ok(mails.into_iter().next().ok_or_else(|| "no mail yet".to_owned()))
    })?;
    ensure_that!(mail.subject.contains(&id), "subject {:?}", mail.subject);
    ensure_that!(
        mail.body.contains(&tracking),
        "the mail does not give the tracking id: {}",
        mail.body
    );
    let sent = notifications(shop, &email)?;
    ensure_that!(
        sent.len() == 1 && sent[0]["orderId"] == id.as_str(),
        "notifications {sent:?}"
    );
    let day = order["placedAt"]
        .as_str()
        .unwrap_or_default()
        .get(..10)
        .unwrap_or_default()
        .to_owned();
    let grown = eventually("the ledger counted the order", SAGA_DEADLINE, || {
        let now = ledger_total(shop, "CHF", &day)?;
        Ok(if now != ledger_before {
            Ok(now)
        } else {
            Err("unchanged".to_owned())
        })
    })?;
    ensure_that!(
        grown - ledger_before == money_nanos(&placed["total"]),
        "the ledger grew by {} nanos for an order of {}",
        grown - ledger_before,
        placed["total"]
    );
    Ok(())
}

fn declined_cards_fail_the_order_release_the_stock_and_charge_nothing(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "declined cards", 40, 10)?;
    let cards = [
        ("bad-luhn", ("4432-8015-6152-0455", 1, 2039), "not valid"),
        ("amex", ("3782-822463-10005", 1, 2039), "american express"),
        ("expired", (GOOD_CARD, 1, 2020), "expired"),
    ];
    let mut placed = Vec::new();
    for (label, card, reason) in cards {
        let user = unique_user(label);
        add(shop, &user, &product, 2)?;
        let id = place_order(shop, &checkout_request(&user, &email_for(&user), "USD", card))?;
        placed.push((label, user, id, reason));
    }
    for (label, user, id, reason) in &placed {
        let order = settled(shop, id)?;
        ensure_that!(
            order["status"] == "FAILED",
            "{label}: order ended {}",
            order["status"]
        );
        let why = order["failureReason"].as_str().unwrap_or_default().to_lowercase();
        ensure_that!(why.contains(reason), "{label}: failure reason {why:?}");
        let paid = payment(shop, id)?;
        ensure_that!(
            paid.body["status"] == "DECLINED",
            "{label}: payment {}",
            paid.body
        );
        nothing_charged(shop, id)?.map_err(anyhow::Error::msg)?;
        eventually(&format!("{label}: failure mail"), SAGA_DEADLINE, || {
            let sent = notifications(shop, &email_for(user))?;
            Ok(match sent.first() {
                Some(mail) if mail["kind"] == "failure" => Ok(()),
                _ => Err(format!("{sent:?}")),
            })
        })?;
        // A failed order leaves the cart as it was, to try again.
        ensure_that!(
            lines(shop, user)? == [(product.clone(), 2)],
            "{label}: cart changed"
        );
    }
    eventually("every held unit released", SAGA_DEADLINE, || {
        let now = stock(shop, &product)?;
        Ok(if now == 10 {
            Ok(())
        } else {
            Err(format!("{now} available"))
        })
    })
}

fn an_order_for_more_than_the_stock_fails_and_charges_nothing(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "out of stock", 30, 1)?;
    let user = unique_user("short");
    add(shop, &user, &product, 2)?;
    let id = place_order(
        shop,
        &checkout_request(&user, &email_for(&user), "USD", (GOOD_CARD, 1, 2039)),
    )?;
    let order = settled(shop, &id)?;
    ensure_that!(order["status"] == "FAILED", "order ended {}", order["status"]);
    ensure_that!(
        order["failureReason"]
            .as_str()
            .unwrap_or_default()
            .contains(&product),
        "the reason does not name the product: {}",
        order["failureReason"]
    );
    nothing_charged(shop, &id)?.map_err(anyhow::Error::msg)?;
    ensure_that!(stock(shop, &product)? == 1, "stock changed");
    Ok(())
}

fn twenty_concurrent_checkouts_for_the_last_five_units_confirm_exactly_five(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "last five", 15, 5)?;
    let users: Vec<String> = (0..20).map(|n| unique_user(&format!("race{n}"))).collect();
    for user in &users {
        add(shop, user, &product, 1)?;
    }
    let ids: Vec<String> = std::thread::scope(|scope| {
        let placing: Vec<_> = users
            .iter()
            .map(|user| {
                scope.spawn(move || {
                    place_order(
                        shop,
                        &checkout_request(user, &email_for(user), "USD", (GOOD_CARD, 1, 2039)),
                    )
                })
            })
            .collect();
        placing
            .into_iter()
            .map(|handle| handle.join().expect("a checkout thread does not panic"))
            .collect::<Result<_>>()
    })?;
    let mut outcomes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in &ids {
        let order = settled(shop, id)?;
        let status = order["status"].as_str().unwrap_or_default().to_owned();
        outcomes.entry(status).or_default().push(id.clone());
    }
    let count = |status: &str| outcomes.get(status).map_or(0, Vec::len);
    ensure_that!(
        count("CONFIRMED") == 5 && count("FAILED") == 15,
        "{} confirmed, {} failed",
        count("CONFIRMED"),
        count("FAILED")
    );
    for id in &outcomes["FAILED"] {
        nothing_charged(shop, id)?.map_err(anyhow::Error::msg)?;
    }
    for id in &outcomes["CONFIRMED"] {
        let paid = payment(shop, id)?;
        ensure_that!(
            paid.body["status"] == "CHARGED",
            "a confirmed order's payment is {}",
            paid.body
        );
    }
    // Nothing the 15 failed orders held is left held: the five sold units are
    // gone and not one more.
    ensure_that!(stock(shop, &product)? == 0, "stock is not 0");
    Ok(())
}

fn the_same_idempotency_key_gives_one_order_and_another_body_is_refused(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "idempotency", 25, 5)?;
    let user = unique_user("idem");
    add(shop, &user, &product, 1)?;
    let key = uuid::Uuid::new_v4().to_string();
    let request = checkout_request(&user, &email_for(&user), "USD", (GOOD_CARD, 1, 2039));
    let first = place(shop, &request, Some(&key))?;
    let again = place(shop, &request, Some(&key))?;
    ensure_that!(
        first.status == 202 && again.status == 202,
        "{} then {}",
        first.status,
        again.status
    );
    ensure_that!(
        first.body["orderId"] == again.body["orderId"],
        "two orders: {} and {}",
        first.body["orderId"],
        again.body["orderId"]
    );
    let mut other = request.clone();
    other["email"] = json!("someone.else@example.com");
    let refused = place(shop, &other, Some(&key))?;
    ensure_that!(
        refused.status == 422 && refused.body["error"]["code"] == "idempotency_key_reused",
        "another body with the same key: {} {}",
        refused.status,
        refused.body
    );
    let orders = guest_orders(shop, &user)?;
    ensure_that!(
        orders.len() == 1,
        "the user has {} orders: {orders:?}",
        orders.len()
    );
    let id = first.body["orderId"].as_str().unwrap_or_default();
    ensure_that!(
        settled(shop, id)?["status"] == "CONFIRMED",
        "the order did not confirm"
    );
    ensure_that!(stock(shop, &product)? == 4, "one unit sold, not two");
    Ok(())
}

/// What a shopper and an operator can see of one order, to compare before
/// and after its events are delivered again.
#[derive(Debug, PartialEq)]
struct Footprint {
    status: Value,
    tracking_id: Value,
    history: usize,
    payment: Value,
    stock: i64,
    ledger: i128,
    notifications: usize,
    mails: usize,
}

fn footprint(shop: &Shop, id: &str, product: &str, email: &str, day: &str) -> Result<Footprint> {
    let order = order(shop, id)?;
    Ok(Footprint {
        status: order["status"].clone(),
        tracking_id: order["trackingId"].clone(),
        history: history_steps(&order).len(),
        payment: payment(shop, id)?.body,
        stock: stock(shop, product)?,
        ledger: ledger_total(shop, "JPY", day)?,
        notifications: notifications(shop, email)?.len(),
        mails: mails_to(shop, email)?.len(),
    })
}

/// The messages a queue holds, waiting or in flight.
pub fn messages_held(shop: &Shop, sqs: &aws_sdk_sqs::Client, url: &str) -> Result<i64> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let attributes = shop.block_on(
        sqs.get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send(),
    )?;
    Ok(attributes
        .attributes()
        .map(|a| a.values().filter_map(|v| v.parse::<i64>().ok()).sum())
        .unwrap_or(0))
}

/// Waits until no saga queue holds a message, visible or in flight.
pub fn queues_drained(shop: &Shop) -> Result<()> {
    let sqs = aws_sdk_sqs::Client::new(&shop.aws()?);
    let queues = [
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
    let mut urls = Vec::new();
    for queue in queues {
        let name = shop.resource_name(&format!("{queue}Queue"))?;
        let url = shop.block_on(sqs.get_queue_url().queue_name(&name).send())?;
        urls.push(url.queue_url().unwrap_or_default().to_owned());
    }
    let mut quiet_checks = 0;
    eventually("every saga queue drained", SAGA_DEADLINE, || {
        let mut busy = Vec::new();
        for url in &urls {
            if messages_held(shop, &sqs, url)? > 0 {
                busy.push(url.rsplit('/').next().unwrap_or_default().to_owned());
            }
        }
        quiet_checks = if busy.is_empty() { quiet_checks + 1 } else { 0 };
        Ok(if quiet_checks >= 3 {
            Ok(())
        } else {
            Err(format!("busy: {busy:?}"))
        })
    })
}

fn redelivered_saga_events_change_nothing(shop: &Shop) -> Result<()> {
    let bus = shop.setting("EVENT_BUS_NAME")?;
    let config = shop.aws()?;
    let tap = shop.block_on(local_stack_testing::EventTap::on_bus(
        &config,
        &shop.resource_name("e2e")?,
        &bus,
    ))?;
    let product = fresh_product(shop, "redelivery", 50, 10)?;
    let user = unique_user("redelivery");
    let email = email_for(&user);
    add(shop, &user, &product, 1)?;
    // Only this test pays in yen: the day's yen total is its own.
    let id = place_order(
        shop,
        &checkout_request(&user, &email, "JPY", (GOOD_CARD, 1, 2039)),
    )?;
    let order = settled(shop, &id)?;
    ensure_that!(order["status"] == "CONFIRMED", "order ended {}", order["status"]);
    let day = order["placedAt"]
        .as_str()
        .unwrap_or_default()
        .get(..10)
        .unwrap_or_default()
        .to_owned();
    let ours = |events: Vec<local_stack_testing::Tapped>| -> Vec<local_stack_testing::Tapped> {
        events
            .into_iter()
            .filter(|event| event.detail["metadata"]["correlationId"] == id.as_str())
            .collect()
    };
    // Every side step done: mail sent, ledger counted, cart cleared.
    eventually("the side steps done", SAGA_DEADLINE, || {
        let done = mails_to(shop, &email)?.len() == 1
            && ledger_total(shop, "JPY", &day)? > 0
            && lines(shop, &user)?.is_empty();
        Ok(if done { Ok(()) } else { Err("not yet".to_owned()) })
    })?;
    queues_drained(shop)?;
    let before = footprint(shop, &id, &product, &email, &day)?;
    let events = ours(shop.block_on(tap.caught())?);
    let kinds: Vec<&str> = events.iter().map(|e| e.detail_type.as_str()).collect();
    // One checkout, one trace: every event of the order carries its trace.
    let traces: std::collections::BTreeSet<String> = events
        .iter()
        .map(|event| {
            let traceparent = event.detail["metadata"]["traceparent"]
                .as_str()
                .unwrap_or_default();
            traceparent.split('-').nth(1).unwrap_or_default().to_owned()
        })
        .collect();
    ensure_that!(
        traces.len() == 1 && traces.iter().all(|trace| trace.len() == 32),
        "the order's events carry the traces {traces:?}"
    );
    for expected in [
        "OrderPlaced.v1",
        "InventoryReserved.v1",
        "PaymentSucceeded.v1",
        "OrderShipped.v1",
        "OrderConfirmed.v1",
    ] {
        ensure_that!(kinds.contains(&expected), "the tap saw {kinds:?}, not {expected}");
    }

    let bridge = aws_sdk_eventbridge::Client::new(&config);
    for event in &events {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(&bus)
            .source(&event.source)
            .detail_type(&event.detail_type)
            .detail(event.detail.to_string())
            .build();
        let sent = shop.block_on(bridge.put_events().entries(entry).send())?;
        ensure_that!(
            sent.failed_entry_count() == 0,
            "re-sending {} failed",
            event.detail_type
        );
    }
    eprintln!("re-sent {} events of order {id}: {kinds:?}", events.len());
    queues_drained(shop)?;
    let after = footprint(shop, &id, &product, &email, &day)?;
    ensure_that!(
        before == after,
        "a redelivery changed the order's footprint:\nbefore {before:?}\nafter  {after:?}"
    );
    ensure_that!(before.mails == 1 && before.notifications == 1, "{before:?}");
    Ok(())
}

fn bad_checkouts_are_refused_and_place_nothing(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "bad checkouts", 10, 5)?;
    let user = unique_user("bad");
    let good = checkout_request(&user, &email_for(&user), "USD", (GOOD_CARD, 1, 2039));
    // An empty cart is refused before anything is written.
    let empty = place(shop, &good, None)?;
    ensure_that!(
        empty.status == 409,
        "an empty cart: {} {}",
        empty.status,
        empty.body
    );
    add(shop, &user, &product, 1)?;
    let mut cases: Vec<(&str, Value)> = Vec::new();
    let mut with = |label: &'static str, pointer: &str, value: Value| {
        let mut request = good.clone();
        *request.pointer_mut(pointer).expect("the field exists") = value;
        cases.push((label, request));
    };
    with("no user", "/userId", json!(""));
    with("bad email", "/email", json!("not-an-address"));
    with("no street", "/address/streetAddress", json!(""));
    with(
        "card letters",
        "/creditCard/creditCardNumber",
        json!("4432-80AB-6152-0454"),
    );
    with("short card", "/creditCard/creditCardNumber", json!("4432"));
    with("month 13", "/creditCard/creditCardExpirationMonth", json!(13));
    with("cvv 5 digits", "/creditCard/creditCardCvv", json!(12345));
    with("unknown currency", "/userCurrency", json!("XXX"));
    with("address a string", "/address", json!("somewhere"));
    for (label, request) in &cases {
        let reply = place(shop, request, None)?;
        ensure_that!(
            reply.status == 400 && reply.body["error"]["code"].is_string(),
            "{label}: {} {}",
            reply.status,
            reply.body
        );
    }
    let malformed = shop.send_with_headers(
        "POST",
        "/api/checkout",
        &[("content-type", "application/json")],
        None,
    )?;
    ensure_that!(malformed.status == 400, "no body: {}", malformed.status);
    let orders = guest_orders(shop, &user)?;
    ensure_that!(orders.is_empty(), "refused checkouts placed {orders:?}");
    ensure_that!(stock(shop, &product)? == 5, "stock changed");
    Ok(())
}

/// The client the waiting checkouts come from: an address of its own, so
/// they count against no other test's checkout limit.
const WAITING: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 9));

fn prefer_wait_answers_the_confirmed_order_and_a_replay_waits_for_the_same_one(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "prefer wait", 20, 10)?;
    let user = unique_user("wait");
    add(shop, &user, &product, 1)?;
    let http = astroshop_tests::client_from(WAITING)?;
    let request = checkout_request(&user, &email_for(&user), "USD", (GOOD_CARD, 1, 2039));
    let post = |headers: &[(&str, &str)]| {
        shop.send_from(
            &http,
            "POST",
            "/api/checkout?currencyCode=USD",
            headers,
            Some(&request),
        )
    };

    // Without the preference, or with one the shop cannot read: the usual 202.
    for headers in [
        vec![],
        vec![("prefer", "wait=soon")],
        vec![("prefer", "wait=-1, return=minimal")],
    ] {
        let reply = post(&headers)?;
        ensure_that!(
            reply.status == 202 && reply.body["status"] == "PENDING",
            "{headers:?}: {} {}",
            reply.status,
            reply.body
        );
        ensure_that!(
            !reply.headers.contains_key("preference-applied"),
            "{headers:?} was applied"
        );
    }

    let key = uuid::Uuid::new_v4().to_string();
    let waited = post(&[("prefer", "wait=5"), ("idempotency-key", &key)])?;
    ensure_that!(waited.status == 200, "wait=5: {} {}", waited.status, waited.body);
    let applied = waited
        .headers
        .get("preference-applied")
        .map(|value| value.to_str());
    ensure_that!(
        matches!(applied, Some(Ok("wait=5"))),
        "Preference-Applied: {applied:?}"
    );
    let confirmed = &waited.body;
    let id = confirmed["orderId"].as_str().context("no orderId")?.to_owned();
    let tracking = confirmed["trackingId"].as_str().unwrap_or_default();
    ensure_that!(
        confirmed["status"] == "CONFIRMED" && !tracking.is_empty(),
        "settled as {} with tracking id {:?}",
        confirmed["status"],
        confirmed["trackingId"]
    );
    ensure_that!(
        confirmed["shippingTrackingId"] == tracking,
        "the demo's shippingTrackingId is {}",
        confirmed["shippingTrackingId"]
    );
    // As the order's link shows it.
    let link = confirmed["link"].as_str().context("no link")?;
    let shown = shop.get(link)?;
    ensure_that!(shown.status == 200, "the link: {} {}", shown.status, shown.body);
    for field in [
        "status",
        "trackingId",
        "total",
        "shippingCost",
        "items",
        "placedAt",
        "key",
    ] {
        ensure_that!(
            shown.body[field] == confirmed[field],
            "{field}: {} answered, {} shown",
            confirmed[field],
            shown.body[field]
        );
    }
    ensure_that!(
        history_steps(confirmed).contains(&"OrderConfirmed".to_owned()),
        "history {:?}",
        history_steps(confirmed)
    );

    // The same request under its key again: the same order, settled, and nothing placed.
    let again = post(&[("prefer", "wait=5"), ("idempotency-key", &key)])?;
    ensure_that!(
        again.status == 200 && again.body["orderId"] == id.as_str() && again.body["trackingId"] == tracking,
        "the replay: {} {}",
        again.status,
        again.body
    );
    let plain = post(&[("idempotency-key", &key)])?;
    ensure_that!(
        plain.status == 202 && plain.body["orderId"] == id.as_str() && plain.body["status"] == "CONFIRMED",
        "the replay without waiting: {} {}",
        plain.status,
        plain.body
    );
    let orders = guest_orders(shop, &user)?;
    ensure_that!(
        orders.len() == 4,
        "three plain checkouts and one waited for, not {}: {orders:?}",
        orders.len()
    );
    Ok(())
}

// --------------------------------------------------- tests that run alone

fn a_poison_message_ends_in_its_dead_letter_queue_and_its_batch_is_processed(shop: &Shop) -> Result<()> {
    let sqs = aws_sdk_sqs::Client::new(&shop.aws()?);
    let url = |logical: &str| -> Result<String> {
        let name = shop.resource_name(logical)?;
        let found = shop.block_on(sqs.get_queue_url().queue_name(&name).send())?;
        Ok(found.queue_url().unwrap_or_default().to_owned())
    };
    let queue = url("NotificationQueue")?;
    let dead_letters = url("NotificationDeadLetters")?;
    let order_id = uuid::Uuid::new_v4().to_string();
    let email = format!("poison-{}@example.com", &order_id[..8]);
    let usd = |units: i64| json!({"currencyCode": "USD", "units": units, "nanos": 0});
    let confirmed = json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "OrderConfirmed.v1", "source": "astroshop.orders",
        "account": "000000000000", "time": "2026-11-21T10:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {
            "metadata": {"eventId": format!("{order_id}/OrderConfirmed.v1"), "occurredAt": "2026-11-21T10:00:00Z", "correlationId": order_id},
            "data": {
                "order": {
                    "orderId": order_id, "userId": "poison-test", "email": email, "currencyCode": "USD",
                    "items": [{"item": {"productId": "OLJCESPC7Z", "quantity": 1}, "cost": usd(101)}],
                    "shippingCost": usd(9), "total": usd(110),
                    "shippingAddress": {"streetAddress": "1 Main St", "city": "Springfield", "state": "IL", "country": "United States", "zipCode": "62701"},
                    "card": {"cardType": "visa", "last4": "0454"},
                    "placedAt": "2026-11-21T10:00:00Z"
                },
                "trackingId": "TRACK-POISON-TEST"
            }
        }
    });
    let poison = format!("this is not an event {order_id}");
    // Held back while both are queued, so the consumer gets them in one batch.
    shop.set_event_sources_enabled("notification-email", false)?;
    let entry = |id: &str, body: &str| {
        aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
            .id(id)
            .message_body(body)
            .build()
    };
    let sent = shop.block_on(
        sqs.send_message_batch()
            .queue_url(&queue)
            .entries(entry("poison", &poison)?)
            .entries(entry("good", &confirmed.to_string())?)
            .send(),
    );
    shop.set_event_sources_enabled("notification-email", true)?;
    ensure_that!(sent?.failed().is_empty(), "sending the batch failed");

    eventually("the good message's mail", SAGA_DEADLINE, || {
        let mails = mails_to(shop, &email)?;
        Ok(if mails.len() == 1 {
            Ok(())
        } else {
            Err(format!("{} mails", mails.len()))
        })
    })?;
    eventually(
        "the poison message in the dead-letter queue",
        SAGA_DEADLINE,
        || {
            let received = shop.block_on(
                sqs.receive_message()
                    .queue_url(&dead_letters)
                    .max_number_of_messages(10)
                    .visibility_timeout(1)
                    .send(),
            )?;
            let parked = received
                .messages()
                .iter()
                .any(|m| m.body() == Some(poison.as_str()));
            Ok(if parked {
                Ok(())
            } else {
                Err("not there yet".to_owned())
            })
        },
    )?;
    ensure_that!(
        mails_to(shop, &email)?.len() == 1,
        "the good message was mailed again"
    );
    Ok(())
}

fn an_order_written_while_the_publisher_is_stopped_is_published_when_it_is_back(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "outbox", 20, 5)?;
    let user = unique_user("outbox");
    add(shop, &user, &product, 1)?;
    shop.set_event_sources_enabled("orders-publisher", false)?;
    let placed = place_order(
        shop,
        &checkout_request(&user, &email_for(&user), "USD", (GOOD_CARD, 1, 2039)),
    );
    let waited = placed.and_then(|id| {
        std::thread::sleep(Duration::from_secs(4));
        let order = order(shop, &id)?;
        Ok((id, order, stock(shop, &product)?))
    });
    shop.set_event_sources_enabled("orders-publisher", true)?;
    let (id, stalled, held) = waited?;
    ensure_that!(
        stalled["status"] == "PENDING",
        "with the publisher stopped the order is {}",
        stalled["status"]
    );
    ensure_that!(
        history_steps(&stalled).is_empty(),
        "steps ran without the event: {stalled}"
    );
    ensure_that!(held == 5, "stock moved without the event");
    let order = settled(shop, &id)?;
    ensure_that!(
        order["status"] == "CONFIRMED",
        "after the publisher came back the order is {}",
        order["status"]
    );
    ensure_that!(stock(shop, &product)? == 4, "stock after the order");
    Ok(())
}

fn a_payment_shipping_failed_on_is_redriven_once_fixed_and_the_order_completes(shop: &Shop) -> Result<()> {
    let sqs = aws_sdk_sqs::Client::new(&shop.aws()?);
    let name = shop.resource_name("ShippingDeadLetters")?;
    let dead_letters = shop
        .block_on(sqs.get_queue_url().queue_name(&name).send())?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let product = fresh_product(shop, "redrive", 30, 5)?;
    let user = unique_user("redrive");
    add(shop, &user, &product, 1)?;
    // Shipping cannot reach its table: the paid order's message fails five
    // times and waits in the shipping dead-letter queue.
    let deny = json!({"Statement": [{"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}]});
    shop.put_role_policy("shipping-ship", "broken", &deny)?;
    let parked = place_order(
        shop,
        &checkout_request(&user, &email_for(&user), "USD", (GOOD_CARD, 1, 2039)),
    )
    .and_then(|id| {
        eventually(
            "the payment in the shipping dead-letter queue",
            SAGA_DEADLINE,
            || {
                Ok(match messages_held(shop, &sqs, &dead_letters)? {
                    0 => Err("nothing parked yet".to_owned()),
                    _ => Ok(()),
                })
            },
        )?;
        Ok(id)
    });
    shop.delete_role_policy("shipping-ship", "broken")?;
    let id = parked?;
    ensure_that!(
        order_status(shop, &id)? == "PENDING",
        "with its payment parked the order is {}",
        order_status(shop, &id)?
    );

    let redriven = shop.redrive("ShippingDeadLetters")?;
    ensure_that!(redriven.moved >= 1, "nothing redriven: {redriven:?}");
    let order = settled(shop, &id)?;
    ensure_that!(
        order["status"] == "CONFIRMED" && order["trackingId"].is_string(),
        "after the redrive the order is {order}"
    );
    ensure_that!(
        messages_held(shop, &sqs, &dead_letters)? == 0,
        "the dead-letter queue still holds messages"
    );
    Ok(())
}

fn the_sweeper_fails_and_compensates_an_order_whose_step_never_came(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "sweeper", 60, 5)?;
    let user = unique_user("stuck");
    let email = email_for(&user);
    add(shop, &user, &product, 2)?;
    shop.set_event_sources_enabled("payment-charge", false)?;
    let outcome = (|| -> Result<(String, Value)> {
        let id = place_order(
            shop,
            &checkout_request(&user, &email, "USD", (GOOD_CARD, 1, 2039)),
        )?;
        eventually("the units held", SAGA_DEADLINE, || {
            let now = stock(shop, &product)?;
            Ok(if now == 3 {
                Ok(())
            } else {
                Err(format!("{now} available"))
            })
        })?;
        // The payment step never comes: the sweeper, run now with no grace
        // period, finds the order stuck.
        let swept = shop.invoke("orders-sweeper", &json!({"olderThanSeconds": 0}))?;
        let order = settled(shop, &id)?;
        eprintln!("sweeper answered {swept}");
        // The compensation runs before the late step is let through: the
        // payment is voided, so the charge waiting in its queue cannot take
        // the money.
        eventually("the payment voided", SAGA_DEADLINE, || {
            let reply = payment(shop, &id)?;
            Ok(if reply.body["status"] == "VOIDED" {
                Ok(())
            } else {
                Err(format!("{}", reply.body))
            })
        })?;
        Ok((id, order))
    })();
    shop.set_event_sources_enabled("payment-charge", true)?;
    let (id, order) = outcome?;
    ensure_that!(
        order["status"] == "FAILED",
        "the stuck order is {}",
        order["status"]
    );
    ensure_that!(
        !order["failureReason"].as_str().unwrap_or_default().is_empty(),
        "no reason: {order}"
    );
    eventually("the held units released", SAGA_DEADLINE, || {
        let now = stock(shop, &product)?;
        Ok(if now == 5 {
            Ok(())
        } else {
            Err(format!("{now} available"))
        })
    })?;
    eventually("the failure mail", SAGA_DEADLINE, || {
        let sent = notifications(shop, &email)?;
        Ok(match sent.first() {
            Some(mail) if mail["kind"] == "failure" => Ok(()),
            _ => Err(format!("{sent:?}")),
        })
    })?;
    // The charge that was waiting arrives now, after the order failed: it
    // must not take the money.
    queues_drained(shop)?;
    nothing_charged(shop, &id)?.map_err(anyhow::Error::msg)?;
    ensure_that!(stock(shop, &product)? == 5, "the late step moved stock");
    ensure_that!(
        order_status(shop, &id)? == "FAILED",
        "the late step changed the order"
    );
    Ok(())
}

fn order_status(shop: &Shop, id: &str) -> Result<String> {
    Ok(order(shop, id)?["status"].as_str().unwrap_or_default().to_owned())
}
