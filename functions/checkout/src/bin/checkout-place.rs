//! Lambda: `POST /api/checkout` and `POST /api/account/checkout`.

use astroshop_checkout::Checkout;
use astroshop_checkout::store::CheckoutTables;
use astroshop_edge::OrderLinks;
use astroshop_store::{CachedRates, CardKey, CartTable, ProductTable};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let config = astroshop_store::aws_config().await;
    let dynamodb = astroshop_store::dynamodb(&config);
    let checkout = Checkout {
        carts: CartTable::from_env(dynamodb.clone())?,
        catalog: ProductTable::from_env(dynamodb.clone())?,
        rates: CachedRates::from_env(dynamodb.clone())?,
        sealer: CardKey::from_env(&config)?,
        book: CheckoutTables::from_env(dynamodb)?,
        links: OrderLinks::from_env(aws_sdk_ssm::Client::new(&config))?,
    };
    astroshop_edge::serve(|request| checkout.place_order(request)).await
}
