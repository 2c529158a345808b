//! Search, categories and the indexer, against the template's tables in the
//! emulator. The indexer is fed what the emulator's stream of the `Products`
//! table really holds, read with the DynamoDB Streams API and turned into the
//! event Lambda's event source mapping delivers.

use std::collections::BTreeMap;

use astroshop_catalog::indexer::index_changes;
use astroshop_catalog::search::{list_categories, search_products};
use astroshop_domain::{Product, ProductId};
use astroshop_store::{ProductCatalog, ProductEditor, ProductSearchTable, ProductTable, RateTableStore};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use lambda_runtime::{Context, LambdaEvent};
use local_stack_testing::{TestTables, json_response as json, request};
use serde_json::{Value, json};

struct Shop {
    tables: TestTables,
    products: ProductTable,
    search: ProductSearchTable,
    rates: RateTableStore,
}

async fn shop(prefix: &str) -> Shop {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    Shop {
        products: ProductTable::new(tables.dynamodb(), tables.setting("PRODUCTS_TABLE")),
        search: ProductSearchTable::new(tables.dynamodb(), tables.setting("PRODUCT_SEARCH_TABLE")),
        rates: RateTableStore::new(tables.dynamodb(), tables.setting("CURRENCY_RATES_TABLE")),
        tables,
    }
}

impl Shop {
    /// Every record of the `Products` stream from its start, as one Lambda event.
    async fn stream(&self) -> Event {
        let table = self.tables.setting("PRODUCTS_TABLE");
        let described = self
            .tables
            .dynamodb()
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap();
        let arn = described
            .table
            .and_then(|t| t.latest_stream_arn)
            .expect("the table has a stream");
        let streams = aws_sdk_dynamodbstreams::Client::new(self.tables.config());
        let stream = streams.describe_stream().stream_arn(&arn).send().await.unwrap();
        let mut event = Event::default();
        for shard in stream
            .stream_description
            .and_then(|d| d.shards)
            .unwrap_or_default()
        {
            let mut iterator = streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(shard.shard_id.unwrap())
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap()
                .shard_iterator;
            while let Some(current) = iterator {
                let page = streams
                    .get_records()
                    .shard_iterator(current)
                    .send()
                    .await
                    .unwrap();
                if page.records().is_empty() {
                    break;
                }
                event
                    .records
                    .extend(page.records().iter().map(|r| lambda_record(r, &arn)));
                iterator = page.next_shard_iterator;
            }
        }
        event
    }

    /// Feeds the whole stream to the indexer, as a fresh mapping at
    /// TRIM_HORIZON would (so earlier records are delivered again).
    async fn index_stream(&self) {
        let response = self.index(self.stream().await).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }

    async fn index(&self, event: Event) -> DynamoDbEventResponse {
        index_changes(&self.search, LambdaEvent::new(event, Context::default()))
            .await
            .expect("the batch is processed")
    }

    async fn search(&self, uri: &str) -> (u16, Value) {
        json(
            search_products(
                &self.search,
                &self.rates,
                request("GET", uri, None, "catalog-search"),
            )
            .await
            .unwrap_or_else(|e| e.into_response()),
        )
    }

