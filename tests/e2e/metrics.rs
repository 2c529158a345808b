//! The shop's metrics, end to end: what a shopping session does (cart adds,
//! a search, an order that confirms, one declined, one short of stock, a
//! client past its checkout limit, an outbox record that can never be
//! published) moves every metric the functions emit as Embedded Metric
//! Format lines, read back as Prometheus text from the local stack, as an
//! operator's Prometheus would. Each metric is read before and after, so
//! what other tests do meanwhile only adds to it.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use anyhow::{Context, Result};
use astroshop_tests::checkout::{GOOD_CARD, checkout_request, fresh_product};
use astroshop_tests::{Shop, client_from, ensure_that};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::cart::{add, unique_user};
use crate::checkout::{SAGA_DEADLINE, place_order, settled};
use crate::search::eventually;

pub const TESTS: &[(&str, crate::Test)] = tests![a_shopping_session_moves_every_metric];

/// The client that runs into its checkout limit: an address of its own
/// (see `limits`), so no other test's checkouts are refused.
const LIMITED: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));

/// Each series of Prometheus text (its name, then its labels by name) and
/// its value. Enough of the format for the shop's own metrics, whose label
/// values hold no quote, comma or backslash.
pub type Series = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Labels a series must carry, by name.
type Labels = &'static [(&'static str, &'static str)];

pub fn read_metrics(shop: &Shop) -> Result<Series> {
    let url = shop.metrics_url()?;
    let text = shop.block_on(async { reqwest::get(&url).await?.error_for_status()?.text().await })?;
    let mut series = Series::new();
    for line in text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
    {
        let (sample, value) = line
            .rsplit_once(' ')
            .with_context(|| format!("no value: {line}"))?;
        let (name, labels) = match sample.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (sample, ""),
        };
        let labels = labels
            .split(',')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (label, value) = pair.split_once('=').with_context(|| format!("label {pair}"))?;
                Ok((label.to_owned(), value.trim_matches('"').to_owned()))
            })
            .collect::<Result<_>>()?;
        series.insert((name.to_owned(), labels), value.parse()?);
    }
    Ok(series)
}

/// The sum of the series named `name` that carry every label of `labels`.
pub fn total(series: &Series, name: &str, labels: &[(&str, &str)]) -> f64 {
    series
        .iter()
        .filter(|((series_name, series_labels), _)| {
            series_name == name
                && labels
                    .iter()
                    .all(|(label, value)| series_labels.get(*label).is_some_and(|v| v == value))
        })
        .map(|(_, value)| value)
        .sum()
}

/// Checkouts of an empty cart from [`LIMITED`] until the client's limit
/// answers 429 (the admitted ones are 409s that place nothing); the 429s.
fn run_into_the_checkout_limit(shop: &Shop) -> Result<u32> {
    let allowed: u32 = shop.setting("CHECKOUTS_PER_CLIENT_PER_MINUTE")?.parse()?;
    let http = client_from(LIMITED)?;
    let user = unique_user("metrics-limited");
    let request = checkout_request(&user, &format!("{user}@example.com"), "USD", (GOOD_CARD, 1, 2039));
    // A minute's window may turn once while the client sends: then twice its allowance.
    for _ in 0..=2 * allowed {
        let reply = shop.send_from(
            &http,
            "POST",
            "/api/checkout?currencyCode=USD",
            &[],
            Some(&request),
        )?;
        match (reply.status, reply.body["error"]["code"].as_str()) {
            (429, Some("too_many_checkouts")) => return Ok(1),
            (409, Some("empty_cart")) => {}
            (status, _) => anyhow::bail!("a checkout of an empty cart answered {status}: {}", reply.body),
        }
    }
    anyhow::bail!(
        "{} checkouts from one client in a row were all admitted",
        2 * allowed + 1
    )
}

/// Writes an outbox item without its event, as a bug might: the publisher
/// can never publish it, and parks it in the outbox dead-letter queue.
fn write_an_unpublishable_outbox_item(shop: &Shop) -> Result<()> {
    let id = uuid::Uuid::new_v4();
    let dynamodb = aws_sdk_dynamodb::Client::new(&shop.aws()?);
    shop.block_on(
        dynamodb
            .put_item()
            .table_name(shop.setting("ORDERS_TABLE")?)
            .item("orderId", AttributeValue::S(format!("metrics-test-{id}")))
            .item("sk", AttributeValue::S(format!("OUTBOX#metrics-test-{id}")))
            .send(),
    )?;
    Ok(())
}

