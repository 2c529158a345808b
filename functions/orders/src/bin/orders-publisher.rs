//! Lambda: the `Orders` stream consumer that puts outbox events on the bus.

use astroshop_orders::outbox::publish_outbox;
use astroshop_saga::Publisher;
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    astroshop_telemetry::init();
    let publisher = Publisher::from_env(&astroshop_store::aws_config().await)?;
    lambda_runtime::run(service_fn(|event| async {
        // An error here fails the whole batch: Lambda retries all of it.
        publish_outbox(&publisher, event)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
