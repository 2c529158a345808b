//! The functions, run as Lambda runs them (`runtime`): this process serves
//! Lambda's Invoke API on a loopback port for every trigger (and for `cargo
//! lambda invoke`), starts instances of a function as invocations need them
//! and, for a developer, rebuilds a function when its code changes. What they
//! print passes through this process on its way to the terminal or the log
//! file, so their metrics can be read from it (`metrics`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, PipeWriter, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::account::{LOCAL_ACCOUNT, LOCAL_REGION};
use crate::metrics::{self, Metrics};
use crate::runtime::{FunctionSpec, Outcome, Runtime, Sinks};
use crate::template::Function;
use crate::tools;

/// Where function output goes.
#[derive(Debug, Clone)]
pub enum Output {
    /// To this terminal, for a developer watching the shop.
    Terminal,
    /// To a file, for tests.
    File(std::path::PathBuf),
}

impl Output {
    fn stdio(&self) -> Result<(Stdio, Stdio)> {
        Ok(match self {
            Output::Terminal => (Stdio::inherit(), Stdio::inherit()),
            Output::File(path) => {
                let file = Self::open(path)?;
                (Stdio::from(file.try_clone()?), Stdio::from(file))
            }
        })
    }

    fn open(path: &Path) -> Result<File> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        File::options()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))
    }

    /// A stdout and a stderr that are pipes to this process: a thread for
    /// each passes every line on to where `self` says, unchanged (stdout to
    /// stdout, stderr to stderr), and shows it to `metrics`.
    fn relayed(&self, metrics: &Arc<Metrics>) -> Result<Sinks> {
        let (stdout_sink, stderr_sink): (Box<dyn Write + Send>, Box<dyn Write + Send>) = match self {
            Output::Terminal => (Box::new(std::io::stdout()), Box::new(std::io::stderr())),
            Output::File(path) => {
                let file = Self::open(path)?;
                (Box::new(file.try_clone()?), Box::new(file))
            }
        };
        Ok(Sinks::new(
            relay_through("stdout", stdout_sink, metrics)?,
            relay_through("stderr", stderr_sink, metrics)?,
        ))
    }
}

/// A pipe whose every line a thread of its own passes on to `sink` and
/// shows to `metrics`; its end for child processes to write to. The thread
/// ends when every holder of that end has closed it.
fn relay_through(
    stream: &str,
    mut sink: Box<dyn Write + Send>,
    metrics: &Arc<Metrics>,
) -> Result<PipeWriter> {
    let (reader, writer) = std::io::pipe()?;
    let metrics = metrics.clone();
    std::thread::Builder::new()
        .name(format!("functions' {stream}"))
        .spawn(move || metrics::relay(BufReader::new(reader), &mut sink, &metrics))
        .context("starting a thread to relay the functions' output")?;
    Ok(writer)
}

/// Builds every function binary up front, so the first request to each does
/// not wait for a compiler.
pub fn build_all(output: &Output) -> Result<()> {
    let (stdout, stderr) = output.stdio()?;
    let status = tools::cargo()
        .args(["build", "--workspace", "--bins"])
        .current_dir(tools::repo_root())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    Ok(())
}

