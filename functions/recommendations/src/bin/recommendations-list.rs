//! Lambda: `GET /api/recommendations`.

use astroshop_recommendations::list_recommendations;
use astroshop_store::{CachedRates, ProductTable};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let catalog = ProductTable::from_env(dynamodb.clone())?;
    let rates = CachedRates::from_env(dynamodb)?;
    let flags = astroshop_flags::Flags::from_env();
    astroshop_edge::serve(|request| list_recommendations(&catalog, &rates, &flags, request)).await
}
