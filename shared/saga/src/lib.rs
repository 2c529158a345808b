//! The saga's plumbing: publishing domain events to the shop's EventBridge
//! bus, and consuming them from the SQS queues the bus's rules feed.
//!
//! A consumer handles each message of a batch on its own and reports the
//! ones that failed (`ReportBatchItemFailures`): SQS retries only those, and
//! after the queue's `maxReceiveCount` parks them in its dead-letter queue,
//! while the rest of the batch is done and deleted. A message that cannot be
//! read at all (a poison message) is a failure like any other, so it ends in
//! the DLQ too, after its retries; so is one still running as the
//! invocation's deadline nears. A step that cannot be done yet (its remote
//! service is shut off by a circuit breaker) parks its message instead: the
//! message is sent to its queue again, delayed, and the received one is
//! done, so waiting uses up none of its receives.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use astroshop_domain::events::Entry;
use astroshop_domain::events::{DomainEvent, Envelope, Metadata};
use astroshop_store::{MissingSetting, StoreError, setting};
use astroshop_telemetry::Trigger;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, PutEventsResultEntry};
use aws_sdk_sqs::Client as SqsClient;
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use tokio::time::Instant;
use tracing::Instrument;

/// The current time, as every step stamps its events and records.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

// ------------------------------------------------------------------ publishing

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("EventBridge: {0}")]
    EventBridge(#[source] Box<aws_sdk_eventbridge::Error>),
    #[error("EventBridge refused {failed} of {sent} events: {reasons}")]
    Refused {
        failed: i32,
        sent: usize,
        reasons: String,
        /// Which entries were refused; the others of their call were
        /// published, and the calls after it were not made.
        refusals: Vec<Refusal>,
    },
    #[error("event detail does not serialize: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// One entry PutEvents refused: its position among the entries given to
/// `publish_all`, and EventBridge's error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub index: usize,
    pub code: String,
}

impl Refusal {
    /// The per-entry error codes of PutEvents that a retry can get past.
    const RETRYABLE: [&str; 2] = ["InternalFailure", "ThrottlingException"];

    /// Whether the same entry would be refused again (a malformed detail, a
    /// missing field), rather than EventBridge's own passing trouble.
    pub fn is_permanent(&self) -> bool {
        !Self::RETRYABLE.contains(&self.code.as_str())
    }
}

/// The X-Ray header of the trace an event carries, for EventBridge's
/// `TraceHeader`, so X-Ray links the bus, the queue and the next step.
fn xray_header(entry: &Entry) -> Option<String> {
    #[derive(Deserialize)]
    struct Carried {
        metadata: Metadata,
    }
    let carried: Carried = serde_json::from_str(&entry.detail).ok()?;
    astroshop_telemetry::xray_header(carried.metadata.traceparent.as_deref()?)
}

/// Where a step announces what it did: the shop's event bus.
pub trait EventBus: Sync {
    /// Publishes every entry; any entry the bus refuses makes the whole call
    /// an error (the caller retries, and consumers ignore the duplicates).
    fn publish_all(&self, entries: &[Entry]) -> impl Future<Output = Result<(), PublishError>> + Send;

    /// Publishes one event.
    fn publish<T: DomainEvent>(
        &self,
        envelope: &Envelope<T>,
    ) -> impl Future<Output = Result<(), PublishError>> + Send {
        let entry = Entry::of(envelope);
        let event_id = envelope.metadata.event_id.clone();
        async move {
            self.publish_all(std::slice::from_ref(&entry?)).await?;
            tracing::info!(event_id, detail_type = T::DETAIL_TYPE, "published");
            Ok(())
        }
    }
}

