//! Inventory service: every product's stock over HTTP (read by anyone, set
//! through the admin API), and the saga's two stock steps: holding an
//! order's units when it is placed (`inventory-reserve`, on OrderPlaced) and
//! giving them back when it fails (`inventory-release`, on PaymentFailed and
//! OrderFailed).
//!
//! Each step writes, then publishes. A redelivered event finds its write
//! already there and publishes the same outcome again, so a crash between
//! the write and the publish loses nothing and downstream steps, being
//! idempotent too, see one outcome.

pub mod store;

use astroshop_domain::ProductId;
use astroshop_domain::events::{
    Envelope, InventoryReleased, InventoryReservationFailed, InventoryReserved, OrderFailed, OrderPlaced,
    PaymentFailed,
};
use astroshop_domain::order::Order;
use astroshop_edge::{AdminKey, ApiError, PageRequest, json_body, ok, page_response, path_param};
use astroshop_saga::{Delivery, EventBus, StepError};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use crate::store::{Hold, Release, Reservation, ReservationStatus, Reservations, StockLevels};

// ------------------------------------------------------------------- the API

fn product_in_path(request: &Request) -> Result<ProductId, ApiError> {
    ProductId::parse(path_param(request, "productId")?)
        .map_err(|error| ApiError::bad_request("invalid_product_id", error.to_string()))
}

/// A page of stock when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;

/// `GET /api/inventory?limit=&cursor=`: stocked products' `{productId,
/// available}` by product id, a page at a time.
pub async fn list_stock(stock: &impl StockLevels, request: Request) -> Result<Response<Body>, ApiError> {
    let page = PageRequest::from_request(&request, DEFAULT_LIMIT, "inventory")?;
    let after: Option<ProductId> = page.after()?;
    let (levels, more) = stock
        .stock_levels(after.as_ref(), page.limit)
        .await
        .map_err(ApiError::internal)?;
    let next = match levels.last() {
        Some(last) if more => Some(page.next_cursor(&last.product_id)?),
        _ => None,
    };
    Ok(page_response(&request, &levels, next))
}

/// `GET /api/inventory/{productId}`: 404 for a product that was never stocked.
pub async fn get_stock(stock: &impl StockLevels, request: Request) -> Result<Response<Body>, ApiError> {
    let product = product_in_path(&request)?;
    let level = stock
        .stock_level(&product)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("stock_not_found", format!("product {product} has no stock")))?;
    Ok(ok(&level))
}

/// The body of a restock: the new count.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Restock {
    available: i64,
}

/// The most one product may be stocked with: a shop's shelf, and a bound
/// that keeps every sum of counts far from overflowing.
pub const MAX_STOCK: u64 = 1_000_000;

/// `PUT /api/admin/inventory/{productId}` `{"available": n}`: sets the count
/// (creating the product's stock item if it had none), behind the admin key.
pub async fn restock(
    stock: &impl StockLevels,
    key: &AdminKey,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    key.authorize(&request).await?;
    let product = product_in_path(&request)?;
    let Restock { available } = json_body(&request)?;
    let available = u64::try_from(available)
        .ok()
        .filter(|n| *n <= MAX_STOCK)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_available",
                format!("available must be a whole number from 0 to {MAX_STOCK}, got {available}"),
            )
        })?;
    let level = stock
        .set_stock(&product, available)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(product = %product, available, "stock set");
    Ok(ok(&level))
}

// ------------------------------------------------------------ the saga steps

