//! What each saga event means for its order: the line it adds to the order's
//! history and the change it makes (`astroshop_domain::history`). Pure, so
//! every transition is unit-tested without a table or a bus; `orders-state`
//! and the sweeper both apply the result through one store call.

use astroshop_domain::events::{
    DomainEvent, InventoryReleased, InventoryReservationFailed, InventoryReserved, OrderFlagged, OrderPlaced,
    OrderShipped, PaymentFailed, PaymentRefunded, PaymentSucceeded, ShipmentWithheld,
};
use astroshop_domain::history::{Change, Conclusion, Step};
use astroshop_domain::{Order, OrderId, OrderStatus};
use astroshop_saga::{Delivery, Unreadable};

/// A saga event read for the order it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct SagaStep {
    pub order_id: OrderId,
    /// The order, for the events that carry it (what a conclusion announces).
    pub order: Option<Order>,
    pub step: Step,
    pub change: Change,
}

/// Reads a delivery from the order-state queue; an event type this consumer
/// does not know is unreadable (it would otherwise be dropped unseen).
pub fn read(delivery: &Delivery) -> Result<SagaStep, Unreadable> {
    let at = delivery.metadata().occurred_at.clone();
    let step = |detail_type: &str, summary: String| Step {
        detail_type: detail_type.to_owned(),
        at: at.clone(),
        summary,
    };
    let with_order = |order: Order, step: Step, change: Change| SagaStep {
        order_id: order.order_id.clone(),
        order: Some(order),
        step,
        change,
    };
    let of_order = |order_id: OrderId, step: Step, change: Change| SagaStep {
        order_id,
        order: None,
        step,
        change,
    };
    Ok(match delivery.detail_type.as_str() {
        OrderPlaced::DETAIL_TYPE => {
            let OrderPlaced { order, .. } = parse(delivery)?;
            let units: u32 = order.items.iter().map(|line| line.item.quantity.get()).sum();
            let summary = format!("order placed: {units} item(s), {} in total", order.total);
            with_order(order, step(OrderPlaced::DETAIL_TYPE, summary), Change::None)
        }
        InventoryReserved::DETAIL_TYPE => {
            let InventoryReserved { order, .. } = parse(delivery)?;
            let summary = "every item is held in stock".to_owned();
            with_order(order, step(InventoryReserved::DETAIL_TYPE, summary), Change::None)
        }
        InventoryReservationFailed::DETAIL_TYPE => {
            let InventoryReservationFailed { order, reason } = parse(delivery)?;
            let summary = format!("stock could not be held: {reason}");
            let detail_type = InventoryReservationFailed::DETAIL_TYPE;
            with_order(order, step(detail_type, summary), Change::Fail { reason })
        }
        PaymentSucceeded::DETAIL_TYPE => {
            let PaymentSucceeded { order, payment } = parse(delivery)?;
            let summary = format!(
                "charged {} to the {} card ending {} (transaction {})",
                payment.amount, payment.card.card_type, payment.card.last4, payment.transaction_id
            );
            with_order(order, step(PaymentSucceeded::DETAIL_TYPE, summary), Change::None)
        }
        PaymentFailed::DETAIL_TYPE => {
            let PaymentFailed { order, reason } = parse(delivery)?;
            let summary = format!("payment declined: {reason}");
            with_order(
                order,
                step(PaymentFailed::DETAIL_TYPE, summary),
                Change::Fail { reason },
            )
        }
        InventoryReleased::DETAIL_TYPE => {
            let InventoryReleased { order_id, items } = parse(delivery)?;
            let units: u32 = items.iter().map(|line| line.quantity.get()).sum();
            let summary = if units == 0 {
                "nothing was held, so nothing was released".to_owned()
            } else {
                format!("{units} held unit(s) released to stock")
            };
            of_order(
                order_id,
                step(InventoryReleased::DETAIL_TYPE, summary),
                Change::None,
            )
        }
        OrderShipped::DETAIL_TYPE => {
            let OrderShipped { order, tracking_id } = parse(delivery)?;
            let summary = format!("shipped; tracking id {tracking_id}");
            let change = Change::Confirm { tracking_id };
            with_order(order, step(OrderShipped::DETAIL_TYPE, summary), change)
        }
        ShipmentWithheld::DETAIL_TYPE => {
            let ShipmentWithheld { order_id, reason } = parse(delivery)?;
            let summary = format!("nothing shipped: {reason}");
            of_order(
                order_id,
                step(ShipmentWithheld::DETAIL_TYPE, summary),
                Change::None,
            )
        }
        PaymentRefunded::DETAIL_TYPE => {
            let PaymentRefunded {
                order_id,
                transaction_id,
                amount,
            } = parse(delivery)?;
            let summary = format!("refunded {amount} (transaction {transaction_id})");
            of_order(
                order_id,
                step(PaymentRefunded::DETAIL_TYPE, summary),
                Change::None,
            )
        }
        OrderFlagged::DETAIL_TYPE => {
            let OrderFlagged {
                order_id,
                score,
                reasons,
            } = parse(delivery)?;
            let summary = format!("flagged for review (score {score}: {})", reasons.join("; "));
            of_order(order_id, step(OrderFlagged::DETAIL_TYPE, summary), Change::Flag)
        }
        other => {
            return Err(Unreadable {
                message_id: delivery.message_id.clone(),
                reason: format!("{other} is not an event the order's state follows"),
            });
        }
    })
}

