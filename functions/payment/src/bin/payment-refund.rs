//! Lambda: the `payment-refund` queue consumer (OrderFailed).

use astroshop_payment::refund_payment;
use astroshop_payment::store::PaymentsTable;
use astroshop_saga::{Publisher, consume};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    astroshop_telemetry::init();
    let config = astroshop_store::aws_config().await;
    let payments = PaymentsTable::from_env(astroshop_store::dynamodb(&config))?;
    let bus = Publisher::from_env(&config)?;
    lambda_runtime::run(service_fn(|event| async {
        Ok::<_, Error>(consume(event, |delivery| refund_payment(&payments, &bus, delivery)).await)
    }))
    .await
}
