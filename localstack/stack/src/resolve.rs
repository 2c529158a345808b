//! Evaluates the template's intrinsic functions (`Ref`, `Fn::GetAtt`,
//! `Fn::Sub`) against the resources the local stack created, as
//! CloudFormation does against the ones it deployed.

use std::collections::HashMap;

use anyhow::{Result, anyhow, bail};
use serde_json::Value;

use crate::account::{LOCAL_ACCOUNT, LOCAL_REGION};
use crate::template::Template;

/// Where resources live in this run of the stack.
#[derive(Debug, Clone)]
pub struct Names {
    /// Prefixes every physical name, so stacks (and tests) can share one emulator.
    pub prefix: String,
    pub region: String,
    pub account: String,
}

impl Names {
    /// Names in the local stack's account and region.
    pub fn local(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            region: LOCAL_REGION.to_owned(),
            account: LOCAL_ACCOUNT.to_owned(),
        }
    }

    /// The physical name of a resource the template leaves unnamed.
    pub fn physical(&self, logical_id: &str) -> String {
        format!("{}-{logical_id}", self.prefix)
    }

    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:aws:{service}:{}:{}:{resource}", self.region, self.account)
    }
}

pub struct Resolver<'t> {
    template: &'t Template,
    names: Names,
    /// Attributes only known once a resource exists (a queue URL, a stream
    /// ARN), recorded by the provisioner; `"Ref"` is the attribute for `Ref`.
    known: HashMap<(String, String), String>,
}

impl<'t> Resolver<'t> {
    pub fn new(template: &'t Template, names: Names) -> Self {
        Self {
            template,
            names,
            known: HashMap::new(),
        }
    }

    pub fn names(&self) -> &Names {
        &self.names
    }

