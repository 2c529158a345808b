//! The whole local stack: the emulators provisioned from the template and
//! seeded, the functions under the stack's Lambda runtime, the HTTP API with its
//! JWT authorizers, the functions' metrics as Prometheus text, and the
//! AppConfig agent serving their fault flags. Every function is given the
//! API's local address as `SHOP_URL` (what links in mail and pages point
//! at), so the gateway's port is bound before the functions start.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::account::{LOCAL_ACCOUNT, LOCAL_REGION};
use crate::authorizer::Authorizers;
use crate::emulator::Emulator;
use crate::flags::{self, Agent};
use crate::functions::{self, Functions, Invoker, Output};
use crate::gateway::Gateway;
use crate::iam::Iam;
use crate::iam::calls::Place;
use crate::iam::gate::Gate;
use crate::metrics::Metrics;
use crate::provision;
use crate::resolve::{Names, Resolver};
use crate::routes::RouteTable;
use crate::sources::Timing;
use crate::template::Template;
use crate::tools;
use crate::viewer::{self, TraceViewer};

/// The file in a stack's work directory that holds its emulator's endpoint
/// while it runs.
pub const ENDPOINT_FILE: &str = "emulator-endpoint";

#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Prefix of every resource name.
    pub prefix: String,
    /// The HTTP API's port; 0 picks a free one.
    pub port: u16,
    /// The port of the metrics' `GET /metrics`; 0 picks a free one.
    pub metrics_port: u16,
    /// Where logs and generated files go.
    pub work_dir: PathBuf,
    /// Where function output goes.
    pub function_output: Output,
    /// Instances the stack may run of one function at once.
    pub concurrency: u16,
    /// Serve the Invoke API where `cargo lambda invoke` looks by default
    /// (port 9000 on the loopback addresses) when that port is free; else,
    /// and without this, on a free port.
    pub default_invoke_port: bool,
    /// Rebuild the functions when their code changes.
    pub rebuild_on_change: bool,
    /// Print each step as it happens.
    pub show_progress: bool,
    /// Print a line for every HTTP request served.
    pub log_requests: bool,
    /// Retry and schedule timing.
    pub timing: Timing,
    /// Check every AWS call a function makes against its role (on unless
    /// `ASTROSHOP_IAM=off`, which exists to measure what the check costs).
    pub check_iam: bool,
}

impl StackOptions {
    pub fn new(prefix: &str) -> Self {
        let work_dir = tools::repo_root().join("target/local-stack").join(prefix);
        Self {
            prefix: prefix.to_owned(),
            port: 0,
            metrics_port: 0,
            function_output: Output::File(work_dir.join("functions.log")),
            work_dir,
            concurrency: 10,
            default_invoke_port: false,
            rebuild_on_change: false,
            show_progress: false,
            log_requests: false,
            // A failed message is retried after a second, not the queue's
            // visibility timeout, so failures reach their dead-letter queue in
            // seconds; schedules keep the template's rate.
            check_iam: std::env::var("ASTROSHOP_IAM").map_or(true, |v| v != "off"),
            timing: Timing {
                retry_after: Some(Duration::from_secs(1)),
                schedule_every: None,
            },
        }
    }
}

pub struct Stack {
    base_url: String,
    emulator: Emulator,
    functions: Functions,
    /// Where the functions' spans go and can be seen (when it is installed).
    viewer: Option<TraceViewer>,
    /// Where the functions' metrics are served, and the server.
    metrics_url: String,
    metrics_server: JoinHandle<()>,
    /// Where the functions' AppConfig agent serves the flags, and the server.
    flags_url: Option<String>,
    flags_server: Option<JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
    gateway: JoinHandle<()>,
    /// Where the functions' AWS calls are checked against their roles.
    gate: JoinHandle<()>,
    iam: Arc<Iam>,
    sources: JoinSet<()>,
    work_dir: PathBuf,
    config: aws_config::SdkConfig,
    /// What `!Ref` gives for each resource of the template, as provisioned.
    references: std::collections::BTreeMap<String, String>,
    invoker: Invoker,
    switches: crate::control::Switches,
    /// What the functions are given (table names, the bus, the emulator).
    environment: std::collections::BTreeMap<String, String>,
    prefix: String,
}

/// Where the Invoke API listens: port 9000 on both loopback addresses, where
/// `cargo lambda invoke` looks by default, when `default_port` asks for it
/// and it is free; else a free port on 127.0.0.1.
async fn invoke_listeners(default_port: bool) -> Result<Vec<TcpListener>> {
    if default_port {
        let v4 = TcpListener::bind(("127.0.0.1", 9000)).await;
        let v6 = TcpListener::bind(("::1", 9000)).await;
        match (v4, v6) {
            (Ok(v4), Ok(v6)) => return Ok(vec![v4, v6]),
            (Ok(v4), Err(_)) => return Ok(vec![v4]),
            _ => tracing::info!("port 9000 is taken: the Invoke API listens on a free port"),
        }
    }
    Ok(vec![
        TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the Invoke API")?,
    ])
}

