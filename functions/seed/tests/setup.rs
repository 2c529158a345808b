//! The deploy-time custom resources, driven with CloudFormation's request
//! shape against the emulator, their answers read from a local endpoint
//! standing in for the pre-signed response URL.

use astroshop_seed::SeedTargets;
use astroshop_seed_function::{CustomResourceRequest, Setup};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ssm::types::ParameterType;
use local_stack_testing::{TestTables, read_request};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// Sends `request` (ResponseURL filled in) and gives the body CloudFormation
/// would have been sent.
async fn run(setup: &Setup, mut request: Value) -> Value {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    request["ResponseURL"] = json!(format!("http://{}/response", listener.local_addr().unwrap()));
    let request: CustomResourceRequest = serde_json::from_value(request).unwrap();
    let receive = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let (head, body) = read_request(&mut stream).await.unwrap();
        assert!(head.starts_with("PUT /response"), "{head}");
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        serde_json::from_slice::<Value>(&body).unwrap()
    });
    setup.handle(request).await.expect("the answer is delivered");
    receive.await.unwrap()
}

fn request(request_type: &str, resource_type: &str, properties: Value, physical_id: Option<&str>) -> Value {
    json!({
        "RequestType": request_type,
        "ResourceType": resource_type,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/astroshop/1",
        "RequestId": "request-1",
        "LogicalResourceId": "Resource",
        "PhysicalResourceId": physical_id,
        "ResourceProperties": properties,
    })
}

async fn setup(prefix: &str) -> (Setup, TestTables) {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    let setup = Setup {
        seed: SeedTargets::from_settings(tables.dynamodb(), |name| Some(tables.setting(name).to_owned()))
            .unwrap(),
        ssm: aws_sdk_ssm::Client::new(tables.config()),
        http: reqwest::Client::new(),
    };
    (setup, tables)
}

#[tokio::test]
async fn a_secret_key_is_created_once_kept_on_update_and_deleted_with_the_stack() {
    let (setup, tables) = setup("setup-admin-key").await;
    let ssm = aws_sdk_ssm::Client::new(tables.config());
    let name = "/setup-admin-key/admin-key-under-test";
    let properties = json!({"ParameterName": name, "Description": "the key under test"});

    let created = run(
        &setup,
        request("Create", "Custom::SecretKey", properties.clone(), None),
    )
    .await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    assert_eq!(created["PhysicalResourceId"], name);
    let read = |ssm: aws_sdk_ssm::Client| async move {
        ssm.get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map(|o| o.parameter.unwrap())
    };
    let parameter = read(ssm.clone()).await.unwrap();
    assert_eq!(parameter.r#type, Some(ParameterType::SecureString));
    let described = ssm
        .describe_parameters()
        .parameter_filters(
            aws_sdk_ssm::types::ParameterStringFilter::builder()
                .key("Name")
                .values(name)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.parameters()[0].description(),
        Some("the key under test")
    );
    let key = parameter.value.unwrap();
    assert_eq!(key.len(), 64);
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()), "{key}");

    let updated = run(
        &setup,
        request("Update", "Custom::SecretKey", properties.clone(), Some(name)),
    )
    .await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_eq!(
        read(ssm.clone()).await.unwrap().value.unwrap(),
        key,
        "a redeploy keeps the key"
    );

    let deleted = run(
        &setup,
        request("Delete", "Custom::SecretKey", properties, Some(name)),
    )
    .await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert!(read(ssm).await.is_err(), "the parameter is gone");
}

#[tokio::test]
async fn seeding_on_create_puts_back_the_catalogue() {
    let (setup, tables) = setup("setup-seed").await;
    let products = tables.setting("PRODUCTS_TABLE").to_owned();
    let key = ("id".to_owned(), AttributeValue::S("OLJCESPC7Z".into()));
    let dynamodb = tables.dynamodb();
    dynamodb
        .delete_item()
        .table_name(&products)
        .key(key.0.clone(), key.1.clone())
        .send()
        .await
        .unwrap();

    let answer = run(
        &setup,
        request("Create", "Custom::SeedData", json!({"DataVersion": "1"}), None),
    )
    .await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    let item = dynamodb
        .get_item()
        .table_name(&products)
        .key(key.0, key.1)
        .send()
        .await
        .unwrap()
        .item;
    assert!(item.is_some(), "the deleted product is seeded again");
}

#[tokio::test]
async fn an_unknown_resource_type_fails_with_a_reason() {
    let (setup, _tables) = setup("setup-unknown").await;
    let answer = run(&setup, request("Create", "Custom::Unknown", json!({}), None)).await;
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(answer["PhysicalResourceId"], "Resource");
    assert!(
        answer["Reason"].as_str().unwrap().contains("Custom::Unknown"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_secret_key_without_a_name_fails_with_a_reason() {
    let (setup, _tables) = setup("setup-no-name").await;
    let answer = run(&setup, request("Create", "Custom::SecretKey", json!({}), None)).await;
    assert_eq!(answer["Status"], "FAILED");
    assert!(
        answer["Reason"].as_str().unwrap().contains("ParameterName"),
        "{answer}"
    );
}