/// Puts events on the shop's bus (`EVENT_BUS_NAME`).
#[derive(Debug, Clone)]
pub struct Publisher {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl Publisher {
    /// PutEvents takes at most ten entries per call.
    const MAX_ENTRIES: usize = 10;

    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, MissingSetting> {
        Ok(Self::new(
            aws_sdk_eventbridge::Client::new(config),
            setting("EVENT_BUS_NAME")?,
        ))
    }
}

impl EventBus for Publisher {
    async fn publish_all(&self, entries: &[Entry]) -> Result<(), PublishError> {
        for (number, chunk) in entries.chunks(Self::MAX_ENTRIES).enumerate() {
            let request = chunk.iter().map(|entry| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(&entry.source)
                    .detail_type(&entry.detail_type)
                    .detail(&entry.detail)
                    .set_trace_header(xray_header(entry))
                    .build()
            });
            let output = self
                .client
                .put_events()
                .set_entries(Some(request.collect()))
                .send()
                .await
                .map_err(|error| PublishError::EventBridge(Box::new(error.into())))?;
            if output.failed_entry_count() > 0 {
                let refused: Vec<(usize, &PutEventsResultEntry)> = output
                    .entries()
                    .iter()
                    .enumerate()
                    .filter(|(_, result)| result.error_code().is_some())
                    .collect();
                let reasons = refused
                    .iter()
                    .map(|(_, result)| {
                        format!(
                            "{}: {}",
                            result.error_code().unwrap_or_default(),
                            result.error_message().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let refusals = refused
                    .iter()
                    .map(|(index, result)| Refusal {
                        index: number * Self::MAX_ENTRIES + index,
                        code: result.error_code().unwrap_or_default().to_owned(),
                    })
                    .collect();
                return Err(PublishError::Refused {
                    failed: output.failed_entry_count(),
                    sent: chunk.len(),
                    reasons,
                    refusals,
                });
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------------- consuming

/// One message from a rule's queue: the EventBridge event the rule delivered.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message_id: String,
    pub source: String,
    pub detail_type: String,
    pub envelope: Envelope<serde_json::Value>,
}

/// Why a saga step did not finish: the message goes back to its queue, is
/// retried, and after the queue's `maxReceiveCount` waits in its
/// dead-letter queue. The same shape for every step.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error("{0} is not an event this step handles")]
    UnexpectedEvent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// A write that kept meeting another's; the retry reads afresh.
    #[error("{0} kept changing while this step wrote it")]
    Contended(String),
    /// A reason of the step's own: a write that kept meeting another, a
    /// card that cannot be opened, a mail server that refused.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
    /// Not a failure: the step cannot be done yet, and its message should
    /// come back `after` this long (its queue's delay, at most 15 minutes).
    #[error("parked for {after:?}: {why}")]
    Parked { after: Duration, why: String },
}

impl StepError {
    pub fn other(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Other(Box::new(error))
    }
}

/// A message that is not a readable saga event.
#[derive(Debug, thiserror::Error)]
#[error("message {message_id} is not a saga event: {reason}")]
pub struct Unreadable {
    pub message_id: String,
    pub reason: String,
}

/// The EventBridge event, as an SQS target receives it.
#[derive(Deserialize)]
struct BusEvent {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    detail: Envelope<serde_json::Value>,
}

impl Delivery {
    pub fn read(message: &SqsMessage) -> Result<Self, Unreadable> {
        let message_id = message.message_id.clone().unwrap_or_default();
        let unreadable = |reason: String| Unreadable {
            message_id: message_id.clone(),
            reason,
        };
        let body = message
            .body
            .as_deref()
            .ok_or_else(|| unreadable("it has no body".into()))?;
        let event: BusEvent = serde_json::from_str(body).map_err(|error| unreadable(error.to_string()))?;
        Ok(Self {
            message_id: message_id.clone(),
            source: event.source,
            detail_type: event.detail_type,
            envelope: event.detail,
        })
    }

    pub fn metadata(&self) -> &Metadata {
        &self.envelope.metadata
    }

    /// The event's data as the type its detail-type names.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Unreadable> {
        serde_json::from_value(self.envelope.data.clone()).map_err(|error| Unreadable {
            message_id: self.message_id.clone(),
            reason: format!("{} data: {error}", self.detail_type),
        })
    }

    /// The event's data, when it is a `T`; any other event is not one this
    /// step handles.
    pub fn expect<T: DomainEvent + DeserializeOwned>(&self) -> Result<T, StepError> {
        if !self.is::<T>() {
            return Err(StepError::UnexpectedEvent(self.detail_type.clone()));
        }
        Ok(self.parse()?)
    }

    /// Whether this is a `T`.
    pub fn is<T: DomainEvent>(&self) -> bool {
        self.detail_type == T::DETAIL_TYPE && self.source == T::SOURCE
    }
}

/// Runs a saga step as its Lambda function, as `astroshop_edge::serve` runs
/// an HTTP one: tracing set up once, then every SQS batch through [`consume`].
pub async fn serve<H, F>(step: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Delivery) -> F,
    F: Future<Output = Result<(), StepError>>,
{
    astroshop_telemetry::init();
    let step = &step;
    let parking = &Parking::from_env();
    let consuming = service_fn(|event| async move {
        // Boxed: a step's future nested inside the runtime's own grows past
        // the compiler's limit for computing a future's layout.
        let batch = consume_parking(event, |delivery| Box::pin(step(delivery)), Some(parking));
        Ok::<_, lambda_runtime::Error>(batch.await)
    });
    astroshop_telemetry::run(consuming, Trigger::PubSub).await
}

/// How long before the invocation's deadline the messages still being
/// handled are given up: time left to answer the runtime with the failures.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// Handles every message of the batch with `handler` and reports the ones
/// that failed. Each runs in a span naming its order, event and trace, so
/// every log line of one checkout can be found by its order id.
///
/// The events of one order are handled one after another, in the batch's
/// order; different orders at once. A message still running when the
/// invocation's deadline nears is given up and reported failed, so one
/// hung message costs its batch-mates nothing: they are done, and not
/// redelivered with it.
pub async fn consume<H, F>(event: LambdaEvent<SqsEvent>, handler: H) -> SqsBatchResponse
where
    H: Fn(Delivery) -> F,
    F: Future<Output = Result<(), StepError>>,
{
    consume_parking(event, handler, None).await
}

/// [`consume`], parking the messages a step parks with `parking` (without
/// it, a parked message is reported failed, and retried as one).
pub async fn consume_parking<H, F>(
    event: LambdaEvent<SqsEvent>,
    handler: H,
    parking: Option<&Parking>,
) -> SqsBatchResponse
where
    H: Fn(Delivery) -> F,
    F: Future<Output = Result<(), StepError>>,
{
    let give_up_at = give_up_at(&event.context);
    let function = event.context.env_config.function_name.as_str();
    let records = &event.payload.records;
    let mut by_order: Vec<(String, Vec<Delivery>)> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    for message in records {
        match Delivery::read(message) {
            Ok(delivery) => {
                let order = &delivery.metadata().correlation_id;
                match by_order.iter_mut().find(|(key, _)| key == order) {
                    Some((_, deliveries)) => deliveries.push(delivery),
                    None => by_order.push((order.clone(), vec![delivery])),
                }
            }
            Err(error) => {
                tracing::error!(%error, "unreadable message; left for its dead-letter queue");
                failed.push(error.message_id);
            }
        }
    }
    let handler = &handler;
    let orders = by_order.into_iter().map(|(_, deliveries)| async move {
        let mut failed = Vec::new();
        for delivery in deliveries {
            let message_id = delivery.message_id.clone();
            let done = match handle(delivery, handler, function, give_up_at).await {
                Handled::Done => true,
                Handled::Failed => false,
                Handled::Parked(after) => match (
                    parking,
                    records
                        .iter()
                        .find(|m| m.message_id.as_ref() == Some(&message_id)),
                ) {
                    (Some(parking), Some(message)) => parking.park(message, after).await,
                    _ => false,
                },
            };
            if !done {
                failed.push(message_id);
            }
        }
        failed
    });
    for order_failed in futures::future::join_all(orders).await {
        failed.extend(order_failed);
    }
    let mut response = SqsBatchResponse::default();
    // Reported in the batch's order.
    for message in records {
        let message_id = message.message_id.clone().unwrap_or_default();
        if failed.contains(&message_id) {
            response.add_failure(message_id);
        }
    }
    response
}

/// What became of one message.
enum Handled {
    Done,
    Failed,
    /// To be sent again after this long.
    Parked(Duration),
}

/// Handles one message in `function`.
async fn handle<H, F>(delivery: Delivery, handler: &H, function: &str, give_up_at: Option<Instant>) -> Handled
where
    H: Fn(Delivery) -> F,
    F: Future<Output = Result<(), StepError>>,
{
    let message_id = delivery.message_id.clone();
    let metadata = delivery.metadata().clone();
    let span = tracing::info_span!(
        "event",
        "otel.name" = format!("{function} handles {}", delivery.detail_type),
        "otel.kind" = "consumer",
        "faas.name" = function,
        order_id = metadata.correlation_id,
        event_id = metadata.event_id,
        detail_type = delivery.detail_type,
        trace_id = trace_id(metadata.traceparent.as_deref()),
    );
    // The step's span is a child of the span that published its event.
    if let Some(traceparent) = &metadata.traceparent {
        astroshop_telemetry::continue_trace(&span, traceparent);
    }
    let started = std::time::Instant::now();
    let step = handler(delivery).instrument(span.clone());
    let outcome = match give_up_at {
        Some(at) => tokio::time::timeout_at(at, step).await,
        None => Ok(step.await),
    };
    let error = match outcome {
        Ok(Ok(())) => {
            // A saga step is one function: its name tells the steps apart.
            let step = astroshop_telemetry::function_name().map(|function| ("Step", function));
            astroshop_telemetry::metric_seconds_since("SagaStepSeconds", started, step);
            return Handled::Done;
        }
        Ok(Err(StepError::Parked { after, why })) => {
            span.in_scope(|| tracing::info!(message_id, ?after, why, "parked: the message comes back later"));
            return Handled::Parked(after);
        }
        Ok(Err(error)) => astroshop_telemetry::error_chain(&error),
        Err(_) => "the invocation's deadline came first".to_owned(),
    };
    span.in_scope(|| tracing::error!(error, message_id, "handling failed; the queue will retry it"));
    Handled::Failed
}

/// Sends parked messages to their queue again, delayed.
pub struct Parking {
    /// Made on the first park: most steps never park.
    sqs: tokio::sync::OnceCell<SqsClient>,
    /// Queue URLs by ARN, looked up once.
    urls: tokio::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// SQS delays a message at most this long.
const LONGEST_DELAY: Duration = Duration::from_secs(900);

impl Parking {
    pub fn new(sqs: SqsClient) -> Self {
        Self {
            sqs: tokio::sync::OnceCell::new_with(Some(sqs)),
            urls: Default::default(),
        }
    }

    /// Parking with the function's own AWS configuration, read when a
    /// message is first parked.
    pub fn from_env() -> Self {
        Self {
            sqs: tokio::sync::OnceCell::new(),
            urls: Default::default(),
        }
    }

    async fn sqs(&self) -> &SqsClient {
        self.sqs
            .get_or_init(|| async { SqsClient::new(&astroshop_store::aws_config().await) })
            .await
    }

    /// Sends `message` to the queue it came from again, to be seen `after`
    /// this long (in whole seconds, at least one); whether it was sent.
    pub async fn park(&self, message: &SqsMessage, after: Duration) -> bool {
        match self.send_again(message, after).await {
            Ok(()) => {
                astroshop_telemetry::metric("MessagesParked", "Count", 1.0, None);
                true
            }
            Err(error) => {
                tracing::error!(error = %astroshop_telemetry::error_chain(&*error), "parking failed; the queue will retry the message");
                false
            }
        }
    }

    async fn send_again(
        &self,
        message: &SqsMessage,
        after: Duration,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let arn = message
            .event_source_arn
            .as_deref()
            .ok_or("the message names no queue")?;
        let url = self.queue_url(arn).await?;
        let seconds = after
            .clamp(Duration::from_secs(1), LONGEST_DELAY)
            .as_secs_f64()
            .ceil() as i32;
        self.sqs()
            .await
            .send_message()
            .queue_url(url)
            .message_body(message.body.clone().unwrap_or_default())
            .delay_seconds(seconds)
            .send()
            .await
            .map_err(|error| format!("SQS SendMessage: {}", aws_sdk_sqs::Error::from(error)))?;
        Ok(())
    }

    async fn queue_url(&self, arn: &str) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        let mut urls = self.urls.lock().await;
        if let Some(url) = urls.get(arn) {
            return Ok(url.clone());
        }
        // arn:aws:sqs:<region>:<account>:<name>
        let mut parts = arn.rsplitn(3, ':');
        let (name, account) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        let url = self
            .sqs()
            .await
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(|error| format!("SQS GetQueueUrl {name}: {}", aws_sdk_sqs::Error::from(error)))?
            .queue_url
            .ok_or("GetQueueUrl gave no URL")?;
        urls.insert(arn.to_owned(), url.clone());
        Ok(url)
    }
}

/// When to give up the messages still running: [`DEADLINE_MARGIN`] before
/// the invocation's deadline. Lambda's deadline is always ahead when a batch
/// starts; one that is not (0 in a context built by hand, a constant from an
/// emulator that sets none) is no deadline at all, and sets no limit.
fn give_up_at(context: &lambda_runtime::Context) -> Option<Instant> {
    let deadline = UNIX_EPOCH + Duration::from_millis(context.deadline);
    let left = deadline.duration_since(SystemTime::now()).ok()?;
    Some(Instant::now() + left.saturating_sub(DEADLINE_MARGIN))
}

/// The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`).
pub fn trace_id(traceparent: Option<&str>) -> &str {
    traceparent
        .and_then(|value| value.split('-').nth(1))
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn message(id: &str, body: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.into());
        message.body = Some(body.into());
        message.attributes = HashMap::new();
        message
    }

    fn bus_event(order: &str) -> String {
        serde_json::json!({
            "version": "0", "id": "e1", "source": "astroshop.fraud",
            "detail-type": "OrderFlagged.v1", "account": "000000000000",
            "time": "2026-11-21T10:00:00Z", "region": "us-east-1", "resources": [],
            "detail": {
                "metadata": {"eventId": format!("{order}/OrderFlagged.v1"), "occurredAt": "2026-11-21T10:00:00Z",
                             "correlationId": order, "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
                "data": {"orderId": order, "score": 70, "reasons": ["large order"]}
            }
        })
        .to_string()
    }

    #[tokio::test]
    async fn a_poison_message_and_a_failing_one_are_reported_and_the_rest_handled() {
        let order = "3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11";
        let mut event = SqsEvent::default();
        event.records = vec![
            message("good", &bus_event(order)),
            message("poison", "{not json"),
            message("refused", &bus_event("not-an-order")),
        ];
        let handled = std::sync::Mutex::new(Vec::new());
        let response = consume(LambdaEvent::new(event, Default::default()), |delivery| {
            let handled = &handled;
            async move {
                let flagged: astroshop_domain::events::OrderFlagged = delivery.parse()?;
                handled.lock().unwrap().push(flagged.order_id.to_string());
                Ok(())
            }
        })
        .await;
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|failure| failure.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["poison", "refused"]);
        assert_eq!(*handled.lock().unwrap(), [order]);
    }

    fn batch(messages: &[(&str, &str)], deadline_in: Option<Duration>) -> LambdaEvent<SqsEvent> {
        let mut event = SqsEvent::default();
        event.records = messages
            .iter()
            .map(|(id, order)| message(id, &bus_event(order)))
            .collect();
        let mut context = lambda_runtime::Context::default();
        if let Some(left) = deadline_in {
            let deadline = SystemTime::now() + left;
            context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        }
        LambdaEvent::new(event, context)
    }

    #[tokio::test]
    async fn a_hung_message_is_given_up_before_the_deadline_and_its_batch_mates_are_done_once() {
        let (hung, b, c) = (
            "0b7e8f1a-6c2d-4e3f-8a9b-1c2d3e4f5a60",
            "1c8f9a2b-7d3e-4f40-9bac-2d3e4f5a6b71",
            "2d9a0b3c-8e4f-4051-acbd-3e4f5a6b7c82",
        );
        let handled = std::sync::Mutex::new(Vec::new());
        let started = std::time::Instant::now();
        let response = consume(
            batch(
                &[("m0", hung), ("m1", b), ("m2", c)],
                Some(Duration::from_secs(2)),
            ),
            |delivery| {
                let handled = &handled;
                async move {
                    let order = delivery.metadata().correlation_id.clone();
                    if order == hung {
                        std::future::pending::<()>().await;
                    }
                    handled.lock().unwrap().push(order);
                    Ok(())
                }
            },
        )
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "answered after the deadline"
        );
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|failure| failure.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["m0"]);
        let mut done = handled.into_inner().unwrap();
        done.sort();
        assert_eq!(done, [b, c]);
    }

