//! The sweeper: runs every minute and fails the orders still pending past
//! the deadline (a step that never came: a consumer down, a message parked
//! in a dead-letter queue). Failing an order puts `OrderFailed` in its
//! outbox in the same transaction (the sweep is not retried per order, so
//! the event must not depend on a second call succeeding); that event
//! releases its stock and refunds or voids its payment, exactly as a failure
//! inside the saga does. The failure is the same conditional transition
//! `orders-state` makes, so an order that moves on meanwhile is left alone.

use std::time::Duration;

use astroshop_domain::history::Change;
use astroshop_domain::{OrderId, OrderStatus, Timestamp};
use astroshop_saga::StepError;
use astroshop_store::{OrderRecords, OrderTransitions, StoreError, Transition};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::Instrument;

use crate::state::{final_event, report_settled};

/// What the sweeper is asked to do: `{"olderThanSeconds": n}`, or the
/// schedule's event, which leaves the deadline to `ORDER_DEADLINE_SECONDS`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepRequest {
    pub older_than_seconds: Option<u64>,
}

/// What one sweep did.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Swept {
    /// Pending orders placed before the cutoff.
    pub stuck: usize,
    /// Those this sweep failed (the others moved on meanwhile).
    pub failed: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("finding the stuck orders: {0}")]
    Query(#[from] StoreError),
    #[error(
        "{failures} of {stuck} stuck orders could not be failed; the next sweep tries again (first: {first})"
    )]
    Orders {
        stuck: usize,
        failures: usize,
        first: StepError,
    },
}

/// Fails every order placed more than `deadline` before `now` and still pending.
pub async fn sweep_stuck_orders(
    orders: &(impl OrderRecords + OrderTransitions + Sync),
    deadline: Duration,
    now: OffsetDateTime,
) -> Result<Swept, SweepError> {
    let cutoff = Timestamp::from(now - deadline);
    let stuck = orders.pending_placed_before(&cutoff).await?;
    let mut swept = Swept {
        stuck: stuck.len(),
        failed: Vec::new(),
    };
    let mut errors = Vec::new();
    for id in stuck {
        let span = tracing::info_span!("sweep", order_id = %id);
        match fail_stuck_order(orders, &id, now).instrument(span).await {
            Ok(true) => swept.failed.push(id.to_string()),
            Ok(false) => tracing::info!(order_id = %id, "order moved on before it was swept"),
            Err(error) => {
                tracing::error!(order_id = %id, %error, "failing a stuck order failed");
                errors.push(error);
            }
        }
    }
    tracing::info!(stuck = swept.stuck, failed = swept.failed.len(), %cutoff, "swept");
    let failures = errors.len();
    match errors.into_iter().next() {
        None => Ok(swept),
        Some(first) => Err(SweepError::Orders {
            stuck: swept.stuck,
            failures,
            first,
        }),
    }
}

/// Fails one order if it is still pending; true when this call failed it.
async fn fail_stuck_order(
    orders: &(impl OrderRecords + OrderTransitions + Sync),
    id: &OrderId,
    now: OffsetDateTime,
) -> Result<bool, StepError> {
    let Some(record) = orders.order(id).await? else {
        return Ok(false);
    };
    if record.status != OrderStatus::Pending {
        return Ok(false);
    }
    let last = record.history.last();
    let since = last.map_or(&record.order.placed_at, |step| &step.at);
    let idle = (now - since.time()).whole_seconds().max(0);
    let after = last.map_or("checkout", |step| step.name());
    let change = Change::Fail {
        reason: format!("no progress for {idle} seconds (stuck after {after})"),
    };
    let announcement = change
        .ends_as()
        .map(|failed| final_event(&record.order, failed, None, record.traceparent.as_deref(), now))
        .transpose()
        .map_err(astroshop_saga::PublishError::from)?;
    let transition = Transition {
        order_id: id,
        step: None,
        change: &change,
        announcement: announcement.as_ref(),
    };
    let failed = orders.record(&transition, now).await?;
    if failed {
        astroshop_telemetry::metric("OrdersSwept", "Count", 1.0, None);
        if let Some(conclusion) = change.ends_as() {
            report_settled(&record.order, &conclusion, now);
        }
    }
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedules_event_leaves_the_deadline_to_the_setting_and_an_operator_may_name_one() {
        let scheduled: SweepRequest =
            serde_json::from_str(include_str!("../../../events/schedule/orders-sweeper.json"))
                .expect("the schedule's sample event is a sweep request");
        assert_eq!(scheduled.older_than_seconds, None);
        let asked: SweepRequest = serde_json::from_str(r#"{"olderThanSeconds": 60}"#).unwrap();
        assert_eq!(asked.older_than_seconds, Some(60));
    }
}
