//! The README's commands, as written: `./shop up` brings the shop up on its
//! default ports, and every command the README shows for a running shop (the
//! `curl` calls of "What you will see", `cargo lambda invoke` with a sample
//! event, `local-stack event`) runs unchanged and gets a good answer; then
//! Ctrl-C stops it, and nothing it printed along the way is an error or the
//! same warning over and over.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use local_stack::tools;
use serde_json::Value;

const README: &str = include_str!("../README.md");

#[test]
fn every_command_the_readme_shows_works_as_written_and_a_stop_is_clean() -> Result<()> {
    ensure!(
        std::env::var("ASTROSHOP_BASE_URL").is_err(),
        "this test runs the README's ./shop up; it has no meaning against another shop"
    );
    for port in [8080, 9000] {
        ensure!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is in use (is ./shop up running?); the README's commands need it"
        );
    }
    let root = tools::repo_root();
    let log = root.join("target/readme-shop-up.log");
    let mut shop = ShopUp::start(&log)?;
    let ran = run_the_commands();
    let stopped = shop.interrupt();
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    ran.with_context(|| format!("./shop up's output: {}", log.display()))?;
    stopped?;
    check_the_output_is_clean(&output).with_context(|| format!("./shop up's output: {}", log.display()))
}

/// `./shop up`, its output in a file.
struct ShopUp {
    child: Child,
    log: std::path::PathBuf,
}

impl ShopUp {
    fn start(log: &std::path::Path) -> Result<Self> {
        let out = std::fs::File::create(log)?;
        let mut shop = Command::new(tools::repo_root().join("shop"));
        tools::clear_package_variables(&mut shop);
        shop.arg("up")
            .current_dir(tools::repo_root())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = shop.spawn().context("starting ./shop up")?;
        let mut up = Self {
            child,
            log: log.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let text = std::fs::read_to_string(&up.log).unwrap_or_default();
            if text.contains("Press Ctrl-C to stop.") {
                return Ok(up);
            }
            if let Some(status) = up.child.try_wait()? {
                bail!(
                    "./shop up exited ({status}) before the shop was up; see {}",
                    log.display()
                );
            }
            if Instant::now() > deadline {
                let _ = up.interrupt();
                bail!("./shop up was not up within 10 minutes; see {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Ctrl-C, as a developer stops it, and its exit.
    fn interrupt(&mut self) -> Result<()> {
        // SAFETY: kill(2) on the child we started.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                ensure!(status.success(), "./shop up ended with {status} after Ctrl-C");
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("./shop up did not stop within 60 s of Ctrl-C");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for ShopUp {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.interrupt();
        }
    }
}

/// The commands of the README's `sh` blocks that talk to a running shop,
/// one per entry, continuation lines joined and trailing comments dropped.
fn readme_commands() -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_sh = false;
    for line in README.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let line = without_comment(line);
        let starts = ["curl ", "cargo lambda invoke", "target/debug/local-stack event"]
            .iter()
            .any(|start| line.starts_with(start));
        let continues = commands
            .last()
            .is_some_and(|last: &String| last.ends_with('\\') || last.matches('\'').count() % 2 == 1);
        if continues {
            let last = commands.last_mut().expect("a command to continue");
            last.push('\n');
            last.push_str(line);
        } else if starts {
            commands.push(line.to_owned());
        }
    }
    commands
}

/// `line` without a ` # comment` outside quotes.
fn without_comment(line: &str) -> &str {
    let mut quoted = false;
    for (at, c) in line.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '#' if !quoted && line[..at].ends_with(' ') => return line[..at].trim_end(),
            _ => {}
        }
    }
    line.trim_end()
}

fn run_the_commands() -> Result<()> {
    let commands = readme_commands();
    let count = |start: &str| commands.iter().filter(|c| c.starts_with(start)).count();
    ensure!(
        count("curl ") >= 6 && count("cargo lambda invoke") == 1 && count("target/debug/local-stack") == 1,
        "the README's commands were not all found: {commands:#?}"
    );
    let mut placeholders: BTreeMap<&str, String> = BTreeMap::new();
    for written in &commands {
        let mut command = written.clone();
        for (name, value) in &placeholders {
            command = command.replace(name, value);
        }
        ensure!(
            !command.contains("<orderId>"),
            "no order was placed before {written}"
        );
        let output = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .current_dir(tools::repo_root())
            .env("PATH", tools::path_with_venv())
            .output()
            .with_context(|| format!("running {written}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        ensure!(
            output.status.success(),
            "{written}\nexited {}: {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        if command.starts_with("curl ") {
            let answer: Value = serde_json::from_str(&stdout)
                .with_context(|| format!("{written}\nanswered what is not JSON: {stdout}"))?;
            ensure!(
                answer.get("error").is_none(),
                "{written}\nanswered an error: {answer}"
            );
            if let Some(link) = answer["link"].as_str() {
                let (id, key) = link
                    .strip_prefix("/api/orders/")
                    .and_then(|rest| rest.split_once("?key="))
                    .with_context(|| format!("an order's link: {link}"))?;
                placeholders.insert("<orderId>", id.to_owned());
                placeholders.insert("<key>", key.to_owned());
            }
        } else if command.starts_with("cargo lambda invoke") {
            let answer: Value = serde_json::from_str(stdout.trim())
                .with_context(|| format!("{written}\nanswered what is not JSON: {stdout}"))?;
            ensure!(answer["statusCode"] == 200, "{written}\nanswered {answer}");
            ensure!(
                answer["body"].as_str().is_some_and(|b| b.contains("OLJCESPC7Z")),
                "{written}\nanswered without the product: {answer}"
            );
        } else {
            let event: Value = serde_json::from_str(stdout.trim())
                .with_context(|| format!("{written}\nprinted what is not JSON: {stdout}"))?;
            ensure!(
                event["rawPath"] == "/api/products/OLJCESPC7Z",
                "{written}\nprinted {event}"
            );
        }
    }
    Ok(())
}

/// No line is an error, and no warning is printed again and again.
fn check_the_output_is_clean(output: &str) -> Result<()> {
    let errors: Vec<&str> = output
        .lines()
        .filter(|line| {
            let lower = line.to_ascii_lowercase();
            lower.starts_with("error") || lower.contains("\"level\":\"error\"") || lower.contains(" error ")
        })
        .collect();
    ensure!(errors.is_empty(), "error lines: {errors:#?}");
    let mut warnings: BTreeMap<&str, usize> = BTreeMap::new();
    for line in output.lines().filter(|l| l.to_ascii_lowercase().contains("warn")) {
        *warnings.entry(line).or_default() += 1;
    }
    let repeated: Vec<_> = warnings.iter().filter(|(_, n)| **n > 1).collect();
    ensure!(repeated.is_empty(), "warnings repeated: {repeated:#?}");
    ensure!(
        output.contains("stopped: emulator, functions and HTTP API are down."),
        "the stop was not reported"
    );
    Ok(())
}

#[test]
fn the_readme_commands_are_read_whole() {
    let commands = readme_commands();
    let checkout = commands
        .iter()
        .find(|c| c.contains("/api/checkout"))
        .expect("the checkout command");
    assert!(
        checkout.ends_with("\"creditCardExpirationMonth\":1}}'"),
        "{checkout}"
    );
    assert!(
        commands
            .iter()
            .any(|c| c == "curl 'http://127.0.0.1:8080/api/orders/<orderId>?key=<key>'"),
        "{commands:#?}"
    );
    assert_eq!(
        without_comment("curl 'http://x/#a'  # a comment"),
        "curl 'http://x/#a'"
    );
}
