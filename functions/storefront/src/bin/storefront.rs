//! Lambda: the storefront's pages and form posts (`GET /`, `/search`,
//! `/category/{name}`, `/product/{productId}`, `/cart`, `/checkout`, `/orders`,
//! `/orders/{orderId}`, `/signup`, `/signin`;
//! `POST /cart`, `/cart/remove`, `/cart/empty`, `/currency`, `/checkout`,
//! `/signup`, `/signin`, `/signout`).

use std::convert::Infallible;

use astroshop_edge::ClientKey;
use astroshop_store::setting;
use astroshop_storefront::Storefront;
use astroshop_storefront::accounts::CognitoShoppers;
use astroshop_storefront::config::{ShopAddress, TracePage};
use astroshop_telemetry::Trigger;
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    astroshop_telemetry::init();
    let address = ShopAddress::from_env()?;
    let config = astroshop_store::aws_config().await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&config);
    let shoppers = CognitoShoppers::new(
        cognito,
        setting("SHOPPER_POOL_ID")?,
        setting("SHOPPER_POOL_CLIENT_ID")?,
    );
    let clients = ClientKey::from_env(aws_sdk_ssm::Client::new(&config))?;
    let storefront = Storefront::new(address, shoppers)?
        .vouching_with(clients)
        .linking_traces_to(TracePage::from_env());
    let handler =
        service_fn(|request: Request| async { Ok::<_, Infallible>(storefront.handle(request).await) });
    astroshop_telemetry::run(lambda_http::Adapter::from(handler), Trigger::Http).await
}
