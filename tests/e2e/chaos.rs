//! Breaking the shop on purpose: each test turns a fault flag on through the
//! local AppConfig agent (as `./shop flags` does), sees the fault where the
//! flag says and the rest of the shop carry on, then turns it off and sees
//! the shop whole again. A flag is the whole shop's, so these run alone.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use astroshop_tests::checkout::{GOOD_CARD, checkout_request, fresh_product};
use astroshop_tests::{Reply, Shop, ensure_that};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use crate::cart::{add, lines, unique_user};
use crate::checkout::{
    messages_held, nothing_charged, notifications, payment, place_order, queues_drained, settled,
};
use crate::metrics::{read_metrics, total};
use crate::search::eventually;
use crate::storefront::Shopper;

pub const EXCLUSIVE: &[(&str, crate::Test)] = tests![
    the_agent_serves_every_flag_off_and_refuses_a_change_that_breaks_a_constraint,
    ad_failure_fails_the_ad_api_and_pages_leave_the_ad_out,
    product_catalog_failure_fails_only_its_product,
    recommendations_slow_leaves_them_off_the_product_page,
    cart_failure_refuses_cart_writes_and_writes_nothing,
    intl_shipping_slowdown_holds_orders_abroad_back_and_they_still_settle,
    event_bus_flood_is_taken_as_redeliveries_and_every_order_settles_once,
    payment_failure_fails_orders_with_a_reason_and_compensates_them,
    while_the_processor_is_unreachable_the_breaker_opens_and_every_order_ends_confirmed,
];

/// A flag turned on for a test, and off again however the test ends.
struct FlagOn<'s> {
    shop: &'s Shop,
    flag: &'static str,
}

impl<'s> FlagOn<'s> {
    fn new(shop: &'s Shop, flag: &'static str, attributes: Value) -> Result<Self> {
        let mut change = attributes;
        change["enabled"] = true.into();
        shop.set_flag(flag, &change)?;
        Ok(Self { shop, flag })
    }
}

impl Drop for FlagOn<'_> {
    fn drop(&mut self) {
        if let Err(error) = self.shop.set_flag(self.flag, &json!({"enabled": false})) {
            eprintln!("turning {} off again: {error:#}", self.flag);
        }
    }
}

fn the_agent_serves_every_flag_off_and_refuses_a_change_that_breaks_a_constraint(shop: &Shop) -> Result<()> {
    let values = shop.flag_values()?;
    let flags = values.as_object().context("the agent answers an object")?;
    for flag in astroshop_flags::Flag::ALL {
        let value = flags
            .get(flag.name())
            .with_context(|| format!("the agent does not serve {flag}: {values}"))?;
        ensure_that!(value["enabled"] == false, "{flag} is on to begin with: {value}");
    }
    ensure_that!(
        flags.len() == astroshop_flags::Flag::ALL.len(),
        "flags the shop does not read: {values}"
    );
    for (flag, change) in [
        ("cartFailure", json!({"enabled": true, "rate": 1.5})),
        ("imageSlowLoad", json!({"enabled": true, "delaySeconds": 7})),
        ("paymentUnreachable", json!({"enabled": true, "speed": 1})),
        ("noSuchFlag", json!({"enabled": true})),
        ("adFailure", json!({"enabled": "yes"})),
    ] {
        ensure_that!(
            shop.set_flag(flag, &change).is_err(),
            "{flag}: {change} was taken"
        );
    }
    ensure_that!(
        shop.flag_values()? == values,
        "a refused change changed the flags"
    );
    Ok(())
}

/// A fault flag's answer: 503, naming it.
fn ensure_injected(reply: &Reply, what: &str) -> Result<()> {
    ensure_that!(
        reply.status == 503 && reply.body["error"]["code"] == "fault_injected",
        "{what}: {} {}",
        reply.status,
        reply.body
    );
    Ok(())
}

/// The page at `path`, which must answer 200.
fn whole_page(shopper: &Shopper, path: &str) -> Result<String> {
    let page = shopper.get(path)?;
    ensure_that!(
        page.status_code() == 200,
        "{path} answered {}",
        page.status_code()
    );
    Ok(page.text())
}

