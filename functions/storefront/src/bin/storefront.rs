//! Lambda: the storefront's pages and form posts (`GET /`, `/product/{productId}`,
//! `/cart`, `/checkout`, `/orders/{orderId}`; `POST /cart`, `/cart/remove`,
//! `/cart/empty`, `/currency`, `/checkout`).

use std::convert::Infallible;

use astroshop_storefront::Storefront;
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    astroshop_telemetry::init();
    let storefront = Storefront::new()?;
    lambda_http::run(service_fn(|request: Request| async {
        Ok::<_, Infallible>(storefront.handle(request).await)
    }))
    .await
}
