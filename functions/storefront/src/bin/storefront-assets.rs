//! Lambda: `GET /images/products/{picture}` and `GET /static/{file}`, the
//! pictures, stylesheet, script and icon compiled into the binary.

use std::convert::Infallible;

use astroshop_flags::Flags;
use astroshop_storefront::serve_asset;
use astroshop_telemetry::Trigger;
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    astroshop_telemetry::init();
    let flags = Flags::from_env();
    let flags = &flags;
    let handler =
        service_fn(|request: Request| async move { Ok::<_, Infallible>(serve_asset(flags, &request).await) });
    astroshop_telemetry::run(lambda_http::Adapter::from(handler), Trigger::Http).await
}