/// The event's data as `T`, checked to come from `T`'s source.
fn parse<T: DomainEvent + serde::de::DeserializeOwned>(delivery: &Delivery) -> Result<T, Unreadable> {
    if !delivery.is::<T>() {
        return Err(Unreadable {
            message_id: delivery.message_id.clone(),
            reason: format!(
                "{} comes from {}, not {}",
                delivery.detail_type,
                delivery.source,
                T::SOURCE
            ),
        });
    }
    delivery.parse()
}

/// What the order looked like when a step's write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Whether the order exists at all.
    pub exists: bool,
    /// Whether this step is already in its history.
    pub has_step: bool,
    pub status: OrderStatus,
    pub conclusion: Option<Conclusion>,
}

/// What to do about a step whose write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The step was recorded before (a redelivery). If it could have ended
    /// the order and the order has ended, its final event may never have been
    /// published (a crash after the write): publish it again.
    Duplicate { republish: Option<Conclusion> },
    /// The order ended before this step arrived: only its history line is written.
    Late,
    /// No such order: the event is not ours to follow.
    UnknownOrder,
    /// Nothing explains the refusal (a concurrent write): try again.
    Retry,
}

pub fn on_refusal(change: &Change, found: &Found) -> Refusal {
    if !found.exists {
        Refusal::UnknownOrder
    } else if found.has_step {
        let republish = change
            .new_status()
            .and(found.conclusion.clone())
            .filter(|_| found.status != OrderStatus::Pending);
        Refusal::Duplicate { republish }
    } else if change.new_status().is_some() && found.status != OrderStatus::Pending {
        Refusal::Late
    } else {
        Refusal::Retry
    }
}

#[cfg(test)]
mod tests {
    use astroshop_domain::Timestamp;
    use astroshop_domain::events::Envelope;

    use super::*;

    /// `data` as the order-state queue delivers it, from `source`.
    fn delivered<T: DomainEvent>(data: T, source: &str) -> Delivery {
        let at = Timestamp::parse("2026-11-21T10:00:02Z").unwrap().time();
        let Envelope { metadata, data } = Envelope::first(data, at, None);
        Delivery {
            message_id: "m0".into(),
            source: source.into(),
            detail_type: T::DETAIL_TYPE.into(),
            envelope: Envelope {
                metadata,
                data: serde_json::to_value(data).unwrap(),
            },
        }
    }

    fn withheld() -> ShipmentWithheld {
        ShipmentWithheld {
            order_id: OrderId::parse("3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11").unwrap(),
            reason: "the order failed (no progress for 300 seconds (stuck after InventoryReserved))".into(),
        }
    }

