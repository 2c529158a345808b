//! The `Inventory` table: one stock item per product (`{productId,
//! available, stocked}`) and one reservation item per order (`productId` =
//! `RES#<orderId>`, `status`, `items`). Product ids cannot contain `#`, so the
//! two never meet. Only stock items carry `stocked`, the key of the sparse,
//! keys-only `stock` index: the listing finds the products there, however
//! many reservations the orders left, and a change of a count never writes to
//! the index.
//!
//! Every change of stock is a condition inside a transaction: a hold succeeds
//! only while `available >= quantity` and only once per order (the
//! reservation is created with `attribute_not_exists`), and a release only
//! while the reservation is still `RESERVED`. Stock never goes negative and
//! no unit is held or given back twice, whatever runs at the same time.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use astroshop_domain::order::OrderId;
use astroshop_domain::{CartLine, ProductId};
use astroshop_store::dynamo::{self, Item, OnTable};
use astroshop_store::{Backoff, MissingSetting, StoreError, setting};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};

/// One product's stock, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockLevel {
    pub product_id: ProductId,
    pub available: u64,
}

/// Reading and setting stock counts.
pub trait StockLevels {
    /// Up to `limit` products' stock, ordered by product id, after the
    /// product `after`; and whether more follow.
    fn stock_levels(
        &self,
        after: Option<&ProductId>,
        limit: usize,
    ) -> impl Future<Output = Result<(Vec<StockLevel>, bool), StoreError>> + Send;
    /// One product's stock; none for a product that was never stocked.
    fn stock_level(
        &self,
        product: &ProductId,
    ) -> impl Future<Output = Result<Option<StockLevel>, StoreError>> + Send;
    /// Sets the count, creating the stock item if the product had none.
    fn set_stock(
        &self,
        product: &ProductId,
        available: u64,
    ) -> impl Future<Output = Result<StockLevel, StoreError>> + Send;
}

/// Where an order's reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReservationStatus {
    /// Every unit of the order is held for it.
    Reserved,
    /// The order could not be held; nothing was.
    Failed,
    /// What was held is given back, or (with no items) release came first and
    /// nothing may be held for the order any more.
    Released,
}

/// An order's reservation record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    pub status: ReservationStatus,
    /// The order's lines when they were held (empty when nothing ever was).
    #[serde(default)]
    pub items: Vec<CartLine>,
    /// Why holding failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What an attempt to hold an order's units found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Every unit is held now.
    Held,
    /// Some line is short (the reason names each); nothing was held.
    Short(String),
    /// The order has a reservation record already; nothing changed.
    AlreadyRecorded(Reservation),
}

/// What a release found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// These lines were held and are available again now.
    Returned(Vec<CartLine>),
    /// The reservation changed between reading and releasing it; read again.
    Changed,
}

/// Holding and releasing orders' units.
pub trait Reservations {
    /// Holds every line of the order, all or none, once per order.
    fn hold(
        &self,
        order: &OrderId,
        lines: &[CartLine],
    ) -> impl Future<Output = Result<Hold, StoreError>> + Send;
    /// Records that the order could not be held; the record already there
    /// (if any) instead.
    fn record_failure(
        &self,
        order: &OrderId,
        lines: &[CartLine],
        reason: &str,
    ) -> impl Future<Output = Result<Option<Reservation>, StoreError>> + Send;
    /// The order's reservation record, read consistently.
    fn reservation(
        &self,
        order: &OrderId,
    ) -> impl Future<Output = Result<Option<Reservation>, StoreError>> + Send;
    /// Gives back what `held` holds, if it is still held.
    fn release(
        &self,
        order: &OrderId,
        held: &Reservation,
    ) -> impl Future<Output = Result<Release, StoreError>> + Send;
    /// Records, when the order has no reservation, that it is released, so a
    /// hold arriving later holds nothing; false when a record appeared first.
    fn leave_tombstone(&self, order: &OrderId) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[derive(Clone, Debug)]
pub struct InventoryTable {
    client: Client,
    table: String,
}

/// DynamoDB takes at most 100 items in one transaction; one is the reservation.
pub const MAX_PRODUCTS_PER_ORDER: usize = 99;
/// Pauses before trying again a transaction cancelled only because another
/// one touched the same items: such a conflict clears in milliseconds, so
/// 25 ms doubling to 400 ms, at most 0.8 s for one transaction (five
/// retries, 775 ms at worst). A release runs at most `RELEASE_ROUNDS` (3)
/// transactions, so one message pauses less than 2.4 s in all, well inside
/// the function's 10 s; a conflict still there is an error, and the queue
/// delivers the message again later.
const CONFLICTS: Backoff = Backoff::new(
    Duration::from_millis(25),
    Duration::from_millis(400),
    Duration::from_millis(800),
);

impl InventoryTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `INVENTORY_TABLE`.
    pub fn from_env(client: Client) -> Result<Self, MissingSetting> {
        Ok(Self::new(client, setting("INVENTORY_TABLE")?))
    }

