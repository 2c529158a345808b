//! `infra/template.yaml`, read as the cloud reads it: the one list of the
//! shop's functions, routes (with the authorizer and throttling each gets)
//! and resources.
//! The local stack derives everything it creates and runs from this model,
//! so nothing is listed twice. What the local stack cannot do as the cloud
//! does (a Lambda authorizer, a default authorizer, scopes, an event's own
//! route settings) is refused here, rather than served open.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value};

/// A parsed template: resources by logical id, with the SAM `Globals` applied
/// to every function.
#[derive(Debug, Clone)]
pub struct Template {
    resources: BTreeMap<String, Resource>,
    functions: Vec<Function>,
    authorizers: BTreeMap<String, JwtAuthorizer>,
    /// The throttled routes, by route key.
    throttling: BTreeMap<String, Throttling>,
    /// The template's `Parameters`, each at its `Default` (the local stack
    /// is deployed with no overrides).
    parameters: BTreeMap<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: String,
    pub properties: Value,
    pub metadata: Value,
}

/// A Lambda function of the template and what triggers it.
#[derive(Debug, Clone)]
pub struct Function {
    pub logical_id: String,
    /// The cargo binary (`Metadata.BuildProperties.Binary`), which is also the
    /// function name the stack's runtime serves it under.
    pub binary: String,
    /// Environment variables, intrinsics unresolved.
    pub environment: BTreeMap<String, Value>,
    /// `ReservedConcurrentExecutions`: instances kept for this function alone,
    /// and the most it may run at once.
    pub reserved_concurrency: Option<u32>,
    /// `Timeout`: how long one invocation may run (Lambda's 3 s when unset).
    pub timeout: Duration,
    /// `MemorySize` in MB (Lambda's 128 when unset).
    pub memory_mb: u32,
    pub routes: Vec<HttpRoute>,
    /// The non-HTTP triggers: queues, streams and schedules.
    pub sources: Vec<EventSource>,
}

/// A trigger Lambda polls or runs for the function (an event source mapping
/// or a schedule), as the template's `Events` declare it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSource {
    /// The event's name in the template.
    pub name: String,
    pub kind: SourceKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// `Type: SQS`: `queue` is the queue's ARN, intrinsics unresolved.
    Sqs {
        queue: Value,
        polling: Polling,
        /// `ScalingConfig.MaximumConcurrency`: the most batches of the queue
        /// in flight at once (`None`: as many as the function may run).
        maximum_concurrency: Option<u32>,
    },
    /// `Type: DynamoDB`: `stream` is the stream's ARN, intrinsics unresolved.
    DynamoDb {
        stream: Value,
        from_start: bool,
        polling: Polling,
        /// `None` retries until the record expires, as Lambda does.
        max_retries: Option<u32>,
        /// `BisectBatchOnFunctionError`: a failed batch is split in two
        /// before it is retried, until the record that fails is alone.
        bisect: bool,
        /// `DestinationConfig.OnFailure.Destination`: the SQS queue told of
        /// a batch whose retries ran out.
        on_failure: Option<Value>,
    },
    /// `Type: Schedule` with a `rate(...)` expression.
    Schedule { every: Duration, enabled: bool },
}

/// How an event source mapping batches records and reads the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    pub batch_size: usize,
    pub batching_window: Duration,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`.
    pub reports_item_failures: bool,
}

/// An `HttpApi` event: a route of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// Upper-case method, or `ANY`.
    pub method: String,
    pub path: String,
    /// The authorizer the route names (`Auth.Authorizer`), which checks every
    /// request before the function runs; `None` for an open route.
    pub authorizer: Option<String>,
}

impl HttpRoute {
    /// The route key API Gateway names the route by (`GET /api/cart`).
    pub fn key(&self) -> String {
        route_key(&self.method, &self.path)
    }
}

/// The route key of `method` (upper-case, or `ANY`) on `path` (`$default`
/// for the catch-all), as API Gateway writes it.
pub fn route_key(method: &str, path: &str) -> String {
    if path == "$default" {
        path.to_owned()
    } else {
        format!("{method} {path}")
    }
}

/// A route's throttling, as the HTTP API's stage sets it: a bucket of
/// `burst` requests refilled at `rate_per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttling {
    /// `ThrottlingRateLimit`: the steady rate, requests per second.
    pub rate_per_second: f64,
    /// `ThrottlingBurstLimit`: the bucket's size.
    pub burst: u32,
}

