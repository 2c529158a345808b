//! Search, categories and the indexer, against the template's tables in the
//! emulator. The indexer is fed what the emulator's stream of the `Products`
//! table really holds, read with the DynamoDB Streams API and turned into the
//! event Lambda's event source mapping delivers.

use std::collections::BTreeMap;

use astroshop_catalog::indexer::index_changes;
use astroshop_catalog::list_products;
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

    /// One page: the status, the body and the path of the next page.
    async fn page(&self, uri: &str) -> (u16, Value, Option<String>) {
        let response = if uri.starts_with("/api/products/search") {
            search_products(
                &self.search,
                &self.rates,
                request("GET", uri, None, "catalog-search"),
            )
            .await
        } else {
            list_products(
                &self.search,
                &self.rates,
                request("GET", uri, None, "catalog-list-products"),
            )
            .await
        };
        let response = response.unwrap_or_else(|e| e.into_response());
        let next = response.headers().get("link").map(|link| {
            let link = link.to_str().unwrap();
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            link[1..link.find('>').unwrap()].to_owned()
        });
        let (status, body) = json(response);
        (status, body, next)
    }

    /// The ids of every page from `uri` on, page by page.
    async fn pages(&self, uri: &str) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut next = Some(uri.to_owned());
        while let Some(uri) = next {
            let (status, body, link) = self.page(&uri).await;
            assert_eq!(status, 200, "{uri}: {body}");
            pages.push(ids(&body));
            next = link;
            assert!(pages.len() < 100, "paging does not end");
        }
        pages
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

fn ids(body: &Value) -> Vec<String> {
    body.as_array()
        .unwrap_or_else(|| panic!("a list: {body}"))
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The seeded products by price, cheapest first.
const BY_PRICE: [&str; 10] = [
    "HQTGWGPNH4", // 0.99
    "L9ECAV7KIM", // 21.95
    "LS4PSXUNUM", // 57.08
    "6E92ZMYYFZ", // 69.95
    "OLJCESPC7Z", // 101.96
    "1YMWWN1N4O", // 129.95
    "0PUK6V6EV0", // 175.00
    "2ZYFJ3GM2N", // 209.95
    "66VCHSJNUP", // 349.95
    "9SIQT8TOJO", // 3599.00
];

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
    // Prefixes: "telescope" also finds the category "telescopes". Two names
    // have the word, then four products are in the category (by name), then
    // one description mentions telescopes.
    assert_eq!(
        shop.found_ids("telescope").await,
        [
            "1YMWWN1N4O",
            "66VCHSJNUP",
            "OLJCESPC7Z",
            "9SIQT8TOJO",
            "6E92ZMYYFZ",
            "0PUK6V6EV0",
            "L9ECAV7KIM"
        ]
    );
    assert_eq!(shop.found_ids("tele").await, shop.found_ids("telescope").await);
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
        ["6E92ZMYYFZ", "1YMWWN1N4O"],
        "the name match first"
    );
    assert_eq!(shop.found_ids("solar+filter+book").await, Vec::<String>::new());
    assert_eq!(
        shop.found_ids("solar,%20FILTER!").await,
        ["6E92ZMYYFZ", "1YMWWN1N4O"]
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

#[tokio::test]
async fn listing_pages_by_name_and_by_price_hold_every_product_once_in_order() {
    let shop = shop("list-pages").await;
    shop.index_stream().await;
    let by_name = shop.pages("/api/products?limit=3").await;
    assert_eq!(by_name.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3, 1]);
    let mut seeded: Vec<Product> = shop.products.list_products().await.unwrap();
    seeded.sort_by_key(|p| p.name.to_lowercase());
    let names: Vec<String> = seeded.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(by_name.concat(), names);
    // Without a limit the demo's client gets the whole catalogue, as before.
    assert_eq!(shop.pages("/api/products").await, [names]);

    assert_eq!(
        shop.pages("/api/products?sort=price&limit=4").await.concat(),
        BY_PRICE
    );
    let mut dearest_first = BY_PRICE.to_vec();
    dearest_first.reverse();
    assert_eq!(
        shop.pages("/api/products?sort=-price&limit=7").await.concat(),
        dearest_first
    );
}

