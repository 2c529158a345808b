//! The ads handler, called in-process with the API Gateway events the
//! gateway builds, against the template's tables (seeded) in the emulator.

use std::collections::BTreeSet;

use astroshop_ads::get_ads;
use astroshop_store::AdTable;
use local_stack_testing::{TestTables, json_response as json, request};
use serde_json::Value;

async fn ads(prefix: &str) -> AdTable {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    AdTable::new(tables.dynamodb(), tables.setting("ADS_TABLE"))
}

async fn get(ads: &AdTable, uri: &str) -> (u16, Value) {
    let request = request("GET", uri, None, "ads-get");
    json(get_ads(ads, request).await.unwrap_or_else(|e| e.into_response()))
}

fn redirects(ads: &Value) -> BTreeSet<String> {
    ads.as_array()
        .unwrap()
        .iter()
        .map(|ad| ad["redirectUrl"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_category_gets_its_own_ads() {
    let ads = ads("ads-category").await;
    let (status, body) = get(&ads, "/api/data?contextKeys=binoculars").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        serde_json::json!([{"redirectUrl": "/product/2ZYFJ3GM2N", "text": "Roof Binoculars for sale. 50% off."}])
    );
}

#[tokio::test]
async fn several_categories_get_the_ads_of_each() {
    let ads = ads("ads-several").await;
    let expected: BTreeSet<String> = ["/product/2ZYFJ3GM2N", "/product/9SIQT8TOJO"]
        .map(str::to_owned)
        .into();
    for uri in [
        "/api/data?contextKeys=binoculars,assembly",
        "/api/data?contextKeys=binoculars&contextKeys=assembly",
    ] {
        let (status, body) = get(&ads, uri).await;
        assert_eq!(status, 200, "{uri}: {body}");
        assert_eq!(redirects(&body), expected, "{uri}");
    }
}

#[tokio::test]
async fn books_unknown_or_no_context_gets_two_random_ads() {
    let ads = ads("ads-random").await;
    for uri in [
        "/api/data?contextKeys=books",
        "/api/data?contextKeys=None",
        "/api/data?contextKeys=",
        "/api/data",
    ] {
        let (status, body) = get(&ads, uri).await;
        assert_eq!(status, 200, "{uri}: {body}");
        let picked = redirects(&body);
        assert_eq!(picked.len(), 2, "{uri}: {body}");
        assert!(picked.iter().all(|url| url.starts_with("/product/")), "{body}");
    }
}

#[tokio::test]
async fn absurd_context_keys_are_400s() {
    let ads = ads("ads-bad").await;
    let long = format!("/api/data?contextKeys={}", "x".repeat(65));
    let many = format!(
        "/api/data?contextKeys={}",
        (0..17).map(|i| format!("k{i}")).collect::<Vec<_>>().join(",")
    );
    for uri in [long, many] {
        let (status, body) = get(&ads, &uri).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "invalid_parameter");
    }
}