/// A JWT authorizer of the HTTP API (`Auth.Authorizers.<name>` with a
/// `JwtConfiguration`), as SAM declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtAuthorizer {
    /// Where the token is, e.g. `$request.header.Authorization`.
    pub identity_source: String,
    /// The one issuer accepted, intrinsics unresolved.
    pub issuer: Value,
    /// The audiences accepted (an `aud` or `client_id`), intrinsics unresolved.
    pub audience: Vec<Value>,
}

impl Template {
    /// The shop's own `infra/template.yaml`.
    pub fn shop() -> Result<Self> {
        Self::load(&crate::tools::repo_root().join("infra/template.yaml"))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let yaml: serde_yaml::Value = serde_yaml::from_str(text)?;
        let document = yaml_to_json(yaml)?;
        let globals = document
            .pointer("/Globals/Function")
            .cloned()
            .unwrap_or(Value::Null);
        let Some(Value::Object(resources)) = document.get("Resources") else {
            bail!("the template has no Resources");
        };
        let parameters = match document.get("Parameters") {
            None => BTreeMap::new(),
            Some(Value::Object(parameters)) => parameters
                .iter()
                .map(|(id, parameter)| {
                    let default = parameter.get("Default").ok_or_else(|| {
                        anyhow!("parameter {id} has no Default, which the local stack deploys with")
                    })?;
                    Ok((id.clone(), default.clone()))
                })
                .collect::<Result<_>>()?,
            Some(other) => bail!("Parameters is not a map: {other}"),
        };
        let resources: BTreeMap<String, Resource> = resources
            .iter()
            .map(|(id, body)| {
                let kind = body
                    .get("Type")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("resource {id} has no Type"))?;
                let field = |name| body.get(name).cloned().unwrap_or(Value::Object(Map::new()));
                Ok((
                    id.clone(),
                    Resource {
                        kind: kind.to_owned(),
                        properties: field("Properties"),
                        metadata: field("Metadata"),
                    },
                ))
            })
            .collect::<Result<_>>()?;
        let functions: Vec<Function> = resources
            .iter()
            .filter(|(_, r)| r.kind == "AWS::Serverless::Function")
            .map(|(id, r)| parse_function(id, r, &globals))
            .collect::<Result<_>>()?;
        let mut authorizers = BTreeMap::new();
        for (id, api) in resources
            .iter()
            .filter(|(_, r)| r.kind == "AWS::Serverless::HttpApi")
        {
            for (name, authorizer) in
                parse_authorizers(&api.properties).with_context(|| format!("HttpApi {id}"))?
            {
                if authorizers.insert(name.clone(), authorizer).is_some() {
                    bail!("two HTTP APIs declare an authorizer {name}; the local stack serves one API");
                }
            }
        }
        for function in &functions {
            for route in &function.routes {
                if let Some(name) = &route.authorizer
                    && !authorizers.contains_key(name)
                {
                    bail!(
                        "function {}: {} {} names the authorizer {name}, which no HttpApi declares",
                        function.logical_id,
                        route.method,
                        route.path
                    );
                }
            }
        }
        let route_keys: BTreeSet<String> = functions
            .iter()
            .flat_map(|f| f.routes.iter().map(HttpRoute::key))
            .collect();
        let mut throttling = BTreeMap::new();
        for (id, api) in resources
            .iter()
            .filter(|(_, r)| r.kind == "AWS::Serverless::HttpApi")
        {
            let throttled =
                parse_throttling(&api.properties, &route_keys).with_context(|| format!("HttpApi {id}"))?;
            if !throttled.is_empty() && !throttling.is_empty() {
                bail!("two HTTP APIs throttle routes; the local stack serves one API");
            }
            throttling.extend(throttled);
        }
        Ok(Self {
            resources,
            functions,
            authorizers,
            throttling,
            parameters,
        })
    }

    pub fn functions(&self) -> &[Function] {
        &self.functions
    }

    pub fn function(&self, logical_id: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.logical_id == logical_id)
    }

    pub fn resource(&self, logical_id: &str) -> Option<&Resource> {
        self.resources.get(logical_id)
    }

    /// Every resource, by logical id.
    pub fn resources(&self) -> impl Iterator<Item = (&str, &Resource)> {
        self.resources.iter().map(|(id, r)| (id.as_str(), r))
    }

    /// The HTTP API's JWT authorizers, by the name routes give them.
    pub fn jwt_authorizers(&self) -> &BTreeMap<String, JwtAuthorizer> {
        &self.authorizers
    }

    /// The throttling of the route `route_key`: its own `RouteSettings`
    /// over the API's `DefaultRouteSettings`; `None` for an unthrottled route.
    pub fn route_throttling(&self, route_key: &str) -> Option<Throttling> {
        self.throttling.get(route_key).copied()
    }

    /// The value a template parameter takes locally: its `Default`.
    pub fn parameter(&self, id: &str) -> Option<&Value> {
        self.parameters.get(id)
    }

    /// Resources of one CloudFormation type, by logical id.
    pub fn resources_of<'t>(&'t self, kind: &'t str) -> impl Iterator<Item = (&'t str, &'t Resource)> + 't {
        self.resources
            .iter()
            .filter(move |(_, r)| r.kind == kind)
            .map(|(id, r)| (id.as_str(), r))
    }
}

