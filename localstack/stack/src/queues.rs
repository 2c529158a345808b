//! Feeds an SQS queue to its function as Lambda's event source mapping does:
//! batches of up to `BatchSize` (waiting up to the batching window to fill
//! one), the Lambda `SQSEvent` shape, messages deleted only once handled.
//! Up to `MaximumConcurrency` batches are in flight at once, each received
//! only when a slot is free, so no message waits out its visibility timeout
//! unseen. A failed invocation leaves the whole batch on the queue; with
//! `ReportBatchItemFailures` only the messages the function names stay. A
//! message left on the queue comes back after its visibility timeout, and the
//! queue's redrive policy moves it to the dead-letter queue after
//! `maxReceiveCount` receives: the emulator does that part, as SQS does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{Map, Value, json};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::control::{Gate, pause};
use crate::functions::Invoker;
use crate::template::Polling;

/// One queue and the function it feeds.
#[derive(Debug, Clone)]
pub struct QueueSource {
    pub function: String,
    pub queue_arn: String,
    pub queue_url: String,
    pub polling: Polling,
    /// How many batches may be in flight at once.
    pub batches_in_flight: usize,
    pub region: String,
    /// How soon a message the function failed is seen again. `None` keeps the
    /// queue's visibility timeout, as Lambda does; a short delay makes retries
    /// (and the way to the dead-letter queue) quick locally.
    pub retry_after: Option<Duration>,
}

/// Feeds the queue until `stop` turns true, then lets the batches in flight
/// finish. A batch whose messages cannot be deleted stops the feeder.
pub async fn feed(
    source: QueueSource,
    sqs: Client,
    invoker: Invoker,
    mut gate: Gate,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let source = Arc::new(source);
    let slots = Arc::new(Semaphore::new(source.batches_in_flight));
    let mut in_flight = JoinSet::new();
    let fed = loop {
        if let Err(error) = settled(&mut in_flight) {
            break Err(error);
        }
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.context("the feeder's slots closed")?,
            Ok(_) = stop.wait_for(|stopped| *stopped) => break Ok(()),
        };
        gate.wait_open(&mut stop).await;
        if *stop.borrow() {
            break Ok(());
        }
        let batch = match collect(&source, &sqs, &mut stop).await {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(function = %source.function, "receiving from {}: {error:#}", source.queue_url);
                pause(Duration::from_secs(1), &mut stop).await;
                continue;
            }
        };
        if batch.is_empty() {
            continue;
        }
        if !gate.is_open() {
            // Turned off while receiving: the messages go back, undelivered.
            if let Err(error) = release(&source, &sqs, &batch).await {
                break Err(error);
            }
            continue;
        }
        let (source, sqs, invoker) = (source.clone(), sqs.clone(), invoker.clone());
        in_flight.spawn(async move {
            let handled = handle(&source, &sqs, &invoker, &batch).await;
            drop(slot);
            handled
        });
    };
    let mut finished = Ok(());
    while let Some(done) = in_flight.join_next().await {
        let handled = done
            .context("a batch's delivery panicked")
            .and_then(|handled| handled);
        finished = finished.and(handled);
    }
    fed.and(finished)
}

/// The outcome of the batches that have finished, the first failure if any.
fn settled(in_flight: &mut JoinSet<Result<()>>) -> Result<()> {
    while let Some(done) = in_flight.try_join_next() {
        done.context("a batch's delivery panicked")??;
    }
    Ok(())
}

/// Delivers one batch, deletes what was handled and, with `retry_after`,
/// brings the rest back sooner.
async fn handle(source: &QueueSource, sqs: &Client, invoker: &Invoker, batch: &[Message]) -> Result<()> {
    let failed = deliver(source, invoker, batch).await;
    let (done, kept): (Vec<&Message>, Vec<&Message>) = batch
        .iter()
        .partition(|m| !failed.contains(&m.message_id().unwrap_or_default()));
    delete(source, sqs, &done).await?;
    if let Some(delay) = source.retry_after {
        for message in kept {
            if let Some(handle) = message.receipt_handle() {
                sqs.change_message_visibility()
                    .queue_url(&source.queue_url)
                    .receipt_handle(handle)
                    .visibility_timeout(i32::try_from(delay.as_secs()).unwrap_or(i32::MAX))
                    .send()
                    .await
                    .context("shortening a failed message's visibility")?;
            }
        }
    }
    Ok(())
}

/// Receives until the batch is full, the batching window has passed, or (with
/// no window) one receive has returned messages.
async fn collect(
    source: &QueueSource,
    sqs: &Client,
    stop: &mut watch::Receiver<bool>,
) -> Result<Vec<Message>> {
    let mut batch: Vec<Message> = Vec::new();
    let mut first_at = Instant::now();
    loop {
        let wanted = source.polling.batch_size - batch.len();
        let received = sqs
            .receive_message()
            .queue_url(&source.queue_url)
            .max_number_of_messages(i32::try_from(wanted.min(10))?)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await?;
        let messages = received.messages.unwrap_or_default();
        if batch.is_empty() && !messages.is_empty() {
            first_at = Instant::now();
        }
        batch.extend(messages);
        let full = batch.len() >= source.polling.batch_size;
        let waited = first_at.elapsed() >= source.polling.batching_window;
        if *stop.borrow() || (!batch.is_empty() && (full || waited)) || batch.is_empty() {
            return Ok(batch);
        }
    }
}

