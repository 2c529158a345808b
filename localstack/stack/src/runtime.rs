//! Runs the functions as Lambda runs them. Each instance is the function's
//! binary in a process of its own, given Lambda's environment
//! (`AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, ...) and a
//! Runtime API of its own (`AWS_LAMBDA_RUNTIME_API`) to ask for events at
//! and answer them on. An invocation goes to an idle instance of its
//! function, or starts one while fewer than the function's limit run, or
//! waits for the first to come free. An invocation not answered within the
//! function's `Timeout` fails as Lambda's does, and its instance is stopped;
//! an instance whose process dies fails the invocation it held. Instances
//! stay up until the stack stops, or until their binary is rebuilt
//! (`Runtime::refresh`).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

/// One function as the runtime runs it.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// The function's name, which is also its binary's.
    pub name: String,
    pub binary: PathBuf,
    pub timeout: Duration,
    pub memory_mb: u32,
    /// How many instances may run at once.
    pub max_instances: usize,
}

/// What an invocation came to.
#[derive(Debug)]
pub enum Outcome {
    /// The function's answer.
    Answered(Bytes),
    /// The function's error, as Lambda reports it (`{"errorType", "errorMessage"}`).
    Failed(Bytes),
}

impl Outcome {
    fn failed(kind: &str, message: &str) -> Self {
        Outcome::Failed(Bytes::from(
            json!({"errorType": kind, "errorMessage": message}).to_string(),
        ))
    }
}

/// Where the instances' output goes: their stdout and stderr, shared (a
/// pipe's writing end, a file).
pub struct Sinks {
    stdout: OwnedFd,
    stderr: OwnedFd,
}

impl Sinks {
    pub fn new(stdout: impl Into<OwnedFd>, stderr: impl Into<OwnedFd>) -> Self {
        Self {
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }
}

pub struct Runtime {
    pools: HashMap<String, Arc<Pool>>,
    environment: Vec<(String, String)>,
    sinks: Sinks,
    stopping: watch::Sender<bool>,
}

struct Pool {
    spec: FunctionSpec,
    arn: String,
    sender: mpsc::UnboundedSender<Invocation>,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    /// Invocations sent and not yet taken by an instance.
    queued: AtomicUsize,
    /// Instances waiting for an event.
    idle: AtomicUsize,
    /// Instances started and not yet exited.
    live: AtomicUsize,
    /// Bumped when the binary changes: instances of an older one stop.
    generation: watch::Sender<u64>,
    built: Mutex<Option<SystemTime>>,
    pids: Mutex<Vec<u32>>,
    /// How long each instance took from its start to its first request for
    /// an event (Lambda's init phase).
    inits: Mutex<Vec<Duration>>,
}

struct Invocation {
    id: String,
    event: Bytes,
    trace: Option<String>,
    answer: oneshot::Sender<Outcome>,
}

/// One instance: the invocation it holds, and how to stop it.
struct Instance {
    pool: Arc<Pool>,
    generation: u64,
    /// When its process started.
    spawned: std::time::Instant,
    /// Whether it has asked for an event yet (it started).
    asked: std::sync::atomic::AtomicBool,
    current: Mutex<Option<(String, oneshot::Sender<Outcome>)>>,
    /// Turns true when the instance must stop.
    stop: watch::Sender<bool>,
}

impl Runtime {
    /// A runtime for `functions`, each instance given `environment`, its
    /// output into `sinks`; ARNs name `region` and `account`.
    pub fn new(
        functions: Vec<FunctionSpec>,
        environment: Vec<(String, String)>,
        sinks: Sinks,
        region: &str,
        account: &str,
    ) -> Arc<Self> {
        let pools = functions
            .into_iter()
            .map(|spec| {
                let (sender, receiver) = mpsc::unbounded_channel();
                let built = modified(&spec.binary);
                let pool = Pool {
                    arn: format!("arn:aws:lambda:{region}:{account}:function:{}", spec.name),
                    spec,
                    sender,
                    queued: AtomicUsize::new(0),
                    queue: tokio::sync::Mutex::new(receiver),
                    idle: AtomicUsize::new(0),
                    live: AtomicUsize::new(0),
                    generation: watch::Sender::new(0),
                    built: Mutex::new(built),
                    pids: Mutex::new(Vec::new()),
                    inits: Mutex::new(Vec::new()),
                };
                (pool.spec.name.clone(), Arc::new(pool))
            })
            .collect();
        Arc::new(Self {
            pools,
            environment,
            sinks,
            stopping: watch::Sender::new(false),
        })
    }

