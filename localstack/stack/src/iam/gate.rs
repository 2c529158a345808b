//! The functions' AWS endpoint: every call a function makes arrives here,
//! is authorized against the function's role (`Iam`) and, when allowed,
//! passed to the emulator that serves it, unchanged; a refused call is answered as the
//! service answers an IAM denial, and never reaches the emulator.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Iam;
use super::calls::{self, Place, Protocol};
use crate::emulator::{Upstreams, plain};

pub struct Gate {
    iam: Arc<Iam>,
    place: Place,
    emulators: Arc<Upstreams>,
}

impl Gate {
    pub fn new(iam: Arc<Iam>, place: Place, emulators: Arc<Upstreams>) -> Self {
        Self {
            iam,
            place,
            emulators,
        }
    }

    /// Serves until `shutdown` turns true.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: watch::Receiver<bool>) {
        crate::serve::serve(listener, shutdown, move |request, _| {
            let gate = self.clone();
            async move { gate.handle(request).await }
        })
        .await
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => return plain(StatusCode::BAD_REQUEST, &format!("reading the body: {error}")),
        };
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let read = calls::read(
            &self.place,
            parts.method.as_str(),
            parts.uri.path(),
            header("authorization"),
            header("x-amz-target"),
            &body,
        );
        let protocol = if header("x-amz-target").is_some() {
            Protocol::Json
        } else {
            Protocol::RestJson
        };
        let request = match read {
            Ok(request) => request,
            Err(error) => {
                let message = format!("the local IAM check cannot authorize this call: {error:#}");
                tracing::warn!("{message}");
                return denied(protocol, "AccessDeniedException", &message);
            }
        };
        if let Some(function) = &request.key_id {
            let any_of = request.service == "ses";
            if let Err(denial) = self.iam.authorize(function, &request.calls, any_of) {
                tracing::warn!(%function, "{}:{} denied: {denial}", request.service, request.operation);
                return denied(request.protocol, "AccessDeniedException", &denial.message);
            }
        }
        self.emulators.forward(parts, body).await
    }
}

/// An IAM denial as each protocol carries it: JSON services answer 400 with
/// `__type`, REST services 403 with `x-amzn-ErrorType`.
fn denied(protocol: Protocol, code: &str, message: &str) -> Response<Full<Bytes>> {
    let (status, body) = match protocol {
        Protocol::Json => (
            StatusCode::BAD_REQUEST,
            serde_json::json!({"__type": code, "message": message}),
        ),
        Protocol::RestJson => (StatusCode::FORBIDDEN, serde_json::json!({"message": message})),
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-errortype", code)
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a static response builds")
}
