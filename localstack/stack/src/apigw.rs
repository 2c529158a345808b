//! API Gateway HTTP API payload format 2.0: the event a function receives
//! for an HTTP request (with the claims of the token a JWT authorizer
//! accepted, on its routes only), and how its answer becomes an HTTP response.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

/// An HTTP request as the gateway received it.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// The path as sent, still percent-encoded.
    pub raw_path: String,
    /// The query string as sent, without `?`.
    pub raw_query: String,
    /// Header names and values in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub source_ip: String,
}

/// What identifies one invocation.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    pub route_key: &'a str,
    pub path_parameters: &'a BTreeMap<String, String>,
    pub request_id: &'a str,
    pub account_id: &'a str,
    /// Milliseconds since the Unix epoch.
    pub time_epoch_ms: i64,
    /// The claims of the token the route's JWT authorizer accepted, each
    /// as API Gateway passes it (a string); `None` on an open route.
    pub jwt_claims: Option<&'a BTreeMap<String, String>>,
}

/// The payload 2.0 event for `request`.
pub fn event(request: &HttpRequest, invocation: &Invocation<'_>) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in &request.headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
            );
            continue;
        }
        headers
            .entry(name)
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    let content_type = headers.get("content-type").map(String::as_str).unwrap_or("");
    let (body, is_base64) = match std::str::from_utf8(&request.body) {
        _ if request.body.is_empty() => (Value::Null, false),
        Ok(text) if is_text(content_type) => (Value::String(text.to_owned()), false),
        _ => (Value::String(BASE64.encode(&request.body)), true),
    };
    let query = query_parameters(&request.raw_query);
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    let host = headers
        .get("host")
        .cloned()
        .unwrap_or_else(|| "localhost".to_owned());
    let mut event = json!({
        "version": "2.0",
        "routeKey": invocation.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": invocation.account_id,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or_default(),
            "http": {
                "method": request.method,
                "path": request.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": user_agent,
            },
            "requestId": invocation.request_id,
            "routeKey": invocation.route_key,
            "stage": "$default",
            "time": format_time(invocation.time_epoch_ms),
            "timeEpoch": invocation.time_epoch_ms,
        },
        "isBase64Encoded": is_base64,
    });
    let fields = event.as_object_mut().expect("built as an object");
    if !cookies.is_empty() {
        fields.insert("cookies".into(), json!(cookies));
    }
    if !query.is_empty() {
        fields.insert("queryStringParameters".into(), json!(query));
    }
    if !invocation.path_parameters.is_empty() {
        fields.insert("pathParameters".into(), json!(invocation.path_parameters));
    }
    if !body.is_null() {
        fields.insert("body".into(), body);
    }
    if let Some(claims) = invocation.jwt_claims {
        // No route sets AuthorizationScopes, so API Gateway passes no scopes.
        event["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    event
}

/// Query parameters decoded, repeated keys joined with commas, as API Gateway
/// passes them (`a=1&a=2` becomes `{"a": "1,2"}`).
fn query_parameters(raw: &str) -> BTreeMap<String, String> {
    let mut parameters: BTreeMap<String, String> = BTreeMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        parameters
            .entry(decode(key))
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&decode(value));
            })
            .or_insert_with(|| decode(value));
    }
    parameters
}

fn is_text(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/x-www-form-urlencoded"
                | "application/javascript"
        )
}