struct Steps {
    show: bool,
    total: usize,
    done: usize,
    started: Instant,
}

impl Steps {
    fn begin(&mut self, what: &str) {
        self.done += 1;
        self.started = Instant::now();
        if self.show {
            eprintln!("[{}/{}] {what}...", self.done, self.total);
        }
    }

    fn end(&self, result: &str) {
        if self.show {
            eprintln!("      {result} ({:.1} s)", self.started.elapsed().as_secs_f64());
        }
    }
}

impl Stack {
    pub async fn start(options: StackOptions) -> Result<Self> {
        std::fs::create_dir_all(&options.work_dir)?;
        let mut steps = Steps {
            show: options.show_progress,
            total: 7,
            done: 0,
            started: Instant::now(),
        };

        steps.begin("reading infra/template.yaml");
        let template = Template::shop()?;
        let routes = RouteTable::from_template(&template);
        steps.end(&format!(
            "{} functions, {} routes",
            template.functions().len(),
            routes.routes().len()
        ));

        steps.begin("starting the AWS emulators (dynoxide for DynamoDB, moto server for the rest)");
        let emulator = Emulator::start(&options.work_dir.join("emulators"), true).await?;
        // Where `local-stack redrive` and other tools find the running stack.
        std::fs::write(options.work_dir.join(ENDPOINT_FILE), emulator.endpoint())?;
        steps.end(&format!("listening on {}", emulator.endpoint()));
        // Phoenix takes its time to start: it does while the rest is set up.
        let viewer = viewer::Starting::spawn(&options.work_dir)?;

        steps.begin("creating the template's resources and seeding data");
        let names = Names::local(&options.prefix);
        let config = provision::emulator_config(emulator.endpoint(), LOCAL_REGION);
        let mut resolver = Resolver::new(&template, names);
        let provisioned = provision::resources(&mut resolver, &config).await?;
        let iam = Arc::new(Iam::from_template(&resolver)?);
        iam.check_event_sources(&resolver)?;
        let (shutdown, stopped) = watch::channel(false);
        let gate_listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the IAM gate")?;
        let gate_url = format!("http://127.0.0.1:{}", gate_listener.local_addr()?.port());
        let place = Place {
            region: LOCAL_REGION.to_owned(),
            account: LOCAL_ACCOUNT.to_owned(),
        };
        let gate = Arc::new(Gate::new(iam.clone(), place, emulator.upstreams()));
        let gate = tokio::spawn(gate.serve(gate_listener, stopped.clone()));
        // Functions reach AWS through the gate, the seeder among them.
        let aws_endpoint = if options.check_iam {
            gate_url.clone()
        } else {
            emulator.endpoint().to_owned()
        };
        provision::run_setup_resources(&mut resolver, |binary| {
            provision::config_as(&aws_endpoint, LOCAL_REGION, binary)
        })
        .await?;
        let references = template
            .resources()
            .filter_map(|(id, _)| {
                let reference = resolver.resolve_string(&serde_json::json!({ "Ref": id })).ok()?;
                Some((id.to_owned(), reference))
            })
            .collect();
        let authorizers = Authorizers::from_template(&resolver, emulator.endpoint())?;
        steps.end(&provisioned.to_string());

        steps.begin("building the functions (cargo build)");
        let output = options.function_output.clone();
        tokio::task::spawn_blocking(move || functions::build_all(&output)).await??;
        steps.end("built");

        steps.begin("starting the functions' runtime");
        let listener = TcpListener::bind(("127.0.0.1", options.port))
            .await
            .with_context(|| format!("binding port {}", options.port))?;
        let base_url = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let mut environment = provision::shared_environment(&resolver)?;
        environment.extend(provision::identity_environment(
            &aws_endpoint,
            LOCAL_REGION,
            &options.work_dir.join("aws"),
        )?);
        environment.insert("SHOP_URL".to_owned(), base_url.clone());
        // A function given the API's address in the cloud (the card
        // processor's, say) is given the local gateway's.
        let cloud_api = format!(
            "https://{}.execute-api.{LOCAL_REGION}.amazonaws.com",
            resolver.resolve_string(&serde_json::json!({"Ref": "HttpApi"}))?
        );
        for value in environment.values_mut() {
            if let Some(path) = value.strip_prefix(&cloud_api) {
                *value = format!("{base_url}{path}");
            }
        }
        // Spans go to the trace viewer, where the cloud's collector layer is
        // not; with no viewer, nowhere.
        environment.remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        let viewer = match viewer {
            Some(starting) => {
                let viewer = starting.ready().await?;
                environment.insert(
                    "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                    viewer.otlp_endpoint().to_owned(),
                );
                environment.insert("TRACE_PAGE".to_owned(), viewer.trace_page());
                Some(viewer)
            }
            None => None,
        };
        let metrics = Arc::new(Metrics::default());
        let metrics_listener = TcpListener::bind(("127.0.0.1", options.metrics_port))
            .await
            .with_context(|| format!("binding port {} for the metrics", options.metrics_port))?;
        let metrics_url = format!(
            "http://127.0.0.1:{}/metrics",
            metrics_listener.local_addr()?.port()
        );
        let metrics_server = tokio::spawn(metrics.clone().serve(metrics_listener, stopped.clone()));
        let (flags_url, flags_server) = match Agent::from_template(&resolver)? {
            Some(agent) => {
                let listener = TcpListener::bind(("127.0.0.1", 0))
                    .await
                    .context("binding the flags' AppConfig agent")?;
                let port = listener.local_addr()?.port();
                if let Some(asked) = environment.get(astroshop_flags::PROFILE_PATH_VARIABLE)
                    && asked != agent.path()
                {
                    anyhow::bail!(
                        "the functions ask for the flags at {asked}, the template deploys them at {}",
                        agent.path()
                    );
                }
                environment.insert(astroshop_flags::AGENT_PORT_VARIABLE.to_owned(), port.to_string());
                let url = format!("http://127.0.0.1:{port}");
                std::fs::write(options.work_dir.join(flags::FLAGS_FILE), &url)?;
                let server = tokio::spawn(Arc::new(agent).serve(listener, stopped.clone()));
                (Some(url), Some(server))
            }
            None => (None, None),
        };
        let functions = Functions::start(
            template.functions(),
            &environment,
            options.concurrency,
            invoke_listeners(options.default_invoke_port).await?,
            &options.function_output,
            &metrics,
            options.rebuild_on_change,
        )?;
        let invoke_port = functions.invoke_port();
        steps.end(&format!(
            "Invoke API on 127.0.0.1:{invoke_port}, their metrics at {metrics_url}; {}",
            if options.check_iam {
                format!("their AWS calls checked against their roles at {gate_url}")
            } else {
                "IAM NOT checked (ASTROSHOP_IAM=off)".to_owned()
            }
        ));

        steps.begin("starting the event sources (streams, queues, schedules)");
        let invoker = Invoker::new(functions.invoke_port());
        let mut sources = JoinSet::new();
        let started = crate::sources::start(
            &resolver,
            &config,
            &invoker,
            options.concurrency,
            options.timing,
            &stopped,
            &mut sources,
        )
        .await?;
        steps.end(&started.to_string());

        steps.begin("serving the HTTP API");
        let gateway = Arc::new(Gateway::new(
            routes,
            authorizers,
            invoker.clone(),
            LOCAL_ACCOUNT.to_owned(),
            options.log_requests,
        ));
        let gateway = tokio::spawn(gateway.serve(listener, stopped));
        steps.end(&base_url);

        Ok(Self {
            base_url,
            emulator,
            functions,
            viewer,
            metrics_url,
            metrics_server,
            flags_url,
            flags_server,
            shutdown,
            gateway,
            gate,
            iam,
            sources,
            config,
            work_dir: options.work_dir.clone(),
            references,
            invoker,
            switches: started.switches,
            environment,
            prefix: options.prefix.clone(),
        })
    }

