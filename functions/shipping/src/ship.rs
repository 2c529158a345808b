//! Shipping a paid order, and never a failed one (the `shipping` queue:
//! PaymentSucceeded, OrderFailed). An order has at most one record here,
//! written only if it has none: a shipment, or the note that it is withheld.
//!
//! PaymentSucceeded records the shipment with a new tracking id, then
//! publishes OrderShipped. A redelivered event finds the shipment on record
//! and publishes OrderShipped again with the same tracking id, so a crash
//! between the write and the publish loses nothing and an order never gets
//! two tracking ids. If the order failed first, its payment finds it
//! withheld: nothing ships, and ShipmentWithheld tells the order's history
//! why.
//!
//! OrderFailed withholds the order, so a payment arriving late (delayed in
//! the queue, redriven from its dead-letter queue) ships nothing. If the
//! order shipped first, its shipment is marked recalled instead; the charge
//! is refunded on OrderFailed by payment-refund either way.

use std::future::Future;

use astroshop_domain::events::{Envelope, OrderFailed, OrderShipped, PaymentSucceeded, ShipmentWithheld};
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
    /// Set once, when the order failed after it shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall: Option<Recall>,
}

/// A shipment called back: its order failed after it left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recall {
    pub recalled_at: Timestamp,
    pub reason: String,
}

/// An order that must never ship: it failed before it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Withholding {
    pub order_id: OrderId,
    pub withheld_at: Timestamp,
    pub reason: String,
}

/// What shipping has on record for an order: one or the other, never both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    Shipped(Shipment),
    Withheld(Withholding),
}

/// Where shipments and withheld orders are recorded.
pub trait ShipmentStore {
    /// Records `shipment` unless its order has a record already; the record
    /// on file either way.
    fn record_shipment(
        &self,
        shipment: Shipment,
    ) -> impl Future<Output = Result<Dispatch, StoreError>> + Send;

    /// Records that the order must never ship, unless it has a record
    /// already; the record on file either way.
    fn withhold(&self, withholding: Withholding)
    -> impl Future<Output = Result<Dispatch, StoreError>> + Send;

    /// Marks the order's shipment recalled, unless it was before (the first
    /// recall stays); the shipment as it stands.
    fn recall(
        &self,
        order_id: &OrderId,
        recall: Recall,
    ) -> impl Future<Output = Result<Shipment, StoreError>> + Send;
}

/// A tracking id: a random UUID, as the demo's shipping service issues.
pub fn new_tracking_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The `shipping` queue's consumer: a paid order ships, a failed one never does.
pub async fn ship_or_withhold(
    shipments: &impl ShipmentStore,
    publisher: &impl EventBus,
    delivery: Delivery,
) -> Result<(), StepError> {
    if delivery.is::<OrderFailed>() {
        withhold_failed_order(shipments, delivery).await
    } else {
        ship_paid_order(shipments, publisher, delivery).await
    }
}

/// Ships a paid order, once, and announces it; or, if the order failed
/// before, tells why nothing ships.
pub async fn ship_paid_order(
    shipments: &impl ShipmentStore,
    publisher: &impl EventBus,
    delivery: Delivery,
) -> Result<(), StepError> {
    let paid: PaymentSucceeded = delivery.expect()?;
    let on_record = shipments
        .record_shipment(Shipment {
            order_id: paid.order.order_id.clone(),
            tracking_id: new_tracking_id(),
            shipped_at: Timestamp::from(now()),
            address: paid.order.shipping_address.clone(),
            recall: None,
        })
        .await?;
    match on_record {
        Dispatch::Shipped(shipment) if shipment.recall.is_some() => {
            tracing::info!(
                tracking_id = shipment.tracking_id,
                "payment redelivered for a recalled shipment; nothing announced"
            );
            Ok(())
        }
        Dispatch::Shipped(shipment) => {
            tracing::info!(tracking_id = shipment.tracking_id, "order shipped");
            let shipped = OrderShipped {
                order: paid.order,
                tracking_id: shipment.tracking_id,
            };
            publisher
                .publish(&Envelope::following(
                    delivery.metadata(),
                    shipped,
                    now(),
                    astroshop_telemetry::current_traceparent(),
                ))
                .await?;
            Ok(())
        }
        Dispatch::Withheld(withheld) => {
            tracing::warn!(
                reason = withheld.reason,
                "payment for a withheld order; nothing shipped"
            );
            let withheld = ShipmentWithheld {
                order_id: withheld.order_id,
                reason: withheld.reason,
            };
            publisher
                .publish(&Envelope::following(
                    delivery.metadata(),
                    withheld,
                    now(),
                    astroshop_telemetry::current_traceparent(),
                ))
                .await?;
            Ok(())
        }
    }
}

/// Makes sure a failed order never ships: withheld if it has not shipped,
/// recalled if it has.
pub async fn withhold_failed_order(
    shipments: &impl ShipmentStore,
    delivery: Delivery,
) -> Result<(), StepError> {
    let failed: OrderFailed = delivery.expect()?;
    let order_id = failed.order.order_id;
    let reason = format!("the order failed ({})", failed.reason);
    let at = Timestamp::from(now());
    let on_record = shipments
        .withhold(Withholding {
            order_id: order_id.clone(),
            withheld_at: at.clone(),
            reason: reason.clone(),
        })
        .await?;
    match on_record {
        Dispatch::Withheld(_) => {
            tracing::info!("failed order withheld; it will never ship");
        }
        Dispatch::Shipped(_) => {
            let recall = Recall {
                recalled_at: at,
                reason,
            };
            let shipment = shipments.recall(&order_id, recall).await?;
            tracing::warn!(
                tracking_id = shipment.tracking_id,
                "the order failed after it shipped; its shipment is recalled"
            );
        }
    }
    Ok(())
}
