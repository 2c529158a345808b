//! The `Ledger` table: daily totals (pk `<currency>#<day>`: `currencyCode`,
//! `day`, `totalNanos`, `orders`) and one marker per order counted (pk
//! `ORDER#<orderId>`). The marker's put (on the condition that it is new)
//! and the total's `ADD` are one transaction, so an order is counted exactly
//! once, under any number of concurrent duplicate deliveries.

use std::future::Future;

use astroshop_domain::Timestamp;
use astroshop_store::{MissingSetting, StoreError, setting};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use crate::LedgerEntry;

/// What counting an order did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Added,
    /// The order's marker was already there: it had been counted before.
    AlreadyCounted,
}

/// Where the takings are kept.
pub trait Ledger {
    fn count(&self, entry: &LedgerEntry) -> impl Future<Output = Result<Counted, StoreError>> + Send;
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
    async fn count(&self, entry: &LedgerEntry) -> Result<Counted, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.marker(entry)?)
            .transact_items(self.addition(entry)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Counted::Added),
            Err(error) => match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
                    if cancelled
                        .cancellation_reasons()
                        .first()
                        .and_then(|reason| reason.code())
                        == Some("ConditionalCheckFailed") =>
                {
                    Ok(Counted::AlreadyCounted)
                }
                // A conflict with a concurrent transaction on the same total
                // is an error: the message is retried and then finds the marker.
                _ => Err(error.into()),
            },
        }
    }
}
