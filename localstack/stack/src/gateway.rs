//! The HTTP API on a local port: each request is held to API Gateway's quota
//! on its request line and header values (over it, a 414 or a 431), matched
//! to a route of the template, counted against the route's throttling (over
//! it, API Gateway's 429), checked by the route's JWT authorizer if it names
//! one (a refusal is API Gateway's 401), turned into a payload 2.0 event,
//! invoked through the Invoke API and its answer sent back, as API Gateway
//! does. A refused request runs no function.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::account::LOCAL_ACCOUNT;
use crate::apigw::{self, HttpRequest, Invocation};
use crate::authorizer::{Authorizers, Claims, Refusal};
use crate::functions::Invoker;
use crate::routes::{RouteTable, Selection};
use crate::template::Template;
use crate::throttle::TokenBucket;

/// API Gateway's payload limit.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// API Gateway's quota on an HTTP API request's request line and header
/// values together.
const MAX_REQUEST_LINE_AND_HEADER_VALUES: usize = 10_240;

pub struct Gateway {
    routes: RouteTable,
    /// A bucket for each throttled route, by route key.
    buckets: BTreeMap<String, TokenBucket>,
    authorizers: Authorizers,
    invoker: Invoker,
    account_id: String,
    log_requests: bool,
}

impl Gateway {
    pub fn new(
        routes: RouteTable,
        authorizers: Authorizers,
        invoker: Invoker,
        account_id: String,
        log_requests: bool,
    ) -> Self {
        let now = Instant::now();
        let buckets = routes
            .routes()
            .iter()
            .filter_map(|route| {
                let bucket = TokenBucket::new(route.throttling?, now);
                Some((route.route_key.clone(), bucket))
            })
            .collect();
        Self {
            routes,
            buckets,
            authorizers,
            invoker,
            account_id,
            log_requests,
        }
    }

    /// Serves until `shutdown` turns true.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: watch::Receiver<bool>) {
        crate::serve::serve(listener, shutdown, move |request, connection| {
            let gateway = self.clone();
            async move { gateway.handle(request, connection.peer, connection.port).await }
        })
        .await
    }

    async fn handle(&self, request: Request<Incoming>, peer: SocketAddr, port: u16) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        let (response, function) = self.respond(request, peer, port).await;
        if !self.log_requests {
            return response;
        }
        println!(
            "{method} {path} -> {} {} ({} ms)",
            response.status().as_u16(),
            function.as_deref().unwrap_or("-"),
            started.elapsed().as_millis()
        );
        response
    }

    async fn respond(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
        port: u16,
    ) -> (Response<Full<Bytes>>, Option<String>) {
        let (parts, body) = request.into_parts();
        if let Some(refused) = over_request_quota(&parts) {
            return (refused, None);
        }
        let method = parts.method.as_str().to_owned();
        let route = match self.routes.select(&method, parts.uri.path()) {
            Selection::Found {
                route,
                path_parameters,
            } => (route, path_parameters),
            Selection::NotFound => {
                let message = format!("no route for {method} {}", parts.uri.path());
                return (
                    error(StatusCode::NOT_FOUND, "route_not_found", &message, &[]),
                    None,
                );
            }
            Selection::MethodNotAllowed(allowed) => {
                let message = format!(
                    "{} does not accept {method}; it accepts {}",
                    parts.uri.path(),
                    allowed.join(", ")
                );
                let allow = [("allow", allowed.join(", "))];
                return (
                    error(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method_not_allowed",
                        &message,
                        &allow,
                    ),
                    None,
                );
            }
        };
        let (route, path_parameters) = route;
        if let Some(bucket) = self.buckets.get(&route.route_key)
            && let Err(retry_after) = bucket.take(Instant::now())
        {
            return (too_many_requests(retry_after), None);
        }
        let jwt_claims = match &route.authorizer {
            None => None,
            Some(name) => match self.authorize(name, &parts.headers).await {
                Ok(claims) => Some(claims),
                Err(refused) => return (refused, None),
            },
        };
        let function = Some(route.function.clone());
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                let message = "the request body is larger than 10 MB";
                return (
                    error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message, &[]),
                    function,
                );
            }
        };
        let http_request = HttpRequest {
            method,
            raw_path: parts.uri.path().to_owned(),
            raw_query: parts.uri.query().unwrap_or_default().to_owned(),
            headers: forwarded_headers(&parts.headers, port),
            body: body.to_vec(),
            source_ip: peer.ip().to_string(),
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        let event = apigw::event(
            &http_request,
            &Invocation {
                route_key: &route.route_key,
                path_parameters: &path_parameters,
                request_id: &request_id,
                account_id: &self.account_id,
                time_epoch_ms: time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
                jwt_claims: jwt_claims.as_ref(),
            },
        );
        (self.invoke(&route.function, &event).await, function)
    }

    /// The claims of the request's token if the authorizer `name` accepts
    /// it, else the answer API Gateway gives instead.
    async fn authorize(
        &self,
        name: &str,
        headers: &http::HeaderMap,
    ) -> Result<Claims, Response<Full<Bytes>>> {
        let Some(authorizer) = self.authorizers.get(name) else {
            // The template names no authorizer it does not declare, so this is the stack's bug.
            tracing::error!(
                authorizer = name,
                "a route names an authorizer the gateway does not have"
            );
            return Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal Server Error",
                &[],
            ));
        };
        authorizer
            .check(headers)
            .await
            .map_err(|refusal| unauthorized(&refusal))
    }

    async fn invoke(&self, function: &str, event: &serde_json::Value) -> Response<Full<Bytes>> {
        let failed = |detail: String| {
            tracing::error!(function, %detail, "invocation failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal Server Error",
                &[],
            )
        };
        let payload = match self.invoker.invoke(function, event).await {
            Ok(payload) => payload,
            Err(e) => return failed(e.to_string()),
        };
        match apigw::response(&payload) {
            Ok(converted) => {
                let mut builder = Response::builder().status(converted.status);
                for (name, value) in &converted.headers {
                    builder = builder.header(name, value);
                }
                builder
                    .body(Full::new(Bytes::from(converted.body)))
                    .unwrap_or_else(|e| failed(format!("{function}'s answer has an invalid header: {e}")))
            }
            Err(e) => failed(format!("{function}'s answer is not an HTTP response: {e:#}")),
        }
    }
}

