//! The `Orders` table. One partition per order (pk `orderId`) holds:
//! - `ORDER`: the order in the demo's shape plus `status`, `updatedAt` (its
//!   last change: placed, ended, flagged),
//!   `traceparent`, and once it ends `trackingId` or `failureReason`
//!   (`flagged` when fraud checks flag it); `pending` = "PENDING" only while
//!   pending, which keeps the sweeper's `pending` index to the orders it may fail;
//! - `EVENT#<detail-type>`: one history line per saga step (`at`, `detailType`,
//!   `summary`), written at most once because each step happens once per order;
//! - `OUTBOX#<eventId>`: an event waiting for the stream to carry it to the
//!   bus, kept a day.
//!
//! Every change is one transaction guarded by conditions, never a read then
//! a write: a step is recorded once, and only a pending order ends.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use astroshop_domain::events::Entry;
use astroshop_domain::history::{Change, Conclusion, Step};
use astroshop_domain::{Order, OrderId, OrderStatus, Timestamp, UserId};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use time::OffsetDateTime;

use crate::dynamo::{self, Item, OnTable};
use crate::{MissingSetting, StoreError, setting};

const ORDER: &str = "ORDER";
const EVENT_PREFIX: &str = "EVENT#";
const OUTBOX_PREFIX: &str = "OUTBOX#";
const PENDING: &str = "PENDING";
/// How long a published outbox event is kept (it is published within seconds).
pub const OUTBOX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// An order as stored: the order, where the saga has it, and its history.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    pub order: Order,
    pub status: OrderStatus,
    pub tracking_id: Option<String>,
    pub failure_reason: Option<String>,
    pub flagged: bool,
    pub updated_at: Timestamp,
    /// The trace checkout started, so later steps join it.
    pub traceparent: Option<String>,
    /// Oldest first (empty when read from a listing).
    pub history: Vec<Step>,
}

impl OrderRecord {
    /// How the order ended, once it has.
    pub fn conclusion(&self) -> Option<Conclusion> {
        match self.status {
            OrderStatus::Pending => None,
            OrderStatus::Confirmed => Some(Conclusion::Confirmed {
                tracking_id: self.tracking_id.clone().unwrap_or_default(),
            }),
            OrderStatus::Failed => Some(Conclusion::Failed {
                reason: self.failure_reason.clone().unwrap_or_default(),
            }),
        }
    }

    pub fn has_step(&self, detail_type: &str) -> bool {
        self.history.iter().any(|step| step.detail_type == detail_type)
    }
}

/// A change to one order: the saga step that causes it (none when the
/// sweeper acts on its own), what it does, and the event that announces it
/// when it ends the order (written to the outbox in the same transaction,
/// so the order cannot end without the shop hearing of it).
#[derive(Debug, Clone, Copy)]
pub struct Transition<'a> {
    pub order_id: &'a OrderId,
    pub step: Option<&'a Step>,
    pub change: &'a Change,
    pub announcement: Option<&'a Entry>,
}

/// Where an order is in its shopper's list: when it was placed, and its id
/// for orders placed at the same instant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListedOrder {
    pub placed_at: Timestamp,
    pub order_id: OrderId,
}

/// Orders as their holders and shoppers read them.
pub trait OrderRecords {
    /// The order with its whole history, read consistently.
    fn order(&self, id: &OrderId) -> impl Future<Output = Result<Option<OrderRecord>, StoreError>> + Send;
    /// Up to `limit` of a shopper's orders, newest first (without their
    /// history), placed before the one `after` names; and whether more
    /// follow them.
    fn orders_of(
        &self,
        user: &UserId,
        after: Option<&ListedOrder>,
        limit: usize,
    ) -> impl Future<Output = Result<(Vec<OrderRecord>, bool), StoreError>> + Send;
}

