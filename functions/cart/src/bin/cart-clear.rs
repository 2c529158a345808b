//! Lambda: the `cart-clear` queue consumer (OrderConfirmed).

use astroshop_cart::clear::clear_ordered_lines;
use astroshop_store::CartTable;
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let carts = CartTable::from_env(astroshop_store::dynamodb(&astroshop_store::aws_config().await))?;
    astroshop_saga::serve(|delivery| clear_ordered_lines(&carts, delivery)).await
}