    /// Whether `function` is one of the runtime's.
    pub fn has(&self, function: &str) -> bool {
        self.pools.contains_key(function)
    }

    /// Invokes `function` with `event` and waits for what came of it;
    /// `None` when there is no such function.
    pub async fn invoke(
        self: &Arc<Self>,
        function: &str,
        event: Bytes,
        trace: Option<String>,
    ) -> Option<Outcome> {
        let pool = self.pools.get(function)?.clone();
        let (answer, outcome) = oneshot::channel();
        let invocation = Invocation {
            id: uuid::Uuid::new_v4().to_string(),
            event,
            trace,
            answer,
        };
        pool.queued.fetch_add(1, Ordering::SeqCst);
        if pool.sender.send(invocation).is_err() {
            return Some(Outcome::failed(
                "Runtime.Unavailable",
                "the local runtime has stopped",
            ));
        }
        if pool.idle.load(Ordering::SeqCst) == 0 {
            self.scale_out(&pool).await;
        }
        // An invocation waits at most twice as long as it may run, and 30 s
        // more for an instance to start.
        let limit = pool.spec.timeout * 2 + Duration::from_secs(30);
        Some(match tokio::time::timeout(limit, outcome).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Outcome::failed(
                "Runtime.Unavailable",
                "the local runtime stopped before answering",
            ),
            Err(_) => Outcome::failed(
                "Runtime.Unavailable",
                &format!("no instance took the invocation in {} s", limit.as_secs()),
            ),
        })
    }

    /// Process ids of the instances running now.
    pub fn pids(&self) -> Vec<u32> {
        self.pools
            .values()
            .flat_map(|pool| pool.pids.lock().map(|p| p.clone()).unwrap_or_default())
            .collect()
    }

    /// How many instances of `function` wait for an event now.
    pub fn idle(&self, function: &str) -> usize {
        self.pools
            .get(function)
            .map_or(0, |pool| pool.idle.load(Ordering::SeqCst))
    }

    /// How long each instance of `function` started so far took to init.
    pub fn init_times(&self, function: &str) -> Vec<Duration> {
        self.pools
            .get(function)
            .and_then(|pool| pool.inits.lock().ok().map(|inits| inits.clone()))
            .unwrap_or_default()
    }

    /// Stops the instances of every function whose binary changed since they
    /// started; the next invocation starts one of the new binary.
    pub fn refresh(&self) -> Vec<String> {
        let mut changed = Vec::new();
        for pool in self.pools.values() {
            let now = modified(&pool.spec.binary);
            let Ok(mut built) = pool.built.lock() else {
                continue;
            };
            if *built != now {
                *built = now;
                pool.generation.send_modify(|g| *g += 1);
                changed.push(pool.spec.name.clone());
            }
        }
        changed
    }

