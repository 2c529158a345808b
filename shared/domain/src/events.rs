//! The saga's domain events, as they travel on the bus: an envelope with the
//! metadata every event carries and the `data` of one event type. The event
//! catalogue (`events/README.md`) documents each one and `events/schemas/`
//! holds their JSON schemas.
//!
//! Each event type happens at most once per order, so an event's id is
//! `<orderId>/<detail-type>`: a redelivered or re-published event carries
//! the same id as the first, and every consumer can tell.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::card::CardSummary;
use crate::cart::CartLine;
use crate::money::Money;
use crate::order::{Order, OrderId};
use crate::timestamp::Timestamp;

/// One event type: where it comes from and what it is called on the bus.
pub trait DomainEvent: Serialize {
    /// The EventBridge `source`, `astroshop.<service>`.
    const SOURCE: &'static str;
    /// The EventBridge `detail-type`, `<Name>.v1`.
    const DETAIL_TYPE: &'static str;

    fn order_id(&self) -> &OrderId;
}

/// The EventBridge `detail` of every event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    pub metadata: Metadata,
    pub data: T,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub event_id: String,
    pub occurred_at: Timestamp,
    /// The order the event belongs to: every event of one checkout shares it.
    pub correlation_id: String,
    /// The id of the event this one answers; none for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
    /// W3C trace context, so one checkout is one trace across every function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

impl<T: DomainEvent> Envelope<T> {
    /// The first event of a saga.
    pub fn first(data: T, at: OffsetDateTime, traceparent: Option<String>) -> Self {
        Self {
            metadata: Metadata {
                event_id: event_id::<T>(data.order_id()),
                occurred_at: Timestamp::from(at),
                correlation_id: data.order_id().to_string(),
                causation_id: None,
                traceparent,
            },
            data,
        }
    }

    /// An event answering `cause`: same correlation and trace. Its
    /// `traceparent` names the span that made it (the step handling
    /// `cause`), so the next step's span is that span's child; without one,
    /// the cause's.
    pub fn following(cause: &Metadata, data: T, at: OffsetDateTime, traceparent: Option<String>) -> Self {
        Self {
            metadata: Metadata {
                event_id: event_id::<T>(data.order_id()),
                occurred_at: Timestamp::from(at),
                correlation_id: data.order_id().to_string(),
                causation_id: Some(cause.event_id.clone()),
                traceparent: traceparent.or_else(|| cause.traceparent.clone()),
            },
            data,
        }
    }
}

/// The id every copy of an order's `T` event carries.
pub fn event_id<T: DomainEvent>(order_id: &OrderId) -> String {
    format!("{order_id}/{}", T::DETAIL_TYPE)
}

/// The card, encrypted for the payment service (base64 of a KMS ciphertext).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedCard {
    pub ciphertext: String,
}

/// One event ready for the bus, its envelope already JSON: what the outbox
/// keeps and what a publisher puts on EventBridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub source: String,
    pub detail_type: String,
    pub detail: String,
}

impl Entry {
    pub fn of<T: DomainEvent>(envelope: &Envelope<T>) -> Result<Self, serde_json::Error> {
        Ok(Self {
            source: T::SOURCE.to_owned(),
            detail_type: T::DETAIL_TYPE.to_owned(),
            detail: serde_json::to_string(envelope)?,
        })
    }
}

macro_rules! domain_event {
    ($name:ident, $source:literal, $detail_type:literal, |$event:ident| $order_id:expr) => {
        impl DomainEvent for $name {
            const SOURCE: &'static str = $source;
            const DETAIL_TYPE: &'static str = $detail_type;

            fn order_id(&self) -> &OrderId {
                let $event = self;
                $order_id
            }
        }
    };
}

/// Checkout accepted an order; written with the order, in its outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    pub order: Order,
    pub card: SealedCard,
}
domain_event!(OrderPlaced, "astroshop.orders", "OrderPlaced.v1", |e| &e
    .order
    .order_id);

/// Every unit of the order is held for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryReserved {
    pub order: Order,
    /// Forwarded untouched for payment.
    pub card: SealedCard,
}
domain_event!(
    InventoryReserved,
    "astroshop.inventory",
    "InventoryReserved.v1",
    |e| &e.order.order_id
);

/// Some line could not be held; nothing was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryReservationFailed {
    pub order: Order,
    pub reason: String,
}
domain_event!(
    InventoryReservationFailed,
    "astroshop.inventory",
    "InventoryReservationFailed.v1",
    |e| &e.order.order_id
);

