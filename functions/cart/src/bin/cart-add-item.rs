//! Lambda: `POST /api/cart`.

use astroshop_cart::add_item;
use astroshop_store::{CachedRates, CartTable, ProductTable};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let carts = CartTable::from_env(dynamodb.clone())?;
    let catalog = ProductTable::from_env(dynamodb.clone())?;
    let rates = CachedRates::from_env(dynamodb)?;
    let flags = astroshop_flags::Flags::from_env();
    astroshop_edge::serve(|request| add_item(&carts, &catalog, &rates, &flags, request)).await
}
