//! Starts a poller for every non-HTTP trigger the template declares, as
//! Lambda's event source mappings and EventBridge schedules would run them.
//! A queue's poller keeps as many batches in flight as its mapping's
//! `MaximumConcurrency` allows, within what the function may run at once.

use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::control::{Switches, pause};
use crate::functions::Invoker;
use crate::queues::{self, QueueSource};
use crate::resolve::Resolver;
use crate::streams::{self, Destination, StreamSource};
use crate::template::SourceKind;

/// Local departures from the cloud's timing, so the shop can be watched (and
/// tested) at human speed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    /// How soon a message a function failed is retried (`None`: the queue's
    /// visibility timeout, as in the cloud).
    pub retry_after: Option<Duration>,
    /// Runs every schedule at this period instead of the template's rate.
    pub schedule_every: Option<Duration>,
}

/// What was started, for the progress line, and the switch of each
/// function's event sources.
#[derive(Debug, Default)]
pub struct Started {
    pub streams: usize,
    pub queues: usize,
    pub schedules: usize,
    pub switches: Switches,
}

impl fmt::Display for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} stream mappings, {} queue mappings, {} schedules",
            self.streams, self.queues, self.schedules
        )
    }
}

/// Spawns the pollers into `tasks`; they run until `stop` turns true.
/// `function_concurrency` is how many instances of one function the
/// function runner runs at once.
pub async fn start(
    resolver: &Resolver<'_>,
    config: &aws_config::SdkConfig,
    invoker: &Invoker,
    function_concurrency: u16,
    timing: Timing,
    stop: &watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) -> Result<Started> {
    let mut started = Started::default();
    let streams_client = aws_sdk_dynamodbstreams::Client::new(config);
    let sqs = aws_sdk_sqs::Client::new(config);
    let names = resolver.names();
    for function in resolver.template().functions() {
        for source in &function.sources {
            let context = || format!("{}, event {}", function.logical_id, source.name);
            match &source.kind {
                SourceKind::DynamoDb {
                    stream,
                    from_start,
                    polling,
                    max_retries,
                    bisect,
                    on_failure,
                } => {
                    let on_failure = match on_failure {
                        None => None,
                        Some(destination) => {
                            let queue_arn = resolver.resolve_string(destination).with_context(context)?;
                            Some(Destination {
                                sqs: sqs.clone(),
                                queue_url: queue_url(&sqs, &queue_arn).await.with_context(context)?,
                                function_arn: names.arn("lambda", &format!("function:{}", function.binary)),
                            })
                        }
                    };
                    let source = StreamSource {
                        function: function.binary.clone(),
                        stream_arn: resolver.resolve_string(stream).with_context(context)?,
                        from_start: *from_start,
                        polling: *polling,
                        max_retries: *max_retries,
                        bisect: *bisect,
                        on_failure,
                        region: names.region.clone(),
                    };
                    let (client, invoker, stop) = (streams_client.clone(), invoker.clone(), stop.clone());
                    let gate = started.switches.gate(&function.binary);
                    tasks.spawn(async move {
                        let function = source.function.clone();
                        if let Err(error) = streams::feed(source, client, invoker, gate, stop).await {
                            tracing::error!(%function, "the stream feeder stopped: {error:#}");
                        }
                    });
                    started.streams += 1;
                }
                SourceKind::Sqs {
                    queue,
                    polling,
                    maximum_concurrency,
                } => {
                    let queue_arn = resolver.resolve_string(queue).with_context(context)?;
                    let queue_url = queue_url(&sqs, &queue_arn).await.with_context(context)?;
                    let source = QueueSource {
                        function: function.binary.clone(),
                        queue_arn,
                        queue_url,
                        polling: *polling,
                        batches_in_flight: batches_in_flight(
                            *maximum_concurrency,
                            function.reserved_concurrency,
                            function_concurrency,
                        ),
                        region: names.region.clone(),
                        retry_after: timing.retry_after,
                    };
                    let (client, invoker, stop) = (sqs.clone(), invoker.clone(), stop.clone());
                    let gate = started.switches.gate(&function.binary);
                    tasks.spawn(async move {
                        let function = source.function.clone();
                        if let Err(error) = queues::feed(source, client, invoker, gate, stop).await {
                            tracing::error!(%function, "the queue feeder stopped: {error:#}");
                        }
                    });
                    started.queues += 1;
                }
                SourceKind::Schedule { every, enabled } => {
                    if !enabled {
                        continue;
                    }
                    let every = timing.schedule_every.unwrap_or(*every);
                    let rule = names.arn("events", &format!("rule/{}-{}", function.logical_id, source.name));
                    let (function, account, region) = (
                        function.binary.clone(),
                        names.account.clone(),
                        names.region.clone(),
                    );
                    let (invoker, mut stop) = (invoker.clone(), stop.clone());
                    let mut gate = started.switches.gate(&function);
                    tasks.spawn(async move {
                        loop {
                            pause(every, &mut stop).await;
                            gate.wait_open(&mut stop).await;
                            if *stop.borrow() {
                                return;
                            }
                            let event = scheduled_event(&rule, &account, &region);
                            if let Err(error) = invoker.invoke(&function, &event).await {
                                tracing::warn!("scheduled run failed: {error}");
                            }
                        }
                    });
                    started.schedules += 1;
                }
            }
        }
    }
    Ok(started)
}

