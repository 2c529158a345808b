//! Reads an AWS API request as IAM authorizes it: who signed it, and each
//! action on each resource it performs, with the condition keys the shop's
//! policies use. A transaction is its parts (`TransactWriteItems` is a
//! `PutItem`, `UpdateItem`, `DeleteItem` or `ConditionCheckItem` per item),
//! a batch is one action per table, `PutEvents` is one call per entry.
//! An operation this module does not know is refused, not waved through.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use super::policy::Call;

/// Where ARNs point in this stack.
#[derive(Debug, Clone)]
pub struct Place {
    pub region: String,
    pub account: String,
}

impl Place {
    fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:aws:{service}:{}:{}:{resource}", self.region, self.account)
    }
}

/// How the service speaks, which decides the shape of its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `X-Amz-Target` and a JSON body; errors are `{"__type", "message"}` with 400.
    Json,
    /// A REST path; errors carry `x-amzn-ErrorType` with 403.
    RestJson,
}

/// One signed (or deliberately unsigned) request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The access key id it was signed with; `None` for an unsigned request.
    pub key_id: Option<String>,
    /// The operation's name, as the service names it (`PutItem`).
    pub operation: String,
    /// IAM's prefix for the service (`dynamodb`), from the signature's scope.
    pub service: String,
    pub protocol: Protocol,
    pub calls: Vec<Call>,
}

/// Cognito operations AWS serves without a signature: a shopper's own
/// sign-up and sign-in, authorized by the app client, not by IAM.
const UNSIGNED: [&str; 5] = [
    "SignUp",
    "ConfirmSignUp",
    "InitiateAuth",
    "RespondToAuthChallenge",
    "GetUser",
];

/// Parses one request. `authorization` is the `Authorization` header,
/// `target` the `X-Amz-Target` header.
pub fn read(
    place: &Place,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    target: Option<&str>,
    body: &[u8],
) -> Result<Request> {
    let signature = authorization.map(signature_scope).transpose()?;
    let json = || -> Result<Value> {
        if body.is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(body).context("the request body is not JSON")
    };
    let (service, operation, protocol) = match (target, &signature) {
        (Some(target), _) => {
            let (prefix, operation) = target
                .split_once('.')
                .ok_or_else(|| anyhow!("X-Amz-Target {target:?} has no operation"))?;
            (service_of_target(prefix)?, operation.to_owned(), Protocol::Json)
        }
        (None, Some((_, service))) if service == "ses" => {
            (service.clone(), ses_operation(method, path)?, Protocol::RestJson)
        }
        (None, Some((_, service))) => {
            bail!("{method} {path} to {service} is not an operation the local IAM check knows")
        }
        (None, None) => bail!("{method} {path} is neither signed nor a known operation"),
    };
    let key_id = signature.map(|(key, _)| key);
    if key_id.is_none() && !(service == "cognito-idp" && UNSIGNED.contains(&operation.as_str())) {
        bail!("{service}:{operation} must be signed");
    }
    let body = json()?;
    let calls = match service.as_str() {
        "dynamodb" => dynamodb(place, &operation, &body)?,
        "events" => events(place, &operation, &body)?,
        "kms" => kms(place, &operation, &body)?,
        "ssm" => ssm(place, &operation, &body)?,
        "ses" => ses(place, &operation, &body)?,
        "sqs" => sqs(place, &operation, &body)?,
        "cognito-idp" => cognito(place, &operation, &body)?,
        other => bail!("{other} is not a service the local IAM check knows"),
    };
    Ok(Request {
        key_id,
        operation,
        service,
        protocol,
        calls,
    })
}

/// `AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, ...`
fn signature_scope(header: &str) -> Result<(String, String)> {
    let credential = header
        .split([',', ' '])
        .find_map(|part| part.trim().strip_prefix("Credential="))
        .ok_or_else(|| anyhow!("the Authorization header has no Credential"))?;
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [key, _date, _region, service, "aws4_request"] => Ok(((*key).to_owned(), (*service).to_owned())),
        _ => bail!("the Authorization header's Credential {credential:?} is malformed"),
    }
}

fn service_of_target(prefix: &str) -> Result<String> {
    Ok(match prefix {
        p if p.starts_with("DynamoDB_") => "dynamodb",
        "AWSEvents" => "events",
        "TrentService" => "kms",
        "AmazonSSM" => "ssm",
        "AmazonSQS" => "sqs",
        "AWSCognitoIdentityProviderService" => "cognito-idp",
        other => bail!("X-Amz-Target {other} is not a service the local IAM check knows"),
    }
    .to_owned())
}

