//! Lambda: the `inventory-release` queue consumer (PaymentFailed, OrderFailed).

use astroshop_inventory::release_stock;
use astroshop_inventory::store::InventoryTable;
use astroshop_saga::{Publisher, consume};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    astroshop_telemetry::init();
    let config = astroshop_store::aws_config().await;
    let stock = InventoryTable::from_env(astroshop_store::dynamodb(&config))?;
    let bus = Publisher::from_env(&config)?;
    lambda_runtime::run(service_fn(|event| async {
        Ok::<_, Error>(consume(event, |delivery| release_stock(&stock, &bus, delivery)).await)
    }))
    .await
}
