//! Lambda: the `cart-clear` queue consumer (OrderConfirmed).

use astroshop_cart::clear::clear_ordered_lines;
use astroshop_saga::consume;
use astroshop_store::CartTable;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    astroshop_telemetry::init();
    let carts = CartTable::from_env(astroshop_store::dynamodb(&astroshop_store::aws_config().await))?;
    lambda_runtime::run(service_fn(|event| async {
        Ok::<_, Error>(consume(event, |delivery| clear_ordered_lines(&carts, delivery)).await)
    }))
    .await
}
