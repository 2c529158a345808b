//! The cart handlers, called in-process with the API Gateway events the
//! gateway builds, against the template's tables in the emulator.

use astroshop_cart::{add_item, empty_cart, get_cart, remove_item};
use astroshop_flags::{FlagValues, Flags};
use astroshop_store::{CartTable, ProductTable, RateTableStore};
use aws_sdk_dynamodb::types::AttributeValue;
use local_stack_testing::{TestTables, json_response as json, request, signed_in_request};
use serde_json::{Value, json};

struct Shop {
    tables: TestTables,
    carts: CartTable,
    products: ProductTable,
    rates: RateTableStore,
    flags: Flags,
}

async fn shop(prefix: &str) -> Shop {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    Shop {
        carts: CartTable::new(tables.dynamodb(), tables.setting("CARTS_TABLE")),
        products: ProductTable::new(tables.dynamodb(), tables.setting("PRODUCTS_TABLE")),
        rates: RateTableStore::new(tables.dynamodb(), tables.setting("CURRENCY_RATES_TABLE")),
        flags: Flags::none(),
        tables,
    }
}

impl Shop {
    async fn get(&self, uri: &str) -> (u16, Value) {
        let request = request("GET", uri, None, "cart-get");
        json(
            get_cart(&self.carts, &self.products, &self.rates, request)
                .await
                .unwrap_or_else(|e| e.into_response()),
        )
    }

    async fn add_raw(&self, uri: &str, body: &str) -> (u16, Value) {
        let request = request("POST", uri, Some(body), "cart-add-item");
        json(
            add_item(&self.carts, &self.products, &self.rates, &self.flags, request)
                .await
                .unwrap_or_else(|e| e.into_response()),
        )
    }

    async fn add(&self, user: &str, product: &str, quantity: i64) -> (u16, Value) {
        let body = json!({"userId": user, "item": {"productId": product, "quantity": quantity}});
        self.add_raw("/api/cart", &body.to_string()).await
    }

    async fn empty(&self, body: &str) -> (u16, Value) {
        let request = request("DELETE", "/api/cart", Some(body), "cart-empty");
        json(
            empty_cart(&self.carts, &self.flags, request)
                .await
                .unwrap_or_else(|e| e.into_response()),
        )
    }

    async fn remove(&self, uri: &str) -> (u16, Value) {
        let request = request("DELETE", uri, None, "cart-remove-item");
        json(
            remove_item(&self.carts, &self.flags, request)
                .await
                .unwrap_or_else(|e| e.into_response()),
        )
    }

