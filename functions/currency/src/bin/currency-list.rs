//! Lambda: `GET /api/currency`.

use astroshop_currency::list_currencies;
use astroshop_store::CachedRates;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let rates = CachedRates::from_env(dynamodb)?;
    astroshop_edge::serve(|request| list_currencies(&rates, request)).await
}
