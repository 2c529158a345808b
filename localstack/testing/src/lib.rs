//! Helpers for handler tests: the template's tables in the shared emulator
//! under a prefix of the test's own, API Gateway events built exactly as
//! the local gateway builds them (a signed-in shopper's only on a route
//! with an authorizer, as the gateway passes claims on no other), and the
//! order the saga's tests share.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow};
use astroshop_domain::card::{CardSummary, CardType};
use astroshop_domain::order::{Order, OrderId, OrderItem};
use astroshop_domain::shipping::Address;
use astroshop_domain::{CartLine, CurrencyCode, EmailAddress, Money, ProductId, Quantity, Timestamp, UserId};
use astroshop_saga::Publisher;
use serde_json::Value;

use local_stack::account::{LOCAL_ACCOUNT, LOCAL_REGION};
use local_stack::gateway::routed_event;
use local_stack::resolve::{Names, Resolver};
use local_stack::template::Template;
use local_stack::{emulator, provision, tools};

/// The template's tables, queues, buses and rules, created and seeded for one test.
pub struct TestTables {
    prefix: String,
    config: aws_config::SdkConfig,
    environment: BTreeMap<String, String>,
}

impl TestTables {
    /// Creates every resource as `<prefix>-<LogicalId>` and seeds the tables.
    pub async fn provision(prefix: &str) -> Result<Self> {
        let template = Template::shop()?;
        let endpoint = emulator::shared_endpoint();
        let config = provision::emulator_config(endpoint, LOCAL_REGION);
        let mut resolver = Resolver::new(&template, Names::local(prefix));
        provision::everything(&mut resolver, &config).await?;
        let environment = provision::shared_environment(&resolver)?;
        Ok(Self {
            prefix: prefix.to_owned(),
            config,
            environment,
        })
    }

    /// The prefix every resource name of this test starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// An SDK configuration for the emulator, for any service client.
    pub fn config(&self) -> &aws_config::SdkConfig {
        &self.config
    }

    /// A publisher on the shop's bus.
    pub fn publisher(&self) -> Publisher {
        Publisher::new(
            aws_sdk_eventbridge::Client::new(&self.config),
            self.setting("EVENT_BUS_NAME"),
        )
    }

    /// A publisher on a bus that is not there: every publish fails, as when
    /// EventBridge cannot be reached.
    pub fn publisher_while_the_bus_is_down(&self) -> Publisher {
        Publisher::new(
            aws_sdk_eventbridge::Client::new(&self.config),
            format!("{}-no-such-bus", self.prefix),
        )
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }

    /// A setting the functions get, such as `PRODUCTS_TABLE`.
    pub fn setting(&self, name: &str) -> &str {
        self.environment
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no function of the template is given {name}"))
    }

    /// The admin API key, read as an operator reads it: the SecureString
    /// named by `ADMIN_KEY_PARAMETER`, decrypted.
    pub async fn admin_secret(&self) -> String {
        self.secret("ADMIN_KEY_PARAMETER").await
    }

    /// The secret key in the SecureString parameter the setting names (as
    /// `ADMIN_KEY_PARAMETER` or `ORDER_LINK_KEY_PARAMETER` do).
    pub async fn secret(&self, setting: &str) -> String {
        let name = self.setting(setting);
        aws_sdk_ssm::Client::new(&self.config)
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("the parameter {name} exists: {e}"))
            .parameter
            .and_then(|parameter| parameter.value)
            .expect("the parameter has a value")
    }
}

/// The saga's event sources, as the rules of the template match them.
const SAGA_SOURCES: [&str; 5] = [
    "astroshop.orders",
    "astroshop.inventory",
    "astroshop.payment",
    "astroshop.shipping",
    "astroshop.fraud",
];

