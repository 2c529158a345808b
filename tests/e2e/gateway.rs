//! The front door: routes as API Gateway matches them, errors as JSON,
//! throttling as API Gateway throttles.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use astroshop_tests::{Shop, ensure_that};
use local_stack::template::{Template, Throttling};
use serde_json::json;

use crate::cart::{lines, unique_user};
use crate::catalog::ensure_error;

pub const TESTS: &[(&str, crate::Test)] = tests![
    an_unknown_route_is_a_json_404,
    a_known_path_with_the_wrong_method_is_a_json_405,
    a_body_over_10_mb_is_a_json_413,
    a_2_mb_body_to_every_api_route_is_a_413_and_writes_nothing,
    answers_are_json_with_their_content_type,
    every_answer_carries_the_request_id_the_client_sent_or_a_new_one,
];

/// A route's bucket is shared by every test, so the test that empties one
/// runs alone.
pub const EXCLUSIVE: &[(&str, crate::Test)] =
    tests![a_flooded_route_answers_api_gateways_429_until_its_bucket_refills];

fn an_unknown_route_is_a_json_404(shop: &Shop) -> Result<()> {
    let reply = shop.get("/api/no-such-thing")?;
    ensure_that!(reply.status == 404, "status {}", reply.status);
    ensure_error(&reply.body, "route_not_found")
}

fn a_known_path_with_the_wrong_method_is_a_json_405(shop: &Shop) -> Result<()> {
    let reply = shop.send("DELETE", "/api/products/OLJCESPC7Z", None)?;
    ensure_that!(reply.status == 405, "status {}", reply.status);
    let allow = reply.headers.get("allow").and_then(|v| v.to_str().ok());
    ensure_that!(allow == Some("GET"), "allow header {allow:?}");
    ensure_error(&reply.body, "method_not_allowed")
}

fn a_body_over_10_mb_is_a_json_413(shop: &Shop) -> Result<()> {
    let oversized = serde_json::Value::String("x".repeat(10 * 1024 * 1024 + 1));
    let reply = shop.send("GET", "/api/products", Some(&oversized))?;
    ensure_that!(reply.status == 413, "status {}", reply.status);
    ensure_error(&reply.body, "payload_too_large")
}

/// Every route of the API the template declares that a client may send a
/// body to refuses one of 2 MB before its function reads it: 413 in the
/// shop's error shape, and the cart the body names is left as it was. A route
/// with the JWT authorizer answers 401 first, as API Gateway does.
fn a_2_mb_body_to_every_api_route_is_a_413_and_writes_nothing(shop: &Shop) -> Result<()> {
    let user = unique_user("oversized");
    let filler = "x".repeat(2 * 1024 * 1024);
    let body = json!({"userId": user, "item": {"productId": "OLJCESPC7Z", "quantity": 1}, "filler": filler});
    let template = Template::shop()?;
    let mut tried = 0;
    for function in template.functions() {
        for route in &function.routes {
            if !route.path.starts_with("/api/") || route.authorizer.is_some() || route.method == "GET" {
                continue;
            }
            let path = route
                .path
                .replace("{productId}", "OLJCESPC7Z")
                .replace("{orderId}", "3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11");
            let reply = shop.send(&route.method, &path, Some(&body))?;
            ensure_that!(
                reply.status == 413,
                "{} {path} ({}): {} {}",
                route.method,
                function.binary,
                reply.status,
                reply.body
            );
            ensure_error(&reply.body, "payload_too_large")?;
            tried += 1;
        }
    }
    ensure_that!(tried >= 8, "only {tried} routes take a body");
    ensure_that!(
        lines(shop, &user)?.is_empty(),
        "the oversized body wrote to the cart"
    );
    Ok(())
}

fn answers_are_json_with_their_content_type(shop: &Shop) -> Result<()> {
    for path in ["/api/products", "/api/products/NOPE", "/api/nothing-here"] {
        let reply = shop.get(path)?;
        let content_type = reply.headers.get("content-type").and_then(|v| v.to_str().ok());
        ensure_that!(
            content_type == Some("application/json"),
            "{path}: content-type {content_type:?}"
        );
    }
    Ok(())
}

