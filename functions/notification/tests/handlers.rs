//! The notification consumer and the history endpoint, called in-process
//! against the template's table and mail identity in the emulator. The mail
//! itself is read back from the emulator's record of what SES sent
//! (`GET /moto-api/data.json`, `ses.Message[]`: `source`,
//! `destinations.ToAddresses`, `subject`, `body`).

use astroshop_domain::{EmailAddress, OrderId};
use astroshop_edge::order_link::sign;
use astroshop_edge::{AdminKey, OrderLinks};
use astroshop_notification::{
    Claim, Kind, LEASE, Mail, NotificationStore, NotificationTable, OrderPages, SesMailer,
    list_notifications, mail_order_outcome,
};
use astroshop_saga::consume;
use astroshop_store::{Limit, Limiter, LimitsTable};
use local_stack_testing::{TestTables, bus_event, failed_ids, json_response, request, sqs_event};
use serde_json::{Value, json};

struct Post {
    tables: TestTables,
    notifications: NotificationTable,
    mailer: SesMailer,
    pages: OrderPages,
    limiter: Limiter<LimitsTable>,
    admin: AdminKey,
}

const SHOP_URL: &str = "https://shop.example";

/// Mails an address may be sent an hour in the tests that are not about the limit.
const GENEROUS: u32 = 20;

async fn post(prefix: &str) -> Post {
    limited_post(prefix, GENEROUS).await
}

/// A post office that sends an address `allowed` mails an hour.
async fn limited_post(prefix: &str, allowed: u32) -> Post {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    let ssm = aws_sdk_ssm::Client::new(tables.config());
    Post {
        limiter: Limiter::new(
            LimitsTable::new(tables.dynamodb(), tables.setting("LIMITS_TABLE")),
            Limit::new("mail", allowed, std::time::Duration::from_secs(3600)),
        ),
        pages: OrderPages::new(
            SHOP_URL,
            OrderLinks::new(
                ssm.clone(),
                tables.setting("ORDER_LINK_KEY_PARAMETER"),
                OrderLinks::TTL,
            ),
        ),
        admin: AdminKey::new(ssm, tables.setting("ADMIN_KEY_PARAMETER"), AdminKey::TTL),
        notifications: NotificationTable::new(tables.dynamodb(), tables.setting("NOTIFICATIONS_TABLE")),
        mailer: SesMailer::new(
            aws_sdk_sesv2::Client::new(tables.config()),
            tables.setting("MAIL_FROM"),
        ),
        tables,
    }
}

/// An address no other test mails.
fn mailbox() -> String {
    format!("larry-{}@example.com", uuid::Uuid::new_v4().simple())
}

fn order(id: &str, email: &str) -> Value {
    let usd = |units: i64, nanos: i64| json!({"currencyCode": "USD", "units": units, "nanos": nanos});
    json!({
        "orderId": id, "userId": "larry", "email": email, "currencyCode": "USD",
        "items": [{"item": {"productId": "OLJCESPC7Z", "quantity": 2}, "cost": usd(101, 960_000_000)},
                  {"item": {"productId": "66VCHSJNUP", "quantity": 1}, "cost": usd(349, 950_000_000)}],
        "shippingCost": usd(26, 970_000_000),
        "total": usd(580, 840_000_000),
        "shippingAddress": {"streetAddress": "1600 Amphitheatre Parkway", "city": "Mountain View",
                            "state": "CA", "country": "United States", "zipCode": "94043"},
        "card": {"cardType": "visa", "last4": "0454"},
        "placedAt": "2026-11-21T10:00:00Z",
    })
}

fn event(detail_type: &str, id: &str, data: Value) -> String {
    bus_event(
        "astroshop.orders",
        detail_type,
        &json!({
            "metadata": {"eventId": format!("{id}/{detail_type}"), "occurredAt": "2026-11-21T10:00:01Z",
                         "correlationId": id},
            "data": data,
        }),
    )
}

/// OrderConfirmed for a new order to `email`; its id and the message body.
fn confirmed(email: &str) -> (String, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let data = json!({"order": order(&id, email), "trackingId": "5f0c2a8e-7d41-4b9a-a3e6-1c8b7d2f9e04"});
    (id.clone(), event("OrderConfirmed.v1", &id, data))
}

/// OrderFailed for a new order to `email`; its id and the message body.
fn failed(email: &str, reason: &str) -> (String, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let data = json!({"order": order(&id, email), "reason": reason});
    (id.clone(), event("OrderFailed.v1", &id, data))
}

