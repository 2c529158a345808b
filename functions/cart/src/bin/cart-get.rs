//! Lambda: `GET /api/cart`.

use astroshop_cart::get_cart;
use astroshop_store::{CachedRates, CartTable, ProductTable};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let carts = CartTable::from_env(dynamodb.clone())?;
    let catalog = ProductTable::from_env(dynamodb.clone())?;
    let rates = CachedRates::from_env(dynamodb)?;
    astroshop_edge::serve(|request| get_cart(&carts, &catalog, &rates, request)).await
}
