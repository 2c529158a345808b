//! The functions' spans on their way to the trace viewer, carried as the
//! OpenTelemetry Collector's batch processor carries them: every function
//! sends each invocation's spans here (OTLP/HTTP, protobuf) and is answered
//! at once, and what came in is forwarded to the viewer as one request a
//! [`WINDOW`] later. Phoenix's cost is as much per request as per span
//! (3000 spans sent to it as 600 requests took 12.6 s of its CPU, as 30
//! requests 7.3 s), and a function's instance is not free for its next
//! invocation until its spans are answered.
//!
//! Two serialized `ExportTraceServiceRequest`s one after the other are one
//! such request holding the spans of both (its only field is repeated), so
//! the relay joins the bodies without decoding them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// How long spans wait for others to join them.
const WINDOW: Duration = Duration::from_millis(200);

/// The largest body one function may send at once.
const MAX_BODY: usize = 16 * 1024 * 1024;

const PROTOBUF: &str = "application/x-protobuf";

pub struct SpanRelay {
    endpoint: String,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    forwarder: JoinHandle<()>,
}

/// The spans come in since the last forward, joined.
#[derive(Default)]
struct Pending {
    joined: Mutex<Vec<u8>>,
    arrived: Notify,
}

impl SpanRelay {
    /// Listens on a loopback port and forwards to the OTLP/HTTP receiver
    /// at `viewer` (which `/v1/traces` is added to).
    pub async fn start(viewer: &str) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the span relay")?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let pending = Arc::new(Pending::default());
        let (stop, stopped) = watch::channel(false);
        let taken = pending.clone();
        let server = tokio::spawn(crate::serve::serve(
            listener,
            stopped.clone(),
            move |request, _| {
                let pending = taken.clone();
                async move { take(request, &pending).await }
            },
        ));
        let forwarder = tokio::spawn(forward(format!("{viewer}/v1/traces"), pending, stopped));
        Ok(Self {
            endpoint,
            stop,
            server,
            forwarder,
        })
    }

    /// What the functions' OTLP exporters are given
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT`; they add `/v1/traces`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Stops taking spans and forwards the last of them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        let _ = self.forwarder.await;
    }
}

/// Keeps one function's spans for the next forward.
async fn take(request: Request<Incoming>, pending: &Pending) -> Response<Full<Bytes>> {
    if request.method() != Method::POST || request.uri().path() != "/v1/traces" {
        return answer(StatusCode::NOT_FOUND, "the span relay takes only POST /v1/traces");
    }
    let header = |name| request.headers().get(name).and_then(|value| value.to_str().ok());
    if header("content-type") != Some(PROTOBUF) || header("content-encoding").is_some() {
        return answer(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the span relay takes uncompressed application/x-protobuf only",
        );
    }
    let Ok(body) = Limited::new(request.into_body(), MAX_BODY).collect().await else {
        return answer(StatusCode::PAYLOAD_TOO_LARGE, "the spans are over 16 MiB");
    };
    pending
        .joined
        .lock()
        .expect("no holder of the pending spans panics")
        .extend_from_slice(&body.to_bytes());
    pending.arrived.notify_one();
    // An empty ExportTraceServiceResponse: every span accepted.
    Response::builder()
        .header("content-type", PROTOBUF)
        .body(Full::new(Bytes::new()))
        .expect("static headers always build")
}

fn answer(status: StatusCode, message: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from_static(message.as_bytes())))
        .expect("static headers always build")
}

/// Forwards what came in a [`WINDOW`] after the first of it arrived, one
/// request at a time, until `stopped`; then what is left.
async fn forward(url: String, pending: Arc<Pending>, mut stopped: watch::Receiver<bool>) {
    let client = reqwest::Client::new();
    loop {
        let stopping = tokio::select! {
            () = pending.arrived.notified() => false,
            _ = stopped.wait_for(|stopped| *stopped) => true,
        };
        let stopping = stopping
            || tokio::select! {
                () = tokio::time::sleep(WINDOW) => false,
                _ = stopped.wait_for(|stopped| *stopped) => true,
            };
        let joined = std::mem::take(
            &mut *pending
                .joined
                .lock()
                .expect("no holder of the pending spans panics"),
        );
        if !joined.is_empty() {
            send(&client, &url, joined).await;
        }
        if stopping {
            return;
        }
    }
}

async fn send(client: &reqwest::Client, url: &str, joined: Vec<u8>) {
    let bytes = joined.len();
    let sent = client
        .post(url)
        .header("content-type", PROTOBUF)
        .body(joined)
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => tracing::warn!(bytes, status = %response.status(), "the trace viewer refused spans"),
        Err(error) => tracing::warn!(bytes, %error, "the spans did not reach the trace viewer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in viewer that keeps every body it is sent.
    async fn viewer() -> (String, Arc<Mutex<Vec<Vec<u8>>>>, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(crate::serve::serve(listener, stopped, move |request, _| {
            let kept = kept.clone();
            async move {
                assert_eq!(request.uri().path(), "/v1/traces");
                assert_eq!(request.headers()["content-type"], PROTOBUF);
                let body = request.into_body().collect().await.unwrap().to_bytes();
                kept.lock().unwrap().push(body.to_vec());
                Response::new(Full::new(Bytes::new()))
            }
        }));
        (url, received, stop)
    }

    async fn post(relay: &SpanRelay, content_type: &str, body: &'static [u8]) -> reqwest::StatusCode {
        reqwest::Client::new()
            .post(format!("{}/v1/traces", relay.endpoint()))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn spans_sent_within_the_window_reach_the_viewer_as_one_request_in_the_order_sent() {
        let (url, received, _viewer) = viewer().await;
        let relay = SpanRelay::start(&url).await.unwrap();
        for body in [&b"\x0a\x01a"[..], b"\x0a\x01b", b"\x0a\x01c"] {
            assert_eq!(post(&relay, PROTOBUF, body).await, 200);
        }
        tokio::time::sleep(WINDOW * 3).await;
        assert_eq!(
            *received.lock().unwrap(),
            [b"\x0a\x01a\x0a\x01b\x0a\x01c".to_vec()]
        );

        assert_eq!(post(&relay, PROTOBUF, b"\x0a\x01d").await, 200);
        tokio::time::sleep(WINDOW * 3).await;
        assert_eq!(
            received.lock().unwrap().len(),
            2,
            "a later window's spans go on their own"
        );
        relay.stop().await;
    }

    #[tokio::test]
    async fn stopping_forwards_what_has_not_gone_yet() {
        let (url, received, _viewer) = viewer().await;
        let relay = SpanRelay::start(&url).await.unwrap();
        assert_eq!(post(&relay, PROTOBUF, b"\x0a\x01a").await, 200);
        relay.stop().await;
        assert_eq!(*received.lock().unwrap(), [b"\x0a\x01a".to_vec()]);
    }

    #[tokio::test]
    async fn what_cannot_be_joined_is_refused_and_nothing_is_forwarded() {
        let (url, received, _viewer) = viewer().await;
        let relay = SpanRelay::start(&url).await.unwrap();
        assert_eq!(post(&relay, "application/json", b"{}").await, 415);
        let compressed = reqwest::Client::new()
            .post(format!("{}/v1/traces", relay.endpoint()))
            .header("content-type", PROTOBUF)
            .header("content-encoding", "gzip")
            .body(&b"\x1f\x8b"[..])
            .send()
            .await
            .unwrap();
        assert_eq!(compressed.status(), 415);
        relay.stop().await;
        assert!(received.lock().unwrap().is_empty());
    }
}