fn parse_function(id: &str, resource: &Resource, globals: &Value) -> Result<Function> {
    let properties = &resource.properties;
    let binary = resource
        .metadata
        .pointer("/BuildProperties/Binary")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("function {id} has no Metadata.BuildProperties.Binary"))?
        .to_owned();
    let mut environment = BTreeMap::new();
    for source in [globals, properties] {
        if let Some(Value::Object(vars)) = source.pointer("/Environment/Variables") {
            environment.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let reserved_concurrency = match properties
        .get("ReservedConcurrentExecutions")
        .or_else(|| globals.get("ReservedConcurrentExecutions"))
    {
        None => None,
        Some(value) => Some(
            whole_number(value)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    anyhow!("function {id}: ReservedConcurrentExecutions is not a count: {value}")
                })?,
        ),
    };
    let timeout = match properties.get("Timeout").or_else(|| globals.get("Timeout")) {
        None => Duration::from_secs(3),
        Some(value) => Duration::from_secs(
            whole_number(value)
                .ok_or_else(|| anyhow!("function {id}: Timeout is not a number of seconds: {value}"))?,
        ),
    };
    let memory_mb = match properties.get("MemorySize").or_else(|| globals.get("MemorySize")) {
        None => 128,
        Some(value) => whole_number(value)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| anyhow!("function {id}: MemorySize is not a number of MB: {value}"))?,
    };
    let mut routes = Vec::new();
    let mut sources = Vec::new();
    if let Some(Value::Object(events)) = properties.get("Events") {
        for (name, event) in events {
            if let Some(kind) = event_source(event).with_context(|| format!("function {id}, event {name}"))? {
                sources.push(EventSource {
                    name: name.clone(),
                    kind,
                });
            }
            if event.get("Type").and_then(Value::as_str) == Some("HttpApi") {
                if event.pointer("/Properties/RouteSettings").is_some() {
                    bail!(
                        "function {id}, event {name}: the local gateway reads route settings from the HttpApi's RouteSettings only"
                    );
                }
                let field = |key: &str| {
                    event
                        .pointer(&format!("/Properties/{key}"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| anyhow!("function {id}, event {name}: HttpApi without {key}"))
                };
                routes.push(HttpRoute {
                    method: field("Method")?.to_ascii_uppercase(),
                    path: field("Path")?.to_owned(),
                    authorizer: route_authorizer(event)
                        .with_context(|| format!("function {id}, event {name}"))?,
                });
            }
        }
    }
    Ok(Function {
        logical_id: id.to_owned(),
        binary,
        environment,
        reserved_concurrency,
        timeout,
        memory_mb,
        routes,
        sources,
    })
}

/// The authorizer an `HttpApi` event names; SAM's `NONE` is none.
fn route_authorizer(event: &Value) -> Result<Option<String>> {
    let Some(auth) = event.pointer("/Properties/Auth") else {
        return Ok(None);
    };
    if auth.get("AuthorizationScopes").is_some() {
        bail!("the local gateway does not check AuthorizationScopes");
    }
    match auth.get("Authorizer") {
        None => Ok(None),
        Some(Value::String(name)) if name == "NONE" => Ok(None),
        Some(Value::String(name)) => Ok(Some(name.clone())),
        Some(other) => bail!("Auth.Authorizer is not a name: {other}"),
    }
}

