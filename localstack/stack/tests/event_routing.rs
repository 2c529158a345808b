//! Events through the emulator to a function, as the saga's events travel:
//! a rule on a bus routes them to a queue, the queue feeder delivers batches
//! to the function's Invoke endpoint, and a message the function keeps
//! failing ends in the queue's dead-letter queue while its batch-mates are
//! done. The function here is a stand-in Invoke API that records what it
//! was sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use local_stack::account::LOCAL_REGION;
use local_stack::emulator;
use local_stack::functions::Invoker;
use local_stack::provision;
use local_stack::resolve::{Names, Resolver};
use local_stack::sources::{self, Timing};
use local_stack::template::Template;
use local_stack_testing::stand_in_functions;
use serde_json::{Value, json};
use tokio::sync::watch;

const TEMPLATE: &str = r#"
Resources:
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub "${AWS::StackName}-bus"
  WorkDeadLetters:
    Type: AWS::SQS::Queue
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDeadLetters.Arn
        maxReceiveCount: 3
  WorkRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern:
        source: [astroshop.test]
        detail-type: [Work.v1]
      Targets:
        - Id: work
          Arn: !GetAtt WorkQueue.Arn
  Worker:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: worker
    Properties:
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 10
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
"#;

/// The bodies of the SQS records each invocation carried.
type Calls = Arc<Mutex<Vec<Vec<Value>>>>;

/// A stand-in Invoke API: records each batch and reports every message whose
/// event says `"poison": true` as failed.
async fn worker() -> (u16, Calls) {
    let calls: Calls = Arc::default();
    let recorded = calls.clone();
    let port = stand_in_functions(move |_, event: Value| {
        let recorded = recorded.clone();
        async move {
            let records = event["Records"].as_array().unwrap();
            let bodies: Vec<Value> = records
                .iter()
                .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
                .collect();
            let failures: Vec<Value> = records
                .iter()
                .zip(&bodies)
                .filter(|(_, body)| body["detail"]["poison"] == true)
                .map(|(record, _)| json!({"itemIdentifier": record["messageId"]}))
                .collect();
            recorded.lock().unwrap().push(bodies);
            json!({"batchItemFailures": failures})
        }
    })
    .await;
    (port, calls)
}

#[tokio::test]
async fn a_poison_message_ends_in_the_dead_letter_queue_and_its_batch_mates_are_done() {
    let template = Template::parse(TEMPLATE).unwrap();
    let config = provision::emulator_config(emulator::shared_endpoint(), LOCAL_REGION);
    let mut resolver = Resolver::new(&template, Names::local("routing-poison"));
    let provisioned = provision::everything(&mut resolver, &config).await.unwrap();
    assert_eq!(
        (provisioned.queues, provisioned.buses, provisioned.rules),
        (2, 1, 1)
    );

    let (port, calls) = worker().await;
    let (stop_sender, stop) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let timing = Timing {
        retry_after: Some(Duration::from_secs(1)),
        schedule_every: None,
    };
    let started = sources::start(
        &resolver,
        &config,
        &Invoker::new(port),
        2,
        timing,
        &stop,
        &mut tasks,
    )
    .await
    .unwrap();
    assert_eq!(started.queues, 1);

    let events = aws_sdk_eventbridge::Client::new(&config);
    let bus = "routing-poison-bus";
    let mut entries = Vec::new();
    for (n, poison) in [(1, false), (2, true), (3, false)] {
        entries.push(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(bus)
                .source("astroshop.test")
                .detail_type("Work.v1")
                .detail(json!({"n": n, "poison": poison}).to_string())
                .build(),
        );
    }
    // An event no rule matches goes nowhere.
    entries.push(
        aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source("astroshop.other")
            .detail_type("Work.v1")
            .detail(json!({"n": 4, "poison": false}).to_string())
            .build(),
    );
    let put = events
        .put_events()
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(put.failed_entry_count(), 0);

    let sqs = aws_sdk_sqs::Client::new(&config);
    let dead_letters = resolver
        .resolve_string(&json!({"Ref": "WorkDeadLetters"}))
        .unwrap();
    let mut parked = Vec::new();
    for _ in 0..60 {
        let received = sqs
            .receive_message()
            .queue_url(&dead_letters)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        parked.extend(received.messages.unwrap_or_default());
        if !parked.is_empty() {
            break;
        }
    }
    let _ = stop_sender.send(true);
    tasks.shutdown().await;

    assert_eq!(parked.len(), 1, "one message is parked");
    let parked: Value = serde_json::from_str(parked[0].body().unwrap()).unwrap();
    assert_eq!(parked["detail"]["n"], 2);
    let calls = calls.lock().unwrap();
    let deliveries = |n: i64| {
        calls
            .iter()
            .flatten()
            .filter(|body| body["detail"]["n"] == n)
            .count()
    };
    assert_eq!(deliveries(1), 1, "a message handled once is deleted: {calls:?}");
    assert_eq!(deliveries(3), 1, "a message handled once is deleted: {calls:?}");
    assert_eq!(
        deliveries(2),
        3,
        "the poison message is tried maxReceiveCount times: {calls:?}"
    );
    assert_eq!(deliveries(4), 0, "an unmatched event is not delivered");
}

