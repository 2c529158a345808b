//! The shop's public HTTP API as the storefront uses it. The storefront owns
//! no data: every product, cart line, quote and order comes from the API, so
//! the pages show exactly what any other client of the API would see.

use astroshop_domain::{CurrencyCode, Money, Product, ProductId};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// Why a call to the API did not give what the page needed.
#[derive(Debug, thiserror::Error)]
pub enum ApiCallError {
    /// The API answered with one of its JSON errors (404 for an unknown
    /// product, 400 for bad input, ...).
    #[error("{path} answered {status} {code}: {message}")]
    Rejected {
        path: String,
        status: StatusCode,
        code: String,
        message: String,
    },
    /// No service answers this route (yet): the gateway's own 404 or 405.
    #[error("{0} is not served by this deployment")]
    NotServed(String),
    #[error("{path} could not be reached: {source}")]
    Unreachable { path: String, source: reqwest::Error },
    #[error("{path} answered {status} with an unexpected body: {detail}")]
    Unexpected {
        path: String,
        status: StatusCode,
        detail: String,
    },
}

impl ApiCallError {
    /// True for the API's "no such thing" answer (not a missing route).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Rejected { status, .. } if *status == StatusCode::NOT_FOUND)
    }
}

/// A line of a cart, with the product priced in the asked currency.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartLine {
    pub product_id: ProductId,
    pub quantity: u32,
    pub product: Product,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Cart {
    #[serde(default)]
    pub items: Vec<CartLine>,
}

impl Cart {
    pub fn item_count(&self) -> u32 {
        self.items
            .iter()
            .map(|line| line.quantity)
            .fold(0, u32::saturating_add)
    }
}

/// An ad from `GET /api/data`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ad {
    pub redirect_url: String,
    pub text: String,
}

pub use astroshop_domain::shipping::Address;

/// Where quotes are computed to before the shopper has said where they live:
/// the address the demo's checkout form starts with.
pub fn quote_address() -> Address {
    Address {
        street_address: "1600 Amphitheatre Parkway".into(),
        city: "Mountain View".into(),
        state: "CA".into(),
        country: "United States".into(),
        zip_code: "94043".into(),
    }
}

/// What `POST /api/checkout` takes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutRequest {
    pub user_id: String,
    pub email: String,
    pub address: Address,
    pub user_currency: CurrencyCode,
    pub credit_card: CreditCard,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditCard {
    pub credit_card_number: String,
    pub credit_card_cvv: u32,
    pub credit_card_expiration_year: i32,
    pub credit_card_expiration_month: u32,
}

impl std::fmt::Debug for CreditCard {
    /// Card details never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CreditCard(..)")
    }
}

/// An order as the checkout and order APIs answer it. Only what the order
/// page shows is read; everything but the id is optional so that a richer
/// answer never breaks the page.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub items: Vec<OrderLine>,
    #[serde(default)]
    pub shipping_cost: Option<Money>,
    #[serde(default)]
    pub shipping_address: Option<Address>,
    /// `trackingId` in this shop's API; `shippingTrackingId` in the demo's.
    #[serde(default, alias = "trackingId")]
    pub shipping_tracking_id: Option<String>,
    #[serde(default)]
    pub total: Option<Money>,
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// The saga steps the order has been through, oldest first.
    #[serde(default)]
    pub history: Vec<Step>,
}

/// One step of an order's saga, as `GET /api/orders/{orderId}` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    pub step: String,
    #[serde(default)]
    pub at: Option<String>,
}

/// A line of an order: `{item: {productId, quantity}, cost}` as in the demo.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderLine {
    pub item: OrderItem,
    #[serde(default)]
    pub cost: Option<Money>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub product_id: ProductId,
    pub quantity: u32,
}

/// The API at one base URL, for one request.
pub struct ShopApi<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
}

impl<'a> ShopApi<'a> {
    pub fn new(http: &'a reqwest::Client, base: &'a str) -> Self {
        Self { http, base }
    }