/// The JWT authorizers an `AWS::Serverless::HttpApi` declares in `Auth`.
fn parse_authorizers(properties: &Value) -> Result<Vec<(String, JwtAuthorizer)>> {
    let Some(auth) = properties.get("Auth") else {
        return Ok(Vec::new());
    };
    if auth.get("DefaultAuthorizer").is_some() {
        bail!("the local gateway does not apply a DefaultAuthorizer; name the authorizer on each route");
    }
    let Some(Value::Object(authorizers)) = auth.get("Authorizers") else {
        return Ok(Vec::new());
    };
    authorizers
        .iter()
        .map(|(name, body)| {
            let Some(jwt) = body.get("JwtConfiguration") else {
                bail!("authorizer {name}: the local gateway serves JWT authorizers only");
            };
            if body.get("AuthorizationScopes").is_some() {
                bail!("authorizer {name}: the local gateway does not check AuthorizationScopes");
            }
            let identity_source = match body.get("IdentitySource") {
                None => "$request.header.Authorization".to_owned(),
                Some(Value::String(source)) => source.clone(),
                Some(other) => bail!("authorizer {name}: IdentitySource is not a string: {other}"),
            };
            let issuer = jwt
                .get("issuer")
                .cloned()
                .ok_or_else(|| anyhow!("authorizer {name}: JwtConfiguration has no issuer"))?;
            let audience = match jwt.get("audience") {
                Some(Value::Array(audiences)) => audiences.clone(),
                Some(one) => vec![one.clone()],
                None => bail!("authorizer {name}: JwtConfiguration has no audience"),
            };
            Ok((
                name.clone(),
                JwtAuthorizer {
                    identity_source,
                    issuer,
                    audience,
                },
            ))
        })
        .collect()
}

/// The throttling of each route in `route_keys` that an
/// `AWS::Serverless::HttpApi` throttles: the route's `RouteSettings` over the
/// `DefaultRouteSettings`, limit by limit. A route key that is no route is an
/// error, as it is when the stage is deployed.
fn parse_throttling(
    properties: &Value,
    route_keys: &BTreeSet<String>,
) -> Result<BTreeMap<String, Throttling>> {
    let default = match properties.get("DefaultRouteSettings") {
        None => Limits::default(),
        Some(settings) => Limits::parse(settings).context("DefaultRouteSettings")?,
    };
    let mut routes = BTreeMap::new();
    match properties.get("RouteSettings") {
        None => {}
        Some(Value::Object(settings)) => {
            for (key, settings) in settings {
                if !route_keys.contains(key) {
                    bail!("RouteSettings names {key:?}, which is no route of the API");
                }
                routes.insert(
                    key.as_str(),
                    Limits::parse(settings).with_context(|| format!("RouteSettings {key}"))?,
                );
            }
        }
        Some(other) => bail!("RouteSettings is not a map of route keys: {other}"),
    }
    let mut throttling = BTreeMap::new();
    for key in route_keys {
        let own = routes.get(key.as_str()).copied().unwrap_or_default();
        match (own.rate.or(default.rate), own.burst.or(default.burst)) {
            (None, None) => {}
            (Some(rate_per_second), Some(burst)) => {
                throttling.insert(
                    key.clone(),
                    Throttling {
                        rate_per_second,
                        burst,
                    },
                );
            }
            _ => bail!(
                "{key}: a rate limit without a burst limit (or the reverse) leaves the other to the account's limit, which the local gateway does not model; set both"
            ),
        }
    }
    Ok(throttling)
}

/// The throttling limits one set of route settings gives, each optional.
#[derive(Debug, Clone, Copy, Default)]
struct Limits {
    rate: Option<f64>,
    burst: Option<u32>,
}

impl Limits {
    fn parse(settings: &Value) -> Result<Self> {
        let rate = match settings.get("ThrottlingRateLimit") {
            None => None,
            Some(value) => Some(
                value
                    .as_f64()
                    .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
                    .filter(|rate: &f64| rate.is_finite() && *rate >= 0.0)
                    .ok_or_else(|| anyhow!("ThrottlingRateLimit is not a rate: {value}"))?,
            ),
        };
        let burst = match settings.get("ThrottlingBurstLimit") {
            None => None,
            Some(value) => Some(
                whole_number(value)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| anyhow!("ThrottlingBurstLimit is not a count: {value}"))?,
            ),
        };
        Ok(Self { rate, burst })
    }
}