/// The card was charged the order's total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentSucceeded {
    pub order: Order,
    pub payment: Charge,
}
domain_event!(
    PaymentSucceeded,
    "astroshop.payment",
    "PaymentSucceeded.v1",
    |e| &e.order.order_id
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    pub transaction_id: String,
    #[serde(flatten)]
    pub card: CardSummary,
    pub amount: Money,
}

/// The card was declined; nothing was charged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentFailed {
    pub order: Order,
    pub reason: String,
}
domain_event!(PaymentFailed, "astroshop.payment", "PaymentFailed.v1", |e| &e
    .order
    .order_id);

/// What was held for the order is available again (`items` is empty when
/// nothing was held).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryReleased {
    pub order_id: OrderId,
    pub items: Vec<CartLine>,
}
domain_event!(
    InventoryReleased,
    "astroshop.inventory",
    "InventoryReleased.v1",
    |e| &e.order_id
);

/// The order left the warehouse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderShipped {
    pub order: Order,
    pub tracking_id: String,
}
domain_event!(OrderShipped, "astroshop.shipping", "OrderShipped.v1", |e| &e
    .order
    .order_id);

/// Shipping will never send the order: it failed before its payment reached
/// shipping (a late or redelivered PaymentSucceeded). Nothing left the
/// warehouse; the charge is refunded on OrderFailed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentWithheld {
    pub order_id: OrderId,
    pub reason: String,
}
domain_event!(
    ShipmentWithheld,
    "astroshop.shipping",
    "ShipmentWithheld.v1",
    |e| &e.order_id
);

/// The saga succeeded: paid and shipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderConfirmed {
    pub order: Order,
    pub tracking_id: String,
}
domain_event!(OrderConfirmed, "astroshop.orders", "OrderConfirmed.v1", |e| &e
    .order
    .order_id);

/// The saga failed; what was done is being undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFailed {
    pub order: Order,
    pub reason: String,
}
domain_event!(OrderFailed, "astroshop.orders", "OrderFailed.v1", |e| &e
    .order
    .order_id);

/// A charge was given back (the order failed after it was paid).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRefunded {
    pub order_id: OrderId,
    pub transaction_id: String,
    pub amount: Money,
}
domain_event!(PaymentRefunded, "astroshop.payment", "PaymentRefunded.v1", |e| &e
    .order_id);

/// A confirmed order looks suspicious.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFlagged {
    pub order_id: OrderId,
    pub score: u32,
    pub reasons: Vec<String>,
}
domain_event!(OrderFlagged, "astroshop.fraud", "OrderFlagged.v1", |e| &e
    .order_id);

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn order_id() -> OrderId {
        OrderId::parse("3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11").unwrap()
    }

    #[test]
    fn an_event_id_names_the_order_and_the_event_type() {
        assert_eq!(
            event_id::<OrderFlagged>(&order_id()),
            "3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11/OrderFlagged.v1"
        );
    }

    #[test]
    fn a_following_event_keeps_the_correlation_and_trace_and_names_its_cause() {
        let flagged = || OrderFlagged {
            order_id: order_id(),
            score: 60,
            reasons: vec!["large order".into()],
        };
        let first = Envelope::first(
            InventoryReleased {
                order_id: order_id(),
                items: vec![],
            },
            datetime!(2026-11-21 10:00:00 UTC),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
        );
        let next = Envelope::following(
            &first.metadata,
            flagged(),
            datetime!(2026-11-21 10:00:01 UTC),
            None,
        );
        assert_eq!(next.metadata.correlation_id, order_id().as_str());
        assert_eq!(
            next.metadata.causation_id.as_deref(),
            Some(first.metadata.event_id.as_str())
        );
        assert_eq!(
            next.metadata.traceparent, first.metadata.traceparent,
            "made outside any span, it carries its cause's"
        );
        assert_eq!(next.metadata.occurred_at.as_str(), "2026-11-21T10:00:01.000Z");
        // Made inside the step's span: that span is the next step's parent,
        // in the same trace.
        let step = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01";
        let sent = Envelope::following(
            &first.metadata,
            flagged(),
            datetime!(2026-11-21 10:00:01 UTC),
            Some(step.into()),
        );
        assert_eq!(sent.metadata.traceparent.as_deref(), Some(step));
        let json = serde_json::to_value(&next).unwrap();
        assert_eq!(json["data"]["orderId"], order_id().as_str());
        assert_eq!(
            json["metadata"]["eventId"],
            format!("{}/OrderFlagged.v1", order_id())
        );
    }
}