    /// Stops every instance and waits until each has exited.
    pub async fn stop(&self) {
        self.stopping.send_replace(true);
        for _ in 0..100 {
            if self.pools.values().all(|p| p.live.load(Ordering::SeqCst) == 0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts one more instance of `pool`'s function, if it may run one more.
    async fn scale_out(self: &Arc<Self>, pool: &Arc<Pool>) {
        let reserved = pool
            .live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |live| {
                (live < pool.spec.max_instances).then_some(live + 1)
            })
            .is_ok();
        if reserved && let Err(error) = self.start_instance(pool.clone()).await {
            pool.live.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!(function = %pool.spec.name, "starting an instance: {error:#}");
        }
    }

    /// Starts an instance in place of one that has exited, on a task of its own.
    fn replace(self: &Arc<Self>, pool: Arc<Pool>) {
        let runtime = self.clone();
        tokio::spawn(async move { runtime.scale_out(&pool).await });
    }

    async fn start_instance(self: &Arc<Self>, pool: Arc<Pool>) -> Result<()> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding an instance's Runtime API")?;
        let api = listener.local_addr()?;
        let generation = *pool.generation.borrow();
        let spec = &pool.spec;
        let mut command = tokio::process::Command::new(&spec.binary);
        command
            .envs(self.environment.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.memory_mb.to_string())
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", spec.name))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("local/{}", api.port()))
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .stdin(Stdio::null())
            .stdout(Stdio::from(self.sinks.stdout.try_clone()?))
            .stderr(Stdio::from(self.sinks.stderr.try_clone()?))
            .kill_on_drop(true)
            .process_group(0);
        // A function signs as itself (see `provision::identity_environment`),
        // never with credentials inherited from this shell.
        for variable in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
        ] {
            if !self.environment.iter().any(|(k, _)| k == variable) {
                command.env_remove(variable);
            }
        }
        // SAFETY: prctl is async-signal-safe; it only sets a flag on the child.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let spawned = std::time::Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", spec.binary.display()))?;
        let pid = child.id().unwrap_or_default();
        if let Ok(mut pids) = pool.pids.lock() {
            pids.push(pid);
        }
        let (stop, stopped) = watch::channel(false);
        let instance = Arc::new(Instance {
            pool: pool.clone(),
            generation,
            spawned,
            asked: std::sync::atomic::AtomicBool::new(false),
            current: Mutex::new(None),
            stop,
        });
        let served = instance.clone();
        let (server_stop, server_stopped) = watch::channel(false);
        let server = tokio::spawn(crate::serve::serve(
            listener,
            server_stopped,
            move |request, _| {
                let instance = served.clone();
                async move { instance.answer(request).await }
            },
        ));
        let runtime = self.clone();
        tokio::spawn(async move {
            let mut stopped = stopped;
            let mut stopping = runtime.stopping.subscribe();
            let status = tokio::select! {
                status = child.wait() => Some(status),
                _ = stopped.wait_for(|s| *s) => None,
                _ = stopping.wait_for(|s| *s) => None,
            };
            let status = match status {
                Some(status) => status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
                None => {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                    "stopped".to_owned()
                }
            };
            let _ = server_stop.send(true);
            let _ = server.await;
            let pool = &instance.pool;
            if let Ok(mut pids) = pool.pids.lock() {
                pids.retain(|p| *p != pid);
            }
            pool.live.fetch_sub(1, Ordering::SeqCst);
            let held = instance.current.lock().ok().and_then(|mut c| c.take());
            if let Some((_, answer)) = held {
                let _ = answer.send(Outcome::failed(
                    "Runtime.ExitError",
                    &format!("the function's process exited ({status}) during the invocation"),
                ));
            }
            if *runtime.stopping.borrow() {
                return;
            }
            let started = instance.asked.load(Ordering::SeqCst);
            if status != "stopped" {
                tracing::warn!(function = %pool.spec.name, "an instance exited ({status})");
            }
            if !started && status != "stopped" {
                // A function that cannot start fails the invocation waiting for
                // it, as Lambda fails an invocation whose init failed.
                if let Ok(mut queue) = pool.queue.try_lock()
                    && let Ok(waiting) = queue.try_recv()
                {
                    pool.queued.fetch_sub(1, Ordering::SeqCst);
                    let _ = waiting.answer.send(Outcome::failed(
                        "Runtime.ExitError",
                        &format!(
                            "the function exited before taking the invocation ({status}); see its output"
                        ),
                    ));
                }
            } else if pool.queued.load(Ordering::SeqCst) > pool.idle.load(Ordering::SeqCst) {
                // Invocations are waiting: a new instance takes this one's place.
                runtime.replace(pool.clone());
            }
        });
        Ok(())
    }
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl Instance {
    /// The Runtime API, as one instance sees it.
    async fn answer(self: Arc<Self>, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_owned();
        let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
            return status(StatusCode::NOT_FOUND, "not a Runtime API path");
        };
        let segments: Vec<&str> = rest.split('/').collect();
        match (request.method(), segments.as_slice()) {
            (&Method::GET, ["invocation", "next"]) => self.next().await,
            (&Method::POST, ["invocation", id, "response"]) => {
                let id = (*id).to_owned();
                self.finish(&id, request, Outcome::Answered).await
            }
            (&Method::POST, ["invocation", id, "error"]) => {
                let id = (*id).to_owned();
                self.finish(&id, request, Outcome::Failed).await
            }
            (&Method::POST, ["init", "error"]) => {
                let body = request
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                tracing::warn!(
                    function = %self.pool.spec.name,
                    "the function failed to start: {}",
                    String::from_utf8_lossy(&body)
                );
                status(StatusCode::ACCEPTED, "")
            }
            _ => status(StatusCode::NOT_FOUND, "not a Runtime API call"),
        }
    }