impl Post {
    /// Delivers a batch; the ids of the messages that failed.
    async fn deliver(&self, bodies: &[String]) -> Vec<String> {
        failed_ids(
            &consume(sqs_event(bodies), |delivery| {
                mail_order_outcome(
                    &self.notifications,
                    &self.mailer,
                    &self.pages,
                    &self.limiter,
                    delivery,
                )
            })
            .await,
        )
    }

    /// Every mail SES sent to `to`, oldest first.
    async fn mail_to(&self, to: &str) -> Vec<Value> {
        let endpoint = self.tables.config().endpoint_url().expect("an emulator endpoint");
        let mut attempts = 0;
        let data: Value = loop {
            let response = reqwest::get(format!("{endpoint}/moto-api/data.json"))
                .await
                .unwrap();
            let status = response.status();
            // The emulator builds its dump while other tests change its
            // state, and now and then answers an error page instead: ask again.
            match response.json().await {
                Ok(data) if status.is_success() => break data,
                outcome if attempts == 5 => panic!("the emulator's data.json: {status} {outcome:?}"),
                _ => attempts += 1,
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|message| message["destinations"]["ToAddresses"] == json!([to]))
            .collect()
    }

    /// The history as an operator reads it, with the admin key.
    async fn history(&self, query: &str) -> (u16, Value) {
        let bearer = format!("Bearer {}", self.tables.admin_secret().await);
        self.history_with(query, Some(&bearer)).await
    }

    async fn history_with(&self, query: &str, authorization: Option<&str>) -> (u16, Value) {
        let uri = format!("/api/notifications{query}");
        let mut request = request("GET", &uri, None, "notification-list");
        if let Some(value) = authorization {
            request
                .headers_mut()
                .insert("authorization", value.parse().unwrap());
        }
        json_response(
            list_notifications(&self.notifications, &self.admin, request)
                .await
                .unwrap_or_else(|e| e.into_response()),
        )
    }

    /// The storefront's page of the order, as its link in the mail gives it.
    async fn page(&self, id: &str) -> String {
        let key = sign(
            self.tables.secret("ORDER_LINK_KEY_PARAMETER").await.as_bytes(),
            &OrderId::parse(id).unwrap(),
        );
        format!("{SHOP_URL}/orders/{id}?key={key}")
    }
}

#[tokio::test]
async fn a_confirmed_order_is_mailed_once_from_the_shop_and_shown_in_the_history() {
    let post = post("side-mail-confirmed").await;
    let to = mailbox();
    let (id, body) = confirmed(&to);
    assert!(post.deliver(std::slice::from_ref(&body)).await.is_empty());
    assert!(post.deliver(&[body.clone(), body]).await.is_empty());

    let mail = post.mail_to(&to).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["source"], "orders@astroshop.example");
    assert_eq!(
        mail[0]["subject"],
        format!("Your astroshop order {id} is confirmed")
    );
    let text = mail[0]["body"].as_str().unwrap();
    for expected in [
        "2 x OLJCESPC7Z at 101.96 USD = 203.92 USD",
        "1 x 66VCHSJNUP at 349.95 USD = 349.95 USD",
        "Shipping: 26.97 USD",
        "Total: 580.84 USD",
        "1600 Amphitheatre Parkway",
        "Tracking id: 5f0c2a8e-7d41-4b9a-a3e6-1c8b7d2f9e04",
        &format!("Follow your order at {}\n", post.page(&id).await),
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }

    let (status, history) = post.history(&format!("?email={to}")).await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["email"], to);
    let sent = history["notifications"].as_array().unwrap();
    assert_eq!(sent.len(), 1, "{history}");
    assert_eq!(sent[0]["orderId"], id);
    assert_eq!(sent[0]["kind"], "confirmation");
    assert_eq!(sent[0]["subject"], mail[0]["subject"]);
    assert_eq!(sent[0]["body"], mail[0]["body"]);
    assert!(sent[0]["sentAt"].as_str().unwrap().ends_with('Z'), "{history}");
}

