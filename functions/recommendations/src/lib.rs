//! Recommendations service: up to four products the shopper is not already
//! looking at, picked at random as the demo's recommendation service does,
//! each priced in the shopper's currency. `recommendationsSlow` holds the
//! answer back.

use std::collections::BTreeSet;

use astroshop_domain::Product;
use astroshop_edge::{ApiError, Pricing, ok};
use astroshop_flags::{Flag, Flags};
use astroshop_store::{ProductCatalog, RateSource};
use lambda_http::{Body, Request, RequestExt, Response};
use rand::seq::SliceRandom;

/// How many products one answer recommends at most.
pub const MAX_RECOMMENDATIONS: usize = 4;

/// `GET /api/recommendations?productIds=A&productIds=B&sessionId=&currencyCode=`
pub async fn list_recommendations(
    catalog: &impl ProductCatalog,
    rates: &impl RateSource,
    flags: &Flags,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let pricing = Pricing::for_request(&request, rates).await?;
    flags.current().await.hold_back(Flag::RecommendationsSlow).await;
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
    Ok(ok(&pricing.price_all(others)?))
}
