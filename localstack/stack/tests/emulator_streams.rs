//! The emulator's streams behave as DynamoDB's do around transactions: a
//! cancelled TransactWriteItems adds no stream record, and a reader already
//! open keeps reading the records written after it.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, KeySchemaElement, KeyType, Put, ScalarAttributeType,
    StreamSpecification, StreamViewType, TransactWriteItem,
};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use local_stack_testing::TestTables;

#[tokio::test]
async fn a_cancelled_transaction_streams_nothing_and_readers_keep_reading() {
    let tables = TestTables::provision("streams-rollback").await.unwrap();
    let dynamodb = tables.dynamodb();
    let streams = aws_sdk_dynamodbstreams::Client::new(tables.config());
    let name = format!("{}-rollback", tables.prefix());
    let _ = dynamodb.delete_table().table_name(&name).send().await;
    let created = dynamodb
        .create_table()
        .table_name(&name)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("k")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("k")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let stream = created
        .table_description()
        .unwrap()
        .latest_stream_arn()
        .unwrap()
        .to_owned();
    let put = |key: &str| {
        dynamodb
            .put_item()
            .table_name(&name)
            .item("k", AttributeValue::S(key.into()))
            .send()
    };
    let keys = |records: &[aws_sdk_dynamodbstreams::types::Record]| -> Vec<String> {
        records
            .iter()
            .filter_map(|r| r.dynamodb()?.keys()?.get("k")?.as_s().ok().cloned())
            .collect()
    };
    let shard = streams
        .describe_stream()
        .stream_arn(&stream)
        .send()
        .await
        .unwrap();
    let shard_id = shard.stream_description().unwrap().shards()[0]
        .shard_id()
        .unwrap()
        .to_owned();
    let mut iterator = streams
        .get_shard_iterator()
        .stream_arn(&stream)
        .shard_id(&shard_id)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();

    put("a").await.unwrap();
    let read = streams
        .get_records()
        .shard_iterator(&iterator)
        .send()
        .await
        .unwrap();
    assert_eq!(keys(read.records()), ["a"]);
    iterator = read.next_shard_iterator.unwrap();

    // Writes "c", then fails on "a" (it exists): the whole transaction is cancelled.
    let item = |key: &str, condition: Option<&str>| {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&name)
                    .item("k", AttributeValue::S(key.into()))
                    .set_condition_expression(condition.map(str::to_owned))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let cancelled = dynamodb
        .transact_write_items()
        .transact_items(item("c", None))
        .transact_items(item("a", Some("attribute_not_exists(k)")))
        .send()
        .await;
    assert!(cancelled.is_err(), "the transaction's condition fails");

    put("b").await.unwrap();
    let read = streams
        .get_records()
        .shard_iterator(&iterator)
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys(read.records()),
        ["b"],
        "the open reader sees what came after, and no cancelled write"
    );
    let scanned = dynamodb
        .get_item()
        .table_name(&name)
        .key("k", AttributeValue::S("c".into()))
        .send()
        .await
        .unwrap();
    assert!(
        scanned.item().is_none(),
        "the cancelled write is not in the table"
    );
}
