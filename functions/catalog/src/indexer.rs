//! The search indexer: consumes the `Products` table's stream
//! (NEW_AND_OLD_IMAGES) and keeps the search read model in step. For each
//! change it deletes the entries the old product had and the new one has
//! not, and puts every entry of the new one (each carries the product, so a
//! price change reaches search too). Puts and deletes only: a redelivered
//! record changes nothing more.

use astroshop_domain::Product;
use astroshop_store::{Entry, SearchIndexWriter, StoreError};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::LambdaEvent;

use crate::terms::entries;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("record {0} has no sequence number to report it by")]
    Unidentified(String),
    #[error("record has an unreadable product image: {0}")]
    Image(#[from] serde_dynamo::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies the batch in order. On the first record that fails, stops and
/// reports it (by sequence number) so Lambda retries from there: applying a
/// later change before an earlier one could leave stale entries behind.
pub async fn index_changes(
    index: &impl SearchIndexWriter,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, IndexError> {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.payload.records {
        if let Err(error) = apply_change(index, record).await {
            let sequence_number = record
                .change
                .sequence_number
                .clone()
                .ok_or_else(|| IndexError::Unidentified(record.event_id.clone()))?;
            tracing::error!(%error, sequence_number, event_id = record.event_id, "indexing a product change failed");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence_number);
            response.batch_item_failures.push(failure);
            break;
        }
    }
    Ok(response)
}

async fn apply_change(index: &impl SearchIndexWriter, record: &EventRecord) -> Result<(), IndexError> {
    let image = |item: &serde_dynamo::Item| -> Result<Option<Product>, IndexError> {
        if item.is_empty() {
            Ok(None)
        } else {
            Ok(Some(serde_dynamo::from_item(item.clone())?))
        }
    };
    let old = image(&record.change.old_image)?;
    let new = image(&record.change.new_image)?;
    // Without images (a stream not configured NEW_AND_OLD_IMAGES) there is nothing to index.
    let Some(id) = new.as_ref().or(old.as_ref()).map(|product| product.id.clone()) else {
        return Ok(());
    };
    let old_entries = old.as_ref().map(entries).unwrap_or_default();
    let new_entries = new.as_ref().map(entries).unwrap_or_default();
    let stale: Vec<Entry> = old_entries.difference(&new_entries).cloned().collect();
    if !stale.is_empty() {
        index.delete_entries(&id, &stale).await?;
    }
    if let Some(product) = &new {
        let current: Vec<Entry> = new_entries.into_iter().collect();
        index.put_entries(product, &current).await?;
    }
    tracing::info!(product_id = %id, event = record.event_name, removed = stale.len(), "indexed a product change");
    Ok(())
}
