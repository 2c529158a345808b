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
use crate::backoff::{Backoff, Retries};

pub type Item = HashMap<String, AttributeValue>;

/// `BatchWriteItem` takes at most 25 requests.
const WRITE_BATCH: usize = 25;
/// `BatchGetItem` takes at most 100 keys.
const GET_BATCH: usize = 100;
/// Pauses before sending again what DynamoDB left unprocessed (throttling):
/// growing to a second, as capacity refills by the second, and at most
/// 1.55 s in all for one batch read or write, however many batches it takes,
/// well inside a function's 10 s. What is left then is an error, for the
/// caller's retry.
const UNPROCESSED: Backoff = Backoff::new(
    Duration::from_millis(50),
    Duration::from_secs(1),
    Duration::from_secs(2),
);

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
    let mut retries = UNPROCESSED.retries();
    for chunk in requests.chunks(WRITE_BATCH) {
        until_processed(table, chunk.to_vec(), &mut retries, |pending| async {
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
    let mut retries = UNPROCESSED.retries();
    for chunk in keys.chunks(GET_BATCH) {
        let got = until_processed(table, chunk.to_vec(), &mut retries, |pending| async {
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
/// go again after a pause while `retries` allow.
async fn until_processed<T, F, P>(
    table: &str,
    mut pending: Vec<T>,
    retries: &mut Retries,
    mut send: F,
) -> Result<Vec<Item>, StoreError>
where
    F: FnMut(Vec<T>) -> P,
    P: Future<Output = Result<(Vec<Item>, Vec<T>), StoreError>>,
{
    let mut items = Vec::new();
    loop {
        // Boxed: the future of one request is deep already, and the futures
        // of the functions that await this one are built around it.
        let (got, left) = Box::pin(send(pending)).await?;
        items.extend(got);
        if left.is_empty() {
            return Ok(items);
        }
        if !retries.pause().await {
            return Err(StoreError::Missing(format!(
                "{} requests to {table} stayed unprocessed",
                left.len()
            )));
        }
        pending = left;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pauses_for_leftovers_of_one_batch_call_take_at_most_1_55_s() {
        assert_eq!(UNPROCESSED.worst_case(), Duration::from_millis(1550));
    }

    #[tokio::test]
    async fn leftovers_that_never_clear_are_an_error_once_the_retries_are_spent() {
        let quick = Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(1),
            Duration::from_millis(3),
        );
        let mut sends = 0;
        let result = until_processed("Carts", vec![1, 2], &mut quick.retries(), |pending| {
            sends += 1;
            async move { Ok((Vec::new(), pending)) }
        })
        .await;
        assert!(matches!(result, Err(StoreError::Missing(_))), "{result:?}");
        assert_eq!(sends, 1 + 3);
    }

    #[tokio::test]
    async fn leftovers_are_sent_again_until_none_are_left() {
        let quick = Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(1),
            Duration::from_millis(3),
        );
        let mut sent = Vec::new();
        let result = until_processed(
            "Carts",
            vec![1, 2, 3],
            &mut quick.retries(),
            |mut pending: Vec<i32>| {
                sent.push(pending.len());
                pending.pop();
                async move { Ok((Vec::new(), pending)) }
            },
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(sent, [3, 2, 1]);
    }
}
