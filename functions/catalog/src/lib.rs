//! Catalog service: the product list and the product page, each price
//! converted to the currency the shopper asked for (USD when none); the
//! list's filters and pages, search and categories, served from a read model
//! the indexer builds from the `Products` stream; and the admin API that
//! writes the catalogue.

pub mod admin;
pub mod indexer;
pub mod listing;
pub mod search;
pub mod terms;

pub use listing::list_products;

use astroshop_domain::ProductId;
use astroshop_edge::{ApiError, Pricing, ok, path_param};
use astroshop_flags::{Flag, Flags};
use astroshop_store::{ProductCatalog, RateSource};
use lambda_http::{Body, Request, Response};

/// `GET /api/products/{productId}?currencyCode=`; while
/// `productCatalogFailure` is on, its product (the demo's OLJCESPC7Z) fails.
pub async fn get_product(
    catalog: &impl ProductCatalog,
    rates: &impl RateSource,
    flags: &Flags,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let id = ProductId::parse(path_param(&request, "productId")?)
        .map_err(|e| ApiError::bad_request("invalid_product_id", e.to_string()))?;
    let failing = flags.current().await;
    if failing.text(Flag::ProductCatalogFailure, "productId") == Some(id.as_str()) {
        return Err(ApiError::injected(Flag::ProductCatalogFailure));
    }
    let pricing = Pricing::for_request(&request, rates).await?;
    let product = catalog
        .get_product(&id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("product_not_found", format!("no product with id {id}")))?;
    Ok(ok(&pricing.price(product)?))
}