/// Waits until the page at `path` shows `part`: the first call to a cold
/// function may take longer than a page waits for its extras.
fn shows(shopper: &Shopper, path: &str, part: &str) -> Result<()> {
    eventually(&format!("{path} shows {part}"), Duration::from_secs(20), || {
        let html = shopper.get(path)?.text();
        Ok(if html.contains(part) {
            Ok(())
        } else {
            Err("not yet".to_owned())
        })
    })
}

/// How a page shows an ad.
const AD: &str = "aria-label=\"Advertisement\"";

fn ad_failure_fails_the_ad_api_and_pages_leave_the_ad_out(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    shows(&shopper, "/", AD)?;
    {
        let _on = FlagOn::new(shop, "adFailure", json!({"rate": 1.0}))?;
        ensure_injected(
            &shop.get("/api/data?contextKeys=telescopes")?,
            "ads with adFailure on",
        )?;
        for path in ["/", "/product/66VCHSJNUP"] {
            let html = whole_page(&shopper, path)?;
            ensure_that!(!html.contains(AD), "{path} shows an ad the API failed");
            ensure_that!(
                html.contains("product-card") || html.contains("Starsense"),
                "{path} lost more than its ad"
            );
        }
    }
    let reply = shop.get("/api/data?contextKeys=telescopes")?;
    ensure_that!(
        reply.status == 200,
        "ads with adFailure off: {} {}",
        reply.status,
        reply.body
    );
    Ok(())
}

fn product_catalog_failure_fails_only_its_product(shop: &Shop) -> Result<()> {
    {
        let _on = FlagOn::new(shop, "productCatalogFailure", json!({"productId": "OLJCESPC7Z"}))?;
        ensure_injected(&shop.get("/api/products/OLJCESPC7Z")?, "the flagged product")?;
        for other in ["66VCHSJNUP", "9SIQT8TOJO", "HQTGWGPNH4"] {
            let reply = shop.get(&format!("/api/products/{other}"))?;
            ensure_that!(reply.status == 200, "{other}: {} {}", reply.status, reply.body);
        }
        let listed = shop.get("/api/products")?;
        ensure_that!(
            listed.status == 200 && listed.body.as_array().is_some_and(|all| all.len() >= 10),
            "the list: {} {}",
            listed.status,
            listed.body
        );
        let shopper = Shopper::new(shop)?;
        for path in ["/", "/product/66VCHSJNUP"] {
            whole_page(&shopper, path)?;
        }
    }
    let reply = shop.get("/api/products/OLJCESPC7Z")?;
    ensure_that!(
        reply.status == 200,
        "the product with the flag off: {} {}",
        reply.status,
        reply.body
    );
    Ok(())
}

/// How a product page shows recommendations.
const RECOMMENDED: &str = "You may also like";

fn recommendations_slow_leaves_them_off_the_product_page(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    let path = "/product/9SIQT8TOJO";
    shows(&shopper, path, RECOMMENDED)?;
    {
        let _on = FlagOn::new(shop, "recommendationsSlow", json!({"delaySeconds": 5}))?;
        let html = whole_page(&shopper, path)?;
        ensure_that!(html.contains("Optical Tube Assembly"), "{path} lost its product");
        ensure_that!(
            !html.contains(RECOMMENDED),
            "{path} waited for slow recommendations"
        );
        // The API itself still answers, late.
        let reply = shop.get("/api/recommendations?productIds=9SIQT8TOJO")?;
        ensure_that!(
            reply.status == 200,
            "slow recommendations: {} {}",
            reply.status,
            reply.body
        );
    }
    shows(&shopper, path, RECOMMENDED)
}

