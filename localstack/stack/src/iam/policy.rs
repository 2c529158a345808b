//! IAM policy documents and how AWS evaluates them for one identity: an
//! explicit `Deny` wins, then any `Allow`, else the call is implicitly
//! denied. Actions match case-insensitively, resources case-sensitively,
//! both with `*` and `?` wildcards. Only the condition operators the
//! shop's policies use are understood; a document with any other is
//! refused when loaded, so nothing is allowed by a condition left unread.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use serde_json::Value;

/// One AWS call as IAM sees it: an action on a resource, with the
/// request's condition keys (lower-cased, as IAM compares them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, Vec<String>>,
}

impl Call {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            context: BTreeMap::new(),
        }
    }

    pub fn with(mut self, key: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.context.insert(
            key.to_ascii_lowercase(),
            values.into_iter().map(Into::into).collect(),
        );
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone)]
pub struct Statement {
    pub effect: Effect,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone)]
struct Condition {
    operator: Operator,
    set: SetQualifier,
    key: String,
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
enum Operator {
    StringEquals,
    StringNotEquals,
    StringLike,
    StringNotLike,
    Null,
}

#[derive(Debug, Clone, Copy)]
enum SetQualifier {
    Single,
    ForAllValues,
    ForAnyValue,
}

/// A named policy document: an inline policy of the role, or a managed one.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub statements: Vec<Statement>,
}

/// What evaluating a call gave, and which statement decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    ExplicitlyDenied,
    ImplicitlyDenied,
}

impl Policy {
    /// Parses a policy document (`{"Statement": [...]}`, intrinsics already resolved).
    pub fn parse(name: &str, document: &Value) -> Result<Self> {
        let statements = match document.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(single @ Value::Object(_)) => vec![single],
            _ => bail!("policy {name} has no Statement"),
        };
        let statements = statements
            .into_iter()
            .map(|s| parse_statement(s).map_err(|e| anyhow!("policy {name}: {e}")))
            .collect::<Result<_>>()?;
        Ok(Self {
            name: name.to_owned(),
            statements,
        })
    }
}

fn parse_statement(statement: &Value) -> Result<Statement> {
    for key in ["NotAction", "NotResource", "NotPrincipal"] {
        if statement.get(key).is_some() {
            bail!("{key} is not understood by the local IAM check");
        }
    }
    let effect = match statement.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        other => bail!("Effect must be Allow or Deny, got {other:?}"),
    };
    let actions = strings(statement.get("Action"), "Action")?;
    let resources = strings(statement.get("Resource"), "Resource")?;
    let mut conditions = Vec::new();
    if let Some(block) = statement.get("Condition") {
        let block = block
            .as_object()
            .ok_or_else(|| anyhow!("Condition must be an object"))?;
        for (operator_name, keys) in block {
            let (set, operator) = parse_operator(operator_name)?;
            let keys = keys
                .as_object()
                .ok_or_else(|| anyhow!("{operator_name} must map keys to values"))?;
            for (key, values) in keys {
                conditions.push(Condition {
                    operator,
                    set,
                    key: key.to_ascii_lowercase(),
                    values: strings(Some(values), key)?,
                });
            }
        }
    }
    Ok(Statement {
        effect,
        actions,
        resources,
        conditions,
    })
}

fn parse_operator(name: &str) -> Result<(SetQualifier, Operator)> {
    let (set, base) = match name.split_once(':') {
        Some(("ForAllValues", base)) => (SetQualifier::ForAllValues, base),
        Some(("ForAnyValue", base)) => (SetQualifier::ForAnyValue, base),
        Some(_) => bail!("condition operator {name} is not understood by the local IAM check"),
        None => (SetQualifier::Single, name),
    };
    let operator = match base {
        "StringEquals" => Operator::StringEquals,
        "StringNotEquals" => Operator::StringNotEquals,
        "StringLike" => Operator::StringLike,
        "StringNotLike" => Operator::StringNotLike,
        "Null" => Operator::Null,
        _ => bail!("condition operator {name} is not understood by the local IAM check"),
    };
    Ok((set, operator))
}

fn strings(value: Option<&Value>, what: &str) -> Result<Vec<String>> {
    match value {
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Bool(b)) => Ok(vec![b.to_string()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Bool(b) => Ok(b.to_string()),
                other => Err(anyhow!("{what}: expected strings, got {other}")),
            })
            .collect(),
        other => bail!("{what}: expected a string or a list, got {other:?}"),
    }
}

impl Statement {
    /// Whether this statement speaks of `call` (action, resource and every condition).
    pub fn applies_to(&self, call: &Call) -> bool {
        self.matches_action(&call.action)
            && self.matches_resource(&call.resource)
            && self.conditions.iter().all(|c| c.holds(&call.context))
    }

    pub fn matches_action(&self, action: &str) -> bool {
        let action = action.to_ascii_lowercase();
        self.actions
            .iter()
            .any(|pattern| wildcard(&pattern.to_ascii_lowercase(), &action))
    }

    pub fn matches_resource(&self, resource: &str) -> bool {
        self.resources.iter().any(|pattern| wildcard(pattern, resource))
    }
}

