//! Catalog service: the product list and the product page, each price
//! converted to the currency the shopper asked for (USD when none); search
//! and categories, served from a read model the indexer builds from the
//! `Products` stream; and the admin API that writes the catalogue.

pub mod admin;
pub mod indexer;
pub mod search;
pub mod terms;

use astroshop_domain::{CurrencyCode, Product, ProductId, RateTable};
use astroshop_edge::{ApiError, currency_param, ok, path_param};
use astroshop_store::{ProductCatalog, RateSource};
use lambda_http::{Body, Request, Response};

/// `GET /api/products?currencyCode=`
pub async fn list_products(
    catalog: &impl ProductCatalog,
    rates: &impl RateSource,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let currency = currency_param(&request)?;
    let rates = rates.rate_table().await.map_err(ApiError::internal)?;
    ensure_supported(&rates, &currency)?;
    let products = catalog.list_products().await.map_err(ApiError::internal)?;
    let priced = products
        .into_iter()
        .map(|product| price_in(product, &rates, &currency))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ok(&priced))
}

/// `GET /api/products/{productId}?currencyCode=`
pub async fn get_product(
    catalog: &impl ProductCatalog,
    rates: &impl RateSource,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let id = ProductId::parse(path_param(&request, "productId")?)
        .map_err(|e| ApiError::bad_request("invalid_product_id", e.to_string()))?;
    let currency = currency_param(&request)?;
    let rates = rates.rate_table().await.map_err(ApiError::internal)?;
    ensure_supported(&rates, &currency)?;
    let product = catalog
        .get_product(&id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("product_not_found", format!("no product with id {id}")))?;
    Ok(ok(&price_in(product, &rates, &currency)?))
}

fn ensure_supported(rates: &RateTable, currency: &CurrencyCode) -> Result<(), ApiError> {
    if rates.supports(currency) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "unsupported_currency",
            format!("currency {currency} is not supported; GET /api/currency lists those that are"),
        ))
    }
}

/// The product with its price in `currency`.
fn price_in(mut product: Product, rates: &RateTable, currency: &CurrencyCode) -> Result<Product, ApiError> {
    // The currency was checked before, so any failure here is bad stored data.
    product.price_usd = rates
        .convert(&product.price_usd, currency)
        .map_err(|error| ApiError::internal(format!("pricing product {}: {error}", product.id)))?;
    Ok(product)
}
