//! A storefront checkout names the visitor's address to the API, signed
//! with the client key from the emulator's SSM, so the checkout limit
//! counts the visitor rather than the storefront. The API is a stand-in
//! that answers the cart and the checkout and keeps what it was sent.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use astroshop_edge::ClientKey;
use astroshop_edge::client::{FORWARDED_ADDRESS, FORWARDED_SIGNATURE, sign};
use astroshop_storefront::accounts::{AccountError, IdToken, Shoppers};
use astroshop_storefront::config::{ShopAddress, ShopUrl};
use astroshop_storefront::forms::Credentials;
use astroshop_storefront::{Storefront, csrf};
use local_stack_testing::{TestTables, api_event, read_request};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// No accounts: the visitor is a guest.
struct NoAccounts;

impl Shoppers for NoAccounts {
    async fn sign_up(&self, _: &Credentials) -> Result<(), AccountError> {
        Err(AccountError::EmailTaken)
    }

    async fn sign_in(&self, _: &Credentials) -> Result<IdToken, AccountError> {
        Err(AccountError::WrongCredentials)
    }
}

/// Serves the cart and checkout routes on a local port; the heads of the
/// checkout requests it was sent.
async fn stand_in_api() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let checkouts = Arc::new(Mutex::new(Vec::new()));
    let kept = checkouts.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let Ok((head, _)) = read_request(&mut stream).await else {
                continue;
            };
            let (status, body) = if head.starts_with("GET /api/cart") {
                let product = json!({
                    "id": "OLJCESPC7Z", "name": "Explorascope", "description": "A telescope.",
                    "picture": "NationalParkFoundationExplorascope.jpg",
                    "priceUsd": {"currencyCode": "USD", "units": 101, "nanos": 960_000_000},
                    "categories": ["telescopes"]
                });
                let line = json!({"productId": "OLJCESPC7Z", "quantity": 1, "product": product});
                ("200 OK", json!({"items": [line]}))
            } else if head.starts_with("POST /api/checkout") {
                kept.lock().unwrap().push(head);
                let order = "3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11";
                ("202 Accepted", json!({"orderId": order, "key": "k3y"}))
            } else {
                let error = json!({"error": {"code": "route_not_found", "message": "no route"}});
                ("404 Not Found", error)
            };
            let body = body.to_string();
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    (url, checkouts)
}

/// The value of header `name` in a request head.
fn header_of<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[tokio::test]
async fn a_checkout_names_the_visitors_address_signed_with_the_client_key() {
    let tables = TestTables::provision("storefront-vouching")
        .await
        .expect("tables provisioned");
    let (shop, checkouts) = stand_in_api().await;
    let key = ClientKey::new(
        aws_sdk_ssm::Client::new(tables.config()),
        tables.setting("CLIENT_KEY_PARAMETER"),
        ClientKey::TTL,
    );
    let storefront = Storefront::new(
        ShopAddress::Configured(ShopUrl::parse(&shop).unwrap()),
        NoAccounts,
    )
    .unwrap()
    .vouching_with(key);

    let session = Uuid::new_v4();
    let form = format!(
        "csrf={}&email=a%40b.example&streetAddress=1+Main+St&city=Town&state=CA&country=US&zipCode=94043\
         &creditCardNumber=4432-8015-6152-0454&creditCardCvv=672&creditCardExpirationMonth=1\
         &creditCardExpirationYear=2039&idempotencyKey={}",
        csrf::form_token(session),
        Uuid::new_v4()
    );
    let (_, mut event) = api_event("POST", "/checkout", Some(&form)).unwrap();
    event["headers"]["content-type"] = "application/x-www-form-urlencoded".into();
    event["headers"]["origin"] = shop.clone().into();
    event["cookies"] = json!([format!("session-id={session}")]);
    event["requestContext"]["http"]["sourceIp"] = "203.0.113.5".into();
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();

    let response = storefront.handle(request).await;
    assert_eq!(response.status().as_u16(), 303, "{:?}", response.body());
    let checkouts = checkouts.lock().unwrap().clone();
    assert_eq!(checkouts.len(), 1, "{checkouts:?}");
    let address: IpAddr = "203.0.113.5".parse().unwrap();
    let secret = tables.secret("CLIENT_KEY_PARAMETER").await;
    assert_eq!(header_of(&checkouts[0], FORWARDED_ADDRESS), Some("203.0.113.5"));
    assert_eq!(
        header_of(&checkouts[0], FORWARDED_SIGNATURE),
        Some(sign(secret.as_bytes(), address).as_str())
    );
}