impl Condition {
    fn holds(&self, context: &BTreeMap<String, Vec<String>>) -> bool {
        let present = context.get(&self.key).filter(|v| !v.is_empty());
        if let Operator::Null = self.operator {
            let wants_absent = self.values.iter().any(|v| v == "true");
            return present.is_none() == wants_absent;
        }
        let negated = matches!(self.operator, Operator::StringNotEquals | Operator::StringNotLike);
        let one = |value: &str| {
            let matched = self.values.iter().any(|expected| match self.operator {
                Operator::StringEquals | Operator::StringNotEquals => expected == value,
                _ => wildcard(expected, value),
            });
            matched != negated
        };
        match (self.set, present) {
            // A negated operator holds for a key the request lacks; the others do not.
            (SetQualifier::Single, None) => negated,
            (SetQualifier::Single, Some(values)) => values.iter().all(|v| one(v)),
            (SetQualifier::ForAllValues, None) => true,
            (SetQualifier::ForAllValues, Some(values)) => values.iter().all(|v| one(v)),
            (SetQualifier::ForAnyValue, None) => false,
            (SetQualifier::ForAnyValue, Some(values)) => values.iter().any(|v| one(v)),
        }
    }
}

/// Evaluates `call` against every statement of `policies`.
pub fn evaluate<'p>(policies: impl IntoIterator<Item = &'p Policy>, call: &Call) -> Decision {
    let mut allowed = false;
    for statement in policies.into_iter().flat_map(|p| &p.statements) {
        if statement.applies_to(call) {
            match statement.effect {
                Effect::Deny => return Decision::ExplicitlyDenied,
                Effect::Allow => allowed = true,
            }
        }
    }
    if allowed {
        Decision::Allowed
    } else {
        Decision::ImplicitlyDenied
    }
}

/// IAM's glob: `*` any run of characters (`:` and `/` included), `?` one.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/shop-Orders";

    fn policy(statements: Value) -> Policy {
        Policy::parse("test", &json!({ "Statement": statements })).unwrap()
    }

    #[test]
    fn wildcards_match_as_iam_globs() {
        assert!(wildcard("dynamodb:*", "dynamodb:getitem"));
        assert!(wildcard("dynamodb:Get*", "dynamodb:GetItem"));
        assert!(wildcard(
            "arn:aws:dynamodb:*:*:table/shop-*/index/*",
            &format!("{TABLE}/index/byUser")
        ));
        assert!(wildcard(
            "arn:aws:sqs:us-east-1:1:q?",
            "arn:aws:sqs:us-east-1:1:q1"
        ));
        assert!(!wildcard(
            "arn:aws:sqs:us-east-1:1:q?",
            "arn:aws:sqs:us-east-1:1:q12"
        ));
        assert!(!wildcard(TABLE, &format!("{TABLE}/index/byUser")));
        assert!(wildcard("*", ""));
    }

    #[test]
    fn allow_needs_a_matching_action_and_resource() {
        let p = policy(json!([{"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": TABLE}]));
        assert_eq!(
            evaluate([&p], &Call::new("dynamodb:GetItem", TABLE)),
            Decision::Allowed
        );
        assert_eq!(
            evaluate([&p], &Call::new("dynamodb:getitem", TABLE)),
            Decision::Allowed
        );
        assert_eq!(
            evaluate([&p], &Call::new("dynamodb:DeleteItem", TABLE)),
            Decision::ImplicitlyDenied
        );
        assert_eq!(
            evaluate([&p], &Call::new("dynamodb:GetItem", format!("{TABLE}2"))),
            Decision::ImplicitlyDenied
        );
    }

    #[test]
    fn an_explicit_deny_wins_over_any_allow() {
        let allow = policy(json!({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}));
        let deny = policy(json!({"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE}));
        assert_eq!(
            evaluate([&allow, &deny], &Call::new("dynamodb:DeleteItem", TABLE)),
            Decision::ExplicitlyDenied
        );
        assert_eq!(
            evaluate([&allow, &deny], &Call::new("dynamodb:GetItem", TABLE)),
            Decision::Allowed
        );
    }

    #[test]
    fn string_conditions_read_the_calls_keys() {
        let bus = "arn:aws:events:us-east-1:123456789012:event-bus/shop";
        let p = policy(json!({
            "Effect": "Allow", "Action": "events:PutEvents", "Resource": bus,
            "Condition": {"StringEquals": {"events:source": ["astroshop.inventory"]}}
        }));
        let call = |source: &str| Call::new("events:PutEvents", bus).with("events:source", [source]);
        assert_eq!(evaluate([&p], &call("astroshop.inventory")), Decision::Allowed);
        assert_eq!(
            evaluate([&p], &call("astroshop.payment")),
            Decision::ImplicitlyDenied
        );
        assert_eq!(
            evaluate([&p], &Call::new("events:PutEvents", bus)),
            Decision::ImplicitlyDenied
        );
    }

    #[test]
    fn set_operators_and_null_follow_iam() {
        let key = "arn:aws:kms:us-east-1:123456789012:key/k";
        let p = policy(json!({
            "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key,
            "Condition": {
                "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["orderId"]},
                "Null": {"kms:EncryptionContext:orderId": "false"}
            }
        }));
        let with = |keys: &[&str]| {
            let mut call =
                Call::new("kms:Decrypt", key).with("kms:EncryptionContextKeys", keys.iter().copied());
            for k in keys {
                call = call.with(&format!("kms:EncryptionContext:{k}"), ["v"]);
            }
            call
        };
        assert_eq!(evaluate([&p], &with(&["orderId"])), Decision::Allowed);
        assert_eq!(
            evaluate([&p], &with(&["orderId", "other"])),
            Decision::ImplicitlyDenied
        );
        assert_eq!(evaluate([&p], &with(&[])), Decision::ImplicitlyDenied);
    }

    #[test]
    fn what_the_check_cannot_read_is_refused_when_loaded() {
        let not_action = json!({"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]});
        assert!(Policy::parse("p", &not_action).is_err());
        let operator = json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]});
        assert!(Policy::parse("p", &operator).is_err());
    }
}
