//! Search and categories, served from the read model the indexer builds
//! from the `Products` stream (the seeded catalogue included).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use astroshop_tests::{Shop, ensure_that};
use serde_json::{Value, json};

use crate::catalog::ensure_error;

pub const TESTS: &[(&str, crate::Test)] = tests![
    seeded_telescopes_are_found_by_a_prefix_of_their_words,
    every_word_of_a_query_must_match,
    categories_list_the_seven_seeded_with_their_counts,
    search_results_are_priced_in_the_asked_currency,
    a_search_without_words_is_a_json_400,
];

/// Alone: the changes a test writes straight to the table hold up the
/// stream for other tests while they are retried.
pub const EXCLUSIVE: &[(&str, crate::Test)] =
    tests![a_product_change_the_indexer_cannot_read_is_split_out_and_parked_and_the_rest_are_indexed];

/// How long a change may take to reach search through the stream.
pub const INDEXING_DEADLINE: Duration = Duration::from_secs(10);

/// How long the seeded catalogue may take to be searchable once the shop is
/// up: locally that includes the indexer's first start (`cargo run`) while
/// every other function starts too.
pub const FIRST_INDEXING_DEADLINE: Duration = Duration::from_secs(90);

/// Asks `check` until it answers `Ok`, failing with its last `Err` reason
/// after `deadline`.
pub fn eventually<T>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> Result<Result<T, String>>,
) -> Result<T> {
    let started = Instant::now();
    loop {
        match check()? {
            Ok(found) => {
                // How long the read model took to catch up, for a reader of the run.
                eprintln!("{what}: after {} ms", started.elapsed().as_millis());
                return Ok(found);
            }
            Err(reason) if started.elapsed() > deadline => {
                anyhow::bail!("{what} did not happen within {deadline:?}: {reason}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// The ids a search finds, in the order given.
pub fn found_ids(shop: &Shop, query: &str) -> Result<Vec<String>> {
    let reply = shop.get(&format!("/api/products/search?q={query}"))?;
    ensure_that!(
        reply.status == 200,
        "search {query}: status {}: {}",
        reply.status,
        reply.body
    );
    Ok(reply
        .body
        .as_array()
        .map(|found| {
            found
                .iter()
                .filter_map(|p| p["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Waits until searching `query` finds exactly `expected`, for at most [`INDEXING_DEADLINE`].
pub fn search_finds(shop: &Shop, query: &str, expected: &[&str]) -> Result<()> {
    search_finds_within(shop, query, expected, INDEXING_DEADLINE)
}

fn search_finds_within(shop: &Shop, query: &str, expected: &[&str], deadline: Duration) -> Result<()> {
    eventually(
        &format!("searching {query:?} finding {expected:?}"),
        deadline,
        || {
            let found = found_ids(shop, query)?;
            Ok(if found == expected {
                Ok(())
            } else {
                Err(format!("found {found:?}"))
            })
        },
    )
}

fn seeded_telescopes_are_found_by_a_prefix_of_their_words(shop: &Shop) -> Result<()> {
    // Two names have the word, four more products are in the category
    // "telescopes", and one description mentions them: in that order.
    search_finds_within(
        shop,
        "telescope",
        &[
            "1YMWWN1N4O",
            "66VCHSJNUP",
            "OLJCESPC7Z",
            "9SIQT8TOJO",
            "6E92ZMYYFZ",
            "0PUK6V6EV0",
            "L9ECAV7KIM",
        ],
        FIRST_INDEXING_DEADLINE,
    )?;
    let reply = shop.get("/api/products/search?q=TELESCOPE")?;
    ensure_that!(
        reply.body.as_array().is_some_and(|a| a.len() == 7),
        "{}",
        reply.body
    );
    Ok(())
}

fn every_word_of_a_query_must_match(shop: &Shop) -> Result<()> {
    search_finds_within(
        shop,
        "solar%20filter",
        &["6E92ZMYYFZ", "1YMWWN1N4O"],
        FIRST_INDEXING_DEADLINE,
    )?;
    search_finds(shop, "solar+filter+comet", &[])
}

fn categories_list_the_seven_seeded_with_their_counts(shop: &Shop) -> Result<()> {
    let expected = [
        ("accessories", 5),
        ("assembly", 1),
        ("binoculars", 1),
        ("books", 1),
        ("flashlights", 1),
        ("telescopes", 6),
        ("travel", 1),
    ];
    eventually(
        "the seeded categories being listed",
        FIRST_INDEXING_DEADLINE,
        || {
            let reply = shop.get("/api/categories")?;
            ensure_that!(reply.status == 200, "status {}: {}", reply.status, reply.body);
            let listed = reply.body.as_array().cloned().unwrap_or_default();
            let names: Vec<&str> = listed.iter().filter_map(|c| c["name"].as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort();
            ensure_that!(names == sorted, "categories are not sorted: {names:?}");
            let all_there = expected
                .iter()
                .all(|(name, count)| listed.contains(&json!({"name": name, "productCount": count})));
            Ok(if all_there {
                Ok(())
            } else {
                Err(reply.body.to_string())
            })
        },
    )
}

fn search_results_are_priced_in_the_asked_currency(shop: &Shop) -> Result<()> {
    search_finds_within(shop, "explorascope", &["OLJCESPC7Z"], FIRST_INDEXING_DEADLINE)?;
    let reply = shop.get("/api/products/search?q=explorascope&currencyCode=EUR")?;
    ensure_that!(reply.status == 200, "status {}", reply.status);
    let expected = json!({"currencyCode": "EUR", "units": 90, "nanos": 190181336});
    ensure_that!(reply.body[0]["priceUsd"] == expected, "{}", reply.body);
    Ok(())
}

fn a_search_without_words_is_a_json_400(shop: &Shop) -> Result<()> {
    for (path, code) in [
        ("/api/products/search", "missing_parameter"),
        ("/api/products/search?q=", "missing_parameter"),
        ("/api/products/search?q=%2C%2C%21", "invalid_query"),
        (
            "/api/products/search?q=lens&currencyCode=XXX",
            "unsupported_currency",
        ),
    ] {
        let reply = shop.get(path)?;
        ensure_that!(reply.status == 400, "{path}: status {}", reply.status);
        ensure_error(&reply.body, code)?;
    }
    Ok(())
}

/// The product `id` as `GET /api/products/{id}` shows it, `Null` when absent.
pub fn product_page(shop: &Shop, id: &str) -> Result<Value> {
    let reply = shop.get(&format!("/api/products/{id}"))?;
    match reply.status {
        200 => Ok(reply.body),
        404 => Ok(Value::Null),
        status => anyhow::bail!("GET /api/products/{id}: status {status}: {}", reply.body),
    }
}

fn a_product_change_the_indexer_cannot_read_is_split_out_and_parked_and_the_rest_are_indexed(
    shop: &Shop,
) -> Result<()> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let dynamodb = aws_sdk_dynamodb::Client::new(&shop.aws()?);
    let sqs = aws_sdk_sqs::Client::new(&shop.aws()?);
    let table = shop.setting("PRODUCTS_TABLE")?;
    let failures = shop
        .block_on(
            sqs.get_queue_url()
                .queue_name(shop.resource_name("CatalogIndexFailures")?)
                .send(),
        )?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let seeded = shop
        .block_on(
            dynamodb
                .get_item()
                .table_name(&table)
                .key("id", AttributeValue::S("OLJCESPC7Z".into()))
                .send(),
        )?
        .item
        .context("the seeded telescope")?;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let word = format!("bisected{tag}");
    let good_id = format!("GOOD{tag}").to_uppercase();
    let broken_id = format!("BROKEN{tag}").to_uppercase();
    let mut good = seeded.clone();
    good.insert("id".into(), AttributeValue::S(good_id.clone()));
    good.insert("name".into(), AttributeValue::S(format!("{word} telescope")));
    let mut broken = seeded;
    broken.insert("id".into(), AttributeValue::S(broken_id.clone()));
    // A name that is not text: no product the indexer can read.
    broken.insert("name".into(), AttributeValue::N("42".into()));

    // A change it cannot read, a good one, and the unreadable one's removal,
    // one after the other: one batch for the indexer.
    let put = |item: std::collections::HashMap<String, AttributeValue>| -> Result<()> {
        shop.block_on(dynamodb.put_item().table_name(&table).set_item(Some(item)).send())?;
        Ok(())
    };
    put(broken)?;
    put(good)?;
    shop.block_on(
        dynamodb
            .delete_item()
            .table_name(&table)
            .key("id", AttributeValue::S(broken_id))
            .send(),
    )?;

    search_finds_within(shop, &word, &[&good_id], Duration::from_secs(90))?;
    // Received once each and kept, so the two are counted however their
    // arrivals fall between polls.
    let mut parked: std::collections::BTreeMap<String, (Value, Option<String>)> = Default::default();
    eventually("both unreadable changes parked", Duration::from_secs(90), || {
        let received = shop.block_on(
            sqs.receive_message()
                .queue_url(&failures)
                .max_number_of_messages(10)
                .visibility_timeout(120)
                .send(),
        )?;
        for message in received.messages() {
            let body = serde_json::from_str(message.body().unwrap_or_default()).unwrap_or_default();
            parked.insert(
                message.message_id().unwrap_or_default().to_owned(),
                (body, message.receipt_handle().map(str::to_owned)),
            );
        }
        Ok(if parked.len() >= 2 {
            Ok(())
        } else {
            Err(format!("{} parked", parked.len()))
        })
    })?;
    for (body, receipt_handle) in parked.into_values() {
        ensure_that!(
            body["requestContext"]["condition"] == "RetryAttemptsExhausted"
                && body["DDBStreamBatchInfo"]["batchSize"] == 1,
            "a parked batch is not the unreadable change alone: {body}"
        );
        shop.block_on(
            sqs.delete_message()
                .queue_url(&failures)
                .set_receipt_handle(receipt_handle)
                .send(),
        )?;
    }
    shop.block_on(
        dynamodb
            .delete_item()
            .table_name(&table)
            .key("id", AttributeValue::S(good_id))
            .send(),
    )?;
    Ok(())
}
