//! The HTTP API on a local port: each request is matched to a route of the
//! template, checked by the route's JWT authorizer if it names one (a
//! refusal is API Gateway's 401, and no function runs), turned into a
//! payload 2.0 event, invoked through the Invoke API and its answer sent
//! back, as API Gateway does.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::apigw::{self, HttpRequest, Invocation};
use crate::authorizer::{Authorizers, Claims, Refusal};
use crate::functions::Invoker;
use crate::routes::{RouteTable, Selection};

/// API Gateway's payload limit.
const MAX_BODY: usize = 10 * 1024 * 1024;

pub struct Gateway {
    routes: RouteTable,
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
        Self {
            routes,
            authorizers,
            invoker,
            account_id,
            log_requests,
        }
    }

    /// Serves until `shutdown` turns true.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        continue;
                    }
                },
                _ = shutdown.changed() => return,
            };
            let gateway = self.clone();
            let port = stream.local_addr().map(|a| a.port()).unwrap_or_default();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let gateway = gateway.clone();
                    async move { Ok::<_, Infallible>(gateway.handle(request, peer, port).await) }
                });
                if let Err(error) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(%error, "connection closed");
                }
            });
        }
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

/// API Gateway's own answer to a request its JWT authorizer refused.
fn unauthorized(refusal: &Refusal) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header("content-type", "application/json")
        .header("www-authenticate", refusal.challenge())
        .body(Full::new(Bytes::from_static(br#"{"message":"Unauthorized"}"#)))
        .expect("a refusal's challenge is a valid header value")
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
    use http_body_util::BodyExt;

    use super::*;

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
