//! Lambda: the `fraud` queue consumer (OrderConfirmed).

use astroshop_fraud::check_order;
use astroshop_saga::Publisher;
use astroshop_store::CachedRates;
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = astroshop_store::aws_config().await;
    let rates = CachedRates::from_env(astroshop_store::dynamodb(&config))?;
    let publisher = Publisher::from_env(&config)?;
    astroshop_saga::serve(|delivery| check_order(&rates, &publisher, delivery)).await
}
