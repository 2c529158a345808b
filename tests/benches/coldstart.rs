//! Cold starts: every function of the template built in release mode (as a
//! deploy builds it) and run under the local stack's Lambda runtime, the way
//! Lambda runs it: a fresh process, its Runtime API, one event. For each, the
//! median over `STARTS` cold starts of the init (process start to its first
//! request for an event), the first invocation (that event handed over to
//! answered), the warm median (`WARM` more invocations of the same
//! instance, each once it waits for an event again), and the peak RSS; the floor is `hello-lambda`, a `lambda_runtime`
//! function that answers its event and nothing else, built the same way, and
//! each function's init is given as a ratio to it.
//!
//! The functions need their tables, queues and settings to start, so a local
//! stack runs beside them (its own functions are not what is measured).
//!
//! `./shop bench` runs it after the checkout bench; the release build takes
//! a while the first time (on two cores, 19 minutes for six functions and the
//! floor: 10 for the dependencies, then about 3 to link each binary).
//! `COLDSTART_PROFILE=dev` measures the debug build instead, for a quick look;
//! `COLDSTART_FUNCTIONS=catalog-get-product,checkout-place` builds and
//! measures only those functions (and the floor).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use astroshop_tests::Shop;
use local_stack::account::{LOCAL_ACCOUNT, LOCAL_REGION};
use local_stack::runtime::{FunctionSpec, Outcome, Runtime, Sinks};
use local_stack::template::{SourceKind, Template};
use local_stack::tools;
use serde_json::{Value, json};

const STARTS: usize = 5;
const WARM: usize = 10;
const FLOOR: &str = "hello-lambda";

fn main() -> Result<()> {
    let profile = Profile::chosen();
    let chosen = Chosen::from_env();
    let mut build = tools::cargo();
    build.args(["build", "--profile", profile.name, "--workspace"]);
    match &chosen.0 {
        None => {
            eprintln!("building every function ({})...", profile.name);
            build.arg("--bins");
        }
        Some(functions) => {
            eprintln!(
                "building {} and the floor ({})...",
                functions.join(", "),
                profile.name
            );
            for function in functions.iter().map(String::as_str).chain([FLOOR]) {
                build.args(["--bin", function]);
            }
        }
    }
    let status = build
        .current_dir(tools::repo_root())
        .status()
        .context("running cargo build --release")?;
    if !status.success() {
        bail!("cargo build --profile {} failed ({status})", profile.name);
    }
    let shop = Shop::start()?;
    let outcome = measure(&shop, &profile, &chosen);
    shop.stop()?;
    outcome
}

/// The build measured: cargo's profile and where it puts binaries.
struct Profile {
    name: &'static str,
    dir: &'static str,
}

impl Profile {
    fn chosen() -> Self {
        match std::env::var("COLDSTART_PROFILE").as_deref() {
            Ok("dev") => Self {
                name: "dev",
                dir: "debug",
            },
            _ => Self {
                name: "release",
                dir: "release",
            },
        }
    }
}

/// The functions `COLDSTART_FUNCTIONS` names (comma-separated), or every one.
struct Chosen(Option<Vec<String>>);

impl Chosen {
    fn from_env() -> Self {
        let named = std::env::var("COLDSTART_FUNCTIONS").unwrap_or_default();
        let functions: Vec<String> = named
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect();
        Self((!functions.is_empty()).then_some(functions))
    }

    fn includes(&self, function: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|functions| functions.iter().any(|name| name == function))
    }
}

/// One row of the table.
struct Row {
    function: String,
    size_mb: f64,
    init: Duration,
    first: Duration,
    warm: Duration,
    peak_rss_mb: f64,
}

fn measure(shop: &Shop, profile: &Profile, chosen: &Chosen) -> Result<()> {
    let template = Template::shop()?;
    let environment = shop.function_environment()?;
    let mut cases: Vec<(String, u32, Value)> = vec![(FLOOR.to_owned(), 128, json!({"hello": "world"}))];
    let mut skipped = Vec::new();
    for function in template
        .functions()
        .iter()
        .filter(|function| chosen.includes(&function.binary))
    {
        match sample_event(function)? {
            Some(event) => cases.push((function.binary.clone(), function.memory_mb, event)),
            None => skipped.push(function.binary.clone()),
        }
    }
    let mut rows = Vec::new();
    for (function, memory_mb, event) in &cases {
        eprint!("{function}: ");
        let binary = tools::repo_root().join("target").join(profile.dir).join(function);
        let row = shop.block_on(cold_starts(function, &binary, *memory_mb, event, &environment))?;
        eprintln!("init {} ms", row.init.as_micros() as f64 / 1000.0);
        rows.push(row);
    }
    let floor = rows[0].init.as_secs_f64();
    println!();
    println!(
        "cold start, {} build, {STARTS} starts each (median), {WARM} warm invocations; floor: {FLOOR}",
        profile.name
    );
    println!(
        "{:<30} {:>8} {:>10} {:>10} {:>10} {:>9} {:>11}",
        "function", "binary", "init", "first", "warm", "peak RSS", "init/floor"
    );
    for row in &rows {
        println!(
            "{:<30} {:>5.1} MB {:>7.1} ms {:>7.1} ms {:>7.2} ms {:>6.1} MB {:>10.1}x",
            row.function,
            row.size_mb,
            millis(row.init),
            millis(row.first),
            millis(row.warm),
            row.peak_rss_mb,
            row.init.as_secs_f64() / floor,
        );
    }
    for function in skipped {
        println!("{function:<30} not measured: a CloudFormation custom resource, invoked only by a deploy");
    }
    Ok(())
}

