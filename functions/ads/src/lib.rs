//! Ads service: the ads of the categories the page is about (its context
//! keys), or random ads when none of them has any, as the demo's ad service
//! serves them.

use std::collections::BTreeSet;

use astroshop_edge::{ApiError, fail_if_flagged, ok};
use astroshop_flags::{Flag, Flags};
use astroshop_store::{Ad, AdCatalog};
use lambda_http::{Body, Request, RequestExt, Response};
use rand::seq::IndexedRandom;

/// How many random ads a page without ads of its own gets.
pub const RANDOM_ADS: usize = 2;
/// A page names a few categories; more is not a page.
pub const MAX_CONTEXT_KEYS: usize = 16;
/// Longer than any category name, short enough to be a valid table key.
pub const MAX_CONTEXT_KEY_LEN: usize = 64;

/// `GET /api/data?contextKeys=a,b`; with `adFailure` on, that share of
/// requests fails (the demo's 1 in 10).
pub async fn get_ads(
    ads: &impl AdCatalog,
    flags: &Flags,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let categories = context_keys(&request)?;
    fail_if_flagged(flags, Flag::AdFailure).await?;
    let mut found = Vec::new();
    for category in &categories {
        found.extend(ads.ads_in(category).await.map_err(ApiError::internal)?);
    }
    if found.is_empty() {
        let every_ad = ads.all_ads().await.map_err(ApiError::internal)?;
        found = every_ad
            .choose_multiple(&mut rand::rng(), RANDOM_ADS)
            .cloned()
            .collect::<Vec<Ad>>();
    }
    Ok(ok(&found))
}

/// The distinct categories asked for. API Gateway joins a repeated
/// `contextKeys` with commas, and clients also send one comma-separated list.
fn context_keys(request: &Request) -> Result<BTreeSet<String>, ApiError> {
    let keys: BTreeSet<String> = request
        .query_string_parameters_ref()
        .and_then(|params| params.all("contextKeys"))
        .unwrap_or_default()
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .map(str::to_owned)
        .collect();
    if keys.len() > MAX_CONTEXT_KEYS {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!(
                "at most {MAX_CONTEXT_KEYS} contextKeys are served, got {}",
                keys.len()
            ),
        ));
    }
    if let Some(long) = keys.iter().find(|key| key.len() > MAX_CONTEXT_KEY_LEN) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("context key {long:?} is longer than {MAX_CONTEXT_KEY_LEN} bytes"),
        ));
    }
    Ok(keys)
}