fn a_shopping_session_moves_every_metric(shop: &Shop) -> Result<()> {
    let before = read_metrics(shop)?;

    let product = fresh_product(shop, "metrics", 25, 10)?;
    let last_one = fresh_product(shop, "metrics, short", 25, 1)?;
    let happy = unique_user("metrics-happy");
    let declined = unique_user("metrics-declined");
    let short = unique_user("metrics-short");
    for (user, product, quantity) in [
        (&happy, &product, 1),
        (&declined, &product, 1),
        (&short, &last_one, 2),
    ] {
        let reply = add(shop, user, product, quantity)?;
        ensure_that!(
            reply.status == 200,
            "adding to the cart: {} {}",
            reply.status,
            reply.body
        );
    }
    let found = shop.get("/api/products/search?q=telescope")?;
    ensure_that!(found.status == 200, "search: {} {}", found.status, found.body);
    let orders = [
        (&happy, GOOD_CARD, 2039, "CONFIRMED"),
        (&declined, GOOD_CARD, 2020, "FAILED"),
        (&short, GOOD_CARD, 2039, "FAILED"),
    ];
    let mut placed = Vec::new();
    for (user, card, year, outcome) in orders {
        let email = format!("{}@example.com", user.to_lowercase());
        placed.push((
            place_order(shop, &checkout_request(user, &email, "USD", (card, 1, year)))?,
            outcome,
        ));
    }
    let throttled = run_into_the_checkout_limit(shop)?;
    write_an_unpublishable_outbox_item(shop)?;
    for (id, outcome) in &placed {
        let order = settled(shop, id)?;
        ensure_that!(
            order["status"] == *outcome,
            "order {id} ended {}",
            order["status"]
        );
    }

    // Each metric, with the labels of its series, and how much at least
    // this test moved it.
    let moved: [(&str, Labels, f64); 19] = [
        ("astroshop_cart_items_added_total", &[], 3.0),
        ("astroshop_searches_total", &[], 1.0),
        ("astroshop_orders_placed_total", &[], 3.0),
        ("astroshop_checkout_seconds_count", &[], 3.0),
        (
            "astroshop_requests_throttled_total",
            &[("limit", "checkout")],
            f64::from(throttled),
        ),
        ("astroshop_cache_hits_total", &[("cache", "rates")], 1.0),
        ("astroshop_events_published_total", &[], 6.0),
        (
            "astroshop_saga_step_seconds_count",
            &[("step", "inventory-reserve")],
            3.0,
        ),
        (
            "astroshop_saga_step_seconds_count",
            &[("step", "payment-charge")],
            2.0,
        ),
        ("astroshop_reservations_failed_total", &[], 1.0),
        ("astroshop_payments_charged_total", &[], 1.0),
        ("astroshop_payments_declined_total", &[], 1.0),
        ("astroshop_reservations_released_total", &[], 1.0),
        ("astroshop_orders_settled_total", &[("outcome", "CONFIRMED")], 1.0),
        ("astroshop_orders_settled_total", &[("outcome", "FAILED")], 2.0),
        ("astroshop_order_settle_seconds_count", &[], 3.0),
        ("astroshop_mails_sent_total", &[("kind", "confirmation")], 1.0),
        ("astroshop_mails_sent_total", &[("kind", "failure")], 2.0),
        ("astroshop_dead_letters_total", &[], 1.0),
    ];
    eventually("every metric moved", SAGA_DEADLINE, || {
        let after = read_metrics(shop)?;
        let mut unmoved: Vec<String> = moved
            .iter()
            .filter_map(|(name, labels, by)| {
                let grown = total(&after, name, labels) - total(&before, name, labels);
                (grown < *by).then(|| format!("{name}{labels:?} grew by {grown}, not {by}"))
            })
            .collect();
        // A process counts its start once, so this test may start none:
        // checkout's own was counted by this test or one before it.
        if total(
            &after,
            "astroshop_cold_starts_total",
            &[("function_name", "checkout-place")],
        ) < 1.0
        {
            unmoved.push("astroshop_cold_starts_total of checkout-place is 0".to_owned());
        }
        Ok(if unmoved.is_empty() {
            Ok(())
        } else {
            Err(unmoved.join("; "))
        })
    })
}
