//! The AWS emulators, behind one loopback endpoint. DynamoDB and DynamoDB
//! Streams are served by dynoxide (SQLite underneath: transactions, TTL,
//! GSIs, streams with old and new images); SQS, EventBridge, KMS, SES, SSM
//! and Cognito user pools (sign-up, tokens and each pool's JWKS) by moto's
//! server. A router in this process passes each request to the one that
//! serves it, by the `X-Amz-Target` header the SDKs send to DynamoDB.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::process::Supervised;
use crate::tools;

/// Where each service's requests go.
#[derive(Debug)]
pub struct Upstreams {
    /// dynoxide's endpoint: DynamoDB and DynamoDB Streams.
    dynamodb: String,
    /// moto's endpoint: every other service.
    moto: String,
    http: reqwest::Client,
}

impl Upstreams {
    /// Every service at one endpoint (the emulators' router, say).
    pub fn all_at(endpoint: &str) -> Self {
        let endpoint = endpoint.trim_end_matches('/');
        Self {
            dynamodb: endpoint.to_owned(),
            moto: endpoint.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// The endpoint that serves a request with this `X-Amz-Target`.
    fn for_target(&self, target: Option<&str>) -> &str {
        let dynamodb =
            target.is_some_and(|t| t.starts_with("DynamoDB_") || t.starts_with("DynamoDBStreams_"));
        if dynamodb { &self.dynamodb } else { &self.moto }
    }

    /// Passes a request to the emulator that serves it, unchanged, and gives
    /// its answer.
    pub async fn forward(&self, parts: http::request::Parts, body: Bytes) -> Response<Full<Bytes>> {
        let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok());
        let upstream = self.for_target(target);
        let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let mut outgoing = self
            .http
            .request(parts.method.clone(), format!("{upstream}{path}"))
            .body(body);
        for (name, value) in &parts.headers {
            if !matches!(name.as_str(), "host" | "content-length" | "connection") {
                outgoing = outgoing.header(name, value);
            }
        }
        let answer = match outgoing.send().await {
            Ok(answer) => answer,
            Err(error) => return plain(StatusCode::BAD_GATEWAY, &format!("the emulator: {error}")),
        };
        let status = answer.status();
        let headers = answer.headers().clone();
        let bytes = match answer.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => return plain(StatusCode::BAD_GATEWAY, &format!("the emulator: {error}")),
        };
        let mut response = Response::new(Full::new(bytes));
        *response.status_mut() = status;
        for (name, value) in &headers {
            if !matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            ) {
                response.headers_mut().append(name, value.clone());
            }
        }
        response
    }

    async fn route(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        match body.collect().await {
            Ok(collected) => self.forward(parts, collected.to_bytes()).await,
            Err(error) => plain(StatusCode::BAD_REQUEST, &format!("reading the body: {error}")),
        }
    }
}

/// A plain-text answer from the stack itself.
pub fn plain(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(message.to_owned())))
        .expect("a static response builds")
}

pub struct Emulator {
    moto: Supervised,
    dynamodb: Supervised,
    upstreams: Arc<Upstreams>,
    endpoint: String,
    router: JoinHandle<()>,
    shutdown: watch::Sender<bool>,
}

