//! Ads over HTTP: a page's categories get their ads, anything else random ones.

use std::collections::BTreeSet;

use anyhow::Result;
use astroshop_tests::{Shop, ensure_that};
use serde_json::Value;

pub const TESTS: &[(&str, crate::Test)] = tests![
    a_category_gets_its_own_ads,
    repeated_context_keys_get_the_ads_of_each,
    books_or_none_gets_two_random_ads,
];

fn redirects(ads: &Value) -> BTreeSet<String> {
    ads.as_array()
        .into_iter()
        .flatten()
        .filter_map(|ad| ad["redirectUrl"].as_str().map(str::to_owned))
        .collect()
}

fn a_category_gets_its_own_ads(shop: &Shop) -> Result<()> {
    let reply = shop.get("/api/data?contextKeys=accessories")?;
    ensure_that!(reply.status == 200, "status {}: {}", reply.status, reply.body);
    let expected: BTreeSet<String> = [
        "/product/0PUK6V6EV0",
        "/product/6E92ZMYYFZ",
        "/product/L9ECAV7KIM",
    ]
    .map(str::to_owned)
    .into();
    ensure_that!(redirects(&reply.body) == expected, "got {}", reply.body);
    let texts_present = reply
        .body
        .as_array()
        .into_iter()
        .flatten()
        .all(|ad| ad["text"].is_string());
    ensure_that!(texts_present, "an ad without text: {}", reply.body);
    Ok(())
}

fn repeated_context_keys_get_the_ads_of_each(shop: &Shop) -> Result<()> {
    let reply = shop.get("/api/data?contextKeys=telescopes&contextKeys=travel")?;
    ensure_that!(reply.status == 200, "status {}: {}", reply.status, reply.body);
    let expected: BTreeSet<String> = ["/product/66VCHSJNUP", "/product/1YMWWN1N4O"]
        .map(str::to_owned)
        .into();
    ensure_that!(redirects(&reply.body) == expected, "got {}", reply.body);
    Ok(())
}

fn books_or_none_gets_two_random_ads(shop: &Shop) -> Result<()> {
    for path in [
        "/api/data?contextKeys=books",
        "/api/data/?contextKeys=None",
        "/api/data",
    ] {
        let reply = shop.get(path)?;
        ensure_that!(
            reply.status == 200,
            "{path}: status {}: {}",
            reply.status,
            reply.body
        );
        ensure_that!(redirects(&reply.body).len() == 2, "{path}: {}", reply.body);
    }
    Ok(())
}
