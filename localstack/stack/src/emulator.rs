//! The AWS emulator (moto server): DynamoDB, SQS, EventBridge, KMS, SES, SSM
//! and Cognito user pools (sign-up, tokens and each pool's JWKS) on one
//! loopback port.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process::Supervised;
use crate::tools;

pub struct Emulator {
    process: Supervised,
    endpoint: String,
}

impl Emulator {
    /// Starts moto on a free port, its output in `log`.
    pub async fn start(log: &Path) -> Result<Self> {
        let mut process = spawn(log)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(endpoint) = endpoint_in(log)? {
                return Ok(Self { process, endpoint });
            }
            if let Some(exit) = process.exited() {
                bail!("{exit}; see {}", log.display());
            }
            if Instant::now() > deadline {
                bail!("the emulator did not start in 30 s; see {}", log.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub async fn stop(mut self) {
        self.process.stop().await;
    }
}

fn spawn(log: &Path) -> Result<Supervised> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    // moto's server, with DynamoDB writes made atomic as in the cloud (see the script).
    let mut command = Command::new(tools::tool("python3"));
    command
        .arg(tools::repo_root().join("localstack/emulator.py"))
        .args(["-H", "127.0.0.1", "-p", "0"])
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    Supervised::spawn("the emulator (moto server)", command)
}

/// moto prints ` * Running on http://127.0.0.1:PORT` once it listens.
fn endpoint_in(log: &Path) -> Result<Option<String>> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    Ok(text.lines().find_map(|line| {
        let url = line.split("Running on ").nth(1)?.trim();
        url.starts_with("http://127.0.0.1:").then(|| url.to_owned())
    }))
}

/// One emulator for a whole test binary: `ASTROSHOP_EMULATOR_ENDPOINT` when
/// set (a test run that started one), else a moto server started on first use
/// and stopped by the kernel when the test process exits. Tests keep apart by
/// giving their resources a prefix of their own.
pub fn shared_endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        if let Ok(endpoint) = std::env::var("ASTROSHOP_EMULATOR_ENDPOINT") {
            return endpoint;
        }
        let log = tools::repo_root()
            .join("target/local-stack")
            .join(format!("emulator-{}.log", std::process::id()));
        let (sender, receiver) = std::sync::mpsc::channel();
        // The kernel's parent-death signal follows the thread that spawned the
        // child, so the emulator is started from a thread that lives as long
        // as the test process.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            let started = runtime
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(Emulator::start(&log)));
            match started {
                Ok(emulator) => {
                    let _ = sender.send(Ok(emulator.endpoint.clone()));
                    let _keep = emulator;
                    loop {
                        std::thread::park();
                    }
                }
                Err(error) => {
                    let _ = sender.send(Err(error));
                }
            }
        });
        match receiver.recv() {
            Ok(Ok(endpoint)) => endpoint,
            Ok(Err(error)) => {
                panic!("cannot start the emulator: {error:#} (run ./shop test, which installs it)")
            }
            Err(_) => panic!("the emulator thread died"),
        }
    })
}
