//! Fraud service: every confirmed order is scored by the rules in [`score`];
//! one that reaches [`score::FLAG_AT`] is announced as `OrderFlagged` for a
//! person to review. Scoring is a pure function of the order and its total
//! in US dollars, so a redelivered order gets the same score and re-publishes
//! the same event (same event id), which is harmless.

pub mod score;

use astroshop_domain::events::{Envelope, OrderConfirmed, OrderFlagged};
use astroshop_domain::{ConversionError, CurrencyCode};
use astroshop_saga::{Delivery, PublishError, Publisher, Unreadable, now};
use astroshop_store::{RateSource, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum FraudError {
    #[error("fraud checks OrderConfirmed events only, not {0}")]
    UnexpectedEvent(String),
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error("currency rates: {0}")]
    Rates(#[from] StoreError),
    #[error("converting the total to USD: {0}")]
    Conversion(#[from] ConversionError),
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// Scores a confirmed order and flags it when it looks suspicious.
pub async fn check_order(
    rates: &impl RateSource,
    publisher: &Publisher,
    delivery: Delivery,
) -> Result<(), FraudError> {
    if !delivery.is::<OrderConfirmed>() {
        return Err(FraudError::UnexpectedEvent(delivery.detail_type));
    }
    let confirmed: OrderConfirmed = delivery.parse()?;
    let order = confirmed.order;
    // Thresholds are in dollars; one table of rates makes them mean the
    // same in every currency the shop sells in.
    // Boxed: the cached read's future, inside the consumer's, nests past
    // the compiler's limit for computing a future's layout.
    let rate_table = Box::pin(rates.rate_table()).await?;
    let total_usd = rate_table.convert(&order.total, &CurrencyCode::usd())?;
    let assessment = score::assess(&order, &total_usd);
    tracing::info!(score = assessment.score, reasons = ?assessment.reasons, "order scored");
    if assessment.is_suspicious() {
        let flagged = OrderFlagged {
            order_id: order.order_id,
            score: assessment.score,
            reasons: assessment.reasons,
        };
        publisher
            .publish(&Envelope::following(delivery.metadata(), flagged, now()))
            .await?;
    }
    Ok(())
}
