//! The catalog handlers, called in-process with the API Gateway events the
//! gateway builds, against the template's tables in the emulator.

use astroshop_catalog::terms::entries;
use astroshop_catalog::{get_product, list_products};
use astroshop_flags::{FlagValues, Flags};
use astroshop_store::{ProductCatalog, ProductSearchTable, ProductTable, RateTableStore, SearchIndexWriter};
use local_stack_testing::{TestTables, json_response as json, request, sample_request};
use serde_json::Value;

struct Catalog {
    products: ProductTable,
    index: ProductSearchTable,
    rates: RateTableStore,
}

/// The seeded catalogue, with its read model written as the indexer would.
async fn catalog(prefix: &str) -> Catalog {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    let catalog = Catalog {
        products: ProductTable::new(tables.dynamodb(), tables.setting("PRODUCTS_TABLE")),
        index: ProductSearchTable::new(tables.dynamodb(), tables.setting("PRODUCT_SEARCH_TABLE")),
        rates: RateTableStore::new(tables.dynamodb(), tables.setting("CURRENCY_RATES_TABLE")),
    };
    for product in catalog.products.list_products().await.unwrap() {
        let entries: Vec<_> = entries(&product).into_iter().collect();
        catalog.index.put_entries(&product, &entries).await.unwrap();
    }
    catalog
}

async fn list(catalog: &Catalog, uri: &str) -> (u16, Value) {
    let request = request("GET", uri, None, "catalog-list-products");
    json(
        list_products(&catalog.index, &catalog.rates, request)
            .await
            .unwrap_or_else(|e| e.into_response()),
    )
}

async fn get(catalog: &Catalog, uri: &str) -> (u16, Value) {
    let request = request("GET", uri, None, "catalog-get-product");
    json(
        get_product(&catalog.products, &catalog.rates, &Flags::none(), request)
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
async fn with_product_catalog_failure_on_only_its_product_fails() {
    let catalog = catalog("catalog-failure").await;
    let flags = Flags::fixed(
        serde_json::from_value::<FlagValues>(
            serde_json::json!({"productCatalogFailure": {"enabled": true, "productId": "OLJCESPC7Z"}}),
        )
        .unwrap(),
    );
    let get_flagged = |id: &str| {
        let request = request("GET", &format!("/api/products/{id}"), None, "catalog-get-product");
        get_product(&catalog.products, &catalog.rates, &flags, request)
    };
    let (status, body) = json(
        get_flagged("OLJCESPC7Z")
            .await
            .unwrap_or_else(|e| e.into_response()),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("fault_injected")),
        "{body}"
    );
    let (status, body) = json(get_flagged("9SIQT8TOJO").await.unwrap());
    assert_eq!((status, body["id"].as_str()), (200, Some("9SIQT8TOJO")));
    // Off, the product is served again.
    assert_eq!(get(&catalog, "/api/products/OLJCESPC7Z").await.0, 200);
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
        get_product(&catalog.products, &catalog.rates, &Flags::none(), request)
            .await
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(product["id"], "OLJCESPC7Z");
    assert_eq!(product["priceUsd"]["currencyCode"], "EUR");
}

#[tokio::test]
async fn a_missing_table_is_a_500_that_names_nothing_internal() {
    let tables = TestTables::provision("catalog-no-table")
        .await
        .expect("tables provisioned");
    let missing = format!("{}-NoSuchProductsTable", tables.prefix());
    let catalog = Catalog {
        products: ProductTable::new(tables.dynamodb(), &missing),
        index: ProductSearchTable::new(tables.dynamodb(), &missing),
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

/// Log lines written while `run` runs, as the functions write them (JSON,
/// with the current span's fields).
async fn logged<T>(run: impl Future<Output = T>) -> (T, Vec<Value>) {
    #[derive(Clone, Default)]
    struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let result = run.await;
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let parsed = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON log line"))
        .collect();
    (result, parsed)
}

#[tokio::test(flavor = "current_thread")]
async fn a_store_failure_is_a_bare_500_and_its_whole_cause_is_logged_once_under_the_request_id() {
    let tables = TestTables::provision("catalog-missing-table")
        .await
        .expect("tables provisioned");
    let missing = format!("{}-NoSuchTable", tables.prefix());
    let broken = Catalog {
        products: ProductTable::new(tables.dynamodb(), &missing),
        index: ProductSearchTable::new(tables.dynamodb(), &missing),
        rates: RateTableStore::new(tables.dynamodb(), tables.setting("CURRENCY_RATES_TABLE")),
    };
    let mut request = request("GET", "/api/products/OLJCESPC7Z", None, "catalog-get-product");
    request
        .headers_mut()
        .insert("x-request-id", "probe-42".parse().unwrap());
    let flags = Flags::none();
    let handler = |request| get_product(&broken.products, &broken.rates, &flags, request);

    // The span is made when `answer` is called: inside the capture.
    let (response, lines) = logged(async { astroshop_edge::answer(&handler, request).await }).await;
    assert_eq!(response.headers()["x-request-id"], "probe-42");
    let (status, body) = json(response);
    assert_eq!(status, 500);
    assert_eq!(
        body,
        serde_json::json!({"error": {"code": "internal_error", "message": "something went wrong on our side; please retry"}})
    );
    let failures: Vec<&Value> = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "request failed")
        .collect();
    assert_eq!(failures.len(), 1, "{lines:?}");
    let logged = failures[0]["fields"]["error"].as_str().unwrap();
    assert_eq!(
        logged,
        format!(
            "internal error: DynamoDB GetItem on {missing}: \
             ResourceNotFoundException: Requested resource not found"
        ),
        "the cause chain, from the call and its table down to DynamoDB's own words"
    );
    assert!(
        !body.to_string().contains("Requested resource"),
        "a cause shown to the client"
    );
    assert!(
        lines.iter().all(|line| line["span"]["request_id"] == "probe-42"),
        "every line of the request carries its id: {lines:?}"
    );
}

#[tokio::test]
async fn a_request_without_a_plausible_id_is_answered_with_the_gateways() {
    let catalog = catalog("catalog-request-ids").await;
    let flags = Flags::none();
    let handler = |request| get_product(&catalog.products, &catalog.rates, &flags, request);
    for sent in [None, Some("has spaces in it"), Some(&*"x".repeat(129))] {
        let mut request = request("GET", "/api/products/OLJCESPC7Z", None, "catalog-get-product");
        if let Some(sent) = sent {
            request
                .headers_mut()
                .insert("x-request-id", sent.parse().unwrap());
        }
        let response = astroshop_edge::answer(&handler, request).await;
        assert_eq!(response.status(), 200);
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert!(!id.is_empty() && Some(id) != sent, "{sent:?} answered as {id}");
    }
}
