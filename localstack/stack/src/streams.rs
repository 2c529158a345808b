//! Feeds a DynamoDB stream to its function as Lambda's event source mapping
//! does: records in order, per shard, in batches of `BatchSize` (waiting up to
//! the batching window to fill one), the Lambda `DynamoDBEvent` shape, and
//! retries: a failed invocation is retried whole; with
//! `ReportBatchItemFailures` the function's first failed sequence number is
//! where the retry starts, and the records before it are done. With
//! `BisectBatchOnFunctionError` a failed batch is split in two before it is
//! retried (a split is not counted as a retry), so a record that keeps
//! failing ends up alone; when the retries run out, the batch is skipped and
//! its stream coordinates go to the `OnFailure` queue in Lambda's shape.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::control::{Gate, pause};
use crate::functions::Invoker;
use crate::template::Polling;

/// How often an idle shard is read; Lambda reads four times a second.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// One stream and the function it feeds.
#[derive(Debug, Clone)]
pub struct StreamSource {
    pub function: String,
    pub stream_arn: String,
    pub from_start: bool,
    pub polling: Polling,
    pub max_retries: Option<u32>,
    pub bisect: bool,
    pub on_failure: Option<Destination>,
    pub region: String,
}

/// The queue told of a batch whose retries ran out.
#[derive(Debug, Clone)]
pub struct Destination {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    /// The function's ARN, as Lambda names it in the message.
    pub function_arn: String,
}

