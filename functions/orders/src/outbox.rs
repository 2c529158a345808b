//! The outbox publisher: consumes the `Orders` table's stream and puts every
//! newly written `OUTBOX#` item on the bus. An event is written in the same
//! transaction as the change it announces, and the stream delivers every
//! write at least once, so no event is lost between a write and its publish.
//! Other items of the table (orders, history) pass by untouched.

use astroshop_saga::{Entry, EventBus};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;

/// PutEvents takes ten entries at a time; a failed call is reported from its
/// first record, so the records before it are not published again.
const CHUNK: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("stream record {0} has no sequence number to report it by")]
    Unidentified(String),
}

/// An outbox item's new image.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutboxItem {
    sk: String,
    source: Option<String>,
    detail_type: Option<String>,
    detail: Option<String>,
}

/// Publishes the batch's outbox events in stream order. On the first failure
/// it stops and reports that record (by sequence number): Lambda retries
/// from there, and the records after it wait their turn.
pub async fn publish_outbox(
    publisher: &impl EventBus,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, OutboxError> {
    let mut response = DynamoDbEventResponse::default();
    let mut pending: Vec<(&EventRecord, Entry)> = Vec::new();
    for record in &event.payload.records {
        match outbox_entry(record) {
            Ok(None) => {}
            Ok(Some(entry)) => pending.push((record, entry)),
            Err(reason) => {
                // Publish what came before it, then stop at the unreadable record.
                if let Some(failed) = publish_in_chunks(publisher, &pending).await {
                    return report(response, failed);
                }
                tracing::error!(event_id = record.event_id, reason, "unreadable outbox item");
                return report(response, record);
            }
        }
    }
    if let Some(failed) = publish_in_chunks(publisher, &pending).await {
        response = report(response, failed)?;
    }
    Ok(response)
}

/// Publishes `entries` ten at a time; the first record of a chunk that failed.
async fn publish_in_chunks<'r>(
    publisher: &impl EventBus,
    entries: &[(&'r EventRecord, Entry)],
) -> Option<&'r EventRecord> {
    for chunk in entries.chunks(CHUNK) {
        let batch: Vec<Entry> = chunk.iter().map(|(_, entry)| entry.clone()).collect();
        match publisher.publish_all(&batch).await {
            Ok(()) => {
                for entry in &batch {
                    tracing::info!(
                        detail_type = entry.detail_type,
                        source = entry.source,
                        "outbox event published"
                    );
                }
            }
            Err(error) => {
                tracing::error!(%error, "publishing outbox events failed; the stream retries them");
                return Some(chunk[0].0);
            }
        }
    }
    None
}

fn report(
    mut response: DynamoDbEventResponse,
    record: &EventRecord,
) -> Result<DynamoDbEventResponse, OutboxError> {
    let sequence_number = record
        .change
        .sequence_number
        .clone()
        .ok_or_else(|| OutboxError::Unidentified(record.event_id.clone()))?;
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = Some(sequence_number);
    response.batch_item_failures.push(failure);
    Ok(response)
}

/// The event an inserted outbox item holds; none for any other record.
fn outbox_entry(record: &EventRecord) -> Result<Option<Entry>, String> {
    if record.event_name != "INSERT" || record.change.new_image.is_empty() {
        return Ok(None);
    }
    let item: OutboxItem =
        serde_dynamo::from_item(record.change.new_image.clone()).map_err(|e| e.to_string())?;
    if !item.sk.starts_with("OUTBOX#") {
        return Ok(None);
    }
    match (item.source, item.detail_type, item.detail) {
        (Some(source), Some(detail_type), Some(detail)) => Ok(Some(Entry {
            source,
            detail_type,
            detail,
        })),
        _ => Err(format!(
            "outbox item {} lacks source, detailType or detail",
            item.sk
        )),
    }
}
