//! Checkout, called in-process with the API Gateway events the gateway
//! builds, against the template's tables, card key and cart in the emulator:
//! what the shopper is answered, and what is (or is not) written.

use astroshop_checkout::Checkout;
use astroshop_checkout::store::{CheckoutTables, OrderBook};
use astroshop_domain::OrderId;
use astroshop_domain::events::SealedCard;
use astroshop_domain::{ProductId, Quantity, UserId};
use astroshop_saga::Publisher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use astroshop_domain::card::CardDetails;
use astroshop_domain::history::Change;
use astroshop_edge::client::{FORWARDED_ADDRESS, FORWARDED_SIGNATURE};
use astroshop_edge::order_link::sign;
use astroshop_edge::{ClientKey, OrderLinks};
use astroshop_store::{
    CardKey, CardOpener, CardSealer, CartStore, CartTable, Limit, Limiter, LimitsTable, OpenError,
    OrderTable, OrderTransitions, ProductTable, RateTableStore, SealError, Transition,
};
use aws_sdk_dynamodb::types::AttributeValue;
use local_stack_testing::{
    TestTables, api_event, json_response as json, request, sample_request, signed_in_request,
};
use serde_json::{Value, json};

type ShopCheckout<Sealer> =
    Checkout<CartTable, ProductTable, RateTableStore, Sealer, CheckoutTables, LimitsTable, Publisher>;

struct Shop<Sealer = CardKey> {
    tables: TestTables,
    checkout: ShopCheckout<Sealer>,
}

/// Checkouts a client may place a minute in the tests that are not about the limit.
const GENEROUS: u32 = 60;

async fn shop(prefix: &str) -> Shop {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    let sealer = CardKey::new(
        aws_sdk_kms::Client::new(tables.config()),
        tables.setting("CARD_KEY_ID"),
    );
    Shop {
        checkout: checkout(&tables, sealer, GENEROUS),
        tables,
    }
}

/// A shop that lets a client place `allowed` checkouts a minute, and
/// counts the cards it seals.
const LIMIT_WINDOW: Duration = Duration::from_secs(86_400);

async fn limited_shop(prefix: &str, allowed: u32) -> Shop<CountedSeals> {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    let sealer = CountedSeals {
        key: CardKey::new(
            aws_sdk_kms::Client::new(tables.config()),
            tables.setting("CARD_KEY_ID"),
        ),
        seals: AtomicUsize::new(0),
    };
    Shop {
        checkout: checkout(&tables, sealer, allowed),
        tables,
    }
}

fn checkout<Sealer>(tables: &TestTables, sealer: Sealer, allowed: u32) -> ShopCheckout<Sealer> {
    let dynamodb = tables.dynamodb();
    let ssm = aws_sdk_ssm::Client::new(tables.config());
    Checkout {
        carts: CartTable::new(dynamodb.clone(), tables.setting("CARTS_TABLE")),
        catalog: ProductTable::new(dynamodb.clone(), tables.setting("PRODUCTS_TABLE")),
        rates: RateTableStore::new(dynamodb.clone(), tables.setting("CURRENCY_RATES_TABLE")),
        sealer,
        limiter: Limiter::new(
            LimitsTable::new(dynamodb.clone(), tables.setting("LIMITS_TABLE")),
            // A day's window: a test's few requests must not straddle two
            // windows (the shop's own is a minute; windows are unit-tested
            // in the store crate).
            Limit::new("checkout", allowed, LIMIT_WINDOW),
        ),
        book: CheckoutTables::new(
            dynamodb,
            tables.setting("ORDERS_TABLE"),
            tables.setting("IDEMPOTENCY_TABLE"),
        ),
        links: OrderLinks::new(
            ssm.clone(),
            tables.setting("ORDER_LINK_KEY_PARAMETER"),
            OrderLinks::TTL,
        ),
        clients: ClientKey::new(ssm, tables.setting("CLIENT_KEY_PARAMETER"), ClientKey::TTL),
        flags: astroshop_flags::Flags::none(),
        bus: tables.publisher(),
    }
}