/// Feeds every shard of the stream until `stop` turns true.
pub async fn feed(
    source: StreamSource,
    streams: Client,
    invoker: Invoker,
    gate: Gate,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    let description = streams
        .describe_stream()
        .stream_arn(&source.stream_arn)
        .send()
        .await
        .with_context(|| format!("describing stream {}", source.stream_arn))?;
    let shards: Vec<String> = description
        .stream_description()
        .map(|d| {
            d.shards()
                .iter()
                .filter_map(|s| s.shard_id().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut tasks = tokio::task::JoinSet::new();
    for shard in shards {
        let mut reader = ShardReader {
            source: source.clone(),
            streams: streams.clone(),
            invoker: invoker.clone(),
            shard,
        };
        let (gate, stop) = (gate.clone(), stop.clone());
        tasks.spawn(async move { reader.run(gate, stop).await });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

struct ShardReader {
    source: StreamSource,
    streams: Client,
    invoker: Invoker,
    shard: String,
}

impl ShardReader {
    async fn run(&mut self, mut gate: Gate, mut stop: watch::Receiver<bool>) -> Result<()> {
        let start = if self.source.from_start {
            ShardIteratorType::TrimHorizon
        } else {
            ShardIteratorType::Latest
        };
        let mut iterator = Some(self.iterator(start.clone(), None).await?);
        let mut last_read: Option<String> = None;
        let mut pending: VecDeque<Record> = VecDeque::new();
        let mut first_pending_at = Instant::now();
        let mut retries = 0u32;
        // How many records the next delivery takes: the batch size, or less
        // while a failed batch is being split.
        let mut limit = self.source.polling.batch_size;
        loop {
            gate.wait_open(&mut stop).await;
            if *stop.borrow() {
                return Ok(());
            }
            let wanted = self.source.polling.batch_size.saturating_sub(pending.len());
            // A full batch waits for delivery; the iterator stays for the next read.
            if wanted > 0
                && let Some(current) = iterator.take()
            {
                match self.read(&current, wanted).await {
                    Ok((records, next)) => {
                        if pending.is_empty() && !records.is_empty() {
                            first_pending_at = Instant::now();
                        }
                        if let Some(last) = records.last() {
                            last_read = last
                                .dynamodb()
                                .and_then(|d| d.sequence_number())
                                .map(str::to_owned);
                        }
                        pending.extend(records);
                        iterator = next;
                    }
                    Err(error) => {
                        // An iterator can expire; start again after the last record read.
                        tracing::warn!(function = %self.source.function, "reading the stream: {error:#}");
                        iterator = Some(match &last_read {
                            Some(sequence) => {
                                self.iterator(ShardIteratorType::AfterSequenceNumber, Some(sequence))
                                    .await?
                            }
                            None => self.iterator(start.clone(), None).await?,
                        });
                    }
                }
            }
            let full = pending.len() >= self.source.polling.batch_size;
            let waited = first_pending_at.elapsed() >= self.source.polling.batching_window;
            if pending.is_empty() || !(full || waited) {
                if iterator.is_none() && pending.is_empty() {
                    return Ok(()); // the shard is closed and everything in it was delivered
                }
                pause(POLL_EVERY, &mut stop).await;
                continue;
            }
            if !gate.is_open() {
                continue; // turned off while reading: the records wait, undelivered
            }
            let batch: Vec<&Record> = pending.iter().take(limit).collect();
            match self.deliver(&batch).await {
                Delivery::Done => {
                    pending.drain(..batch.len());
                    retries = 0;
                    limit = self.source.polling.batch_size;
                }
                Delivery::RetryFrom(index) => {
                    let failed = batch.len() - index;
                    pending.drain(..index);
                    if self.source.bisect && failed > 1 {
                        limit = failed.div_ceil(2);
                    } else {
                        retries += 1;
                    }
                }
            }
            if retries > 0 {
                if self.source.max_retries.is_some_and(|max| retries > max) {
                    let skipped: Vec<Record> = pending.drain(..pending.len().min(limit)).collect();
                    self.give_up(&skipped, retries).await;
                    retries = 0;
                    limit = self.source.polling.batch_size;
                } else {
                    let backoff = Duration::from_millis(200 * 2u64.pow(retries.min(5)));
                    pause(backoff, &mut stop).await;
                }
            }
            first_pending_at = Instant::now();
        }
    }

    /// Skips a batch whose retries ran out, telling the `OnFailure` queue
    /// where in the stream it was, as Lambda does (the records themselves
    /// stay in the stream until they expire).
    async fn give_up(&self, skipped: &[Record], attempts: u32) {
        let Some(destination) = &self.source.on_failure else {
            tracing::error!(
                function = %self.source.function,
                records = skipped.len(),
                "retries exhausted; the batch is skipped and no OnFailure destination is told"
            );
            return;
        };
        let message = failure_message(
            skipped,
            &self.shard,
            &self.source,
            &destination.function_arn,
            attempts,
        );
        let sent = destination
            .sqs
            .send_message()
            .queue_url(&destination.queue_url)
            .message_body(message.to_string())
            .send()
            .await;
        match sent {
            Ok(_) => tracing::error!(
                function = %self.source.function,
                records = skipped.len(),
                "retries exhausted; the batch is skipped and its coordinates sent to the OnFailure queue"
            ),
            Err(error) => tracing::error!(
                function = %self.source.function,
                records = skipped.len(),
                "retries exhausted; telling the OnFailure queue failed: {}",
                aws_sdk_sqs::Error::from(error)
            ),
        }
    }

    async fn iterator(&self, kind: ShardIteratorType, after: Option<&str>) -> Result<String> {
        let output = self
            .streams
            .get_shard_iterator()
            .stream_arn(&self.source.stream_arn)
            .shard_id(&self.shard)
            .shard_iterator_type(kind)
            .set_sequence_number(after.map(str::to_owned))
            .send()
            .await
            .with_context(|| format!("opening shard {} of {}", self.shard, self.source.stream_arn))?;
        output.shard_iterator.context("the stream gave no shard iterator")
    }

    async fn read(&self, iterator: &str, limit: usize) -> Result<(Vec<Record>, Option<String>)> {
        let output = self
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(i32::try_from(limit.min(1000))?)
            .send()
            .await?;
        Ok((output.records.unwrap_or_default(), output.next_shard_iterator))
    }

    /// Invokes the function with `batch` and reads what it says failed.
    async fn deliver(&self, batch: &[&Record]) -> Delivery {
        let event = json!({
            "Records": batch.iter().map(|r| record_event(r, &self.source)).collect::<Vec<_>>()
        });
        let answer = match self.invoker.invoke(&self.source.function, &event).await {
            Ok(answer) => answer,
            Err(error) => {
                tracing::warn!("{error}; the batch of {} records is retried", batch.len());
                return Delivery::RetryFrom(0);
            }
        };
        if !self.source.polling.reports_item_failures {
            return Delivery::Done;
        }
        let sequences: Vec<Option<&str>> = batch
            .iter()
            .map(|r| r.dynamodb().and_then(|d| d.sequence_number()))
            .collect();
        match first_failure(&answer, &sequences) {
            Ok(None) => Delivery::Done,
            Ok(Some(index)) => Delivery::RetryFrom(index),
            Err(reason) => {
                tracing::warn!(function = %self.source.function, "{reason}; the whole batch is retried");
                Delivery::RetryFrom(0)
            }
        }
    }
}

enum Delivery {
    Done,
    /// The records before this index are done; the rest are retried.
    RetryFrom(usize),
}

/// The index of the earliest record the function reported failed, read from a
/// `{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}` answer.
/// An identifier that is not in the batch makes the whole batch a failure, as
/// it does for Lambda.
fn first_failure(answer: &[u8], sequences: &[Option<&str>]) -> Result<Option<usize>, String> {
    let answer: Value = match serde_json::from_slice(answer) {
        Ok(value) => value,
        Err(_) if answer.is_empty() => return Ok(None),
        Err(e) => return Err(format!("the answer is not JSON: {e}")),
    };
    let Some(failures) = answer.get("batchItemFailures").and_then(Value::as_array) else {
        return Ok(None);
    };
    let mut first = None;
    for failure in failures {
        let identifier = failure.get("itemIdentifier").and_then(Value::as_str);
        let index = sequences
            .iter()
            .position(|s| s.is_some() && *s == identifier)
            .ok_or_else(|| format!("reported failure {failure} is not a record of the batch"))?;
        first = Some(first.map_or(index, |f: usize| f.min(index)));
    }
    Ok(first)
}

/// What Lambda sends an `OnFailure` destination for a stream batch it gave
/// up on: where the batch was, not what it held.
fn failure_message(
    skipped: &[Record],
    shard: &str,
    source: &StreamSource,
    function_arn: &str,
    attempts: u32,
) -> Value {
    let sequence = |record: Option<&Record>| {
        record
            .and_then(|r| r.dynamodb())
            .and_then(|d| d.sequence_number())
            .map(str::to_owned)
    };
    let arrival = |record: Option<&Record>| {
        record
            .and_then(|r| r.dynamodb())
            .and_then(|d| d.approximate_creation_date_time())
            .and_then(|t| {
                t.fmt(aws_sdk_dynamodbstreams::primitives::DateTimeFormat::DateTime)
                    .ok()
            })
    };
    json!({
        "requestContext": {
            "requestId": uuid::Uuid::new_v4().to_string(),
            "functionArn": function_arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": attempts,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
        "timestamp": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": sequence(skipped.first()),
            "endSequenceNumber": sequence(skipped.last()),
            "approximateArrivalOfFirstRecord": arrival(skipped.first()),
            "approximateArrivalOfLastRecord": arrival(skipped.last()),
            "batchSize": skipped.len(),
            "streamArn": source.stream_arn,
        },
    })
}

/// One record as Lambda's `DynamoDBEvent` carries it.
fn record_event(record: &Record, source: &StreamSource) -> Value {
    let mut change = Map::new();
    if let Some(d) = record.dynamodb() {
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                change.insert(key.to_owned(), value);
            }
        };
        put(
            "ApproximateCreationDateTime",
            d.approximate_creation_date_time().map(|t| json!(t.secs())),
        );
        put("Keys", d.keys.clone().map(image));
        put("NewImage", d.new_image.clone().map(image));
        put("OldImage", d.old_image.clone().map(image));
        put("SequenceNumber", d.sequence_number().map(|s| json!(s)));
        put("SizeBytes", d.size_bytes().map(|s| json!(s)));
        put("StreamViewType", d.stream_view_type().map(|v| json!(v.as_str())));
    }
    json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str()),
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.aws_region().unwrap_or(&source.region),
        "eventSourceARN": source.stream_arn,
        "dynamodb": change,
    })
}

