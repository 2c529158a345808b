//! `local-stack up`: the shop on this machine, until Ctrl-C; `local-stack
//! redrive <queue>`: a dead-letter queue of the running shop sent back;
//! `local-stack flags`: the running shop's fault flags, listed or changed.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use local_stack::account::LOCAL_REGION;
use local_stack::functions::Output;
use local_stack::provision;
use local_stack::resolve::{Names, Resolver};
use local_stack::stack::ENDPOINT_FILE;
use local_stack::template::Template;
use local_stack::{Stack, StackOptions};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(about = "Runs astroshop locally: AWS emulator, functions and HTTP API, from infra/template.yaml")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the whole shop and serve it until Ctrl-C.
    Up {
        /// Port of the storefront and API.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Prefix of every resource name in the emulator.
        #[arg(long, default_value = "astroshop")]
        prefix: String,
        /// Port of the functions' metrics (Prometheus text at /metrics); 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        metrics_port: u16,
    },
    /// Send what waits in a dead-letter queue of the running stack back where
    /// it was going, once its cause is fixed.
    Redrive {
        /// The queue's logical id in the template, e.g. ShippingDeadLetters.
        queue: String,
        /// Prefix of the running stack's resource names.
        #[arg(long, default_value = "astroshop")]
        prefix: String,
    },
    /// List the running shop's fault flags, or change one: `flags cartFailure
    /// on rate=0.5`, `flags cartFailure off`.
    Flags {
        /// The flag to change; without one, every flag is listed.
        flag: Option<String>,
        /// `on` or `off`, and attributes as name=value (a number, true, false or text).
        changes: Vec<String>,
        /// Prefix of the running stack's resource names.
        #[arg(long, default_value = "astroshop")]
        prefix: String,
    },
    /// Print the API Gateway event the local HTTP API sends for a request, for
    /// `cargo lambda invoke --data-file` (the function it routes to goes to stderr).
    Event {
        /// HTTP method.
        method: String,
        /// Path and query, e.g. '/api/products/OLJCESPC7Z?currencyCode=EUR'.
        uri: String,
        /// Request body.
        #[arg(long)]
        body: Option<String>,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt().with_target(false).without_time().init();
    match Cli::parse().command {
        Command::Up {
            port,
            prefix,
            metrics_port,
        } => up(port, metrics_port, prefix).await,
        Command::Redrive { queue, prefix } => redrive(&queue, &prefix).await,
        Command::Flags {
            flag,
            changes,
            prefix,
        } => flags(flag.as_deref(), &changes, &prefix).await,
        Command::Event { method, uri, body } => {
            let (function, event) = local_stack::gateway::routed_event(
                &method.to_ascii_uppercase(),
                &uri,
                body.as_deref(),
                None,
            )?;
            eprintln!("routed to {function}");
            println!("{}", serde_json::to_string_pretty(&event)?);
            Ok(())
        }
    }
}

async fn redrive(queue: &str, prefix: &str) -> Result<()> {
    let options = StackOptions::new(prefix);
    let endpoint_file = options.work_dir.join(ENDPOINT_FILE);
    let endpoint = std::fs::read_to_string(&endpoint_file).with_context(|| {
        format!(
            "no running stack {prefix} ({} not found): start it with ./shop up",
            endpoint_file.display()
        )
    })?;
    let config = provision::emulator_config(endpoint.trim(), LOCAL_REGION);
    let template = Template::shop()?;
    let resolver = Resolver::new(&template, Names::local(prefix));
    let done = local_stack::redrive::redrive(&resolver, &config, queue).await?;
    eprintln!(
        "{queue}: {} sent back to their queue, {} put on the bus, {} left",
        done.moved, done.published, done.left
    );
    Ok(())
}

