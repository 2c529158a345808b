//! Lambda: the `inventory-release` queue consumer (PaymentFailed, OrderFailed).

use astroshop_inventory::release_stock;
use astroshop_inventory::store::InventoryTable;
use astroshop_saga::Publisher;
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = astroshop_store::aws_config().await;
    let stock = InventoryTable::from_env(astroshop_store::dynamodb(&config))?;
    let bus = Publisher::from_env(&config)?;
    astroshop_saga::serve(|delivery| release_stock(&stock, &bus, delivery)).await
}
