//! Lambda: the order-state queue consumer, which records every saga step and
//! confirms or fails the order.

use astroshop_orders::state::follow_saga_event;
use astroshop_orders::store::OrderTable;
use astroshop_saga::{Publisher, consume};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    astroshop_telemetry::init();
    let config = astroshop_store::aws_config().await;
    let orders = OrderTable::from_env(astroshop_store::dynamodb(&config))?;
    let publisher = Publisher::from_env(&config)?;
    lambda_runtime::run(service_fn(|event| async {
        Ok::<_, Error>(consume(event, |delivery| follow_saga_event(&orders, &publisher, delivery)).await)
    }))
    .await
}
