//! Search and the category list, both read from the search read model that
//! the indexer keeps up to date from the `Products` stream.

use std::collections::{BTreeMap, BTreeSet};

use astroshop_domain::{Product, ProductId};
use astroshop_edge::{ApiError, Pricing, ok, required_query};
use astroshop_store::{RateSource, SearchIndex};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::terms::words;

/// Each word costs one query; a handful is plenty for a shop's search box.
const MAX_QUERY_WORDS: usize = 8;

/// `GET /api/products/search?q=&currencyCode=`: the products that have every
/// word of `q` (whole words, any case), by name, priced in the asked currency.
pub async fn search_products(
    index: &impl SearchIndex,
    rates: &impl RateSource,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let query = required_query(&request, "q")?;
    let terms: BTreeSet<String> = words(query).collect();
    if terms.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "query parameter \"q\" has no word to search for",
        ));
    }
    if terms.len() > MAX_QUERY_WORDS {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("query parameter \"q\" has more than {MAX_QUERY_WORDS} words"),
        ));
    }
    let pricing = Pricing::for_request(&request, rates).await?;

    let mut found: Option<BTreeMap<ProductId, Product>> = None;
    for term in &terms {
        let with_term = index.products_with_term(term).await.map_err(ApiError::internal)?;
        let with_term: BTreeMap<ProductId, Product> =
            with_term.into_iter().map(|p| (p.id.clone(), p)).collect();
        let matching = match found {
            None => with_term,
            Some(mut so_far) => {
                so_far.retain(|id, _| with_term.contains_key(id));
                so_far
            }
        };
        let none_left = matching.is_empty();
        found = Some(matching);
        if none_left {
            break;
        }
    }
    let mut products: Vec<Product> = found.unwrap_or_default().into_values().collect();
    products.sort_by(|a, b| a.name.cmp(&b.name));
    let priced = pricing.price_all(products)?;
    astroshop_telemetry::metric("Searches", "Count", 1.0, None);
    Ok(ok(&priced))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Category {
    name: String,
    product_count: usize,
}

/// `GET /api/categories`: every category with its number of products, by name.
pub async fn list_categories(
    index: &impl SearchIndex,
    _request: Request,
) -> Result<Response<Body>, ApiError> {
    let counts = index.category_counts().await.map_err(ApiError::internal)?;
    let categories: Vec<Category> = counts
        .into_iter()
        .map(|(name, product_count)| Category { name, product_count })
        .collect();
    Ok(ok(&categories))
}