/// The saga's writes to orders, and the sweeper's query for the stuck ones.
pub trait OrderTransitions {
    /// Applies `transition` in one transaction: its step and the order's
    /// conclusion (if it has one) join the history, each only if new, and
    /// the order changes, only if it exists and, for a conclusion, is still
    /// pending. False when a condition refused it: nothing was written.
    fn record(
        &self,
        transition: &Transition<'_>,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Adds a step to the history alone (a step that came after the order
    /// ended); false when it was there already.
    fn record_history(
        &self,
        order_id: &OrderId,
        step: &Step,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The orders still pending that were placed before `cutoff`: the index
    /// sorts on `placedAt`'s text, which sorts as the time does because
    /// checkout writes it as a [`Timestamp`] it makes.
    fn pending_placed_before(
        &self,
        cutoff: &Timestamp,
    ) -> impl Future<Output = Result<Vec<OrderId>, StoreError>> + Send;
}

#[derive(Clone, Debug)]
pub struct OrderTable {
    client: Client,
    table: String,
}

impl OrderTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `ORDERS_TABLE`.
    pub fn from_env(client: Client) -> Result<Self, MissingSetting> {
        Ok(Self::new(client, setting("ORDERS_TABLE")?))
    }

    /// The writes that place `order`: the `ORDER` item, pending (only if the
    /// id is new), and its first event in the outbox. Checkout adds them to
    /// its own transaction.
    pub fn placement(
        &self,
        order: &Order,
        traceparent: &str,
        first_event: &Entry,
        now: OffsetDateTime,
    ) -> Result<[TransactWriteItem; 2], StoreError> {
        let mut item: Item = serde_dynamo::to_item(order).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        item.insert("sk".into(), text(ORDER));
        item.insert("status".into(), text(OrderStatus::Pending.as_str()));
        item.insert("pending".into(), text(PENDING));
        item.insert("updatedAt".into(), text(Timestamp::from(now).as_str()));
        item.insert("traceparent".into(), text(traceparent));
        let order_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(orderId)")
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok([
            TransactWriteItem::builder().put(order_put).build(),
            TransactWriteItem::builder()
                .put(self.outbox_put(&order.order_id, first_event, now)?)
                .build(),
        ])
    }

    fn outbox_put(&self, order_id: &OrderId, event: &Entry, now: OffsetDateTime) -> Result<Put, StoreError> {
        let expires_at = (now + OUTBOX_LIFETIME).unix_timestamp();
        Put::builder()
            .table_name(&self.table)
            .item("orderId", text(order_id.as_str()))
            .item("sk", text(&format!("{OUTBOX_PREFIX}{}", event_id_of(event)?)))
            .item("source", text(&event.source))
            .item("detailType", text(&event.detail_type))
            .item("detail", text(&event.detail))
            .item("expiresAt", AttributeValue::N(expires_at.to_string()))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    fn history_put(&self, order_id: &OrderId, step: &Step) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(&self.table)
            .item("orderId", text(order_id.as_str()))
            .item("sk", text(&format!("{EVENT_PREFIX}{}", step.detail_type)))
            .item("detailType", text(&step.detail_type))
            .item("at", text(step.at.as_str()))
            .item("summary", text(&step.summary))
            .condition_expression("attribute_not_exists(orderId)")
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// The write to the `ORDER` item: a step that changes nothing there only
    /// checks the order exists (no write, so no stream record for the
    /// publisher to pass by); the others update it, an ending only while pending.
    fn order_write(
        &self,
        order_id: &OrderId,
        change: &Change,
        now: &Timestamp,
    ) -> Result<TransactWriteItem, StoreError> {
        let corrupt = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Corrupt(e.to_string());
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("orderId", text(order_id.as_str()))
            .key("sk", text(ORDER))
            .expression_attribute_values(":now", text(now.as_str()));
        let (expression, condition) = match change {
            Change::None => {
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .key("orderId", text(order_id.as_str()))
                    .key("sk", text(ORDER))
                    .condition_expression("attribute_exists(orderId)")
                    .build()
                    .map_err(corrupt)?;
                return Ok(TransactWriteItem::builder().condition_check(check).build());
            }
            Change::Flag => {
                update = update.expression_attribute_values(":flagged", AttributeValue::Bool(true));
                (
                    "SET updatedAt = :now, flagged = :flagged",
                    "attribute_exists(orderId)",
                )
            }
            Change::Confirm { tracking_id } => {
                update = update.expression_attribute_values(":tracking", text(tracking_id));
                (
                    "SET updatedAt = :now, #status = :status, trackingId = :tracking REMOVE pending",
                    "#status = :pending",
                )
            }
            Change::Fail { reason } => {
                update = update.expression_attribute_values(":reason", text(reason));
                (
                    "SET updatedAt = :now, #status = :status, failureReason = :reason REMOVE pending",
                    "#status = :pending",
                )
            }
        };
        if let Some(status) = change.new_status() {
            update = update
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", text(status.as_str()))
                .expression_attribute_values(":pending", text(OrderStatus::Pending.as_str()));
        }
        let update = update
            .update_expression(expression)
            .condition_expression(condition)
            .build()
            .map_err(corrupt)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

impl OrderRecords for OrderTable {
    async fn order(&self, id: &OrderId) -> Result<Option<OrderRecord>, StoreError> {
        let items = dynamo::all_pages(|start_key| async {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("orderId = :id")
                .expression_attribute_values(":id", text(id.as_str()))
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .on_table(&self.table)?;
            Ok((page.items.unwrap_or_default(), page.last_evaluated_key))
        })
        .await?;
        let mut record = None;
        let mut history = Vec::new();
        for item in items {
            let sk = string(&item, "sk")?;
            if sk == ORDER {
                record = Some(order_record(item)?);
            } else if sk.starts_with(EVENT_PREFIX) {
                history.push(Step {
                    detail_type: string(&item, "detailType")?,
                    at: timestamp(&item, "at")?,
                    summary: string(&item, "summary")?,
                });
            }
        }
        history.sort_by(|one, other| one.at.cmp(&other.at));
        Ok(record.map(|record| OrderRecord { history, ..record }))
    }

    async fn orders_of(
        &self,
        user: &UserId,
        after: Option<&ListedOrder>,
        limit: usize,
    ) -> Result<(Vec<OrderRecord>, bool), StoreError> {
        // The index's start key is rebuilt here, the shopper's own id in it,
        // so a start taken from a client can only move within their orders.
        let start = after.map(|after| {
            HashMap::from([
                ("orderId".to_owned(), text(after.order_id.as_str())),
                ("sk".to_owned(), text(ORDER)),
                ("userId".to_owned(), text(user.as_str())),
                ("placedAt".to_owned(), text(after.placed_at.as_str())),
            ])
        });
        // One more than asked, to know whether another page follows.
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("byUser")
            .key_condition_expression("userId = :user")
            .expression_attribute_values(":user", text(user.as_str()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .on_table(&self.table)?;
        let mut records: Vec<OrderRecord> = page
            .items
            .unwrap_or_default()
            .into_iter()
            .map(order_record)
            .collect::<Result<_, _>>()?;
        let more = records.len() > limit;
        records.truncate(limit);
        Ok((records, more))
    }
}

impl OrderTransitions for OrderTable {
    async fn record(&self, transition: &Transition<'_>, now: OffsetDateTime) -> Result<bool, StoreError> {
        let Transition {
            order_id,
            step,
            change,
            announcement,
        } = *transition;
        let stamp = Timestamp::from(now);
        let mut writes = Vec::new();
        let final_step = change.final_step(&stamp);
        for step in step.into_iter().chain(final_step.as_ref()) {
            writes.push(
                TransactWriteItem::builder()
                    .put(self.history_put(order_id, step)?)
                    .build(),
            );
        }
        writes.push(self.order_write(order_id, change, &stamp)?);
        if let Some(event) = announcement {
            writes.push(
                TransactWriteItem::builder()
                    .put(self.outbox_put(order_id, event, now)?)
                    .build(),
            );
        }
        let tables = dynamo::tables_of(&writes);
        let written = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        dynamo::condition_held(written, &tables)
    }

    async fn record_history(&self, order_id: &OrderId, step: &Step) -> Result<bool, StoreError> {
        let put = self.history_put(order_id, step)?;
        let written = self
            .client
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .condition_expression("attribute_not_exists(orderId)")
            .send()
            .await;
        dynamo::condition_held(written, &self.table)
    }

    async fn pending_placed_before(&self, cutoff: &Timestamp) -> Result<Vec<OrderId>, StoreError> {
        let keys = dynamo::all_pages(|start_key| async {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("pending")
                .key_condition_expression("pending = :pending AND placedAt < :cutoff")
                .expression_attribute_values(":pending", text(PENDING))
                .expression_attribute_values(":cutoff", text(cutoff.as_str()))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .on_table(&self.table)?;
            Ok((page.items.unwrap_or_default(), page.last_evaluated_key))
        })
        .await?;
        keys.iter()
            .map(|key| {
                OrderId::parse(&string(key, "orderId")?).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }
}

/// The event id inside an outbox entry's detail (the outbox item's key).
fn event_id_of(entry: &Entry) -> Result<String, StoreError> {
    let detail: serde_json::Value =
        serde_json::from_str(&entry.detail).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    detail["metadata"]["eventId"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| StoreError::Corrupt("an outbox event has no metadata.eventId".into()))
}

fn order_record(item: Item) -> Result<OrderRecord, StoreError> {
    let status = match string(&item, "status")?.as_str() {
        "PENDING" => OrderStatus::Pending,
        "CONFIRMED" => OrderStatus::Confirmed,
        "FAILED" => OrderStatus::Failed,
        other => return Err(StoreError::Corrupt(format!("order status {other:?}"))),
    };
    let optional = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    Ok(OrderRecord {
        status,
        tracking_id: optional("trackingId"),
        failure_reason: optional("failureReason"),
        flagged: matches!(item.get("flagged"), Some(AttributeValue::Bool(true))),
        updated_at: timestamp(&item, "updatedAt")?,
        traceparent: optional("traceparent"),
        history: Vec::new(),
        // The order's own fields; the saga's attributes beside them are ignored.
        order: serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(format!("order item: {e}")))?,
    })
}

fn timestamp(item: &Item, name: &str) -> Result<Timestamp, StoreError> {
    Timestamp::parse(&string(item, name)?)
        .map_err(|e| StoreError::Corrupt(format!("order table item {name}: {e}")))
}

fn text(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn string(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(StoreError::Corrupt(format!(
            "order table item has no text {name}"
        ))),
    }
}
