//! IAM, checked locally. Each function runs with its own identity (its
//! access key id is its name, handed out by a `credential_process` in the
//! functions' AWS config file), and every AWS call it makes passes through
//! the gate (`gate`), which reads the call (`calls`) and evaluates it
//! (`policy`) against the execution role `sam deploy` would give the
//! function: the template run through SAM's own translator
//! (`localstack/roles.py`), its intrinsics resolved against the resources
//! the stack created, plus the managed policies SAM attaches. A denied call
//! gets `AccessDeniedException`, as in AWS.
//!
//! The event source mappings are checked too, as Lambda checks them when a
//! mapping is created: a function whose role may not read its queue or
//! stream does not start. Every decision is counted, and `report` tells,
//! per function, what it used and what it was granted and never used.

pub mod calls;
pub mod gate;
pub mod policy;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::process::Command;
use std::sync::{Mutex, RwLock};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use crate::resolve::Resolver;
use crate::template::SourceKind;
use crate::tools;
use policy::{Call, Decision, Effect, Policy};

/// One function's execution role.
#[derive(Debug, Clone)]
struct Role {
    /// The role's name as CloudFormation would give it.
    name: String,
    /// Its inline policies, from the template.
    inline: Vec<Policy>,
    /// The managed policies SAM attaches (basic execution, tracing, event sources).
    managed: Vec<Policy>,
    /// Policies put on the role while the stack runs (`Iam::put_role_policy`).
    added: Vec<Policy>,
}

impl Role {
    fn policies(&self) -> impl Iterator<Item = &Policy> {
        self.inline.iter().chain(&self.managed).chain(&self.added)
    }
}

/// A call that was refused, worded as AWS words it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Denial {
    pub message: String,
}

/// What one function asked for.
#[derive(Debug, Default)]
struct Usage {
    allowed: BTreeSet<(String, String)>,
    denied: BTreeSet<(String, String)>,
}

pub struct Iam {
    account: String,
    roles: RwLock<BTreeMap<String, Role>>,
    usage: Mutex<BTreeMap<String, Usage>>,
}

