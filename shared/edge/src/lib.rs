//! The HTTP edge every API function shares: one error type mapped to a status
//! and a `{"error":{"code","message"}}` body in one place, JSON responses, and
//! the parsing of query and path parameters into domain types; who a request
//! acts for (a signed-in shopper, a guest, the holder of an order's link, an
//! operator with the admin key).

mod admin;
pub mod client;
pub mod order_link;
pub mod page;
mod secret;
pub mod shopper;

pub use admin::{AdminKey, BearerKey};
pub use client::{Client, ClientKey};
pub use order_link::OrderLinks;
pub use page::{PageRequest, page_response};
pub use secret::{SecretError, SecretParameter};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use astroshop_domain::{CurrencyCode, Product, RateTable};
use astroshop_flags::{Flag, Flags};
use astroshop_store::RateSource;
use astroshop_telemetry::Trigger;
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

/// Everything a request can go wrong with, as the client is told it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// A query parameter out of its range or shape; the body names it, so
    /// a client (or a form) can point at the field.
    #[error("{message}")]
    InvalidParameter {
        parameter: &'static str,
        message: String,
    },
    /// No credentials: the response asks for a bearer token.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// Credentials given, and wrong.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// A body larger than the endpoint reads.
    #[error("{message}")]
    PayloadTooLarge { code: &'static str, message: String },
    /// The client has had its allowance for now; `Retry-After` says when
    /// the next starts.
    #[error("{message}")]
    TooManyRequests {
        code: &'static str,
        message: String,
        retry_after: Duration,
    },
    /// A fault injected on purpose (a fault flag is on); `Retry-After` says
    /// when to try again.
    #[error("{message}")]
    Unavailable {
        code: &'static str,
        message: String,
        retry_after: Duration,
    },
    /// Our own fault; its cause is logged, whole, and never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn invalid_parameter(parameter: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidParameter {
            parameter,
            message: message.into(),
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }

    /// Our own fault, caused by `error` (an error, kept with its causes, or
    /// a sentence saying what went wrong).
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(error.into())
    }

    /// The fault of the flag `flag`, injected now (and counted): a 503 that
    /// names the flag, so whoever turned it on sees it at work.
    pub fn injected(flag: Flag) -> Self {
        astroshop_flags::injected(flag);
        Self::Unavailable {
            code: "fault_injected",
            message: format!("failing on purpose: the fault flag {flag} is on"),
            retry_after: Duration::from_secs(1),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } | Self::InvalidParameter { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::PayloadTooLarge { code, .. }
            | Self::TooManyRequests { code, .. }
            | Self::Unavailable { code, .. } => code,
            Self::InvalidParameter { .. } => "invalid_parameter",
            Self::Internal(_) => "internal_error",
        }
    }

    fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "something went wrong on our side; please retry".to_owned(),
            other => other.to_string(),
        }
    }

    /// The response the client sees.
    pub fn into_response(self) -> Response<Body> {
        if self.status().is_server_error() {
            tracing::error!(error = %astroshop_telemetry::error_chain(&self), "request failed");
        } else {
            tracing::info!(status = self.status().as_u16(), code = self.code(), error = %self, "request rejected");
        }
        let mut error = serde_json::json!({ "code": self.code(), "message": self.public_message() });
        if let Self::InvalidParameter { parameter, .. } = &self {
            error["parameter"] = (*parameter).into();
        }
        let body = serde_json::json!({ "error": error });
        let mut response = json(self.status(), &body);
        match self {
            Self::Unauthorized { .. } => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
            }
            Self::TooManyRequests { retry_after, .. } | Self::Unavailable { retry_after, .. } => {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from(retry_after.as_secs()),
                );
            }
            _ => {}
        }
        response
    }
}

/// Fails the request (a 503 naming the flag) when the fault flag `flag`
/// strikes it; call it before anything is written.
pub async fn fail_if_flagged(flags: &Flags, flag: Flag) -> Result<(), ApiError> {
    if flags.current().await.strikes(flag) {
        return Err(ApiError::injected(flag));
    }
    Ok(())
}

/// A JSON response with the given status.
pub fn json(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    match serde_json::to_string(body) {
        Ok(text) => Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::Text(text))
            .expect("a status and a static header always build a response"),
        Err(error) => ApiError::internal(format!("serializing a response: {error}")).into_response(),
    }
}

/// 200 with a JSON body.
pub fn ok(body: &impl Serialize) -> Response<Body> {
    json(StatusCode::OK, body)
}

/// A query string parameter; an empty value counts as absent, as the demo's
/// storefront sends `currencyCode=` when the shopper has not chosen one.
pub fn query<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .query_string_parameters_ref()
        .and_then(|params| params.first(name))
        .filter(|value| !value.is_empty())
}