#[tokio::test]
async fn a_failed_order_is_mailed_the_reason_and_that_nothing_stays_charged() {
    let post = post("side-mail-failed").await;
    let to = mailbox();
    let (id, body) = failed(&to, "the card expired in 01/2020");
    assert!(post.deliver(&[body]).await.is_empty());
    let mail = post.mail_to(&to).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(
        mail[0]["subject"],
        format!("Your astroshop order {id} could not be completed")
    );
    let text = mail[0]["body"].as_str().unwrap();
    assert!(text.contains("Why: the card expired in 01/2020"), "{text}");
    assert!(text.contains("Total: 580.84 USD"), "{text}");
    assert!(
        text.contains("nothing was charged to your Visa ending in 0454, or any charge made is refunded"),
        "{text}"
    );
    assert!(text.contains(&post.page(&id).await), "{text}");
}

#[tokio::test]
async fn the_history_is_for_operators_only() {
    let post = post("side-mail-admin").await;
    let to = mailbox();
    let (_, body) = confirmed(&to);
    assert!(post.deliver(&[body]).await.is_empty());
    let query = format!("?email={to}");
    for (authorization, status) in [
        (None, 401),
        (Some("Bearer not-the-key"), 403),
        (Some("Basic bGFycnk6cGFzcw=="), 401),
    ] {
        let (got, body) = post.history_with(&query, authorization).await;
        assert_eq!(got, status, "{authorization:?}: {body}");
        let text = body.to_string();
        assert!(!text.contains(&to) && !text.contains("Amphitheatre"), "{text}");
    }
    assert_eq!(post.history(&query).await.0, 200);
}

#[tokio::test]
async fn the_history_is_newest_first_and_found_whatever_the_case_of_the_domain() {
    let post = post("side-mail-history").await;
    let to = mailbox();
    let (first, body) = failed(&to, "out of stock");
    assert!(post.deliver(&[body]).await.is_empty());
    let (second, body) = confirmed(&to);
    assert!(post.deliver(&[body]).await.is_empty());

    let shouted = to.replace("example.com", "EXAMPLE.com");
    let (status, history) = post.history(&format!("?email={shouted}")).await;
    assert_eq!(status, 200, "{history}");
    let orders: Vec<_> = history["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sent| (sent["orderId"].as_str().unwrap(), sent["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        orders,
        [(second.as_str(), "confirmation"), (first.as_str(), "failure")]
    );

    let (status, nobody) = post.history("?email=nobody@example.com").await;
    assert_eq!(
        (status, nobody),
        (200, json!({"email": "nobody@example.com", "notifications": []}))
    );
}

#[tokio::test]
async fn a_mail_claimed_by_an_attempt_that_died_is_sent_when_the_event_comes_again() {
    let post = post("side-mail-resend").await;
    let to = mailbox();
    let (id, body) = confirmed(&to);
    // An attempt claimed the mail a lease and more ago and died before SES sent it.
    let claimed = Mail {
        subject: format!("Your astroshop order {id} is confirmed"),
        body: "the text first written".into(),
    };
    let then = astroshop_saga::now() - 2 * LEASE;
    let claim = post
        .notifications
        .claim(
            &EmailAddress::parse(&to).unwrap(),
            &OrderId::parse(&id).unwrap(),
            Kind::Confirmation,
            &claimed,
            then,
        )
        .await
        .unwrap();
    assert_eq!(claim, Claim::Send(claimed));
    let (_, history) = post.history(&format!("?email={to}")).await;
    assert_eq!(history["notifications"], json!([]));

    assert!(post.deliver(std::slice::from_ref(&body)).await.is_empty());
    assert!(post.deliver(&[body]).await.is_empty());
    let mail = post.mail_to(&to).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["body"], "the text first written");
    let (_, history) = post.history(&format!("?email={to}")).await;
    assert_eq!(history["notifications"].as_array().unwrap().len(), 1, "{history}");
}

#[tokio::test]
async fn two_copies_of_an_event_handled_at_once_send_one_mail() {
    let post = post("side-mail-race").await;
    for _ in 0..5 {
        let to = mailbox();
        let (_, body) = confirmed(&to);
        let batch = [body];
        let (first, second) = tokio::join!(post.deliver(&batch), post.deliver(&batch));
        // A copy that found the other sending fails, and is delivered again later.
        let failed = first.len() + second.len();
        assert!(failed <= 1, "{first:?} {second:?}");
        if failed == 1 {
            assert!(post.deliver(&batch).await.is_empty());
        }
        assert_eq!(post.mail_to(&to).await.len(), 1);
        let (_, history) = post.history(&format!("?email={to}")).await;
        assert_eq!(history["notifications"].as_array().unwrap().len(), 1, "{history}");
    }
}

