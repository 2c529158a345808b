//! Telemetry every binary shares.
//!
//! - Logs: one JSON object per line on stdout (CloudWatch Logs and `cargo
//!   lambda watch` both read stdout), with the current span's fields, so a
//!   line carries the request, order and trace it belongs to. `RUST_LOG`
//!   overrides the default `info` level.
//! - Traces: `tracing` spans become OpenTelemetry spans, sent over OTLP/HTTP
//!   to `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
//!   when one is set: in the cloud the OpenTelemetry collector extension
//!   beside each function, locally the trace viewer `./shop up` starts. Ids
//!   have X-Ray's format (`opentelemetry-aws`), so AWS keeps the traces it
//!   continues. Every invocation is one span (`lambda_runtime`'s
//!   OpenTelemetry layer, see [`invocations`]), and its spans are sent
//!   before the next event is asked for, since Lambda may freeze the process
//!   in between. Where no endpoint is set (tests) spans still get their ids,
//!   so logs and events carry the trace.
//! - Metrics: CloudWatch Embedded Metric Format lines on stdout, which
//!   CloudWatch Logs turns into metrics with no agent (`metric`).
//! - Propagation: a W3C `traceparent` rides in the `traceparent` header of
//!   every call between functions (the storefront's calls to the API) and in
//!   every saga event; the span that handles a request or an event is a child
//!   of the span that sent it, so one checkout is one trace whose tree says
//!   who caused what. EventBridge also gets the X-Ray header of each event.

use std::collections::HashMap;
use std::sync::OnceLock;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_aws::trace::xray_propagator::span_context_to_string;
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

mod invocation;

pub use invocation::{Invocations, Trigger, invocations, run};

/// Where spans go, as the OpenTelemetry SDKs of every language read it.
const ENDPOINTS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// Kept for the life of the process: dropping the provider would stop export.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs the subscriber. Calling it twice is harmless (the second call
/// keeps the first subscriber), which keeps tests that build handlers simple.
pub fn init() {
    count_cold_start();
    let provider = PROVIDER.get_or_init(|| {
        let exporter = ENDPOINTS
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
            .and_then(|endpoint| otlp_exporter(&endpoint));
        provider(exporter, &service_name())
    });
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

/// Sends every span ended so far, and waits until they are sent (or the
/// exporter's timeout passes): what Lambda needs before it may freeze the
/// process.
pub fn flush() {
    if let Some(provider) = PROVIDER.get()
        && let Err(error) = provider.force_flush()
    {
        eprintln!("spans not sent: {error}");
    }
}

/// The function's name, which the trace viewer shows each span under.
fn service_name() -> String {
    function_name().unwrap_or("astroshop").to_owned()
}

/// The OTLP/HTTP exporter the environment configures; none (and a line on
/// stderr) if the configuration is unusable, since a function must run
/// whether or not its spans can leave.
fn otlp_exporter(endpoint: &str) -> Option<SpanExporter> {
    let exporter = SpanExporter::builder().with_http().with_timeout(EXPORT_TIMEOUT);
    match endpoint.starts_with("http://") {
        true => exporter.with_http_client(plain_http_client()?),
        false => exporter,
    }
    .build()
    .inspect_err(|error| eprintln!("spans will not be sent: {error}"))
    .ok()
}

/// How long sending one batch of spans may take.
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The exporter's client for a collector that speaks plain HTTP (the
/// collector extension beside the function, the local trace viewer): it
/// trusts no certificate, so none is loaded, where the exporter's default
/// client reads the system's whole certificate store on every cold start.
/// Built on a thread of its own, as the exporter builds its default: a
/// blocking client must not be made inside the function's async runtime.
fn plain_http_client() -> Option<reqwest::blocking::Client> {
    let built = std::thread::spawn(|| {
        reqwest::blocking::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .tls_certs_only([])
            .build()
    })
    .join();
    match built {
        Ok(Ok(client)) => Some(client),
        Ok(Err(error)) => {
            eprintln!("spans will not be sent: {error}");
            None
        }
        Err(_) => None,
    }
}

/// X-Ray ids (their first eight hex digits are the start time, as X-Ray
/// requires); spans batched on the SDK's own thread and sent on [`flush`].
fn provider(exporter: Option<SpanExporter>, service: &str) -> SdkTracerProvider {
    let resource = Resource::builder_empty()
        .with_attributes([KeyValue::new("service.name", service.to_owned())])
        .build();
    let builder = SdkTracerProvider::builder()
        .with_id_generator(XrayIdGenerator::default())
        .with_resource(resource);
    match exporter {
        Some(exporter) => builder.with_batch_exporter(exporter),
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

/// The context a W3C `traceparent` names, if it is well formed.
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
/// `name`, with at most one dimension. The function that emits it, when
/// known, rides along as the `FunctionName` property (not a dimension, so it
/// makes no extra metric): CloudWatch knows it from the log group, and the
/// local stack labels the metric with it.
pub fn metric_line(
    function: Option<&str>,
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
    if let Some(function) = function {
        line[FUNCTION_NAME] = serde_json::Value::from(function);
    }
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
    println!(
        "{}",
        metric_line(function_name(), name, unit, value, dimension, now)
    );
}

/// The property (and the `ColdStarts` dimension) naming the function.
pub const FUNCTION_NAME: &str = "FunctionName";

/// Emits the seconds from `started` to now as the metric `name`: a latency.
pub fn metric_seconds_since(name: &str, started: std::time::Instant, dimension: Option<(&str, &str)>) {
    metric(name, "Seconds", started.elapsed().as_secs_f64(), dimension);
}

/// This function's name, as Lambda (and the local stack's runtime) gives it in
/// `AWS_LAMBDA_FUNCTION_NAME`; `None` outside Lambda, in tests.
pub fn function_name() -> Option<&'static str> {
    static NAME: OnceLock<Option<String>> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_NAME")
            .ok()
            .filter(|name| !name.is_empty())
    })
    .as_deref()
}