    fn reservation_key(order: &OrderId) -> AttributeValue {
        AttributeValue::S(format!("RES#{order}"))
    }

    fn reservation_item(order: &OrderId, reservation: &Reservation) -> Result<Item, StoreError> {
        let mut item: Item = serde_dynamo::to_item(reservation).map_err(corrupt)?;
        item.insert("productId".into(), Self::reservation_key(order));
        item.insert("at".into(), AttributeValue::S(now()));
        Ok(item)
    }

    /// Writes the order's first reservation record; false when it has one.
    async fn put_reservation(&self, order: &OrderId, reservation: &Reservation) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::reservation_item(order, reservation)?))
            .condition_expression("attribute_not_exists(productId)")
            .send()
            .await;
        dynamo::condition_held(result, &self.table)
    }

    /// Runs a transaction: `Ok(None)` when it committed, the cancellation
    /// reasons (one per item, in order) when a condition did not hold.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<CancellationReason>>, StoreError> {
        let tables = dynamo::tables_of(&items);
        let mut retries = CONFLICTS.retries();
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(None),
                Err(error) => error,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                error.as_service_error()
            else {
                return Err(error).on_table(&tables);
            };
            let reasons = cancelled.cancellation_reasons().to_vec();
            if reasons.iter().any(|r| r.code() == Some(CONDITION_FAILED)) {
                return Ok(Some(reasons));
            }
            let only_conflicts = reasons
                .iter()
                .all(|r| matches!(r.code(), None | Some("None" | "TransactionConflict")));
            if !only_conflicts || !retries.pause().await {
                return Err(error).on_table(&tables);
            }
        }
    }
}

const CONDITION_FAILED: &str = "ConditionalCheckFailed";

fn now() -> String {
    astroshop_domain::Timestamp::from(astroshop_saga::now()).into()
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// The units an order takes of each product (an order may name a product on
/// more than one line).
fn units_per_product(lines: &[CartLine]) -> BTreeMap<&ProductId, u64> {
    let mut units = BTreeMap::new();
    for line in lines {
        *units.entry(&line.product_id).or_insert(0) += u64::from(line.quantity.get());
    }
    units
}

fn count(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("stock {name} {n:?} is not a count"))),
        _ => Err(StoreError::Corrupt(format!("stock item has no number {name}"))),
    }
}

/// The sparse index of stock items, and the value of their `stocked`.
const STOCK_INDEX: &str = "stock";

fn stocked() -> AttributeValue {
    AttributeValue::S("STOCK".to_owned())
}

fn read_stock(item: &Item) -> Result<StockLevel, StoreError> {
    let Some(AttributeValue::S(product)) = item.get("productId") else {
        return Err(StoreError::Corrupt("stock item has no productId".into()));
    };
    Ok(StockLevel {
        product_id: ProductId::parse(product).map_err(corrupt)?,
        available: count(item, "available")?,
    })
}

/// Why a line could not be held, from the stock item as the failed
/// condition saw it.
fn shortage(product: &ProductId, wanted: u64, seen: Option<&Item>) -> String {
    match seen.map(|item| count(item, "available")) {
        Some(Ok(available)) => format!("only {available} of {product} available, {wanted} ordered"),
        _ => format!("{product} is not stocked"),
    }
}