/// A required query string parameter.
pub fn required_query<'r>(request: &'r Request, name: &str) -> Result<&'r str, ApiError> {
    query(request, name).ok_or_else(|| {
        ApiError::bad_request(
            "missing_parameter",
            format!("query parameter {name:?} is required"),
        )
    })
}

/// A path parameter the route declares (`{productId}`).
pub fn path_param<'r>(request: &'r Request, name: &str) -> Result<&'r str, ApiError> {
    request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_parameter",
                format!("path parameter {name:?} is required"),
            )
        })
}

/// The request's JSON body as `T`; an absent, malformed or mistyped body is a
/// 400 that says what was wrong, field and position included.
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "missing_body",
            "a JSON request body is required",
        ));
    }
    serde_json::from_slice(bytes).map_err(|error| {
        ApiError::bad_request("invalid_body", format!("the request body is not valid: {error}"))
    })
}

/// The `currencyCode` query parameter, USD when absent.
pub fn currency_param(request: &Request) -> Result<CurrencyCode, ApiError> {
    match query(request, "currencyCode") {
        None => Ok(CurrencyCode::usd()),
        Some(code) => CurrencyCode::parse(code)
            .map_err(|error| ApiError::bad_request("invalid_currency", error.to_string())),
    }
}

/// The shopper's currency (`currencyCode`, USD when absent) and the rates to
/// price in it: an unsupported currency is a 400 before any work is done.
pub struct Pricing {
    rates: Arc<RateTable>,
    currency: CurrencyCode,
}

impl Pricing {
    pub async fn for_request(request: &Request, rates: &impl RateSource) -> Result<Self, ApiError> {
        let currency = currency_param(request)?;
        let rates = rates.rate_table().await.map_err(ApiError::internal)?;
        if !rates.supports(&currency) {
            return Err(ApiError::bad_request(
                "unsupported_currency",
                format!("currency {currency} is not supported; GET /api/currency lists those that are"),
            ));
        }
        Ok(Self { rates, currency })
    }

    pub fn currency(&self) -> &CurrencyCode {
        &self.currency
    }

    pub fn rates(&self) -> &RateTable {
        &self.rates
    }

    /// The product with its price in the shopper's currency.
    pub fn price(&self, mut product: Product) -> Result<Product, ApiError> {
        // The currency is supported, so a failure here is bad stored data.
        product.price_usd = self
            .rates
            .convert(&product.price_usd, &self.currency)
            .map_err(|error| ApiError::internal(format!("pricing product {}: {error}", product.id)))?;
        Ok(product)
    }

    /// Every product priced in the shopper's currency.
    pub fn price_all(&self, products: impl IntoIterator<Item = Product>) -> Result<Vec<Product>, ApiError> {
        products.into_iter().map(|product| self.price(product)).collect()
    }
}

/// The largest request body any API route reads: every JSON request of the
/// shop (a checkout is the largest) is well under it. A larger one is refused
/// unread (413), before the handler runs, so nothing is written.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// 413 for a body over [`MAX_BODY_BYTES`]; [`serve`] checks every request.
pub fn check_body_size(request: &Request) -> Result<(), ApiError> {
    let size = match request.body() {
        Body::Text(text) => text.len(),
        Body::Binary(bytes) => bytes.len(),
        _ => 0,
    };
    if size > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            code: "payload_too_large",
            message: format!("the request body is {size} bytes; the API reads at most {MAX_BODY_BYTES}"),
        });
    }
    Ok(())
}

/// The header a request's id travels in, to the function and back.
pub const REQUEST_ID: &str = "x-request-id";

