//! Lambda: the `shipping` queue consumer (PaymentSucceeded).

use astroshop_saga::{Publisher, consume};
use astroshop_shipping::ShipmentTable;
use astroshop_shipping::ship::ship_paid_order;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    astroshop_telemetry::init();
    let config = astroshop_store::aws_config().await;
    let shipments = ShipmentTable::from_env(astroshop_store::dynamodb(&config))?;
    let publisher = Publisher::from_env(&config)?;
    lambda_runtime::run(service_fn(|event| async {
        Ok::<_, Error>(
            consume(event, |delivery| {
                ship_paid_order(&shipments, &publisher, delivery)
            })
            .await,
        )
    }))
    .await
}