impl Emulator {
    /// Starts both emulators on free ports, their logs in `dir`, and routes
    /// requests to them from a port of this process. DynamoDB's data is kept
    /// in `dir/dynamodb.sqlite` (started empty), or in memory without `dir`'s
    /// file when `on_disk` is false: on disk, its memory stays that of
    /// SQLite's page cache however much the shop stores.
    pub async fn start(dir: &Path, on_disk: bool) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let moto_log = dir.join("moto.log");
        let mut moto = spawn_moto(&moto_log)?;
        let database = on_disk.then(|| dir.join("dynamodb.sqlite"));
        let (mut dynamodb, dynamodb_endpoint) =
            spawn_dynoxide(&dir.join("dynamodb.log"), database.as_deref())?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let moto_endpoint = loop {
            if let Some(endpoint) = moto_endpoint_in(&moto_log) {
                break endpoint;
            }
            if let Some(exit) = moto.exited() {
                bail!("{exit}; see {}", moto_log.display());
            }
            if Instant::now() > deadline {
                bail!("moto did not start in 30 s; see {}", moto_log.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let port = dynamodb_endpoint.rsplit(':').next().unwrap_or_default();
        while tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .is_err()
        {
            if let Some(exit) = dynamodb.exited() {
                bail!("{exit}; see {}", dir.join("dynamodb.log").display());
            }
            if Instant::now() > deadline {
                bail!("dynoxide did not listen on {dynamodb_endpoint} in 30 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let upstreams = Arc::new(Upstreams {
            dynamodb: dynamodb_endpoint,
            moto: moto_endpoint,
            http: reqwest::Client::new(),
        });
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the emulators' router")?;
        let endpoint = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let (shutdown, stopped) = watch::channel(false);
        let routed = upstreams.clone();
        let router = tokio::spawn(crate::serve::serve(listener, stopped, move |request, _| {
            let upstreams = routed.clone();
            async move { upstreams.route(request).await }
        }));
        Ok(Self {
            moto,
            dynamodb,
            upstreams,
            endpoint,
            router,
            shutdown,
        })
    }

    /// The one endpoint for every emulated service.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Where each service is served, for a proxy of its own (the IAM gate).
    pub fn upstreams(&self) -> Arc<Upstreams> {
        self.upstreams.clone()
    }

    /// moto's and dynoxide's process ids.
    pub fn pids(&self) -> [u32; 2] {
        [self.moto.pid(), self.dynamodb.pid()]
    }

    /// `Some(reason)` once either emulator has died.
    pub fn exited(&mut self) -> Option<String> {
        self.moto.exited().or_else(|| self.dynamodb.exited())
    }

    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        let _ = self.router.await;
        self.moto.stop().await;
        self.dynamodb.stop().await;
    }
}

fn spawn_moto(log: &Path) -> Result<Supervised> {
    let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = Command::new(tools::tool("python3"));
    command
        .arg(tools::repo_root().join("localstack/emulator.py"))
        .args(["-H", "127.0.0.1", "-p", "0"])
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    Supervised::spawn("the AWS emulator (moto server)", command)
}

/// Starts dynoxide on a free port (it does not say which port it got when
/// given 0) with its data in `database`, or in memory; it and its endpoint.
fn spawn_dynoxide(log: &Path, database: Option<&Path>) -> Result<(Supervised, String)> {
    let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let port = crate::functions::free_port()?;
    let mut command = Command::new(tools::tool("dynoxide"));
    command
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    if let Some(database) = database {
        for stale in ["", "-wal", "-shm"] {
            let mut file = database.as_os_str().to_owned();
            file.push(stale);
            let _ = std::fs::remove_file(PathBuf::from(file));
        }
        command.arg("--db-path").arg(database);
    }
    let process = Supervised::spawn("the DynamoDB emulator (dynoxide)", command)?;
    Ok((process, format!("http://127.0.0.1:{port}")))
}

/// moto prints ` * Running on http://127.0.0.1:PORT` once it listens.
fn moto_endpoint_in(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().find_map(|line| {
        let url = line.split("Running on ").nth(1)?.trim();
        url.starts_with("http://127.0.0.1:").then(|| url.to_owned())
    })
}

/// One pair of emulators for a whole test binary: `ASTROSHOP_EMULATOR_ENDPOINT`
/// when set (a test run that started them), else started on first use, with
/// DynamoDB's data in memory, and stopped by the kernel when the test process
/// exits. Tests keep apart by giving their resources a prefix of their own.
pub fn shared_endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        if let Ok(endpoint) = std::env::var("ASTROSHOP_EMULATOR_ENDPOINT") {
            return endpoint;
        }
        let dir = tools::repo_root()
            .join("target/local-stack")
            .join(format!("emulators-{}", std::process::id()));
        let (sender, receiver) = std::sync::mpsc::channel();
        // The kernel's parent-death signal follows the thread that spawned the
        // children, so the emulators are started from a thread that lives as
        // long as the test process, and its runtime serves the router.
        std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = sender.send(Err(anyhow::Error::from(error)));
                    return;
                }
            };
            runtime.block_on(async move {
                match Emulator::start(&dir, false).await {
                    Ok(emulator) => {
                        let _ = sender.send(Ok(emulator.endpoint.clone()));
                        let _keep = emulator;
                        std::future::pending::<()>().await;
                    }
                    Err(error) => {
                        let _ = sender.send(Err(error));
                    }
                }
            });
        });
        match receiver.recv() {
            Ok(Ok(endpoint)) => endpoint,
            Ok(Err(error)) => {
                panic!("cannot start the emulators: {error:#} (run ./shop test, which installs them)")
            }
            Err(_) => panic!("the emulators' thread died"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_and_its_streams_go_to_dynoxide_the_rest_to_moto() {
        let upstreams = Upstreams {
            dynamodb: "http://dynamodb".into(),
            moto: "http://moto".into(),
            http: reqwest::Client::new(),
        };
        for target in [
            "DynamoDB_20120810.TransactWriteItems",
            "DynamoDBStreams_20120810.GetRecords",
        ] {
            assert_eq!(upstreams.for_target(Some(target)), "http://dynamodb", "{target}");
        }
        for target in [
            Some("AmazonSQS.ReceiveMessage"),
            Some("AWSEvents.PutEvents"),
            Some("AWSCognitoIdentityProviderService.InitiateAuth"),
            None,
        ] {
            assert_eq!(upstreams.for_target(target), "http://moto", "{target:?}");
        }
    }
}
