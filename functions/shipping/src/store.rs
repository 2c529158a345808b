//! The `Shipments` table: one item per shipped order (pk `orderId`,
//! `trackingId`, `shippedAt`, `address`), written only if the order has
//! none, so its tracking id never changes.

use astroshop_store::{MissingSetting, StoreError, setting};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use crate::ship::{Shipment, ShipmentStore};

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
}

fn corrupt(error: serde_dynamo::Error) -> StoreError {
    StoreError::Corrupt(format!("shipment: {error}"))
}

impl ShipmentStore for ShipmentTable {
    async fn record_shipment(&self, shipment: Shipment) -> Result<Shipment, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(&shipment).map_err(corrupt)?))
            .condition_expression("attribute_not_exists(orderId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(shipment),
            Err(error) => error,
        };
        match error.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                let earlier = failed
                    .item()
                    .ok_or_else(|| StoreError::Corrupt("a refused shipment returned no item".to_owned()))?;
                serde_dynamo::from_item(earlier.clone()).map_err(corrupt)
            }
            _ => Err(error.into()),
        }
    }
}