/// How many batches of one queue may be in flight at once: the mapping's
/// `MaximumConcurrency` (without one, Lambda scales up to what the function
/// may run), never more than the function's reserved concurrency or the
/// instances the function runner runs of it.
fn batches_in_flight(
    maximum_concurrency: Option<u32>,
    reserved: Option<u32>,
    function_concurrency: u16,
) -> usize {
    [maximum_concurrency, reserved]
        .into_iter()
        .flatten()
        .fold(u32::from(function_concurrency), u32::min) as usize
}

/// The event EventBridge sends a function on a schedule.
pub fn scheduled_event(rule_arn: &str, account: &str, region: &str) -> serde_json::Value {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    serde_json::json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    })
}

/// The URL of the queue an ARN (or a bare queue name) names.
pub(crate) async fn queue_url(sqs: &aws_sdk_sqs::Client, queue: &str) -> Result<String> {
    let name = queue.rsplit(':').next().unwrap_or_default();
    sqs.get_queue_url()
        .queue_name(name)
        .send()
        .await
        .with_context(|| format!("finding queue {name}"))?
        .queue_url
        .with_context(|| format!("queue {name} has no URL"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_disabled_source_waits_until_it_is_enabled_or_the_stack_stops() {
        let mut switches = Switches::default();
        let mut gate = switches.gate("worker");
        let (_stop_sender, mut stop) = watch::channel(false);
        gate.wait_open(&mut stop).await; // enabled from the start: returns at once
        switches.set("worker", false).unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(100), gate.wait_open(&mut stop)).await;
        assert!(waiting.is_err(), "a disabled gate let the feeder through");
        switches.set("worker", true).unwrap();
        tokio::time::timeout(Duration::from_secs(1), gate.wait_open(&mut stop))
            .await
            .expect("an enabled gate opens");
        assert!(switches.set("nobody", false).is_err());
    }

    #[test]
    fn a_queue_keeps_up_to_its_maximum_concurrency_in_flight_within_the_functions_share() {
        assert_eq!(batches_in_flight(Some(2), Some(5), 4), 2);
        assert_eq!(
            batches_in_flight(Some(5), Some(3), 4),
            3,
            "the function's reserved concurrency"
        );
        assert_eq!(
            batches_in_flight(Some(5), Some(5), 2),
            2,
            "the local function runner's"
        );
        assert_eq!(
            batches_in_flight(None, None, 2),
            2,
            "unscaled: as many as the function may run"
        );
        assert_eq!(
            batches_in_flight(Some(5), Some(0), 2),
            0,
            "a function that reserves none gets none"
        );
    }

    #[test]
    fn scheduled_events_parse_as_eventbridge_events() {
        let event = scheduled_event(
            "arn:aws:events:us-east-1:123456789012:rule/r",
            "123456789012",
            "us-east-1",
        );
        let parsed: aws_lambda_events::event::eventbridge::EventBridgeEvent =
            serde_json::from_value(event).unwrap();
        assert_eq!(parsed.detail_type, "Scheduled Event");
        assert_eq!(parsed.source, "aws.events");
    }
}
