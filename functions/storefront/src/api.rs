//! The shop's public HTTP API as the storefront uses it. The storefront owns
//! no data: every product, cart line, quote and order comes from the API, so
//! the pages show exactly what any other client of the API would see. A
//! guest's cart is the session's (`/api/cart`); a signed-in shopper's cart,
//! checkout and orders are the account's (`/api/account/...`, `/api/orders`,
//! with the shopper's token), so the API, not the storefront, says whose
//! they are.

use std::net::IpAddr;

use astroshop_domain::{
    CurrencyCode, EmailAddress, Money, OrderId, OrderStatus, Product, ProductId, Timestamp,
};
use astroshop_edge::client::{FORWARDED_ADDRESS, FORWARDED_SIGNATURE};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::accounts::IdToken;
use crate::browse::{Cursor, Filters};

/// How long a page waits for its extras (an ad, recommendations): a page is
/// whole without them, and a slow one leaves its part out instead of holding
/// the page.
pub const EXTRAS_WAIT: std::time::Duration = std::time::Duration::from_millis(2500);

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
    /// The gateway refused the shopper's token (missing, invalid or ended).
    #[error("{0} refused the shopper's token")]
    Unauthorized(String),
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

/// Whose cart and checkout a call is about.
#[derive(Debug, Clone, Copy)]
pub enum Shopper<'a> {
    /// A guest: the session's cart, by its id.
    Guest(Uuid),
    /// A signed-in shopper: the account's cart, by the token's `sub`.
    SignedIn(&'a IdToken),
}

/// The visitor's address and the storefront's signature for it under the
/// client key, so checkout counts its limit against the visitor, not
/// against the storefront that calls it for every visitor.
pub struct Vouched {
    pub address: IpAddr,
    pub signature: String,
}

/// What `POST /api/checkout` takes. A signed-in checkout sends no `userId`:
/// the account is the token's.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub email: EmailAddress,
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

/// The key of an order's capability link, as the API gives it (base64url).
/// Whoever holds it may see the order, so it is never logged.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct OrderKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an order key is 1 to 128 characters of A-Z, a-z, 0-9, - and _")]
pub struct InvalidOrderKey;

impl OrderKey {
    pub fn parse(text: &str) -> Result<Self, InvalidOrderKey> {
        let plain = (1..=128).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        plain.then(|| Self(text.to_owned())).ok_or(InvalidOrderKey)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrderKey {
    type Error = InvalidOrderKey;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl std::fmt::Debug for OrderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrderKey(..)")
    }
}

/// The storefront's page of an order: `/orders/<id>?key=<key>`, the link
/// the confirmation mail carries too.
pub fn order_page(order_id: &OrderId, key: &OrderKey) -> String {
    format!("/orders/{order_id}?key={}", key.as_str())
}

/// Checkout's 202: the order placed and the key of its link.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacedOrder {
    pub order_id: OrderId,
    #[serde(default)]
    pub key: Option<OrderKey>,
}

/// One order of `GET /api/orders`, the signed-in shopper's list.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderSummary {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub placed_at: Timestamp,
    /// How many things were bought.
    #[serde(default)]
    pub items: u32,
    pub total: Money,
    #[serde(default)]
    pub tracking_id: Option<String>,
    pub key: OrderKey,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderList {
    orders: Vec<OrderSummary>,
    #[serde(default)]
    next_cursor: Option<String>,
}

/// A category as `GET /api/categories` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub name: String,
    #[serde(default)]
    pub product_count: u32,
}

/// One page of a list, and where the next starts when more follow.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// What a category page asks `GET /api/products` for.
pub struct Listing<'a> {
    pub category: &'a str,
    pub filters: &'a Filters,
    pub cursor: Option<&'a Cursor>,
    pub limit: u32,
}

