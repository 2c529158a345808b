//! Lambda: `GET /api/currency/convert`.

use astroshop_currency::convert_currency;
use astroshop_store::CachedRates;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let rates = CachedRates::from_env(dynamodb)?;
    astroshop_edge::serve(|request| convert_currency(&rates, request)).await
}
