//! The ads handler, called in-process with the API Gateway events the
//! gateway builds, against the template's tables (seeded) in the emulator.

use std::collections::BTreeSet;

use astroshop_ads::get_ads;
use astroshop_flags::{FlagValues, Flags};
use astroshop_store::AdTable;
use local_stack_testing::{TestTables, json_response as json, request};
use serde_json::Value;

async fn ads(prefix: &str) -> AdTable {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    AdTable::new(tables.dynamodb(), tables.setting("ADS_TABLE"))
}

async fn get(ads: &AdTable, uri: &str) -> (u16, Value) {
    get_flagged(ads, &Flags::none(), uri).await
}

async fn get_flagged(ads: &AdTable, flags: &Flags, uri: &str) -> (u16, Value) {
    let request = request("GET", uri, None, "ads-get");
    json(
        get_ads(ads, flags, request)
            .await
            .unwrap_or_else(|e| e.into_response()),
    )
}

fn ad_failure(rate: f64) -> Flags {
    Flags::fixed(
        serde_json::from_value::<FlagValues>(
            serde_json::json!({"adFailure": {"enabled": true, "rate": rate}}),
        )
        .unwrap(),
    )
}

#[tokio::test]
async fn with_ad_failure_on_that_share_of_requests_fails_and_names_the_flag() {
    let ads = ads("ads-failure").await;
    let (status, body) = get_flagged(&ads, &ad_failure(1.0), "/api/data?contextKeys=binoculars").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "fault_injected");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("adFailure"),
        "{body}"
    );
    let (status, body) = get_flagged(&ads, &ad_failure(0.0), "/api/data?contextKeys=binoculars").await;
    assert_eq!(status, 200, "{body}");
    // A bad request is still told so, whatever the flag.
    let too_long = format!("/api/data?contextKeys={}", "x".repeat(65));
    assert_eq!(get_flagged(&ads, &ad_failure(1.0), &too_long).await.0, 400);
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
