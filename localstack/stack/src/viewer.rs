//! The trace viewer: Arize Phoenix, from PyPI (`./shop` installs it into
//! `.venv/trace-viewer`). It takes the functions' spans over OTLP/HTTP at
//! `/v1/traces`, keeps them in SQLite under the stack's work folder, and
//! shows each trace as a tree; its REST API reads them back
//! (`/v1/projects/default/spans`).
//!
//! A stack starts without one when it is not installed: the functions then
//! send no spans, and everything else works the same.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::functions::free_port;
use crate::process::Supervised;
use crate::tools;

/// Phoenix's id of its `default` project (a GraphQL global id,
/// base64 of `Project:1`), which its pages are addressed by.
const DEFAULT_PROJECT: &str = "UHJvamVjdDox";

/// How long Phoenix may take to answer, migrations included, on a machine
/// busy compiling.
const START_LIMIT: Duration = Duration::from_secs(120);

/// Phoenix, started and not yet answering.
pub struct Starting {
    process: Supervised,
    url: String,
    log: PathBuf,
}

pub struct TraceViewer {
    process: Supervised,
    url: String,
}

/// Where `./shop` installs Phoenix.
fn phoenix() -> PathBuf {
    tools::repo_root().join(".venv/trace-viewer/bin/phoenix")
}

/// Whether the trace viewer is installed.
pub fn installed() -> bool {
    phoenix().exists()
}

impl Starting {
    /// Starts Phoenix on free loopback ports, its data and log in `work_dir`;
    /// none if it is not installed.
    pub fn spawn(work_dir: &Path) -> Result<Option<Self>> {
        if !installed() {
            return Ok(None);
        }
        let data = work_dir.join("trace-viewer");
        std::fs::create_dir_all(&data)?;
        let log = work_dir.join("trace-viewer.log");
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let port = free_port()?;
        let mut command = Command::new(phoenix());
        command
            .arg("serve")
            .env("PHOENIX_HOST", "127.0.0.1")
            .env("PHOENIX_PORT", port.to_string())
            // Its OTLP/gRPC receiver too, so two stacks never share a port.
            .env("PHOENIX_GRPC_PORT", free_port()?.to_string())
            .env("PHOENIX_WORKING_DIR", &data)
            .env("PHOENIX_TELEMETRY_ENABLED", "false")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let process = Supervised::spawn("the trace viewer (Phoenix)", command)?;
        Ok(Some(Self {
            process,
            url: format!("http://127.0.0.1:{port}"),
            log,
        }))
    }

    /// Waits until Phoenix answers its health check.
    pub async fn ready(mut self) -> Result<TraceViewer> {
        let client = reqwest::Client::new();
        let health = format!("{}/healthz", self.url);
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let answered = client.get(&health).timeout(Duration::from_secs(2)).send().await;
            if answered.is_ok_and(|response| response.status().is_success()) {
                return Ok(TraceViewer {
                    process: self.process,
                    url: self.url,
                });
            }
            if let Some(exit) = self.process.exited() {
                bail!("{exit}; see {}", self.log.display());
            }
            if Instant::now() > deadline {
                bail!(
                    "the trace viewer did not answer in {} s; see {}",
                    START_LIMIT.as_secs(),
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl TraceViewer {
    /// Its pages and REST API.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What the functions' OTLP exporters are given
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT`; they add `/v1/traces`).
    pub fn otlp_endpoint(&self) -> &str {
        &self.url
    }

    /// The page of one trace, `{trace_id}` left to fill in.
    pub fn trace_page(&self) -> String {
        format!("{}/projects/{DEFAULT_PROJECT}/traces/{{trace_id}}", self.url)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub async fn stop(mut self) {
        self.process.stop().await;
    }
}