fn cart_failure_refuses_cart_writes_and_writes_nothing(shop: &Shop) -> Result<()> {
    let user = unique_user("cart-failure");
    add(shop, &user, "OLJCESPC7Z", 1)?;
    let product = fresh_product(shop, "cart failure", 30, 5)?;
    let buyer = unique_user("cart-failure-buyer");
    add(shop, &buyer, &product, 1)?;
    {
        let _on = FlagOn::new(shop, "cartFailure", json!({"rate": 1.0}))?;
        let body = json!({"userId": user, "item": {"productId": "66VCHSJNUP", "quantity": 1}});
        let added = shop.send("POST", "/api/cart", Some(&body))?;
        ensure_that!(
            added.status == 503 && added.headers.contains_key("retry-after"),
            "an add with cartFailure on: {} {}",
            added.status,
            added.body
        );
        let emptied = shop.send("DELETE", "/api/cart", Some(&json!({"userId": user})))?;
        ensure_that!(
            emptied.status == 503,
            "emptying with cartFailure on: {}",
            emptied.status
        );
        ensure_that!(
            lines(shop, &user)? == [("OLJCESPC7Z".to_owned(), 1)],
            "a refused write changed the cart"
        );
        // Checking out only reads the cart: it is not refused.
        let request = checkout_request(
            &buyer,
            &format!("{buyer}@example.com"),
            "USD",
            (GOOD_CARD, 1, 2039),
        );
        let order = settled(shop, &place_order(shop, &request)?)?;
        ensure_that!(
            order["status"] == "CONFIRMED",
            "an order placed with cartFailure on: {}",
            order["status"]
        );
    }
    add(shop, &user, "66VCHSJNUP", 1)?;
    Ok(())
}

fn intl_shipping_slowdown_holds_orders_abroad_back_and_they_still_settle(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "intl shipping slowdown", 25, 10)?;
    let delay = Duration::from_secs(2);
    let _on = FlagOn::new(
        shop,
        "intlShippingSlowdown",
        json!({"delaySeconds": delay.as_secs()}),
    )?;
    let mut report = Vec::new();
    for country in ["United States", "Germany", "Japan"] {
        let user = unique_user("intl-shipping");
        add(shop, &user, &product, 1)?;
        let mut request =
            checkout_request(&user, &format!("{user}@example.com"), "USD", (GOOD_CARD, 1, 2039));
        request["address"]["country"] = country.into();
        let started = Instant::now();
        let id = place_order(shop, &request)?;
        let placed = started.elapsed();
        // The checkout itself quotes the shipping: an order abroad waits the delay.
        ensure_that!(
            country == "United States" || placed >= delay,
            "an order to {country} was placed in {placed:?}, not held back {delay:?}"
        );
        let order = settled(shop, &id)?;
        ensure_that!(
            order["status"] == "CONFIRMED",
            "an order to {country}: {}",
            order["status"]
        );
        report.push(format!(
            "{country}: placed in {:.2} s, settled in {:.2} s",
            placed.as_secs_f64(),
            started.elapsed().as_secs_f64()
        ));
    }
    eprintln!("intlShippingSlowdown at 2 s: {}", report.join("; "));
    Ok(())
}

fn payment_failure_fails_orders_with_a_reason_and_compensates_them(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "payment failure", 45, 10)?;
    let order_for = |label: &str| -> Result<(String, String)> {
        let user = unique_user(label);
        let email = format!("{user}@example.com");
        add(shop, &user, &product, 2)?;
        let id = place_order(
            shop,
            &checkout_request(&user, &email, "USD", (GOOD_CARD, 1, 2039)),
        )?;
        Ok((id, email))
    };
    let (failed, email) = {
        let _on = FlagOn::new(shop, "paymentFailure", json!({"rate": 1.0}))?;
        let (id, email) = order_for("payment-failure")?;
        let order = settled(shop, &id)?;
        ensure_that!(
            order["status"] == "FAILED",
            "an order with paymentFailure at 1: {}",
            order["status"]
        );
        ensure_that!(
            order["failureReason"] == "the card processor declined the charge",
            "failure reason {}",
            order["failureReason"]
        );
        (id, email)
    };
    nothing_charged(shop, &failed)?.map_err(anyhow::Error::msg)?;
    ensure_that!(
        payment(shop, &failed)?.body["status"] == "DECLINED",
        "the payment was not declined"
    );
    eventually(
        "the failure mail and the stock released",
        crate::checkout::SAGA_DEADLINE,
        || {
            let mails = notifications(shop, &email)?;
            let stock = astroshop_tests::checkout::stock(shop, &product)?;
            Ok(match (mails.first(), stock) {
                (Some(mail), 10) if mail["kind"] == "failure" => Ok(()),
                (mail, stock) => Err(format!("mail {mail:?}, {stock} in stock")),
            })
        },
    )?;
    let (confirmed, _) = order_for("payment-failure-off")?;
    let order = settled(shop, &confirmed)?;
    ensure_that!(
        order["status"] == "CONFIRMED",
        "with the flag off an order ended {}",
        order["status"]
    );
    Ok(())
}

