//! Per-client limits where a request costs money, end to end. A client is
//! told apart by its address, so each test that is a client of its own
//! sends from an address of its own in 127.0.0.0/8 (the rest of the suite
//! sends from 127.0.0.1): a burst of checkouts from one client meets 429s
//! while another client's checkouts go through and every admitted order
//! settles; an address mailed past its hourly allowance gets no more mail,
//! and the held-back mail is in the history, not in a dead-letter queue.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use astroshop_tests::checkout::{GOOD_CARD, checkout_request, fresh_product};
use astroshop_tests::{Reply, Shop, client_from, ensure_that, exchange};
use serde_json::{Value, json};

use crate::cart::{add, unique_user};
use crate::checkout::{SAGA_DEADLINE, queues_drained, settled};
use crate::search::eventually;

/// Both run alone: the burst loads the machine and starts sagas, so no
/// other test's timing suffers; and each reads the queues knowing that no
/// other test's message is in flight.
pub const EXCLUSIVE: &[(&str, crate::Test)] = tests![
    a_burst_from_one_client_meets_429s_while_another_clients_checkouts_go_through,
    an_address_past_its_hourly_mail_allowance_gets_no_more_mail_and_nothing_is_retried,
];

/// The client that bursts, and the one that shops as usual beside it.
const BURSTING: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

/// Checkout requests in the burst, and how long it is spread over.
const BURST: usize = 300;
const BURST_SPAN: Duration = Duration::from_secs(10);
/// Connections the burst goes through at once: one eager client, not a
/// flood of a two-core laptop.
const CONNECTIONS: usize = 6;
/// The burst's first requests are for carts with something in them; the
/// rest are for an empty cart, which an admitted request answers 409 having
/// placed nothing, so the burst starts a handful of sagas, not hundreds.
const BUYERS: usize = 4;
/// Checkouts the other client places while the burst runs.
const OTHER_CHECKOUTS: usize = 3;

fn email_for(user: &str) -> String {
    format!("{}@example.com", user.to_lowercase())
}

/// The time since the epoch.
fn epoch() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Waits, if need be, until the fixed window of `length` the shop counts in
/// has at least `room` left, so that what the test does next falls in one
/// window (the functions run on this machine's clock).
fn with_room_in_window(length: Duration, room: Duration) {
    let into = Duration::from_secs_f64(epoch().as_secs_f64() % length.as_secs_f64());
    let left = length.saturating_sub(into);
    if left < room {
        eprintln!("waiting {left:?} for the next window to start");
        std::thread::sleep(left + Duration::from_millis(200));
    }
}

// ------------------------------------------------------------------ checkout

/// What became of the burst's requests.
#[derive(Debug, Default)]
struct Outcomes {
    /// Admitted: orders placed, and empty carts answered 409.
    orders: Vec<String>,
    empty_carts: usize,
    /// Refused by the client's checkout limit.
    limited: usize,
    /// Refused by the route's throttling, which every client shares.
    throttled: usize,
    unexpected: Vec<String>,
}

impl Outcomes {
    fn admitted(&self) -> usize {
        self.orders.len() + self.empty_carts
    }

    fn count(&mut self, reply: &Reply) {
        match (reply.status, reply.body["error"]["code"].as_str()) {
            (202, _) => match reply.body["orderId"].as_str() {
                Some(id) => self.orders.push(id.to_owned()),
                None => self
                    .unexpected
                    .push(format!("202 without an order: {}", reply.body)),
            },
            (409, Some("empty_cart")) => self.empty_carts += 1,
            (429, Some("too_many_checkouts")) => {
                let retry_after = reply
                    .headers
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse::<u64>().ok());
                if !retry_after.is_some_and(|seconds| (1..=60).contains(&seconds))
                    || !reply.body["error"]["message"].is_string()
                {
                    self.unexpected
                        .push(format!("429 with Retry-After {retry_after:?}: {}", reply.body));
                }
                self.limited += 1;
            }
            (429, _) => self.throttled += 1,
            (status, _) => self.unexpected.push(format!("{status} {}", reply.body)),
        }
    }
}

