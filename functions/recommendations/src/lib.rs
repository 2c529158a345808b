//! Recommendations service: up to four products the shopper is not already
//! looking at, picked at random as the demo's recommendation service does,
//! each priced in the shopper's currency.

use std::collections::BTreeSet;

use astroshop_domain::Product;
use astroshop_edge::{ApiError, currency_param, ok};
use astroshop_store::{ProductCatalog, RateSource};
use lambda_http::{Body, Request, RequestExt, Response};
use rand::seq::SliceRandom;

/// How many products one answer recommends at most.
pub const MAX_RECOMMENDATIONS: usize = 4;

/// `GET /api/recommendations?productIds=A&productIds=B&sessionId=&currencyCode=`
pub async fn list_recommendations(
    catalog: &impl ProductCatalog,
    rates: &impl RateSource,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let currency = currency_param(&request)?;
    let rates = rates.rate_table().await.map_err(ApiError::internal)?;
    if !rates.supports(&currency) {
        return Err(ApiError::bad_request(
            "unsupported_currency",
            format!("currency {currency} is not supported; GET /api/currency lists those that are"),
        ));
    }
    // Ids are only compared, never looked up, so an unknown or malformed one
    // simply matches nothing.
    let shown: BTreeSet<&str> = request
        .query_string_parameters_ref()
        .and_then(|params| params.all("productIds"))
        .unwrap_or_default()
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut others: Vec<Product> = catalog
        .list_products()
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .filter(|product| !shown.contains(product.id.as_str()))
        .collect();
    others.shuffle(&mut rand::rng());
    others.truncate(MAX_RECOMMENDATIONS);
    for product in &mut others {
        // The currency was checked above, so any failure here is bad stored data.
        product.price_usd = rates
            .convert(&product.price_usd, &currency)
            .map_err(|error| ApiError::internal(format!("pricing product {}: {error}", product.id)))?;
    }
    Ok(ok(&others))
}
