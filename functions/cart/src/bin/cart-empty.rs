//! Lambda: `DELETE /api/cart`.

use astroshop_cart::empty_cart;
use astroshop_store::CartTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let carts = CartTable::from_env(dynamodb)?;
    let flags = astroshop_flags::Flags::from_env();
    astroshop_edge::serve(|request| empty_cart(&carts, &flags, request)).await
}
