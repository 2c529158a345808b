//! The `Limits` table adapter checkout and notification count with, against
//! the template's table in the emulator: a count stops at its ceiling, even
//! under concurrent requests, and carries its expiry for DynamoDB's TTL.

use astroshop_store::{Counters, LimitsTable};
use aws_sdk_dynamodb::types::AttributeValue;
use local_stack_testing::TestTables;

async fn counts(prefix: &str) -> (TestTables, LimitsTable) {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    let table = LimitsTable::new(tables.dynamodb(), tables.setting("LIMITS_TABLE"));
    (tables, table)
}

#[tokio::test]
async fn a_count_grows_to_its_ceiling_and_no_further_and_keeps_its_expiry() {
    let (tables, counts) = counts("limits-ceiling").await;
    let key = "checkout#ip:198.51.100.7#1700000040";
    for expected in [true, true, false, false] {
        assert_eq!(counts.count_below(key, 2, 1_700_000_100).await.unwrap(), expected);
    }
    assert!(
        counts
            .count_below("checkout#ip:198.51.100.8#1700000040", 2, 1_700_000_100)
            .await
            .unwrap()
    );

    let item = tables
        .dynamodb()
        .get_item()
        .table_name(tables.setting("LIMITS_TABLE"))
        .key("pk", AttributeValue::S(key.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the count is stored");
    assert_eq!(item.get("count"), Some(&AttributeValue::N("2".into())));
    assert_eq!(
        item.get("expiresAt"),
        Some(&AttributeValue::N("1700000100".into()))
    );
}

#[tokio::test]
async fn concurrent_requests_never_pass_the_ceiling() {
    let (_tables, counts) = counts("limits-concurrent").await;
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let counts = counts.clone();
        running.spawn(async move {
            counts
                .count_below("mail#larry@example.com#1699999200", 5, 1_700_002_800)
                .await
                .unwrap()
        });
    }
    let mut admitted = 0;
    while let Some(counted) = running.join_next().await {
        admitted += usize::from(counted.unwrap());
    }
    assert_eq!(admitted, 5);
}