/// The payload 2.0 event the gateway sends for `method` and `uri` (path and
/// query) of the shop's template, and the function it routes them to, without
/// serving anything: what `local-stack event` prints and handler tests feed
/// their handlers. `jwt_claims` are those the route's authorizer passes on,
/// so a route without one refuses them.
pub fn routed_event(
    method: &str,
    uri: &str,
    body: Option<&str>,
    jwt_claims: Option<&BTreeMap<String, String>>,
) -> anyhow::Result<(String, serde_json::Value)> {
    let routes = RouteTable::from_template(&Template::shop()?);
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let Selection::Found {
        route,
        path_parameters,
    } = routes.select(method, path)
    else {
        anyhow::bail!("the template routes no function for {method} {path}");
    };
    if jwt_claims.is_some() && route.authorizer.is_none() {
        anyhow::bail!(
            "{} has no authorizer, so the gateway passes it no shopper",
            route.route_key
        );
    }
    let request = HttpRequest {
        method: method.to_owned(),
        raw_path: path.to_owned(),
        raw_query: query.to_owned(),
        headers: vec![
            ("host".into(), "localhost".into()),
            ("content-type".into(), "application/json".into()),
        ],
        body: body.unwrap_or_default().as_bytes().to_vec(),
        source_ip: "127.0.0.1".into(),
    };
    let event = apigw::event(
        &request,
        &Invocation {
            route_key: &route.route_key,
            path_parameters: &path_parameters,
            request_id: "local-request",
            account_id: LOCAL_ACCOUNT,
            time_epoch_ms: 0,
            jwt_claims,
        },
    );
    Ok((route.function.clone(), event))
}

/// The refusal of a request whose request line and header values together
/// are over API Gateway's quota, if `request` is one: a 431 when the header
/// values alone are over it, else a 414, since the request target is what
/// does not fit.
fn over_request_quota(request: &http::request::Parts) -> Option<Response<Full<Bytes>>> {
    let target = request.uri.path_and_query().map_or("/", |target| target.as_str());
    // `<method> <target> HTTP/1.1`
    let request_line = request.method.as_str().len() + 1 + target.len() + " HTTP/1.1".len();
    let header_values: usize = request.headers.values().map(|value| value.len()).sum();
    let limit = MAX_REQUEST_LINE_AND_HEADER_VALUES;
    if request_line + header_values <= limit {
        return None;
    }
    Some(if header_values > limit {
        let message = format!(
            "the header values are {header_values} bytes; with the request line they may be at most {limit}"
        );
        error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            &message,
            &[],
        )
    } else {
        let message = format!(
            "the request line is {request_line} bytes and the header values {header_values}; together they may be at most {limit}"
        );
        error(StatusCode::URI_TOO_LONG, "uri_too_long", &message, &[])
    })
}