impl Iam {
    /// The roles of every function of the resolver's template, keyed by binary.
    pub fn from_template(resolver: &Resolver<'_>) -> Result<Self> {
        let output = Command::new(tools::tool("python3"))
            .arg(tools::repo_root().join("localstack/roles.py"))
            .arg(tools::repo_root().join("infra/template.yaml"))
            .output()
            .context("running localstack/roles.py (SAM's translator)")?;
        if !output.status.success() {
            bail!(
                "SAM's translator refused the template: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let translated: Value =
            serde_json::from_slice(&output.stdout).context("reading the roles SAM made")?;
        Self::from_roles(resolver, &translated)
    }

    /// The roles of `translated` (what `roles.py` prints), intrinsics resolved.
    pub fn from_roles(resolver: &Resolver<'_>, translated: &Value) -> Result<Self> {
        let names = resolver.names();
        let mut roles = BTreeMap::new();
        for function in resolver.template().functions() {
            let role = translated
                .get(&function.logical_id)
                .ok_or_else(|| anyhow!("SAM made no role for {}", function.logical_id))?;
            let role_id = role["role"].as_str().unwrap_or_default();
            let mut inline = Vec::new();
            for policy in role["policies"].as_array().into_iter().flatten() {
                let name = policy["name"].as_str().unwrap_or_default();
                let document = resolver
                    .resolve(&policy["document"])
                    .with_context(|| format!("resolving {name}"))?;
                inline.push(Policy::parse(name, &document)?);
            }
            let managed = role["managed"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|arn| managed_policy(arn.as_str().unwrap_or_default()))
                .collect::<Result<_>>()?;
            roles.insert(
                function.binary.clone(),
                Role {
                    name: format!("{}-{role_id}", names.prefix),
                    inline,
                    managed,
                    added: Vec::new(),
                },
            );
        }
        Ok(Self {
            account: names.account.clone(),
            roles: RwLock::new(roles),
            usage: Mutex::new(BTreeMap::new()),
        })
    }

    /// Whether `function` may make every one of `calls`. `any_of` calls are
    /// alternatives (the resources SES may authorize a send on): one must pass.
    pub fn authorize(&self, function: &str, calls: &[Call], any_of: bool) -> Result<(), Denial> {
        let roles = self.roles.read().unwrap_or_else(|e| e.into_inner());
        let Some(role) = roles.get(function) else {
            return Err(Denial {
                message: format!(
                    "The security token included in the request is invalid ({function} is no function of this stack)"
                ),
            });
        };
        let decisions: Vec<(Decision, &Call)> = calls
            .iter()
            .map(|call| (policy::evaluate(role.policies(), call), call))
            .collect();
        let refused = if any_of && decisions.iter().any(|(d, _)| *d == Decision::Allowed) {
            None
        } else {
            decisions.iter().find(|(d, _)| *d != Decision::Allowed)
        };
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        let usage = usage.entry(function.to_owned()).or_default();
        for (decision, call) in &decisions {
            let key = (call.action.clone(), call.resource.clone());
            if *decision == Decision::Allowed {
                usage.allowed.insert(key);
            } else if !any_of || refused.is_some() {
                usage.denied.insert(key);
            }
        }
        match refused {
            None => Ok(()),
            Some((decision, call)) => {
                let why = match decision {
                    Decision::ExplicitlyDenied => {
                        "with an explicit deny in an identity-based policy".to_owned()
                    }
                    _ => format!(
                        "because no identity-based policy allows the {} action",
                        call.action
                    ),
                };
                Err(Denial {
                    message: format!(
                        "User: arn:aws:sts::{}:assumed-role/{}/{function} is not authorized to perform: {} on resource: {} {why}",
                        self.account, role.name, call.action, call.resource
                    ),
                })
            }
        }
    }

    /// Checks that each function's role lets Lambda read its queues and
    /// streams, as creating the event source mapping checks it.
    pub fn check_event_sources(&self, resolver: &Resolver<'_>) -> Result<()> {
        for function in resolver.template().functions() {
            for source in &function.sources {
                let (arn, actions): (String, &[&str]) = match &source.kind {
                    SourceKind::Sqs { queue, .. } => (
                        resolver.resolve_string(queue)?,
                        &[
                            "sqs:ReceiveMessage",
                            "sqs:DeleteMessage",
                            "sqs:GetQueueAttributes",
                        ],
                    ),
                    SourceKind::DynamoDb { stream, .. } => (
                        resolver.resolve_string(stream)?,
                        &[
                            "dynamodb:DescribeStream",
                            "dynamodb:GetRecords",
                            "dynamodb:GetShardIterator",
                            "dynamodb:ListStreams",
                        ],
                    ),
                    SourceKind::Schedule { .. } => continue,
                };
                let calls: Vec<Call> = actions.iter().map(|a| Call::new(*a, &arn)).collect();
                self.authorize(&function.binary, &calls, false)
                    .map_err(|denial| {
                        anyhow!(
                            "{}, event {}: Lambda cannot read its source: {denial}",
                            function.logical_id,
                            source.name
                        )
                    })?;
            }
        }
        Ok(())
    }

    /// Adds an inline policy to `function`'s role, as `aws iam
    /// put-role-policy` does; it applies from the next call on.
    pub fn put_role_policy(&self, function: &str, name: &str, document: &Value) -> Result<()> {
        let policy = Policy::parse(name, document)?;
        let mut roles = self.roles.write().unwrap_or_else(|e| e.into_inner());
        let role = roles
            .get_mut(function)
            .ok_or_else(|| anyhow!("{function} is no function of this stack"))?;
        role.added.retain(|p| p.name != name);
        role.added.push(policy);
        Ok(())
    }

    /// Removes a policy `put_role_policy` added.
    pub fn delete_role_policy(&self, function: &str, name: &str) -> Result<()> {
        let mut roles = self.roles.write().unwrap_or_else(|e| e.into_inner());
        let role = roles
            .get_mut(function)
            .ok_or_else(|| anyhow!("{function} is no function of this stack"))?;
        role.added.retain(|p| p.name != name);
        Ok(())
    }

    /// Per function that ran: the actions it used (and on what), the calls
    /// refused, and what its role grants that no call used. Grants Lambda
    /// itself uses (logs, traces) are listed apart.
    pub fn report(&self) -> Report {
        let roles = self.roles.read().unwrap_or_else(|e| e.into_inner());
        let usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        let mut functions = BTreeMap::new();
        let never = Usage::default();
        for (function, role) in roles.iter() {
            let used = usage.get(function).unwrap_or(&never);
            let mut unused = BTreeSet::new();
            for statement in role.inline.iter().flat_map(|p| &p.statements) {
                if statement.effect != Effect::Allow {
                    continue;
                }
                for action in &statement.actions {
                    let pattern = action.to_ascii_lowercase();
                    let was_used = used.allowed.iter().any(|(a, r)| {
                        policy::wildcard(&pattern, &a.to_ascii_lowercase()) && statement.matches_resource(r)
                    });
                    if !was_used {
                        unused.insert(format!("{action} on {}", statement.resources.join(", ")));
                    }
                }
            }
            functions.insert(
                function.clone(),
                FunctionReport {
                    used: used.allowed.iter().map(|(a, r)| format!("{a} on {r}")).collect(),
                    denied: used.denied.iter().map(|(a, r)| format!("{a} on {r}")).collect(),
                    unused,
                },
            );
        }
        Report { functions }
    }
}

#[derive(Debug, Default)]
pub struct FunctionReport {
    pub used: BTreeSet<String>,
    pub denied: BTreeSet<String>,
    /// Grants of the template's own policies that no call used.
    pub unused: BTreeSet<String>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub functions: BTreeMap<String, FunctionReport>,
}

impl Report {
    pub fn unused_count(&self) -> usize {
        self.functions.values().map(|f| f.unused.len()).sum()
    }

    pub fn denied_count(&self) -> usize {
        self.functions.values().map(|f| f.denied.len()).sum()
    }

    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("# IAM: what each function used\n\n");
        let _ = writeln!(
            out,
            "{} functions; {} grants unused; {} calls denied. Managed policies \
             (logs, traces, event sources) are Lambda's own and not listed as unused.\n",
            self.functions.len(),
            self.unused_count(),
            self.denied_count()
        );
        for (function, report) in &self.functions {
            let _ = writeln!(out, "## {function}\n");
            for (title, lines) in [
                ("used", &report.used),
                ("denied", &report.denied),
                ("granted, never used", &report.unused),
            ] {
                if lines.is_empty() {
                    continue;
                }
                let _ = writeln!(out, "{title}:");
                for line in lines {
                    let _ = writeln!(out, "- {line}");
                }
                out.push('\n');
            }
        }
        out
    }
}

/// The AWS managed policies SAM attaches to the shop's roles, as AWS
/// publishes them.
fn managed_policy(arn: &str) -> Result<Policy> {
    let logs = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"];
    let statement =
        |actions: Vec<&str>| json!({"Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]});
    let document = match arn.rsplit('/').next().unwrap_or_default() {
        "AWSLambdaBasicExecutionRole" => statement(logs.to_vec()),
        "AWSXrayWriteOnlyAccess" => statement(vec![
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
            "xray:GetSamplingStatisticSummaries",
        ]),
        "AWSLambdaSQSQueueExecutionRole" => statement(
            [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
            ]
            .into_iter()
            .chain(logs)
            .collect(),
        ),
        "AWSLambdaDynamoDBExecutionRole" => statement(
            [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ]
            .into_iter()
            .chain(logs)
            .collect(),
        ),
        _ => bail!("the managed policy {arn} is not known to the local IAM check"),
    };
    Policy::parse(arn, &document)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::Names;
    use crate::template::Template;

    const TEMPLATE: &str = r#"
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
  Work:
    Type: AWS::SQS::Queue
  Reader:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: read-orders}}
    Properties:
      Events:
        Jobs: {Type: SQS, Properties: {Queue: !GetAtt Work.Arn}}
"#;

    fn roles(statements: Value, managed: &[&str]) -> Value {
        json!({"Reader": {
            "role": "ReaderRole",
            "policies": [{"name": "ReaderRolePolicy0", "document": {"Statement": statements}}],
            "managed": managed,
        }})
    }

    fn table_read() -> Value {
        json!([{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Scan"],
                "Resource": {"Fn::GetAtt": ["Orders", "Arn"]}}])
    }

    const ORDERS: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/shop-Orders";

    fn iam(template: &Template, translated: &Value) -> Iam {
        Iam::from_roles(&Resolver::new(template, Names::local("shop")), translated).unwrap()
    }

    #[test]
    fn a_call_outside_the_role_is_denied_in_awss_words() {
        let template = Template::parse(TEMPLATE).unwrap();
        let iam = iam(&template, &roles(table_read(), &[]));
        assert!(
            iam.authorize("read-orders", &[Call::new("dynamodb:GetItem", ORDERS)], false)
                .is_ok()
        );
        let denial = iam
            .authorize("read-orders", &[Call::new("dynamodb:DeleteItem", ORDERS)], false)
            .unwrap_err();
        assert_eq!(
            denial.message,
            format!(
                "User: arn:aws:sts::123456789012:assumed-role/shop-ReaderRole/read-orders is not authorized \
                 to perform: dynamodb:DeleteItem on resource: {ORDERS} because no identity-based policy \
                 allows the dynamodb:DeleteItem action"
            )
        );
        assert!(
            iam.authorize("someone-else", &[Call::new("dynamodb:GetItem", ORDERS)], false)
                .is_err()
        );
    }

    #[test]
    fn a_put_deny_applies_at_once_and_goes_when_deleted() {
        let template = Template::parse(TEMPLATE).unwrap();
        let iam = iam(&template, &roles(table_read(), &[]));
        let deny = json!({"Statement": {"Effect": "Deny", "Action": "dynamodb:GetItem", "Resource": "*"}});
        iam.put_role_policy("read-orders", "no-reads", &deny).unwrap();
        let get = [Call::new("dynamodb:GetItem", ORDERS)];
        assert!(iam.authorize("read-orders", &get, false).is_err());
        iam.delete_role_policy("read-orders", "no-reads").unwrap();
        assert!(iam.authorize("read-orders", &get, false).is_ok());
    }

    #[test]
    fn an_event_source_needs_its_managed_policy() {
        let template = Template::parse(TEMPLATE).unwrap();
        let resolver = Resolver::new(&template, Names::local("shop"));
        let without = Iam::from_roles(&resolver, &roles(table_read(), &[])).unwrap();
        assert!(without.check_event_sources(&resolver).is_err());
        let with = Iam::from_roles(
            &resolver,
            &roles(
                table_read(),
                &["arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"],
            ),
        )
        .unwrap();
        with.check_event_sources(&resolver).unwrap();
    }

    #[test]
    fn the_report_names_grants_no_call_used() {
        let template = Template::parse(TEMPLATE).unwrap();
        let iam = iam(&template, &roles(table_read(), &[]));
        iam.authorize("read-orders", &[Call::new("dynamodb:GetItem", ORDERS)], false)
            .unwrap();
        let report = iam.report();
        let reader = &report.functions["read-orders"];
        assert_eq!(reader.used.len(), 1);
        assert_eq!(
            reader.unused.iter().collect::<Vec<_>>(),
            vec![&format!("dynamodb:Scan on {ORDERS}")]
        );
        assert!(report.to_markdown().contains("granted, never used"));
    }
}