async fn flags(flag: Option<&str>, changes: &[String], prefix: &str) -> Result<()> {
    let options = StackOptions::new(prefix);
    let flags_file = options.work_dir.join(local_stack::flags::FLAGS_FILE);
    let url = std::fs::read_to_string(&flags_file).with_context(|| {
        format!(
            "no running stack {prefix} with flags ({} not found): start it with ./shop up",
            flags_file.display()
        )
    })?;
    let http = reqwest::Client::new();
    let Some(flag) = flag else {
        let listing: Vec<serde_json::Value> = http
            .get(format!("{}/flags", url.trim()))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        for entry in listing {
            let value = &entry["value"];
            let attributes: Vec<String> = value
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(name, _)| *name != "enabled")
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            println!(
                "{:<28} {:<3} {:<22} {}",
                entry["name"].as_str().unwrap_or_default(),
                if value["enabled"] == true { "ON" } else { "off" },
                attributes.join(" "),
                entry["description"].as_str().unwrap_or_default()
            );
        }
        return Ok(());
    };
    let mut change = serde_json::Map::new();
    for word in changes {
        match (word.as_str(), word.split_once('=')) {
            ("on", _) => change.insert("enabled".into(), true.into()),
            ("off", _) => change.insert("enabled".into(), false.into()),
            (_, Some((name, value))) => change.insert(
                name.to_owned(),
                serde_json::from_str(value).unwrap_or_else(|_| value.into()),
            ),
            _ => anyhow::bail!("{word:?}: say on, off or name=value"),
        };
    }
    let response = http
        .put(format!("{}/flags/{flag}", url.trim()))
        .json(&change)
        .send()
        .await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    if !status.is_success() {
        anyhow::bail!(
            "{flag} not changed: {}",
            body["message"].as_str().unwrap_or_default()
        );
    }
    println!("{flag} is now {body}");
    Ok(())
}

async fn up(port: u16, metrics_port: u16, prefix: String) -> Result<()> {
    let mut options = StackOptions::new(&prefix);
    options.port = port;
    options.metrics_port = metrics_port;
    options.function_output = Output::Terminal;
    options.show_progress = true;
    options.log_requests = true;
    options.default_invoke_port = true;
    options.rebuild_on_change = true;
    let mut stack = Stack::start(options).await?;
    let [moto_pid, dynamodb_pid] = stack.emulator_pids();
    eprintln!();
    eprintln!("astroshop is running at {}", stack.base_url());
    eprintln!("  storefront: {}/", stack.base_url());
    eprintln!("  try: curl '{}/api/products?currencyCode=EUR'", stack.base_url());
    if let Some((parameter, key)) = stack.admin_key().await? {
        eprintln!("  admin API key (SSM parameter {parameter}): Authorization: Bearer {key}");
    }
    if let (Some(pool), Some(client)) = (
        stack.resource_ref("ShopperPool"),
        stack.resource_ref("ShopperPoolClient"),
    ) {
        eprintln!("  shopper accounts: user pool {pool}, app client {client} (in the emulator's Cognito)");
    }
    eprintln!(
        "  the functions' metrics, as Prometheus text: {}",
        stack.metrics_url()
    );
    if let Some(url) = stack.flags_url() {
        eprintln!("  fault flags: ./shop flags (list), ./shop flags adFailure on; served at {url}/flags");
    }
    match stack.trace_viewer_url() {
        Some(url) => eprintln!("  traces (Arize Phoenix): {url}/projects (one checkout is one trace)"),
        None => {
            eprintln!("  traces: no trace viewer installed (./shop up installs it), so no spans are sent")
        }
    }
    eprintln!(
        "  AWS emulators: {} (moto pid {moto_pid}, dynoxide pid {dynamodb_pid})",
        stack.emulator_endpoint()
    );
    let invoke = match stack.invoke_port() {
        9000 => String::new(),
        port => format!("--invoke-address 127.0.0.1 --invoke-port {port} "),
    };
    eprintln!(
        "  invoke a function: cargo lambda invoke {invoke}catalog-get-product --data-file events/http/catalog-get-product.json"
    );
    eprintln!("  a change to a function's code rebuilds it; its next invocation runs the new build");
    eprintln!("Press Ctrl-C to stop.");

    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut health = tokio::time::interval(std::time::Duration::from_secs(1));
    let reason = loop {
        tokio::select! {
            _ = interrupt.recv() => break "interrupted".to_owned(),
            _ = terminate.recv() => break "terminated".to_owned(),
            _ = health.tick() => if let Some(failure) = stack.failure() { break failure },
        }
    };
    eprintln!("\nstopping ({reason})...");
    let report = stack.iam_report_path();
    stack.stop().await;
    eprintln!(
        "what each function's AWS calls used of its role: {}",
        report.display()
    );
    eprintln!("stopped: emulator, functions and HTTP API are down.");
    Ok(())
}
