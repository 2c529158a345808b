//! The `Ledger` table: the shards of the daily totals (pk
//! `<currency>#<day>#<shard>`: `currencyCode`, `day`, `totalNanos`,
//! `orders`) and one marker per order counted (pk `ORDER#<orderId>`). The
//! marker's put (on the condition that it is new) and the shard's `ADD` are
//! one transaction, so an order is counted exactly once, under any number of
//! concurrent duplicate deliveries.

use std::future::Future;

use astroshop_domain::{CurrencyCode, Timestamp};
use astroshop_store::dynamo::{self, Item};
use astroshop_store::{MissingSetting, StoreError, setting};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, Put, TransactWriteItem, Update};
use time::Date;

use crate::{DailyTotal, LedgerEntry};

/// What counting an order did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Added,
    /// The order's marker was already there: it had been counted before.
    AlreadyCounted,
}

/// Why an order was not counted.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Another transaction held the item of the order's total: nothing was
    /// written, and the same transaction can succeed a moment later.
    #[error("a concurrent transaction on the order's daily total cancelled the count")]
    Conflict(#[source] StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LedgerError {
    /// A transaction DynamoDB refused on `tables`: a conflict when every
    /// item it cancelled was cancelled for another transaction's sake,
    /// otherwise an error of the store.
    pub fn refused(error: SdkError<TransactWriteItemsError, HttpResponse>, tables: &str) -> Self {
        let conflict = match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                only_conflicts(cancelled.cancellation_reasons())
            }
            _ => false,
        };
        let error = StoreError::dynamo(error, tables);
        if conflict {
            Self::Conflict(error)
        } else {
            Self::Store(error)
        }
    }
}

/// Whether a transaction was cancelled by conflicts alone (an item that was
/// not the cause carries `None`).
fn only_conflicts(reasons: &[CancellationReason]) -> bool {
    let conflict = |reason: &CancellationReason| reason.code() == Some("TransactionConflict");
    reasons.iter().any(conflict)
        && reasons
            .iter()
            .all(|reason| conflict(reason) || matches!(reason.code(), None | Some("None")))
}

/// Where the takings are kept.
pub trait Ledger {
    /// Adds the entry to its total in one transaction with its marker: one
    /// attempt, which a concurrent transaction can cancel
    /// ([`LedgerError::Conflict`]).
    fn count(&self, entry: &LedgerEntry) -> impl Future<Output = Result<Counted, LedgerError>> + Send;
}

#[derive(Clone, Debug)]
pub struct LedgerTable {
    client: Client,
    table: String,
}

impl LedgerTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `LEDGER_TABLE`.
    pub fn from_env(client: Client) -> Result<Self, MissingSetting> {
        Ok(Self::new(client, setting("LEDGER_TABLE")?))
    }

    /// A currency's total on `day`: its shards, read strongly consistent,
    /// summed.
    pub async fn daily_total(&self, currency: &CurrencyCode, day: Date) -> Result<DailyTotal, StoreError> {
        let keys = DailyTotal::keys(currency, day)
            .map(|key| Item::from([("pk".to_owned(), AttributeValue::S(key))]))
            .collect();
        let mut total = DailyTotal::default();
        for shard in dynamo::get_batches(&self.client, &self.table, keys).await? {
            total.total_nanos += number::<i128>(&shard, "totalNanos")?;
            total.orders += number::<u64>(&shard, "orders")?;
        }
        Ok(total)
    }

    fn marker(&self, entry: &LedgerEntry) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(format!("ORDER#{}", entry.order_id)))
            .item("orderId", AttributeValue::S(entry.order_id.to_string()))
            .item("total", AttributeValue::S(entry.total_key()))
            .item("amountNanos", AttributeValue::N(entry.amount_nanos.to_string()))
            .item(
                "countedAt",
                AttributeValue::S(Timestamp::from(astroshop_saga::now()).into()),
            )
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn addition(&self, entry: &LedgerEntry) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(entry.total_key()))
            .update_expression(
                "ADD totalNanos :amount, orders :one SET currencyCode = :currency, #day = :day",
            )
            // `day` is one of DynamoDB's reserved words.
            .expression_attribute_names("#day", "day")
            .expression_attribute_values(":amount", AttributeValue::N(entry.amount_nanos.to_string()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":currency", AttributeValue::S(entry.currency.to_string()))
            .expression_attribute_values(":day", AttributeValue::S(entry.day.to_string()))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

impl Ledger for LedgerTable {
    async fn count(&self, entry: &LedgerEntry) -> Result<Counted, LedgerError> {
        let items = [self.marker(entry)?, self.addition(entry)?];
        let tables = dynamo::tables_of(&items);
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items.into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Counted::Added),
            Err(error) if marker_existed(&error) => Ok(Counted::AlreadyCounted),
            Err(error) => Err(LedgerError::refused(error, &tables)),
        }
    }
}

/// Whether the transaction was cancelled because the order's marker (its
/// first item) was already there.
fn marker_existed(error: &SdkError<TransactWriteItemsError, HttpResponse>) -> bool {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled
                .cancellation_reasons()
                .first()
                .and_then(|reason| reason.code())
                == Some("ConditionalCheckFailed")
        }
        _ => false,
    }
}

/// A number attribute of a shard.
fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    item.get(name)
        .and_then(|value| value.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("ledger shard without a whole number {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(codes: &[&str]) -> Vec<CancellationReason> {
        codes
            .iter()
            .map(|code| CancellationReason::builder().code(*code).build())
            .collect()
    }

    #[test]
    fn a_transaction_cancelled_by_conflicts_alone_is_a_conflict() {
        assert!(only_conflicts(&reasons(&["None", "TransactionConflict"])));
        assert!(only_conflicts(&reasons(&[
            "TransactionConflict",
            "TransactionConflict"
        ])));
        assert!(only_conflicts(&[
            CancellationReason::builder().build(),
            reasons(&["TransactionConflict"]).remove(0)
        ]));
    }

    #[test]
    fn any_other_reason_makes_a_cancellation_an_error() {
        assert!(!only_conflicts(&reasons(&["None", "None"])));
        assert!(!only_conflicts(&reasons(&[])));
        assert!(!only_conflicts(&reasons(&[
            "ValidationError",
            "TransactionConflict"
        ])));
        assert!(!only_conflicts(&reasons(&["None", "ThrottlingError"])));
    }
}
