//! A real browser for the end-to-end tests: Debian's `chromium`, headless,
//! driven over the Chrome DevTools Protocol (JSON over a WebSocket). Only the
//! few commands the storefront tests need: open a page, wait for it to load
//! (or for a condition), run a line of JavaScript in it, read the page's
//! HTTP status, change the screen size, take a screenshot, and play another
//! site by ignoring a page's Content-Security-Policy.
//!
//! Chromium runs in a process group of its own with a fresh profile; dropping
//! the `Browser` closes it, kills what is left of that group and deletes the
//! profile, whether the test passed or not.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// Where Debian installs it; `ASTROSHOP_CHROMIUM` points elsewhere.
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// How long a page may take to load (the first request to a function may
/// wait for it to start).
const LOAD_TIMEOUT: Duration = Duration::from_secs(90);

pub struct Browser {
    child: Child,
    profile: PathBuf,
    socket: WebSocket<TcpStream>,
    session_id: String,
    next_id: u64,
    /// Events read while waiting for a command's answer, kept for `wait_for_load`.
    events: Vec<Value>,
}

impl Browser {
    /// Starts chromium and opens one blank page. A missing chromium is an
    /// error, never a reason to skip: the test command installs it.
    pub fn launch() -> Result<Self> {
        let program = std::env::var("ASTROSHOP_CHROMIUM").unwrap_or_else(|_| DEFAULT_CHROMIUM.to_owned());
        if !Path::new(&program).exists() {
            bail!("{program} is not installed (apt-get install chromium, or set ASTROSHOP_CHROMIUM)");
        }
        let profile = std::env::temp_dir().join(format!("astroshop-chromium-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&profile)?;
        let mut child = Command::new(&program)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {program}"))?;
        let endpoint = match devtools_endpoint(&mut child) {
            Ok(endpoint) => endpoint,
            Err(error) => {
                stop(&mut child, &profile);
                return Err(error);
            }
        };
        let connected = connect(&endpoint);
        let socket = match connected {
            Ok(socket) => socket,
            Err(error) => {
                stop(&mut child, &profile);
                return Err(error);
            }
        };
        let mut browser = Self {
            child,
            profile,
            socket,
            session_id: String::new(),
            next_id: 0,
            events: Vec::new(),
        };
        let target = browser.browser_call("Target.createTarget", json!({"url": "about:blank"}))?;
        let target_id = target["targetId"].as_str().context("no targetId")?.to_owned();
        let attached = browser.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        )?;
        browser.session_id = attached["sessionId"].as_str().context("no sessionId")?.to_owned();
        browser.call("Page.enable", json!({}))?;
        browser.call("Runtime.enable", json!({}))?;
        Ok(browser)
    }

    /// Loads `url` and waits for its load event (pictures included).
    pub fn open(&mut self, url: &str) -> Result<()> {
        self.events.clear();
        let answer = self.call("Page.navigate", json!({"url": url}))?;
        if let Some(error) = answer["errorText"].as_str() {
            bail!("loading {url}: {error}");
        }
        self.wait_for_load()
    }

    /// Runs `script` (which clicks, submits...) and waits for the page it
    /// leads to.
    pub fn act_and_wait(&mut self, script: &str) -> Result<()> {
        self.events.clear();
        self.eval(script)?;
        self.wait_for_load()
    }

    /// Waits until a JavaScript expression is true in the page (a page that
    /// changes by itself, or a navigation no load event marks).
    pub fn wait_until(&mut self, expression: &str) -> Result<()> {
        let deadline = Instant::now() + LOAD_TIMEOUT;
        // A page being replaced may refuse to evaluate for a moment.
        while self.eval(expression).ok() != Some(Value::Bool(true)) {
            if Instant::now() > deadline {
                bail!("{expression} was not true within {LOAD_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// The HTTP status the current page was answered with.
    pub fn status(&mut self) -> Result<u16> {
        let status = self.eval("performance.getEntriesByType('navigation')[0].responseStatus")?;
        status
            .as_u64()
            .and_then(|status| u16::try_from(status).ok())
            .with_context(|| format!("no status for the page: {status}"))
    }

    /// Lets scripts do what the pages' own Content-Security-Policy forbids,
    /// from the next page loaded on: how a test plays another site's page,
    /// which is under no policy of this shop's.
    pub fn ignore_content_security_policy(&mut self) -> Result<()> {
        self.call("Page.setBypassCSP", json!({"enabled": true}))?;
        Ok(())
    }

    /// The value of a JavaScript expression in the page.
    pub fn eval(&mut self, expression: &str) -> Result<Value> {
        let answer = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        )?;
        if let Some(exception) = answer.get("exceptionDetails") {
            bail!("{expression} threw: {exception}");
        }
        Ok(answer["result"]["value"].clone())
    }

    /// Sizes the page as a screen `width` × `height` CSS pixels; `phone`
    /// also turns on touch-screen behaviour and a 2x display.
    pub fn set_screen(&mut self, width: u32, height: u32, phone: bool) -> Result<()> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": width,
                "height": height,
                "deviceScaleFactor": if phone { 2 } else { 1 },
                "mobile": phone,
            }),
        )?;
        Ok(())
    }