/// Counts this process's start, once: in Lambda a new process is a cold
/// start. Nothing outside Lambda, where there is no function to name.
fn count_cold_start() {
    static COUNTED: std::sync::Once = std::sync::Once::new();
    if let Some(function) = function_name() {
        COUNTED.call_once(|| metric("ColdStarts", "Count", 1.0, Some((FUNCTION_NAME, function))));
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
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

    /// The first HTTP request sent to a listener: its request line, its
    /// headers (lower case) and its body; answered 200.
    fn receive_one_request(listener: TcpListener) -> (String, HashMap<String, String>, Vec<u8>) {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
        }
        let length: usize = headers["content-length"].parse().unwrap();
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
            )
            .unwrap();
        (request_line.trim_end().to_owned(), headers, body)
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|window| window == needle)
    }

    fn hex(digits: &str) -> Vec<u8> {
        (0..digits.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&digits[at..at + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn a_continued_trace_is_sent_over_otlp_as_a_child_in_that_trace_on_flush() {
        let collector = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}/v1/traces", collector.local_addr().unwrap());
        let received = std::thread::spawn(move || receive_one_request(collector));
        let exporter = SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint)
            .build()
            .unwrap();
        let provider = provider(Some(exporter), "payment-charge");
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let (carried, trace_id) = tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("charge");
            continue_trace(&span, TRACEPARENT);
            let _entered = span.enter();
            (current_traceparent(), current_trace_id())
        });
        let carried = carried.expect("a traceparent inside a continued span");
        assert!(
            carried.starts_with("00-5759e988bd862e3fe1be46a994272793-"),
            "{carried}"
        );
        assert!(
            !carried.contains("53995c3f42cd8ad8"),
            "the span is a child, with its own id"
        );
        assert_eq!(trace_id.as_deref(), Some("5759e988bd862e3fe1be46a994272793"));

        provider.force_flush().unwrap();
        let (request_line, headers, body) = received.join().unwrap();
        assert_eq!(request_line, "POST /v1/traces HTTP/1.1");
        assert_eq!(headers["content-type"], "application/x-protobuf");
        // The span, its trace, its parent and the function it ran in, as
        // the OTLP protobuf carries them (ids as raw bytes).
        assert!(contains(&body, b"charge"));
        assert!(contains(&body, b"payment-charge"), "service.name");
        assert!(contains(&body, &hex("5759e988bd862e3fe1be46a994272793")));
        assert!(contains(&body, &hex("53995c3f42cd8ad8")));
        let own_id = carried.split('-').nth(2).unwrap();
        assert!(contains(&body, &hex(own_id)));
    }

    #[test]
    fn a_metric_is_an_embedded_metric_format_line() {
        let line = metric_line(
            Some("orders-state"),
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
                "Outcome": "CONFIRMED",
                "FunctionName": "orders-state"
            })
        );
        let bare: serde_json::Value =
            serde_json::from_str(&metric_line(None, "OrdersSwept", "Count", 1.0, None, 0)).unwrap();
        assert_eq!(
            bare["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([[]])
        );
        assert_eq!(bare.get("FunctionName"), None, "no function outside Lambda");
    }

    #[test]
    fn without_a_trace_there_is_nothing_to_carry() {
        assert_eq!(current_traceparent(), None);
        assert_eq!(current_trace_id(), None);
    }
}
