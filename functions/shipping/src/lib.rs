//! Shipping service: the quote the storefront shows before checkout, and
//! shipping a paid order in the saga, never a failed one ([`ship`]). The
//! demo's storefront sends the quote's items and address as JSON inside
//! query parameters; each is parsed into domain types, and a malformed one
//! is a 400 that names the parameter. `intlShippingSlowdown` holds back
//! quotes for addresses outside the US.

pub mod ship;
mod store;

pub use store::ShipmentTable;

use astroshop_domain::CartLine;
use astroshop_domain::shipping::{self, Address};
use astroshop_edge::{ApiError, Pricing, ok, required_query};
use astroshop_flags::{Flag, Flags};
use astroshop_store::RateSource;
use lambda_http::{Body, Request, Response};
use serde::de::DeserializeOwned;

/// More lines than any cart could sensibly hold is a malformed request.
pub const MAX_LINES: usize = 100;

/// `GET /api/shipping?itemList=<json>&currencyCode=&address=<json>`
pub async fn quote_shipping(
    rates: &impl RateSource,
    flags: &Flags,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let items: Vec<CartLine> = json_param(&request, "itemList")?;
    if items.len() > MAX_LINES {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!(
                "query parameter \"itemList\" has {} lines; at most {MAX_LINES} are quoted",
                items.len()
            ),
        ));
    }
    // Required and checked so a bad address is caught at the quote, not at checkout.
    let address: Address = json_param(&request, "address")?;
    let pricing = Pricing::for_request(&request, rates).await?;
    if !address.is_in_the_us() {
        flags.current().await.hold_back(Flag::IntlShippingSlowdown).await;
    }
    let cost = shipping::quote(
        items.iter().map(|item| item.quantity),
        pricing.rates(),
        pricing.currency(),
    )
    .map_err(|error| ApiError::internal(format!("quoting shipping: {error}")))?;
    Ok(ok(&cost))
}

/// A query parameter holding JSON, parsed as `T`.
fn json_param<T: DeserializeOwned>(request: &Request, name: &str) -> Result<T, ApiError> {
    serde_json::from_str(required_query(request, name)?).map_err(|error| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("query parameter {name:?} is not valid: {error}"),
        )
    })
}
