//! Tracing every binary shares.
//!
//! - Logs: one JSON object per line on stdout (CloudWatch Logs and `cargo
//!   lambda watch` both read stdout), with the current span's fields, so a
//!   line carries the request, order and trace it belongs to. `RUST_LOG`
//!   overrides the default `info` level.
//! - Traces: `tracing` spans become OpenTelemetry spans with X-Ray trace ids
//!   (`opentelemetry-aws`), sent as X-Ray segments to the daemon Lambda runs
//!   beside each function when tracing is active (`AWS_XRAY_DAEMON_ADDRESS`).
//!   Where no daemon runs (the local stack, tests) spans still get their ids,
//!   so logs and events carry the trace.
//! - Metrics: CloudWatch Embedded Metric Format lines on stdout, which
//!   CloudWatch Logs turns into metrics with no agent (`metric`).
//! - Propagation: a checkout's trace starts in the checkout function (from
//!   the X-Ray header Lambda gives it), rides in every saga event as a W3C
//!   `traceparent`, and each consumer continues it, so one checkout is one
//!   trace across every function. EventBridge also gets the X-Ray header of
//!   each event it is given.

use std::collections::HashMap;
use std::sync::OnceLock;

use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_aws::trace::xray_propagator::{span_context_from_str, span_context_to_string};
use opentelemetry_aws::xray_exporter::XrayExporter;
use opentelemetry_aws::xray_exporter::daemon_client::XrayDaemonClient;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Set by Lambda when the function's tracing is active.
const DAEMON_ADDRESS: &str = "AWS_XRAY_DAEMON_ADDRESS";

/// Kept for the life of the process: dropping the provider would stop export.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs the subscriber. Calling it twice is harmless (the second call
/// keeps the first subscriber), which keeps tests that build handlers simple.
pub fn init() {
    let exporter = std::env::var_os(DAEMON_ADDRESS).map(|_| XrayExporter::new(XrayDaemonClient::default()));
    let provider = PROVIDER.get_or_init(|| provider(exporter));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("astroshop")))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_target(false)
                .without_time(),
        )
        .try_init();
}

/// X-Ray ids (their first eight hex digits are the start time, as X-Ray
/// requires); each span exported as it ends, since Lambda may freeze the
/// process right after an invocation.
fn provider(exporter: Option<impl SpanExporter + 'static>) -> SdkTracerProvider {
    let builder = SdkTracerProvider::builder().with_id_generator(XrayIdGenerator::default());
    match exporter {
        Some(exporter) => builder.with_simple_exporter(exporter),
        None => builder,
    }
    .build()
}

/// The W3C `traceparent` of the current span, to carry in an event.
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// The trace id (32 hex digits) of the current span, for log fields.
pub fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

fn remote_context(traceparent: &str) -> Option<Context> {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    context.span().span_context().is_valid().then_some(context)
}

/// Makes `span` part of the trace a W3C `traceparent` names (an event's).
/// A malformed `traceparent` leaves the span starting a trace of its own.
pub fn continue_trace(span: &tracing::Span, traceparent: &str) {
    if let Some(context) = remote_context(traceparent) {
        let _ = span.set_parent(context);
    }
}

/// Makes `span` part of the trace of an X-Ray trace header (the one Lambda
/// gives each invocation when tracing is active).
pub fn continue_xray(span: &tracing::Span, header: &str) {
    if let Some(span_context) = span_context_from_str(header) {
        let _ = span.set_parent(Context::new().with_remote_span_context(span_context));
    }
}

/// The X-Ray trace header for a W3C `traceparent` (what EventBridge's
/// `TraceHeader` takes).
pub fn xray_header(traceparent: &str) -> Option<String> {
    let context = remote_context(traceparent)?;
    span_context_to_string(context.span().span_context())
}

/// An error and every cause under it, `outer: inner: root`, as it is logged
/// once where the error ends (a failed step, a 500).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        // A wrapper that prints its cause already says it once.
        if !chain.ends_with(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        cause = inner.source();
    }
    chain
}

/// The namespace of the shop's own metrics.
pub const METRICS_NAMESPACE: &str = "astroshop";