pub struct Functions {
    runtime: Arc<Runtime>,
    invoke_port: u16,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Functions {
    /// Runs `functions` (at most `concurrency` instances of each, fewer when
    /// the template reserves fewer), each instance given `environment`,
    /// their output to `output` and their metrics to `metrics`; serves the
    /// Invoke API on `invoke_listeners`. With `rebuild`, a change to the
    /// code rebuilds the functions, and instances of a changed binary make
    /// way for new ones.
    pub fn start(
        functions: &[Function],
        environment: &BTreeMap<String, String>,
        concurrency: u16,
        invoke_listeners: Vec<TcpListener>,
        output: &Output,
        metrics: &Arc<Metrics>,
        rebuild: bool,
    ) -> Result<Self> {
        let invoke_port = invoke_listeners
            .first()
            .context("no port for the Invoke API")?
            .local_addr()?
            .port();
        let binaries = tools::repo_root().join("target/debug");
        let specs = functions
            .iter()
            .map(|function| FunctionSpec {
                name: function.binary.clone(),
                binary: binaries.join(&function.binary),
                timeout: function.timeout,
                memory_mb: function.memory_mb,
                max_instances: function
                    .reserved_concurrency
                    .map_or(usize::from(concurrency), |reserved| {
                        (reserved as usize).min(usize::from(concurrency))
                    })
                    .max(1),
            })
            .collect();
        let runtime = Runtime::new(
            specs,
            environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            output.relayed(metrics)?,
            LOCAL_REGION,
            LOCAL_ACCOUNT,
        );
        let (shutdown, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for listener in invoke_listeners {
            let runtime = runtime.clone();
            tasks.spawn(crate::serve::serve(
                listener,
                stopped.clone(),
                move |request, _| {
                    let runtime = runtime.clone();
                    async move { invoke_api(&runtime, request).await }
                },
            ));
        }
        if rebuild {
            tasks.spawn(rebuild_on_change(runtime.clone(), output.clone(), stopped));
        }
        Ok(Self {
            runtime,
            invoke_port,
            shutdown,
            tasks,
        })
    }

    pub fn invoke_port(&self) -> u16 {
        self.invoke_port
    }

    /// Process ids of the function instances running now.
    pub fn pids(&self) -> Vec<u32> {
        self.runtime.pids()
    }

    /// Stops every instance first, so none loses its Runtime API mid-call,
    /// then the Invoke API.
    pub async fn stop(mut self) {
        self.runtime.stop().await;
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Lambda's `Invoke` (`POST /2015-03-31/functions/{name}/invocations`): the
/// function's answer with 200; its error with 200 and `X-Amz-Function-Error`,
/// as Lambda answers a synchronous invocation.
async fn invoke_api(runtime: &Arc<Runtime>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let function = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .map(str::to_owned);
    let (Some(function), &Method::POST) = (function, request.method()) else {
        return lambda_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "not an Invoke call",
        );
    };
    if !runtime.has(&function) {
        return lambda_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {function}"),
        );
    }
    let trace = request
        .headers()
        .get("x-amzn-trace-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let event = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => {
            return lambda_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                &error.to_string(),
            );
        }
    };
    let outcome = runtime.invoke(&function, event, trace).await;
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json");
    let payload = match outcome {
        Some(Outcome::Answered(payload)) => payload,
        Some(Outcome::Failed(error)) => {
            response = response.header("x-amz-function-error", "Unhandled");
            error
        }
        None => Bytes::new(),
    };
    response
        .body(Full::new(payload))
        .unwrap_or_else(|_| lambda_error(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", "an answer"))
}

fn lambda_error(status: StatusCode, kind: &str, message: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-errortype", kind)
        .body(Full::new(Bytes::from(
            serde_json::json!({"Type": "User", "message": message}).to_string(),
        )))
        .expect("a static response builds")
}

/// Watches the functions' code (every `.rs` and `Cargo.toml` under
/// `functions/` and `shared/`, and `Cargo.lock`); when it changes, rebuilds
/// the functions and lets the instances of every changed binary go.
async fn rebuild_on_change(runtime: Arc<Runtime>, output: Output, mut stop: watch::Receiver<bool>) {
    let root = tools::repo_root();
    let mut seen = code_fingerprint(&root);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let now = code_fingerprint(&root);
        if now == seen {
            continue;
        }
        tracing::info!("the functions' code changed: rebuilding");
        let building = output.clone();
        match tokio::task::spawn_blocking(move || build_all(&building)).await {
            Ok(Ok(())) => {
                let changed = runtime.refresh();
                tracing::info!("rebuilt; new instances for {} functions", changed.len());
            }
            Ok(Err(error)) => tracing::warn!("rebuilding failed: {error:#}; the running functions stay"),
            Err(error) => tracing::warn!("rebuilding: {error}"),
        }
        seen = code_fingerprint(&root);
    }
}

/// The newest modification time and the number of the files that make the
/// functions.
fn code_fingerprint(root: &Path) -> (Option<std::time::SystemTime>, usize) {
    fn walk(dir: &Path, newest: &mut Option<std::time::SystemTime>, count: &mut usize) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" {
                    walk(&path, newest, count);
                }
            } else if path.extension().is_some_and(|e| e == "rs") || name == "Cargo.toml" {
                *count += 1;
                let modified = entry.metadata().and_then(|m| m.modified()).ok();
                *newest = (*newest).max(modified);
            }
        }
    }
    let mut newest = std::fs::metadata(root.join("Cargo.lock"))
        .and_then(|m| m.modified())
        .ok();
    let mut count = 0;
    for dir in ["functions", "shared"] {
        walk(&root.join(dir), &mut newest, &mut count);
    }
    (newest, count)
}

/// The URL of the Invoke API for `function` on `port`.
pub fn invoke_url(port: u16, function: &str) -> String {
    format!("http://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations")
}

/// Calls functions through the Invoke API, as every trigger does.
#[derive(Debug, Clone)]
pub struct Invoker {
    http: reqwest::Client,
    port: u16,
}

/// Why an invocation gave no answer: the function returned an error (or
/// panicked), or could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("{function}: {detail}")]
pub struct InvokeError {
    pub function: String,
    pub detail: String,
}

impl Invoker {
    pub fn new(port: u16) -> Self {
        Self {
            // The runtime answers every invocation within the function's
            // limits (`runtime::Runtime::invoke`); this only guards against
            // a runtime that has gone.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()
                .expect("a client with a timeout builds"),
            port,
        }
    }

    /// Invokes `function` with `event` and gives its answer.
    pub async fn invoke(
        &self,
        function: &str,
        event: &serde_json::Value,
    ) -> Result<bytes::Bytes, InvokeError> {
        let failed = |detail: String| InvokeError {
            function: function.to_owned(),
            detail,
        };
        let answer = self
            .http
            .post(invoke_url(self.port, function))
            .json(event)
            .send()
            .await
            .map_err(|e| failed(format!("invoking: {e}")))?;
        let status = answer.status();
        let payload = answer
            .bytes()
            .await
            .map_err(|e| failed(format!("reading the answer: {e}")))?;
        // The runtime reports a handler's error as `{"errorType", "errorMessage"}`.
        let is_function_error = serde_json::from_slice::<serde_json::Value>(&payload)
            .map(|v| v.get("errorType").is_some() && v.get("statusCode").is_none())
            .unwrap_or(false);
        if !status.is_success() || is_function_error {
            return Err(failed(format!(
                "failed ({status}): {}",
                String::from_utf8_lossy(&payload)
            )));
        }
        Ok(payload)
    }
}

/// A free loopback port, for a server that needs its port chosen up front.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