const SCALED_TEMPLATE: &str = r#"
Resources:
  NarrowQueue:
    Type: AWS::SQS::Queue
  WideQueue:
    Type: AWS::SQS::Queue
  Narrow:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: narrow
    Properties:
      ReservedConcurrentExecutions: 10
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt NarrowQueue.Arn
            BatchSize: 1
            ScalingConfig:
              MaximumConcurrency: 2
  Wide:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: wide
    Properties:
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WideQueue.Arn
            BatchSize: 1
            ScalingConfig:
              MaximumConcurrency: 5
"#;

/// Per function: invocations running now, the most at once, and the
/// messages handled.
type Load = Arc<Mutex<std::collections::BTreeMap<String, (usize, usize, usize)>>>;

/// A stand-in Invoke API whose every invocation takes a while, recording how
/// many of each function's run at once.
async fn slow_workers() -> (u16, Load) {
    let load: Load = Arc::default();
    let recorded = load.clone();
    let port = stand_in_functions(move |function, event: Value| {
        let recorded = recorded.clone();
        async move {
            let records = event["Records"].as_array().unwrap().len();
            {
                let mut load = recorded.lock().unwrap();
                let (running, most, _) = load.entry(function.clone()).or_default();
                *running += 1;
                *most = (*most).max(*running);
            }
            tokio::time::sleep(Duration::from_millis(600)).await;
            {
                let mut load = recorded.lock().unwrap();
                let (running, _, handled) = load.get_mut(&function).unwrap();
                *running -= 1;
                *handled += records;
            }
            json!({"batchItemFailures": []})
        }
    })
    .await;
    (port, load)
}

#[tokio::test]
async fn a_queue_keeps_its_maximum_concurrency_of_batches_in_flight_within_the_runners() {
    let template = Template::parse(SCALED_TEMPLATE).unwrap();
    let config = provision::emulator_config(emulator::shared_endpoint(), LOCAL_REGION);
    let prefix = format!("routing-scaled-{}", std::process::id());
    let mut resolver = Resolver::new(&template, Names::local(&prefix));
    provision::everything(&mut resolver, &config).await.unwrap();

    let sqs = aws_sdk_sqs::Client::new(&config);
    const MESSAGES: usize = 9;
    for queue in ["NarrowQueue", "WideQueue"] {
        let url = resolver.resolve_string(&json!({"Ref": queue})).unwrap();
        for n in 0..MESSAGES {
            sqs.send_message()
                .queue_url(&url)
                .message_body(json!({"n": n}).to_string())
                .send()
                .await
                .unwrap();
        }
    }

    let (port, load) = slow_workers().await;
    let (stop_sender, stop) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    // The function runner runs three instances of a function at once.
    let started = sources::start(
        &resolver,
        &config,
        &Invoker::new(port),
        3,
        Timing::default(),
        &stop,
        &mut tasks,
    )
    .await
    .unwrap();
    assert_eq!(started.queues, 2);

    let handled = |function: &str| {
        load.lock()
            .unwrap()
            .get(function)
            .map_or(0, |(_, _, handled)| *handled)
    };
    for _ in 0..600 {
        if handled("narrow") == MESSAGES && handled("wide") == MESSAGES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop_sender.send(true);
    tasks.shutdown().await;

    let load = load.lock().unwrap();
    assert_eq!(
        load["narrow"],
        (0, 2, MESSAGES),
        "(running, most at once, handled): the mapping's MaximumConcurrency of 2"
    );
    assert_eq!(
        load["wide"],
        (0, 3, MESSAGES),
        "(running, most at once, handled): the runner's 3, under the mapping's 5"
    );
}