    /// `(productId, quantity)` of every line of the user's cart.
    async fn lines(&self, user: &str) -> Vec<(String, i64)> {
        let (status, cart) = self.get(&format!("/api/cart?sessionId={user}")).await;
        assert_eq!(status, 200, "{cart}");
        cart["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                (
                    item["productId"].as_str().unwrap().to_owned(),
                    item["quantity"].as_i64().unwrap(),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn no_session_is_an_empty_cart() {
    let shop = shop("cart-no-session").await;
    for uri in [
        "/api/cart",
        "/api/cart?sessionId=",
        "/api/cart?sessionId=&currencyCode=EUR",
    ] {
        let (status, cart) = shop.get(uri).await;
        assert_eq!(status, 200, "{uri}");
        assert_eq!(cart, json!({"userId": "", "items": []}), "{uri}");
    }
}

#[tokio::test]
async fn adding_twice_to_a_line_adds_the_quantities() {
    let shop = shop("cart-add-twice").await;
    let (status, cart) = shop.add("alice", "OLJCESPC7Z", 2).await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(cart["userId"], "alice");
    assert_eq!(cart["items"][0]["quantity"], 2);
    let (status, cart) = shop.add("alice", "OLJCESPC7Z", 3).await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(shop.lines("alice").await, [("OLJCESPC7Z".to_owned(), 5)]);
    assert_eq!(
        cart["items"][0]["product"]["name"],
        "National Park Foundation Explorascope"
    );
}

#[tokio::test]
async fn the_cart_is_priced_in_the_asked_currency() {
    let shop = shop("cart-eur").await;
    shop.add("bob", "66VCHSJNUP", 1).await;
    shop.add("bob", "HQTGWGPNH4", 4).await;
    let (status, cart) = shop.get("/api/cart?sessionId=bob&currencyCode=EUR").await;
    assert_eq!(status, 200, "{cart}");
    let items = cart["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    // 349.95 / 1.1305 = 309.5532950022...; 0.99 / 1.1305 = 0.8757187085...
    let price =
        |id: &str| items.iter().find(|i| i["productId"] == id).unwrap()["product"]["priceUsd"].clone();
    assert_eq!(
        price("66VCHSJNUP"),
        json!({"currencyCode": "EUR", "units": 309, "nanos": 553295002})
    );
    assert_eq!(
        price("HQTGWGPNH4"),
        json!({"currencyCode": "EUR", "units": 0, "nanos": 875718709})
    );
}

#[tokio::test]
async fn an_add_answers_in_the_currency_of_its_query() {
    let shop = shop("cart-add-jpy").await;
    let body = json!({"userId": "jun", "item": {"productId": "OLJCESPC7Z", "quantity": 1}}).to_string();
    let (status, cart) = shop.add_raw("/api/cart?currencyCode=JPY", &body).await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(
        cart["items"][0]["product"]["priceUsd"],
        json!({"currencyCode": "JPY", "units": 11400, "nanos": 38920831})
    );
}

#[tokio::test]
async fn an_add_past_the_cap_is_a_409_and_changes_nothing() {
    let shop = shop("cart-cap").await;
    assert_eq!(shop.add("carol", "L9ECAV7KIM", 60).await.0, 200);
    let (status, body) = shop.add("carol", "L9ECAV7KIM", 40).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "quantity_limit_exceeded");
    assert_eq!(shop.lines("carol").await, [("L9ECAV7KIM".to_owned(), 60)]);
    assert_eq!(shop.add("carol", "L9ECAV7KIM", 39).await.0, 200);
    assert_eq!(shop.lines("carol").await, [("L9ECAV7KIM".to_owned(), 99)]);
}

#[tokio::test]
async fn concurrent_adds_to_one_line_lose_no_count() {
    let shop = shop("cart-concurrent").await;
    let adds = (0..10).map(|_| shop.add("dave", "2ZYFJ3GM2N", 3));
    for (status, body) in futures::future::join_all(adds).await {
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(shop.lines("dave").await, [("2ZYFJ3GM2N".to_owned(), 30)]);
}

#[tokio::test]
async fn bad_quantities_and_bodies_are_400s_and_write_nothing() {
    let shop = shop("cart-bad-input").await;
    let bodies = [
        r#"{"userId": "erin", "item": {"productId": "OLJCESPC7Z", "quantity": 0}}"#,
        r#"{"userId": "erin", "item": {"productId": "OLJCESPC7Z", "quantity": -2}}"#,
        r#"{"userId": "erin", "item": {"productId": "OLJCESPC7Z", "quantity": 100}}"#,
        r#"{"userId": "erin", "item": {"productId": "OLJCESPC7Z", "quantity": 1e30}}"#,
        r#"{"userId": "erin", "item": {"productId": "OLJCESPC7Z", "quantity": 1.5}}"#,
        r#"{"userId": "erin", "item": {"productId": "OLJCESPC7Z", "quantity": "2"}}"#,
        r#"{"userId": "erin", "item": {"productId": "OLJCESPC7Z"}}"#,
        r#"{"userId": "erin", "item": {"quantity": 1}}"#,
        r#"{"userId": "erin", "item": {"productId": "../x", "quantity": 1}}"#,
        r#"{"userId": "", "item": {"productId": "OLJCESPC7Z", "quantity": 1}}"#,
        r#"{"item": {"productId": "OLJCESPC7Z", "quantity": 1}}"#,
        r#"{"userId": "erin"}"#,
        r#"{"userId": 7, "item": {"productId": "OLJCESPC7Z", "quantity": 1}}"#,
        "not json",
        "",
    ];
    for body in bodies {
        let (status, reply) = shop.add_raw("/api/cart", body).await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert!(reply["error"]["message"].is_string(), "{body}: {reply}");
    }
    assert!(shop.lines("erin").await.is_empty());
}

#[tokio::test]
async fn an_unknown_product_is_a_404_and_an_unsupported_currency_a_400() {
    let shop = shop("cart-unknown").await;
    let (status, body) = shop.add("frank", "NOSUCHTHING", 1).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "product_not_found");
    let (status, body) = shop.get("/api/cart?sessionId=frank&currencyCode=XXX").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_currency");
    let add = json!({"userId": "frank", "item": {"productId": "OLJCESPC7Z", "quantity": 1}}).to_string();
    let (status, _) = shop.add_raw("/api/cart?currencyCode=XXX", &add).await;
    assert_eq!(status, 400);
    assert!(shop.lines("frank").await.is_empty());
}

#[tokio::test]
async fn emptying_removes_every_line_and_is_a_204() {
    let shop = shop("cart-empty").await;
    shop.add("gina", "OLJCESPC7Z", 1).await;
    shop.add("gina", "9SIQT8TOJO", 2).await;
    shop.add("hank", "9SIQT8TOJO", 2).await;
    let (status, body) = shop.empty(r#"{"userId": "gina"}"#).await;
    assert_eq!((status, body), (204, Value::Null));
    assert!(shop.lines("gina").await.is_empty());
    assert_eq!(shop.lines("hank").await, [("9SIQT8TOJO".to_owned(), 2)]);
    assert_eq!(shop.empty(r#"{"userId": "gina"}"#).await.0, 204);
    assert_eq!(shop.empty(r#"{"user": "gina"}"#).await.0, 400);
    assert_eq!(shop.empty("").await.0, 400);
}

#[tokio::test]
async fn while_cart_failure_strikes_every_write_is_a_503_and_writes_nothing() {
    let mut shop = shop("cart-failure").await;
    shop.add("jill", "OLJCESPC7Z", 1).await;
    shop.flags = Flags::fixed(
        serde_json::from_value::<FlagValues>(json!({"cartFailure": {"enabled": true, "rate": 1.0}})).unwrap(),
    );
    let (status, body) = shop.add("jill", "9SIQT8TOJO", 2).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("fault_injected")),
        "{body}"
    );
    let (status, _) = shop.remove("/api/cart/items/OLJCESPC7Z?sessionId=jill").await;
    assert_eq!(status, 503);
    let (status, _) = shop.empty(r#"{"userId": "jill"}"#).await;
    assert_eq!(status, 503);
    assert_eq!(shop.lines("jill").await, [("OLJCESPC7Z".to_owned(), 1)]);
    // Reading is not a write: the cart still shows.
    assert_eq!(shop.get("/api/cart?sessionId=jill").await.0, 200);
}

#[tokio::test]
async fn removing_a_line_leaves_the_others_and_a_missing_line_is_a_404() {
    let shop = shop("cart-remove").await;
    shop.add("ivy", "OLJCESPC7Z", 1).await;
    shop.add("ivy", "LS4PSXUNUM", 2).await;
    let (status, _) = shop.remove("/api/cart/items/OLJCESPC7Z?sessionId=ivy").await;
    assert_eq!(status, 204);
    assert_eq!(shop.lines("ivy").await, [("LS4PSXUNUM".to_owned(), 2)]);
    let (status, body) = shop.remove("/api/cart/items/OLJCESPC7Z?sessionId=ivy").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "cart_line_not_found");
    let (status, body) = shop.remove("/api/cart/items/LS4PSXUNUM").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "missing_parameter");
    let (status, body) = shop.remove("/api/cart/items/a%20b?sessionId=ivy").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_product_id");
}

#[tokio::test]
async fn an_expired_line_is_not_shown_and_a_new_add_starts_it_afresh() {
    let shop = shop("cart-expired").await;
    // What TTL leaves behind until it gets round to deleting: a line past its expiry.
    shop.tables
        .dynamodb()
        .put_item()
        .table_name(shop.tables.setting("CARTS_TABLE"))
        .item("userId", AttributeValue::S("jack".into()))
        .item("productId", AttributeValue::S("OLJCESPC7Z".into()))
        .item("quantity", AttributeValue::N("90".into()))
        .item("expiresAt", AttributeValue::N("1000".into()))
        .send()
        .await
        .unwrap();
    assert!(shop.lines("jack").await.is_empty());
    let (status, _) = shop.remove("/api/cart/items/OLJCESPC7Z?sessionId=jack").await;
    assert_eq!(status, 404);
    let (status, body) = shop.add("jack", "OLJCESPC7Z", 20).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(shop.lines("jack").await, [("OLJCESPC7Z".to_owned(), 20)]);
}

#[tokio::test]
async fn a_signed_in_shoppers_cart_is_theirs_whatever_the_request_names() {
    let shop = shop("cart-account").await;
    let sub = "5f1c2a9e-0c1d-4b8e-9a51-1f4c0d3e2b7a";
    let account =
        |method, uri: &str, body: Option<&str>, function| signed_in_request(method, uri, body, function, sub);

    // The body's userId and the query's sessionId are ignored: the token says whose cart it is.
    let add = r#"{"userId": "kim", "item": {"productId": "OLJCESPC7Z", "quantity": 3}}"#;
    let added = add_item(
        &shop.carts,
        &shop.products,
        &shop.rates,
        &shop.flags,
        account("POST", "/api/account/cart", Some(add), "cart-add-item"),
    )
    .await
    .unwrap();
    assert_eq!(json(added).0, 200);
    let no_user = r#"{"item": {"productId": "9SIQT8TOJO", "quantity": 1}}"#;
    let added = add_item(
        &shop.carts,
        &shop.products,
        &shop.rates,
        &shop.flags,
        account("POST", "/api/account/cart", Some(no_user), "cart-add-item"),
    )
    .await
    .unwrap();
    assert_eq!(json(added).0, 200);
    assert!(
        shop.lines("kim").await.is_empty(),
        "kim's guest cart is untouched"
    );

    let shown = get_cart(
        &shop.carts,
        &shop.products,
        &shop.rates,
        account("GET", "/api/account/cart?sessionId=kim", None, "cart-get"),
    )
    .await
    .unwrap();
    let (status, cart) = json(shown);
    assert_eq!(status, 200, "{cart}");
    let products: Vec<&str> = cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["productId"].as_str().unwrap())
        .collect();
    assert_eq!(products, ["9SIQT8TOJO", "OLJCESPC7Z"]);

    // No guest id can name the account's cart.
    let (status, body) = shop.get(&format!("/api/cart?sessionId=account:{sub}")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_session_id"))
    );
    let (status, _) = shop.add(&format!("account:{sub}"), "OLJCESPC7Z", 1).await;
    assert_eq!(status, 400);

    let removed = remove_item(
        &shop.carts,
        &shop.flags,
        account(
            "DELETE",
            "/api/account/cart/items/OLJCESPC7Z",
            None,
            "cart-remove-item",
        ),
    )
    .await
    .unwrap();
    assert_eq!(json(removed).0, 204);
    let emptied = empty_cart(
        &shop.carts,
        &shop.flags,
        account("DELETE", "/api/account/cart", None, "cart-empty"),
    )
    .await
    .unwrap();
    assert_eq!(json(emptied).0, 204);
    let shown = get_cart(
        &shop.carts,
        &shop.products,
        &shop.rates,
        account("GET", "/api/account/cart", None, "cart-get"),
    )
    .await
    .unwrap();
    assert_eq!(json(shown).1["items"], json!([]));
}