/// The burst: `BURST` checkouts from [`BURSTING`], paced evenly over
/// `BURST_SPAN` through `CONNECTIONS` connections; the replies in order.
fn burst(shop: &Shop, buyers: &[String], browser: &str) -> Result<Vec<Reply>> {
    let http = client_from(BURSTING)?;
    let url = format!("{}/api/checkout?currencyCode=USD", shop.base_url());
    let requests: Arc<Vec<Value>> = Arc::new(
        (0..BURST)
            .map(|n| {
                let user = buyers.get(n).map_or(browser, String::as_str);
                checkout_request(user, &email_for(user), "USD", (GOOD_CARD, 1, 2039))
            })
            .collect(),
    );
    shop.block_on(async {
        let next = Arc::new(AtomicUsize::new(0));
        let start = tokio::time::Instant::now();
        let mut senders = tokio::task::JoinSet::new();
        for _ in 0..CONNECTIONS {
            let (http, url, next, requests) = (http.clone(), url.clone(), next.clone(), requests.clone());
            senders.spawn(async move {
                let mut replies = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    let Some(request) = requests.get(n) else {
                        return Ok::<_, anyhow::Error>(replies);
                    };
                    let due = BURST_SPAN.mul_f64(n as f64 / BURST as f64);
                    tokio::time::sleep_until(start + due).await;
                    replies.push((n, exchange(http.post(&url).json(request), "/api/checkout").await?));
                }
            });
        }
        let mut replies = Vec::with_capacity(BURST);
        while let Some(sent) = senders.join_next().await {
            replies.extend(sent??);
        }
        replies.sort_by_key(|(n, _)| *n);
        Ok(replies.into_iter().map(|(_, reply)| reply).collect())
    })
}

/// The other client's checkouts, one every few seconds while the burst
/// runs; the orders' ids. A request the route's throttling refuses (no
/// function ran) is sent again when its `Retry-After` says.
fn other_clients_checkouts(shop: &Shop, users: &[String]) -> Result<Vec<String>> {
    let http = client_from(OTHER)?;
    let mut placed = Vec::new();
    for user in users {
        std::thread::sleep(Duration::from_millis(2500));
        let request = checkout_request(user, &email_for(user), "USD", (GOOD_CARD, 1, 2039));
        let mut attempts = 0;
        let reply = loop {
            let reply = shop.send_from(
                &http,
                "POST",
                "/api/checkout?currencyCode=USD",
                &[],
                Some(&request),
            )?;
            let throttled = reply.status == 429 && reply.body["error"]["code"] != "too_many_checkouts";
            attempts += 1;
            if !throttled || attempts > 5 {
                break reply;
            }
            let wait = reply
                .headers
                .get("retry-after")
                .and_then(|value| value.to_str().ok()?.parse().ok())
                .unwrap_or(1);
            std::thread::sleep(Duration::from_secs(wait));
        };
        ensure_that!(
            reply.status == 202,
            "the other client's checkout answered {}: {}",
            reply.status,
            reply.body
        );
        placed.push(reply.body["orderId"].as_str().context("no orderId")?.to_owned());
    }
    Ok(placed)
}

/// The messages in any of the template's dead-letter queues that name one
/// of `ids`.
fn dead_letters_naming(shop: &Shop, ids: &[String]) -> Result<Vec<String>> {
    let sqs = aws_sdk_sqs::Client::new(&shop.aws()?);
    let template = local_stack::template::Template::shop()?;
    let mut found = Vec::new();
    for (queue, _) in template.resources_of("AWS::SQS::Queue") {
        if !queue.ends_with("DeadLetters") {
            continue;
        }
        let name = shop.resource_name(queue)?;
        let url = shop.block_on(sqs.get_queue_url().queue_name(&name).send())?;
        let url = url.queue_url().unwrap_or_default().to_owned();
        // Each message read stays hidden for a while, so the next read gives others.
        for _ in 0..20 {
            let received = shop.block_on(
                sqs.receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .visibility_timeout(5)
                    .send(),
            )?;
            if received.messages().is_empty() {
                break;
            }
            for message in received.messages() {
                let body = message.body().unwrap_or_default();
                if ids.iter().any(|id| body.contains(id.as_str())) {
                    found.push(format!("{queue}: {body}"));
                }
            }
        }
    }
    Ok(found)
}

