//! Shipping a paid order (the `shipping` queue, PaymentSucceeded): the
//! shipment is recorded with a new tracking id on the condition that the
//! order has none yet, then OrderShipped is published. A redelivered event
//! finds the shipment on record and publishes OrderShipped again with the
//! same tracking id, so a crash between the write and the publish loses
//! nothing and an order never gets two tracking ids.

use std::future::Future;

use astroshop_domain::events::{Envelope, OrderShipped, PaymentSucceeded};
use astroshop_domain::shipping::Address;
use astroshop_domain::{OrderId, Timestamp};
use astroshop_saga::{Delivery, EventBus, StepError, now};
use astroshop_store::StoreError;
use serde::{Deserialize, Serialize};

/// An order on its way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shipment {
    pub order_id: OrderId,
    pub tracking_id: String,
    pub shipped_at: Timestamp,
    pub address: Address,
}

/// Where shipments are recorded.
pub trait ShipmentStore {
    /// Records `shipment` unless its order has one already; the shipment on
    /// record either way.
    fn record_shipment(
        &self,
        shipment: Shipment,
    ) -> impl Future<Output = Result<Shipment, StoreError>> + Send;
}

/// A tracking id: a random UUID, as the demo's shipping service issues.
pub fn new_tracking_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Ships a paid order, once, and announces it.
pub async fn ship_paid_order(
    shipments: &impl ShipmentStore,
    publisher: &impl EventBus,
    delivery: Delivery,
) -> Result<(), StepError> {
    let paid: PaymentSucceeded = delivery.expect()?;
    let shipment = shipments
        .record_shipment(Shipment {
            order_id: paid.order.order_id.clone(),
            tracking_id: new_tracking_id(),
            shipped_at: Timestamp::from(now()),
            address: paid.order.shipping_address.clone(),
        })
        .await?;
    tracing::info!(tracking_id = shipment.tracking_id, "order shipped");
    let shipped = OrderShipped {
        order: paid.order,
        tracking_id: shipment.tracking_id,
    };
    publisher
        .publish(&Envelope::following(delivery.metadata(), shipped, now()))
        .await?;
    Ok(())
}