/// API Gateway's own answer to a request its JWT authorizer refused.
fn unauthorized(refusal: &Refusal) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header("content-type", "application/json")
        .header("www-authenticate", refusal.challenge())
        .body(Full::new(Bytes::from_static(br#"{"message":"Unauthorized"}"#)))
        .expect("a refusal's challenge is a valid header value")
}

/// API Gateway's own answer to a request over its route's throttling limits.
fn too_many_requests(retry_after_secs: u64) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::TOO_MANY_REQUESTS)
        .header("content-type", "application/json")
        .header("retry-after", retry_after_secs.to_string())
        .body(Full::new(Bytes::from_static(
            br#"{"message":"Too Many Requests"}"#,
        )))
        .expect("static headers always build")
}

/// The request's headers as API Gateway passes them on: with the
/// `x-forwarded-*` headers it adds, which tell a function (the storefront) how
/// it was reached.
fn forwarded_headers(headers: &http::HeaderMap, port: u16) -> Vec<(String, String)> {
    let mut forwarded: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !name.as_str().starts_with("x-forwarded-"))
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    forwarded.push(("x-forwarded-proto".into(), "http".into()));
    forwarded.push(("x-forwarded-port".into(), port.to_string()));
    forwarded
}

/// An error in the shop's JSON error shape.
fn error(status: StatusCode, code: &str, message: &str, headers: &[(&str, String)]) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("static headers always build")
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use http_body_util::BodyExt;
    use tokio::io::AsyncWriteExt;

    use super::*;
    use crate::resolve::{Names, Resolver};

    /// Two routes under the API's default limits, checkout under its own.
    const THROTTLED: &str = r#"
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefaultRouteSettings: {ThrottlingRateLimit: 1, ThrottlingBurstLimit: 2}
      RouteSettings:
        "POST /api/checkout": {ThrottlingRateLimit: 1, ThrottlingBurstLimit: 1}
  Shop:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: shop
    Properties:
      Events:
        Things:
          Type: HttpApi
          Properties: {Method: GET, Path: /api/things}
        Stuff:
          Type: HttpApi
          Properties: {Method: GET, Path: /api/stuff}
        Checkout:
          Type: HttpApi
          Properties: {Method: POST, Path: /api/checkout}
