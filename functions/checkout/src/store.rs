//! Checkout's adapter: placing an order in one DynamoDB transaction across the `Orders` table (the order and its
//! first event, laid out by the Orders table's shared adapter) and the
//! `Idempotency` table (the key, when the client sent one).

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use astroshop_domain::OrderId;
use astroshop_domain::order::Order;
use astroshop_saga::Entry;
use astroshop_store::dynamo::{self, OnTable};
use astroshop_store::{MissingSetting, OrderRecord, OrderRecords, OrderTable, StoreError, setting};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use time::OffsetDateTime;

/// How long an Idempotency-Key is remembered.
pub const IDEMPOTENCY_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// A client's Idempotency-Key, taken for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// `<userId>#<Idempotency-Key>`.
    pub key: String,
    pub request_hash: String,
}

/// An Idempotency-Key already taken, and the order it placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub request_hash: String,
    pub order_id: OrderId,
}

/// Everything one checkout writes.
#[derive(Debug, Clone)]
pub struct Placement {
    pub order: Order,
    pub traceparent: String,
    pub order_placed: Entry,
    pub claim: Option<Claim>,
    pub now: OffsetDateTime,
}

/// What placing found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    Placed,
    /// Nothing was written: a condition refused it (the claim's key taken
    /// meanwhile, or a concurrent request on it).
    Refused,
}

/// Where orders are placed and found.
pub trait OrderBook {
    fn place(&self, placement: &Placement) -> impl Future<Output = Result<Placed, StoreError>> + Send;
    fn claimed(&self, key: &str) -> impl Future<Output = Result<Option<Claimed>, StoreError>> + Send;
    fn order(&self, id: &OrderId) -> impl Future<Output = Result<Option<OrderRecord>, StoreError>> + Send;
}

#[derive(Clone, Debug)]
pub struct CheckoutTables {
    client: Client,
    orders: OrderTable,
    idempotency_table: String,
}

impl CheckoutTables {
    pub fn new(
        client: Client,
        orders_table: impl Into<String>,
        idempotency_table: impl Into<String>,
    ) -> Self {
        Self {
            orders: OrderTable::new(client.clone(), orders_table),
            client,
            idempotency_table: idempotency_table.into(),
        }
    }

    /// The tables named by `ORDERS_TABLE` and `IDEMPOTENCY_TABLE`.
    pub fn from_env(client: Client) -> Result<Self, MissingSetting> {
        Ok(Self::new(
            client,
            setting("ORDERS_TABLE")?,
            setting("IDEMPOTENCY_TABLE")?,
        ))
    }

    fn claim_put(&self, claim: &Claim, order: &OrderId, now: OffsetDateTime) -> Result<Put, StoreError> {
        let expires_at = (now + IDEMPOTENCY_LIFETIME).unix_timestamp();
        Put::builder()
            .table_name(&self.idempotency_table)
            .item("key", AttributeValue::S(claim.key.clone()))
            .item("requestHash", AttributeValue::S(claim.request_hash.clone()))
            .item("orderId", AttributeValue::S(order.to_string()))
            .item("expiresAt", AttributeValue::N(expires_at.to_string()))
            // A record past its expiry may still be stored (TTL deletes lazily); it holds nothing.
            .condition_expression("attribute_not_exists(#key) OR expiresAt <= :now")
            .expression_attribute_names("#key", "key")
            .expression_attribute_values(":now", AttributeValue::N(now.unix_timestamp().to_string()))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

impl OrderBook for CheckoutTables {
    async fn place(&self, placement: &Placement) -> Result<Placed, StoreError> {
        let order_id = &placement.order.order_id;
        let mut writes: Vec<TransactWriteItem> = self
            .orders
            .placement(
                &placement.order,
                &placement.traceparent,
                &placement.order_placed,
                placement.now,
            )?
            .into();
        if let Some(claim) = &placement.claim {
            let put = self.claim_put(claim, order_id, placement.now)?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        let tables = dynamo::tables_of(&writes);
        let written = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        Ok(if dynamo::condition_held(written, &tables)? {
            Placed::Placed
        } else {
            Placed::Refused
        })
    }

    async fn claimed(&self, key: &str) -> Result<Option<Claimed>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.idempotency_table)
            .key("key", AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .on_table(&self.idempotency_table)?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let text = |item: &HashMap<String, AttributeValue>, name: &str| match item.get(name) {
            Some(AttributeValue::S(value)) => Ok(value.clone()),
            _ => Err(StoreError::Corrupt(format!(
                "idempotency record {key} has no {name}"
            ))),
        };
        let expired = match item.get("expiresAt") {
            Some(AttributeValue::N(at)) => at
                .parse::<i64>()
                .is_ok_and(|at| at <= OffsetDateTime::now_utc().unix_timestamp()),
            _ => false,
        };
        if expired {
            return Ok(None);
        }
        Ok(Some(Claimed {
            request_hash: text(&item, "requestHash")?,
            order_id: OrderId::parse(&text(&item, "orderId")?)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        }))
    }

    async fn order(&self, id: &OrderId) -> Result<Option<OrderRecord>, StoreError> {
        self.orders.order(id).await
    }
}