/// `SendMessage` to the queue its URL names (`<endpoint>/<account>/<name>`);
/// `GetQueueUrl` of the queue it names.
fn sqs(place: &Place, operation: &str, body: &Value) -> Result<Vec<Call>> {
    let queue = match operation {
        "SendMessage" => {
            let url = text(body, "QueueUrl")?;
            url.rsplit('/')
                .next()
                .filter(|name| !name.is_empty())
                .ok_or_else(|| anyhow!("the queue URL {url} names no queue"))?
        }
        "GetQueueUrl" => text(body, "QueueName")?,
        _ => bail!("sqs:{operation} is not an operation the local IAM check knows"),
    };
    Ok(vec![Call::new(
        format!("sqs:{operation}"),
        place.arn("sqs", queue),
    )])
}

fn ses_operation(method: &str, path: &str) -> Result<String> {
    match (method, path) {
        ("POST", "/v2/email/outbound-emails") => Ok("SendEmail".to_owned()),
        _ => bail!("SES {method} {path} is not an operation the local IAM check knows"),
    }
}

fn text<'v>(body: &'v Value, field: &str) -> Result<&'v str> {
    body.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("the request has no {field}"))
}

fn table_arn(place: &Place, table: &str) -> String {
    if table.starts_with("arn:") {
        table.to_owned()
    } else {
        place.arn("dynamodb", &format!("table/{table}"))
    }
}

fn dynamodb(place: &Place, operation: &str, body: &Value) -> Result<Vec<Call>> {
    let action = |name: &str| format!("dynamodb:{name}");
    let tables_of = |field: &str| -> Result<Vec<String>> {
        let items = body
            .get(field)
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("the request has no {field}"))?;
        Ok(items.keys().map(|t| table_arn(place, t)).collect())
    };
    Ok(match operation {
        "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem" | "DescribeTable" | "DescribeTimeToLive" => {
            vec![Call::new(
                action(operation),
                table_arn(place, text(body, "TableName")?),
            )]
        }
        "Query" | "Scan" => {
            let table = table_arn(place, text(body, "TableName")?);
            let resource = match body.get("IndexName").and_then(Value::as_str) {
                Some(index) => format!("{table}/index/{index}"),
                None => table,
            };
            vec![Call::new(action(operation), resource)]
        }
        "BatchGetItem" | "BatchWriteItem" => tables_of("RequestItems")?
            .into_iter()
            .map(|table| Call::new(action(operation), table))
            .collect(),
        "TransactWriteItems" | "TransactGetItems" => {
            let items = body
                .get("TransactItems")
                .and_then(Value::as_array)
                .ok_or_else(|| anyhow!("the request has no TransactItems"))?;
            let mut calls: Vec<Call> = Vec::new();
            for item in items {
                let (kind, detail) = item
                    .as_object()
                    .and_then(|o| o.iter().next())
                    .ok_or_else(|| anyhow!("an empty TransactItems entry"))?;
                let part = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    other => bail!("TransactItems entry {other} is not known"),
                };
                let call = Call::new(action(part), table_arn(place, text(detail, "TableName")?));
                if !calls.contains(&call) {
                    calls.push(call);
                }
            }
            calls
        }
        other => bail!("dynamodb:{other} is not an operation the local IAM check knows"),
    })
}

fn events(place: &Place, operation: &str, body: &Value) -> Result<Vec<Call>> {
    if operation != "PutEvents" {
        bail!("events:{operation} is not an operation the local IAM check knows");
    }
    let entries = body
        .get("Entries")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("the request has no Entries"))?;
    let mut calls: Vec<Call> = Vec::new();
    for entry in entries {
        let bus = entry
            .get("EventBusName")
            .and_then(Value::as_str)
            .unwrap_or("default");
        let resource = if bus.starts_with("arn:") {
            bus.to_owned()
        } else {
            place.arn("events", &format!("event-bus/{bus}"))
        };
        let mut call = Call::new("events:PutEvents", resource);
        if let Some(source) = entry.get("Source").and_then(Value::as_str) {
            call = call.with("events:source", [source]);
        }
        if let Some(kind) = entry.get("DetailType").and_then(Value::as_str) {
            call = call.with("events:detail-type", [kind]);
        }
        if !calls.contains(&call) {
            calls.push(call);
        }
    }
    Ok(calls)
}