/// The cursor of the next page, from the API's
/// `Link: </api/products?...&cursor=X>; rel="next"` (RFC 8288); `None` on
/// the last page, or for a link without a cursor the storefront could pass on.
pub fn next_cursor(link: &str) -> Option<Cursor> {
    link.split(',').find_map(|value| {
        let (target, params) = value.trim().strip_prefix('<')?.split_once('>')?;
        let is_next = params.split(';').any(|param| {
            param.split_once('=').is_some_and(|(name, value)| {
                name.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
            })
        });
        let (_, query) = target.split_once('?').filter(|_| is_next)?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
        let (_, cursor) = pairs.into_iter().find(|(name, _)| name == "cursor")?;
        Cursor::parse(&cursor).ok()
    })
}

/// An order as the order API answers it. Only what the order page shows is
/// read; everything but the id is optional so that a richer answer never
/// breaks the page.
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
    /// The trace of its checkout, for an operator's trace viewer.
    #[serde(default)]
    pub trace_id: Option<String>,
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

    /// One page of a category, filtered and sorted as asked, priced in `currency`.
    pub async fn category_page(
        &self,
        listing: &Listing<'_>,
        currency: &CurrencyCode,
    ) -> Result<Page<Product>, ApiCallError> {
        let currency = currency.to_string();
        let limit = listing.limit.to_string();
        let mut query = vec![
            ("currencyCode", currency.as_str()),
            ("category", listing.category),
            ("limit", &limit),
        ];
        query.extend(listing.filters.pairs());
        if let Some(cursor) = listing.cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let request = self.request(Method::GET, "/api/products").query(&query);
        self.fetch_page(request, "/api/products").await
    }

    /// One page of what a search finds, best first, priced in `currency`.
    pub async fn search(
        &self,
        words: &str,
        currency: &CurrencyCode,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Product>, ApiCallError> {
        let currency = currency.to_string();
        let limit = limit.to_string();
        let mut query = vec![("q", words), ("currencyCode", &currency), ("limit", &limit)];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let request = self.request(Method::GET, "/api/products/search").query(&query);
        self.fetch_page(request, "/api/products/search").await
    }

    /// The categories, by name.
    pub async fn categories(&self) -> Result<Vec<Category>, ApiCallError> {
        self.fetch(self.request(Method::GET, "/api/categories"), "/api/categories")
            .await
    }

    pub async fn product(&self, id: &ProductId, currency: &CurrencyCode) -> Result<Product, ApiCallError> {
        let path = format!("/api/products/{id}?currencyCode={currency}");
        self.fetch(self.request(Method::GET, &path), &path).await
    }

    pub async fn currencies(&self) -> Result<Vec<CurrencyCode>, ApiCallError> {
        self.fetch(self.request(Method::GET, "/api/currency"), "/api/currency")
            .await
    }

    pub async fn cart(&self, shopper: Shopper<'_>, currency: &CurrencyCode) -> Result<Cart, ApiCallError> {
        let path = match shopper {
            Shopper::Guest(session) => format!("/api/cart?sessionId={session}&currencyCode={currency}"),
            Shopper::SignedIn(_) => format!("/api/account/cart?currencyCode={currency}"),
        };
        self.fetch(self.as_shopper(Method::GET, &path, shopper), &path)
            .await
    }

    pub async fn add_to_cart(
        &self,
        shopper: Shopper<'_>,
        product: &ProductId,
        quantity: u32,
    ) -> Result<(), ApiCallError> {
        let item = json!({"productId": product, "quantity": quantity});
        let (path, body) = match shopper {
            Shopper::Guest(session) => ("/api/cart", json!({"userId": session.to_string(), "item": item})),
            Shopper::SignedIn(_) => ("/api/account/cart", json!({"item": item})),
        };
        let request = self.as_shopper(Method::POST, path, shopper).json(&body);
        self.send(request, path).await.map(drop)
    }

    pub async fn remove_from_cart(
        &self,
        shopper: Shopper<'_>,
        product: &ProductId,
    ) -> Result<(), ApiCallError> {
        let path = match shopper {
            Shopper::Guest(session) => format!("/api/cart/items/{product}?sessionId={session}"),
            Shopper::SignedIn(_) => format!("/api/account/cart/items/{product}"),
        };
        self.send(self.as_shopper(Method::DELETE, &path, shopper), &path)
            .await
            .map(drop)
    }

    pub async fn empty_cart(&self, shopper: Shopper<'_>) -> Result<(), ApiCallError> {
        let (path, request) = match shopper {
            Shopper::Guest(session) => (
                "/api/cart",
                self.request(Method::DELETE, "/api/cart")
                    .json(&json!({"userId": session.to_string()})),
            ),
            Shopper::SignedIn(_) => (
                "/api/account/cart",
                self.as_shopper(Method::DELETE, "/api/account/cart", shopper),
            ),
        };
        self.send(request, path).await.map(drop)
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

    /// Ads for the page; a page is whole without them, so it waits at most
    /// `EXTRAS_WAIT` for them.
    pub async fn ads(&self, context_keys: &[String]) -> Result<Vec<Ad>, ApiCallError> {
        let request = self
            .request(Method::GET, "/api/data")
            .query(&[("contextKeys", context_keys.join(","))])
            .timeout(EXTRAS_WAIT);
        self.fetch(request, "/api/data").await
    }

    /// Recommendations for a product page, waited for at most `EXTRAS_WAIT`.
    pub async fn recommendations(
        &self,
        product: &ProductId,
        session: Uuid,
        currency: &CurrencyCode,
    ) -> Result<Vec<Product>, ApiCallError> {
        let path =
            format!("/api/recommendations?productIds={product}&sessionId={session}&currencyCode={currency}");
        let request = self.request(Method::GET, &path).timeout(EXTRAS_WAIT);
        self.fetch(request, &path).await
    }

    pub async fn place_order(
        &self,
        shopper: Shopper<'_>,
        order: &CheckoutRequest,
        idempotency_key: Uuid,
        visitor: Option<&Vouched>,
    ) -> Result<PlacedOrder, ApiCallError> {
        let path = match shopper {
            Shopper::Guest(_) => format!("/api/checkout?currencyCode={}", order.user_currency),
            Shopper::SignedIn(_) => format!("/api/account/checkout?currencyCode={}", order.user_currency),
        };
        let mut request = self
            .as_shopper(Method::POST, &path, shopper)
            .header("idempotency-key", idempotency_key.to_string())
            .json(order);
        if let Some(visitor) = visitor {
            request = request
                .header(FORWARDED_ADDRESS, visitor.address.to_string())
                .header(FORWARDED_SIGNATURE, &visitor.signature);
        }
        self.fetch(request, &path).await
    }

    /// An order, to the holder of its link's key.
    pub async fn order(&self, order_id: &OrderId, key: &OrderKey) -> Result<Order, ApiCallError> {
        let request = self
            .request(Method::GET, &format!("/api/orders/{order_id}"))
            .query(&[("key", key.as_str())]);
        self.fetch(request, "/api/orders/{orderId}").await
    }

    /// A page of the signed-in shopper's orders, newest first.
    pub async fn my_orders(
        &self,
        token: &IdToken,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<OrderSummary>, ApiCallError> {
        let limit = limit.to_string();
        let mut query = vec![("limit", limit.as_str())];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let request = self
            .as_shopper(Method::GET, "/api/orders", Shopper::SignedIn(token))
            .query(&query);
        let answer = self.send(request, "/api/orders").await?;
        let list: OrderList = answer.json("/api/orders")?;
        // The body's cursor and the Link header's are the same; either will do.
        let next = list
            .next_cursor
            .as_deref()
            .and_then(|cursor| Cursor::parse(cursor).ok())
            .or(answer.next);
        Ok(Page {
            items: list.orders,
            next,
        })
    }

    /// A request to the API, carrying the trace of the page it serves
    /// (W3C `traceparent`), so the API's spans are that page's children.
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match astroshop_telemetry::current_traceparent() {
            Some(traceparent) => request.header("traceparent", traceparent),
            None => request,
        }
    }

    /// A request that carries a signed-in shopper's token.
    fn as_shopper(&self, method: Method, path: &str, shopper: Shopper<'_>) -> RequestBuilder {
        let request = self.request(method, path);
        match shopper {
            Shopper::Guest(_) => request,
            Shopper::SignedIn(token) => request.bearer_auth(token.as_str()),
        }
    }

    async fn fetch<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        path: &str,
    ) -> Result<T, ApiCallError> {
        self.send(request, path).await?.json(path)
    }

    /// A page of a list and, from its `Link` header, where the next starts.
    async fn fetch_page<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        path: &str,
    ) -> Result<Page<T>, ApiCallError> {
        let answer = self.send(request, path).await?;
        Ok(Page {
            items: answer.json(path)?,
            next: answer.next,
        })
    }

    /// Sends a request; any status but 2xx becomes an `ApiCallError`.
    async fn send(&self, request: RequestBuilder, path: &str) -> Result<Answer, ApiCallError> {
        let unreachable = |source| ApiCallError::Unreachable {
            path: path.to_owned(),
            source,
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let next = response
            .headers()
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(next_cursor);
        let bytes = response.bytes().await.map_err(unreachable)?.to_vec();
        if status.is_success() {
            return Ok(Answer { status, next, bytes });
        }
        Err(rejection(path, status, &bytes))
    }
}