impl StockLevels for InventoryTable {
    async fn stock_levels(
        &self,
        after: Option<&ProductId>,
        limit: usize,
    ) -> Result<(Vec<StockLevel>, bool), StoreError> {
        let start = after.map(|product| {
            HashMap::from([
                ("stocked".to_owned(), stocked()),
                ("productId".to_owned(), AttributeValue::S(product.to_string())),
            ])
        });
        // The index holds only stocked products' keys, in id order: one more
        // than asked tells whether another page follows.
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(STOCK_INDEX)
            .key_condition_expression("stocked = :stocked")
            .expression_attribute_values(":stocked", stocked())
            .projection_expression("productId")
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .on_table(&self.table)?;
        let mut keys = page.items.unwrap_or_default();
        let more = keys.len() > limit;
        keys.truncate(limit);
        let items = dynamo::get_batches(&self.client, &self.table, keys).await?;
        let mut levels = items.iter().map(read_stock).collect::<Result<Vec<_>, _>>()?;
        levels.sort_by(|a, b| a.product_id.cmp(&b.product_id));
        Ok((levels, more))
    }

    async fn stock_level(&self, product: &ProductId) -> Result<Option<StockLevel>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("productId", AttributeValue::S(product.to_string()))
            .consistent_read(true)
            .send()
            .await
            .on_table(&self.table)?;
        output.item.as_ref().map(read_stock).transpose()
    }

    async fn set_stock(&self, product: &ProductId, available: u64) -> Result<StockLevel, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("productId", AttributeValue::S(product.to_string()))
            .update_expression("SET available = :available, stocked = :stocked, updatedAt = :at")
            .expression_attribute_values(":available", AttributeValue::N(available.to_string()))
            .expression_attribute_values(":stocked", stocked())
            .expression_attribute_values(":at", AttributeValue::S(now()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .on_table(&self.table)?;
        read_stock(&output.attributes.unwrap_or_default())
    }
}