/// `inventory-reserve` (OrderPlaced): holds every unit of the order, all or
/// none, and publishes InventoryReserved (with the sealed card, for payment)
/// or InventoryReservationFailed.
pub async fn reserve_stock(
    stock: &impl Reservations,
    bus: &impl EventBus,
    delivery: Delivery,
) -> Result<(), StepError> {
    let placed: OrderPlaced = delivery.expect()?;
    let order_id = &placed.order.order_id;
    let lines = placed.order.lines();
    let outcome = match stock.hold(order_id, &lines).await? {
        Hold::Held => {
            tracing::info!(lines = lines.len(), "held every unit of the order");
            Reservation {
                status: ReservationStatus::Reserved,
                items: lines,
                reason: None,
            }
        }
        Hold::Short(reason) => match stock.record_failure(order_id, &lines, &reason).await? {
            None => {
                tracing::info!(reason, "the order could not be held");
                astroshop_telemetry::metric("ReservationsFailed", "Count", 1.0, None);
                Reservation {
                    status: ReservationStatus::Failed,
                    items: lines,
                    reason: Some(reason),
                }
            }
            Some(existing) => existing,
        },
        Hold::AlreadyRecorded(existing) => {
            tracing::info!(status = ?existing.status, "the order's reservation was already recorded");
            existing
        }
    };
    let cause = delivery.envelope.metadata;
    let at = astroshop_saga::now();
    match outcome.status {
        ReservationStatus::Reserved => {
            let reserved = InventoryReserved {
                order: placed.order,
                card: placed.card,
            };
            bus.publish(&Envelope::following(
                &cause,
                reserved,
                at,
                astroshop_telemetry::current_traceparent(),
            ))
            .await?;
        }
        ReservationStatus::Failed => {
            let failed = InventoryReservationFailed {
                order: placed.order,
                reason: outcome
                    .reason
                    .unwrap_or_else(|| "the order could not be held".into()),
            };
            bus.publish(&Envelope::following(
                &cause,
                failed,
                at,
                astroshop_telemetry::current_traceparent(),
            ))
            .await?;
        }
        ReservationStatus::Released => {
            // Release came first (the order failed or was swept before its
            // units were held): the saga has moved on, and nothing is held.
            tracing::info!("the order was released before it was held; nothing held");
        }
    }
    Ok(())
}

/// How often a release reads the reservation again when it changed between
/// reading and writing (a hold or another release racing with it).
const RELEASE_ROUNDS: u32 = 3;

/// `inventory-release` (PaymentFailed, OrderFailed): gives back exactly what
/// the order holds, once, and publishes InventoryReleased with those lines
/// (none when nothing was held). An order with no reservation yet gets a
/// released one, so its hold, arriving late, holds nothing.
pub async fn release_stock(
    stock: &impl Reservations,
    bus: &impl EventBus,
    delivery: Delivery,
) -> Result<(), StepError> {
    let order: Order = if delivery.is::<PaymentFailed>() {
        delivery.parse::<PaymentFailed>()?.order
    } else if delivery.is::<OrderFailed>() {
        delivery.parse::<OrderFailed>()?.order
    } else {
        return Err(StepError::UnexpectedEvent(delivery.detail_type));
    };
    let order_id = &order.order_id;
    let mut released = None;
    for _ in 0..RELEASE_ROUNDS {
        released = match stock.reservation(order_id).await? {
            Some(held) if held.status == ReservationStatus::Reserved => {
                match stock.release(order_id, &held).await? {
                    Release::Returned(items) => {
                        tracing::info!(lines = items.len(), "gave the order's units back");
                        astroshop_telemetry::metric("ReservationsReleased", "Count", 1.0, None);
                        Some(items)
                    }
                    Release::Changed => None,
                }
            }
            // Released before: the same lines again (none for a tombstone).
            Some(done) if done.status == ReservationStatus::Released => Some(done.items),
            // Holding failed: nothing was held.
            Some(_) => Some(Vec::new()),
            None => stock.leave_tombstone(order_id).await?.then(Vec::new),
        };
        if released.is_some() {
            break;
        }
    }
    let Some(items) = released else {
        return Err(StepError::Contended(format!(
            "the reservation of {}",
            order.order_id
        )));
    };
    let released = InventoryReleased {
        order_id: order.order_id,
        items,
    };
    let envelope = Envelope::following(
        &delivery.envelope.metadata,
        released,
        astroshop_saga::now(),
        astroshop_telemetry::current_traceparent(),
    );
    bus.publish(&envelope).await?;
    Ok(())
}