/// Floods a route with more requests than its burst, faster than its rate:
/// the overflow is API Gateway's 429 with a `Retry-After`, and after that
/// long the route serves again. The requests carry no token for a route
/// with the JWT authorizer, so those let through are a 401 that runs no
/// function, and only the bucket is emptied.
fn a_flooded_route_answers_api_gateways_429_until_its_bucket_refills(shop: &Shop) -> Result<()> {
    shop.aws()
        .context("this test floods a route, which it does to the local stack only")?;
    let template = Template::shop()?;
    let route = template
        .functions()
        .iter()
        .flat_map(|f| &f.routes)
        .find(|r| r.authorizer.is_some() && r.method == "GET" && !r.path.contains('{'))
        .context("the template has no GET route with an authorizer and no parameters")?;
    let limits = template
        .route_throttling(&route.key())
        .with_context(|| format!("{} is not throttled", route.key()))?;
    let url = format!("{}{}", shop.base_url(), route.path);
    let flooded_at = Instant::now();
    let (sent, refused) = shop.block_on(flood(&url, limits))?;
    let (headers, body) =
        refused.with_context(|| format!("{} was never throttled in {sent} requests", route.key()))?;
    // How hard the route had to be pushed, for a reader of the run.
    eprintln!(
        "{}: throttled within {sent} requests, {} ms",
        route.key(),
        flooded_at.elapsed().as_millis()
    );
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    ensure_that!(
        content_type == Some("application/json"),
        "content-type {content_type:?}"
    );
    ensure_that!(body == r#"{"message":"Too Many Requests"}"#, "body {body}");
    let retry_after: u64 = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("retry-after {:?}", headers.get("retry-after")))?;
    ensure_that!(retry_after >= 1, "retry-after {retry_after}");

    std::thread::sleep(Duration::from_secs(retry_after));
    let after = shop.get(&route.path)?;
    ensure_that!(
        after.status == 401,
        "{} after {retry_after} s: {} {}",
        route.key(),
        after.status,
        after.body
    );
    // Leave the bucket full for the tests that follow.
    let refill = Duration::from_secs_f64(f64::from(limits.burst) / limits.rate_per_second);
    std::thread::sleep(refill.saturating_sub(flooded_at.elapsed()));
    Ok(())
}

/// A 429's headers and body.
type Refused = (reqwest::header::HeaderMap, String);

/// Floods `url` until it answers 429: the requests sent, and the first 429.
async fn flood(url: &str, limits: Throttling) -> Result<(usize, Option<Refused>)> {
    // Ten bursts' worth: a flood that cannot outrun the refill fails, not runs on.
    let most = 10 * limits.burst as usize;
    let client = reqwest::Client::new();
    let sent = Arc::new(AtomicUsize::new(0));
    let throttled = Arc::new(AtomicBool::new(false));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (client, url, sent, throttled) =
            (client.clone(), url.to_owned(), sent.clone(), throttled.clone());
        senders.spawn(async move {
            while !throttled.load(Ordering::SeqCst) && sent.fetch_add(1, Ordering::SeqCst) < most {
                let response = client.get(&url).send().await?;
                match response.status().as_u16() {
                    401 => continue,
                    429 => {
                        throttled.store(true, Ordering::SeqCst);
                        let headers = response.headers().clone();
                        return Ok(Some((headers, response.text().await?)));
                    }
                    other => anyhow::bail!("{url}: {other} {}", response.text().await?),
                }
            }
            Ok(None)
        });
    }
    let mut first = None;
    while let Some(done) = senders.join_next().await {
        if let Some(refused) = done?? {
            first.get_or_insert(refused);
        }
    }
    Ok((sent.load(Ordering::SeqCst).min(most), first))
}

fn every_answer_carries_the_request_id_the_client_sent_or_a_new_one(shop: &Shop) -> Result<()> {
    let id = |reply: &astroshop_tests::Reply| {
        reply
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let sent = format!("e2e-{}", uuid::Uuid::new_v4().simple());
    let path = "/api/products/OLJCESPC7Z";
    let echoed = shop.send_with_headers("GET", path, &[("x-request-id", &sent)], None)?;
    ensure_that!(echoed.status == 200, "status {}", echoed.status);
    ensure_that!(
        id(&echoed).as_deref() == Some(sent.as_str()),
        "answered {:?}",
        id(&echoed)
    );
    let first = id(&shop.get(path)?).context("no request id made")?;
    let second = id(&shop.get(path)?).context("no request id made")?;
    ensure_that!(first != second, "two requests share the id {first}");
    Ok(())
}
