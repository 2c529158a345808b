//! Checkout: `POST /api/checkout` for guests and `POST /api/account/checkout`
//! for a signed-in shopper (whose order it is, from their token). Validates
//! the demo's request, prices the
//! shopper's cart in their currency (each line's unit price, shipping as the
//! quote endpoint gives it, the exact total), seals the card for payment,
//! and places the order: the order (PENDING) and its `OrderPlaced` event in
//! the outbox are one transaction, so the saga starts exactly when the order
//! exists. The answer is 202: the order is accepted, and its link (with the
//! key that opens it, see [`OrderLinks`]) follows it through the saga. The
//! cart is left as it is until the order is confirmed.
//!
//! With an `Idempotency-Key` header, the key is taken in the same
//! transaction: the same request sent again answers the same order, and
//! another request under the same key is refused (422).
//!
//! Each client (a signed-in shopper, else the address the request came
//! from, see [`ClientKey`]) may place at most the checkout limit's
//! allowance a minute; one more is a 429 with `Retry-After`, before
//! anything is read from the cart, sealed or written.

pub mod form;
pub mod store;

use astroshop_domain::events::{Envelope, OrderPlaced};
use astroshop_domain::order::total_of;
use astroshop_domain::shipping;
use astroshop_domain::{CurrencyCode, Order, OrderId, OrderItem, OrderStatus, Timestamp};
use astroshop_edge::order_link::api_link;
use astroshop_edge::{ApiError, ClientKey, OrderLinks, check_body_size, json, query, shopper};
use astroshop_flags::{Flag, Flags};
use astroshop_saga::{Entry, EventBus, now};
use astroshop_store::{Admission, CardSealer, CartStore, Counters, Limiter, ProductCatalog, RateSource};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::form::CheckoutForm;
use crate::store::{Claim, OrderBook, Placed, Placement};

/// The ports checkout works through.
pub struct Checkout<Carts, Catalog, Rates, Sealer, Book, Counts, Bus> {
    pub carts: Carts,
    pub catalog: Catalog,
    pub rates: Rates,
    pub sealer: Sealer,
    pub book: Book,
    pub links: OrderLinks,
    /// Checkouts per client per minute.
    pub limiter: Limiter<Counts>,
    /// Who a request comes from, for the limit.
    pub clients: ClientKey,
    /// `intlShippingSlowdown` holds back the shipping quote of an order
    /// going abroad; `eventBusFlood` has a placed order's OrderPlaced put on
    /// the bus again, `count` times more, through `bus`.
    pub flags: Flags,
    pub bus: Bus,
}

/// The answer: the placed order, where the saga has it, and where to follow it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PlacedOrder<'o> {
    #[serde(flatten)]
    order: &'o Order,
    status: OrderStatus,
    link: String,
    key: String,
}

impl<Carts, Catalog, Rates, Sealer, Book, Counts, Bus>
    Checkout<Carts, Catalog, Rates, Sealer, Book, Counts, Bus>
