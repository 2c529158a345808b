//! A DynamoDB stream fed to a function as Lambda's event source mapping
//! feeds it when a record keeps failing: with `BisectBatchOnFunctionError`
//! the batch is split until the record is alone, its batch-mates are
//! handled, and once its retries run out its stream coordinates go to the
//! mapping's `OnFailure` queue in Lambda's shape. The function here is a
//! small Invoke API of the test's own that fails any batch holding the
//! record marked poison.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
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
  Things:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
  ThingsFailures:
    Type: AWS::SQS::Queue
  Indexer:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: indexer
    Properties:
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Things.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            MaximumBatchingWindowInSeconds: 1
            MaximumRetryAttempts: 1
            BisectBatchOnFunctionError: true
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt ThingsFailures.Arn
"#;

/// What the stand-in function saw: the ids of each batch it handled, and
/// the sequence number of every record marked poison.
#[derive(Default)]
struct Seen {
    handled: Vec<Vec<String>>,
    failed_batches: usize,
    poison_sequence: Option<String>,
}

/// A stand-in Invoke API that fails, as a function error, every batch that
/// holds a record whose new image says `poison`.
async fn indexer() -> (u16, Arc<Mutex<Seen>>) {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let recorded = seen.clone();
    let port = stand_in_functions(move |_, event: Value| {
        let recorded = recorded.clone();
        async move {
            let records = event["Records"].as_array().unwrap();
            let poison = records
                .iter()
                .find(|r| r["dynamodb"]["NewImage"]["poison"]["BOOL"] == true);
            let mut seen = recorded.lock().unwrap();
            if let Some(poison) = poison {
                seen.failed_batches += 1;
                seen.poison_sequence = poison["dynamodb"]["SequenceNumber"].as_str().map(str::to_owned);
                json!({"errorType": "Poison", "errorMessage": "this record cannot be indexed"})
            } else {
                let ids = records
                    .iter()
                    .map(|r| r["dynamodb"]["Keys"]["id"]["S"].as_str().unwrap().to_owned())
                    .collect();
                seen.handled.push(ids);
                json!(null)
            }
        }
    })
    .await;
    (port, seen)
}

#[tokio::test]
async fn a_record_that_keeps_failing_is_bisected_out_of_its_batch_and_its_coordinates_reach_the_on_failure_queue()
 {
    let template = Template::parse(TEMPLATE).unwrap();
    let config = provision::emulator_config(emulator::shared_endpoint(), LOCAL_REGION);
    let mut resolver = Resolver::new(&template, Names::local("stream-bisect"));
    provision::everything(&mut resolver, &config).await.unwrap();

    // Ten changes, the fifth of them poison, written before the mapping
    // starts: it reads them from the start of the stream, as one batch.
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let table = resolver.resolve_string(&json!({"Ref": "Things"})).unwrap();
    for n in 0..10 {
        dynamodb
            .put_item()
            .table_name(&table)
            .item("id", AttributeValue::S(format!("thing-{n}")))
            .item("poison", AttributeValue::Bool(n == 4))
            .send()
            .await
            .unwrap();
    }

    let (port, seen) = indexer().await;
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
    assert_eq!(started.streams, 1);

    let sqs = aws_sdk_sqs::Client::new(&config);
    let failures = resolver
        .resolve_string(&json!({"Ref": "ThingsFailures"}))
        .unwrap();
    let mut told = Vec::new();
    for _ in 0..60 {
        let received = sqs
            .receive_message()
            .queue_url(&failures)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        told.extend(received.messages.unwrap_or_default());
        let all_handled = seen
            .lock()
            .unwrap()
            .handled
            .iter()
            .flatten()
            .collect::<BTreeSet<_>>()
            .len()
            == 9;
        if !told.is_empty() && all_handled {
            break;
        }
    }
    let _ = stop_sender.send(true);
    tasks.shutdown().await;

    let seen = seen.lock().unwrap();
    let handled: BTreeSet<&String> = seen.handled.iter().flatten().collect();
    let expected: Vec<String> = (0..10)
        .filter(|n| *n != 4)
        .map(|n| format!("thing-{n}"))
        .collect();
    assert_eq!(
        handled,
        expected.iter().collect(),
        "every batch-mate of the poison record is handled"
    );
    assert!(
        seen.failed_batches >= 2,
        "the poison record was retried alone after the splits: {} failed batches",
        seen.failed_batches
    );

    assert_eq!(told.len(), 1, "one batch was given up on");
    let message: Value = serde_json::from_str(told[0].body().unwrap()).unwrap();
    assert_eq!(message["requestContext"]["condition"], "RetryAttemptsExhausted");
    let info = &message["DDBStreamBatchInfo"];
    assert_eq!(
        info["batchSize"], 1,
        "only the poison record is given up: {message}"
    );
    assert_eq!(
        info["startSequenceNumber"].as_str(),
        seen.poison_sequence.as_deref()
    );
    assert_eq!(info["endSequenceNumber"], info["startSequenceNumber"]);
    assert_eq!(
        info["streamArn"].as_str().unwrap(),
        resolver
            .resolve_string(&json!({"Fn::GetAtt": ["Things", "StreamArn"]}))
            .unwrap()
    );
}