/// The trigger an `Events` entry declares, if it is one Lambda polls or runs.
fn event_source(event: &Value) -> Result<Option<SourceKind>> {
    let properties = event.get("Properties").cloned().unwrap_or(Value::Null);
    let number = |key: &str, default: u64| -> Result<u64> {
        match properties.get(key) {
            None => Ok(default),
            Some(value) => whole_number(value).ok_or_else(|| anyhow!("{key} is not a whole number: {value}")),
        }
    };
    let polling = |default_batch: u64| -> Result<Polling> {
        Ok(Polling {
            batch_size: usize::try_from(number("BatchSize", default_batch)?)?,
            batching_window: Duration::from_secs(number("MaximumBatchingWindowInSeconds", 0)?),
            reports_item_failures: properties
                .get("FunctionResponseTypes")
                .and_then(Value::as_array)
                .is_some_and(|types| types.iter().any(|t| t == "ReportBatchItemFailures")),
        })
    };
    let required = |key: &str| {
        properties
            .get(key)
            .cloned()
            .ok_or_else(|| anyhow!("{key} is required"))
    };
    Ok(Some(match event.get("Type").and_then(Value::as_str) {
        Some("SQS") => SourceKind::Sqs {
            queue: required("Queue")?,
            polling: polling(10)?,
            maximum_concurrency: match properties.pointer("/ScalingConfig/MaximumConcurrency") {
                None => None,
                // Lambda's bounds: fewer than two is refused at deploy.
                Some(value) => Some(
                    whole_number(value)
                        .and_then(|n| u32::try_from(n).ok())
                        .filter(|n| (2..=1000).contains(n))
                        .ok_or_else(|| anyhow!("MaximumConcurrency is not from 2 to 1000: {value}"))?,
                ),
            },
        },
        Some("DynamoDB") => SourceKind::DynamoDb {
            stream: required("Stream")?,
            from_start: match properties.get("StartingPosition").and_then(Value::as_str) {
                Some("TRIM_HORIZON") => true,
                Some("LATEST") => false,
                other => bail!("StartingPosition {other:?} is not TRIM_HORIZON or LATEST"),
            },
            polling: polling(100)?,
            // -1, Lambda's default, is "until the record expires".
            max_retries: match properties.get("MaximumRetryAttempts").and_then(Value::as_i64) {
                None | Some(-1) => None,
                Some(n) => Some(u32::try_from(n)?),
            },
            bisect: properties.get("BisectBatchOnFunctionError") == Some(&Value::Bool(true)),
            on_failure: match properties.pointer("/DestinationConfig/OnFailure") {
                None => None,
                Some(on_failure) => {
                    if let Some(kind) = on_failure.get("Type").and_then(Value::as_str)
                        && kind != "SQS"
                    {
                        bail!("OnFailure Type {kind}: the local stack sends to SQS destinations only");
                    }
                    Some(
                        on_failure
                            .get("Destination")
                            .cloned()
                            .ok_or_else(|| anyhow!("OnFailure has no Destination"))?,
                    )
                }
            },
        },
        Some("Schedule") => {
            let expression = required("Schedule")?;
            let expression = expression
                .as_str()
                .ok_or_else(|| anyhow!("Schedule is not a string"))?;
            SourceKind::Schedule {
                every: rate(expression)?,
                enabled: properties.get("Enabled") != Some(&Value::Bool(false)),
            }
        }
        _ => return Ok(None),
    }))
}

/// A whole number, written as one or as a string (CloudFormation takes both).
fn whole_number(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

/// The period of an EventBridge `rate(N unit)` expression.
fn rate(expression: &str) -> Result<Duration> {
    let inner = expression
        .strip_prefix("rate(")
        .and_then(|rest| rest.strip_suffix(')'))
        .ok_or_else(|| anyhow!("{expression:?}: the local stack runs rate(...) schedules only"))?;
    let (count, unit) = inner
        .trim()
        .split_once(' ')
        .ok_or_else(|| anyhow!("{expression:?} is not rate(<number> <unit>)"))?;
    let count: u64 = count.parse().with_context(|| format!("{expression:?}"))?;
    let seconds = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86400,
        other => bail!("{expression:?}: unknown unit {other:?}"),
    };
    if count == 0 {
        bail!("{expression:?}: the rate must be positive");
    }
    Ok(Duration::from_secs(count * seconds))
}