/// An EventBridge event as a rule's SQS target receives it (the message body).
pub fn bus_event(source: &str, detail_type: &str, detail: &Value) -> String {
    serde_json::json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": detail_type,
        "source": source,
        "account": LOCAL_ACCOUNT,
        "time": "2026-01-01T00:00:00Z",
        "region": LOCAL_REGION,
        "resources": [],
        "detail": detail,
    })
    .to_string()
}

/// The ids of the messages a consumer reported failed in its answer to an
/// [`sqs_event`] batch.
pub fn failed_ids(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.clone())
        .collect()
}

/// The event Lambda hands an SQS consumer for a batch of message bodies
/// (message ids `m0`, `m1`, ... in order).
pub fn sqs_event(bodies: &[String]) -> lambda_runtime::LambdaEvent<aws_lambda_events::event::sqs::SqsEvent> {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(index, body)| {
            serde_json::json!({
                "messageId": format!("m{index}"),
                "receiptHandle": format!("r{index}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "awsRegion": LOCAL_REGION,
            })
        })
        .collect();
    let event = serde_json::from_value(serde_json::json!({ "Records": records }))
        .expect("SQS records in Lambda's shape parse");
    lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default())
}

/// A queue subscribed to every saga event on the test's bus: what the code
/// under test published, as any consumer would receive it.
pub struct EventTap {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    seen: std::sync::Mutex<Vec<Tapped>>,
}

/// One event the tap caught.
#[derive(Debug, Clone)]
pub struct Tapped {
    pub source: String,
    pub detail_type: String,
    pub detail: Value,
}

impl EventTap {
    pub async fn attach(tables: &TestTables) -> Result<Self> {
        Self::on_bus(&tables.config, &tables.prefix, tables.setting("EVENT_BUS_NAME")).await
    }

    /// A tap on `bus`, its queue and rule named after `prefix`.
    pub async fn on_bus(config: &aws_config::SdkConfig, prefix: &str, bus: &str) -> Result<Self> {
        let sqs = aws_sdk_sqs::Client::new(config);
        let events = aws_sdk_eventbridge::Client::new(config);
        let name = format!("{prefix}-tap-{}", uuid::Uuid::new_v4().simple());
        let queue_url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await?
            .queue_url()
            .ok_or_else(|| anyhow!("the emulator gave no queue URL"))?
            .to_owned();
        let queue_arn = format!("arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{name}");
        events
            .put_rule()
            .name(&name)
            .event_bus_name(bus)
            .event_pattern(serde_json::json!({ "source": SAGA_SOURCES }).to_string())
            .send()
            .await?;
        events
            .put_targets()
            .rule(&name)
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("tap")
                    .arn(queue_arn)
                    .build()?,
            )
            .send()
            .await?;
        Ok(Self {
            sqs,
            queue_url,
            seen: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Every event published since the tap was attached, as
    /// `(detail-type, detail)`, oldest first.
    pub async fn events(&self) -> Result<Vec<(String, Value)>> {
        Ok(self
            .caught()
            .await?
            .into_iter()
            .map(|event| (event.detail_type, event.detail))
            .collect())
    }

    /// Every event published since the tap was attached, oldest first.
    pub async fn caught(&self) -> Result<Vec<Tapped>> {
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await?;
            let messages = received.messages();
            if messages.is_empty() {
                break;
            }
            for message in messages {
                let event: Value = serde_json::from_str(message.body().unwrap_or("null"))?;
                let text = |field: &str| event[field].as_str().unwrap_or_default().to_owned();
                let caught = Tapped {
                    source: text("source"),
                    detail_type: text("detail-type"),
                    detail: event["detail"].clone(),
                };
                self.seen
                    .lock()
                    .expect("no test panics while holding the tap")
                    .push(caught);
                if let Some(handle) = message.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await?;
                }
            }
        }
        Ok(self
            .seen
            .lock()
            .expect("no test panics while holding the tap")
            .clone())
    }