#[tokio::test]
async fn a_category_and_a_price_range_in_the_asked_currency_filter_the_list() {
    let shop = shop("list-filters").await;
    shop.index_stream().await;
    assert_eq!(
        shop.pages("/api/products?category=telescopes&sort=price&limit=2")
            .await
            .concat(),
        [
            "6E92ZMYYFZ",
            "OLJCESPC7Z",
            "1YMWWN1N4O",
            "0PUK6V6EV0",
            "66VCHSJNUP",
            "9SIQT8TOJO"
        ]
    );
    assert_eq!(
        shop.pages("/api/products?category=Telescopes")
            .await
            .concat()
            .len(),
        6
    );
    assert_eq!(
        shop.pages("/api/products?category=comets").await,
        [Vec::<String>::new()]
    );
    // 101.96 USD is 90.190181336 EUR: a bound at that price keeps it, a nano above does not.
    assert_eq!(
        shop.pages("/api/products?currencyCode=EUR&minPrice=90.190181336&maxPrice=155&sort=price")
            .await
            .concat(),
        ["OLJCESPC7Z", "1YMWWN1N4O", "0PUK6V6EV0"]
    );
    assert_eq!(
        shop.pages("/api/products?currencyCode=EUR&minPrice=90.190181337&maxPrice=155&sort=price")
            .await
            .concat(),
        ["1YMWWN1N4O", "0PUK6V6EV0"]
    );
    // Sorted by name, a range still filters, page by page.
    let (_, cheap, _) = shop.page("/api/products?maxPrice=60&limit=2").await;
    assert_eq!(ids(&cheap), ["L9ECAV7KIM", "LS4PSXUNUM"]);
    assert!(
        cheap
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["priceUsd"]["units"].as_i64().unwrap() < 60),
        "{cheap}"
    );
    assert_eq!(
        shop.pages("/api/products?maxPrice=60&limit=2").await.concat(),
        ["L9ECAV7KIM", "LS4PSXUNUM", "HQTGWGPNH4"]
    );
}

#[tokio::test]
async fn a_repriced_product_moves_in_the_price_listing_and_leaves_no_trace_behind() {
    let shop = shop("list-reprice").await;
    shop.index_stream().await;
    let mut book = shop
        .products
        .get_product(&ProductId::parse("HQTGWGPNH4").unwrap())
        .await
        .unwrap()
        .unwrap();
    book.price_usd = astroshop_domain::Money::new(astroshop_domain::CurrencyCode::usd(), 500, 0).unwrap();
    shop.products.replace_product(&book).await.unwrap();
    shop.index_stream().await;
    let by_price = shop.pages("/api/products?sort=price&limit=3").await.concat();
    let mut expected: Vec<&str> = BY_PRICE[1..9].to_vec();
    expected.extend(["HQTGWGPNH4", "9SIQT8TOJO"]);
    assert_eq!(by_price, expected);
    assert_eq!(
        shop.pages("/api/products?category=books&sort=price")
            .await
            .concat(),
        ["HQTGWGPNH4"]
    );
}

#[tokio::test]
async fn bad_list_parameters_are_400s_naming_the_parameter() {
    let shop = shop("list-bad").await;
    let (_, first, _) = shop.page("/api/products?sort=price&limit=1").await;
    assert_eq!(first, json!([]), "nothing indexed yet");
    shop.index_stream().await;
    let (_, _, next) = shop.page("/api/products?sort=price&limit=1").await;
    let cursor = next.unwrap().split("cursor=").nth(1).unwrap().to_owned();
    for (uri, parameter) in [
        ("/api/products?limit=0".to_owned(), "limit"),
        ("/api/products?limit=101".to_owned(), "limit"),
        ("/api/products?limit=x".to_owned(), "limit"),
        ("/api/products?sort=cheapest".to_owned(), "sort"),
        ("/api/products?minPrice=-1".to_owned(), "minPrice"),
        ("/api/products?maxPrice=1e9".to_owned(), "maxPrice"),
        ("/api/products?minPrice=20&maxPrice=10".to_owned(), "minPrice"),
        ("/api/products?cursor=garbage".to_owned(), "cursor"),
        (format!("/api/products?sort=name&cursor={cursor}"), "cursor"),
        (format!("/api/products?category={}", "x".repeat(101)), "category"),
        ("/api/products/search?q=tele&limit=0".to_owned(), "limit"),
        (format!("/api/products/search?q=tele&cursor={cursor}"), "cursor"),
    ] {
        let (status, body, _) = shop.page(&uri).await;
        assert_eq!(status, 400, "{uri}: {body}");
        assert_eq!(body["error"]["code"], "invalid_parameter", "{uri}");
        assert_eq!(body["error"]["parameter"], parameter, "{uri}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(parameter),
            "{uri}: {body}"
        );
    }
}

#[tokio::test]
async fn search_pages_follow_the_ranking() {
    let shop = shop("search-pages").await;
    shop.index_stream().await;
    let pages = shop.pages("/api/products/search?q=tele&limit=2").await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 2, 1]);
    assert_eq!(pages.concat(), shop.found_ids("tele").await);
    assert_eq!(
        pages[0],
        ["1YMWWN1N4O", "66VCHSJNUP"],
        "names with the word first"
    );
    // A one-letter word matches whole words only (the "t" of a description's
    // "won't"), not every word that starts with it; two letters are a prefix.
    assert_eq!(shop.found_ids("t").await, ["9SIQT8TOJO"]);
    assert_eq!(
        shop.found_ids("so").await,
        ["6E92ZMYYFZ", "0PUK6V6EV0", "1YMWWN1N4O", "L9ECAV7KIM"]
    );
}