/// The card key, counting the cards it seals (each one a KMS call).
struct CountedSeals {
    key: CardKey,
    seals: AtomicUsize,
}

impl CardSealer for CountedSeals {
    async fn seal(&self, card: &CardDetails, order: &OrderId) -> Result<SealedCard, SealError> {
        self.seals.fetch_add(1, Ordering::SeqCst);
        self.key.seal(card, order).await
    }
}

/// The demo storefront's checkout body for `user`.
fn demo_request(user: &str) -> Value {
    json!({
        "userId": user,
        "email": "larry_sergei@example.com",
        "address": {
            "streetAddress": "1600 Amphitheatre Parkway",
            "city": "Mountain View",
            "state": "CA",
            "country": "United States",
            "zipCode": "94043"
        },
        "userCurrency": "USD",
        "creditCard": {
            "creditCardNumber": "4432-8015-6152-0454",
            "creditCardCvv": 672,
            "creditCardExpirationYear": 2039,
            "creditCardExpirationMonth": 1
        }
    })
}

struct Answer {
    status: u16,
    location: Option<String>,
    retry_after: Option<String>,
    headers: lambda_http::http::HeaderMap,
    body: Value,
}

impl<Sealer: CardSealer + Sync> Shop<Sealer> {
    /// The key of the order's link, as the order's owner is given it.
    async fn key(&self, id: &str) -> String {
        sign(
            self.tables.secret("ORDER_LINK_KEY_PARAMETER").await.as_bytes(),
            &OrderId::parse(id).unwrap(),
        )
    }

    async fn add_to_cart(&self, user: &str, product: &str, quantity: i64) {
        self.checkout
            .carts
            .add_to_line(
                &UserId::parse(user).unwrap(),
                &ProductId::parse(product).unwrap(),
                Quantity::new(quantity).unwrap(),
            )
            .await
            .unwrap();
    }

    async fn cart_size(&self, user: &str) -> usize {
        self.checkout
            .carts
            .cart_lines(&UserId::parse(user).unwrap())
            .await
            .unwrap()
            .len()
    }

    async fn place_raw(&self, uri: &str, body: &str, key: Option<&str>) -> Answer {
        self.place_preferring(uri, body, key, None).await
    }

    /// A checkout with a `Prefer` header when `prefer` is given.
    async fn place_preferring(
        &self,
        uri: &str,
        body: &str,
        key: Option<&str>,
        prefer: Option<&str>,
    ) -> Answer {
        let mut request = request("POST", uri, Some(body), "checkout-place");
        if let Some(key) = key {
            request
                .headers_mut()
                .insert("idempotency-key", key.parse().unwrap());
        }
        if let Some(prefer) = prefer {
            request.headers_mut().insert("prefer", prefer.parse().unwrap());
        }
        self.answer(request).await
    }

    /// Confirms `user`'s order as the saga's order-state consumer would,
    /// once checkout has placed it and `after` has passed.
    async fn confirm_when_placed(&self, user: &str, tracking_id: &str, after: Duration) {
        let order_id = loop {
            if let Some(order) = self.orders_of(user).await.first() {
                break OrderId::parse(&text(order, "orderId")).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        tokio::time::sleep(after).await;
        self.confirm(&order_id, tracking_id).await;
    }

    async fn confirm(&self, order_id: &OrderId, tracking_id: &str) {
        let orders = OrderTable::new(self.tables.dynamodb(), self.tables.setting("ORDERS_TABLE"));
        let change = Change::Confirm {
            tracking_id: tracking_id.to_owned(),
        };
        let transition = Transition {
            order_id,
            step: None,
            change: &change,
            announcement: None,
        };
        assert!(
            orders
                .record(&transition, time::OffsetDateTime::now_utc())
                .await
                .unwrap()
        );
    }

    async fn answer(&self, request: lambda_http::Request) -> Answer {
        let response = self
            .checkout
            .place_order(request)
            .await
            .unwrap_or_else(|e| e.into_response());
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
        };
        let (location, retry_after) = (header("location"), header("retry-after"));
        let headers = response.headers().clone();
        let (status, body) = json(response);
        Answer {
            status,
            location,
            retry_after,
            headers,
            body,
        }
    }

    async fn place(&self, body: &Value, key: Option<&str>) -> Answer {
        self.place_raw("/api/checkout", &body.to_string(), key).await
    }

    /// Every item of the orders table belonging to `user`'s orders.
    async fn orders_of(&self, user: &str) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        self.tables
            .dynamodb()
            .scan()
            .table_name(self.tables.setting("ORDERS_TABLE"))
            .filter_expression("userId = :user")
            .expression_attribute_values(":user", AttributeValue::S(user.into()))
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default()
    }