    /// The detail-types published so far, in order.
    pub async fn detail_types(&self) -> Result<Vec<String>> {
        Ok(self.events().await?.into_iter().map(|(kind, _)| kind).collect())
    }

    /// The detail-types published so far for one order (the events'
    /// correlation id), in order.
    pub async fn detail_types_for(&self, order: &str) -> Result<Vec<String>> {
        Ok(self
            .events()
            .await?
            .into_iter()
            .filter(|(_, detail)| detail["metadata"]["correlationId"] == order)
            .map(|(kind, _)| kind)
            .collect())
    }
}

/// The payload 2.0 event the gateway sends for `method` and `uri` (path and
/// query), and the function the template routes it to.
pub fn api_event(method: &str, uri: &str, body: Option<&str>) -> Result<(String, Value)> {
    routed_event(method, uri, body, None)
}

/// The event the gateway sends for a request with the token of the shopper
/// `sub` (an ID token of the local pool, its claims as the gateway passes
/// them); an error for a route without an authorizer, which gets no claims.
pub fn api_event_signed_in(
    method: &str,
    uri: &str,
    body: Option<&str>,
    sub: &str,
) -> Result<(String, Value)> {
    let claims = BTreeMap::from(
        [
            ("sub", sub),
            ("token_use", "id"),
            ("iss", "https://cognito-idp.us-east-1.amazonaws.com/local"),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned())),
    );
    routed_event(method, uri, body, Some(&claims))
}

/// The `lambda_http` request a handler gets for `method` and `uri`, checked
/// to be routed to `function` by the template.
pub fn request(method: &str, uri: &str, body: Option<&str>, function: &str) -> lambda_http::Request {
    let (routed_to, event) = api_event(method, uri, body).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(routed_to, function, "{method} {uri} is routed to {routed_to}");
    lambda_http::request::from_str(&event.to_string()).expect("the gateway's events parse")
}

/// [`request`] as it arrives on a route with the JWT authorizer, once the
/// gateway has checked the token of the shopper whose `sub` it is (a route
/// without one panics: the gateway passes it no shopper).
pub fn signed_in_request(
    method: &str,
    uri: &str,
    body: Option<&str>,
    function: &str,
    sub: &str,
) -> lambda_http::Request {
    let (routed_to, event) = api_event_signed_in(method, uri, body, sub).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(routed_to, function, "{method} {uri} is routed to {routed_to}");
    lambda_http::request::from_str(&event.to_string()).expect("the gateway's events parse")
}

/// The status and JSON body of a handler's response.
pub fn json_response(response: lambda_http::Response<lambda_http::Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).expect("a JSON body"),
        lambda_http::Body::Empty => Value::Null,
        other => panic!("expected a JSON text body, got {other:?}"),
    };
    (status, body)
}

/// The request of a sample event shipped in `events/`.
pub fn sample_request(relative: &str) -> Result<lambda_http::Request> {
    let path = tools::repo_root().join("events").join(relative);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    lambda_http::request::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Reads one HTTP/1.1 request from `stream` (a test's stand-in for an
/// endpoint the code under test calls) and gives its head and body.
pub async fn read_request(stream: &mut tokio::net::TcpStream) -> Result<(String, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Err(anyhow!("the connection closed before the request was whole"));
        }
        received.extend_from_slice(&buffer[..read]);
        let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&received[..end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        let body = &received[end + 4..];
        if body.len() >= length {
            return Ok((head, body[..length].to_vec()));
        }
    }
}

/// A stand-in for the functions' Invoke API on a free loopback port, for
/// tests of what feeds functions: each invocation's function name and event
/// go to `answer`, and what it gives is the function's JSON answer. Its port.
pub async fn stand_in_functions<F, Fut>(answer: F) -> u16
where
    F: Fn(String, Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Value> + Send,
{
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let port = listener.local_addr().expect("a bound address").port();
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let (head, body) = read_request(&mut stream).await.expect("an invocation");
                let function = head
                    .split("/functions/")
                    .nth(1)
                    .and_then(|rest| rest.split('/').next())
                    .unwrap_or_default()
                    .to_owned();
                let event = serde_json::from_slice(&body).expect("a JSON event");
                let answer = answer(function, event).await.to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                    answer.len()
                );
                stream
                    .write_all(response.as_bytes())
                    .await
                    .expect("the answer is sent");
            });
        }
    });
    port
}

