//! Lambda: every minute, fails the orders stuck pending past the deadline.

use std::time::Duration;

use astroshop_orders::sweeper::{SweepRequest, sweep_stuck_orders};
use astroshop_store::OrderTable;
use astroshop_store::setting;
use astroshop_telemetry::Trigger;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    astroshop_telemetry::init();
    let orders = OrderTable::from_env(astroshop_store::dynamodb(&astroshop_store::aws_config().await))?;
    let deadline: u64 = setting("ORDER_DEADLINE_SECONDS")?
        .parse()
        .map_err(|e| format!("ORDER_DEADLINE_SECONDS: {e}"))?;
    let orders = &orders;
    let handler = service_fn(|event: LambdaEvent<SweepRequest>| async move {
        // The schedule's own event carries no deadline; an operator's
        // `{"olderThanSeconds": n}` does.
        let older_than = event.payload.older_than_seconds.unwrap_or(deadline);
        let swept =
            sweep_stuck_orders(orders, Duration::from_secs(older_than), astroshop_saga::now()).await?;
        Ok::<_, Error>(swept)
    });
    astroshop_telemetry::run(handler, Trigger::Timer).await
}