    pub async fn products(&self, currency: &CurrencyCode) -> Result<Vec<Product>, ApiCallError> {
        let path = format!("/api/products?currencyCode={currency}");
        self.fetch(self.request(Method::GET, &path), &path).await
    }

    pub async fn product(&self, id: &ProductId, currency: &CurrencyCode) -> Result<Product, ApiCallError> {
        let path = format!("/api/products/{id}?currencyCode={currency}");
        self.fetch(self.request(Method::GET, &path), &path).await
    }

    pub async fn currencies(&self) -> Result<Vec<CurrencyCode>, ApiCallError> {
        self.fetch(self.request(Method::GET, "/api/currency"), "/api/currency")
            .await
    }

    pub async fn cart(&self, session: Uuid, currency: &CurrencyCode) -> Result<Cart, ApiCallError> {
        let path = format!("/api/cart?sessionId={session}&currencyCode={currency}");
        self.fetch(self.request(Method::GET, &path), &path).await
    }

    pub async fn add_to_cart(
        &self,
        session: Uuid,
        product: &ProductId,
        quantity: u32,
    ) -> Result<(), ApiCallError> {
        let body =
            json!({"userId": session.to_string(), "item": {"productId": product, "quantity": quantity}});
        let request = self.request(Method::POST, "/api/cart").json(&body);
        self.send(request, "/api/cart").await.map(drop)
    }

    pub async fn remove_from_cart(&self, session: Uuid, product: &ProductId) -> Result<(), ApiCallError> {
        let path = format!("/api/cart/items/{product}?sessionId={session}");
        self.send(self.request(Method::DELETE, &path), &path)
            .await
            .map(drop)
    }

    pub async fn empty_cart(&self, session: Uuid) -> Result<(), ApiCallError> {
        let request = self
            .request(Method::DELETE, "/api/cart")
            .json(&json!({"userId": session.to_string()}));
        self.send(request, "/api/cart").await.map(drop)
    }

    /// The shipping quote for the cart's lines.
    pub async fn shipping_quote(
        &self,
        cart: &Cart,
        currency: &CurrencyCode,
        address: &Address,
    ) -> Result<Money, ApiCallError> {
        let items: Vec<_> = cart
            .items
            .iter()
            .map(|line| json!({"productId": line.product_id, "quantity": line.quantity}))
            .collect();
        let query = [
            ("itemList", serde_json::Value::from(items).to_string()),
            ("currencyCode", currency.to_string()),
            ("address", json!(address).to_string()),
        ];
        let request = self.request(Method::GET, "/api/shipping").query(&query);
        self.fetch(request, "/api/shipping").await
    }

    pub async fn ads(&self, context_keys: &[String]) -> Result<Vec<Ad>, ApiCallError> {
        let request = self
            .request(Method::GET, "/api/data")
            .query(&[("contextKeys", context_keys.join(","))]);
        self.fetch(request, "/api/data").await
    }

    pub async fn recommendations(
        &self,
        product: &ProductId,
        session: Uuid,
        currency: &CurrencyCode,
    ) -> Result<Vec<Product>, ApiCallError> {
        let path =
            format!("/api/recommendations?productIds={product}&sessionId={session}&currencyCode={currency}");
        self.fetch(self.request(Method::GET, &path), &path).await
    }

    pub async fn place_order(
        &self,
        order: &CheckoutRequest,
        idempotency_key: Uuid,
    ) -> Result<Order, ApiCallError> {
        let path = format!("/api/checkout?currencyCode={}", order.user_currency);
        let request = self
            .request(Method::POST, &path)
            .header("idempotency-key", idempotency_key.to_string())
            .json(order);
        self.fetch(request, &path).await
    }

    pub async fn order(&self, order_id: &str) -> Result<Order, ApiCallError> {
        let request = self.request(Method::GET, &format!("/api/orders/{order_id}"));
        self.fetch(request, "/api/orders/{orderId}").await
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    async fn fetch<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        path: &str,
    ) -> Result<T, ApiCallError> {
        let (status, bytes) = self.send(request, path).await?;
        serde_json::from_slice(&bytes).map_err(|error| ApiCallError::Unexpected {
            path: path.to_owned(),
            status,
            detail: error.to_string(),
        })
    }