/// An item in DynamoDB's JSON form (`{"id": {"S": "…"}}`).
fn image(item: std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>) -> Value {
    serde_json::to_value(serde_dynamo::Item::from(item)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_reported_failure_is_where_the_retry_starts() {
        let sequences = [Some("100"), Some("200"), Some("300")];
        let answer = br#"{"batchItemFailures":[{"itemIdentifier":"300"},{"itemIdentifier":"200"}]}"#;
        assert_eq!(first_failure(answer, &sequences), Ok(Some(1)));
        assert_eq!(
            first_failure(br#"{"batchItemFailures":[]}"#, &sequences),
            Ok(None)
        );
        assert_eq!(first_failure(b"null", &sequences), Ok(None));
        assert_eq!(first_failure(b"", &sequences), Ok(None));
    }

    #[test]
    fn a_failure_outside_the_batch_fails_the_whole_batch() {
        let sequences = [Some("100")];
        for answer in [
            &br#"{"batchItemFailures":[{"itemIdentifier":"999"}]}"#[..],
            br#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            br#"{"batchItemFailures":[{}]}"#,
            b"not json",
        ] {
            assert!(
                first_failure(answer, &sequences).is_err(),
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
    }

    #[test]
    fn records_carry_their_images_in_dynamodb_json() {
        use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, StreamRecord, StreamViewType};
        let record = Record::builder()
            .event_id("e1")
            .event_name(OperationType::Modify)
            .dynamodb(
                StreamRecord::builder()
                    .keys("id", AttributeValue::S("OLJCESPC7Z".into()))
                    .new_image("id", AttributeValue::S("OLJCESPC7Z".into()))
                    .new_image("price", AttributeValue::N("101.96".into()))
                    .sequence_number("42")
                    .size_bytes(30)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build(),
            )
            .build();
        let source = StreamSource {
            function: "indexer".into(),
            stream_arn: "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/1".into(),
            from_start: true,
            polling: Polling {
                batch_size: 10,
                batching_window: Duration::ZERO,
                reports_item_failures: true,
            },
            max_retries: None,
            bisect: false,
            on_failure: None,
            region: "us-east-1".into(),
        };
        let event = json!({"Records": [record_event(&record, &source)]});
        let parsed: aws_lambda_events::event::dynamodb::Event =
            serde_json::from_value(event.clone()).unwrap();
        let parsed = &parsed.records[0];
        assert_eq!(parsed.event_name, "MODIFY");
        assert_eq!(parsed.change.sequence_number.as_deref(), Some("42"));
        assert_eq!(
            event["Records"][0]["dynamodb"]["NewImage"]["price"],
            json!({"N": "101.96"})
        );
        assert_eq!(event["Records"][0]["eventSourceARN"], source.stream_arn.as_str());
    }
}
