//! Search and the category list, both read from the search read model that
//! the indexer keeps up to date from the `Products` stream.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use astroshop_domain::{Product, ProductId};
use astroshop_edge::{ApiError, PageRequest, Pricing, ok, page_response, required_query};
use astroshop_store::{RateSource, SearchIndex};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::terms::words;

/// Each word costs one query; a handful is plenty for a shop's search box.
const MAX_QUERY_WORDS: usize = 8;

/// A page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;

/// Where a found product ranks: a higher score first, then by name, then by
/// id, so every product has one place and a page can start after any.
type Rank = (Reverse<u32>, String, ProductId);

fn rank(score: u32, product: &Product) -> Rank {
    (Reverse(score), product.name.to_lowercase(), product.id.clone())
}

/// `GET /api/products/search?q=&currencyCode=&limit=&cursor=`: the products
/// with, for every word of `q`, a word that starts with it (any case; a
/// one-letter word matches whole). Ranked by where the words are found, a
/// name above a category above a description (see `terms`), then by name;
/// priced in the asked currency, one page at a time.
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
    let scope = format!("search;{terms:?};{}", pricing.currency());
    let page = PageRequest::from_request(&request, DEFAULT_LIMIT, &scope)?;
    let after: Option<(u32, String, ProductId)> = page.after()?;
    let after = after.map(|(score, name, id)| (Reverse(score), name, id));

    // Each product found with its score: for each word, the weight of the
    // most telling field it was found in.
    let mut found: Option<BTreeMap<ProductId, (Product, u32)>> = None;
    for term in &terms {
        let mut with_term: BTreeMap<ProductId, (Product, u32)> = BTreeMap::new();
        for matched in index
            .products_with_prefix(term)
            .await
            .map_err(ApiError::internal)?
        {
            let weight = u32::from(matched.weight);
            with_term
                .entry(matched.product.id.clone())
                .and_modify(|(_, best)| *best = (*best).max(weight))
                .or_insert((matched.product, weight));
        }
        let matching = match found {
            None => with_term,
            Some(mut so_far) => {
                so_far.retain(|id, _| with_term.contains_key(id));
                for (id, (_, score)) in &mut so_far {
                    *score += with_term[id].1;
                }
                so_far
            }
        };
        let none_left = matching.is_empty();
        found = Some(matching);
        if none_left {
            break;
        }
    }
    let mut ranked: Vec<(Rank, Product)> = found
        .unwrap_or_default()
        .into_values()
        .map(|(product, score)| (rank(score, &product), product))
        .filter(|(rank, _)| after.as_ref().is_none_or(|after| rank > after))
        .collect();
    ranked.sort_by(|(a, _), (b, _)| a.cmp(b));
    let next = if ranked.len() > page.limit {
        ranked.truncate(page.limit);
        let ((Reverse(score), name, id), _) = ranked.last().expect("a full page has a last item");
        Some(page.next_cursor(&(score, name, id))?)
    } else {
        None
    };
    let priced = pricing.price_all(ranked.into_iter().map(|(_, product)| product))?;
    astroshop_telemetry::metric("Searches", "Count", 1.0, None);
    Ok(page_response(&request, &priced, next))
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
