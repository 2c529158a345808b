//! Fraud service: every confirmed order is scored by the rules in [`score`];
//! one that reaches [`score::FLAG_AT`] is announced as `OrderFlagged` for a
//! person to review. Scoring is a pure function of the order and its total
//! in US dollars, so a redelivered order gets the same score and re-publishes
//! the same event (same event id), which is harmless.

pub mod score;

use astroshop_domain::CurrencyCode;
use astroshop_domain::events::{Envelope, OrderConfirmed, OrderFlagged};
use astroshop_saga::{Delivery, EventBus, StepError, now};
use astroshop_store::RateSource;

/// Scores a confirmed order and flags it when it looks suspicious.
pub async fn check_order(
    rates: &impl RateSource,
    publisher: &impl EventBus,
    delivery: Delivery,
) -> Result<(), StepError> {
    let confirmed: OrderConfirmed = delivery.expect()?;
    let order = confirmed.order;
    // Thresholds are in dollars; one table of rates makes them mean the
    // same in every currency the shop sells in.
    // Boxed: the cached read's future, inside the consumer's, nests past
    // the compiler's limit for computing a future's layout.
    let rate_table = Box::pin(rates.rate_table()).await?;
    let total_usd = rate_table
        .convert(&order.total, &CurrencyCode::usd())
        .map_err(StepError::other)?;
    let assessment = score::assess(&order, &total_usd);
    tracing::info!(score = assessment.score, reasons = ?assessment.reasons, "order scored");
    if assessment.is_suspicious() {
        let flagged = OrderFlagged {
            order_id: order.order_id,
            score: assessment.score,
            reasons: assessment.reasons,
        };
        publisher
            .publish(&Envelope::following(
                delivery.metadata(),
                flagged,
                now(),
                astroshop_telemetry::current_traceparent(),
            ))
            .await?;
    }
    Ok(())
}