#[tokio::test]
async fn a_mail_being_sent_is_not_claimed_again_until_its_lease_runs_out() {
    let post = post("side-mail-lease").await;
    let to = EmailAddress::parse(&mailbox()).unwrap();
    let order = OrderId::parse(&uuid::Uuid::new_v4().to_string()).unwrap();
    let mail = |body: &str| Mail {
        subject: "Your order".into(),
        body: body.into(),
    };
    let now = astroshop_saga::now();
    let claim = |body: &'static str, at| {
        let (to, order, notifications) = (&to, &order, &post.notifications);
        async move {
            notifications
                .claim(to, order, Kind::Failure, &mail(body), at)
                .await
                .unwrap()
        }
    };
    assert_eq!(claim("first", now).await, Claim::Send(mail("first")));
    assert_eq!(claim("second", now + LEASE / 2).await, Claim::InProgress);
    assert_eq!(
        claim("third", now + LEASE + std::time::Duration::from_secs(1)).await,
        Claim::Send(mail("first"))
    );
    post.notifications
        .mark_sent(&to, &order, Kind::Failure, "message-1")
        .await
        .unwrap();
    assert_eq!(claim("fourth", now + 3 * LEASE).await, Claim::AlreadySent);
}

#[tokio::test]
async fn the_history_needs_a_well_formed_address() {
    let post = post("side-mail-bad-query").await;
    for (query, code) in [
        ("", "missing_parameter"),
        ("?email=", "missing_parameter"),
        ("?email=larry", "invalid_email"),
        ("?email=larry%40localhost", "invalid_email"),
        ("?email=%40example.com", "invalid_email"),
    ] {
        let (status, body) = post.history(query).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn unreadable_and_unexpected_messages_fail_alone_and_mail_nothing() {
    let post = post("side-mail-poison").await;
    let to = mailbox();
    let (_, good) = confirmed(&to);
    let (_, other) = confirmed(&to);
    let wrong_type = other.replace("OrderConfirmed.v1\"", "OrderShipped.v1\"");
    let (_, no_address) = confirmed("not an address");
    let failed = post
        .deliver(&[good, "{not json".to_owned(), wrong_type, no_address])
        .await;
    assert_eq!(failed, ["m1", "m2", "m3"]);
    assert_eq!(post.mail_to(&to).await.len(), 1);
}

#[tokio::test]
async fn mail_over_an_addresss_hourly_limit_is_suppressed_shown_and_not_retried() {
    let post = limited_post("side-mail-limit", 3).await;
    let to = mailbox();
    let bodies: Vec<String> = (0..4).map(|_| failed(&to, "out of stock").1).collect();
    assert!(post.deliver(&bodies[..2]).await.is_empty());
    // Copies of events whose mail went out are not counted again...
    assert!(post.deliver(&bodies[..2]).await.is_empty());
    assert_eq!(post.mail_to(&to).await.len(), 2);
    // ...so the third mail is sent, and the fourth is held back, which is no failure.
    assert!(post.deliver(&bodies[2..]).await.is_empty());
    assert_eq!(post.mail_to(&to).await.len(), 3);

    let (_, history) = post.history(&format!("?email={to}")).await;
    let mail = history["notifications"].as_array().unwrap();
    let mut statuses: Vec<&str> = mail.iter().map(|m| m["status"].as_str().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["SENT", "SENT", "SENT", "SUPPRESSED"], "{history}");
    let held = mail.iter().find(|m| m["status"] == "SUPPRESSED").unwrap();
    assert!(held["suppressedAt"].as_str().unwrap().ends_with('Z'), "{held}");
    assert!(held.get("sentAt").is_none(), "{held}");

    // Delivered again, the held-back mail stays held back.
    assert!(post.deliver(&bodies[3..]).await.is_empty());
    assert_eq!(post.mail_to(&to).await.len(), 3);
    // The local part in capitals is the same mailbox, and the same count.
    let shouted = to.replacen("larry", "LARRY", 1);
    assert!(
        post.deliver(&[failed(&shouted, "out of stock").1])
            .await
            .is_empty()
    );
    assert!(post.mail_to(&shouted).await.is_empty());
    // Another address has an allowance of its own.
    let other = mailbox();
    assert!(post.deliver(&[confirmed(&other).1]).await.is_empty());
    assert_eq!(post.mail_to(&other).await.len(), 1);
}
