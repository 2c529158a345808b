//! The outbox publisher: consumes the `Orders` table's stream and puts every
//! newly written `OUTBOX#` item on the bus. An event is written in the same
//! transaction as the change it announces, and the stream delivers every
//! write at least once, so no event is lost between a write and its publish.
//! Other items of the table (orders, history) pass by untouched.
//!
//! A record that can never be published (an item without its event, or an
//! event the bus refuses for what it is, such as a malformed detail) is
//! parked whole in the outbox dead-letter queue, for an operator to read and
//! redrive, and the records after it go on: one poison record neither blocks
//! the stream nor takes its batch-mates with it. Anything a retry can get
//! past (the bus unreachable, throttled) stops the batch at that record, and
//! the stream retries from there, in order.

use std::future::Future;

use astroshop_saga::{Entry, EventBus, PublishError};
use astroshop_store::{MissingSetting, setting};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};

/// PutEvents takes ten entries at a time.
const CHUNK: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("stream record {0} has no sequence number to report it by")]
    Unidentified(String),
}

/// A record parked because it can never be published: the whole record, so
/// nothing of it is lost, and the event it holds when it could be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub reason: String,
    pub event_id: String,
    pub sequence_number: Option<String>,
    /// The record's keys and new image, in DynamoDB's JSON form.
    pub keys: serde_json::Value,
    pub new_image: serde_json::Value,
    /// The event, as it would have gone to the bus.
    pub entry: Option<Entry>,
}

/// Where records that can never be published are parked.
pub trait DeadLetters: Sync {
    fn park(&self, letter: &DeadLetter) -> impl Future<Output = Result<(), ParkError>> + Send;
}

#[derive(Debug, thiserror::Error)]
#[error("parking a dead letter: {0}")]
pub struct ParkError(#[source] Box<dyn std::error::Error + Send + Sync>);

/// The outbox dead-letter queue (`OUTBOX_DEAD_LETTERS_URL`).
#[derive(Debug, Clone)]
pub struct DeadLetterQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl DeadLetterQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, MissingSetting> {
        Ok(Self::new(
            aws_sdk_sqs::Client::new(config),
            setting("OUTBOX_DEAD_LETTERS_URL")?,
        ))
    }
}

impl DeadLetters for DeadLetterQueue {
    async fn park(&self, letter: &DeadLetter) -> Result<(), ParkError> {
        let body = serde_json::to_string(letter).map_err(|e| ParkError(e.into()))?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| ParkError(Box::new(aws_sdk_sqs::Error::from(e))))?;
        Ok(())
    }
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

/// What became of a record that can never be published.
enum Fate {
    Parked,
    /// Not parked either; the stream retries from this record.
    Retry,
}

/// Publishes the batch's outbox events in stream order, parking the ones
/// that can never be published; on the first failure a retry can get past,
/// it stops and reports that record (by sequence number): Lambda retries
/// from there, and the records after it wait their turn.
pub async fn publish_outbox(
    publisher: &impl EventBus,
    dead_letters: &impl DeadLetters,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, OutboxError> {
    let mut pending: Vec<(&EventRecord, Entry)> = Vec::new();
    for record in &event.payload.records {
        match outbox_entry(record) {
            Ok(None) => {}
            Ok(Some(entry)) => pending.push((record, entry)),
            Err(reason) => {
                if let Some(failed) = publish_in_chunks(publisher, dead_letters, &pending).await {
                    return report(failed);
                }
                pending.clear();
                if let Fate::Retry = park(dead_letters, record, None, reason).await {
                    return report(record);
                }
            }
        }
    }
    match publish_in_chunks(publisher, dead_letters, &pending).await {
        Some(failed) => report(failed),
        None => Ok(DynamoDbEventResponse::default()),
    }
}

/// Publishes `entries` ten at a time; the first record that must be retried.
/// Of a chunk the bus refused in part, the entries it took are out, those it
/// refused for what they are get parked, and the first it refused for its
/// own passing trouble is where the stream retries.
async fn publish_in_chunks<'r>(
    publisher: &impl EventBus,
    dead_letters: &impl DeadLetters,
    entries: &[(&'r EventRecord, Entry)],
) -> Option<&'r EventRecord> {
    for chunk in entries.chunks(CHUNK) {
        let batch: Vec<Entry> = chunk.iter().map(|(_, entry)| entry.clone()).collect();
        let refusals = match publisher.publish_all(&batch).await {
            Ok(()) => Vec::new(),
            Err(PublishError::Refused { refusals, .. }) => refusals,
            Err(error) => {
                tracing::error!(
                    error = %astroshop_telemetry::error_chain(&error),
                    "publishing outbox events failed; the stream retries them"
                );
                return Some(chunk[0].0);
            }
        };
        for (index, (record, entry)) in chunk.iter().enumerate() {
            let refusal = refusals.iter().find(|refusal| refusal.index == index);
            match refusal {
                None => published(entry),
                Some(refusal) if refusal.is_permanent() => {
                    let reason = format!("EventBridge refused the event: {}", refusal.code);
                    if let Fate::Retry = park(dead_letters, record, Some(entry.clone()), reason).await {
                        return Some(record);
                    }
                }
                Some(refusal) => {
                    tracing::error!(
                        code = refusal.code,
                        "EventBridge refused an outbox event for now; the stream retries it"
                    );
                    return Some(record);
                }
            }
        }
    }
    None
}

fn published(entry: &Entry) {
    tracing::info!(
        detail_type = entry.detail_type,
        source = entry.source,
        "outbox event published"
    );
    astroshop_telemetry::metric("EventsPublished", "Count", 1.0, None);
}

/// Parks a record that can never be published; if even that fails, the
/// record is retried, so it is never dropped.
async fn park(
    dead_letters: &impl DeadLetters,
    record: &EventRecord,
    entry: Option<Entry>,
    reason: String,
) -> Fate {
    let image = |item: &serde_dynamo::Item| serde_json::to_value(item).unwrap_or_default();
    let letter = DeadLetter {
        reason,
        event_id: record.event_id.clone(),
        sequence_number: record.change.sequence_number.clone(),
        keys: image(&record.change.keys),
        new_image: image(&record.change.new_image),
        entry,
    };
    match dead_letters.park(&letter).await {
        Ok(()) => {
            tracing::error!(
                event_id = letter.event_id,
                reason = letter.reason,
                "outbox record parked in the dead-letter queue; the records after it go on"
            );
            astroshop_telemetry::metric("DeadLetters", "Count", 1.0, None);
            Fate::Parked
        }
        Err(error) => {
            tracing::error!(
                event_id = letter.event_id,
                error = %astroshop_telemetry::error_chain(&error),
                "an outbox record that cannot be published could not be parked; the stream retries it"
            );
            Fate::Retry
        }
    }
}

fn report(record: &EventRecord) -> Result<DynamoDbEventResponse, OutboxError> {
    let sequence_number = record
        .change
        .sequence_number
        .clone()
        .ok_or_else(|| OutboxError::Unidentified(record.event_id.clone()))?;
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = Some(sequence_number);
    let mut response = DynamoDbEventResponse::default();
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