/// Invokes the function and gives the ids of the messages that failed.
async fn deliver<'b>(source: &QueueSource, invoker: &Invoker, batch: &'b [Message]) -> Vec<&'b str> {
    let everything = || batch.iter().filter_map(|m| m.message_id()).collect();
    let event = json!({
        "Records": batch.iter().map(|m| record_event(m, source)).collect::<Vec<_>>()
    });
    let answer = match invoker.invoke(&source.function, &event).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!("{error}; its {} messages stay on the queue", batch.len());
            return everything();
        }
    };
    if !source.polling.reports_item_failures {
        return Vec::new();
    }
    match reported_failures(&answer, batch) {
        Ok(failed) => failed,
        Err(reason) => {
            tracing::warn!(function = %source.function, "{reason}; the whole batch stays on the queue");
            everything()
        }
    }
}

/// The message ids a `{"batchItemFailures": [{"itemIdentifier": …}]}` answer
/// names. An id that is not in the batch fails the whole batch, as it does
/// for Lambda.
fn reported_failures<'b>(answer: &[u8], batch: &'b [Message]) -> Result<Vec<&'b str>, String> {
    let answer: Value = match serde_json::from_slice(answer) {
        Ok(value) => value,
        Err(_) if answer.is_empty() => return Ok(Vec::new()),
        Err(e) => return Err(format!("the answer is not JSON: {e}")),
    };
    let Some(failures) = answer.get("batchItemFailures").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    failures
        .iter()
        .map(|failure| {
            let identifier = failure.get("itemIdentifier").and_then(Value::as_str);
            batch
                .iter()
                .filter_map(|m| m.message_id())
                .find(|id| Some(*id) == identifier)
                .ok_or_else(|| format!("reported failure {failure} is not a message of the batch"))
        })
        .collect()
}

/// Makes received messages visible again at once, as if never received
/// (their receive count still grows, as in SQS).
async fn release(source: &QueueSource, sqs: &Client, messages: &[Message]) -> Result<()> {
    for message in messages {
        if let Some(handle) = message.receipt_handle() {
            sqs.change_message_visibility()
                .queue_url(&source.queue_url)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await
                .context("returning a message received while the source was off")?;
        }
    }
    Ok(())
}

async fn delete(source: &QueueSource, sqs: &Client, messages: &[&Message]) -> Result<()> {
    for chunk in messages.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle().map(str::to_owned))
                    .build()
                    .ok()
            })
            .collect();
        let output = sqs
            .delete_message_batch()
            .queue_url(&source.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .context("deleting handled messages")?;
        if let Some(failure) = output.failed().first() {
            tracing::warn!(queue = %source.queue_url, "a handled message was not deleted: {failure:?}");
        }
    }
    Ok(())
}

/// One message as Lambda's `SQSEvent` carries it.
fn record_event(message: &Message, source: &QueueSource) -> Value {
    let attributes: Map<String, Value> = message
        .attributes()
        .map(|all| {
            all.iter()
                .map(|(name, value)| (name.as_str().to_owned(), json!(value)))
                .collect()
        })
        .unwrap_or_default();
    let message_attributes: Map<String, Value> = message
        .message_attributes()
        .map(|all| {
            all.iter()
                .map(|(name, value)| {
                    (
                        name.clone(),
                        json!({
                            "stringValue": value.string_value(),
                            "dataType": value.data_type(),
                            "stringListValues": [],
                            "binaryListValues": [],
                        }),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "messageId": message.message_id(),
        "receiptHandle": message.receipt_handle(),
        "body": message.body(),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": source.queue_arn,
        "awsRegion": source.region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> Message {
        Message::builder()
            .message_id(id)
            .receipt_handle(format!("rh-{id}"))
            .body("{}")
            .build()
    }

    #[test]
    fn only_the_reported_messages_stay() {
        let batch = [message("a"), message("b"), message("c")];
        let answer = br#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#;
        assert_eq!(reported_failures(answer, &batch), Ok(vec!["b"]));
        assert_eq!(
            reported_failures(br#"{"batchItemFailures":[]}"#, &batch),
            Ok(vec![])
        );
        assert_eq!(reported_failures(b"", &batch), Ok(vec![]));
    }

    #[test]
    fn an_unknown_or_missing_identifier_keeps_the_whole_batch() {
        let batch = [message("a")];
        for answer in [
            &br#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#[..],
            br#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            br#"{"batchItemFailures":[{}]}"#,
        ] {
            assert!(
                reported_failures(answer, &batch).is_err(),
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
    }

    #[test]
    fn messages_parse_as_lambdas_sqs_event() {
        let source = QueueSource {
            function: "f".into(),
            queue_arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
            queue_url: "http://127.0.0.1/123456789012/q".into(),
            polling: Polling {
                batch_size: 10,
                batching_window: Duration::ZERO,
                reports_item_failures: true,
            },
            batches_in_flight: 1,
            region: "us-east-1".into(),
            retry_after: None,
        };
        let event = json!({"Records": [record_event(&message("m1"), &source)]});
        let parsed: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(event).unwrap();
        assert_eq!(parsed.records[0].message_id.as_deref(), Some("m1"));
        assert_eq!(
            parsed.records[0].event_source_arn.as_deref(),
            Some(source.queue_arn.as_str())
        );
    }
}