    /// Every item stored under one order id, by sort key.
    async fn partition(
        &self,
        order_id: &str,
    ) -> std::collections::BTreeMap<String, std::collections::HashMap<String, AttributeValue>> {
        self.tables
            .dynamodb()
            .query()
            .table_name(self.tables.setting("ORDERS_TABLE"))
            .key_condition_expression("orderId = :id")
            .expression_attribute_values(":id", AttributeValue::S(order_id.into()))
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| (text(&item, "sk"), item))
            .collect()
    }
}

fn text(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> String {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .cloned()
        .unwrap_or_else(|| panic!("no text {name} in {item:?}"))
}

fn usd(units: i64, nanos: i64) -> Value {
    json!({"currencyCode": "USD", "units": units, "nanos": nanos})
}

#[tokio::test]
async fn a_checkout_places_a_pending_order_with_its_sealed_outbox_event_and_keeps_the_cart() {
    let shop = shop("orders-checkout-place").await;
    shop.add_to_cart("larry", "OLJCESPC7Z", 2).await;
    shop.add_to_cart("larry", "66VCHSJNUP", 1).await;

    let answer = shop.place(&demo_request("larry"), None).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let placed = &answer.body;
    let id = placed["orderId"].as_str().unwrap().to_owned();
    assert_eq!(placed["status"], "PENDING");
    let key = shop.key(&id).await;
    let link = format!("/api/orders/{id}?key={key}");
    assert_eq!(
        (placed["link"].as_str(), placed["key"].as_str()),
        (Some(link.as_str()), Some(key.as_str()))
    );
    assert_eq!(answer.location.as_deref(), Some(link.as_str()));
    // 2 × 101.96 + 349.95 + 3 × 8.99 shipping = 580.84 USD, to the nano.
    assert_eq!(placed["shippingCost"], usd(26, 970_000_000));
    assert_eq!(placed["total"], usd(580, 840_000_000));
    assert_eq!(
        placed["items"][0],
        json!({"item": {"productId": "66VCHSJNUP", "quantity": 1}, "cost": usd(349, 950_000_000)})
    );
    assert_eq!(placed["card"], json!({"cardType": "visa", "last4": "0454"}));
    assert_eq!(placed["shippingAddress"]["zipCode"], "94043");
    assert!(!placed.to_string().contains("4432801561520454"));

    let stored = shop.partition(&id).await;
    let keys: Vec<&String> = stored.keys().collect();
    let outbox_key = format!("OUTBOX#{id}/OrderPlaced.v1");
    assert_eq!(keys, ["ORDER", outbox_key.as_str()]);
    let order = &stored["ORDER"];
    assert_eq!(text(order, "status"), "PENDING");
    assert_eq!(text(order, "pending"), "PENDING");
    let outbox = &stored[&outbox_key];
    assert_eq!(text(outbox, "source"), "astroshop.orders");
    assert_eq!(text(outbox, "detailType"), "OrderPlaced.v1");
    assert!(outbox.contains_key("expiresAt"));
    let detail: Value = serde_json::from_str(&text(outbox, "detail")).unwrap();
    assert_eq!(detail["metadata"]["eventId"], format!("{id}/OrderPlaced.v1"));
    assert_eq!(detail["metadata"]["correlationId"], id.as_str());
    assert!(
        detail["metadata"]["traceparent"]
            .as_str()
            .unwrap()
            .starts_with("00-")
    );
    assert_eq!(detail["data"]["order"]["total"], placed["total"]);
    let event_text = detail.to_string();
    assert!(!event_text.contains("4432801561520454") && !event_text.contains("Cvv"));

    // Only the card key opens the card, and only for this order.
    let sealed: SealedCard = serde_json::from_value(detail["data"]["card"].clone()).unwrap();
    let cards = &shop.checkout.sealer;
    let card = cards.open(&sealed, &OrderId::parse(&id).unwrap()).await.unwrap();
    assert_eq!(card.number.last4(), "0454");
    assert_eq!((card.expiry.month(), card.expiry.year()), (1, 2039));
    let elsewhere = OrderId::parse(&uuid::Uuid::new_v4().to_string()).unwrap();
    assert!(matches!(
        cards.open(&sealed, &elsewhere).await,
        Err(OpenError::Unreadable(_))
    ));

    assert_eq!(
        shop.cart_size("larry").await,
        2,
        "the cart waits for the confirmation"
    );
}

#[tokio::test]
async fn every_bad_input_is_a_400_naming_the_field_and_places_nothing() {
    let shop = shop("orders-checkout-bad").await;
    shop.add_to_cart("careless", "OLJCESPC7Z", 1).await;
    let cases: &[(&str, Value, &str)] = &[
        ("/userId", json!(""), "userId"),
        ("/userId", json!(42), "userId"),
        ("/email", json!("not-an-address"), "email"),
        ("/address/streetAddress", json!(""), "address.streetAddress"),
        ("/address/country", json!("x".repeat(500)), "address.country"),
        ("/address", json!("somewhere"), "address"),
        (
            "/creditCard/creditCardNumber",
            json!("4432-80AB-6152-0454"),
            "creditCard.creditCardNumber",
        ),
        (
            "/creditCard/creditCardNumber",
            json!("4432"),
            "creditCard.creditCardNumber",
        ),
        (
            "/creditCard/creditCardExpirationMonth",
            json!(13),
            "creditCard.creditCardExpiration",
        ),
        (
            "/creditCard/creditCardExpirationYear",
            json!(1999),
            "creditCard.creditCardExpiration",
        ),
        (
            "/creditCard/creditCardExpirationMonth",
            json!("one"),
            "creditCard.creditCardExpirationMonth",
        ),
        (
            "/creditCard/creditCardCvv",
            json!(12345),
            "creditCard.creditCardCvv",
        ),
        ("/creditCard", json!(null), "creditCard"),
        ("/userCurrency", json!("XXX"), "XXX"),
        ("/userCurrency", json!("dollars"), "userCurrency"),
    ];
    for (pointer, value, field) in cases {
        let mut body = demo_request("careless");
        *body.pointer_mut(pointer).unwrap() = value.clone();
        let answer = shop.place(&body, None).await;
        assert_eq!(answer.status, 400, "{pointer} = {value}: {}", answer.body);
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{pointer}: {message}");
    }
    for (uri, body) in [
        ("/api/checkout", "{not json"),
        ("/api/checkout", ""),
        ("/api/checkout", "[]"),
        (
            "/api/checkout?currencyCode=XXX",
            &demo_request("careless").to_string(),
        ),
    ] {
        let answer = shop.place_raw(uri, body, None).await;
        assert_eq!(answer.status, 400, "{uri} {body:?}: {}", answer.body);
        assert!(answer.body["error"]["code"].is_string());
    }
    let answer = shop
        .place(&demo_request("careless"), Some("a key with spaces"))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body["error"]["code"], "invalid_idempotency_key");
    assert!(
        shop.orders_of("careless").await.is_empty(),
        "a refused checkout wrote an order"
    );
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413_and_places_nothing() {
    let shop = shop("orders-checkout-huge").await;
    shop.add_to_cart("bulky", "OLJCESPC7Z", 1).await;
    let mut body = demo_request("bulky");
    body["padding"] = json!("x".repeat(70 * 1024));
    let answer = shop.place(&body, None).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "payload_too_large");
    assert!(shop.orders_of("bulky").await.is_empty());
}

