//! DynamoDB mechanics every table adapter needs the same way: a failed call
//! that names its table ([`OnTable`]), reading every page of a query or
//! scan, batch reads and writes with DynamoDB's leftovers retried, and a
//! failed write condition (or a cancelled transaction) read as an answer
//! rather than an error.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::{
    batch_get_item::BatchGetItemError, batch_write_item::BatchWriteItemError, delete_item::DeleteItemError,
    get_item::GetItemError, put_item::PutItemError, query::QueryError, scan::ScanError,
    transact_write_items::TransactWriteItemsError, update_item::UpdateItemError,
};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, TransactWriteItem, Update, WriteRequest,
};

use crate::StoreError;
use crate::backoff::{Backoff, Retries};

pub type Item = HashMap<String, AttributeValue>;

/// A DynamoDB call's result, its failure told as the call and the table it
/// went to (the SDK's error alone names neither): `GetItem on
/// astroshop-Products: ResourceNotFoundException: ...`.
pub trait OnTable<T> {
    /// `table` is the table's name; for a transaction, [`tables_of`] its
    /// items.
    fn on_table(self, table: &str) -> Result<T, StoreError>;
}

impl<T, E, R> OnTable<T> for Result<T, SdkError<E, R>>
where
    E: Operation,
    aws_sdk_dynamodb::Error: From<SdkError<E, R>>,
{
    fn on_table(self, table: &str) -> Result<T, StoreError> {
        self.map_err(|error| StoreError::dynamo(error, table))
    }
}

impl StoreError {
    /// The failure of a DynamoDB call to `table`, for a caller that looked
    /// at the SDK's error first; [`OnTable`] for a call's result.
    pub fn dynamo<E, R>(error: SdkError<E, R>, table: &str) -> Self
    where
        E: Operation,
        aws_sdk_dynamodb::Error: From<SdkError<E, R>>,
    {
        Self::Dynamo {
            operation: E::NAME,
            table: table.to_owned(),
            source: Box::new(error.into()),
        }
    }
}

/// The DynamoDB call an SDK error type is the failure of.
pub trait Operation {
    /// The call's name in DynamoDB's API.
    const NAME: &'static str;
}

macro_rules! operations {
    ($($error:ty => $name:literal),* $(,)?) => {$(
        impl Operation for $error {
            const NAME: &'static str = $name;
        }
    )*};
}

operations!(
    BatchGetItemError => "BatchGetItem",
    BatchWriteItemError => "BatchWriteItem",
    DeleteItemError => "DeleteItem",
    GetItemError => "GetItem",
    PutItemError => "PutItem",
    QueryError => "Query",
    ScanError => "Scan",
    TransactWriteItemsError => "TransactWriteItems",
    UpdateItemError => "UpdateItem",
);

/// The tables a transaction writes to, each once, in the order its items
/// first name them, comma-separated.
pub fn tables_of(items: &[TransactWriteItem]) -> String {
    let named = items.iter().flat_map(|item| {
        [
            item.put().map(Put::table_name),
            item.update().map(Update::table_name),
            item.delete().map(Delete::table_name),
            item.condition_check().map(ConditionCheck::table_name),
        ]
    });
    let mut tables: Vec<&str> = Vec::new();
    for table in named.flatten() {
        if !tables.contains(&table) {
            tables.push(table);
        }
    }
    tables.join(", ")
}

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
                .await
                .on_table(table)?;
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
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let output = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .on_table(table)?;
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
/// did not hold; any other failure is an error naming `table` (a
/// transaction's: [`tables_of`]).
pub fn condition_held<T, E, R>(result: Result<T, SdkError<E, R>>, table: &str) -> Result<bool, StoreError>
where
    E: ConditionalFailure + Operation,
    aws_sdk_dynamodb::Error: From<SdkError<E, R>>,
{
    match result {
        Ok(_) => Ok(true),
        Err(error) if error.as_service_error().is_some_and(E::is_condition_failure) => Ok(false),
        Err(error) => Err(error).on_table(table),
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

conditional_failure!(PutItemError, DeleteItemError, UpdateItemError);

/// A transaction is refused as a whole: a condition of one of its writes did
/// not hold, or a concurrent transaction on the same items won.
impl ConditionalFailure for TransactWriteItemsError {
    fn is_condition_failure(&self) -> bool {
        self.is_transaction_canceled_exception()
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::error::ResourceNotFoundException;

    use super::*;

    #[test]
    fn a_failed_call_names_its_operation_its_table_and_its_cause_once() {
        let missing = ResourceNotFoundException::builder()
            .message("Requested resource not found")
            .build();
        let answer: Result<(), _> = Err(SdkError::service_error(
            GetItemError::ResourceNotFoundException(missing),
            (),
        ));
        let error = answer.on_table("astroshop-Products").unwrap_err();
        assert_eq!(
            astroshop_telemetry::error_chain(&error),
            "DynamoDB GetItem on astroshop-Products: ResourceNotFoundException: Requested resource not found"
        );
        let cause = std::error::Error::source(&error).and_then(|cause| cause.downcast_ref::<Box<_>>());
        assert!(
            matches!(
                cause.map(|cause| &**cause),
                Some(aws_sdk_dynamodb::Error::ResourceNotFoundException(_))
            ),
            "the SDK's error is the cause: {cause:?}"
        );
    }

    #[test]
    fn a_transaction_names_each_of_its_tables_once() {
        let put = |table: &str| {
            let put = Put::builder()
                .table_name(table)
                .item("pk", AttributeValue::S("1".into()));
            TransactWriteItem::builder().put(put.build().unwrap()).build()
        };
        let update = Update::builder()
            .table_name("Orders")
            .key("pk", AttributeValue::S("1".into()))
            .update_expression("SET n = :n")
            .build()
            .unwrap();
        let items = [
            put("Orders"),
            put("Idempotency"),
            TransactWriteItem::builder().update(update).build(),
        ];
        assert_eq!(tables_of(&items), "Orders, Idempotency");
    }

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