where
    Bus: EventBus,
    Carts: CartStore + Sync,
    Catalog: ProductCatalog + Sync,
    Rates: RateSource + Sync,
    Sealer: CardSealer + Sync,
    Book: OrderBook + Sync,
    Counts: Counters + Sync,
{
    /// `eventBusFlood`: the order's OrderPlaced, `count` more times, straight
    /// onto the bus (the outbox still publishes it once). Its consumers must
    /// take every copy as the redelivery it looks like. A flood the bus
    /// refuses is logged; the order stands.
    async fn flood(&self, order_placed: &Entry, count: u32) {
        astroshop_flags::injected(Flag::EventBusFlood);
        let copies = vec![order_placed.clone(); count as usize];
        if let Err(error) = self.bus.publish_all(&copies).await {
            tracing::warn!(error = %astroshop_telemetry::error_chain(&error), count, "the flood did not reach the bus");
        }
    }

    /// `POST /api/checkout?currencyCode=` and `POST /api/account/checkout?currencyCode=`
    pub async fn place_order(&self, request: Request) -> Result<Response<Body>, ApiError> {
        let started = std::time::Instant::now();
        check_body_size(&request)?;
        let body: &[u8] = match request.body() {
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
            _ => &[],
        };
        let key = idempotency_key(&request)?;
        let form = CheckoutForm::parse_for(body, shopper::signed_in(&request))?;
        let currency = match query(&request, "currencyCode") {
            Some(code) => CurrencyCode::parse(code)
                .map_err(|e| ApiError::bad_request("invalid_currency", format!("\"currencyCode\": {e}")))?,
            None => form.user_currency.clone().unwrap_or_else(CurrencyCode::usd),
        };
        let rates = self.rates.rate_table().await.map_err(ApiError::internal)?;
        for code in std::iter::once(&currency).chain(&form.user_currency) {
            if !rates.supports(code) {
                return Err(ApiError::bad_request(
                    "unsupported_currency",
                    format!("currency {code} is not supported; GET /api/currency lists those that are"),
                ));
            }
        }
        let claim = key.map(|key| Claim {
            key: format!("{}#{key}", form.user_id),
            request_hash: form.request_hash(&currency),
        });
        if let Some(claim) = &claim
            && let Some(answer) = self.answer_again(claim).await?
        {
            return Ok(answer);
        }
        // Counted here: after the checks that cost nothing (a malformed
        // request is not counted), and after the answer to a request placed
        // before under its Idempotency-Key, which places nothing, so a
        // client's retry is not counted twice. Two copies of one request
        // racing each other may both be counted: that only errs towards
        // refusing sooner. Everything after this (the cart and catalogue
        // reads, the card's seal with KMS, the order's write) is what the
        // limit guards.
        self.admit(&request).await?;

        let lines = self
            .carts
            .cart_lines(&form.user_id)
            .await
            .map_err(ApiError::internal)?;
        if lines.is_empty() {
            return Err(ApiError::Conflict {
                code: "empty_cart",
                message: format!(
                    "the cart of {} is empty; add something before checking out",
                    form.user_id
                ),
            });
        }
        let mut items = Vec::with_capacity(lines.len());
        for line in lines {
            let product = self
                .catalog
                .get_product(&line.product_id)
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::Conflict {
                    code: "product_unavailable",
                    message: format!(
                        "product {} in the cart is no longer sold; remove it and check out again",
                        line.product_id
                    ),
                })?;
            let cost = rates
                .convert(&product.price_usd, &currency)
                .map_err(|e| ApiError::internal(format!("pricing {}: {e}", product.id)))?;
            items.push(OrderItem { item: line, cost });
        }
        let faults = self.flags.current().await;
        if !form.address.is_in_the_us() {
            faults.hold_back(Flag::IntlShippingSlowdown).await;
        }
        let shipping_cost = shipping::quote(items.iter().map(|line| line.item.quantity), &rates, &currency)
            .map_err(|e| ApiError::internal(format!("quoting shipping: {e}")))?;
        let total = total_of(&items, &shipping_cost).map_err(|e| ApiError::Unprocessable {
            code: "order_too_large",
            message: format!("the order's total cannot be computed: {e}"),
        })?;

        let order_id = OrderId::parse(&uuid::Uuid::new_v4().to_string()).map_err(ApiError::internal)?;
        let placed_at = now();
        let order = Order {
            order_id: order_id.clone(),
            user_id: form.user_id.clone(),
            email: form.email.clone(),
            currency_code: currency,
            items,
            shipping_cost,
            total,
            shipping_address: form.address.clone(),
            card: form.card.number.summary(),
            placed_at: Timestamp::from(placed_at),
        };
        let sealed = self
            .sealer
            .seal(&form.card, &order_id)
            .await
            .map_err(ApiError::internal)?;
        // The request's trace, which every step of the saga joins.
        let traceparent = astroshop_telemetry::current_traceparent().unwrap_or_else(new_traceparent);
        let order_placed = Entry::of(&Envelope::first(
            OrderPlaced {
                order: order.clone(),
                card: sealed,
            },
            placed_at,
            Some(traceparent.clone()),
        ))
        .map_err(ApiError::internal)?;
        let placement = Placement {
            order,
            traceparent,
            order_placed,
            claim: claim.clone(),
            now: placed_at,
        };
        match self.book.place(&placement).await.map_err(ApiError::internal)? {
            Placed::Placed => {
                tracing::info!(order_id = %order_id, total = %placement.order.total, "order placed");
                astroshop_telemetry::metric("OrdersPlaced", "Count", 1.0, None);
                astroshop_telemetry::metric_seconds_since("CheckoutSeconds", started, None);
                if let Some(count) = faults.count(Flag::EventBusFlood).filter(|count| *count > 0) {
                    self.flood(&placement.order_placed, count).await;
                }
                self.accepted(&placement.order, OrderStatus::Pending).await
            }
            // Another request with the same key got there first.
            Placed::Refused => match &claim {
                Some(claim) => self.answer_again(claim).await?.ok_or_else(|| ApiError::Conflict {
                    code: "idempotency_key_in_use",
                    message: "a request with this Idempotency-Key is being processed; retry shortly".into(),
                }),
                None => Err(ApiError::internal(format!(
                    "placing order {order_id} was refused"
                ))),
            },
        }
    }

    /// Counts the checkout against its client's allowance for this minute;
    /// 429 when it is spent.
    async fn admit(&self, request: &Request) -> Result<(), ApiError> {
        let client = self.clients.client_of(request).await?;
        let now = std::time::SystemTime::now();
        match self
            .limiter
            .admit(&client.to_string(), now)
            .await
            .map_err(ApiError::internal)?
        {
            Admission::Admitted => Ok(()),
            Admission::Refused { retry_after } => {
                tracing::warn!(%client, "checkout limit reached");
                astroshop_telemetry::metric("RequestsThrottled", "Count", 1.0, Some(("Limit", "checkout")));
                Err(ApiError::TooManyRequests {
                    code: "too_many_checkouts",
                    message: format!(
                        "this client has had its {} checkouts for this minute; retry in {} seconds",
                        self.limiter.limit().allowed(),
                        retry_after.as_secs()
                    ),
                    retry_after,
                })
            }
        }
    }

    /// The answer to a request whose key was taken before: the order it
    /// placed, if it is the same request; 422 if it is another.
    async fn answer_again(&self, claim: &Claim) -> Result<Option<Response<Body>>, ApiError> {
        let Some(claimed) = self.book.claimed(&claim.key).await.map_err(ApiError::internal)? else {
            return Ok(None);
        };
        if claimed.request_hash != claim.request_hash {
            return Err(ApiError::Unprocessable {
                code: "idempotency_key_reused",
                message: "this Idempotency-Key was used for a different checkout request; use a new key"
                    .into(),
            });
        }
        let record = self
            .book
            .order(&claimed.order_id)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal(format!("key {} names a missing order", claim.key)))?;
        tracing::info!(order_id = %claimed.order_id, "same request with the same Idempotency-Key; same order");
        Ok(Some(self.accepted(&record.order, record.status).await?))
    }

    /// 202 with the order, its link and its `Location`.
    async fn accepted(&self, order: &Order, status: OrderStatus) -> Result<Response<Body>, ApiError> {
        let key = self
            .links
            .key_for(&order.order_id)
            .await
            .map_err(ApiError::internal)?;
        let link = api_link(&order.order_id, &key);
        let mut response = json(
            StatusCode::ACCEPTED,
            &PlacedOrder {
                order,
                status,
                link: link.clone(),
                key,
            },
        );
        if let Ok(location) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        Ok(response)
    }
}

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
fn idempotency_key(request: &Request) -> Result<Option<&str>, ApiError> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|key| (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()))
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "the Idempotency-Key header must be 1 to 255 visible ASCII characters",
            )
        })
}

/// A new W3C trace context (`00-<trace id>-<span id>-01`, sampled), for a
/// checkout running outside any trace. The id starts with the time in epoch
/// seconds, as X-Ray trace ids do, so X-Ray accepts the trace too.
fn new_traceparent() -> String {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    // An all-zero id is invalid; the low bit set rules it out.
    let unique = rand::random::<u128>() & ((1 << 96) - 1) | 1;
    let span_id = rand::random::<u64>() | 1;
    format!("00-{started:08x}{unique:024x}-{span_id:016x}-01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_traceparent_is_a_valid_sampled_w3c_context() {
        let context = new_traceparent();
        let parts: Vec<&str> = context.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!((parts[0], parts[3]), ("00", "01"));
        assert_eq!((parts[1].len(), parts[2].len()), (32, 16));
        assert!(parts[1].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(new_traceparent(), context);
    }
}
