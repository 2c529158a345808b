//! Lambda: `GET /api/shipping`.

use astroshop_shipping::quote_shipping;
use astroshop_store::CachedRates;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let rates = CachedRates::from_env(dynamodb)?;
    let flags = astroshop_flags::Flags::from_env();
    astroshop_edge::serve(|request| quote_shipping(&rates, &flags, request)).await
}
