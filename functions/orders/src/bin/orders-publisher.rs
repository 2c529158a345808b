//! Lambda: the `Orders` stream consumer that puts outbox events on the bus.

use astroshop_orders::outbox::{DeadLetterQueue, publish_outbox};
use astroshop_saga::Publisher;
use astroshop_telemetry::Trigger;
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    astroshop_telemetry::init();
    let config = astroshop_store::aws_config().await;
    let publisher = Publisher::from_env(&config)?;
    let dead_letters = DeadLetterQueue::from_env(&config)?;
    let handler = service_fn(|event| async {
        // An error here fails the whole batch: Lambda retries all of it.
        publish_outbox(&publisher, &dead_letters, event)
            .await
            .map_err(lambda_runtime::Error::from)
    });
    astroshop_telemetry::run(handler, Trigger::Datasource).await
}
