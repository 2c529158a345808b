//! Traces, read back from the local stack's trace viewer (Arize Phoenix) as
//! an operator reads them: one checkout placed through the storefront is one
//! trace, and its tree says which step caused which.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};
use astroshop_tests::{Shop, ensure_that};
use serde_json::Value;

use crate::checkout::SAGA_DEADLINE;
use crate::search::eventually;
use crate::storefront::{Shopper, check_out};

pub const TESTS: &[(&str, crate::Test)] =
    tests![a_checkout_is_one_trace_from_the_storefront_through_every_step_each_a_child_of_its_cause];

/// How long the spans of a settled order may take to reach the viewer: each
/// function sends its own once its invocation is answered.
const SPANS_DEADLINE: Duration = Duration::from_secs(60);

/// One span as the viewer's REST API gives it.
#[derive(Debug, Clone)]
struct Span {
    name: String,
    id: String,
    trace: String,
    parent: Option<String>,
    /// The function it ran in (`faas.name` of its own or its invocation's).
    function: Option<String>,
}

impl Span {
    fn read(span: &Value) -> Result<Self> {
        let text = |value: &Value| value.as_str().map(str::to_owned);
        let attributes = &span["attributes"];
        // Dotted keys, flat or nested, depending on how the viewer stores them.
        let function = text(&attributes["faas.name"]).or_else(|| text(&attributes["faas"]["name"]));
        Ok(Self {
            name: text(&span["name"]).context("a span without a name")?,
            id: text(&span["context"]["span_id"]).context("a span without an id")?,
            trace: text(&span["context"]["trace_id"]).context("a span without a trace")?,
            parent: text(&span["parent_id"]),
            function,
        })
    }
}

/// Every span of `trace` the viewer holds.
fn spans_of(shop: &Shop, viewer: &str, trace: &str) -> Result<Vec<Span>> {
    let mut spans = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{viewer}/v1/projects/default/spans?trace_id={trace}&limit=1000");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value =
            shop.block_on(async { reqwest::get(&url).await?.error_for_status()?.json().await })?;
        for span in page["data"].as_array().context("no span list")? {
            spans.push(Span::read(span)?);
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(spans),
        }
    }
}

/// The span of `function` handling `detail_type`, as the saga runner names it.
fn step<'a>(spans: &'a [Span], function: &str, detail_type: &str) -> Result<&'a Span> {
    let name = format!("{function} handles {detail_type}");
    spans
        .iter()
        .find(|span| span.name == name)
        .with_context(|| format!("no span {name:?}"))
}

fn a_checkout_is_one_trace_from_the_storefront_through_every_step_each_a_child_of_its_cause(
    shop: &Shop,
) -> Result<()> {
    let viewer = shop.trace_viewer_url()?;
    let shopper = Shopper::new(shop)?;
    let location = check_out(&shopper, "6E92ZMYYFZ")?;
    let (page, key) = location
        .split_once("?key=")
        .with_context(|| format!("checkout led to {location}"))?;
    let order_id = page.trim_start_matches("/orders/");
    let order = eventually("the order is CONFIRMED", SAGA_DEADLINE, || {
        let reply = shop.get(&format!("/api/orders/{order_id}?key={key}"))?;
        Ok(match reply.body["status"].as_str() {
            Some("CONFIRMED") => Ok(reply.body),
            other => Err(format!("status {other:?}")),
        })
    })?;
    let trace = order["traceId"]
        .as_str()
        .context("the order names no trace")?
        .to_owned();
    ensure_that!(
        trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()),
        "trace id {trace:?}"
    );
    // The order's page links its trace in the viewer.
    let order_page = shopper.get(&location)?.text();
    ensure_that!(
        order_page.contains(&format!("href=\"{viewer}/projects/"))
            && order_page.contains(&format!("/traces/{trace}\"")),
        "the order page does not link trace {trace} in {viewer}"
    );

    // The chain of causes, each step the child of the one before.
    let chain = [
        ("inventory-reserve", "OrderPlaced.v1"),
        ("payment-charge", "InventoryReserved.v1"),
        ("shipping-ship", "PaymentSucceeded.v1"),
        ("orders-state", "OrderShipped.v1"),
    ];
    let followers = [
        ("notification-email", "OrderConfirmed.v1"),
        ("accounting-ledger", "OrderConfirmed.v1"),
        ("cart-clear", "OrderConfirmed.v1"),
        ("fraud-check", "OrderConfirmed.v1"),
    ];
    let spans = eventually("every step's span reaches the viewer", SPANS_DEADLINE, || {
        let spans = spans_of(shop, &viewer, &trace)?;
        let missing: Vec<String> = chain
            .iter()
            .chain(&followers)
            .filter(|(function, detail_type)| step(&spans, function, detail_type).is_err())
            .map(|(function, detail_type)| format!("{function} handles {detail_type}"))
            .collect();
        Ok(if missing.is_empty() {
            Ok(spans)
        } else {
            Err(format!("missing {missing:?} among {} spans", spans.len()))
        })
    })?;

    ensure_that!(
        spans.iter().all(|span| span.trace == trace),
        "a span of another trace was given"
    );
    let by_id: HashMap<&str, &Span> = spans.iter().map(|span| (span.id.as_str(), span)).collect();
    // The function a span ran in: its own `faas.name`, else its parent's.
    let function_of = |span: &Span| -> Option<String> {
        let mut at = span;
        loop {
            if let Some(function) = &at.function {
                return Some(function.clone());
            }
            at = by_id.get(at.parent.as_deref()?)?;
        }
    };
    let parent_of = |span: &Span| -> Result<&Span> {
        let parent = span
            .parent
            .as_deref()
            .with_context(|| format!("{} has no parent", span.name))?;
        by_id
            .get(parent)
            .copied()
            .with_context(|| format!("{}'s parent {parent} is not in the trace", span.name))
    };

    // The trace starts in the storefront, whose checkout post called the API.
    let root: Vec<&Span> = spans.iter().filter(|span| span.parent.is_none()).collect();
    ensure_that!(
        root.len() == 1 && root[0].function.as_deref() == Some("storefront"),
        "the trace's root is {root:?}, not the storefront's invocation"
    );
    let checkout = spans
        .iter()
        .find(|span| span.function.as_deref() == Some("checkout-place"))
        .context("no span of the checkout function")?;
    ensure_that!(
        parent_of(checkout)?.id == root[0].id,
        "the checkout's invocation is not the storefront's child: {checkout:?}"
    );

    // OrderPlaced was made in the checkout's request: reserving is its child.
    let mut cause = step(&spans, chain[0].0, chain[0].1)?;
    ensure_that!(
        function_of(parent_of(cause)?).as_deref() == Some("checkout-place"),
        "reserving stock is not a child of the checkout: its parent is {:?}",
        parent_of(cause)?
    );
    for (function, detail_type) in &chain[1..] {
        let next = step(&spans, function, detail_type)?;
        ensure_that!(
            next.parent.as_deref() == Some(cause.id.as_str()),
            "{} is not a child of {} (its parent is {:?})",
            next.name,
            cause.name,
            next.parent
        );
        cause = next;
    }
    // The order's end, written by the state step, reaches its followers.
    for (function, detail_type) in followers {
        let follower = step(&spans, function, detail_type)?;
        ensure_that!(
            follower.parent.as_deref() == Some(cause.id.as_str()),
            "{} is not a child of {}",
            follower.name,
            cause.name
        );
    }
    Ok(())
}
