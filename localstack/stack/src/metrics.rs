//! The functions' metrics, made from their output as CloudWatch makes them
//! from their logs, and served as Prometheus text. Every line a function
//! prints passes through [`relay`] on its way to the terminal or the log
//! file, unchanged; each CloudWatch Embedded Metric Format line among them (a
//! JSON object whose `_aws` holds `CloudWatchMetrics`) is added up, and
//! [`Metrics::serve`] answers `GET /metrics` with the totals so far.
//!
//! A metric is named `<namespace>_<name>` in snake case, so the shop's start
//! with `astroshop_`. A `Count` is a counter (`_total`): CloudWatch's Sum. A
//! time (`Seconds`, `Milliseconds`, `Microseconds`) is a histogram in
//! seconds (`_seconds`): its `_sum` and `_count` are CloudWatch's Sum and
//! SampleCount, its buckets give the percentiles; any other unit is a
//! histogram of the values as they are. Each dimension set of a line is a
//! series of its own, as in CloudWatch, labelled with its dimensions (in
//! snake case) and, when the line names it (`FunctionName`), with the
//! function that printed it as `function_name`.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode, header};
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{CounterVec, HistogramOpts, HistogramVec, Opts, TextEncoder};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The property of an EMF line that names the function which printed it.
const FUNCTION_PROPERTY: &str = "FunctionName";

/// Histogram buckets for times, in seconds: Prometheus' defaults, and on to
/// five minutes, since a saga takes seconds and a stuck one minutes.
const SECONDS_BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Every metric the functions have emitted so far.
#[derive(Default)]
pub struct Metrics {
    /// One family per name and set of label names: a metric whose lines
    /// carry different dimension sets is several families, merged when
    /// rendered.
    families: Mutex<BTreeMap<(String, Vec<String>), Family>>,
}

enum Family {
    Counter(CounterVec),
    Histogram(HistogramVec),
}

/// What one EMF line says of one metric, for one of its dimension sets.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    help: String,
    kind: Kind,
    /// By label name.
    labels: BTreeMap<String, String>,
    values: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Histogram { seconds: bool },
}

/// An EMF line, as far as metrics go.
#[derive(Deserialize)]
struct EmfLine {
    #[serde(rename = "_aws")]
    metadata: EmfMetadata,
    /// The values and dimensions, by name, beside any other property.
    #[serde(flatten)]
    members: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EmfMetadata {
    cloud_watch_metrics: Vec<Directive>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Directive {
    namespace: String,
    dimensions: Vec<Vec<String>>,
    metrics: Vec<Definition>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Definition {
    name: String,
    /// CloudWatch takes a metric without one as `None`.
    #[serde(default)]
    unit: Option<String>,
}

impl Metrics {
    /// Adds up the metrics of `line`, if it is an EMF line; whether it was.
    pub fn record(&self, line: &str) -> bool {
        let Some(samples) = samples(line) else {
            return false;
        };
        let mut families = self
            .families
            .lock()
            .expect("no thread panics holding the metrics");
        for sample in samples {
            let label_names: Vec<String> = sample.labels.keys().cloned().collect();
            let family = match families.entry((sample.name.clone(), label_names)) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => match Family::new(&sample) {
                    Ok(family) => entry.insert(family),
                    Err(error) => {
                        tracing::warn!(metric = sample.name, %error, "a metric Prometheus cannot name; left out");
                        continue;
                    }
                },
            };
            let values: Vec<&str> = sample.labels.values().map(String::as_str).collect();
            match (family, sample.kind) {
                (Family::Counter(counter), Kind::Counter) => {
                    // A counter only goes up (Prometheus' rule, which CloudWatch does not have).
                    let total: f64 = sample.values.iter().filter(|v| **v >= 0.0).sum();
                    counter.with_label_values(&values).inc_by(total);
                }
                (Family::Histogram(histogram), Kind::Histogram { .. }) => {
                    let series = histogram.with_label_values(&values);
                    for value in &sample.values {
                        series.observe(*value);
                    }
                }
                _ => tracing::warn!(
                    metric = sample.name,
                    "two kinds of metric under one name; one left out"
                ),
            }
        }
        true
    }

    /// Everything so far, in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut merged: BTreeMap<String, MetricFamily> = BTreeMap::new();
        let families = self
            .families
            .lock()
            .expect("no thread panics holding the metrics");
        for family in families.values() {
            for mut collected in family.collect() {
                match merged.entry(collected.name().to_owned()) {
                    Entry::Vacant(entry) => {
                        entry.insert(collected);
                    }
                    Entry::Occupied(mut entry)
                        if entry.get().get_field_type() == collected.get_field_type() =>
                    {
                        entry.get_mut().mut_metric().extend(collected.take_metric());
                    }
                    Entry::Occupied(_) => {
                        tracing::warn!(
                            metric = collected.name(),
                            "two kinds of metric under one name; one left out"
                        );
                    }
                }
            }
        }
        drop(families);
        let mut merged: Vec<MetricFamily> = merged.into_values().collect();
        for family in &mut merged {
            family.mut_metric().sort_by_cached_key(|metric| {
                metric
                    .get_label()
                    .iter()
                    .map(|pair| (pair.name().to_owned(), pair.value().to_owned()))
                    .collect::<Vec<_>>()
            });
        }
        TextEncoder::new()
            .encode_to_string(&merged)
            .expect("every family has a name and a metric")
    }

    /// Serves `GET /metrics` until `shutdown` turns true.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: watch::Receiver<bool>) {
        crate::serve::serve(listener, shutdown, move |request, _| {
            let metrics = self.clone();
            async move { metrics.answer(&request) }
        })
        .await
    }

