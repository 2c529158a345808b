//! Lambda: `DELETE /api/cart/items/{productId}`.

use astroshop_cart::remove_item;
use astroshop_store::CartTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let carts = CartTable::from_env(dynamodb)?;
    let flags = astroshop_flags::Flags::from_env();
    astroshop_edge::serve(|request| remove_item(&carts, &flags, request)).await
}
