//! The order-state consumer: every saga event joins its order's history, and
//! the ones that decide the order (shipped; stock or payment failed) end it
//! and tell the rest of the shop with `OrderConfirmed` or `OrderFailed`.
//!
//! The history line, the status change and the final event (in the outbox)
//! are one transaction, so an order never ends unheard. A redelivered event
//! finds its history line written and changes nothing; if it is one that
//! ends orders and the order has ended, the final event is published again
//! (every consumer of it is idempotent), so nothing downstream can miss it.

use astroshop_domain::events::{Envelope, Metadata, OrderConfirmed, OrderFailed};
use astroshop_domain::history::Conclusion;
use astroshop_domain::{Order, OrderId, OrderStatus};
use astroshop_saga::{Delivery, Entry, EventBus, PublishError, StepError, Unreadable, now};
use astroshop_store::{OrderRecords, OrderTransitions, Transition};
use time::OffsetDateTime;

use crate::steps::{self, Found, Refusal};

/// An event about an order this table never had: not ours to follow.
#[derive(Debug, thiserror::Error)]
#[error("there is no order {0}")]
pub struct UnknownOrder(OrderId);

/// Records one saga event against its order.
pub async fn follow_saga_event(
    orders: &(impl OrderRecords + OrderTransitions + Sync),
    publisher: &impl EventBus,
    delivery: Delivery,
) -> Result<(), StepError> {
    let saga = steps::read(&delivery)?;
    let id = &saga.order_id;
    let at = now();
    let announcement = match (saga.change.ends_as(), &saga.order) {
        (Some(conclusion), Some(order)) => Some(
            final_event(order, conclusion, Some(delivery.metadata()), None, at)
                .map_err(PublishError::from)?,
        ),
        (Some(_), None) => {
            return Err(StepError::Unreadable(Unreadable {
                message_id: delivery.message_id.clone(),
                reason: format!("{} ends the order but does not carry it", delivery.detail_type),
            }));
        }
        (None, _) => None,
    };
    let transition = Transition {
        order_id: id,
        step: Some(&saga.step),
        change: &saga.change,
        announcement: announcement.as_ref(),
    };
    if orders.record(&transition, at).await? {
        tracing::info!(step = saga.step.name(), "step recorded");
        if let (Some(conclusion), Some(order)) = (saga.change.ends_as(), &saga.order) {
            report_settled(order, &conclusion, at);
        }
        return Ok(());
    }
    let record = orders.order(id).await?;
    let found = match &record {
        Some(record) => Found {
            exists: true,
            has_step: record.has_step(&saga.step.detail_type),
            status: record.status,
            conclusion: record.conclusion(),
        },
        None => Found {
            exists: false,
            has_step: false,
            status: OrderStatus::Pending,
            conclusion: None,
        },
    };
    match (steps::on_refusal(&saga.change, &found), record) {
        (
            Refusal::Duplicate {
                republish: Some(ended),
            },
            Some(record),
        ) => {
            tracing::info!(
                step = saga.step.name(),
                "redelivered step of an ended order; its final event goes out again"
            );
            let event = final_event(
                &record.order,
                ended,
                Some(delivery.metadata()),
                record.traceparent.as_deref(),
                at,
            )
            .map_err(PublishError::from)?;
            publisher.publish_all(&[event]).await?;
            Ok(())
        }
        (Refusal::Duplicate { .. }, _) => {
            tracing::info!(step = saga.step.name(), "redelivered step; already recorded");
            Ok(())
        }
        (Refusal::Late, _) => {
            tracing::warn!(
                step = saga.step.name(),
                "step arrived after the order ended; recorded in its history only"
            );
            orders.record_history(id, &saga.step).await?;
            Ok(())
        }
        (Refusal::UnknownOrder, _) => Err(StepError::other(UnknownOrder(id.clone()))),
        (Refusal::Retry, _) => Err(StepError::Contended(format!("order {id}"))),
    }
}

/// The metrics of an order that has just ended (the dashboard's and the
/// saga-age alarm's): how it ended, and how long after it was placed.
pub fn report_settled(order: &Order, conclusion: &Conclusion, at: OffsetDateTime) {
    let outcome = match conclusion {
        Conclusion::Confirmed { .. } => OrderStatus::Confirmed,
        Conclusion::Failed { .. } => OrderStatus::Failed,
    }
    .as_str();
    astroshop_telemetry::metric("OrdersSettled", "Count", 1.0, Some(("Outcome", outcome)));
    let took = (at - order.placed_at.time()).as_seconds_f64();
    astroshop_telemetry::metric("OrderSettleSeconds", "Seconds", took, Some(("Outcome", outcome)));
}

/// The event that tells the shop how an order ended: answering `cause` when a
/// saga event ended it, else (the sweeper) a step of its own in the order's
/// trace.
pub fn final_event(
    order: &Order,
    conclusion: Conclusion,
    cause: Option<&Metadata>,
    traceparent: Option<&str>,
    at: OffsetDateTime,
) -> Result<Entry, serde_json::Error> {
    let order = order.clone();
    match conclusion {
        Conclusion::Confirmed { tracking_id } => {
            let data = OrderConfirmed { order, tracking_id };
            Entry::of(&match cause {
                Some(cause) => {
                    Envelope::following(cause, data, at, astroshop_telemetry::current_traceparent())
                }
                None => Envelope::first(data, at, traceparent.map(str::to_owned)),
            })
        }
        Conclusion::Failed { reason } => {
            let data = OrderFailed { order, reason };
            Entry::of(&match cause {
                Some(cause) => {
                    Envelope::following(cause, data, at, astroshop_telemetry::current_traceparent())
                }
                None => Envelope::first(data, at, traceparent.map(str::to_owned)),
            })
        }
    }
}
