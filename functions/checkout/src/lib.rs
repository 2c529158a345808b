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
//! With `Prefer: wait=N` (see [`wait`]), checkout waits up to N seconds for
//! the saga to settle the order and answers 200 with it as
//! `GET /api/orders/{orderId}` shows it (its tracking id too, also as the
//! demo's `shippingTrackingId`); a 202 as without the preference when the
//! saga takes longer. A request sent again under its Idempotency-Key waits
//! for the order it placed, and places nothing.
//!
//! Each client (a signed-in shopper, else the address the request came
//! from, see [`ClientKey`]) may place at most the checkout limit's
//! allowance a minute; one more is a 429 with `Retry-After`, before
//! anything is read from the cart, sealed or written.

pub mod form;
pub mod store;
pub mod wait;

use astroshop_domain::events::{Envelope, OrderPlaced};
use astroshop_domain::order::total_of;
use astroshop_domain::shipping;
use astroshop_domain::{CurrencyCode, Order, OrderId, OrderItem, OrderStatus, Timestamp, UserId};
use astroshop_edge::order_link::api_link;
use astroshop_edge::{ApiError, ClientKey, OrderLinks, check_body_size, json, query, shopper};
use astroshop_flags::{Flag, Flags};
use astroshop_orders::OrderView;
use astroshop_saga::{Entry, EventBus, now};
use astroshop_store::{
    Admission, CardSealer, CartStore, Counters, Limiter, OrderRecord, ProductCatalog, RateSource,
};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::form::CheckoutForm;
use crate::store::{Claim, OrderBook, Placed, Placement};
use crate::wait::{Wait, until_settled};

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

/// The answer once the saga has settled the order: the order as its link
/// shows it, whose it is (as the 202 says), and the tracking id also under
/// the demo storefront's name for it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SettledOrder {
    #[serde(flatten)]
    view: OrderView,
    user_id: UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping_tracking_id: Option<String>,
}

/// A client's `Prefer: wait`, and the invocation's deadline (epoch
/// milliseconds) that the wait must end before.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    wait: Wait,
    deadline: Option<u64>,
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
        let waiting = Wait::requested(request.headers()).map(|wait| Waiting {
            wait,
            deadline: request.lambda_context_ref().map(|context| context.deadline),
        });
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
            && let Some(answer) = self.answer_again(claim, waiting).await?
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
                match waiting {
                    Some(waiting) => self.after_waiting(placed_record(placement), waiting).await,
                    None => self.accepted(&placement.order, OrderStatus::Pending).await,
                }
            }
            // Another request with the same key got there first.
            Placed::Refused => match &claim {
                Some(claim) => self
                    .answer_again(claim, waiting)
                    .await?
                    .ok_or_else(|| ApiError::Conflict {
                        code: "idempotency_key_in_use",
                        message: "a request with this Idempotency-Key is being processed; retry shortly"
                            .into(),
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
    /// placed, if it is the same request (waited for as the request asks);
    /// 422 if it is another.
    async fn answer_again(
        &self,
        claim: &Claim,
        waiting: Option<Waiting>,
    ) -> Result<Option<Response<Body>>, ApiError> {
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
        Ok(Some(match waiting {
            Some(waiting) => self.after_waiting(record, waiting).await?,
            None => self.accepted(&record.order, record.status).await?,
        }))
    }

    /// The answer to a client that asked to wait for the order: 200 with
    /// the order once the saga has settled it (at once if `record` is
    /// settled already), else, when the wait ends first, the 202 it would
    /// have had without waiting. Either way `Preference-Applied` says the
    /// wait was granted, and `Server-Timing` how long it took and how many
    /// reads of the order.
    async fn after_waiting(&self, record: OrderRecord, waiting: Waiting) -> Result<Response<Body>, ApiError> {
        let started = std::time::Instant::now();
        let (settled, reads) = if record.status == OrderStatus::Pending {
            let order_id = &record.order.order_id;
            let waited = until_settled(
                || self.book.order(order_id),
                waiting.wait.ends_at(waiting.deadline),
            )
            .await;
            (waited.settled, waited.reads)
        } else {
            (Some(record.clone()), 0)
        };
        let waited = started.elapsed();
        tracing::info!(
            order_id = %record.order.order_id,
            wait = waiting.wait.seconds(),
            reads,
            waited_ms = waited.as_millis(),
            settled = settled.as_ref().map(|settled| settled.status.as_str()),
            "waited for the saga to settle the order"
        );
        let mut response = match settled {
            Some(settled) => self.settled(settled).await?,
            None => self.accepted(&record.order, record.status).await?,
        };
        let headers = response.headers_mut();
        headers.insert("preference-applied", waiting.wait.applied());
        let timing = format!(
            "wait;dur={:.1};desc=\"{reads} reads\"",
            waited.as_secs_f64() * 1000.0
        );
        if let Ok(timing) = HeaderValue::from_str(&timing) {
            headers.insert("server-timing", timing);
        }
        Ok(response)
    }

    /// 200 with the settled order, its link in `Content-Location` (the
    /// body is that resource) and `Location` (as in the 202).
    async fn settled(&self, record: OrderRecord) -> Result<Response<Body>, ApiError> {
        let key = self
            .links
            .key_for(&record.order.order_id)
            .await
            .map_err(ApiError::internal)?;
        let link = api_link(&record.order.order_id, &key);
        let body = SettledOrder {
            user_id: record.order.user_id.clone(),
            shipping_tracking_id: record.tracking_id.clone(),
            view: OrderView::new(record, key),
        };
        let mut response = json(StatusCode::OK, &body);
        if let Ok(link) = HeaderValue::from_str(&link) {
            response
                .headers_mut()
                .insert(header::CONTENT_LOCATION, link.clone());
            response.headers_mut().insert(header::LOCATION, link);
        }
        Ok(response)
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

/// The order just placed, as a read of it would find it: pending, no step yet.
fn placed_record(placement: Placement) -> OrderRecord {
    OrderRecord {
        updated_at: placement.order.placed_at.clone(),
        order: placement.order,
        status: OrderStatus::Pending,
        tracking_id: None,
        failure_reason: None,
        flagged: false,
        traceparent: Some(placement.traceparent),
        history: Vec::new(),
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