    fn answer<B>(&self, request: &Request<B>) -> Response<Full<Bytes>> {
        let (status, content_type, body) = match (request.method(), request.uri().path()) {
            (&Method::GET, "/metrics") => (StatusCode::OK, prometheus::TEXT_FORMAT, self.render()),
            _ => (
                StatusCode::NOT_FOUND,
                "text/plain",
                "the metrics are at GET /metrics\n".to_owned(),
            ),
        };
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .expect("a response of a status, a header and a body builds")
    }
}

impl Family {
    fn new(sample: &Sample) -> prometheus::Result<Self> {
        let label_names: Vec<&str> = sample.labels.keys().map(String::as_str).collect();
        Ok(match sample.kind {
            Kind::Counter => Family::Counter(CounterVec::new(
                Opts::new(&sample.name, &sample.help),
                &label_names,
            )?),
            Kind::Histogram { seconds } => {
                let mut options = HistogramOpts::new(&sample.name, &sample.help);
                if seconds {
                    options = options.buckets(SECONDS_BUCKETS.to_vec());
                }
                Family::Histogram(HistogramVec::new(options, &label_names)?)
            }
        })
    }

    fn collect(&self) -> Vec<MetricFamily> {
        match self {
            Family::Counter(counter) => counter.collect(),
            Family::Histogram(histogram) => histogram.collect(),
        }
    }
}

/// Copies every line from `from` to `to` as it comes, unchanged, and adds
/// up the metrics of the EMF lines among them; returns at the end of `from`.
/// A line that cannot be written is dropped, and the copying goes on, so a
/// function never blocks on a full pipe.
pub fn relay(mut from: impl BufRead, to: &mut impl Write, metrics: &Metrics) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match from.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if let Ok(text) = std::str::from_utf8(&line) {
            metrics.record(text.trim_end());
        }
        let _ = to.write_all(&line).and_then(|()| to.flush());
    }
}

/// The samples of an EMF line; `None` for any other line.
fn samples(line: &str) -> Option<Vec<Sample>> {
    // Most lines are logs, JSON too: this spares parsing them.
    if !line.contains("\"CloudWatchMetrics\"") {
        return None;
    }
    let line: EmfLine = serde_json::from_str(line).ok()?;
    let function = line
        .members
        .get(FUNCTION_PROPERTY)
        .and_then(|value| value.as_str());
    let mut samples = Vec::new();
    for directive in &line.metadata.cloud_watch_metrics {
        // A line may name no dimension set at all: one series without any.
        let no_dimensions = [Vec::new()];
        let sets = if directive.dimensions.is_empty() {
            &no_dimensions[..]
        } else {
            &directive.dimensions[..]
        };
        for definition in &directive.metrics {
            let Some(values) = line.members.get(&definition.name).and_then(numbers) else {
                continue;
            };
            let unit = definition.unit.as_deref().unwrap_or("None");
            // The value is divided by `per`, to give seconds for a time.
            let (kind, per, suffix) = match unit {
                "Count" => (Kind::Counter, 1.0, "_total"),
                "Seconds" => (Kind::Histogram { seconds: true }, 1.0, "_seconds"),
                "Milliseconds" => (Kind::Histogram { seconds: true }, 1e3, "_seconds"),
                "Microseconds" => (Kind::Histogram { seconds: true }, 1e6, "_seconds"),
                _ => (Kind::Histogram { seconds: false }, 1.0, ""),
            };
            let mut name = format!(
                "{}_{}",
                snake_case(&directive.namespace),
                snake_case(&definition.name)
            );
            if !name.ends_with(suffix) {
                name.push_str(suffix);
            }
            let help = format!(
                "{} {} ({unit}), from the functions' Embedded Metric Format lines.",
                directive.namespace, definition.name
            );
            for set in sets {
                // A dimension whose value is missing or not a string makes
                // the set invalid; CloudWatch would not take it either.
                let Some(mut labels) = set
                    .iter()
                    .map(|key| {
                        let value = line.members.get(key)?.as_str()?;
                        Some((snake_case(key), value.to_owned()))
                    })
                    .collect::<Option<BTreeMap<String, String>>>()
                else {
                    continue;
                };
                if let Some(function) = function {
                    labels
                        .entry(snake_case(FUNCTION_PROPERTY))
                        .or_insert_with(|| function.to_owned());
                }
                samples.push(Sample {
                    name: name.clone(),
                    help: help.clone(),
                    kind,
                    labels,
                    values: values.iter().map(|value| value / per).collect(),
                });
            }
        }
    }
    Some(samples)
}

