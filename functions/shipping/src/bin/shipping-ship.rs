//! Lambda: the `shipping` queue consumer (PaymentSucceeded, OrderFailed).

use astroshop_saga::Publisher;
use astroshop_shipping::ShipmentTable;
use astroshop_shipping::ship::ship_or_withhold;
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = astroshop_store::aws_config().await;
    let shipments = ShipmentTable::from_env(astroshop_store::dynamodb(&config))?;
    let publisher = Publisher::from_env(&config)?;
    astroshop_saga::serve(|delivery| ship_or_withhold(&shipments, &publisher, delivery)).await
}
