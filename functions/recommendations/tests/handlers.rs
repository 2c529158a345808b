//! The recommendations handler, called in-process with the API Gateway
//! events the gateway builds, against the template's tables in the emulator.

use std::collections::BTreeSet;

use astroshop_flags::Flags;
use astroshop_recommendations::list_recommendations;
use astroshop_store::{ProductTable, RateTableStore};
use local_stack_testing::{TestTables, json_response as json, request};
use serde_json::Value;

struct Catalog {
    products: ProductTable,
    rates: RateTableStore,
}

async fn catalog(prefix: &str) -> Catalog {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    Catalog {
        products: ProductTable::new(tables.dynamodb(), tables.setting("PRODUCTS_TABLE")),
        rates: RateTableStore::new(tables.dynamodb(), tables.setting("CURRENCY_RATES_TABLE")),
    }
}

async fn recommend(catalog: &Catalog, uri: &str) -> (u16, Value) {
    let request = request("GET", uri, None, "recommendations-list");
    json(
        list_recommendations(&catalog.products, &catalog.rates, &Flags::none(), request)
            .await
            .unwrap_or_else(|e| e.into_response()),
    )
}

fn ids(products: &Value) -> Vec<String> {
    products
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn four_other_products_are_recommended() {
    let catalog = catalog("recommend-four").await;
    for uri in [
        "/api/recommendations?productIds=OLJCESPC7Z&productIds=66VCHSJNUP",
        "/api/recommendations?productIds=OLJCESPC7Z,66VCHSJNUP&sessionId=s1",
    ] {
        let (status, body) = recommend(&catalog, uri).await;
        assert_eq!(status, 200, "{body}");
        let ids = ids(&body);
        assert_eq!(ids.len(), 4, "{body}");
        assert_eq!(
            ids.iter().collect::<BTreeSet<_>>().len(),
            4,
            "duplicates in {body}"
        );
        assert!(
            !ids.iter().any(|id| id == "OLJCESPC7Z" || id == "66VCHSJNUP"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn recommendations_are_priced_in_the_asked_currency() {
    let catalog = catalog("recommend-eur").await;
    let (status, body) = recommend(&catalog, "/api/recommendations?productIds=X&currencyCode=EUR").await;
    assert_eq!(status, 200, "{body}");
    for product in body.as_array().unwrap() {
        assert_eq!(product["priceUsd"]["currencyCode"], "EUR", "{product}");
    }
}

#[tokio::test]
async fn the_order_is_random() {
    let catalog = catalog("recommend-random").await;
    let mut orders = BTreeSet::new();
    for _ in 0..20 {
        orders.insert(ids(&recommend(&catalog, "/api/recommendations").await.1));
    }
    // Twenty identical picks of 4 from 10 would happen about once in 10^70 runs.
    assert!(orders.len() > 1, "always {orders:?}");
}

#[tokio::test]
async fn unknown_ids_are_ignored_and_a_bad_currency_is_a_400() {
    let catalog = catalog("recommend-bad").await;
    let (status, body) = recommend(&catalog, "/api/recommendations?productIds=NOPE,a%20b,,").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body).len(), 4);
    let (status, body) = recommend(&catalog, "/api/recommendations?currencyCode=XXX").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("unsupported_currency"))
    );
}
