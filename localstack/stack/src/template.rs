//! `infra/template.yaml`, read as the cloud reads it: the one list of the
//! shop's functions, routes and resources. The local stack derives everything
//! it creates and runs from this model, so nothing is listed twice.

use std::collections::BTreeMap;
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
    /// function name `cargo lambda watch` serves it under.
    pub binary: String,
    /// Environment variables, intrinsics unresolved.
    pub environment: BTreeMap<String, Value>,
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
    Sqs { queue: Value, polling: Polling },
    /// `Type: DynamoDB`: `stream` is the stream's ARN, intrinsics unresolved.
    DynamoDb {
        stream: Value,
        from_start: bool,
        polling: Polling,
        /// `None` retries until the record expires, as Lambda does.
        max_retries: Option<u32>,
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
        let functions = resources
            .iter()
            .filter(|(_, r)| r.kind == "AWS::Serverless::Function")
            .map(|(id, r)| parse_function(id, r, &globals))
            .collect::<Result<_>>()?;
        Ok(Self { resources, functions })
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
                let field = |key: &str| {
                    event
                        .pointer(&format!("/Properties/{key}"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| anyhow!("function {id}, event {name}: HttpApi without {key}"))
                };
                routes.push(HttpRoute {
                    method: field("Method")?.to_ascii_uppercase(),
                    path: field("Path")?.to_owned(),
                });
            }
        }
    }
    Ok(Function {
        logical_id: id.to_owned(),
        binary,
        environment,
        routes,
        sources,
    })
}

/// The trigger an `Events` entry declares, if it is one Lambda polls or runs.
fn event_source(event: &Value) -> Result<Option<SourceKind>> {
    let properties = event.get("Properties").cloned().unwrap_or(Value::Null);
    let number = |key: &str, default: u64| -> Result<u64> {
        match properties.get(key) {
            None => Ok(default),
            Some(value) => value
                .as_u64()
                .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| anyhow!("{key} is not a whole number: {value}")),
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
      Environment:
        Variables:
          THINGS_TABLE: !Ref Things
          THINGS_ARN: !GetAtt Things.Arn
      Events:
        Api:
          Type: HttpApi
          Properties: {Method: get, Path: /api/things}
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
            FunctionResponseTypes: [ReportBatchItemFailures]
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            MaximumBatchingWindowInSeconds: 1
"#;

    #[test]
    fn functions_carry_their_binary_routes_and_merged_environment() {
        let template = Template::parse(TEMPLATE).unwrap();
        let function = template.function("ListThings").unwrap();
        assert_eq!(function.binary, "list-things");
        assert_eq!(
            function.routes,
            vec![HttpRoute {
                method: "GET".into(),
                path: "/api/things".into()
            }]
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
            }
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
    }
}