fn a_burst_from_one_client_meets_429s_while_another_clients_checkouts_go_through(shop: &Shop) -> Result<()> {
    let allowed: usize = shop.setting("CHECKOUTS_PER_CLIENT_PER_MINUTE")?.parse()?;
    ensure_that!(
        BUYERS < allowed && allowed < BURST,
        "a limit of {allowed} a minute cannot be shown by a burst of {BURST}"
    );
    let product = fresh_product(shop, "burst", 10, 100)?;
    let buyers: Vec<String> = (0..BUYERS).map(|n| unique_user(&format!("burst{n}"))).collect();
    let browser = unique_user("burst-browser");
    let others: Vec<String> = (0..OTHER_CHECKOUTS)
        .map(|n| unique_user(&format!("beside{n}")))
        .collect();
    for user in buyers.iter().chain(&others) {
        let added = add(shop, user, &product, 1)?;
        ensure_that!(added.status == 200, "adding to {user}'s cart: {}", added.status);
    }

    // Counted a minute at a time: the burst is sent within one minute.
    with_room_in_window(Duration::from_secs(60), BURST_SPAN + Duration::from_secs(5));
    let started = Instant::now();
    let first_minute = epoch().as_secs() / 60;
    let (replies, beside) = std::thread::scope(|scope| {
        let beside = scope.spawn(|| other_clients_checkouts(shop, &others));
        let replies = burst(shop, &buyers, &browser);
        (
            replies,
            beside.join().expect("the other client's thread does not panic"),
        )
    });
    let took = started.elapsed();
    let one_window = epoch().as_secs() / 60 == first_minute;
    let (replies, beside) = (replies?, beside?);

    let mut outcomes = Outcomes::default();
    for reply in &replies {
        outcomes.count(reply);
    }
    eprintln!(
        "a burst of {} checkouts from {BURSTING} in {took:?}: {} admitted ({} orders, {} empty carts), \
         {} refused by the client's limit of {allowed} a minute, {} throttled by the route; \
         {} orders from {OTHER} beside it",
        replies.len(),
        outcomes.admitted(),
        outcomes.orders.len(),
        outcomes.empty_carts,
        outcomes.limited,
        outcomes.throttled,
        beside.len()
    );
    ensure_that!(
        outcomes.unexpected.is_empty(),
        "unexpected answers: {:?}",
        outcomes.unexpected
    );
    ensure_that!(outcomes.limited > 0, "no request of the burst met the limit");
    if one_window {
        ensure_that!(
            outcomes.admitted() == allowed || (outcomes.throttled > 0 && outcomes.admitted() < allowed),
            "{} admitted in one minute, for a limit of {allowed}",
            outcomes.admitted()
        );
    } else {
        ensure_that!(
            outcomes.admitted() <= 2 * allowed,
            "{} admitted across two minutes, for a limit of {allowed}",
            outcomes.admitted()
        );
    }
    ensure_that!(
        outcomes.orders.len() == BUYERS || outcomes.throttled > 0,
        "the burst placed {} orders for {BUYERS} carts",
        outcomes.orders.len()
    );

    // Every order admitted settles, and nothing of it is left in a dead-letter queue.
    let ours: Vec<String> = outcomes.orders.iter().chain(&beside).cloned().collect();
    let mut settled_as: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ours {
        let order = settled(shop, id)?;
        *settled_as
            .entry(order["status"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    eprintln!("the {} orders settled: {settled_as:?}", ours.len());
    queues_drained(shop)?;
    let parked = dead_letters_naming(shop, &ours)?;
    ensure_that!(
        parked.is_empty(),
        "dead letters of the burst's orders: {parked:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------- mail

/// An `OrderFailed` event for a new order to `email`, as the bus delivers
/// it to the notification queue.
fn order_failed(email: &str) -> Value {
    let order_id = uuid::Uuid::new_v4().to_string();
    let usd = |units: i64| json!({"currencyCode": "USD", "units": units, "nanos": 0});
    json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "OrderFailed.v1", "source": "astroshop.orders",
        "account": "000000000000", "time": "2026-11-21T10:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {
            "metadata": {"eventId": format!("{order_id}/OrderFailed.v1"), "occurredAt": "2026-11-21T10:00:00Z",
                         "correlationId": order_id},
            "data": {
                "order": {
                    "orderId": order_id, "userId": "mail-limit-test", "email": email, "currencyCode": "USD",
                    "items": [{"item": {"productId": "OLJCESPC7Z", "quantity": 1}, "cost": usd(101)}],
                    "shippingCost": usd(9), "total": usd(110),
                    "shippingAddress": {"streetAddress": "1 Main St", "city": "Springfield", "state": "IL",
                                        "country": "United States", "zipCode": "62701"},
                    "card": {"cardType": "visa", "last4": "0454"},
                    "placedAt": "2026-11-21T10:00:00Z"
                },
                "reason": "the card was declined"
            }
        }
    })
}

fn an_address_past_its_hourly_mail_allowance_gets_no_more_mail_and_nothing_is_retried(
    shop: &Shop,
) -> Result<()> {
    let allowed: usize = shop.setting("MAILS_PER_ADDRESS_PER_HOUR")?.parse()?;
    let held_back = 3;
    let email = format!("mail-limit-{}@example.com", uuid::Uuid::new_v4().simple());
    let sqs = aws_sdk_sqs::Client::new(&shop.aws()?);
    let queue_name = shop.resource_name("NotificationQueue")?;
    let queue = shop.block_on(sqs.get_queue_url().queue_name(&queue_name).send())?;
    let queue = queue.queue_url().unwrap_or_default().to_owned();
    let events: Vec<Value> = (0..allowed + held_back).map(|_| order_failed(&email)).collect();

    // Counted an hour at a time: the mail is sent within one hour.
    with_room_in_window(Duration::from_secs(3600), Duration::from_secs(90));
    for (batch, chunk) in events.chunks(10).enumerate() {
        let mut send = sqs.send_message_batch().queue_url(&queue);
        for (n, event) in chunk.iter().enumerate() {
            send = send.entries(
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(format!("m{batch}-{n}"))
                    .message_body(event.to_string())
                    .build()?,
            );
        }
        let sent = shop.block_on(send.send())?;
        ensure_that!(sent.failed().is_empty(), "queueing the events failed");
    }

    let mail = eventually("every mail sent or held back", SAGA_DEADLINE, || {
        let mail = crate::checkout::notifications(shop, &email)?;
        Ok(if mail.len() == events.len() {
            Ok(mail)
        } else {
            Err(format!("{} of {} in the history", mail.len(), events.len()))
        })
    })?;
    let status = |wanted: &str| mail.iter().filter(|m| m["status"] == wanted).count();
    eprintln!(
        "{} mails for one address: {} sent, {} suppressed, for a limit of {allowed} an hour",
        mail.len(),
        status("SENT"),
        status("SUPPRESSED")
    );
    ensure_that!(
        status("SENT") == allowed && status("SUPPRESSED") == held_back,
        "history: {mail:?}"
    );
    let delivered = shop
        .sent_mail()?
        .into_iter()
        .filter(|sent| sent.to.contains(&email))
        .count();
    ensure_that!(delivered == allowed, "SES sent {delivered} mails to the address");
    // A held-back mail is handled, not failed: a failed message would stay
    // in flight in the queue for its visibility timeout (a minute), to be
    // retried and in the end parked as a dead letter.
    eventually("the notification queue empty", Duration::from_secs(15), || {
        let held = crate::checkout::messages_held(shop, &sqs, &queue)?;
        Ok(if held == 0 {
            Ok(())
        } else {
            Err(format!("{held} messages in the queue"))
        })
    })?;
    let parked = dead_letters_naming(shop, &[email])?;
    ensure_that!(
        parked.is_empty(),
        "dead letters of the held-back mail: {parked:?}"
    );
    Ok(())
}