    #[tokio::test]
    async fn a_deadline_already_past_when_the_batch_starts_sets_no_limit() {
        let order = "5a2d3e6f-b172-4384-9f0a-6b7c8d9eafb5";
        let mut event = batch(&[("m0", order)], None);
        // What an emulator that sets no deadline may send: 600 000 ms after the epoch.
        event.context.deadline = 600_000;
        let response = consume(event, |_| async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(())
        })
        .await;
        assert!(response.batch_item_failures.is_empty());
    }

    #[tokio::test]
    async fn the_events_of_one_order_are_handled_in_the_batchs_order() {
        let (a, b) = (
            "3e0b1c4d-9f50-4162-bdce-4f5a6b7c8d93",
            "4f1c2d5e-a061-4273-8edf-5a6b7c8d9ea4",
        );
        let handled = std::sync::Mutex::new(Vec::new());
        let response = consume(batch(&[("a1", a), ("b1", b), ("a2", a)], None), |delivery| {
            let handled = &handled;
            async move {
                if delivery.message_id == "a1" {
                    // The first of its order is slow; the second waits for it.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                handled.lock().unwrap().push(delivery.message_id);
                Ok(())
            }
        })
        .await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(*handled.lock().unwrap(), ["b1", "a1", "a2"]);
    }

    #[test]
    fn the_trace_id_is_the_second_field_of_a_traceparent() {
        assert_eq!(
            trace_id(Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(trace_id(None), "");
    }
}