impl Reservations for InventoryTable {
    async fn hold(&self, order: &OrderId, lines: &[CartLine]) -> Result<Hold, StoreError> {
        let units = units_per_product(lines);
        if units.len() > MAX_PRODUCTS_PER_ORDER {
            return Ok(Hold::Short(format!(
                "an order can hold at most {MAX_PRODUCTS_PER_ORDER} different products, this one has {}",
                units.len()
            )));
        }
        let reservation = Reservation {
            status: ReservationStatus::Reserved,
            items: lines.to_vec(),
            reason: None,
        };
        let claim = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::reservation_item(order, &reservation)?))
            .condition_expression("attribute_not_exists(productId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(corrupt)?;
        let mut items = vec![TransactWriteItem::builder().put(claim).build()];
        for (product, wanted) in &units {
            let take = Update::builder()
                .table_name(&self.table)
                .key("productId", AttributeValue::S(product.to_string()))
                .update_expression("SET available = available - :wanted")
                .condition_expression("available >= :wanted")
                .expression_attribute_values(":wanted", AttributeValue::N(wanted.to_string()))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .map_err(corrupt)?;
            items.push(TransactWriteItem::builder().update(take).build());
        }
        let Some(reasons) = self.transact(items).await? else {
            return Ok(Hold::Held);
        };
        let failed = |reason: &CancellationReason| reason.code() == Some(CONDITION_FAILED);
        if reasons.first().is_some_and(failed) {
            let existing = match reasons[0].item() {
                Some(item) => serde_dynamo::from_item(item.clone()).map_err(corrupt)?,
                None => self
                    .reservation(order)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("the reservation of {order} vanished")))?,
            };
            return Ok(Hold::AlreadyRecorded(existing));
        }
        let short: Vec<String> = units
            .iter()
            .zip(reasons.iter().skip(1))
            .filter(|(_, reason)| failed(reason))
            .map(|((product, wanted), reason)| shortage(product, *wanted, reason.item()))
            .collect();
        Ok(Hold::Short(short.join("; ")))
    }

    async fn record_failure(
        &self,
        order: &OrderId,
        lines: &[CartLine],
        reason: &str,
    ) -> Result<Option<Reservation>, StoreError> {
        let failure = Reservation {
            status: ReservationStatus::Failed,
            items: lines.to_vec(),
            reason: Some(reason.to_owned()),
        };
        if self.put_reservation(order, &failure).await? {
            Ok(None)
        } else {
            self.reservation(order).await
        }
    }

    async fn reservation(&self, order: &OrderId) -> Result<Option<Reservation>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("productId", Self::reservation_key(order))
            .consistent_read(true)
            .send()
            .await
            .on_table(&self.table)?;
        output
            .item
            .map(|item| serde_dynamo::from_item(item).map_err(corrupt))
            .transpose()
    }

    async fn release(&self, order: &OrderId, held: &Reservation) -> Result<Release, StoreError> {
        let mark_released = Update::builder()
            .table_name(&self.table)
            .key("productId", Self::reservation_key(order))
            .update_expression("SET #status = :released, releasedAt = :at")
            .condition_expression("#status = :reserved")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":released", AttributeValue::S("RELEASED".into()))
            .expression_attribute_values(":reserved", AttributeValue::S("RESERVED".into()))
            .expression_attribute_values(":at", AttributeValue::S(now()))
            .build()
            .map_err(corrupt)?;
        let mut items = vec![TransactWriteItem::builder().update(mark_released).build()];
        for (product, units) in units_per_product(&held.items) {
            let give_back = Update::builder()
                .table_name(&self.table)
                .key("productId", AttributeValue::S(product.to_string()))
                .update_expression("ADD available :units")
                .expression_attribute_values(":units", AttributeValue::N(units.to_string()))
                .build()
                .map_err(corrupt)?;
            items.push(TransactWriteItem::builder().update(give_back).build());
        }
        Ok(match self.transact(items).await? {
            None => Release::Returned(held.items.clone()),
            Some(_) => Release::Changed,
        })
    }

    async fn leave_tombstone(&self, order: &OrderId) -> Result<bool, StoreError> {
        let tombstone = Reservation {
            status: ReservationStatus::Released,
            items: Vec::new(),
            reason: None,
        };
        self.put_reservation(order, &tombstone).await
    }
}

#[cfg(test)]
mod tests {
    use astroshop_domain::Quantity;

    use super::*;

    fn line(product: &str, quantity: i64) -> CartLine {
        CartLine {
            product_id: ProductId::parse(product).unwrap(),
            quantity: Quantity::new(quantity).unwrap(),
        }
    }

    #[test]
    fn an_order_naming_a_product_twice_takes_the_sum_of_its_lines() {
        let lines = [line("A", 2), line("B", 1), line("A", 99)];
        let units: Vec<(String, u64)> = units_per_product(&lines)
            .into_iter()
            .map(|(product, units)| (product.to_string(), units))
            .collect();
        assert_eq!(units, [("A".to_owned(), 101), ("B".to_owned(), 1)]);
    }

    #[test]
    fn conflicts_pause_one_transaction_at_most_775_ms_and_one_message_under_2_4_s() {
        assert_eq!(CONFLICTS.worst_case(), Duration::from_millis(775));
        assert_eq!(CONFLICTS.retries().count(), 5);
        assert!(CONFLICTS.worst_case() * crate::RELEASE_ROUNDS < Duration::from_millis(2400));
    }

    #[test]
    fn a_shortage_says_how_many_are_left_or_that_none_ever_were() {
        let product = ProductId::parse("OLJCESPC7Z").unwrap();
        let seen: Item = [("available".to_owned(), AttributeValue::N("1".into()))].into();
        assert_eq!(
            shortage(&product, 2, Some(&seen)),
            "only 1 of OLJCESPC7Z available, 2 ordered"
        );
        assert_eq!(shortage(&product, 2, None), "OLJCESPC7Z is not stocked");
    }
}