/// One CloudWatch Embedded Metric Format line for `value` of the metric
/// `name`, with at most one dimension.
pub fn metric_line(
    name: &str,
    unit: &str,
    value: f64,
    dimension: Option<(&str, &str)>,
    at_millis: u128,
) -> String {
    let dimensions: Vec<&str> = dimension.iter().map(|(key, _)| *key).collect();
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": at_millis,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": [{"Name": name, "Unit": unit}],
            }],
        },
        name: value,
    });
    if let Some((key, dimension_value)) = dimension {
        line[key] = serde_json::Value::from(dimension_value);
    }
    line.to_string()
}

/// Emits a metric (see `metric_line`) on stdout, where Lambda's log stream
/// picks it up.
pub fn metric(name: &str, unit: &str, value: f64, dimension: Option<(&str, &str)>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    println!("{}", metric_line(name, unit, value, dimension, now));
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::time::Duration;

    use super::*;

    const TRACEPARENT: &str = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";

    #[test]
    fn an_error_chain_names_every_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("the root")]
        struct Root;
        #[derive(Debug, thiserror::Error)]
        #[error("reading the table")]
        struct Reading(#[source] Root);
        #[derive(Debug, thiserror::Error)]
        #[error("charging: {0}")]
        struct Charging(#[source] Reading);
        assert_eq!(error_chain(&Reading(Root)), "reading the table: the root");
        assert_eq!(
            error_chain(&Charging(Reading(Root))),
            "charging: reading the table: the root"
        );
    }

    #[test]
    fn a_traceparent_becomes_the_x_ray_header_of_the_same_trace() {
        assert_eq!(
            xray_header(TRACEPARENT).as_deref(),
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
        );
        assert_eq!(xray_header("00-not-a-trace"), None);
    }

    #[test]
    fn a_continued_trace_is_exported_as_x_ray_segments_of_that_trace() {
        // X-Ray takes only traces started within the last 30 days: the first
        // eight hex digits of the id are its start, in epoch seconds.
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let trace = format!("{started:08x}bd862e3fe1be46a994272793");
        let traceparent = format!("00-{trace}-53995c3f42cd8ad8-01");
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let client = XrayDaemonClient::new(daemon.local_addr().unwrap()).unwrap();
        let provider = provider(Some(XrayExporter::new(client)));
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let (carried, trace_id) = tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("payment-charge");
            continue_trace(&span, &traceparent);
            let _entered = span.enter();
            (current_traceparent(), current_trace_id())
        });
        let carried = carried.expect("a traceparent inside a continued span");
        assert!(carried.starts_with(&format!("00-{trace}-")), "{carried}");
        assert!(
            !carried.contains("53995c3f42cd8ad8"),
            "the span is a child, with its own id"
        );
        assert_eq!(trace_id.as_deref(), Some(trace.as_str()));

        let mut datagram = [0u8; 65_507];
        let length = daemon.recv(&mut datagram).expect("a segment reaches the daemon");
        let text = std::str::from_utf8(&datagram[..length]).unwrap();
        let (header, segment) = text.split_once('\n').expect("a header line, then the segment");
        assert_eq!(header, r#"{"format": "json", "version": 1}"#);
        let segment: serde_json::Value = serde_json::from_str(segment).unwrap();
        assert_eq!(segment["trace_id"], format!("1-{}-{}", &trace[..8], &trace[8..]));
        assert_eq!(segment["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(segment["name"], "payment-charge");
    }

    #[test]
    fn a_metric_is_an_embedded_metric_format_line() {
        let line = metric_line(
            "OrderSettleSeconds",
            "Seconds",
            2.5,
            Some(("Outcome", "CONFIRMED")),
            1_795_082_400_000,
        );
        let line: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            line,
            serde_json::json!({
                "_aws": {
                    "Timestamp": 1_795_082_400_000u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "astroshop",
                        "Dimensions": [["Outcome"]],
                        "Metrics": [{"Name": "OrderSettleSeconds", "Unit": "Seconds"}]
                    }]
                },
                "OrderSettleSeconds": 2.5,
                "Outcome": "CONFIRMED"
            })
        );
        let bare: serde_json::Value =
            serde_json::from_str(&metric_line("OrdersSwept", "Count", 1.0, None, 0)).unwrap();
        assert_eq!(
            bare["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([[]])
        );
    }

    #[test]
    fn without_a_trace_there_is_nothing_to_carry() {
        assert_eq!(current_traceparent(), None);
        assert_eq!(current_trace_id(), None);
    }
}
