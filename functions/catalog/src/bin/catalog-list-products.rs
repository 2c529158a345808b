//! Lambda: `GET /api/products`.

use astroshop_catalog::list_products;
use astroshop_store::{CachedRates, ProductSearchTable};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let index = ProductSearchTable::from_env(dynamodb.clone())?;
    let rates = CachedRates::from_env(dynamodb)?;
    astroshop_edge::serve(|request| list_products(&index, &rates, request)).await
}