/// A metric's value: a number, or an array of them (several values in one
/// line). Values CloudWatch refuses (not finite) are left out.
fn numbers(value: &serde_json::Value) -> Option<Vec<f64>> {
    let all = match value {
        serde_json::Value::Array(values) => values
            .iter()
            .map(serde_json::Value::as_f64)
            .collect::<Option<Vec<_>>>()?,
        other => vec![other.as_f64()?],
    };
    Some(all.into_iter().filter(|value| value.is_finite()).collect())
}

/// `OrderSettleSeconds` → `order_settle_seconds`, `HTTPErrors` →
/// `http_errors`: a valid Prometheus name (or label name) in snake case.
fn snake_case(name: &str) -> String {
    let characters: Vec<char> = name.chars().collect();
    let mut snake = String::with_capacity(name.len() + 4);
    for (index, &character) in characters.iter().enumerate() {
        if !character.is_ascii_alphanumeric() {
            if !snake.is_empty() && !snake.ends_with('_') {
                snake.push('_');
            }
            continue;
        }
        if character.is_ascii_uppercase() && index > 0 {
            let previous = characters[index - 1];
            let next_is_lower = characters.get(index + 1).is_some_and(char::is_ascii_lowercase);
            let starts_word = previous.is_ascii_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_ascii_uppercase() && next_is_lower);
            if starts_word && !snake.ends_with('_') {
                snake.push('_');
            }
        }
        snake.push(character.to_ascii_lowercase());
    }
    let snake = snake.trim_end_matches('_');
    match snake.chars().next() {
        None => "_".to_owned(),
        Some(first) if first.is_ascii_digit() => format!("_{snake}"),
        Some(_) => snake.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use astroshop_telemetry::metric_line;

    use super::*;

    fn recorded(lines: &[String]) -> Metrics {
        let metrics = Metrics::default();
        for line in lines {
            assert!(metrics.record(line), "not taken as EMF: {line}");
        }
        metrics
    }

    #[test]
    fn counts_are_summed_per_dimension_value_and_function() {
        let at = 1_795_082_400_000;
        let metrics = recorded(&[
            metric_line(
                Some("orders-state"),
                "OrdersSettled",
                "Count",
                1.0,
                Some(("Outcome", "CONFIRMED")),
                at,
            ),
            metric_line(
                Some("orders-state"),
                "OrdersSettled",
                "Count",
                1.0,
                Some(("Outcome", "CONFIRMED")),
                at,
            ),
            metric_line(
                Some("orders-state"),
                "OrdersSettled",
                "Count",
                1.0,
                Some(("Outcome", "FAILED")),
                at,
            ),
            metric_line(Some("checkout-place"), "OrdersPlaced", "Count", 1.0, None, at),
            metric_line(None, "OrdersPlaced", "Count", 2.0, None, at),
        ]);
        assert_eq!(
            metrics.render(),
            "# HELP astroshop_orders_placed_total astroshop OrdersPlaced (Count), from the functions' Embedded Metric Format lines.\n\
             # TYPE astroshop_orders_placed_total counter\n\
             astroshop_orders_placed_total 2\n\
             astroshop_orders_placed_total{function_name=\"checkout-place\"} 1\n\
             # HELP astroshop_orders_settled_total astroshop OrdersSettled (Count), from the functions' Embedded Metric Format lines.\n\
             # TYPE astroshop_orders_settled_total counter\n\
             astroshop_orders_settled_total{function_name=\"orders-state\",outcome=\"CONFIRMED\"} 2\n\
             astroshop_orders_settled_total{function_name=\"orders-state\",outcome=\"FAILED\"} 1\n"
        );
    }

    #[test]
    fn times_are_histograms_in_seconds() {
        let metrics = recorded(&[
            metric_line(
                Some("payment-charge"),
                "SagaStepSeconds",
                "Seconds",
                0.2,
                Some(("Step", "payment-charge")),
                0,
            ),
            metric_line(
                Some("payment-charge"),
                "SagaStepSeconds",
                "Seconds",
                3.0,
                Some(("Step", "payment-charge")),
                0,
            ),
            metric_line(None, "CheckoutLatency", "Milliseconds", 40.0, None, 0),
        ]);
        let text = metrics.render();
        let step = r#"function_name="payment-charge",step="payment-charge""#;
        for expected in [
            "# TYPE astroshop_saga_step_seconds histogram\n".to_owned(),
            format!("astroshop_saga_step_seconds_bucket{{{step},le=\"0.1\"}} 0\n"),
            format!("astroshop_saga_step_seconds_bucket{{{step},le=\"0.25\"}} 1\n"),
            format!("astroshop_saga_step_seconds_bucket{{{step},le=\"2.5\"}} 1\n"),
            format!("astroshop_saga_step_seconds_bucket{{{step},le=\"5\"}} 2\n"),
            format!("astroshop_saga_step_seconds_bucket{{{step},le=\"300\"}} 2\n"),
            format!("astroshop_saga_step_seconds_bucket{{{step},le=\"+Inf\"}} 2\n"),
            format!("astroshop_saga_step_seconds_sum{{{step}}} 3.2\n"),
            format!("astroshop_saga_step_seconds_count{{{step}}} 2\n"),
            "# TYPE astroshop_checkout_latency_seconds histogram\n".to_owned(),
            "astroshop_checkout_latency_seconds_sum 0.04\n".to_owned(),
            "astroshop_checkout_latency_seconds_count 1\n".to_owned(),
        ] {
            assert!(text.contains(&expected), "no {expected:?} in:\n{text}");
        }
    }

    #[test]
    fn a_cold_start_is_labelled_by_its_dimension_once() {
        let metrics = recorded(&[metric_line(
            Some("cart-get"),
            "ColdStarts",
            "Count",
            1.0,
            Some(("FunctionName", "cart-get")),
            0,
        )]);
        assert!(
            metrics
                .render()
                .ends_with("astroshop_cold_starts_total{function_name=\"cart-get\"} 1\n"),
            "{}",
            metrics.render()
        );
    }

    #[test]
    fn every_dimension_set_of_a_line_is_a_series_and_array_values_all_count() {
        let line = serde_json::json!({
            "_aws": {"Timestamp": 0, "CloudWatchMetrics": [{
                "Namespace": "astroshop",
                "Dimensions": [["Cache"], []],
                "Metrics": [{"Name": "CacheHits", "Unit": "Count"}]
            }]},
            "Cache": "rates",
            "CacheHits": [1, 2],
        });
        let metrics = recorded(&[line.to_string()]);
        assert!(
            metrics
                .render()
                .ends_with("astroshop_cache_hits_total 3\nastroshop_cache_hits_total{cache=\"rates\"} 3\n"),
            "{}",
            metrics.render()
        );
    }

    #[test]
    fn a_line_that_is_not_emf_passes_through_untouched_and_counts_nothing() {
        let emf = metric_line(Some("catalog-search"), "Searches", "Count", 1.0, None, 0);
        let output = format!(
            "{{\"level\":\"INFO\",\"fields\":{{\"message\":\"no CloudWatchMetrics here\"}}}}\n\
             a line of plain text\n\
             {emf}\n\
             \u{1b}[32mcolour\u{1b}[0m and a last line without a newline"
        );
        let metrics = Metrics::default();
        let mut copied = Vec::new();
        relay(output.as_bytes(), &mut copied, &metrics);
        assert_eq!(String::from_utf8(copied).unwrap(), output);
        assert_eq!(
            metrics.render().lines().last(),
            Some("astroshop_searches_total{function_name=\"catalog-search\"} 1")
        );
        assert!(!metrics.record(r#"{"_aws": "CloudWatchMetrics", "broken": "#));
    }

    #[test]
    fn names_become_prometheus_snake_case() {
        for (name, snake) in [
            ("OrderSettleSeconds", "order_settle_seconds"),
            ("HTTPErrors", "http_errors"),
            ("p90Latency", "p90_latency"),
            ("Function Name", "function_name"),
            ("3xx", "_3xx"),
            ("astroshop", "astroshop"),
        ] {
            assert_eq!(snake_case(name), snake, "{name}");
        }
    }
}
