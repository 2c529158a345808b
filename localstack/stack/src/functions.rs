//! The functions, run by `cargo lambda watch`: it serves Lambda's Invoke API
//! on a loopback port, starts each function on its first invocation and
//! rebuilds it when its code changes.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

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
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let file = File::options()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening {}", path.display()))?;
                (Stdio::from(file.try_clone()?), Stdio::from(file))
            }
        })
    }
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
    /// waits until it accepts invocations.
    pub async fn start(
        invoke_port: u16,
        environment: &BTreeMap<String, String>,
        concurrency: u16,
        env_file: &Path,
        output: &Output,
    ) -> Result<Self> {
        let lines: String = environment.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(env_file, lines).with_context(|| format!("writing {}", env_file.display()))?;
        let (stdout, stderr) = output.stdio()?;
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