/// The id a request is known by in its log lines and its answer: the
/// client's `x-request-id` when it is a plausible id (1 to 128 letters,
/// digits, `-`, `_`, `.`, `:`), else API Gateway's request id, else a new one.
pub fn request_id(request: &Request) -> String {
    let plausible = |id: &&str| {
        (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    };
    let sent = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(plausible);
    let gateway = || match request.request_context_ref()? {
        lambda_http::request::RequestContext::ApiGatewayV2(context) => context.request_id.clone(),
        _ => None,
    };
    sent.map(str::to_owned)
        .or_else(gateway)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Runs an HTTP function: every request answered through [`answer`].
pub async fn serve<H, F>(handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(Request) -> F,
    F: Future<Output = Result<Response<Body>, ApiError>> + Send,
{
    astroshop_telemetry::init();
    let answering = service_fn(|request: Request| {
        let answered = answer(&handler, request);
        async move { Ok::<_, std::convert::Infallible>(answered.await) }
    });
    astroshop_telemetry::run(lambda_http::Adapter::from(answering), Trigger::Http).await
}

/// Answers one request: inside a span that carries its method, path,
/// request id and trace id to every log line, a body over the limit refused
/// before the handler runs, an error mapped to its status and JSON body (and
/// an internal one logged once with its causes), and the request id sent back.
pub fn answer<H, F>(handler: &H, request: Request) -> impl Future<Output = Response<Body>> + Send + use<H, F>
where
    H: Fn(Request) -> F,
    F: Future<Output = Result<Response<Body>, ApiError>> + Send,
{
    let id = request_id(&request);
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        request_id = id,
        trace_id = tracing::field::Empty,
    );
    if let Some(trace_id) = span.in_scope(astroshop_telemetry::current_trace_id) {
        span.record("trace_id", trace_id);
    }
    let response = check_body_size(&request).map(|()| handler(request));
    async move {
        let mut response = match response {
            Ok(response) => response.await,
            Err(too_large) => Err(too_large),
        }
        .unwrap_or_else(ApiError::into_response);
        if let Ok(value) = header::HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        response
    }
    .instrument(span)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status, headers and parsed JSON body a client receives.
    fn sent(error: ApiError) -> (StatusCode, header::HeaderMap, serde_json::Value) {
        let response = error.into_response();
        let Body::Text(text) = response.body() else {
            panic!("a JSON text body");
        };
        let body = serde_json::from_str(text).expect("the body is JSON");
        (response.status(), response.headers().clone(), body)
    }

    #[test]
    fn each_client_error_is_its_status_with_its_code_and_message() {
        let cases = [
            (
                ApiError::bad_request("bad", "the bad one"),
                StatusCode::BAD_REQUEST,
            ),
            (
                ApiError::Unauthorized {
                    code: "no_token",
                    message: "sign in".into(),
                },
                StatusCode::UNAUTHORIZED,
            ),
            (
                ApiError::Forbidden {
                    code: "not_yours",
                    message: "someone else's".into(),
                },
                StatusCode::FORBIDDEN,
            ),
            (
                ApiError::not_found("gone", "no such thing"),
                StatusCode::NOT_FOUND,
            ),
            (
                ApiError::Conflict {
                    code: "taken",
                    message: "already there".into(),
                },
                StatusCode::CONFLICT,
            ),
            (
                ApiError::Unprocessable {
                    code: "cannot",
                    message: "not like this".into(),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                ApiError::PayloadTooLarge {
                    code: "too_big",
                    message: "smaller, please".into(),
                },
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
        ];
        for (error, status) in cases {
            let code = error.code();
            let message = error.to_string();
            let (sent_status, headers, body) = sent(error);
            assert_eq!(sent_status, status, "{code}");
            assert_eq!(
                body,
                serde_json::json!({"error": {"code": code, "message": message}}),
                "{code}"
            );
            assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{code}");
            assert_eq!(
                headers.contains_key(header::WWW_AUTHENTICATE),
                status == StatusCode::UNAUTHORIZED,
                "{code}: only a 401 asks for credentials"
            );
            assert!(!headers.contains_key(header::RETRY_AFTER), "{code}");
        }
    }

    #[test]
    fn unauthorized_asks_for_a_bearer_token() {
        let (status, headers, _) = sent(ApiError::Unauthorized {
            code: "no_token",
            message: "sign in".into(),
        });
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    }

    #[test]
    fn too_many_requests_is_a_429_with_retry_after_and_the_json_error() {
        let (status, headers, body) = sent(ApiError::TooManyRequests {
            code: "too_many_checkouts",
            message: "wait".into(),
            retry_after: Duration::from_secs(17),
        });
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[header::RETRY_AFTER], "17");
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "too_many_checkouts", "message": "wait"}})
        );
    }

    #[test]
    fn an_injected_fault_is_a_503_naming_its_flag_with_retry_after() {
        let (status, headers, body) = sent(ApiError::injected(Flag::CartFailure));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[header::RETRY_AFTER], "1");
        assert_eq!(
            body,
            serde_json::json!({"error": {
                "code": "fault_injected",
                "message": "failing on purpose: the fault flag cartFailure is on"
            }})
        );
    }

    #[test]
    fn internal_is_a_500_that_never_shows_its_message() {
        let secret = "ResourceNotFoundException: table astroshop-orders on DynamoDB";
        let (status, headers, body) = sent(ApiError::internal(secret));
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "internal_error");
        let message = body["error"]["message"].as_str().expect("a message");
        assert!(!message.is_empty());
        let text = body.to_string();
        for word in [
            "ResourceNotFound",
            "astroshop-orders",
            "DynamoDB",
            "internal error:",
        ] {
            assert!(!text.contains(word), "{word:?} shown to the client: {text}");
        }
        assert!(!headers.contains_key(header::RETRY_AFTER));
    }
}