fn kms(place: &Place, operation: &str, body: &Value) -> Result<Vec<Call>> {
    if !matches!(operation, "Encrypt" | "Decrypt" | "GenerateDataKey" | "ReEncrypt") {
        bail!("kms:{operation} is not an operation the local IAM check knows");
    }
    let key = text(body, "KeyId").context("kms: the local IAM check needs the KeyId")?;
    let resource = if key.starts_with("arn:") {
        key.to_owned()
    } else if key.starts_with("alias/") {
        place.arn("kms", key)
    } else {
        place.arn("kms", &format!("key/{key}"))
    };
    let mut call = Call::new(format!("kms:{operation}"), resource);
    let context = body
        .get("EncryptionContext")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    call = call.with("kms:EncryptionContextKeys", context.keys().cloned());
    for (key, value) in &context {
        call = call.with(
            &format!("kms:EncryptionContext:{key}"),
            [value.as_str().unwrap_or_default().to_owned()],
        );
    }
    Ok(vec![call])
}

fn ssm(place: &Place, operation: &str, body: &Value) -> Result<Vec<Call>> {
    let names: Vec<&str> = match operation {
        "GetParameter" | "PutParameter" | "DeleteParameter" => vec![text(body, "Name")?],
        "GetParameters" => body
            .get("Names")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("the request has no Names"))?
            .iter()
            .filter_map(Value::as_str)
            .collect(),
        other => bail!("ssm:{other} is not an operation the local IAM check knows"),
    };
    Ok(names
        .into_iter()
        .map(|name| {
            let resource = if name.starts_with("arn:") {
                name.to_owned()
            } else {
                place.arn("ssm", &format!("parameter/{}", name.trim_start_matches('/')))
            };
            Call::new(format!("ssm:{operation}"), resource)
        })
        .collect())
}

/// SES authorizes a send on the identity the sender uses: the address
/// itself when it is verified, else its domain. Both are offered; the
/// gate allows the send when either is allowed.
fn ses(place: &Place, operation: &str, body: &Value) -> Result<Vec<Call>> {
    let from = text(body, "FromEmailAddress")?;
    let address = from
        .rsplit_once('<')
        .map(|(_, rest)| rest.trim_end_matches('>'))
        .unwrap_or(from)
        .trim();
    let domain = address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .ok_or_else(|| anyhow!("FromEmailAddress {from:?} has no domain"))?;
    Ok(vec![
        Call::new(
            format!("ses:{operation}"),
            place.arn("ses", &format!("identity/{address}")),
        ),
        Call::new(
            format!("ses:{operation}"),
            place.arn("ses", &format!("identity/{domain}")),
        ),
    ])
}

