//! One span per Lambda invocation, in the trace of what caused it.
//!
//! `lambda_runtime`'s OpenTelemetry layer makes the span (named after the
//! function, with the `faas.*` attributes: trigger, invocation id, cold
//! start) and calls [`crate::flush`] once the invocation is answered. Outside
//! it, [`CausedBy`] gives that span its parent: the caller's `traceparent`
//! header when an HTTP request brings one, else the X-Ray trace Lambda
//! started for the invocation when the function's tracing is active (an
//! emulator's made-up X-Ray header, with no X-Ray behind it, is not
//! followed: `cargo lambda` sends one with every invocation).
//!
//! A batch of SQS messages or stream records may hold many traces: its
//! invocation span starts a trace of its own (or joins Lambda's), and each
//! message's span is made a child of the span that sent that message
//! (`astroshop_saga`).

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::task::{Context as TaskContext, Poll};

use futures::Stream;
use lambda_runtime::layers::{OpenTelemetryFaasTrigger, OpenTelemetryLayer};
use lambda_runtime::tower::layer::util::Stack;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{Diagnostic, IntoFunctionResponse, LambdaEvent, LambdaInvocation};
use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_aws::trace::xray_propagator::span_context_from_str;
use serde::{Deserialize, Serialize};

/// What invokes a function, for the span's `faas.trigger` (`Http`,
/// `PubSub`, `Datasource`, `Timer`, `Other`).
pub type Trigger = OpenTelemetryFaasTrigger;

/// The layers every function's runtime gets: see [`invocations`].
pub type Invocations = Stack<OpenTelemetryLayer<fn()>, CausedBy>;

/// The layers for `lambda_runtime::Runtime::layer`: one span per invocation,
/// continuing what caused it, and the spans sent after each invocation.
pub fn invocations(trigger: Trigger) -> Invocations {
    let spans = OpenTelemetryLayer::new(crate::flush as fn()).with_trigger(trigger);
    Stack::new(spans, CausedBy)
}

/// Runs a Lambda function's handler as `lambda_runtime::run` does, with
/// [`invocations`] in place of its tracing layer.
pub async fn run<A, F, R, B, S, D, E>(handler: F, trigger: Trigger) -> Result<(), lambda_runtime::Error>
where
    F: Service<LambdaEvent<A>, Response = R>,
    F::Future: Future<Output = Result<R, F::Error>>,
    F::Error: Into<Diagnostic> + Debug,
    A: for<'de> Deserialize<'de>,
    R: IntoFunctionResponse<B, S>,
    B: Serialize,
    S: Stream<Item = Result<D, E>> + Unpin + Send + 'static,
    D: Into<bytes::Bytes> + Send,
    E: Into<lambda_runtime::Error> + Send + Debug,
{
    lambda_runtime::Runtime::new(handler)
        .layer(invocations(trigger))
        .run()
        .await
}

/// Gives the invocation's span its parent (see the module's documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct CausedBy;

impl<S> Layer<S> for CausedBy {
    type Service = WithCause<S>;

    fn layer(&self, inner: S) -> WithCause<S> {
        WithCause(inner)
    }
}

/// The service [`CausedBy`] wraps around the runtime's.
#[derive(Debug, Clone)]
pub struct WithCause<S>(S);

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for WithCause<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> S::Future {
        // The layer inside makes the invocation's span while `call` runs, as
        // a child of the context current then.
        let xray = invocation
            .context
            .xray_trace_id
            .as_deref()
            .filter(|_| xray_is_active());
        let _cause = cause(&invocation.body, xray).map(Context::attach);
        self.0.call(invocation)
    }
}

/// Whether X-Ray traces this function: Lambda then tells it where the
/// X-Ray daemon listens.
fn xray_is_active() -> bool {
    std::env::var_os("AWS_XRAY_DAEMON_ADDRESS").is_some()
}

/// The context an invocation continues: the `traceparent` header of an API
/// Gateway request (its header names are lower case), else Lambda's X-Ray
/// trace header.
fn cause(event: &[u8], xray_header: Option<&str>) -> Option<Context> {
    #[derive(Deserialize)]
    struct Request {
        #[serde(default)]
        headers: HashMap<String, String>,
    }
    let sent = serde_json::from_slice::<Request>(event)
        .ok()
        .and_then(|request| crate::remote_context(request.headers.get("traceparent")?));
    sent.or_else(|| {
        let span_context = span_context_from_str(xray_header?)?;
        Some(Context::new().with_remote_span_context(span_context))
    })
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceContextExt;

    use super::*;

    fn trace_and_parent(context: &Context) -> (String, String) {
        let span = context.span();
        let span_context = span.span_context();
        (
            span_context.trace_id().to_string(),
            span_context.span_id().to_string(),
        )
    }

    #[test]
    fn a_request_continues_the_traceparent_its_caller_sent() {
        let request = br#"{"version":"2.0","rawPath":"/api/checkout","headers":{"content-type":"application/json","traceparent":"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"}}"#;
        let xray = "Root=1-6759e988-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=1111111111111111;Sampled=1";
        let context = cause(request, Some(xray)).expect("a cause");
        assert_eq!(
            trace_and_parent(&context),
            (
                "5759e988bd862e3fe1be46a994272793".to_owned(),
                "53995c3f42cd8ad8".to_owned()
            )
        );
    }

    #[test]
    fn without_a_traceparent_the_invocation_joins_lambdas_x_ray_trace() {
        let batch = br#"{"Records":[{"messageId":"1","body":"{}"}]}"#;
        let xray = "Root=1-6759e988-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=1111111111111111;Sampled=1";
        let context = cause(batch, Some(xray)).expect("a cause");
        assert_eq!(
            trace_and_parent(&context),
            (
                "6759e988aaaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
                "1111111111111111".to_owned()
            )
        );
        let malformed = br#"{"headers":{"traceparent":"00-not-a-trace"}}"#;
        assert_eq!(
            cause(malformed, Some(xray)).map(|context| trace_and_parent(&context)),
            Some((
                "6759e988aaaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
                "1111111111111111".to_owned()
            ))
        );
    }

    #[test]
    fn with_neither_the_invocation_starts_a_trace() {
        assert!(cause(br#"{"Records":[]}"#, None).is_none());
        assert!(cause(b"not json", None).is_none());
    }
}
