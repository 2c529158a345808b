//! The `Payments` table: at most one payment per order (pk `orderId`), in
//! the shape the API shows. A payment is created once, with
//! `attribute_not_exists`, as CHARGED, DECLINED or VOIDED (the order failed
//! before any charge, so none may happen later); the only change after that
//! is CHARGED → REFUNDED, conditional on it still being CHARGED. So whatever
//! is redelivered, an order is charged at most once and refunded at most once.

use std::future::Future;

use astroshop_domain::card::CardType;
use astroshop_domain::{Money, OrderId, Timestamp};
use astroshop_store::dynamo::OnTable;
use astroshop_store::{MissingSetting, StoreError, setting};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// The card was charged the order's total.
    Charged,
    /// The card was not charged.
    Declined,
    /// The order failed before it was charged; it never will be.
    Voided,
    /// The charge was given back.
    Refunded,
}

/// An order's payment: only the card's type and last four digits are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub order_id: OrderId,
    pub status: PaymentStatus,
    pub amount: Money,
    pub card_type: CardType,
    pub last4: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// Why it was declined or voided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charged_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declined_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voided_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<Timestamp>,
}

/// What a refund found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refund {
    /// The charge is refunded now.
    Refunded(Payment),
    /// The order was not charged (or not any more): its payment, if any.
    NotCharged(Option<Payment>),
}

/// Recording and reading payments.
pub trait Payments {
    /// Records the order's payment unless it has one; the one it has instead.
    fn record(&self, payment: &Payment) -> impl Future<Output = Result<Option<Payment>, StoreError>> + Send;
    fn payment(&self, order: &OrderId) -> impl Future<Output = Result<Option<Payment>, StoreError>> + Send;
    /// Marks a charge refunded, if the order's payment is a charge.
    fn refund(
        &self,
        order: &OrderId,
        at: &Timestamp,
    ) -> impl Future<Output = Result<Refund, StoreError>> + Send;
}

#[derive(Clone, Debug)]
pub struct PaymentsTable {
    client: Client,
    table: String,
}

impl PaymentsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `PAYMENTS_TABLE`.
    pub fn from_env(client: Client) -> Result<Self, MissingSetting> {
        Ok(Self::new(client, setting("PAYMENTS_TABLE")?))
    }

    fn key(order: &OrderId) -> AttributeValue {
        AttributeValue::S(order.to_string())
    }
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn read(item: std::collections::HashMap<String, AttributeValue>) -> Result<Payment, StoreError> {
    serde_dynamo::from_item(item).map_err(corrupt)
}

impl Payments for PaymentsTable {
    async fn record(&self, payment: &Payment) -> Result<Option<Payment>, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(payment).map_err(corrupt)?))
            .condition_expression("attribute_not_exists(orderId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => match failed.item() {
                    Some(existing) => read(existing.clone()).map(Some),
                    None => self.payment(&payment.order_id).await,
                },
                _ => Err(error).on_table(&self.table),
            },
        }
    }

    async fn payment(&self, order: &OrderId) -> Result<Option<Payment>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("orderId", Self::key(order))
            .consistent_read(true)
            .send()
            .await
            .on_table(&self.table)?;
        output.item.map(read).transpose()
    }

    async fn refund(&self, order: &OrderId, at: &Timestamp) -> Result<Refund, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("orderId", Self::key(order))
            .update_expression("SET #status = :refunded, refundedAt = :at")
            .condition_expression("#status = :charged")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":refunded", AttributeValue::S("REFUNDED".into()))
            .expression_attribute_values(":charged", AttributeValue::S("CHARGED".into()))
            .expression_attribute_values(":at", AttributeValue::S(at.to_string()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Refund::Refunded(read(output.attributes.unwrap_or_default())?)),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Refund::NotCharged(failed.item().cloned().map(read).transpose()?))
                }
                _ => Err(error).on_table(&self.table),
            },
        }
    }
}
