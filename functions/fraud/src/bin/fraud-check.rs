//! Lambda: the `fraud` queue consumer (OrderConfirmed).

use astroshop_fraud::check_order;
use astroshop_saga::{Publisher, consume};
use astroshop_store::CachedRates;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    astroshop_telemetry::init();
    let config = astroshop_store::aws_config().await;
    let rates = CachedRates::from_env(astroshop_store::dynamodb(&config))?;
    let publisher = Publisher::from_env(&config)?;
    lambda_runtime::run(service_fn(|event| async {
        Ok::<_, Error>(consume(event, |delivery| check_order(&rates, &publisher, delivery)).await)
    }))
    .await
}
