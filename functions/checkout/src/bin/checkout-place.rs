//! Lambda: `POST /api/checkout` and `POST /api/account/checkout`.

use std::time::Duration;

use astroshop_checkout::Checkout;
use astroshop_checkout::store::CheckoutTables;
use astroshop_edge::{ClientKey, OrderLinks};
use astroshop_store::{CachedRates, CardKey, CartTable, Limit, Limiter, LimitsTable, ProductTable};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let config = astroshop_store::aws_config().await;
    let dynamodb = astroshop_store::dynamodb(&config);
    let ssm = aws_sdk_ssm::Client::new(&config);
    let per_minute = Limit::from_env(
        "checkout",
        "CHECKOUTS_PER_CLIENT_PER_MINUTE",
        Duration::from_secs(60),
    )?;
    let checkout = Checkout {
        carts: CartTable::from_env(dynamodb.clone())?,
        catalog: ProductTable::from_env(dynamodb.clone())?,
        rates: CachedRates::from_env(dynamodb.clone())?,
        sealer: CardKey::from_env(&config)?,
        limiter: Limiter::new(LimitsTable::from_env(dynamodb.clone())?, per_minute),
        book: CheckoutTables::from_env(dynamodb)?,
        links: OrderLinks::from_env(ssm.clone())?,
        clients: ClientKey::from_env(ssm)?,
        flags: astroshop_flags::Flags::from_env(),
        bus: astroshop_saga::Publisher::from_env(&config)?,
    };
    astroshop_edge::serve(|request| checkout.place_order(request)).await
}