    async fn found_ids(&self, query: &str) -> Vec<String> {
        let (status, body) = self.search(&format!("/api/products/search?q={query}")).await;
        assert_eq!(status, 200, "{body}");
        body.as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn categories(&self) -> BTreeMap<String, u64> {
        let (status, body) = json(
            list_categories(
                &self.search,
                request("GET", "/api/categories", None, "catalog-categories"),
            )
            .await
            .unwrap(),
        );
        assert_eq!(status, 200);
        body.as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["productCount"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

/// The record as the event source mapping hands it to Lambda.
fn lambda_record(record: &aws_sdk_dynamodbstreams::types::Record, arn: &str) -> EventRecord {
    let change = record.dynamodb.as_ref().expect("a change");
    let item = |image: Option<
        &std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>,
    >| { serde_dynamo::Item::from(image.cloned().unwrap_or_default()) };
    let mut lambda = EventRecord::default();
    lambda.event_id = record.event_id.clone().unwrap_or_default();
    lambda.event_name = record
        .event_name
        .as_ref()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    lambda.event_source = Some("aws:dynamodb".to_owned());
    lambda.event_source_arn = Some(arn.to_owned());
    lambda.aws_region = "us-east-1".to_owned();
    lambda.change.keys = item(change.keys.as_ref());
    lambda.change.new_image = item(change.new_image.as_ref());
    lambda.change.old_image = item(change.old_image.as_ref());
    lambda.change.sequence_number = change.sequence_number.clone();
    lambda
}

fn product(id: &str, name: &str, categories: &[&str]) -> Product {
    serde_json::from_value(json!({
        "id": id, "name": name, "description": "Made for the search tests.",
        "picture": "Test.jpg",
        "priceUsd": {"currencyCode": "USD", "units": 12, "nanos": 500000000},
        "categories": categories,
    }))
    .unwrap()
}

const SEEDED_CATEGORIES: [(&str, u64); 7] = [
    ("accessories", 5),
    ("assembly", 1),
    ("binoculars", 1),
    ("books", 1),
    ("flashlights", 1),
    ("telescopes", 6),
    ("travel", 1),
];

#[tokio::test]
async fn the_seeded_catalogue_is_searchable_once_its_stream_is_indexed() {
    let shop = shop("search-seeded").await;
    assert_eq!(
        shop.found_ids("telescope").await,
        Vec::<String>::new(),
        "nothing indexed yet"
    );
    shop.index_stream().await;
    // Whole words: "telescope" is in these four, "telescopes" (the category) is another word.
    assert_eq!(
        shop.found_ids("telescope").await,
        ["1YMWWN1N4O", "OLJCESPC7Z", "0PUK6V6EV0", "66VCHSJNUP"]
    );
    assert_eq!(shop.found_ids("Comet").await, ["HQTGWGPNH4"]);
    let expected: BTreeMap<String, u64> = SEEDED_CATEGORIES
        .iter()
        .map(|(n, c)| (n.to_string(), *c))
        .collect();
    assert_eq!(shop.categories().await, expected);
}

#[tokio::test]
async fn every_word_of_a_query_must_match_in_any_case() {
    let shop = shop("search-and").await;
    shop.index_stream().await;
    assert_eq!(
        shop.found_ids("SOLAR%20filter").await,
        ["1YMWWN1N4O", "6E92ZMYYFZ"]
    );
    assert_eq!(shop.found_ids("solar+filter+book").await, Vec::<String>::new());
    assert_eq!(
        shop.found_ids("solar,%20FILTER!").await,
        ["1YMWWN1N4O", "6E92ZMYYFZ"]
    );
}

#[tokio::test]
async fn results_are_priced_in_the_asked_currency() {
    let shop = shop("search-eur").await;
    shop.index_stream().await;
    let (status, body) = shop
        .search("/api/products/search?q=explorascope&currencyCode=EUR")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body[0]["priceUsd"],
        json!({"currencyCode": "EUR", "units": 90, "nanos": 190181336})
    );
}

#[tokio::test]
async fn a_missing_empty_or_wordless_query_is_a_400() {
    let shop = shop("search-bad-query").await;
    for (uri, code) in [
        ("/api/products/search", "missing_parameter"),
        ("/api/products/search?q=", "missing_parameter"),
        ("/api/products/search?q=%20%2C%21", "invalid_query"),
        ("/api/products/search?q=a+b+c+d+e+f+g+h+i", "invalid_query"),
        (
            "/api/products/search?q=lens&currencyCode=XXX",
            "unsupported_currency",
        ),
    ] {
        let (status, body) = shop.search(uri).await;
        assert_eq!(status, 400, "{uri}: {body}");
        assert_eq!(body["error"]["code"], code, "{uri}");
    }
}

#[tokio::test]
async fn a_renamed_product_is_found_by_its_new_name_only_and_a_deleted_one_not_at_all() {
    let shop = shop("search-changes").await;
    let id = ProductId::parse("SEARCHTEST1").unwrap();
    shop.products
        .create_product(&product("SEARCHTEST1", "Quasar Lamp", &["lamps"]))
        .await
        .unwrap();
    shop.index_stream().await;
    assert_eq!(shop.found_ids("quasar").await, ["SEARCHTEST1"]);
    assert_eq!(shop.categories().await.get("lamps"), Some(&1));

    shop.products
        .replace_product(&product("SEARCHTEST1", "Pulsar Lamp", &["lights"]))
        .await
        .unwrap();
    shop.index_stream().await;
    assert_eq!(shop.found_ids("quasar").await, Vec::<String>::new());
    assert_eq!(shop.found_ids("pulsar%20lamp").await, ["SEARCHTEST1"]);
    let categories = shop.categories().await;
    assert_eq!(
        (categories.get("lamps"), categories.get("lights")),
        (None, Some(&1))
    );

    shop.products.delete_product(&id).await.unwrap();
    shop.index_stream().await;
    assert_eq!(shop.found_ids("pulsar").await, Vec::<String>::new());
    assert_eq!(shop.found_ids("lamp").await, Vec::<String>::new());
    assert_eq!(shop.categories().await.get("lights"), None);
    assert!(shop.products.get_product(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_price_change_reaches_search_results() {
    let shop = shop("search-price").await;
    shop.products
        .create_product(&product("SEARCHTEST2", "Andromedium Mug", &["mugs"]))
        .await
        .unwrap();
    let mut cheaper = product("SEARCHTEST2", "Andromedium Mug", &["mugs"]);
    cheaper.price_usd = astroshop_domain::Money::new(astroshop_domain::CurrencyCode::usd(), 3, 0).unwrap();
    shop.products.replace_product(&cheaper).await.unwrap();
    shop.index_stream().await;
    let (_, body) = shop.search("/api/products/search?q=andromedium").await;
    assert_eq!(
        body[0]["priceUsd"],
        json!({"currencyCode": "USD", "units": 3, "nanos": 0})
    );
}

#[tokio::test]
async fn delivering_a_batch_again_changes_nothing() {
    let shop = shop("search-redelivery").await;
    shop.products
        .create_product(&product("SEARCHTEST3", "Meteor Map", &["maps"]))
        .await
        .unwrap();
    let batch = shop.stream().await;
    for _ in 0..2 {
        let response = shop.index(batch.clone()).await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert_eq!(shop.found_ids("meteor").await, ["SEARCHTEST3"]);
    assert_eq!(shop.categories().await.get("maps"), Some(&1));
    assert_eq!(shop.categories().await.get("telescopes"), Some(&6));
}

#[tokio::test]
async fn the_first_failing_record_is_reported_and_the_records_after_it_wait() {
    let shop = shop("search-failure").await;
    for (id, name) in [
        ("SEARCHTEST4", "Orbit Alpha"),
        ("SEARCHTEST5", "Orbit Beta"),
        ("SEARCHTEST6", "Orbit Gamma"),
    ] {
        shop.products
            .create_product(&product(id, name, &["orbits"]))
            .await
            .unwrap();
    }
    let mut batch = shop.stream().await;
    batch.records.retain(|r| {
        let id = r.change.keys.get("id").cloned();
        ["SEARCHTEST4", "SEARCHTEST5", "SEARCHTEST6"]
            .iter()
            .any(|wanted| id == Some(serde_dynamo::AttributeValue::S(wanted.to_string())))
    });
    assert_eq!(batch.records.len(), 3);
    // The second record's image is not a product (a price without a currency).
    let broken = &mut batch.records[1];
    broken.change.new_image.remove("priceUsd");
    let broken_sequence = broken.change.sequence_number.clone();

    let response = shop.index(batch).await;
    let reported: Vec<Option<String>> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(reported, [broken_sequence]);
    assert_eq!(shop.found_ids("orbit").await, ["SEARCHTEST4"]);
}

#[tokio::test]
async fn the_sample_stream_events_index_and_unindex_a_product() {
    let shop = shop("search-sample").await;
    let sample = |json: &str| -> Event { serde_json::from_str(json).expect("the sample is a stream event") };
    let response = shop
        .index(sample(include_str!(
            "../../../events/dynamodb/products-insert.json"
        )))
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(shop.found_ids("starchart").await, ["SAMPLE0001"]);
    let response = shop
        .index(sample(include_str!(
            "../../../events/dynamodb/products-modify-remove.json"
        )))
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(shop.found_ids("starchart").await, Vec::<String>::new());
    assert_eq!(shop.categories().await.get("charts"), None);
}
