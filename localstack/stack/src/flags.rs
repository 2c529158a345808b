//! The AppConfig agent, locally: what the functions' AppConfig Lambda
//! extension serves them in the cloud. The template deploys a feature-flags
//! document (`AWS::AppConfig::Deployment` of a hosted configuration version);
//! the stack serves that document's values at the path the functions ask
//! (`/applications/<app>/environments/<env>/configurations/<profile>`, with
//! `?flag=<name>` for one), on the port they are told as the agent's
//! (`AWS_APPCONFIG_EXTENSION_HTTP_PORT`). Changing a flag is deploying a new
//! version in the cloud; here it is `PUT /flags/<name>` (what `./shop flags`
//! sends), checked against the flag's constraints as AppConfig checks a
//! version, and seen by the next read: the stack is the agent's cache.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result, anyhow, bail};
use astroshop_flags::FlagDocument;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::resolve::Resolver;

/// The file in a stack's work directory that holds the flags' address while
/// it runs, for `local-stack flags`.
pub const FLAGS_FILE: &str = "flags-endpoint";

/// The deployed flags, served as the AppConfig agent serves them.
pub struct Agent {
    /// The profile's path, as the functions' `FLAGS_PATH` names it.
    path: String,
    document: RwLock<FlagDocument>,
}

impl Agent {
    /// The flags the template deploys, or `None` when it deploys none.
    pub fn from_template(resolver: &Resolver<'_>) -> Result<Option<Self>> {
        let template = resolver.template();
        let mut deployments = template.resources_of("AWS::AppConfig::Deployment");
        let Some((id, deployment)) = deployments.next() else {
            return Ok(None);
        };
        if deployments.next().is_some() {
            bail!("the template deploys more than one AppConfig configuration; the local agent serves one");
        }
        let property = |name: &str| -> Result<String> {
            let value = deployment
                .properties
                .get(name)
                .ok_or_else(|| anyhow!("{id} has no {name}"))?;
            resolver.resolve_string(value)
        };
        let path = format!(
            "/applications/{}/environments/{}/configurations/{}",
            property("ApplicationId")?,
            property("EnvironmentId")?,
            property("ConfigurationProfileId")?
        );
        let version = deployment
            .properties
            .pointer("/ConfigurationVersion/Ref")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                anyhow!("{id}: ConfigurationVersion is not !Ref <hosted configuration version>")
            })?;
        let content = template
            .resource(version)
            .filter(|resource| resource.kind == "AWS::AppConfig::HostedConfigurationVersion")
            .and_then(|resource| resource.properties.get("Content"))
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("{version} is not a hosted configuration version with a Content"))?;
        let document = FlagDocument::parse(content).with_context(|| format!("the flags of {version}"))?;
        Ok(Some(Self {
            path,
            document: RwLock::new(document),
        }))
    }

    /// The profile's path, what the functions' `FLAGS_PATH` is.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Serves the agent's interface and the flag changes until `shutdown` turns true.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: watch::Receiver<bool>) {
        crate::serve::serve(listener, shutdown, move |request, _| {
            let agent = self.clone();
            async move { agent.answer(request).await }
        })
        .await
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path();
        let query = parts.uri.query().unwrap_or_default();
        match (&parts.method, path) {
            (&Method::GET, "/ping") => reply(StatusCode::OK, json!("pong")),
            (&Method::GET, "/flags") => {
                let document = self.document.read().expect("no writer panics");
                reply(StatusCode::OK, json!(document.listing()))
            }
            (&Method::GET, path) if path == self.path => self.values(query),
            (&Method::PUT, path) if path.starts_with("/flags/") => {
                let flag = &path["/flags/".len()..];
                match body.collect().await {
                    Ok(body) => self.set(flag, &body.to_bytes()),
                    Err(error) => failure(StatusCode::BAD_REQUEST, format!("reading the body: {error}")),
                }
            }
            _ => failure(
                StatusCode::NOT_FOUND,
                format!(
                    "the flags are at GET {} (?flag=<name> for one), GET /flags and PUT /flags/<name>",
                    self.path
                ),
            ),
        }
    }

    /// The agent's answer: every flag's value, or one (`?flag=<name>`).
    fn values(&self, query: &str) -> Response<Full<Bytes>> {
        let values = self.document.read().expect("no writer panics").values();
        let asked = query.split('&').find_map(|pair| pair.strip_prefix("flag="));
        match asked {
            None => reply(StatusCode::OK, json!(values)),
            Some(flag) => match values.0.get(flag) {
                Some(value) => reply(StatusCode::OK, json!(value)),
                None => failure(StatusCode::NOT_FOUND, format!("there is no flag {flag:?}")),
            },
        }
    }

    /// `{"enabled": bool?, <attribute>: value...}`: turns the flag on or off
    /// and sets those attributes, or changes nothing and says why.
    fn set(&self, flag: &str, body: &[u8]) -> Response<Full<Bytes>> {
        let change: BTreeMap<String, Value> = match serde_json::from_slice(body) {
            Ok(change) => change,
            Err(error) => {
                return failure(
                    StatusCode::BAD_REQUEST,
                    format!("a change is a JSON object of \"enabled\" and attributes: {error}"),
                );
            }
        };
        let mut attributes = change;
        let enabled = match attributes.remove("enabled") {
            None => None,
            Some(Value::Bool(enabled)) => Some(enabled),
            Some(other) => {
                return failure(
                    StatusCode::BAD_REQUEST,
                    format!("\"enabled\" is true or false, not {other}"),
                );
            }
        };
        let mut document = self.document.write().expect("no writer panics");
        match document.set(flag, enabled, attributes) {
            Ok(value) => {
                tracing::info!(flag, value = %json!(value), "flag changed");
                reply(StatusCode::OK, json!(value))
            }
            Err(error) => failure(StatusCode::BAD_REQUEST, error.to_string()),
        }
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a status and a header make a response")
}

fn failure(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    reply(status, json!({ "message": message }))
}