/// A 2xx answer: its body, and the next page's cursor when it links one.
struct Answer {
    status: StatusCode,
    next: Option<Cursor>,
    bytes: Vec<u8>,
}

impl Answer {
    fn json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiCallError> {
        serde_json::from_slice(&self.bytes).map_err(|error| ApiCallError::Unexpected {
            path: path.to_owned(),
            status: self.status,
            detail: error.to_string(),
        })
    }
}

/// Reads an error answer: the shop's `{"error":{"code","message"}}`, or the
/// gateway's own answer for a route nobody serves or a token it refuses.
fn rejection(path: &str, status: StatusCode, body: &[u8]) -> ApiCallError {
    // API Gateway's JWT authorizer answers `{"message":"Unauthorized"}`.
    if status == StatusCode::UNAUTHORIZED {
        return ApiCallError::Unauthorized(path.to_owned());
    }
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
        let refused = rejection(
            "/api/account/cart",
            StatusCode::UNAUTHORIZED,
            br#"{"message":"Unauthorized"}"#,
        );
        assert!(matches!(refused, ApiCallError::Unauthorized(_)), "{refused:?}");
    }

    #[test]
    fn a_shoppers_order_list_is_read_with_the_keys_of_its_links() {
        let list: OrderList = serde_json::from_str(
            r#"{"orders":[{"orderId":"3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11","status":"CONFIRMED",
                "placedAt":"2026-11-21T10:00:00Z","items":3,
                "total":{"currencyCode":"USD","units":12,"nanos":0},"trackingId":"t-1",
                "link":"/api/orders/3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11?key=k_-1","key":"k_-1"}]}"#,
        )
        .unwrap();
        let order = &list.orders[0];
        assert_eq!(order.status, OrderStatus::Confirmed);
        assert_eq!(
            order_page(&order.order_id, &order.key),
            "/orders/3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11?key=k_-1"
        );
        assert!(!format!("{order:?}").contains("k_-1"), "a key is never printed");
    }

    #[test]
    fn the_next_pages_cursor_is_read_from_the_link_header() {
        let link =
            r#"</api/products?category=telescopes&sort=-price&limit=12&cursor=eyJrIjoiMiJ9>; rel="next""#;
        assert_eq!(next_cursor(link).unwrap().as_str(), "eyJrIjoiMiJ9");
        let several = r#"</api/orders?cursor=Zmlyc3Q>; rel="first", </api/orders?limit=10&cursor=bmV4dA%3D%3D>; rel="next""#;
        assert_eq!(next_cursor(several).unwrap().as_str(), "bmV4dA==");
        for none in [
            r#"</api/products?cursor=abc>; rel="prev""#,
            r#"</api/products?limit=12>; rel="next""#,
            r#"</api/products?cursor=a%26b>; rel="next""#,
            "not a link",
        ] {
            assert!(next_cursor(none).is_none(), "{none}");
        }
    }

    #[test]
    fn an_order_key_that_could_escape_a_url_is_refused() {
        for key in ["", "a&b=c", "a b", "a/b", "a%2F", &"k".repeat(129)] {
            assert!(OrderKey::parse(key).is_err(), "{key:?}");
        }
        assert!(OrderKey::parse("Zk3_-9").is_ok());
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
