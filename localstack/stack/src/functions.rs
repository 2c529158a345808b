//! The functions, run by `cargo lambda watch`: it serves Lambda's Invoke API
//! on a loopback port, starts each function on its first invocation and
//! rebuilds it when its code changes. What they print passes through this
//! process on its way to the terminal or the log file, so their metrics can
//! be read from it (`metrics`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::metrics::{self, Metrics};
use crate::process::Supervised;
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
    fn relayed(&self, metrics: &Arc<Metrics>) -> Result<(Stdio, Stdio)> {
        let (stdout_sink, stderr_sink): (Box<dyn Write + Send>, Box<dyn Write + Send>) = match self {
            Output::Terminal => (Box::new(std::io::stdout()), Box::new(std::io::stderr())),
            Output::File(path) => {
                let file = Self::open(path)?;
                (Box::new(file.try_clone()?), Box::new(file))
            }
        };
        Ok((
            relay_through("stdout", stdout_sink, metrics)?,
            relay_through("stderr", stderr_sink, metrics)?,
        ))
    }
}

/// A pipe whose every line a thread of its own passes on to `sink` and
/// shows to `metrics`; its end for a child process to write to. The thread
/// ends when every process holding that end has exited.
fn relay_through(stream: &str, mut sink: Box<dyn Write + Send>, metrics: &Arc<Metrics>) -> Result<Stdio> {
    let (reader, writer) = std::io::pipe()?;
    let metrics = metrics.clone();
    std::thread::Builder::new()
        .name(format!("functions' {stream}"))
        .spawn(move || metrics::relay(BufReader::new(reader), &mut sink, &metrics))
        .context("starting a thread to relay the functions' output")?;
    Ok(Stdio::from(writer))
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
    process: Supervised,
    invoke_port: u16,
}

impl Functions {
    /// Starts `cargo lambda watch` on `invoke_port` with `environment`, and
    /// waits until it accepts invocations. Their output goes to `output`,
    /// their metrics to `metrics`.
    pub async fn start(
        invoke_port: u16,
        environment: &BTreeMap<String, String>,
        concurrency: u16,
        env_file: &Path,
        output: &Output,
        metrics: &Arc<Metrics>,
    ) -> Result<Self> {
        let lines: String = environment.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(env_file, lines).with_context(|| format!("writing {}", env_file.display()))?;
        let (stdout, stderr) = output.relayed(metrics)?;
        let mut command = tools::cargo();
        command
            .args([
                "lambda",
                "watch",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(invoke_port.to_string())
            .arg("--concurrency")
            .arg(concurrency.to_string())
            .arg("--env-file")
            .arg(env_file)
            .current_dir(tools::repo_root())
            .env("PATH", tools::path_with_venv())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        // A function signs as itself (see `provision::function_environment`),
        // never with credentials inherited from this shell.
        for variable in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
        ] {
            command.env_remove(variable);
        }
        let mut process = Supervised::spawn("cargo lambda watch", command)?;
        let deadline = Instant::now() + Duration::from_secs(120);
        while tokio::net::TcpStream::connect(("127.0.0.1", invoke_port))
            .await
            .is_err()
        {
            if let Some(exit) = process.exited() {
                bail!("{exit}");
            }
            if Instant::now() > deadline {
                bail!("cargo lambda watch did not listen on port {invoke_port} within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self { process, invoke_port })
    }

    pub fn invoke_port(&self) -> u16 {
        self.invoke_port
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn exited(&mut self) -> Option<String> {
        self.process.exited()
    }

    pub async fn stop(mut self) {
        self.process.stop().await;
    }
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
            // A cold function is built and started on its first call.
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