/// Larry's order, the one the saga's tests start from (change what a test
/// is about with `Order { total, ..larrys_order() }`): two Explorascopes at
/// 101.96 USD and a telescope at 349.95 USD, shipping 26.97 USD, total
/// 580.84 USD, to Mountain View, paid with a Visa ending 0454, placed
/// 2026-11-21T10:00:00Z.
pub fn larrys_order() -> Order {
    let usd = |units, nanos| Money::new(CurrencyCode::usd(), units, nanos).expect("an amount in range");
    let line = |product: &str, quantity, cost| OrderItem {
        item: CartLine {
            product_id: ProductId::parse(product).expect("a product id"),
            quantity: Quantity::new(quantity).expect("a quantity in range"),
        },
        cost,
    };
    Order {
        order_id: OrderId::parse("3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11").expect("an order id"),
        user_id: UserId::parse("larry").expect("a user id"),
        email: EmailAddress::parse("larry_sergei@example.com").expect("an e-mail address"),
        currency_code: CurrencyCode::usd(),
        items: vec![
            line("OLJCESPC7Z", 2, usd(101, 960_000_000)),
            line("66VCHSJNUP", 1, usd(349, 950_000_000)),
        ],
        shipping_cost: usd(26, 970_000_000),
        total: usd(580, 840_000_000),
        shipping_address: Address {
            street_address: "1600 Amphitheatre Parkway".into(),
            city: "Mountain View".into(),
            state: "CA".into(),
            country: "United States".into(),
            zip_code: "94043".into(),
        },
        card: CardSummary {
            card_type: CardType::Visa,
            last4: "0454".into(),
        },
        placed_at: Timestamp::parse("2026-11-21T10:00:00Z").expect("an RFC 3339 time"),
    }
}

/// A new order id, for a test's own order.
pub fn new_order_id() -> OrderId {
    OrderId::parse(&uuid::Uuid::new_v4().to_string()).expect("a UUID is an order id")
}

#[cfg(test)]
mod tests {
    use local_stack::routes::RouteTable;

    use super::*;

    #[test]
    fn a_signed_in_request_carries_the_shoppers_sub_on_an_authorized_route_only() {
        use lambda_http::RequestExt;
        let request = signed_in_request("GET", "/api/orders", None, "orders-list", "4a1f");
        let Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) = request.request_context_ref()
        else {
            panic!("not an HTTP API request");
        };
        let claims = &context.authorizer.as_ref().unwrap().jwt.as_ref().unwrap().claims;
        assert_eq!(claims.get("sub").map(String::as_str), Some("4a1f"));
        assert!(api_event_signed_in("GET", "/api/products", None, "4a1f").is_err());
    }

    /// Each sample in `events/http` is named after the function its route
    /// reaches, and parses as the request that function gets.
    #[test]
    fn every_http_sample_reaches_the_function_it_is_named_after() {
        let routes = RouteTable::from_template(&Template::shop().unwrap());
        let dir = tools::repo_root().join("events/http");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let function = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let event: Value = serde_json::from_str(&text).unwrap();
            let route_key = event["routeKey"].as_str().unwrap();
            let route = routes.routes().iter().find(|r| r.route_key == route_key);
            assert_eq!(
                route.map(|r| r.function.as_str()),
                Some(function.as_str()),
                "{}: route {route_key}",
                path.display()
            );
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            checked += 1;
        }
        assert!(checked >= 14, "only {checked} samples in {}", dir.display());
    }
}