fn millis(duration: Duration) -> f64 {
    duration.as_micros() as f64 / 1000.0
}

/// An event the function takes without changing anything: a request to its
/// first route, an empty batch for a queue or a stream, a schedule's tick.
fn sample_event(function: &local_stack::template::Function) -> Result<Option<Value>> {
    if let Some(route) = function.routes.first() {
        let path = route
            .path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "COLDSTART"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = if route.method == "ANY" {
            "GET"
        } else {
            route.method.as_str()
        };
        let (_, event) = local_stack::gateway::routed_event(method, &path, None, None)?;
        return Ok(Some(event));
    }
    let Some(source) = function.sources.first() else {
        return Ok(None);
    };
    Ok(Some(match source.kind {
        SourceKind::Sqs { .. } | SourceKind::DynamoDb { .. } => json!({"Records": []}),
        SourceKind::Schedule { .. } => local_stack::sources::scheduled_event(
            &format!("arn:aws:events:{LOCAL_REGION}:{LOCAL_ACCOUNT}:rule/coldstart"),
            LOCAL_ACCOUNT,
            LOCAL_REGION,
        ),
    }))
}

/// `STARTS` cold starts of `function`, each a fresh runtime with one instance.
async fn cold_starts(
    function: &str,
    binary: &Path,
    memory_mb: u32,
    event: &Value,
    environment: &BTreeMap<String, String>,
) -> Result<Row> {
    let size_mb = std::fs::metadata(binary)
        .with_context(|| format!("{} (not built?)", binary.display()))?
        .len() as f64
        / 1e6;
    let (mut inits, mut firsts, mut warms, mut peaks) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..STARTS {
        let runtime = runtime_for(function, binary, memory_mb, environment)?;
        let payload = bytes::Bytes::from(event.to_string());
        let started = Instant::now();
        let answer = runtime.invoke(function, payload.clone(), None).await;
        let total = started.elapsed();
        check(function, answer)?;
        let init = runtime
            .init_times(function)
            .first()
            .copied()
            .context("the instance never asked for an event")?;
        inits.push(init);
        firsts.push(total.saturating_sub(init));
        for _ in 0..WARM {
            // Once the instance is back for its next event (after its
            // spans are sent), as a warm instance waits between events.
            while runtime.idle(function) == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let started = Instant::now();
            check(function, runtime.invoke(function, payload.clone(), None).await)?;
            warms.push(started.elapsed());
        }
        peaks.push(
            runtime
                .pids()
                .iter()
                .map(|pid| peak_rss_mb(*pid))
                .fold(0.0, f64::max),
        );
        runtime.stop().await;
    }
    Ok(Row {
        function: function.to_owned(),
        size_mb,
        init: median(&mut inits),
        first: median(&mut firsts),
        warm: median(&mut warms),
        peak_rss_mb: peaks.into_iter().fold(0.0, f64::max),
    })
}

fn runtime_for(
    function: &str,
    binary: &Path,
    memory_mb: u32,
    environment: &BTreeMap<String, String>,
) -> Result<std::sync::Arc<Runtime>> {
    let spec = FunctionSpec {
        name: function.to_owned(),
        binary: binary.to_owned(),
        timeout: Duration::from_secs(30),
        memory_mb,
        max_instances: 1,
    };
    // What the functions print is not what is measured.
    let null = || std::fs::File::options().write(true).open("/dev/null");
    Ok(Runtime::new(
        vec![spec],
        environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Sinks::new(null()?, null()?),
        LOCAL_REGION,
        LOCAL_ACCOUNT,
    ))
}

/// A function error is a failed measurement: the function did not run as it runs.
fn check(function: &str, answer: Option<Outcome>) -> Result<()> {
    match answer {
        Some(Outcome::Answered(_)) => Ok(()),
        Some(Outcome::Failed(error)) => bail!("{function} failed: {}", String::from_utf8_lossy(&error)),
        None => bail!("{function} is not one of the runtime's functions"),
    }
}

/// The most memory the process has held (`VmHWM`), in MB.
fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}