fn cognito(place: &Place, operation: &str, body: &Value) -> Result<Vec<Call>> {
    if UNSIGNED.contains(&operation) {
        return Ok(Vec::new());
    }
    let pool = text(body, "UserPoolId")?;
    Ok(vec![Call::new(
        format!("cognito-idp:{operation}"),
        place.arn("cognito-idp", &format!("userpool/{pool}")),
    )])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn place() -> Place {
        Place {
            region: "us-east-1".into(),
            account: "123456789012".into(),
        }
    }

    fn signed(service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=payment-charge/20261202/us-east-1/{service}/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc"
        )
    }

    fn read_json(service: &str, target: &str, body: Value) -> Request {
        read(
            &place(),
            "POST",
            "/",
            Some(&signed(service)),
            Some(target),
            body.to_string().as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn the_signer_and_a_single_item_call_are_read() {
        let request = read_json(
            "dynamodb",
            "DynamoDB_20120810.GetItem",
            json!({"TableName": "shop-Orders"}),
        );
        assert_eq!(request.key_id.as_deref(), Some("payment-charge"));
        assert_eq!(request.service, "dynamodb");
        assert_eq!(
            request.calls,
            vec![Call::new(
                "dynamodb:GetItem",
                "arn:aws:dynamodb:us-east-1:123456789012:table/shop-Orders"
            )]
        );
    }

    #[test]
    fn a_query_on_an_index_is_a_call_on_the_index() {
        let request = read_json(
            "dynamodb",
            "DynamoDB_20120810.Query",
            json!({"TableName": "shop-Orders", "IndexName": "byUser"}),
        );
        assert_eq!(
            request.calls[0].resource,
            "arn:aws:dynamodb:us-east-1:123456789012:table/shop-Orders/index/byUser"
        );
    }

    #[test]
    fn a_transaction_is_one_call_per_kind_and_table() {
        let request = read_json(
            "dynamodb",
            "DynamoDB_20120810.TransactWriteItems",
            json!({"TransactItems": [
                {"Put": {"TableName": "a"}}, {"Put": {"TableName": "a"}},
                {"Update": {"TableName": "b"}}, {"ConditionCheck": {"TableName": "a"}}
            ]}),
        );
        let actions: Vec<(&str, &str)> = request
            .calls
            .iter()
            .map(|c| (c.action.as_str(), c.resource.rsplit('/').next().unwrap()))
            .collect();
        assert_eq!(
            actions,
            vec![
                ("dynamodb:PutItem", "a"),
                ("dynamodb:UpdateItem", "b"),
                ("dynamodb:ConditionCheckItem", "a")
            ]
        );
    }

    #[test]
    fn a_message_sent_is_a_call_on_its_queue() {
        let request = read_json(
            "sqs",
            "AmazonSQS.SendMessage",
            json!({"QueueUrl": "http://127.0.0.1:5000/123456789012/shop-OutboxDeadLetters", "MessageBody": "{}"}),
        );
        assert_eq!(
            request.calls,
            vec![Call::new(
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:123456789012:shop-OutboxDeadLetters"
            )]
        );
    }

    #[test]
    fn a_queue_url_looked_up_is_a_call_on_its_queue() {
        let request = read_json(
            "sqs",
            "AmazonSQS.GetQueueUrl",
            json!({"QueueName": "shop-PaymentChargeQueue", "QueueOwnerAWSAccountId": "123456789012"}),
        );
        assert_eq!(
            request.calls,
            vec![Call::new(
                "sqs:GetQueueUrl",
                "arn:aws:sqs:us-east-1:123456789012:shop-PaymentChargeQueue"
            )]
        );
    }

    #[test]
    fn put_events_carries_each_entrys_source() {
        let request = read_json(
            "events",
            "AWSEvents.PutEvents",
            json!({"Entries": [{"EventBusName": "shop-bus", "Source": "astroshop.payment", "DetailType": "PaymentSucceeded"}]}),
        );
        let call = &request.calls[0];
        assert_eq!(
            call.resource,
            "arn:aws:events:us-east-1:123456789012:event-bus/shop-bus"
        );
        assert_eq!(call.context["events:source"], vec!["astroshop.payment"]);
    }

    #[test]
    fn a_kms_call_carries_its_encryption_context() {
        let request = read_json(
            "kms",
            "TrentService.Decrypt",
            json!({"KeyId": "k-1", "CiphertextBlob": "AA==", "EncryptionContext": {"orderId": "o-1"}}),
        );
        let call = &request.calls[0];
        assert_eq!(call.resource, "arn:aws:kms:us-east-1:123456789012:key/k-1");
        assert_eq!(call.context["kms:encryptioncontextkeys"], vec!["orderId"]);
        assert_eq!(call.context["kms:encryptioncontext:orderid"], vec!["o-1"]);
    }

    #[test]
    fn an_ssm_parameter_is_named_without_its_leading_slash() {
        let request = read_json(
            "ssm",
            "AmazonSSM.GetParameter",
            json!({"Name": "/shop/admin-key"}),
        );
        assert_eq!(
            request.calls[0].resource,
            "arn:aws:ssm:us-east-1:123456789012:parameter/shop/admin-key"
        );
    }

    #[test]
    fn a_mail_is_authorized_on_its_senders_identity() {
        let request = read(
            &place(),
            "POST",
            "/v2/email/outbound-emails",
            Some(&signed("ses")),
            None,
            json!({"FromEmailAddress": "Shop <orders@shop.example>"})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(request.protocol, Protocol::RestJson);
        let resources: Vec<&str> = request.calls.iter().map(|c| c.resource.as_str()).collect();
        assert_eq!(
            resources,
            vec![
                "arn:aws:ses:us-east-1:123456789012:identity/orders@shop.example",
                "arn:aws:ses:us-east-1:123456789012:identity/shop.example"
            ]
        );
    }

    #[test]
    fn only_a_shoppers_own_cognito_calls_go_unsigned() {
        let body = json!({"ClientId": "c"}).to_string();
        let sign_in = read(
            &place(),
            "POST",
            "/",
            None,
            Some("AWSCognitoIdentityProviderService.InitiateAuth"),
            body.as_bytes(),
        )
        .unwrap();
        assert!(sign_in.key_id.is_none() && sign_in.calls.is_empty());
        let admin = read(
            &place(),
            "POST",
            "/",
            None,
            Some("AWSCognitoIdentityProviderService.AdminConfirmSignUp"),
            json!({"UserPoolId": "p"}).to_string().as_bytes(),
        );
        assert!(admin.is_err());
    }

    #[test]
    fn unknown_operations_are_refused() {
        let scan_streams = read(
            &place(),
            "POST",
            "/",
            Some(&signed("dynamodb")),
            Some("DynamoDB_20120810.DeleteTable"),
            b"{\"TableName\":\"t\"}",
        );
        assert!(scan_streams.is_err());
        assert!(read(&place(), "GET", "/", Some(&signed("s3")), None, b"").is_err());
    }
}
