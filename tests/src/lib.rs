//! The end-to-end harness: a shop to talk to over HTTP. By default it brings
//! up the Docker-free local stack and tears it down at the end; with
//! `ASTROSHOP_BASE_URL` set it tests that shop instead (LocalStack, a
//! deployed stack), so one suite serves every mode.

pub mod accounts;
pub mod browser;
pub mod checkout;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use local_stack::{Stack, StackOptions};
use serde_json::Value;

pub struct Shop {
    base_url: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    stack: Option<Stack>,
    admin_key: std::sync::OnceLock<String>,
}

/// An e-mail as SES sent it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// A response as a test reads it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Shop {
    pub fn start() -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let (base_url, stack) = match std::env::var("ASTROSHOP_BASE_URL") {
            Ok(url) => (url.trim_end_matches('/').to_owned(), None),
            Err(_) => {
                // Two runs at once (two checkouts of the work) need their own names.
                let prefix = std::env::var("ASTROSHOP_STACK_PREFIX").unwrap_or_else(|_| "e2e".to_owned());
                let mut options = StackOptions::new(&prefix);
                options.show_progress = true;
                let stack = runtime
                    .block_on(Stack::start(options))
                    .context("starting the local stack")?;
                (stack.base_url().to_owned(), Some(stack))
            }
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?;
        Ok(Self {
            base_url,
            http,
            runtime,
            stack,
            admin_key: std::sync::OnceLock::new(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends a request and reads the JSON answer (`Value::Null` for none).
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply> {
        self.send_with_headers(method, path, &[], body)
    }

    /// Sends a request with extra headers (`Authorization`, say).
    pub fn send_with_headers(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply> {
        self.send_from(&self.http, method, path, headers, body)
    }

    /// [`Self::send_with_headers`] through `http`, a client of the test's own
    /// (one from [`client_from`], say).
    pub fn send_from(
        &self,
        http: &reqwest::Client,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut request = http.request(method, format!("{}{path}", self.base_url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.runtime.block_on(exchange(request, path))
    }

    pub fn get(&self, path: &str) -> Result<Reply> {
        self.send("GET", path, None)
    }

    /// The admin API key, read as an operator reads it: the SecureString
    /// parameter the template's `AdminKey` names, from SSM (the emulator's,
    /// for the local stack). `ASTROSHOP_ADMIN_KEY` gives it for a deployed shop.
    pub fn admin_key(&self) -> Result<String> {
        if let Some(key) = self.admin_key.get() {
            return Ok(key.clone());
        }
        let key = match (std::env::var("ASTROSHOP_ADMIN_KEY"), &self.stack) {
            (Ok(key), _) => key,
            (Err(_), None) => bail!(
                "set ASTROSHOP_ADMIN_KEY to test the admin API of {}",
                self.base_url
            ),
            (Err(_), Some(stack)) => {
                let (_, key) = self
                    .runtime
                    .block_on(stack.admin_key())?
                    .context("the template declares no AdminKey")?;
                key
            }
        };
        Ok(self.admin_key.get_or_init(|| key).clone())
    }

    /// The local stack, for the tests that look behind the API as an
    /// operator would (tables, queues, mail) or stop a consumer.
    fn local(&self) -> Result<&Stack> {
        self.stack.as_ref().with_context(|| {
            format!(
                "this test inspects the stack's AWS resources, which needs the local stack, not {}",
                self.base_url
            )
        })
    }

    /// Runs AWS SDK calls (or any future) on the harness's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// An SDK configuration for the stack's AWS services.
    pub fn aws(&self) -> Result<aws_config::SdkConfig> {
        Ok(self.local()?.sdk_config().clone())
    }

    /// A setting the functions get, such as `LEDGER_TABLE` or `EVENT_BUS_NAME`.
    pub fn setting(&self, name: &str) -> Result<String> {
        let stack = self.local()?;
        stack
            .setting(name)
            .map(str::to_owned)
            .with_context(|| format!("no function is given {name}"))
    }

    /// Everything the local stack gives its functions (to run one beside it).
    pub fn function_environment(&self) -> Result<std::collections::BTreeMap<String, String>> {
        Ok(self.local()?.function_environment().clone())
    }

    /// The name of a resource the template leaves unnamed (a queue, say).
    pub fn resource_name(&self, logical_id: &str) -> Result<String> {
        Ok(self.local()?.resource_name(logical_id))
    }

    /// Stops or restarts the delivery of a function's queue, stream or schedule.
    pub fn set_event_sources_enabled(&self, binary: &str, enabled: bool) -> Result<()> {
        self.local()?.set_event_sources_enabled(binary, enabled)
    }

    /// Sends a dead-letter queue back where its messages were going, as
    /// `./shop redrive <queue>` does.
    pub fn redrive(&self, queue: &str) -> Result<local_stack::redrive::Redriven> {
        let stack = self.local()?;
        self.runtime.block_on(stack.redrive(queue))
    }

    /// Where the local stack serves the functions' metrics as Prometheus
    /// text (`http://127.0.0.1:<port>/metrics`).
    pub fn metrics_url(&self) -> Result<String> {
        Ok(self.local()?.metrics_url().to_owned())
    }

    /// Changes a fault flag through the local AppConfig agent (what
    /// `./shop flags` does): `{"enabled": true, "rate": 1.0}`, say. The
    /// functions read the change on their next request.
    pub fn set_flag(&self, flag: &str, change: &Value) -> Result<Value> {
        let url = self
            .local()?
            .flags_url()
            .context("the template deploys no flags")?
            .to_owned();
        let request = self.http.put(format!("{url}/flags/{flag}")).json(change);
        let reply = self.runtime.block_on(exchange(request, flag))?;
        anyhow::ensure!(
            reply.status == 200,
            "setting {flag} to {change}: {} {}",
            reply.status,
            reply.body
        );
        Ok(reply.body)
    }

    /// The flags' values as the functions read them from the agent.
    pub fn flag_values(&self) -> Result<Value> {
        let stack = self.local()?;
        let url = stack.flags_url().context("the template deploys no flags")?;
        let path = stack
            .setting(astroshop_flags::PROFILE_PATH_VARIABLE)
            .context("no function reads flags")?;
        let request = self.http.get(format!("{url}{path}"));
        Ok(self.runtime.block_on(exchange(request, path))?.body)
    }

    /// Where the local stack's trace viewer (Arize Phoenix) serves its pages
    /// and REST API; an error if none is installed (`./shop test` installs it).
    pub fn trace_viewer_url(&self) -> Result<String> {
        self.local()?
            .trace_viewer_url()
            .map(str::to_owned)
            .context("the local stack runs no trace viewer: ./shop test installs it into .venv/trace-viewer")
    }

    /// Invokes a function directly, as `aws lambda invoke` does.
    pub fn invoke(&self, binary: &str, payload: &Value) -> Result<Value> {
        let stack = self.local()?;
        self.runtime.block_on(stack.invoke(binary, payload))
    }

    /// Puts an inline policy on the role of the function `binary` while the
    /// stack runs, as `aws iam put-role-policy` does.
    pub fn put_role_policy(&self, binary: &str, name: &str, document: &Value) -> Result<()> {
        self.local()?.iam().put_role_policy(binary, name, document)
    }

    /// Removes a policy `put_role_policy` put.
    pub fn delete_role_policy(&self, binary: &str, name: &str) -> Result<()> {
        self.local()?.iam().delete_role_policy(binary, name)
    }

    /// What each function's AWS calls used, were denied, and left unused of its role so far.
    pub fn iam_report(&self) -> Result<local_stack::iam::Report> {
        Ok(self.local()?.iam().report())
    }

    /// Every e-mail the shop has sent through SES (the emulator keeps them).
    pub fn sent_mail(&self) -> Result<Vec<Mail>> {
        let endpoint = self.local()?.emulator_endpoint().to_owned();
        let data: Value = self.runtime.block_on(async {
            self.http
                .get(format!("{endpoint}/moto-api/data.json"))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await
        })?;
        let messages = data["ses"]["Message"].as_array().cloned().unwrap_or_default();
        Ok(messages
            .iter()
            .map(|message| Mail {
                to: message["destinations"]["ToAddresses"]
                    .as_array()
                    .map(|to| to.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default(),
                subject: message["subject"].as_str().unwrap_or_default().to_owned(),
                body: message["body"].as_str().unwrap_or_default().to_owned(),
            })
            .collect())
    }

    /// Tears the local stack down (when this harness started it) and checks
    /// that nothing it started is left running.
    pub fn stop(self) -> Result<()> {
        let Some(stack) = self.stack else {
            return Ok(());
        };
        let started = stack.processes();
        let report = stack.iam().report();
        let report_path = stack.iam_report_path();
        self.runtime.block_on(stack.stop());
        eprintln!(
            "IAM: {} calls denied, {} grants never used; per function in {}",
            report.denied_count(),
            report.unused_count(),
            report_path.display()
        );
        let left: Vec<u32> = started
            .iter()
            .copied()
            .filter(|&pid| local_stack::process::is_running(pid))
            .collect();
        if !left.is_empty() {
            bail!(
                "processes {left:?} of the {} the stack ran are still running after it stopped",
                started.len()
            );
        }
        eprintln!(
            "the local stack stopped; none of its {} processes is left",
            started.len()
        );
        Ok(())
    }
}

/// An HTTP client whose connections leave from `source`: on Linux all of
/// 127.0.0.0/8 is this machine, so a test can be a client of its own, as the
/// shop tells clients apart by their address.
pub fn client_from(source: std::net::IpAddr) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .local_address(source)
        .timeout(Duration::from_secs(120))
        .build()?)
}

/// Sends `request` (to `path`) and reads the JSON answer (`Value::Null` for none).
pub async fn exchange(request: reqwest::RequestBuilder, path: &str) -> Result<Reply> {
    let response = request
        .send()
        .await
        .with_context(|| format!("requesting {path}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await?;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{path} answered {status} with non-JSON: {}",
                String::from_utf8_lossy(&bytes)
            )
        })?
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Fails a test with a message unless `condition` holds.
#[macro_export]
macro_rules! ensure_that {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            anyhow::bail!($($message)+);
        }
    };
}