#[tokio::test]
async fn an_empty_cart_is_a_409_and_places_nothing() {
    let shop = shop("orders-checkout-empty").await;
    let answer = shop.place(&demo_request("nobody"), None).await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "empty_cart");
    assert!(shop.orders_of("nobody").await.is_empty());
}

#[tokio::test]
async fn the_same_idempotency_key_gives_the_same_order_and_another_body_is_a_422() {
    let shop = shop("orders-checkout-idempotent").await;
    shop.add_to_cart("repeat", "OLJCESPC7Z", 1).await;
    let request = demo_request("repeat");
    let first = shop.place(&request, Some("key-1")).await;
    assert_eq!(first.status, 202, "{}", first.body);
    // The same request, its JSON laid out differently.
    let reordered: serde_json::Map<String, Value> =
        request.as_object().unwrap().clone().into_iter().rev().collect();
    let again = shop.place(&Value::Object(reordered), Some("key-1")).await;
    assert_eq!(again.status, 202, "{}", again.body);
    assert_eq!(again.body, first.body);
    assert_eq!(again.location, first.location);

    let mut other = request.clone();
    other["email"] = json!("someone.else@example.com");
    let refused = shop.place(&other, Some("key-1")).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "idempotency_key_reused");
    let elsewhere = shop
        .place_raw(
            "/api/checkout?currencyCode=EUR",
            &request.to_string(),
            Some("key-1"),
        )
        .await;
    assert_eq!(elsewhere.status, 422, "another currency is another request");

    let orders = shop.orders_of("repeat").await;
    assert_eq!(orders.len(), 1, "one order for one key");
    let stored = shop
        .tables
        .dynamodb()
        .get_item()
        .table_name(shop.tables.setting("IDEMPOTENCY_TABLE"))
        .key("key", AttributeValue::S("repeat#key-1".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(text(&stored, "orderId"), first.body["orderId"].as_str().unwrap());
    assert_eq!(text(&stored, "requestHash").len(), 64);
    assert!(stored.contains_key("expiresAt"));

    // Another key is another order.
    let second = shop.place(&request, Some("key-2")).await;
    assert_eq!(second.status, 202);
    assert_ne!(second.body["orderId"], first.body["orderId"]);
}

#[tokio::test]
async fn the_order_is_priced_in_the_asked_currency_else_the_shoppers() {
    let shop = shop("orders-checkout-currency").await;
    shop.add_to_cart("traveller", "OLJCESPC7Z", 1).await;
    let mut request = demo_request("traveller");
    request["userCurrency"] = json!("EUR");
    let answer = shop.place(&request, None).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    // 101.96 USD / 1.1305 = 90.190181336 EUR; 8.99 / 1.1305 = 7.952233525 EUR.
    assert_eq!(
        answer.body["items"][0]["cost"],
        json!({"currencyCode": "EUR", "units": 90, "nanos": 190_181_336})
    );
    assert_eq!(
        answer.body["shippingCost"],
        json!({"currencyCode": "EUR", "units": 7, "nanos": 952_233_525})
    );
    assert_eq!(
        answer.body["total"],
        json!({"currencyCode": "EUR", "units": 98, "nanos": 142_414_861})
    );
    let answer = shop
        .place_raw("/api/checkout?currencyCode=JPY", &request.to_string(), None)
        .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.body["currencyCode"], "JPY");
    assert_eq!(answer.body["total"]["currencyCode"], "JPY");
}