    pub fn template(&self) -> &'t Template {
        self.template
    }

    pub fn record(&mut self, logical_id: &str, attribute: &str, value: impl Into<String>) {
        self.known
            .insert((logical_id.to_owned(), attribute.to_owned()), value.into());
    }

    /// A value with every intrinsic function evaluated.
    pub fn resolve(&self, value: &Value) -> Result<Value> {
        Ok(match value {
            Value::Object(map) if map.len() == 1 => {
                let (key, argument) = map.iter().next().expect("one entry");
                match key.as_str() {
                    "Ref" => Value::String(self.reference(as_str(argument, "Ref")?)?),
                    "Fn::GetAtt" => {
                        let (id, attribute) = match argument {
                            Value::Array(parts) if parts.len() == 2 => {
                                (as_str(&parts[0], "Fn::GetAtt")?, as_str(&parts[1], "Fn::GetAtt")?)
                            }
                            other => bail!("Fn::GetAtt takes [resource, attribute], got {other}"),
                        };
                        Value::String(self.attribute(id, attribute)?)
                    }
                    "Fn::Sub" => Value::String(self.substitute(argument)?),
                    _ => Value::Object(
                        map.iter()
                            .map(|(k, v)| Ok((k.clone(), self.resolve(v)?)))
                            .collect::<Result<_>>()?,
                    ),
                }
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.resolve(v)?)))
                    .collect::<Result<_>>()?,
            ),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.resolve(v)).collect::<Result<_>>()?)
            }
            other => other.clone(),
        })
    }

    /// A value that must resolve to a string (an environment variable, a name).
    pub fn resolve_string(&self, value: &Value) -> Result<String> {
        match self.resolve(value)? {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => bail!("expected a string, got {other}"),
        }
    }

    fn reference(&self, id: &str) -> Result<String> {
        match id {
            "AWS::Region" => return Ok(self.names.region.clone()),
            "AWS::AccountId" => return Ok(self.names.account.clone()),
            "AWS::Partition" => return Ok("aws".to_owned()),
            "AWS::URLSuffix" => return Ok("amazonaws.com".to_owned()),
            "AWS::StackName" => return Ok(self.names.prefix.clone()),
            _ => {}
        }
        if let Some(value) = self.known.get(&(id.to_owned(), "Ref".to_owned())) {
            return Ok(value.clone());
        }
        if let Some(value) = self.template.parameter(id) {
            return self.resolve_string(value);
        }
        let resource = self
            .template
            .resource(id)
            .ok_or_else(|| anyhow!("Ref to {id}, which the template does not declare"))?;
        Ok(match resource.kind.as_str() {
            "AWS::Serverless::Function" => self.function_binary(id)?,
            "AWS::Serverless::HttpApi" => "local".to_owned(),
            _ => self.physical_name(id, &resource.properties),
        })
    }

    fn attribute(&self, id: &str, attribute: &str) -> Result<String> {
        if let Some(value) = self.known.get(&(id.to_owned(), attribute.to_owned())) {
            return Ok(value.clone());
        }
        let resource = self
            .template
            .resource(id)
            .ok_or_else(|| anyhow!("Fn::GetAtt on {id}, which the template does not declare"))?;
        let name = self.physical_name(id, &resource.properties);
        let value = match (resource.kind.as_str(), attribute) {
            ("AWS::DynamoDB::Table", "Arn") => self.names.arn("dynamodb", &format!("table/{name}")),
            ("AWS::SQS::Queue", "Arn") => self.names.arn("sqs", &name),
            ("AWS::SQS::Queue", "QueueName") => name,
            ("AWS::Events::EventBus", "Arn") => self.names.arn("events", &format!("event-bus/{name}")),
            ("AWS::Events::EventBus", "Name") => name,
            ("AWS::Serverless::Function", "Arn") => self
                .names
                .arn("lambda", &format!("function:{}", self.function_binary(id)?)),
            (kind, attribute) => bail!("Fn::GetAtt {id}.{attribute} ({kind}) is not known locally"),
        };
        Ok(value)
    }

    fn function_binary(&self, id: &str) -> Result<String> {
        self.template
            .function(id)
            .map(|f| f.binary.clone())
            .ok_or_else(|| anyhow!("{id} is not a function"))
    }

    /// The name a resource is given: its own name property when the template
    /// sets one, else the prefixed logical id.
    fn physical_name(&self, id: &str, properties: &Value) -> String {
        ["TableName", "QueueName", "Name"]
            .iter()
            .find_map(|key| properties.get(*key))
            .and_then(|name| self.resolve_string(name).ok())
            .unwrap_or_else(|| self.names.physical(id))
    }

    fn substitute(&self, argument: &Value) -> Result<String> {
        let (text, variables) = match argument {
            Value::String(text) => (text.as_str(), None),
            Value::Array(parts) if parts.len() == 2 => (as_str(&parts[0], "Fn::Sub")?, parts[1].as_object()),
            other => bail!("Fn::Sub takes a string or [string, variables], got {other}"),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| anyhow!("Fn::Sub: unclosed ${{ in {text:?}"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(value) = variables.and_then(|v| v.get(name)) {
                out.push_str(&self.resolve_string(value)?);
            } else if let Some((id, attribute)) = name.split_once('.') {
                out.push_str(&self.attribute(id, attribute)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn as_str<'v>(value: &'v Value, function: &str) -> Result<&'v str> {
    value
        .as_str()
        .ok_or_else(|| anyhow!("{function} takes a string, got {value}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  PerMinute:
    Type: Number
    Default: 60
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
  Named:
    Type: AWS::DynamoDB::Table
    Properties: {TableName: !Sub "${AWS::StackName}-named"}
  Work:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: do-work}}
"#;

    fn names() -> Names {
        Names {
            prefix: "shop".into(),
            region: "eu-west-1".into(),
            account: "000000000000".into(),
        }
    }

    #[test]
    fn refs_and_attributes_resolve_to_prefixed_local_names() {
        let template = Template::parse(TEMPLATE).unwrap();
        let resolver = Resolver::new(&template, names());
        assert_eq!(
            resolver.resolve_string(&json!({"Ref": "Orders"})).unwrap(),
            "shop-Orders"
        );
        assert_eq!(
            resolver.resolve_string(&json!({"Ref": "Named"})).unwrap(),
            "shop-named"
        );
        assert_eq!(resolver.resolve_string(&json!({"Ref": "Fn"})).unwrap(), "do-work");
        assert_eq!(
            resolver
                .resolve_string(&json!({"Fn::GetAtt": ["Orders", "Arn"]}))
                .unwrap(),
            "arn:aws:dynamodb:eu-west-1:000000000000:table/shop-Orders"
        );
    }

    #[test]
    fn recorded_attributes_win() {
        let template = Template::parse(TEMPLATE).unwrap();
        let mut resolver = Resolver::new(&template, names());
        resolver.record("Work", "Ref", "http://127.0.0.1:5000/000000000000/shop-Work");
        assert_eq!(
            resolver.resolve_string(&json!({"Ref": "Work"})).unwrap(),
            "http://127.0.0.1:5000/000000000000/shop-Work"
        );
    }

    #[test]
    fn sub_expands_refs_attributes_pseudo_parameters_and_escapes() {
        let template = Template::parse(TEMPLATE).unwrap();
        let resolver = Resolver::new(&template, names());
        let value = json!({"Fn::Sub": "${Orders}|${Work.Arn}|${AWS::Region}|${!Literal}"});
        assert_eq!(
            resolver.resolve_string(&value).unwrap(),
            "shop-Orders|arn:aws:sqs:eu-west-1:000000000000:shop-Work|eu-west-1|${Literal}"
        );
    }

    #[test]
    fn a_parameter_is_its_default() {
        let template = Template::parse(TEMPLATE).unwrap();
        let resolver = Resolver::new(&template, names());
        assert_eq!(
            resolver.resolve_string(&json!({"Ref": "PerMinute"})).unwrap(),
            "60"
        );
        assert_eq!(
            resolver
                .resolve_string(&json!({"Fn::Sub": "${PerMinute}/min"}))
                .unwrap(),
            "60/min"
        );
        let without_default = TEMPLATE.replace("    Default: 60\n", "");
        assert!(Template::parse(&without_default).is_err());
    }

    #[test]
    fn unknown_references_are_errors() {
        let template = Template::parse(TEMPLATE).unwrap();
        let resolver = Resolver::new(&template, names());
        assert!(resolver.resolve(&json!({"Ref": "Nope"})).is_err());
        assert!(
            resolver
                .resolve(&json!({"Fn::GetAtt": ["Orders", "Nope"]}))
                .is_err()
        );
    }
}
