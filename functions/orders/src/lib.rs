//! Orders service: an order with where the saga has it and every step it
//! took, a shopper's orders, and the saga's bookkeeping: the outbox
//! publisher, the order-state consumer and the sweeper of stuck orders.

pub mod outbox;
pub mod state;
pub mod steps;
pub mod store;
pub mod sweeper;

use astroshop_domain::{Money, Order, OrderId, OrderStatus, UserId};
use astroshop_edge::{ApiError, ok, path_param, required_query};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::store::{OrderRecord, OrderTable};

/// An order as `GET /api/orders/{orderId}` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    #[serde(flatten)]
    pub order: Order,
    pub status: OrderStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub flagged: bool,
    pub updated_at: String,
    pub history: Vec<HistoryView>,
    pub link: String,
}

/// One saga step of an order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    /// `InventoryReserved`, `PaymentFailed`, ...
    pub step: String,
    pub at: String,
    pub summary: String,
}

/// One order of a shopper's list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderSummary {
    order_id: OrderId,
    status: OrderStatus,
    placed_at: String,
    items: u32,
    total: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracking_id: Option<String>,
    link: String,
}

#[derive(Debug, Serialize)]
struct OrderList {
    orders: Vec<OrderSummary>,
}

/// Where an order can be followed.
pub fn link_to(id: &OrderId) -> String {
    format!("/api/orders/{id}")
}

impl From<OrderRecord> for OrderView {
    fn from(record: OrderRecord) -> Self {
        Self {
            link: link_to(&record.order.order_id),
            order: record.order,
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

/// `GET /api/orders/{orderId}`: the order, its status and its saga history.
pub async fn get_order(orders: &OrderTable, request: Request) -> Result<Response<Body>, ApiError> {
    let id = OrderId::parse(path_param(&request, "orderId")?)
        .map_err(|e| ApiError::bad_request("invalid_order_id", e.to_string()))?;
    let record = orders
        .order(&id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("order_not_found", format!("no order with id {id}")))?;
    Ok(ok(&OrderView::from(record)))
}

/// `GET /api/orders?userId=`: the shopper's latest orders, newest first.
pub async fn list_orders(orders: &OrderTable, request: Request) -> Result<Response<Body>, ApiError> {
    let user = UserId::parse(required_query(&request, "userId")?)
        .map_err(|e| ApiError::bad_request("invalid_user_id", e.to_string()))?;
    let records = orders.orders_of(&user).await.map_err(ApiError::internal)?;
    let orders = records
        .into_iter()
        .map(|record| OrderSummary {
            link: link_to(&record.order.order_id),
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
        })
        .collect();
    Ok(ok(&OrderList { orders }))
}