    fn found(status: OrderStatus, has_step: bool) -> Found {
        Found {
            exists: true,
            has_step,
            status,
            conclusion: match status {
                OrderStatus::Pending => None,
                OrderStatus::Confirmed => Some(Conclusion::Confirmed {
                    tracking_id: "T-1".into(),
                }),
                OrderStatus::Failed => Some(Conclusion::Failed {
                    reason: "declined".into(),
                }),
            },
        }
    }

    fn shipped() -> Change {
        Change::Confirm {
            tracking_id: "T-1".into(),
        }
    }

    #[test]
    fn only_shipping_confirms_and_only_failures_fail() {
        assert_eq!(shipped().new_status(), Some(OrderStatus::Confirmed));
        assert_eq!(
            Change::Fail { reason: "x".into() }.new_status(),
            Some(OrderStatus::Failed)
        );
        assert_eq!(Change::None.new_status(), None);
        assert_eq!(Change::Flag.new_status(), None);
    }

    #[test]
    fn an_ending_is_recorded_as_the_orders_own_final_step() {
        let at = Timestamp::parse("2026-11-21T10:00:00.000Z").unwrap();
        let step = shipped().final_step(&at).unwrap();
        assert_eq!(step.at, at);
        assert_eq!(step.detail_type, "OrderConfirmed.v1");
        assert_eq!(step.name(), "OrderConfirmed");
        assert!(step.summary.contains("T-1"));
        let failed = Change::Fail {
            reason: "card expired".into(),
        };
        assert_eq!(failed.final_step(&at).unwrap().detail_type, "OrderFailed.v1");
        assert_eq!(Change::Flag.final_step(&at), None);
    }

    #[test]
    fn a_redelivered_shipment_of_a_confirmed_order_republishes_its_confirmation() {
        assert_eq!(
            on_refusal(&shipped(), &found(OrderStatus::Confirmed, true)),
            Refusal::Duplicate {
                republish: Some(Conclusion::Confirmed {
                    tracking_id: "T-1".into()
                })
            }
        );
    }

    #[test]
    fn a_redelivered_step_that_changes_nothing_republishes_nothing() {
        assert_eq!(
            on_refusal(&Change::None, &found(OrderStatus::Failed, true)),
            Refusal::Duplicate { republish: None }
        );
    }

    #[test]
    fn a_failure_arriving_after_the_order_ended_is_late() {
        let failure = Change::Fail {
            reason: "out of stock".into(),
        };
        assert_eq!(
            on_refusal(&failure, &found(OrderStatus::Failed, false)),
            Refusal::Late
        );
        assert_eq!(
            on_refusal(&shipped(), &found(OrderStatus::Failed, false)),
            Refusal::Late
        );
    }

    #[test]
    fn an_unknown_order_or_an_unexplained_refusal_is_an_error_to_retry() {
        let missing = Found {
            exists: false,
            ..found(OrderStatus::Pending, false)
        };
        assert_eq!(on_refusal(&shipped(), &missing), Refusal::UnknownOrder);
        assert_eq!(
            on_refusal(&shipped(), &found(OrderStatus::Pending, false)),
            Refusal::Retry
        );
    }

    #[test]
    fn a_withheld_shipment_tells_the_orders_history_why_nothing_shipped_and_changes_nothing_else() {
        let saga = read(&delivered(withheld(), "astroshop.shipping")).unwrap();
        assert_eq!(saga.order_id, withheld().order_id);
        assert_eq!(saga.step.name(), "ShipmentWithheld");
        assert_eq!(saga.step.at.as_str(), "2026-11-21T10:00:02.000Z");
        assert_eq!(
            saga.step.summary,
            "nothing shipped: the order failed (no progress for 300 seconds (stuck after InventoryReserved))"
        );
        assert_eq!(saga.change, Change::None);
        // It only ever comes for a failed order: once there, it is a duplicate, never late.
        assert_eq!(
            on_refusal(&saga.change, &found(OrderStatus::Failed, true)),
            Refusal::Duplicate { republish: None }
        );
    }

    #[test]
    fn a_withheld_shipment_from_another_service_is_unreadable() {
        let error = read(&delivered(withheld(), "astroshop.payment")).unwrap_err();
        assert!(error.reason.contains("astroshop.shipping"), "{}", error.reason);
    }
}
