//! Tracing set-up shared by every binary: one JSON object per log line on
//! stdout (CloudWatch Logs and `cargo lambda watch` both read stdout), with the
//! current span's fields, so a line carries the request id and order id it
//! belongs to. `RUST_LOG` overrides the default `info` level.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber. Calling it twice is harmless (the second call
/// keeps the first subscriber), which keeps tests that build handlers simple.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .try_init();
}