    /// Saves a PNG of the whole page, not only the part on screen.
    pub fn screenshot(&mut self, path: &Path) -> Result<()> {
        let metrics = self.call("Page.getLayoutMetrics", json!({}))?;
        let size = &metrics["cssContentSize"];
        let (width, height) = (
            size["width"].as_f64().unwrap_or(1280.0),
            size["height"].as_f64().unwrap_or(800.0),
        );
        let shot = self.call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            }),
        )?;
        let data = shot["data"].as_str().context("no screenshot data")?;
        let png = base64::engine::general_purpose::STANDARD.decode(data)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    fn wait_for_load(&mut self) -> Result<()> {
        let deadline = Instant::now() + LOAD_TIMEOUT;
        loop {
            if self.events.iter().any(|event| {
                event["method"] == "Page.loadEventFired" && event["sessionId"] == self.session_id.as_str()
            }) {
                self.events.clear();
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the page did not finish loading in {LOAD_TIMEOUT:?}");
            }
            if let Some(message) = self.read(deadline)? {
                self.events.push(message);
            }
        }
    }

    /// A command to the page.
    fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        let session = self.session_id.clone();
        self.send(method, params, Some(session))
    }

    /// A command to the browser itself.
    fn browser_call(&mut self, method: &str, params: Value) -> Result<Value> {
        self.send(method, params, None)
    }

    fn send(&mut self, method: &str, params: Value, session: Option<String>) -> Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            command["sessionId"] = Value::String(session);
        }
        self.socket
            .send(Message::text(command.to_string()))
            .with_context(|| format!("sending {method}"))?;
        let deadline = Instant::now() + LOAD_TIMEOUT;
        loop {
            let Some(message) = self.read(deadline)? else {
                if Instant::now() > deadline {
                    bail!("{method} got no answer in {LOAD_TIMEOUT:?}");
                }
                continue;
            };
            if message["id"] == id {
                if let Some(error) = message.get("error") {
                    bail!("{method} failed: {error}");
                }
                return Ok(message["result"].clone());
            }
            if message.get("method").is_some() {
                self.events.push(message);
            }
        }
    }

    /// One message, or `None` when none came within the socket's read timeout.
    fn read(&mut self, deadline: Instant) -> Result<Option<Value>> {
        match self.socket.read() {
            Ok(Message::Text(text)) => Ok(Some(serde_json::from_str(&text)?)),
            Ok(_) => Ok(None),
            Err(tungstenite::Error::Io(error))
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) && Instant::now() <= deadline =>
            {
                Ok(None)
            }
            Err(error) => Err(anyhow!("reading from chromium: {error}")),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ask politely first, so chromium can tidy up its helpers.
        self.next_id += 1;
        let close = json!({"id": self.next_id, "method": "Browser.close"});
        let _ = self.socket.send(Message::text(close.to_string()));
        stop(&mut self.child, &self.profile);
    }
}

/// Waits a moment for chromium to exit, then kills its process group (it,
/// and the renderer and helper processes it started), and deletes the profile.
fn stop(child: &mut Child, profile: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let group = child.id() as i32;
    // SAFETY: kill(2) with a negative pid signals only the process group
    // chromium leads, which was created for it by `process_group(0)`.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(profile);
}

/// Reads chromium's stderr until it says where DevTools listens, then keeps
/// draining it (a full pipe would stall chromium).
fn devtools_endpoint(child: &mut Child) -> Result<String> {
    let stderr = child.stderr.take().context("chromium's stderr")?;
    let (found, endpoint) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                let _ = found.send(Ok(url.trim().to_owned()));
            } else if seen.len() < 20 {
                seen.push(line);
            }
        }
        let _ = found.send(Err(seen.join("\n")));
    });
    match endpoint.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(url)) => Ok(url),
        Ok(Err(output)) => Err(anyhow!("chromium exited before DevTools listened:\n{output}")),
        Err(_) => Err(anyhow!("chromium did not start DevTools within 30 s")),
    }
}

fn connect(endpoint: &str) -> Result<WebSocket<TcpStream>> {
    let address = endpoint
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .with_context(|| format!("unexpected DevTools address {endpoint}"))?;
    let stream = TcpStream::connect(address).with_context(|| format!("connecting to {address}"))?;
    // A chromium still starting (several at once on a busy machine) may take
    // seconds to answer the handshake; after it, reads poll every half second.
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let (socket, _) =
        tungstenite::client(endpoint, stream).map_err(|error| anyhow!("DevTools handshake: {error}"))?;
    socket
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(500)))?;
    Ok(socket)
}