#[tokio::test]
async fn the_sample_event_in_events_places_an_order() {
    let shop = shop("orders-checkout-sample").await;
    shop.add_to_cart("larry", "OLJCESPC7Z", 1).await;
    let answer = shop
        .answer(sample_request("http/checkout-place.json").unwrap())
        .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.body["userId"], "larry");
    assert!(
        shop.checkout
            .book
            .order(&astroshop_domain::OrderId::parse(answer.body["orderId"].as_str().unwrap()).unwrap())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_signed_in_shopper_checks_out_their_own_cart_as_their_order() {
    let shop = shop("orders-checkout-account").await;
    let sub = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    let account = UserId::account(sub).unwrap();
    shop.add_to_cart(account.as_str(), "OLJCESPC7Z", 1).await;
    shop.add_to_cart("mallory", "66VCHSJNUP", 3).await;

    // The body names mallory's guest cart; the token decides whose order it is.
    let body = demo_request("mallory").to_string();
    let request = signed_in_request(
        "POST",
        "/api/account/checkout",
        Some(&body),
        "checkout-place",
        sub,
    );
    let answer = shop.answer(request).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let id = OrderId::parse(answer.body["orderId"].as_str().unwrap()).unwrap();
    assert_eq!(answer.body["items"][0]["item"]["productId"], "OLJCESPC7Z");
    let record = shop.checkout.book.order(&id).await.unwrap().unwrap();
    assert_eq!(record.order.user_id, account);

    // A guest cannot check out as the account.
    let as_account = demo_request(account.as_str()).to_string();
    let answer = shop.place_raw("/api/checkout", &as_account, None).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        shop.cart_size(account.as_str()).await,
        1,
        "the cart stays until the order is confirmed"
    );
}

