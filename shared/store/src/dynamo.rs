//! DynamoDB mechanics every table adapter needs the same way: reading every
//! page of a query or scan, batch reads and writes with DynamoDB's leftovers
//! retried, and a failed write condition (or a cancelled transaction) read
//! as an answer rather than an error.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, WriteRequest};

use crate::StoreError;

pub type Item = HashMap<String, AttributeValue>;

/// `BatchWriteItem` takes at most 25 requests.
const WRITE_BATCH: usize = 25;
/// `BatchGetItem` takes at most 100 keys.
const GET_BATCH: usize = 100;
/// Rounds of retrying what DynamoDB left unprocessed (throttling) before
/// giving up and letting the caller's retry take over.
const UNPROCESSED_ROUNDS: u32 = 8;

/// Every item of a paged read: `page` sends the request from a start key and
/// gives the page's items and the key to go on from.
pub async fn all_pages<F, P>(mut page: F) -> Result<Vec<Item>, StoreError>
where
    F: FnMut(Option<Item>) -> P,
    P: Future<Output = Result<(Vec<Item>, Option<Item>), StoreError>>,
{
    let mut items = Vec::new();
    let mut start_key = None;
    loop {
        let (page_items, next) = page(start_key).await?;
        items.extend(page_items);
        start_key = next;
        if start_key.is_none() {
            return Ok(items);
        }
    }
}

/// Writes `requests` to `table` in batches, retrying what DynamoDB leaves
/// unprocessed with a growing pause.
pub async fn write_batches(
    client: &Client,
    table: &str,
    requests: Vec<WriteRequest>,
) -> Result<(), StoreError> {
    for chunk in requests.chunks(WRITE_BATCH) {
        until_processed(table, chunk.to_vec(), |pending| async {
            let output = client
                .batch_write_item()
                .request_items(table, pending)
                .send()
                .await?;
            let left = output
                .unprocessed_items
                .and_then(|mut left| left.remove(table))
                .unwrap_or_default();
            Ok((Vec::new(), left))
        })
        .await?;
    }
    Ok(())
}

/// The items of `table` with these keys, read strongly consistent in
/// batches, what DynamoDB leaves unprocessed retried with a growing pause.
/// Keys with no item are left out; the order is DynamoDB's.
pub async fn get_batches(client: &Client, table: &str, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(GET_BATCH) {
        let got = until_processed(table, chunk.to_vec(), |pending| async {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(true)
                .build()?;
            let output = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await?;
            let got = output
                .responses
                .and_then(|mut responses| responses.remove(table))
                .unwrap_or_default();
            let left = output
                .unprocessed_keys
                .and_then(|mut left| left.remove(table))
                .map(|left| left.keys)
                .unwrap_or_default();
            Ok((got, left))
        })
        .await?;
        items.extend(got);
    }
    Ok(items)
}

/// Sends `pending` to `table` until DynamoDB has processed all of it: `send`
/// gives the items that came back and the requests left unprocessed, which
/// go again after a growing pause.
async fn until_processed<T, F, P>(
    table: &str,
    mut pending: Vec<T>,
    mut send: F,
) -> Result<Vec<Item>, StoreError>
where
    F: FnMut(Vec<T>) -> P,
    P: Future<Output = Result<(Vec<Item>, Vec<T>), StoreError>>,
{
    let mut items = Vec::new();
    let mut round = 0;
    while !pending.is_empty() {
        if round == UNPROCESSED_ROUNDS {
            return Err(StoreError::Missing(format!(
                "{} requests to {table} stayed unprocessed",
                pending.len()
            )));
        }
        if round > 0 {
            tokio::time::sleep(Duration::from_millis(50 << round)).await;
        }
        // Boxed: the future of one request is deep already, and the futures
        // of the functions that await this one are built around it.
        let (got, left) = Box::pin(send(pending)).await?;
        items.extend(got);
        pending = left;
        round += 1;
    }
    Ok(items)
}

/// A conditional write's outcome: true when written, false when its condition
/// did not hold; any other failure is an error.
pub fn condition_held<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ConditionalFailure,
    StoreError: From<SdkError<E, R>>,
{
    match result {
        Ok(_) => Ok(true),
        Err(error) if error.as_service_error().is_some_and(E::is_condition_failure) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// The operations whose failure can be a condition that did not hold.
pub trait ConditionalFailure {
    fn is_condition_failure(&self) -> bool;
}

macro_rules! conditional_failure {
    ($($error:ty),*) => {$(
        impl ConditionalFailure for $error {
            fn is_condition_failure(&self) -> bool {
                self.is_conditional_check_failed_exception()
            }
        }
    )*};
}

conditional_failure!(
    aws_sdk_dynamodb::operation::put_item::PutItemError,
    aws_sdk_dynamodb::operation::delete_item::DeleteItemError,
    aws_sdk_dynamodb::operation::update_item::UpdateItemError
);

/// A transaction is refused as a whole: a condition of one of its writes did
/// not hold, or a concurrent transaction on the same items won.
impl ConditionalFailure for aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError {
    fn is_condition_failure(&self) -> bool {
        self.is_transaction_canceled_exception()
    }
}
