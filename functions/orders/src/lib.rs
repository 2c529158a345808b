//! Orders service: an order with where the saga has it and every step it
//! took (to the holder of its link), a signed-in shopper's orders, and the
//! saga's bookkeeping: the outbox publisher, the order-state consumer and the
//! sweeper of stuck orders.

pub mod outbox;
pub mod state;
pub mod steps;
pub mod sweeper;

use astroshop_domain::card::CardSummary;
use astroshop_domain::shipping::Address;
use astroshop_domain::{CurrencyCode, EmailAddress, Money, OrderId, OrderItem, OrderStatus, Timestamp};
use astroshop_edge::order_link::api_link;
use astroshop_edge::page::link_next;
use astroshop_edge::{ApiError, OrderLinks, PageRequest, ok, path_param, shopper};
use astroshop_store::{ListedOrder, OrderRecord, OrderRecords};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

/// An order as `GET /api/orders/{orderId}` shows it to the holder of its
/// link: everything but whose it is (the guest's session id or the account).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub order_id: OrderId,
    pub email: EmailAddress,
    pub currency_code: CurrencyCode,
    pub items: Vec<OrderItem>,
    pub shipping_cost: Money,
    pub total: Money,
    pub shipping_address: Address,
    pub card: CardSummary,
    pub placed_at: Timestamp,
    pub status: OrderStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub flagged: bool,
    pub updated_at: Timestamp,
    pub history: Vec<HistoryView>,
    /// The trace of the order's checkout and saga (32 hex digits), which
    /// an operator's trace viewer finds it by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    pub link: String,
    /// The key of the link, for clients that build their own.
    pub key: String,
}

/// One saga step of an order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    /// `InventoryReserved`, `PaymentFailed`, ...
    pub step: String,
    pub at: Timestamp,
    pub summary: String,
}

/// One order of a shopper's list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderSummary {
    order_id: OrderId,
    status: OrderStatus,
    placed_at: Timestamp,
    items: u32,
    total: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracking_id: Option<String>,
    link: String,
    key: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderList {
    orders: Vec<OrderSummary>,
    /// The cursor of the next page, when there is one (also in `Link`).
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

impl OrderView {
    /// The record as its link's holder sees it; `key` opens it.
    pub fn new(record: OrderRecord, key: String) -> Self {
        let order = record.order;
        let trace_id = Some(astroshop_saga::trace_id(record.traceparent.as_deref()))
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        Self {
            trace_id,
            link: api_link(&order.order_id, &key),
            key,
            order_id: order.order_id,
            email: order.email,
            currency_code: order.currency_code,
            items: order.items,
            shipping_cost: order.shipping_cost,
            total: order.total,
            shipping_address: order.shipping_address,
            card: order.card,
            placed_at: order.placed_at,
            status: record.status,
            tracking_id: record.tracking_id,
            failure_reason: record.failure_reason,
            flagged: record.flagged,
            updated_at: record.updated_at,
            history: record
                .history
                .into_iter()
                .map(|step| HistoryView {
                    step: step.name().to_owned(),
                    at: step.at,
                    summary: step.summary,
                })
                .collect(),
        }
    }
}

fn order_not_found(id: &OrderId) -> ApiError {
    ApiError::not_found("order_not_found", format!("no order with id {id}"))
}

/// `GET /api/orders/{orderId}?key=`: the order, its status and its saga
/// history, to the holder of its link; to anyone else it does not exist.
pub async fn get_order(
    orders: &impl OrderRecords,
    links: &OrderLinks,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let id = OrderId::parse(path_param(&request, "orderId")?)
        .map_err(|e| ApiError::bad_request("invalid_order_id", e.to_string()))?;
    let key = links.authorize(&request, &id, || order_not_found(&id)).await?;
    let record = orders
        .order(&id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| order_not_found(&id))?;
    Ok(ok(&OrderView::new(record, key)))
}

/// A page of orders when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 20;

/// `GET /api/orders?limit=&cursor=`: the signed-in shopper's orders, newest
/// first, each with its link, a page at a time. The shopper is the token's,
/// never a parameter.
pub async fn list_orders(
    orders: &impl OrderRecords,
    links: &OrderLinks,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let user = shopper::signed_in(&request).ok_or_else(|| ApiError::Unauthorized {
        code: "unauthorized",
        message: "listing orders needs a signed-in shopper's token".to_owned(),
    })?;
    // The shopper is in the scope: another shopper's cursor is refused.
    let page = PageRequest::from_request(&request, DEFAULT_LIMIT, &format!("orders;{}", user.as_str()))?;
    let after: Option<ListedOrder> = page.after()?;
    let (records, more) = orders
        .orders_of(&user, after.as_ref(), page.limit)
        .await
        .map_err(ApiError::internal)?;
    let next_cursor = match records.last() {
        Some(last) if more => Some(page.next_cursor(&ListedOrder {
            placed_at: last.order.placed_at.clone(),
            order_id: last.order.order_id.clone(),
        })?),
        _ => None,
    };
    let mut orders = Vec::with_capacity(records.len());
    for record in records {
        let key = links
            .key_for(&record.order.order_id)
            .await
            .map_err(ApiError::internal)?;
        orders.push(OrderSummary {
            link: api_link(&record.order.order_id, &key),
            key,
            items: record
                .order
                .items
                .iter()
                .map(|line| line.item.quantity.get())
                .sum(),
            order_id: record.order.order_id,
            status: record.status,
            placed_at: record.order.placed_at,
            total: record.order.total,
            tracking_id: record.tracking_id,
        });
    }
    let mut response = ok(&OrderList {
        orders,
        next_cursor: next_cursor.clone(),
    });
    if let Some(cursor) = &next_cursor {
        link_next(&request, cursor, &mut response);
    }
    Ok(response)
}