/// A guest's checkout of `user`'s cart as the gateway passes it from
/// `source`, with the address the storefront forwards and its signature.
fn guest_checkout_from(user: &str, source: &str, forwarded: Option<(&str, &str)>) -> lambda_http::Request {
    let body = demo_request(user).to_string();
    let (routed_to, mut event) = api_event("POST", "/api/checkout", Some(&body)).unwrap();
    assert_eq!(routed_to, "checkout-place");
    event["requestContext"]["http"]["sourceIp"] = source.into();
    if let Some((address, signature)) = forwarded {
        event["headers"][FORWARDED_ADDRESS] = address.into();
        event["headers"][FORWARDED_SIGNATURE] = signature.into();
    }
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

#[tokio::test]
async fn a_client_over_its_limit_is_a_429_with_retry_after_before_anything_is_sealed_or_written() {
    let shop = limited_shop("orders-checkout-limited", 2).await;
    shop.add_to_cart("eager", "OLJCESPC7Z", 1).await;
    for _ in 0..2 {
        let answer = shop
            .answer(guest_checkout_from("eager", "198.51.100.7", None))
            .await;
        assert_eq!(answer.status, 202, "{}", answer.body);
    }
    let refused = shop
        .answer(guest_checkout_from("eager", "198.51.100.7", None))
        .await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "too_many_checkouts");
    assert!(refused.body["error"]["message"].is_string(), "{}", refused.body);
    let retry_after: u64 = refused.retry_after.expect("a Retry-After").parse().unwrap();
    assert!(
        (1..=LIMIT_WINDOW.as_secs()).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    // Another guest id from the same address is the same client.
    shop.add_to_cart("eager-again", "OLJCESPC7Z", 1).await;
    let renamed = shop
        .answer(guest_checkout_from("eager-again", "198.51.100.7", None))
        .await;
    assert_eq!(renamed.status, 429, "{}", renamed.body);

    assert_eq!(shop.orders_of("eager").await.len(), 2);
    assert!(shop.orders_of("eager-again").await.is_empty());
    assert_eq!(
        shop.checkout.sealer.seals.load(Ordering::SeqCst),
        2,
        "a refused checkout sealed a card"
    );
    // Another address has an allowance of its own.
    let other = shop
        .answer(guest_checkout_from("eager-again", "198.51.100.8", None))
        .await;
    assert_eq!(other.status, 202, "{}", other.body);
}

#[tokio::test]
async fn a_shopper_counts_as_themselves_and_a_forwarded_address_only_when_signed() {
    let shop = limited_shop("orders-checkout-clients", 1).await;
    let secret = shop.tables.secret("CLIENT_KEY_PARAMETER").await;
    let vouched = |address: &str| astroshop_edge::client::sign(secret.as_bytes(), address.parse().unwrap());
    for user in ["first", "second", "third", "fourth"] {
        shop.add_to_cart(user, "OLJCESPC7Z", 1).await;
    }
    let storefront = "192.0.2.10";
    let place = |user, forwarded| shop.answer(guest_checkout_from(user, storefront, forwarded));

    // Two visitors of the storefront, each vouched for: two clients.
    let signature = vouched("203.0.113.1");
    assert_eq!(
        place("first", Some(("203.0.113.1", &signature))).await.status,
        202
    );
    let signature = vouched("203.0.113.2");
    assert_eq!(
        place("second", Some(("203.0.113.2", &signature))).await.status,
        202
    );
    let again = place("third", Some(("203.0.113.2", &signature))).await;
    assert_eq!(again.status, 429, "{}", again.body);
    // The storefront's own address has not been counted yet; an address
    // signed for another, or not at all, is counted as the sender's.
    assert_eq!(place("third", None).await.status, 202);
    let forged = place("fourth", Some(("203.0.113.3", &signature))).await;
    assert_eq!(forged.status, 429, "{}", forged.body);
    let unsigned = place("fourth", Some(("203.0.113.4", ""))).await;
    assert_eq!(unsigned.status, 429, "{}", unsigned.body);

    // A signed-in shopper is counted by their account, wherever they are.
    let sub = "1f0e4c55-3a7b-4c1d-9e2f-5a6b7c8d9e0f";
    let account = UserId::account(sub).unwrap();
    shop.add_to_cart(account.as_str(), "OLJCESPC7Z", 1).await;
    let body = demo_request("ignored").to_string();
    let signed_in = || {
        signed_in_request(
            "POST",
            "/api/account/checkout",
            Some(&body),
            "checkout-place",
            sub,
        )
    };
    assert_eq!(shop.answer(signed_in()).await.status, 202);
    assert_eq!(shop.answer(signed_in()).await.status, 429);
}

#[tokio::test]
async fn a_retry_under_the_same_idempotency_key_is_not_counted_again() {
    let shop = limited_shop("orders-checkout-limit-retry", 1).await;
    shop.add_to_cart("patient", "OLJCESPC7Z", 1).await;
    let request = demo_request("patient");
    let first = shop.place(&request, Some("retry-1")).await;
    assert_eq!(first.status, 202, "{}", first.body);
    let retried = shop.place(&request, Some("retry-1")).await;
    assert_eq!(retried.status, 202, "{}", retried.body);
    assert_eq!(retried.body["orderId"], first.body["orderId"]);
    let another = shop.place(&request, Some("retry-2")).await;
    assert_eq!(another.status, 429, "{}", another.body);
}

/// How many reads of the order the answer's `Server-Timing` says the wait took.
fn reads_of(answer: &Answer) -> u32 {
    let timing = answer.headers["server-timing"].to_str().unwrap();
    let (_, desc) = timing.split_once("desc=\"").unwrap();
    desc.split(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn prefer_wait_answers_200_with_the_order_once_the_saga_confirms_it() {
    let shop = shop("orders-checkout-wait").await;
    shop.add_to_cart("waiter", "OLJCESPC7Z", 1).await;
    let body = demo_request("waiter").to_string();
    let started = std::time::Instant::now();
    let (answer, ()) = tokio::join!(
        shop.place_preferring("/api/checkout", &body, None, Some("respond-async, wait=5")),
        shop.confirm_when_placed("waiter", "T-waited", Duration::from_millis(300)),
    );
    let took = started.elapsed();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    let order = &answer.body;
    let id = order["orderId"].as_str().unwrap().to_owned();
    assert_eq!(order["status"], "CONFIRMED");
    assert_eq!(order["trackingId"], "T-waited");
    assert_eq!(order["shippingTrackingId"], "T-waited");
    assert_eq!(order["userId"], "waiter");
    assert_eq!(order["total"], usd(110, 950_000_000));
    assert!(
        order["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|step| step["step"] == "OrderConfirmed"),
        "{order}"
    );
    let link = format!("/api/orders/{id}?key={}", shop.key(&id).await);
    assert_eq!(order["link"], link.as_str());
    assert_eq!(answer.location.as_deref(), Some(link.as_str()));
    assert_eq!(answer.headers["content-location"], link.as_str());
    assert_eq!(answer.headers["preference-applied"], "wait=5");
    // 50, 100, 200, 400 ms pauses see it confirmed at 300 ms on the 3rd or 4th read.
    let reads = reads_of(&answer);
    assert!((2..=6).contains(&reads), "{reads} reads");
}

#[tokio::test]
async fn a_wait_the_saga_does_not_meet_ends_in_the_usual_202() {
    let shop = shop("orders-checkout-wait-over").await;
    shop.add_to_cart("hasty", "OLJCESPC7Z", 1).await;
    let body = demo_request("hasty").to_string();
    let started = std::time::Instant::now();
    // No saga runs here: the order stays pending.
    let answer = shop
        .place_preferring("/api/checkout", &body, None, Some("wait=1"))
        .await;
    let took = started.elapsed();
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.body["status"], "PENDING");
    assert!(answer.body["link"].is_string() && answer.body.get("history").is_none());
    assert_eq!(answer.headers["preference-applied"], "wait=1");
    assert!(
        (Duration::from_millis(950)..Duration::from_secs(2)).contains(&took),
        "answered after {took:?}"
    );
    // Pauses of 50, 100, 200, 400 ms, then what is left of the second.
    let reads = reads_of(&answer);
    assert!((4..=6).contains(&reads), "{reads} reads in a second");

    let cut = shop
        .place_preferring("/api/checkout", &body, None, Some("wait=0"))
        .await;
    assert_eq!(cut.status, 202, "{}", cut.body);
    assert_eq!(cut.headers["preference-applied"], "wait=0");
    assert_eq!(reads_of(&cut), 0);
}

#[tokio::test]
async fn a_malformed_or_absent_prefer_changes_nothing() {
    let shop = shop("orders-checkout-wait-malformed").await;
    shop.add_to_cart("plain", "OLJCESPC7Z", 1).await;
    let body = demo_request("plain").to_string();
    for prefer in [None, Some("wait=soon"), Some("wait=-1"), Some("return=minimal")] {
        let started = std::time::Instant::now();
        let answer = shop.place_preferring("/api/checkout", &body, None, prefer).await;
        assert_eq!(answer.status, 202, "{prefer:?}: {}", answer.body);
        assert_eq!(answer.body["status"], "PENDING");
        assert!(answer.headers.get("preference-applied").is_none(), "{prefer:?}");
        assert!(answer.headers.get("server-timing").is_none(), "{prefer:?}");
        assert!(started.elapsed() < Duration::from_secs(1), "{prefer:?} waited");
    }
}

#[tokio::test]
async fn a_replay_that_waits_answers_the_settled_order_and_places_nothing() {
    let shop = shop("orders-checkout-wait-replay").await;
    shop.add_to_cart("again", "OLJCESPC7Z", 1).await;
    let body = demo_request("again").to_string();
    let first = shop
        .place_preferring("/api/checkout", &body, Some("wait-key"), Some("wait=0"))
        .await;
    assert_eq!(first.status, 202, "{}", first.body);
    let id = OrderId::parse(first.body["orderId"].as_str().unwrap()).unwrap();

    // Still pending: the replay waits for it, and sees it confirmed.
    let (pending, ()) = tokio::join!(
        shop.place_preferring("/api/checkout", &body, Some("wait-key"), Some("wait=5")),
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            shop.confirm(&id, "T-again").await;
        },
    );
    assert_eq!(pending.status, 200, "{}", pending.body);
    assert_eq!(pending.body["orderId"], id.as_str());
    assert_eq!(pending.body["shippingTrackingId"], "T-again");

    // Settled: answered at once, without a read.
    let started = std::time::Instant::now();
    let settled = shop
        .place_preferring("/api/checkout", &body, Some("wait-key"), Some("wait=5"))
        .await;
    assert_eq!(settled.status, 200, "{}", settled.body);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(reads_of(&settled), 0);
    assert_eq!(settled.body["status"], "CONFIRMED");
    assert_eq!(settled.body["orderId"], id.as_str());

    // Without the preference, the replay is the 202 it always was.
    let plain = shop.place(&demo_request("again"), Some("wait-key")).await;
    assert_eq!(plain.status, 202, "{}", plain.body);
    assert_eq!(plain.body["status"], "CONFIRMED");
    assert!(plain.headers.get("preference-applied").is_none());

    assert_eq!(shop.orders_of("again").await.len(), 1, "one order for one key");
}