fn format_time(epoch_ms: i64) -> String {
    let format =
        time::macros::format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    time::OffsetDateTime::from_unix_timestamp(epoch_ms / 1000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// A function's answer, as the client will get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Turns a function's result into the HTTP response. A result without
/// `statusCode` is a JSON body with 200, as API Gateway treats it.
pub fn response(payload: &[u8]) -> Result<HttpResponse> {
    let value: Value = serde_json::from_slice(payload).context("the function's answer is not JSON")?;
    let Some(object) = value.as_object().filter(|o| o.contains_key("statusCode")) else {
        return Ok(HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(&value)?,
        });
    };
    let status = object["statusCode"]
        .as_u64()
        .filter(|s| (100..=599).contains(s))
        .context("statusCode is not an HTTP status")? as u16;
    let mut headers = Vec::new();
    let empty = Map::new();
    for (name, value) in object.get("headers").and_then(Value::as_object).unwrap_or(&empty) {
        headers.push((name.clone(), string_of(value)?));
    }
    for (name, values) in object
        .get("multiValueHeaders")
        .and_then(Value::as_object)
        .unwrap_or(&empty)
    {
        if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            continue;
        }
        for value in values.as_array().into_iter().flatten() {
            headers.push((name.clone(), string_of(value)?));
        }
    }
    for cookie in object
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        headers.push(("set-cookie".into(), string_of(cookie)?));
    }
    let body = match object.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) if object.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            BASE64.decode(text).context("the body is not valid base64")?
        }
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(other) => bail!("body is not a string: {other}"),
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn string_of(value: &Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => bail!("header value is not a string: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            raw_path: "/api/products/A%20B".into(),
            raw_query: "productIds=A&productIds=B&q=red+scope&empty=".into(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Cookie".into(), "session=abc; theme=dark".into()),
                ("X-Tag".into(), "one".into()),
                ("x-tag".into(), "two".into()),
            ],
            body: br#"{"a":1}"#.to_vec(),
            source_ip: "127.0.0.1".into(),
        }
    }

    fn build(request: &HttpRequest) -> Value {
        build_with(request, None)
    }

    fn build_with(request: &HttpRequest, jwt_claims: Option<&BTreeMap<String, String>>) -> Value {
        let params = BTreeMap::from([("productId".to_owned(), "A B".to_owned())]);
        event(
            request,
            &Invocation {
                route_key: "POST /api/products/{productId}",
                path_parameters: &params,
                request_id: "req-1",
                account_id: "000000000000",
                time_epoch_ms: 1_700_000_000_000,
                jwt_claims,
            },
        )
    }

    #[test]
    fn an_authorized_request_carries_its_claims_where_lambda_http_reads_them() {
        let claims = BTreeMap::from([
            ("sub".to_owned(), "4a1f".to_owned()),
            ("exp".to_owned(), "1700003600".to_owned()),
        ]);
        let event = build_with(&request(), Some(&claims));
        assert_eq!(
            event["requestContext"]["authorizer"]["jwt"]["scopes"],
            Value::Null
        );
        let parsed = lambda_http::request::from_str(&event.to_string()).unwrap();
        use lambda_http::RequestExt;
        let lambda_http::request::RequestContext::ApiGatewayV2(context) = parsed.request_context() else {
            panic!("not an HTTP API request");
        };
        let jwt = context.authorizer.unwrap().jwt.unwrap();
        assert_eq!(jwt.claims.get("sub").map(String::as_str), Some("4a1f"));
        assert_eq!(jwt.claims.get("exp").map(String::as_str), Some("1700003600"));
    }

    #[test]
    fn an_open_route_has_no_authorizer_whatever_the_client_sends() {
        let mut with_token = request();
        with_token
            .headers
            .push(("authorization".into(), "Bearer eyJ.eyJ.sig".into()));
        let event = build(&with_token);
        assert!(event["requestContext"].get("authorizer").is_none(), "{event}");
    }

    #[test]
    fn the_event_carries_query_cookies_headers_and_path_parameters() {
        let event = build(&request());
        assert_eq!(event["queryStringParameters"]["productIds"], "A,B");
        assert_eq!(event["queryStringParameters"]["q"], "red scope");
        assert_eq!(event["queryStringParameters"]["empty"], "");
        assert_eq!(event["cookies"], json!(["session=abc", "theme=dark"]));
        assert_eq!(event["headers"]["x-tag"], "one,two");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["pathParameters"]["productId"], "A B");
        assert_eq!(event["body"], r#"{"a":1}"#);
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
        assert_eq!(event["requestContext"]["time"], "14/Nov/2023:22:13:20 +0000");
    }

    #[test]
    fn binary_bodies_are_base64_encoded() {
        let mut binary = request();
        binary.headers = vec![("content-type".into(), "image/png".into())];
        binary.body = vec![0x89, b'P', b'N', b'G', 0xff];
        let event = build(&binary);
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(
            BASE64.decode(event["body"].as_str().unwrap()).unwrap(),
            binary.body
        );
    }

    #[test]
    fn the_event_is_one_lambda_http_reads() {
        let event = build(&request());
        let parsed = lambda_http::request::from_str(&event.to_string()).unwrap();
        use lambda_http::RequestExt;
        assert_eq!(
            parsed.query_string_parameters().all("productIds").unwrap(),
            vec!["A", "B"]
        );
        assert_eq!(parsed.path_parameters().first("productId"), Some("A B"));
    }

    #[test]
    fn responses_keep_status_headers_cookies_and_decode_base64() {
        let payload = json!({
            "statusCode": 201,
            "headers": {"content-type": "image/png"},
            "cookies": ["a=1", "b=2"],
            "body": BASE64.encode([1u8, 2, 3]),
            "isBase64Encoded": true
        });
        let response = response(payload.to_string().as_bytes()).unwrap();
        assert_eq!(response.status, 201);
        assert_eq!(response.body, vec![1, 2, 3]);
        assert!(response.headers.contains(&("set-cookie".into(), "b=2".into())));
    }

    #[test]
    fn a_bare_json_answer_is_a_200_json_body() {
        let response = response(br#"{"hello":"world"}"#).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, br#"{"hello":"world"}"#);
    }

    #[test]
    fn a_bad_status_code_is_an_error() {
        assert!(response(br#"{"statusCode": 42}"#).is_err());
        assert!(response(b"not json").is_err());
    }
}