/// The card processor's breaker, as its item in the Breakers table says.
fn breaker(shop: &Shop, dynamodb: &aws_sdk_dynamodb::Client) -> Result<(String, u64)> {
    let item = shop
        .block_on(
            dynamodb
                .get_item()
                .table_name(shop.setting("BREAKERS_TABLE")?)
                .key("name", AttributeValue::S("card-processor".into()))
                .consistent_read(true)
                .send(),
        )?
        .item
        .unwrap_or_default();
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
    };
    Ok((
        text("state").unwrap_or_else(|| "CLOSED".into()),
        number("probes").unwrap_or(0),
    ))
}

/// The card processor's requests so far, from the functions' metrics.
fn processor_requests(shop: &Shop) -> Result<f64> {
    Ok(total(
        &read_metrics(shop)?,
        "astroshop_processor_requests_total",
        &[],
    ))
}

fn while_the_processor_is_unreachable_the_breaker_opens_and_every_order_ends_confirmed(
    shop: &Shop,
) -> Result<()> {
    const SHOPPERS: usize = 20;
    let cool_down = Duration::from_secs(shop.setting("BREAKER_COOL_DOWN_SECONDS")?.parse()?);
    let product = fresh_product(shop, "processor unreachable", 35, SHOPPERS as i64)?;
    let users: Vec<String> = (0..SHOPPERS)
        .map(|i| unique_user(&format!("unreachable{i}")))
        .collect();
    for user in &users {
        add(shop, user, &product, 1)?;
    }
    let dynamodb = aws_sdk_dynamodb::Client::new(&shop.aws()?);
    let started = Instant::now();
    let watching = AtomicBool::new(true);
    let (placed, timeline) = std::thread::scope(|scope| -> Result<_> {
        // The breaker's moves, as seen every 100 ms.
        let watcher = scope.spawn(|| -> Result<Vec<(f64, String, u64, f64)>> {
            let mut seen: Vec<(f64, String, u64, f64)> = Vec::new();
            while watching.load(Ordering::Relaxed) {
                let (state, probes) = breaker(shop, &dynamodb)?;
                if seen
                    .last()
                    .is_none_or(|(_, last, last_probes, _)| *last != state || *last_probes != probes)
                {
                    seen.push((
                        started.elapsed().as_secs_f64(),
                        state,
                        probes,
                        processor_requests(shop)?,
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(seen)
        });
        let unreachable = FlagOn::new(shop, "paymentUnreachable", json!({}))?;
        let mut placed = Vec::new();
        for user in &users {
            let request = checkout_request(user, &format!("{user}@example.com"), "USD", (GOOD_CARD, 1, 2039));
            placed.push(place_order(shop, &request)?);
        }
        std::thread::sleep(Duration::from_secs(20).saturating_sub(started.elapsed()));
        drop(unreachable);
        let cleared = started.elapsed().as_secs_f64();
        let mut orders = HashMap::new();
        for id in &placed {
            orders.insert(id.clone(), settled(shop, id)?);
        }
        watching.store(false, Ordering::Relaxed);
        let timeline = watcher.join().expect("the watcher does not panic")?;
        Ok(((orders, cleared), timeline))
    })?;
    let (orders, cleared) = placed;
    let lines: Vec<String> = timeline
        .iter()
        .map(|(at, state, probes, requests)| {
            format!("{at:.1} s {state} (probes {probes}, processor requests {requests})")
        })
        .collect();
    eprintln!(
        "paymentUnreachable for 20 s, cleared at {cleared:.1} s: {}",
        lines.join("; ")
    );
    ensure_that!(
        timeline.iter().any(|(_, state, ..)| state == "OPEN"),
        "the breaker never opened: {lines:?}"
    );
    ensure_that!(
        timeline.last().is_some_and(|(_, state, ..)| state == "CLOSED"),
        "the breaker did not close: {lines:?}"
    );
    // While it was not closed, the processor saw at most one probe a cool-down.
    let opened = timeline
        .iter()
        .find(|(_, state, ..)| state == "OPEN")
        .map_or(0.0, |(at, ..)| *at);
    let closed = timeline
        .iter()
        .rev()
        .find(|(_, state, ..)| state == "CLOSED")
        .map_or(0.0, |(at, ..)| *at);
    let probes = timeline.last().map_or(0, |(_, _, probes, _)| *probes);
    let allowed = ((closed - opened) / cool_down.as_secs_f64()).ceil() as u64 + 1;
    ensure_that!(
        probes >= 1 && probes <= allowed,
        "{probes} probes in {:.1} s open: {lines:?}",
        closed - opened
    );
    for (id, order) in &orders {
        ensure_that!(
            order["status"] == "CONFIRMED"
                || (order["status"] == "FAILED" && nothing_charged(shop, id)?.is_ok()),
            "order {id} ended {} ({})",
            order["status"],
            order["failureReason"]
        );
    }
    let confirmed = orders
        .values()
        .filter(|order| order["status"] == "CONFIRMED")
        .count();
    eprintln!("{confirmed} of {SHOPPERS} orders confirmed");
    let sqs = aws_sdk_sqs::Client::new(&shop.aws()?);
    for queue in [
        "PaymentChargeDeadLetters",
        "BusDeliveryDeadLetters",
        "OrderStateDeadLetters",
        "InventoryReserveDeadLetters",
    ] {
        let name = shop.resource_name(queue)?;
        let url = shop
            .block_on(sqs.get_queue_url().queue_name(&name).send())?
            .queue_url
            .unwrap_or_default();
        let held = messages_held(shop, &sqs, &url)?;
        ensure_that!(held == 0, "{queue} holds {held} messages");
    }
    Ok(())
}

fn event_bus_flood_is_taken_as_redeliveries_and_every_order_settles_once(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "event bus flood", 15, 10)?;
    // 25 copies, not the flag's 100: each copy sets off about ten deliveries
    // downstream, and the suite runs on two cores.
    let _on = FlagOn::new(shop, "eventBusFlood", json!({"count": 25}))?;
    let user = unique_user("flood");
    let email = format!("{user}@example.com");
    add(shop, &user, &product, 1)?;
    let reservations = || -> Result<f64> {
        let step = [("step", "inventory-reserve")];
        Ok(total(
            &read_metrics(shop)?,
            "astroshop_saga_step_seconds_count",
            &step,
        ))
    };
    let reserved_before = reservations()?;
    let started = Instant::now();
    let id = place_order(
        shop,
        &checkout_request(&user, &email, "USD", (GOOD_CARD, 1, 2039)),
    )?;
    let order = settled(shop, &id)?;
    let settle = started.elapsed();
    ensure_that!(
        order["status"] == "CONFIRMED",
        "a flooded order ended {}",
        order["status"]
    );
    // Every copy is handled before the next test, and none changes anything.
    queues_drained(shop)?;
    let reserve_steps = reservations()? - reserved_before;
    ensure_that!(
        reserve_steps >= 26.0,
        "inventory-reserve handled {reserve_steps} OrderPlaced events, not the order's 1 and its 25 copies"
    );
    eprintln!(
        "eventBusFlood at 25 copies: the order settled in {:.1} s; every saga queue drained {:.1} s after the checkout",
        settle.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let paid = payment(shop, &id)?;
    ensure_that!(paid.body["status"] == "CHARGED", "payment {}", paid.body);
    ensure_that!(
        astroshop_tests::checkout::stock(shop, &product)? == 9,
        "the flood held more than the order's one unit"
    );
    let mails = notifications(shop, &email)?;
    ensure_that!(mails.len() == 1, "{} mails for one order: {mails:?}", mails.len());
    Ok(())
}
