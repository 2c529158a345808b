//! `infra/template.yaml`, read as the cloud reads it: the one list of the
//! shop's functions, routes and resources. The local stack derives everything
//! it creates and runs from this model, so nothing is listed twice.

use std::collections::BTreeMap;
use std::path::Path;

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
    if let Some(Value::Object(events)) = properties.get("Events") {
        for (name, event) in events {
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
    })
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
