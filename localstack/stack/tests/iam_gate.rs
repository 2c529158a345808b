//! The IAM gate between the functions and the emulator, with the shop's
//! template provisioned in the emulator and the roles SAM makes for it: a
//! function's own call goes through to the emulator; a call its role lacks
//! comes back to the AWS SDK as `AccessDeniedException` and changes
//! nothing; a transaction needs every part allowed; an unknown identity is
//! refused.

use std::sync::Arc;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use local_stack::account::{LOCAL_ACCOUNT, LOCAL_REGION};
use local_stack::emulator::{self, Upstreams};
use local_stack::iam::Iam;
use local_stack::iam::calls::Place;
use local_stack::iam::gate::Gate;
use local_stack::provision;
use local_stack::resolve::{Names, Resolver};
use local_stack::template::Template;
use tokio::net::TcpListener;

/// A DynamoDB client that signs as `function` and calls `endpoint`.
fn dynamodb_as(function: &str, endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(LOCAL_REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            function, "local", None, None, "test",
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

fn key(id: &str) -> AttributeValue {
    AttributeValue::S(id.to_owned())
}

#[tokio::test]
async fn the_gate_passes_what_a_role_allows_and_refuses_the_rest_as_aws_does() {
    let template = Template::shop().unwrap();
    let endpoint = emulator::shared_endpoint();
    let config = provision::emulator_config(endpoint, LOCAL_REGION);
    let prefix = format!("iam-{}", uuid::Uuid::new_v4().simple());
    let mut resolver = Resolver::new(&template, Names::local(&prefix));
    provision::everything(&mut resolver, &config).await.unwrap();
    let iam = Arc::new(Iam::from_template(&resolver).unwrap());
    iam.check_event_sources(&resolver).unwrap();
    let products = resolver
        .resolve_string(&serde_json::json!({"Ref": "ProductsTable"}))
        .unwrap();

    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let gate_url = format!("http://{}", listener.local_addr().unwrap());
    let place = Place {
        region: LOCAL_REGION.to_owned(),
        account: LOCAL_ACCOUNT.to_owned(),
    };
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(
        Arc::new(Gate::new(
            iam.clone(),
            place,
            Arc::new(Upstreams::all_at(endpoint)),
        ))
        .serve(listener, stopped),
    );

    // The product page's function reads a product through the gate.
    let reader = dynamodb_as("catalog-get-product", &gate_url);
    let product = reader
        .get_item()
        .table_name(&products)
        .key("id", key("OLJCESPC7Z"))
        .send()
        .await
        .expect("the product page may read products");
    assert!(
        product.item.is_some(),
        "the seeded product comes back through the gate"
    );

    // It may not delete one: AccessDeniedException, and the product stays.
    let refused = reader
        .delete_item()
        .table_name(&products)
        .key("id", key("OLJCESPC7Z"))
        .send()
        .await
        .expect_err("the product page may not delete products");
    assert_eq!(refused.code(), Some("AccessDeniedException"));
    let message = refused.message().unwrap_or_default();
    assert!(
        message.contains("catalog-get-product is not authorized to perform: dynamodb:DeleteItem"),
        "{message}"
    );
    let direct = dynamodb_as("operator", endpoint);
    let still = direct
        .get_item()
        .table_name(&products)
        .key("id", key("OLJCESPC7Z"))
        .send()
        .await
        .unwrap();
    assert!(still.item.is_some(), "a refused delete deletes nothing");

    // A transaction is refused whole when one part is not allowed.
    let transaction = reader
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&products)
                        .item("id", key("GATE-TEST"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .expect_err("the product page may not write products");
    assert_eq!(transaction.code(), Some("AccessDeniedException"));

    // Who signs matters: a name that is no function of the stack is refused.
    let stranger = dynamodb_as("nobody", &gate_url)
        .get_item()
        .table_name(&products)
        .key("id", key("OLJCESPC7Z"))
        .send()
        .await
        .expect_err("an unknown identity is refused");
    assert_eq!(stranger.code(), Some("AccessDeniedException"));

    let report = iam.report();
    let page = &report.functions["catalog-get-product"];
    assert!(
        page.used.iter().any(|u| u.starts_with("dynamodb:GetItem on ")),
        "{page:?}"
    );
    assert!(
        page.denied
            .iter()
            .any(|d| d.starts_with("dynamodb:DeleteItem on ")),
        "{page:?}"
    );
}
