//! The catalog handlers, called in-process with the API Gateway events the
//! gateway builds, against the template's tables in the emulator.

use astroshop_catalog::{get_product, list_products};
use astroshop_store::{ProductTable, RateTableStore};
use local_stack_testing::{TestTables, json_response as json, request, sample_request};
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

async fn list(catalog: &Catalog, uri: &str) -> (u16, Value) {
    let request = request("GET", uri, None, "catalog-list-products");
    json(
        list_products(&catalog.products, &catalog.rates, request)
            .await
            .unwrap_or_else(|e| e.into_response()),
    )
}

async fn get(catalog: &Catalog, uri: &str) -> (u16, Value) {
    let request = request("GET", uri, None, "catalog-get-product");
    json(
        get_product(&catalog.products, &catalog.rates, request)
            .await
            .unwrap_or_else(|e| e.into_response()),
    )
}

fn price_of<'v>(products: &'v Value, id: &str) -> &'v Value {
    &products
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("{id} is listed"))["priceUsd"]
}

#[tokio::test]
async fn listing_without_a_currency_gives_the_ten_products_in_usd() {
    let catalog = catalog("catalog-list-usd").await;
    let (status, products) = list(&catalog, "/api/products").await;
    assert_eq!(status, 200);
    assert_eq!(products.as_array().unwrap().len(), 10);
    assert_eq!(
        *price_of(&products, "OLJCESPC7Z"),
        serde_json::json!({"currencyCode": "USD", "units": 101, "nanos": 960000000})
    );
}

#[tokio::test]
async fn listing_in_eur_converts_every_price_to_the_nano() {
    let catalog = catalog("catalog-list-eur").await;
    let (status, products) = list(&catalog, "/api/products?currencyCode=EUR").await;
    assert_eq!(status, 200);
    // 101.96 USD / 1.1305 = 90.190181335692... EUR; 349.95 / 1.1305 = 309.553295002211...
    assert_eq!(
        *price_of(&products, "OLJCESPC7Z"),
        serde_json::json!({"currencyCode": "EUR", "units": 90, "nanos": 190181336})
    );
    assert_eq!(
        *price_of(&products, "66VCHSJNUP"),
        serde_json::json!({"currencyCode": "EUR", "units": 309, "nanos": 553295002})
    );
}

#[tokio::test]
async fn an_unsupported_or_malformed_currency_is_a_400() {
    let catalog = catalog("catalog-bad-currency").await;
    let (status, body) = list(&catalog, "/api/products?currencyCode=XXX").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "unsupported_currency");
    let (status, body) = get(&catalog, "/api/products/OLJCESPC7Z?currencyCode=eur%21").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_currency");
}

#[tokio::test]
async fn a_product_page_is_priced_in_the_asked_currency() {
    let catalog = catalog("catalog-get-jpy").await;
    let (status, product) = get(&catalog, "/api/products/OLJCESPC7Z?currencyCode=JPY").await;
    assert_eq!(status, 200);
    assert_eq!(product["name"], "National Park Foundation Explorascope");
    assert_eq!(product["categories"], serde_json::json!(["telescopes"]));
    // 101.96 × 126.4 / 1.1305 = 11400.038920831490...
    assert_eq!(
        product["priceUsd"],
        serde_json::json!({"currencyCode": "JPY", "units": 11400, "nanos": 38920831})
    );
}

#[tokio::test]
async fn an_unknown_product_is_a_404_and_a_malformed_id_a_400() {
    let catalog = catalog("catalog-get-missing").await;
    let (status, body) = get(&catalog, "/api/products/DOESNOTEXIST").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "product_not_found");
    let (status, body) = get(&catalog, "/api/products/a%20b").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_product_id");
}

#[tokio::test]
async fn the_sample_event_in_events_is_served() {
    let catalog = catalog("catalog-sample").await;
    let request = sample_request("http/catalog-get-product.json").unwrap();
    let (status, product) = json(
        get_product(&catalog.products, &catalog.rates, request)
            .await
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(product["id"], "OLJCESPC7Z");
    assert_eq!(product["priceUsd"]["currencyCode"], "EUR");
}

#[tokio::test]
async fn a_missing_products_table_is_a_500_that_names_nothing_internal() {
    let tables = TestTables::provision("catalog-no-table")
        .await
        .expect("tables provisioned");
    let missing = format!("{}-NoSuchProductsTable", tables.prefix());
    let catalog = Catalog {
        products: ProductTable::new(tables.dynamodb(), &missing),
        rates: RateTableStore::new(tables.dynamodb(), tables.setting("CURRENCY_RATES_TABLE")),
    };
    for (status, body) in [
        list(&catalog, "/api/products").await,
        get(&catalog, "/api/products/OLJCESPC7Z").await,
    ] {
        assert_eq!(status, 500, "{body}");
        assert_eq!(body["error"]["code"], "internal_error");
        let text = body.to_string();
        for internal in [missing.as_str(), "NoSuch", "DynamoDB", "ResourceNotFound"] {
            assert!(
                !text.contains(internal),
                "{internal:?} shown to the client: {text}"
            );
        }
    }
}
