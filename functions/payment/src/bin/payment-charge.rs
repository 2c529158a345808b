//! Lambda: the `payment-charge` queue consumer (InventoryReserved).

use astroshop_payment::charge_card;
use astroshop_payment::store::PaymentsTable;
use astroshop_saga::{Publisher, consume};
use astroshop_store::CardKey;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    astroshop_telemetry::init();
    let config = astroshop_store::aws_config().await;
    let payments = PaymentsTable::from_env(astroshop_store::dynamodb(&config))?;
    let cards = CardKey::from_env(&config)?;
    let bus = Publisher::from_env(&config)?;
    lambda_runtime::run(service_fn(|event| async {
        Ok::<_, Error>(consume(event, |delivery| charge_card(&payments, &cards, &bus, delivery)).await)
    }))
    .await
}