    /// Waits for the next invocation and hands it over, with its deadline.
    async fn next(self: &Arc<Self>) -> Response<Full<Bytes>> {
        let pool = &self.pool;
        let mut generation = pool.generation.subscribe();
        let mut stop = self.stop.subscribe();
        if *generation.borrow() != self.generation {
            return self.retire().await;
        }
        if !self.asked.swap(true, Ordering::SeqCst)
            && let Ok(mut inits) = pool.inits.lock()
        {
            inits.push(self.spawned.elapsed());
        }
        pool.idle.fetch_add(1, Ordering::SeqCst);
        let invocation = tokio::select! {
            invocation = async { pool.queue.lock().await.recv().await } => invocation,
            _ = generation.wait_for(|g| *g != self.generation) => None,
            _ = stop.wait_for(|s| *s) => None,
        };
        pool.idle.fetch_sub(1, Ordering::SeqCst);
        let Some(invocation) = invocation else {
            return self.retire().await;
        };
        pool.queued.fetch_sub(1, Ordering::SeqCst);
        let timeout = pool.spec.timeout;
        let deadline = SystemTime::now() + timeout;
        let deadline_ms = deadline
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        if let Ok(mut current) = self.current.lock() {
            *current = Some((invocation.id.clone(), invocation.answer));
        }
        let watched = self.clone();
        let id = invocation.id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let held = watched.current.lock().ok().and_then(|mut current| {
                let same = current.as_ref().is_some_and(|(held, _)| *held == id);
                if same { current.take() } else { None }
            });
            if let Some((_, answer)) = held {
                tracing::warn!(function = %watched.pool.spec.name, "invocation {id} timed out; its instance is stopped");
                let _ = answer.send(Outcome::failed(
                    "Sandbox.Timedout",
                    &format!("Task timed out after {:.2} seconds", timeout.as_secs_f64()),
                ));
                watched.stop.send_replace(true);
            }
        });
        let mut response = Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &invocation.id)
            .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
            .header("lambda-runtime-invoked-function-arn", &pool.arn);
        if let Some(trace) = &invocation.trace {
            response = response.header("lambda-runtime-trace-id", trace);
        }
        response
            .body(Full::new(invocation.event))
            .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR, "an event's headers"))
    }

    /// Stops this instance while its request for an event is still open, so
    /// its runtime never sees the API refuse it (and says so).
    async fn retire(&self) -> Response<Full<Bytes>> {
        self.stop.send_replace(true);
        tokio::time::sleep(Duration::from_secs(10)).await;
        status(StatusCode::GONE, "this instance has stopped")
    }

    /// Passes the answer to invocation `id` on to its caller.
    async fn finish(
        &self,
        id: &str,
        request: Request<Incoming>,
        outcome: impl FnOnce(Bytes) -> Outcome,
    ) -> Response<Full<Bytes>> {
        let body = match request.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(error) => return status(StatusCode::BAD_REQUEST, &format!("reading the answer: {error}")),
        };
        let held = self.current.lock().ok().and_then(|mut current| {
            let same = current.as_ref().is_some_and(|(held, _)| held == id);
            if same { current.take() } else { None }
        });
        match held {
            Some((_, answer)) => {
                let _ = answer.send(outcome(body));
                status(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
            }
            None => status(
                StatusCode::BAD_REQUEST,
                "no such invocation is held by this instance",
            ),
        }
    }
}

fn status(code: StatusCode, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("a static response builds")
}