"#;

    /// The same routes, none of them throttled.
    fn unthrottled() -> String {
        let lines: Vec<&str> = THROTTLED
            .lines()
            .filter(|line| !line.contains("RouteSettings") && !line.contains("ThrottlingRateLimit"))
            .collect();
        lines.join("\n")
    }

    /// A stand-in Invoke API that answers every invocation with a 200 and
    /// counts them.
    async fn function() -> (Invoker, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let invocations = Arc::new(AtomicUsize::new(0));
        let counted = invocations.clone();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                local_stack_testing::read_request(&mut stream).await.unwrap();
                counted.fetch_add(1, Ordering::SeqCst);
                let answer = r#"{"statusCode":200,"body":"served"}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                stream.write_all(response.as_bytes()).await.unwrap();
            }
        });
        (Invoker::new(port), invocations)
    }

    /// The gateway of `template` on a loopback port: its base URL, and the
    /// count of the functions it invoked.
    async fn serve(template: &str) -> (String, Arc<AtomicUsize>, watch::Sender<bool>) {
        let template = Template::parse(template).unwrap();
        let resolver = Resolver::new(&template, Names::local("gateway-test"));
        let authorizers = Authorizers::from_template(&resolver, "http://127.0.0.1:1").unwrap();
        let (invoker, invocations) = function().await;
        let gateway = Gateway::new(
            RouteTable::from_template(&template),
            authorizers,
            invoker,
            "123456789012".into(),
            false,
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stopped) = watch::channel(false);
        tokio::spawn(Arc::new(gateway).serve(listener, stopped));
        (base_url, invocations, shutdown)
    }

    async fn send(base_url: &str, method: &str, path: &str) -> reqwest::Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        reqwest::Client::new()
            .request(method, format!("{base_url}{path}"))
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_request_over_its_routes_burst_is_api_gateways_429_and_runs_no_function() {
        let (base_url, invocations, _shutdown) = serve(THROTTLED).await;
        for n in 0..2 {
            let status = send(&base_url, "GET", "/api/things").await.status();
            assert_eq!(status, StatusCode::OK, "request {n} of the burst");
        }
        let refused = send(&base_url, "GET", "/api/things").await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let header = |name: &str| refused.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("content-type"), "application/json");
        assert_eq!(header("retry-after"), "1");
        assert_eq!(
            refused.text().await.unwrap(),
            r#"{"message":"Too Many Requests"}"#
        );
        assert_eq!(
            invocations.load(Ordering::SeqCst),
            2,
            "the refused request reached the function"
        );
    }

    #[tokio::test]
    async fn each_route_has_its_own_bucket_under_its_own_limits() {
        let (base_url, invocations, _shutdown) = serve(THROTTLED).await;
        assert_eq!(
            send(&base_url, "POST", "/api/checkout").await.status(),
            StatusCode::OK
        );
        assert_eq!(
            send(&base_url, "POST", "/api/checkout").await.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "checkout's burst is 1"
        );
        for path in ["/api/things", "/api/stuff", "/api/things", "/api/stuff"] {
            assert_eq!(
                send(&base_url, "GET", path).await.status(),
                StatusCode::OK,
                "{path}: another route's empty bucket is not this one's"
            );
        }
        assert_eq!(invocations.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_throttled_route_serves_again_after_retry_after() {
        let (base_url, _, _shutdown) = serve(THROTTLED).await;
        send(&base_url, "POST", "/api/checkout").await;
        let refused = send(&base_url, "POST", "/api/checkout").await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        tokio::time::sleep(Duration::from_secs(retry_after)).await;
        assert_eq!(
            send(&base_url, "POST", "/api/checkout").await.status(),
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn an_api_without_route_settings_throttles_nothing() {
        let (base_url, invocations, _shutdown) = serve(&unthrottled()).await;
        for _ in 0..10 {
            assert_eq!(
                send(&base_url, "POST", "/api/checkout").await.status(),
                StatusCode::OK
            );
        }
        assert_eq!(invocations.load(Ordering::SeqCst), 10);
    }

    /// `GET target` sent as written with the headers `extra` and two of
    /// its own (`host: x`, `connection: close`: 6 bytes of values): the
    /// status and the body of the answer.
    async fn send_raw(base_url: &str, target: &str, extra: &[(&str, String)]) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(base_url.trim_start_matches("http://"))
            .await
            .unwrap();
        let mut request = format!("GET {target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n");
        for (name, value) in extra {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer)
            .await
            .unwrap();
        let status = answer[9..12].parse().unwrap();
        let body = answer.split_once("\r\n\r\n").unwrap().1.to_owned();
        (status, body)
    }

    /// A target that makes `GET <target> HTTP/1.1` `request_line` bytes long.
    fn target_for(request_line: usize) -> String {
        let query = "a".repeat(request_line - "GET /api/things?q= HTTP/1.1".len());
        format!("/api/things?q={query}")
    }

    #[tokio::test]
    async fn a_request_line_and_header_values_over_10240_bytes_are_refused_before_any_function() {
        let (base_url, invocations, _shutdown) = serve(&unthrottled()).await;
        let own_header_values = "x".len() + "close".len();
        let at_the_limit = target_for(MAX_REQUEST_LINE_AND_HEADER_VALUES - own_header_values);
        assert_eq!(send_raw(&base_url, &at_the_limit, &[]).await.0, 200);

        let one_byte_over = format!("{at_the_limit}a");
        let (status, body) = send_raw(&base_url, &one_byte_over, &[]).await;
        assert_eq!(status, 414, "{body}");
        let error: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"]["code"], "uri_too_long");
        assert_eq!(
            error["error"]["message"],
            "the request line is 10235 bytes and the header values 6; together they may be at most 10240"
        );

        let short = target_for(100);
        let cookie = [("cookie", "c".repeat(MAX_REQUEST_LINE_AND_HEADER_VALUES))];
        let (status, body) = send_raw(&base_url, &short, &cookie).await;
        assert_eq!(status, 431, "{body}");
        let error: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"]["code"], "headers_too_large");

        let split = [(
            "cookie",
            "c".repeat(MAX_REQUEST_LINE_AND_HEADER_VALUES - 100 - own_header_values),
        )];
        assert_eq!(send_raw(&base_url, &short, &split).await.0, 200);
        assert_eq!(
            send_raw(&base_url, &target_for(101), &split).await.0,
            414,
            "a request line that pushes the headers over is the target's fault"
        );
        assert_eq!(
            invocations.load(Ordering::SeqCst),
            2,
            "a refused request reached the function"
        );
    }

    #[tokio::test]
    async fn a_refusal_is_api_gateways_401_with_its_challenge() {
        let response = unauthorized(&Refusal::Invalid("the token has expired".into()));
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("content-type"), "application/json");
        assert_eq!(
            header("www-authenticate"),
            r#"Bearer scope="" error="invalid_token" error_description="the token has expired""#
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, r#"{"message":"Unauthorized"}"#);
    }
}
