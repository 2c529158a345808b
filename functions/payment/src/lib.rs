//! Payment service: charges an order's card once its units are held
//! (`payment-charge`, on InventoryReserved) through the card processor
//! ([`processor`], a service of its own that holds the OpenTelemetry demo's
//! rules), behind a circuit breaker ([`breaker`]): while the processor does
//! not answer, payments wait on their queue instead of failing orders; gives the charge back when the order fails later, or voids the
//! payment so a late charge never happens (`payment-refund`, on OrderFailed);
//! and shows an order's payment to the holder of the order's link
//! (`GET /api/payments/{orderId}?key=`).
//!
//! Each step writes, then publishes; a redelivered event finds the payment
//! already recorded and publishes the same outcome again. Only the card's
//! type and last four digits are ever stored, published or logged.

pub mod breaker;
pub mod processor;
pub mod store;

use std::time::Duration;

use astroshop_domain::card::{CardDetails, CardSummary};
use astroshop_domain::events::{
    Charge, Envelope, InventoryReserved, Metadata, OrderFailed, PaymentFailed, PaymentRefunded,
    PaymentSucceeded,
};
use astroshop_domain::order::Order;
use astroshop_domain::{OrderId, Timestamp};
use astroshop_edge::{ApiError, OrderLinks, ok, path_param};
use astroshop_saga::{Delivery, EventBus, StepError};
use astroshop_store::{CardOpener, OpenError};
use lambda_http::{Body, Request, Response};

use crate::breaker::{Admission, Breaker};
use crate::processor::{CardProcessor, ChargeRequest, Processed};
use crate::store::{Payment, PaymentStatus, Payments, Refund};

// ------------------------------------------------------------------- the API

/// `GET /api/payments/{orderId}?key=`: the order's payment, to the holder of
/// the order's link; 404 when it has none, and to anyone else.
pub async fn get_payment(
    payments: &impl Payments,
    links: &OrderLinks,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let order = OrderId::parse(path_param(&request, "orderId")?)
        .map_err(|error| ApiError::bad_request("invalid_order_id", error.to_string()))?;
    let not_found = || ApiError::not_found("payment_not_found", format!("order {order} has no payment"));
    links.authorize(&request, &order, not_found).await?;
    let payment = payments
        .payment(&order)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    Ok(ok(&payment))
}

// ------------------------------------------------------------ the saga steps

/// What a declined card is told when the sealed card cannot be opened at all.
const UNREADABLE_CARD: &str = "the card details could not be read";

/// How long a payment the processor gave no answer waits before it is tried again.
const UNANSWERED_RETRY: Duration = Duration::from_secs(2);

/// What `payment-charge` charges through.
pub struct Charging<'a, P> {
    pub processor: &'a P,
    pub breaker: &'a Breaker,
}

/// `payment-charge` (InventoryReserved): opens the sealed card, has the card
/// processor charge it, records CHARGED (with the processor's transaction
/// id) or DECLINED once per order, and publishes PaymentSucceeded or
/// PaymentFailed. An order already paid, declined or voided publishes what
/// its record says, and calls no one. While the processor's breaker is open,
/// or the processor gives no answer, the message is parked on its queue.
pub async fn charge_card(
    payments: &impl Payments,
    cards: &impl CardOpener,
    charging: Charging<'_, impl CardProcessor>,
    bus: &impl EventBus,
    delivery: Delivery,
) -> Result<(), StepError> {
    let reserved: InventoryReserved = delivery.expect()?;
    let order = reserved.order;
    if let Some(existing) = payments.payment(&order.order_id).await? {
        tracing::info!(status = ?existing.status, "the order's payment was already recorded");
        return publish_outcome(bus, &delivery.envelope.metadata, order, existing).await;
    }
    let (card, decision) = match cards.open(&reserved.card, &order.order_id).await {
        Ok(card) => {
            let summary = card.number.summary();
            let decision = match charge_through(&charging, &order, card).await? {
                Processed::Approved { transaction_id } => Ok(transaction_id),
                Processed::Declined { reason } => Err(reason),
            };
            (summary, decision)
        }
        Err(OpenError::Unreadable(why)) => {
            tracing::warn!(why, "the sealed card cannot be opened; declining");
            (order.card.clone(), Err(UNREADABLE_CARD.to_owned()))
        }
        Err(error) => return Err(StepError::other(error)),
    };
    let mut payment = Payment {
        order_id: order.order_id.clone(),
        status: PaymentStatus::Charged,
        amount: order.total.clone(),
        card_type: card.card_type,
        last4: card.last4,
        transaction_id: None,
        reason: None,
        charged_at: None,
        declined_at: None,
        voided_at: None,
        refunded_at: None,
    };
    let at = astroshop_saga::now();
    match decision {
        Ok(transaction_id) => {
            payment.transaction_id = Some(transaction_id);
            payment.charged_at = Some(Timestamp::from(at));
        }
        Err(reason) => {
            payment.status = PaymentStatus::Declined;
            payment.reason = Some(reason);
            payment.declined_at = Some(Timestamp::from(at));
        }
    }
    let payment = match payments.record(&payment).await? {
        None => {
            tracing::info!(status = ?payment.status, card_type = %payment.card_type, last4 = payment.last4, "payment recorded");
            let counted = match payment.status {
                PaymentStatus::Charged => "PaymentsCharged",
                _ => "PaymentsDeclined",
            };
            astroshop_telemetry::metric(counted, "Count", 1.0, None);
            payment
        }
        Some(existing) => {
            tracing::info!(status = ?existing.status, "the order's payment was already recorded");
            existing
        }
    };
    publish_outcome(bus, &delivery.envelope.metadata, order, payment).await
}

