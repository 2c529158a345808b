//! The `Shipments` table: at most one item per order (pk `orderId`), written
//! only if the order has none, so its tracking id never changes and a
//! withheld order never ships. The item is either
//! - a shipment: `trackingId`, `shippedAt`, `address`, and `recall`
//!   (`recalledAt`, `reason`) once its order failed after it shipped, the
//!   only change a shipment ever gets; or
//! - a withheld order: `withheldAt` and `reason`, and no `trackingId`.

use astroshop_domain::OrderId;
use astroshop_store::dynamo::{Item, OnTable};
use astroshop_store::{MissingSetting, StoreError, setting};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde::Serialize;

use crate::ship::{Dispatch, Recall, Shipment, ShipmentStore, Withholding};

#[derive(Clone, Debug)]
pub struct ShipmentTable {
    client: Client,
    table: String,
}

impl ShipmentTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `SHIPMENTS_TABLE`.
    pub fn from_env(client: Client) -> Result<Self, MissingSetting> {
        Ok(Self::new(client, setting("SHIPMENTS_TABLE")?))
    }

    /// Writes `record` unless the order has an item; the item it has
    /// instead, if any.
    async fn put_first(&self, record: &impl Serialize) -> Result<Option<Item>, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(record).map_err(corrupt)?))
            .condition_expression("attribute_not_exists(orderId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(None),
            Err(error) => error,
        };
        match error.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(failed)) => failed
                .item()
                .cloned()
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt("a refused shipment returned no item".to_owned())),
            _ => Err(error).on_table(&self.table),
        }
    }
}

fn corrupt(error: serde_dynamo::Error) -> StoreError {
    StoreError::Corrupt(format!("shipment: {error}"))
}

/// An item read back: a shipment has a tracking id, a withheld order none.
fn dispatch(item: Item) -> Result<Dispatch, StoreError> {
    if item.contains_key("trackingId") {
        serde_dynamo::from_item(item).map(Dispatch::Shipped)
    } else {
        serde_dynamo::from_item(item).map(Dispatch::Withheld)
    }
    .map_err(corrupt)
}

impl ShipmentStore for ShipmentTable {
    async fn record_shipment(&self, shipment: Shipment) -> Result<Dispatch, StoreError> {
        match self.put_first(&shipment).await? {
            None => Ok(Dispatch::Shipped(shipment)),
            Some(earlier) => dispatch(earlier),
        }
    }

    async fn withhold(&self, withholding: Withholding) -> Result<Dispatch, StoreError> {
        match self.put_first(&withholding).await? {
            None => Ok(Dispatch::Withheld(withholding)),
            Some(earlier) => dispatch(earlier),
        }
    }

    async fn recall(&self, order_id: &OrderId, recall: Recall) -> Result<Shipment, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("orderId", AttributeValue::S(order_id.to_string()))
            .update_expression("SET recall = if_not_exists(recall, :recall)")
            .condition_expression("attribute_exists(trackingId)")
            .expression_attribute_values(
                ":recall",
                serde_dynamo::to_attribute_value(&recall).map_err(corrupt)?,
            )
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => {
                let item = output
                    .attributes
                    .ok_or_else(|| StoreError::Corrupt("a recalled shipment returned no item".to_owned()))?;
                serde_dynamo::from_item(item).map_err(corrupt)
            }
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Err(StoreError::Missing(format!(
                    "order {order_id} has no shipment to recall"
                )))
            }
            Err(error) => Err(error).on_table(&self.table),
        }
    }
}
