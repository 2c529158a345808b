//! The template's failure paths, as AWS's guidance for event-driven Lambda
//! asks: no event the bus cannot deliver is dropped, no queue parks a
//! message before it had room to be retried, no message comes back while
//! its consumer may still be working on it, no stream record that keeps
//! failing holds up or takes its batch with it, and every alarm tells someone.

use local_stack::template::{SourceKind, Template};
use serde_json::Value;

/// The logical id a `!GetAtt X.Arn` names.
fn get_att_target(value: &Value) -> Option<&str> {
    match value.get("Fn::GetAtt")? {
        Value::Array(parts) => parts.first()?.as_str(),
        Value::String(dotted) => dotted.split('.').next(),
        _ => None,
    }
}

#[test]
fn every_rule_target_retries_for_a_day_and_then_parks_the_event_in_a_dead_letter_queue() {
    let template = Template::shop().unwrap();
    let mut targets = 0;
    for (rule, resource) in template.resources_of("AWS::Events::Rule") {
        for target in resource.properties["Targets"].as_array().into_iter().flatten() {
            targets += 1;
            let dead_letters = target
                .pointer("/DeadLetterConfig/Arn")
                .and_then(get_att_target)
                .unwrap_or_else(|| panic!("rule {rule}: a target without a dead-letter queue"));
            assert_eq!(
                template.resource(dead_letters).map(|r| r.kind.as_str()),
                Some("AWS::SQS::Queue"),
                "rule {rule}"
            );
            let retry = &target["RetryPolicy"];
            assert!(
                retry["MaximumEventAgeInSeconds"].as_i64() >= Some(3600),
                "rule {rule}: gives up on an event within the hour"
            );
            assert!(
                retry["MaximumRetryAttempts"].as_i64() >= Some(1),
                "rule {rule}: never retries"
            );
        }
    }
    assert!(targets >= 10, "only {targets} rule targets found");
}

#[test]
fn every_consumed_queue_lets_a_message_be_received_five_times_and_outlasts_its_consumer_sixfold() {
    let template = Template::shop().unwrap();
    let mut queues = 0;
    for function in template.functions() {
        for source in &function.sources {
            let SourceKind::Sqs { queue, .. } = &source.kind else {
                continue;
            };
            queues += 1;
            let id = get_att_target(queue).expect("a queue named by !GetAtt");
            let properties = &template.resource(id).unwrap().properties;
            let receives = properties.pointer("/RedrivePolicy/maxReceiveCount");
            assert!(
                receives.and_then(Value::as_i64) >= Some(5),
                "{id}: a message is parked after {receives:?} receives"
            );
            let dead_letters = properties.pointer("/RedrivePolicy/deadLetterTargetArn");
            assert!(
                dead_letters.and_then(get_att_target).is_some(),
                "{id}: no dead-letter queue"
            );
            let visibility = properties["VisibilityTimeout"].as_u64().unwrap_or(30);
            assert!(
                visibility >= 6 * function.timeout.as_secs(),
                "{id}: visible again after {visibility} s while {} may run {} s",
                function.logical_id,
                function.timeout.as_secs()
            );
        }
    }
    assert!(queues >= 10, "only {queues} consumed queues found");
}

#[test]
fn every_stream_mapping_splits_a_failing_batch_and_then_tells_an_alarmed_queue() {
    let template = Template::shop().unwrap();
    let alarmed_queues: Vec<&str> = template
        .resources_of("AWS::CloudWatch::Alarm")
        .filter_map(|(_, alarm)| {
            let dimensions = alarm.properties["Dimensions"].as_array()?;
            dimensions
                .iter()
                .find(|d| d["Name"] == "QueueName")
                .and_then(|d| get_att_target(&d["Value"]))
        })
        .collect();
    let mut streams = 0;
    for function in template.functions() {
        for source in &function.sources {
            let SourceKind::DynamoDb {
                max_retries,
                bisect,
                on_failure,
                ..
            } = &source.kind
            else {
                continue;
            };
            streams += 1;
            let id = &function.logical_id;
            assert!(
                max_retries.is_some(),
                "{id}: retries a failing record until it expires"
            );
            assert!(bisect, "{id}: a failing record takes its whole batch with it");
            let destination = on_failure
                .as_ref()
                .and_then(get_att_target)
                .unwrap_or_else(|| panic!("{id}: a batch given up on tells no one"));
            assert_eq!(
                template.resource(destination).map(|r| r.kind.as_str()),
                Some("AWS::SQS::Queue"),
                "{id}"
            );
            assert!(
                alarmed_queues.contains(&destination),
                "{id}: no alarm watches {destination}"
            );
        }
    }
    assert!(streams >= 2, "only {streams} stream mappings found");
}

#[test]
fn every_alarm_notifies_the_alarm_topic() {
    let template = Template::shop().unwrap();
    let topic = template
        .resources_of("AWS::SNS::Topic")
        .map(|(id, _)| id)
        .next()
        .expect("an alarm topic");
    let mut alarms = 0;
    for (alarm, resource) in template.resources_of("AWS::CloudWatch::Alarm") {
        alarms += 1;
        let actions = resource.properties["AlarmActions"].as_array();
        assert!(
            actions
                .into_iter()
                .flatten()
                .any(|action| action.get("Ref").and_then(Value::as_str) == Some(topic)),
            "alarm {alarm} notifies no one"
        );
    }
    for watched in [
        "ApiServerErrorsAlarm",
        "CatalogSearchIndexerErrorsAlarm",
        "BusFailedInvocationsAlarm",
    ] {
        assert!(template.resource(watched).is_some(), "no {watched}");
    }
    assert!(alarms >= 28, "only {alarms} alarms found");
}