/// The processor's answer, through the breaker; parked when there is none.
async fn charge_through(
    charging: &Charging<'_, impl CardProcessor>,
    order: &Order,
    card: CardDetails,
) -> Result<Processed, StepError> {
    let admission = charging.breaker.admit().await?;
    if let Admission::Wait(after) = admission {
        // Spread out, so the parked payments do not all come back at once.
        let jitter = Duration::from_millis(rand::random::<u64>() % 1000);
        return Err(StepError::Parked {
            after: after + jitter,
            why: "the card processor's circuit breaker is open".to_owned(),
        });
    }
    let charge = ChargeRequest {
        order_id: order.order_id.clone(),
        amount: order.total.clone(),
        card,
    };
    match charging.processor.charge(&charge).await {
        Ok(processed) => {
            charging.breaker.succeeded(admission).await?;
            Ok(processed)
        }
        Err(unanswered) => {
            charging.breaker.failed(admission).await?;
            Err(StepError::Parked {
                after: UNANSWERED_RETRY,
                why: astroshop_telemetry::error_chain(&unanswered),
            })
        }
    }
}

/// Publishes what a recorded payment means for the saga.
async fn publish_outcome(
    bus: &impl EventBus,
    cause: &Metadata,
    order: Order,
    payment: Payment,
) -> Result<(), StepError> {
    let at = astroshop_saga::now();
    match payment.status {
        PaymentStatus::Charged => {
            let charge = Charge {
                transaction_id: payment.transaction_id.unwrap_or_default(),
                card: CardSummary {
                    card_type: payment.card_type,
                    last4: payment.last4,
                },
                amount: payment.amount,
            };
            let succeeded = PaymentSucceeded {
                order,
                payment: charge,
            };
            bus.publish(&Envelope::following(
                cause,
                succeeded,
                at,
                astroshop_telemetry::current_traceparent(),
            ))
            .await?;
        }
        PaymentStatus::Declined => {
            let failed = PaymentFailed {
                order,
                reason: payment.reason.unwrap_or_else(|| "the card was declined".into()),
            };
            bus.publish(&Envelope::following(
                cause,
                failed,
                at,
                astroshop_telemetry::current_traceparent(),
            ))
            .await?;
        }
        PaymentStatus::Voided | PaymentStatus::Refunded => {
            // The order failed before this charge came: it must not happen,
            // and the saga has moved on.
            tracing::info!(status = ?payment.status, "the order's payment is closed; nothing charged");
        }
    }
    Ok(())
}

/// How often a refund looks again when a charge was recorded between its
/// finding no payment and its voiding one.
const REFUND_ROUNDS: u32 = 3;

/// `payment-refund` (OrderFailed): refunds the order's charge and publishes
/// PaymentRefunded (again, for a redelivery); with no payment yet, records
/// a VOIDED one so a charge arriving late never happens. Declined and voided
/// payments need nothing.
pub async fn refund_payment(
    payments: &impl Payments,
    bus: &impl EventBus,
    delivery: Delivery,
) -> Result<(), StepError> {
    let failed: OrderFailed = delivery.expect()?;
    let order = failed.order;
    for _ in 0..REFUND_ROUNDS {
        let at = Timestamp::from(astroshop_saga::now());
        let refunded = match payments.refund(&order.order_id, &at).await? {
            Refund::Refunded(payment) => {
                tracing::info!(transaction_id = payment.transaction_id, "charge refunded");
                astroshop_telemetry::metric("PaymentsRefunded", "Count", 1.0, None);
                payment
            }
            Refund::NotCharged(Some(payment)) if payment.status == PaymentStatus::Refunded => payment,
            Refund::NotCharged(Some(payment)) => {
                tracing::info!(status = ?payment.status, "nothing was charged; nothing to refund");
                return Ok(());
            }
            Refund::NotCharged(None) => {
                let void = Payment {
                    order_id: order.order_id.clone(),
                    status: PaymentStatus::Voided,
                    amount: order.total.clone(),
                    card_type: order.card.card_type,
                    last4: order.card.last4.clone(),
                    transaction_id: None,
                    reason: Some(format!(
                        "the order failed before it was charged: {}",
                        failed.reason
                    )),
                    charged_at: None,
                    declined_at: None,
                    voided_at: Some(at),
                    refunded_at: None,
                };
                if payments.record(&void).await?.is_none() {
                    tracing::info!("no charge yet; the payment is voided so none will happen");
                    return Ok(());
                }
                // A charge was recorded meanwhile: refund it.
                continue;
            }
        };
        let refund = PaymentRefunded {
            order_id: order.order_id.clone(),
            transaction_id: refunded.transaction_id.unwrap_or_default(),
            amount: refunded.amount,
        };
        let envelope = Envelope::following(
            &delivery.envelope.metadata,
            refund,
            astroshop_saga::now(),
            astroshop_telemetry::current_traceparent(),
        );
        bus.publish(&envelope).await?;
        return Ok(());
    }
    Err(StepError::Contended(format!("the payment of {}", order.order_id)))
}