    /// Sends a request; any status but 2xx becomes an `ApiCallError`.
    async fn send(&self, request: RequestBuilder, path: &str) -> Result<(StatusCode, Vec<u8>), ApiCallError> {
        let unreachable = |source| ApiCallError::Unreachable {
            path: path.to_owned(),
            source,
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?.to_vec();
        if status.is_success() {
            return Ok((status, bytes));
        }
        Err(rejection(path, status, &bytes))
    }
}

/// Reads an error answer: the shop's `{"error":{"code","message"}}`, or the
/// gateway's own answer for a route nobody serves.
fn rejection(path: &str, status: StatusCode, body: &[u8]) -> ApiCallError {
    #[derive(Deserialize)]
    struct Envelope {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        code: String,
        message: String,
    }
    match serde_json::from_slice::<Envelope>(body) {
        // The local gateway says route_not_found / method_not_allowed.
        Ok(envelope)
            if !matches!(
                envelope.error.code.as_str(),
                "route_not_found" | "method_not_allowed"
            ) =>
        {
            ApiCallError::Rejected {
                path: path.to_owned(),
                status,
                code: envelope.error.code,
                message: envelope.error.message,
            }
        }
        // API Gateway answers an unknown route with `{"message":"Not Found"}`.
        _ if matches!(status, StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED) => {
            ApiCallError::NotServed(path.to_owned())
        }
        _ => ApiCallError::Unexpected {
            path: path.to_owned(),
            status,
            detail: String::from_utf8_lossy(body).chars().take(200).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shops_errors_are_rejections_and_missing_routes_are_not_served() {
        let shop = br#"{"error":{"code":"product_not_found","message":"no product with id X"}}"#;
        let error = rejection("/api/products/X", StatusCode::NOT_FOUND, shop);
        assert!(error.is_not_found(), "{error:?}");
        let local = br#"{"error":{"code":"route_not_found","message":"no route for POST /api/checkout"}}"#;
        let error = rejection("/api/checkout", StatusCode::NOT_FOUND, local);
        assert!(matches!(error, ApiCallError::NotServed(_)), "{error:?}");
        let aws = br#"{"message":"Not Found"}"#;
        let error = rejection("/api/checkout", StatusCode::NOT_FOUND, aws);
        assert!(matches!(error, ApiCallError::NotServed(_)), "{error:?}");
        let error = rejection("/api/cart", StatusCode::BAD_GATEWAY, b"<html>");
        assert!(matches!(error, ApiCallError::Unexpected { .. }), "{error:?}");
    }

    #[test]
    fn card_details_are_never_debug_printed() {
        let card = CreditCard {
            credit_card_number: "4432801561520454".into(),
            credit_card_cvv: 672,
            credit_card_expiration_year: 2030,
            credit_card_expiration_month: 1,
        };
        let printed = format!("{card:?}");
        assert!(!printed.contains("4432") && !printed.contains("672"), "{printed}");
    }

    #[test]
    fn the_demos_order_shape_is_read() {
        let order: Order = serde_json::from_str(
            r#"{"orderId":"o-1","shippingTrackingId":"t","status":"PENDING",
                "shippingCost":{"currencyCode":"USD","units":8,"nanos":990000000},
                "shippingAddress":{"streetAddress":"1 Main St","city":"Town","state":"CA","country":"US","zipCode":"1"},
                "items":[{"item":{"productId":"OLJCESPC7Z","quantity":2},"cost":{"currencyCode":"USD","units":101,"nanos":960000000}}],
                "link":"/api/orders/o-1"}"#,
        )
        .unwrap();
        assert_eq!(order.order_id, "o-1");
        assert_eq!(order.items[0].item.quantity, 2);
        assert_eq!(order.shipping_address.unwrap().city, "Town");
    }
}