/// YAML to JSON, turning the short forms of intrinsic functions (`!Ref X`,
/// `!GetAtt A.B`, `!Sub "…"`) into their long forms (`{"Ref": "X"}`, …).
fn yaml_to_json(yaml: serde_yaml::Value) -> Result<Value> {
    use serde_yaml::Value as Y;
    Ok(match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n)?,
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect::<Result<_>>()?),
        Y::Mapping(map) => {
            let mut object = Map::new();
            for (key, value) in map {
                let key = match key {
                    Y::String(s) => s,
                    other => serde_yaml::to_string(&other)?.trim().to_owned(),
                };
                object.insert(key, yaml_to_json(value)?);
            }
            Value::Object(object)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = yaml_to_json(tagged.value)?;
            let long = match name {
                "Ref" => "Ref".to_owned(),
                "GetAtt" => {
                    let value = match value {
                        Value::String(dotted) => {
                            let (resource, attribute) = dotted
                                .split_once('.')
                                .ok_or_else(|| anyhow!("!GetAtt {dotted} has no attribute"))?;
                            Value::Array(vec![resource.into(), attribute.into()])
                        }
                        other => other,
                    };
                    return Ok(Value::Object(Map::from_iter([("Fn::GetAtt".to_owned(), value)])));
                }
                other => format!("Fn::{other}"),
            };
            Value::Object(Map::from_iter([(long, value)]))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Globals:
  Function:
    Environment:
      Variables:
        RUST_LOG: info
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefaultRouteSettings:
        ThrottlingRateLimit: 100
        ThrottlingBurstLimit: 200
      RouteSettings:
        "GET /api/my/things":
          ThrottlingRateLimit: 5
      Auth:
        Authorizers:
          Member:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: !Sub "https://cognito-idp.${AWS::Region}.amazonaws.com/${Pool}"
              audience: [!Ref PoolClient]
  Things:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  ListThings:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: list-things
    Properties:
      ReservedConcurrentExecutions: 4
      Environment:
        Variables:
          THINGS_TABLE: !Ref Things
          THINGS_ARN: !GetAtt Things.Arn
      Events:
        Api:
          Type: HttpApi
          Properties: {Method: get, Path: /api/things}
        Mine:
          Type: HttpApi
          Properties:
            Method: get
            Path: /api/my/things
            Auth: {Authorizer: Member}
        Open:
          Type: HttpApi
          Properties:
            Method: get
            Path: /api/open/things
            Auth: {Authorizer: NONE}
        Other:
          Type: Schedule
          Properties: {Schedule: rate(1 minute)}
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Things.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 25
            MaximumRetryAttempts: 3
            BisectBatchOnFunctionError: true
            FunctionResponseTypes: [ReportBatchItemFailures]
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt ThingsDeadLetters.Arn
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            MaximumBatchingWindowInSeconds: 1
            ScalingConfig:
              MaximumConcurrency: 3
"#;

    #[test]
    fn functions_carry_their_binary_routes_and_merged_environment() {
        let template = Template::parse(TEMPLATE).unwrap();
        let function = template.function("ListThings").unwrap();
        assert_eq!(function.binary, "list-things");
        let route = |path: &str| HttpRoute {
            method: "GET".into(),
            path: path.into(),
            authorizer: None,
        };
        assert_eq!(
            function.routes,
            vec![
                route("/api/things"),
                HttpRoute {
                    authorizer: Some("Member".into()),
                    ..route("/api/my/things")
                },
                route("/api/open/things"),
            ]
        );
        assert_eq!(function.environment["RUST_LOG"], "info");
        assert_eq!(
            function.environment["THINGS_TABLE"],
            serde_json::json!({"Ref": "Things"})
        );
        assert_eq!(
            function.environment["THINGS_ARN"],
            serde_json::json!({"Fn::GetAtt": ["Things", "Arn"]})
        );
    }

    #[test]
    fn queues_streams_and_schedules_are_event_sources_with_lambdas_defaults() {
        let template = Template::parse(TEMPLATE).unwrap();
        let sources = &template.function("ListThings").unwrap().sources;
        let source = |name: &str| &sources.iter().find(|s| s.name == name).unwrap().kind;
        assert_eq!(
            *source("Changes"),
            SourceKind::DynamoDb {
                stream: serde_json::json!({"Fn::GetAtt": ["Things", "StreamArn"]}),
                from_start: true,
                polling: Polling {
                    batch_size: 25,
                    batching_window: Duration::ZERO,
                    reports_item_failures: true
                },
                max_retries: Some(3),
                bisect: true,
                on_failure: Some(serde_json::json!({"Fn::GetAtt": ["ThingsDeadLetters", "Arn"]})),
            }
        );
        assert_eq!(
            *source("Work"),
            SourceKind::Sqs {
                queue: serde_json::json!({"Fn::GetAtt": ["WorkQueue", "Arn"]}),
                polling: Polling {
                    batch_size: 10,
                    batching_window: Duration::from_secs(1),
                    reports_item_failures: false
                },
                maximum_concurrency: Some(3),
            }
        );
        assert_eq!(
            template.function("ListThings").unwrap().reserved_concurrency,
            Some(4)
        );
        assert_eq!(
            *source("Other"),
            SourceKind::Schedule {
                every: Duration::from_secs(60),
                enabled: true
            }
        );
    }

    #[test]
    fn a_queue_is_polled_with_at_least_two_batches_in_flight_when_it_says_so() {
        let template = |concurrency: &str| {
            Template::parse(&TEMPLATE.replace(
                "MaximumConcurrency: 3",
                &format!("MaximumConcurrency: {concurrency}"),
            ))
        };
        assert!(template("2").is_ok());
        for refused in ["1", "0", "1001", "many"] {
            assert!(template(refused).is_err(), "MaximumConcurrency {refused}");
        }
        let unscaled = Template::parse(&TEMPLATE.replace("ScalingConfig:", "Other:")).unwrap();
        let sources = &unscaled.function("ListThings").unwrap().sources;
        assert!(
            sources.iter().any(|s| matches!(
                s.kind,
                SourceKind::Sqs {
                    maximum_concurrency: None,
                    ..
                }
            )),
            "{sources:?}"
        );
    }

    #[test]
    fn a_route_is_throttled_by_its_own_settings_over_the_apis_defaults_limit_by_limit() {
        let template = Template::parse(TEMPLATE).unwrap();
        assert_eq!(
            template.route_throttling("GET /api/things"),
            Some(Throttling {
                rate_per_second: 100.0,
                burst: 200
            })
        );
        assert_eq!(
            template.route_throttling("GET /api/my/things"),
            Some(Throttling {
                rate_per_second: 5.0,
                burst: 200
            })
        );
        assert_eq!(template.route_throttling("GET /api/nowhere"), None);
        let no_default = TEMPLATE.replace("DefaultRouteSettings:", "Other:");
        let no_default = no_default.replace(
            "ThrottlingRateLimit: 5",
            "ThrottlingRateLimit: 5\n          ThrottlingBurstLimit: 10",
        );
        let template = Template::parse(&no_default).unwrap();
        assert_eq!(template.route_throttling("GET /api/things"), None);
        assert_eq!(
            template.route_throttling("GET /api/my/things"),
            Some(Throttling {
                rate_per_second: 5.0,
                burst: 10
            })
        );
    }

    #[test]
    fn route_settings_the_local_gateway_cannot_honour_are_refused() {
        let unknown_route = TEMPLATE.replace("\"GET /api/my/things\":", "\"GET /api/my/thongs\":");
        let half_a_limit = TEMPLATE.replace("DefaultRouteSettings:", "Other:");
        let negative = TEMPLATE.replace("ThrottlingRateLimit: 5", "ThrottlingRateLimit: -5");
        let fractional_burst = TEMPLATE.replace("ThrottlingBurstLimit: 200", "ThrottlingBurstLimit: 2.5");
        let intrinsic = TEMPLATE.replace("ThrottlingRateLimit: 5", "ThrottlingRateLimit: !Ref Rate");
        let on_the_event = TEMPLATE.replace(
            "Properties: {Method: get, Path: /api/things}",
            "Properties: {Method: get, Path: /api/things, RouteSettings: {ThrottlingBurstLimit: 1}}",
        );
        for (what, broken) in [
            ("a route that does not exist", unknown_route),
            ("a rate without a burst", half_a_limit),
            ("a negative rate", negative),
            ("a fractional burst", fractional_burst),
            ("an unresolved rate", intrinsic),
            ("settings on the event", on_the_event),
        ] {
            assert!(Template::parse(&broken).is_err(), "{what} was accepted");
        }
    }

    #[test]
    fn schedules_other_than_rates_are_refused() {
        assert_eq!(rate("rate(5 minutes)").unwrap(), Duration::from_secs(300));
        assert_eq!(rate("rate(1 day)").unwrap(), Duration::from_secs(86400));
        for bad in [
            "cron(0 12 * * ? *)",
            "rate(0 minutes)",
            "rate(five minutes)",
            "rate(1 fortnight)",
        ] {
            assert!(rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resources_are_listed_by_type() {
        let template = Template::parse(TEMPLATE).unwrap();
        let tables: Vec<&str> = template
            .resources_of("AWS::DynamoDB::Table")
            .map(|(id, _)| id)
            .collect();
        assert_eq!(tables, ["Things"]);
    }

    #[test]
    fn the_http_apis_jwt_authorizers_are_listed_by_name_intrinsics_unresolved() {
        let template = Template::parse(TEMPLATE).unwrap();
        let authorizers = template.jwt_authorizers();
        assert_eq!(authorizers.keys().collect::<Vec<_>>(), ["Member"]);
        assert_eq!(
            authorizers["Member"],
            JwtAuthorizer {
                identity_source: "$request.header.Authorization".into(),
                issuer: serde_json::json!({"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${Pool}"}),
                audience: vec![serde_json::json!({"Ref": "PoolClient"})],
            }
        );
    }

    #[test]
    fn a_route_naming_an_undeclared_authorizer_is_an_error() {
        let broken = TEMPLATE.replace("Auth: {Authorizer: Member}", "Auth: {Authorizer: Nobody}");
        let error = Template::parse(&broken).unwrap_err();
        assert!(format!("{error:#}").contains("Nobody"), "{error:#}");
    }

    #[test]
    fn what_the_local_gateway_cannot_check_is_refused_rather_than_left_open() {
        let lambda_authorizer = TEMPLATE.replace(
            "            JwtConfiguration:",
            "            FunctionArn: !GetAtt Check.Arn\n            Other:",
        );
        let default_authorizer = TEMPLATE.replace(
            "        Authorizers:",
            "        DefaultAuthorizer: Member\n        Authorizers:",
        );
        let route_scopes = TEMPLATE.replace(
            "Auth: {Authorizer: Member}",
            "Auth: {Authorizer: Member, AuthorizationScopes: [orders]}",
        );
        for (what, broken) in [
            ("a Lambda authorizer", lambda_authorizer),
            ("a default authorizer", default_authorizer),
            ("a route's scopes", route_scopes),
        ] {
            assert!(Template::parse(&broken).is_err(), "{what} was accepted");
        }
    }

    #[test]
    fn a_function_without_a_binary_is_an_error() {
        let broken = TEMPLATE.replace("Binary: list-things", "Other: x");
        let error = Template::parse(&broken).unwrap_err();
        assert!(format!("{error:#}").contains("ListThings"), "{error:#}");
    }

    #[test]
    fn the_shop_template_parses() {
        let template = Template::shop().unwrap();
        assert!(
            template
                .functions()
                .iter()
                .any(|f| f.binary == "catalog-list-products")
        );
        let orders = template.function("OrdersListFunction").unwrap();
        assert!(
            orders
                .routes
                .iter()
                .any(|r| r.path == "/api/orders" && r.authorizer.as_deref() == Some("ShopperToken")),
            "{:?}",
            orders.routes
        );
        assert!(template.jwt_authorizers().contains_key("ShopperToken"));
    }

    #[test]
    fn the_shop_throttles_every_route_and_checkout_hardest() {
        let template = Template::shop().unwrap();
        let checkout = ["POST /api/checkout", "POST /api/account/checkout"];
        let limits: Vec<(String, Throttling)> = template
            .functions()
            .iter()
            .flat_map(|f| &f.routes)
            .map(|r| {
                let key = r.key();
                let throttling = template
                    .route_throttling(&key)
                    .unwrap_or_else(|| panic!("{key} is not throttled"));
                (key, throttling)
            })
            .collect();
        for key in checkout {
            let strict = limits.iter().find(|(k, _)| k == key).unwrap().1;
            for (other, limit) in limits.iter().filter(|(k, _)| !checkout.contains(&k.as_str())) {
                assert!(
                    strict.rate_per_second < limit.rate_per_second && strict.burst < limit.burst,
                    "{key} {strict:?} is not stricter than {other} {limit:?}"
                );
            }
            // One client's burst of 300 checkouts meets its own limit, not the route's.
            assert!(strict.burst >= 300, "{key}: {strict:?}");
        }
    }

    #[test]
    fn every_saga_consumer_polls_with_concurrency_it_has_reserved() {
        let template = Template::shop().unwrap();
        let mut consumers = 0;
        for function in template.functions() {
            for source in &function.sources {
                if let SourceKind::Sqs {
                    maximum_concurrency, ..
                } = source.kind
                {
                    let maximum = maximum_concurrency
                        .unwrap_or_else(|| panic!("{}: no MaximumConcurrency", function.logical_id));
                    let reserved = function.reserved_concurrency.unwrap_or_else(|| {
                        panic!("{}: no ReservedConcurrentExecutions", function.logical_id)
                    });
                    assert!(
                        reserved >= maximum,
                        "{} reserves {reserved}, fewer than its pollers' {maximum}",
                        function.logical_id
                    );
                    consumers += 1;
                }
            }
        }
        assert!(consumers >= 10, "{consumers} queue consumers");
    }
}
