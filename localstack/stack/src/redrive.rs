//! `local-stack redrive <queue>`: sends what waits in one of the template's
//! dead-letter queues back where it was going, once its cause is fixed.
//! - A saga queue's dead letters go back to that queue (the queue whose
//!   `RedrivePolicy` names this one), body and attributes unchanged.
//! - An event the bus could not deliver goes to the target EventBridge named
//!   in its `TARGET_ARN` attribute.
//! - A record the outbox publisher parked goes to the bus as the event it
//!   holds.
//!
//! What cannot be sent back (a stream batch's coordinates, a parked record
//! without its event) stays in the queue, visible again, and is counted.

use std::collections::HashSet;

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::resolve::Resolver;
use crate::sources::queue_url;

/// What one redrive did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Redriven {
    /// Messages sent back to the queue they came from.
    pub moved: usize,
    /// Parked events put on the bus.
    pub published: usize,
    /// Messages left in the dead-letter queue.
    pub left: usize,
}

/// The event a parked outbox record holds (what `orders-publisher` parks).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParkedEvent {
    source: String,
    detail_type: String,
    detail: String,
}

/// Where a message goes back to.
enum Way {
    Queue(String),
    Bus(ParkedEvent),
    Nowhere(&'static str),
}

/// Sends the messages of the dead-letter queue `queue` (a logical id of the
/// template) back where they were going.
pub async fn redrive(
    resolver: &Resolver<'_>,
    config: &aws_config::SdkConfig,
    queue: &str,
) -> Result<Redriven> {
    let template = resolver.template();
    match template.resource(queue) {
        Some(resource) if resource.kind == "AWS::SQS::Queue" => {}
        _ => bail!("{queue} is not a queue of the template"),
    }
    let sqs = aws_sdk_sqs::Client::new(config);
    let name_of = |id: &str| resolver.resolve_string(&json!({"Fn::GetAtt": [id, "QueueName"]}));
    let dead_letters = queue_url(&sqs, &name_of(queue)?).await?;
    let sources: Vec<&str> = template
        .resources_of("AWS::SQS::Queue")
        .filter(|(_, resource)| {
            resource
                .properties
                .pointer("/RedrivePolicy/deadLetterTargetArn/Fn::GetAtt/0")
                .and_then(Value::as_str)
                == Some(queue)
        })
        .map(|(id, _)| id)
        .collect();
    let source = match sources.as_slice() {
        [] => None,
        [one] => Some(queue_url(&sqs, &name_of(one)?).await?),
        many => bail!("{queue} is the dead-letter queue of {many:?}; redrive each from its own"),
    };
    let bus = template
        .resources_of("AWS::Events::EventBus")
        .next()
        .map(|(id, _)| resolver.resolve_string(&json!({"Fn::GetAtt": [id, "Name"]})))
        .transpose()?;
    let events = aws_sdk_eventbridge::Client::new(config);

    let mut done = Redriven::default();
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&dead_letters)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .with_context(|| format!("receiving from {queue}"))?;
        let messages: Vec<Message> = received
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter(|m| seen.insert(m.message_id.clone().unwrap_or_default()))
            .collect();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let sent = match way_back(&sqs, &message, source.as_deref()).await? {
                Way::Queue(url) => {
                    let mut send = sqs
                        .send_message()
                        .queue_url(&url)
                        .message_body(message.body().unwrap_or_default());
                    for (name, value) in message.message_attributes().into_iter().flatten() {
                        send = send.message_attributes(name, value.clone());
                    }
                    send.send()
                        .await
                        .with_context(|| format!("sending a message back to {url}"))?;
                    done.moved += 1;
                    true
                }
                Way::Bus(event) => {
                    let bus = bus
                        .as_deref()
                        .ok_or_else(|| anyhow!("the template has no event bus"))?;
                    let put = events
                        .put_events()
                        .entries(
                            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                                .event_bus_name(bus)
                                .source(event.source)
                                .detail_type(event.detail_type)
                                .detail(event.detail)
                                .build(),
                        )
                        .send()
                        .await
                        .context("putting a parked event on the bus")?;
                    if put.failed_entry_count() == 0 {
                        done.published += 1;
                        true
                    } else {
                        let refusal = put
                            .entries()
                            .first()
                            .and_then(|e| e.error_message())
                            .unwrap_or_default();
                        tracing::warn!("the bus refused a parked event again: {refusal}");
                        false
                    }
                }
                Way::Nowhere(why) => {
                    tracing::warn!(message_id = message.message_id(), "left in {queue}: {why}");
                    false
                }
            };
            let handle = message.receipt_handle().unwrap_or_default().to_owned();
            if sent {
                sqs.delete_message()
                    .queue_url(&dead_letters)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .context("deleting a redriven message")?;
            } else {
                kept.push(handle);
            }
        }
    }
    // What stays is visible again at once, for the next look.
    for handle in kept {
        sqs.change_message_visibility()
            .queue_url(&dead_letters)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
            .context("making a kept message visible again")?;
        done.left += 1;
    }
    Ok(done)
}

/// Where a dead letter goes back to: the queue this one parks messages of;
/// else the queue EventBridge was delivering it to; else, for a parked
/// outbox record, the bus.
async fn way_back(sqs: &aws_sdk_sqs::Client, message: &Message, source: Option<&str>) -> Result<Way> {
    if let Some(source) = source {
        return Ok(Way::Queue(source.to_owned()));
    }
    let target = message
        .message_attributes()
        .and_then(|attributes| attributes.get("TARGET_ARN"))
        .and_then(|value| value.string_value());
    if let Some(target) = target {
        return Ok(if target.contains(":sqs:") {
            Way::Queue(queue_url(sqs, target).await?)
        } else {
            Way::Nowhere("its target is not a queue")
        });
    }
    let body: Value = serde_json::from_str(message.body().unwrap_or_default()).unwrap_or_default();
    if body.get("DDBStreamBatchInfo").is_some() {
        return Ok(Way::Nowhere(
            "a stream batch's coordinates: its records stay in the stream a day, and writing the item again replays it",
        ));
    }
    match body.get("entry").filter(|entry| !entry.is_null()) {
        Some(entry) => Ok(Way::Bus(
            serde_json::from_value(entry.clone())
                .context("a parked event that is not source, detailType and detail")?,
        )),
        None => Ok(Way::Nowhere("neither a queue's message nor a parked event")),
    }
}