    /// An SDK configuration for the stack's emulator, for any service client.
    pub fn sdk_config(&self) -> &aws_config::SdkConfig {
        &self.config
    }

    /// The name the stack gave a resource the template leaves unnamed (a queue, say).
    pub fn resource_name(&self, logical_id: &str) -> String {
        Names::local(&self.prefix).physical(logical_id)
    }

    /// What `!Ref` gives for the template's resource `logical_id` in this
    /// stack: a table's name, a queue's URL, a user pool's id
    /// (`ShopperPool`), an app client's id (`ShopperPoolClient`).
    pub fn resource_ref(&self, logical_id: &str) -> Option<&str> {
        self.references.get(logical_id).map(String::as_str)
    }

    /// A setting the functions get, such as `LEDGER_TABLE` or `EVENT_BUS_NAME`.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.environment.get(name).map(String::as_str)
    }

    /// Sends the dead-letter queue `queue` (a logical id) back where its
    /// messages were going (`local-stack redrive`).
    pub async fn redrive(&self, queue: &str) -> Result<crate::redrive::Redriven> {
        let template = Template::shop()?;
        let resolver = Resolver::new(&template, Names::local(&self.prefix));
        crate::redrive::redrive(&resolver, &self.config, queue).await
    }

    /// Turns the event sources of the function `binary` off or on (what
    /// `aws lambda update-event-source-mapping --enabled` does in the cloud).
    pub fn set_event_sources_enabled(&self, binary: &str, enabled: bool) -> Result<()> {
        self.switches.set(binary, enabled)
    }

    /// The port of the functions' Invoke API on 127.0.0.1 (what `cargo
    /// lambda invoke --invoke-port` takes).
    pub fn invoke_port(&self) -> u16 {
        self.functions.invoke_port()
    }

    /// Invokes the function `binary` with `payload` through the Invoke API,
    /// as `aws lambda invoke` would, and gives its response.
    pub async fn invoke(&self, binary: &str, payload: &serde_json::Value) -> Result<serde_json::Value> {
        let response = self.invoker.invoke(binary, payload).await?;
        Ok(serde_json::from_slice(&response)?)
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Where the functions' metrics are read as Prometheus text
    /// (`http://127.0.0.1:<port>/metrics`).
    pub fn metrics_url(&self) -> &str {
        &self.metrics_url
    }

    /// Where the flags are served (`GET /flags`, `PUT /flags/<name>`) when
    /// the template deploys some.
    pub fn flags_url(&self) -> Option<&str> {
        self.flags_url.as_deref()
    }

    /// The trace viewer's pages and REST API, if one is installed.
    pub fn trace_viewer_url(&self) -> Option<&str> {
        self.viewer.as_ref().map(TraceViewer::url)
    }

    pub fn emulator_endpoint(&self) -> &str {
        self.emulator.endpoint()
    }

    /// The admin API key and the SSM parameter it is kept in, read from the
    /// emulator as an operator reads it from SSM.
    pub async fn admin_key(&self) -> Result<Option<(String, String)>> {
        let Some(name) = self.resource_ref("AdminKey") else {
            return Ok(None);
        };
        let output = aws_sdk_ssm::Client::new(&self.config)
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .with_context(|| format!("reading the admin key parameter {name}"))?;
        let key = output
            .parameter
            .and_then(|p| p.value)
            .with_context(|| format!("the admin key parameter {name} has no value"))?;
        Ok(Some((name.to_owned(), key)))
    }

    /// What every function is given (table names, the bus, the emulator).
    pub fn function_environment(&self) -> &std::collections::BTreeMap<String, String> {
        &self.environment
    }

    /// Process ids of the emulators (moto, dynoxide), for a reader of `ps`.
    pub fn emulator_pids(&self) -> [u32; 2] {
        self.emulator.pids()
    }

    /// Every process the stack runs now: the emulators, the trace viewer,
    /// the function instances, and all they started.
    pub fn processes(&self) -> Vec<u32> {
        let mut all = Vec::new();
        let viewer = self.viewer.as_ref().map(TraceViewer::pid);
        for pid in self
            .emulator
            .pids()
            .into_iter()
            .chain(self.functions.pids())
            .chain(viewer)
        {
            all.push(pid);
            all.extend(crate::process::descendants(pid));
        }
        all
    }

    /// `Some(reason)` once a process the stack depends on has died.
    pub fn failure(&mut self) -> Option<String> {
        self.emulator.exited()
    }

    /// The functions' roles, as the stack checks them: `put_role_policy`
    /// changes one while the stack runs, `report` tells what was used.
    pub fn iam(&self) -> &Iam {
        &self.iam
    }

    /// Where `stop` writes the IAM report.
    pub fn iam_report_path(&self) -> PathBuf {
        std::fs::canonicalize(&self.work_dir)
            .unwrap_or_else(|_| self.work_dir.clone())
            .join("iam-report.md")
    }

    /// Stops the gateway, the functions and the emulator, and writes the
    /// IAM report (`iam_report_path`).
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        let _ = self.gateway.await;
        let _ = self.metrics_server.await;
        if let Some(server) = self.flags_server {
            let _ = server.await;
        }
        let _ = self.gate.await;
        let report = self.iam.report();
        if let Err(error) = std::fs::write(self.work_dir.join("iam-report.md"), report.to_markdown()) {
            tracing::warn!(%error, "writing the IAM report");
        }
        // A poller may be waiting on an invocation; the functions stop next anyway.
        self.sources.shutdown().await;
        self.functions.stop().await;
        self.emulator.stop().await;
        if let Some(viewer) = self.viewer {
            viewer.stop().await;
        }
        let _ = std::fs::remove_file(self.work_dir.join(ENDPOINT_FILE));
        let _ = std::fs::remove_file(self.work_dir.join(flags::FLAGS_FILE));
    }
}
