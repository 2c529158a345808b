//! Creates in the emulator what the template declares and the emulator
//! serves (tables, queues, buses and rules, keys, mail identities, user
//! pools and their app clients), recording what `!Ref` and `!GetAtt` give
//! for each, and seeds the data a fresh deploy would have.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, bail};
use astroshop_seed::SeedTargets;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use serde_json::Value;

use crate::resolve::Resolver;

/// An SDK configuration that talks to the emulator.
pub fn emulator_config(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    config_as(endpoint, region, "testing")
}

/// An SDK configuration that talks to `endpoint` signing with the access
/// key id `identity` (a function's name, for the IAM gate).
pub fn config_as(endpoint: &str, region: &str, identity: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new(identity, "local", None, None, "local-stack"),
        ))
        .build()
}

/// A function's credentials: its name as the access key id.
const FUNCTION_AWS_CONFIG: &str = r#"[default]
credential_process = printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "local"}' "$AWS_LAMBDA_FUNCTION_NAME"
"#;

/// The environment variables that point the functions' AWS SDK at
/// `endpoint` (the IAM gate, which passes allowed calls to the emulator),
/// signing as themselves: the AWS config file in `dir` hands each function
/// process credentials whose access key id is its name
/// (`AWS_LAMBDA_FUNCTION_NAME`, set by the stack's runtime), as Lambda
/// hands each function its role's credentials.
pub fn identity_environment(
    endpoint: &str,
    region: &str,
    dir: &std::path::Path,
) -> Result<BTreeMap<String, String>> {
    std::fs::create_dir_all(dir)?;
    let config = dir.join("config");
    let credentials = dir.join("credentials");
    std::fs::write(&config, FUNCTION_AWS_CONFIG).with_context(|| format!("writing {}", config.display()))?;
    // Nothing from a developer's own ~/.aws may stand in for a function's identity.
    std::fs::write(&credentials, "").with_context(|| format!("writing {}", credentials.display()))?;
    let mut environment: BTreeMap<String, String> = [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", region),
        ("AWS_DEFAULT_REGION", region),
        ("AWS_PROFILE", "default"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    environment.insert("AWS_CONFIG_FILE".to_owned(), config.display().to_string());
    environment.insert(
        "AWS_SHARED_CREDENTIALS_FILE".to_owned(),
        credentials.display().to_string(),
    );
    Ok(environment)
}

/// Creates every `AWS::DynamoDB::Table`, recording each stream's ARN.
pub async fn create_tables(resolver: &mut Resolver<'_>, dynamodb: &aws_sdk_dynamodb::Client) -> Result<()> {
    let tables: Vec<(String, Value)> = resolver
        .template()
        .resources_of("AWS::DynamoDB::Table")
        .map(|(id, r)| (id.to_owned(), r.properties.clone()))
        .collect();
    for (id, properties) in tables {
        let name = resolver.resolve_string(&serde_json::json!({"Ref": id}))?;
        let properties = resolver.resolve(&properties)?;
        let stream_arn = create_table(dynamodb, &name, &properties)
            .await
            .with_context(|| format!("creating table {id} ({name})"))?;
        if let Some(arn) = stream_arn {
            resolver.record(&id, "StreamArn", arn);
        }
    }
    Ok(())
}

async fn create_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    name: &str,
    properties: &Value,
) -> Result<Option<String>> {
    let list = |key: &str| {
        properties
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut request = dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for attribute in list("AttributeDefinitions") {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(&attribute, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(text(&attribute, "AttributeType")?))
                .build()?,
        );
    }
    request = request.set_key_schema(Some(key_schema(properties.get("KeySchema"))?));
    for index in list("GlobalSecondaryIndexes") {
        let projection = index.get("Projection").cloned().unwrap_or_default();
        let mut built = Projection::builder().projection_type(ProjectionType::from(
            projection
                .get("ProjectionType")
                .and_then(Value::as_str)
                .unwrap_or("ALL"),
        ));
        for attribute in projection
            .get("NonKeyAttributes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            built = built.non_key_attributes(attribute.as_str().unwrap_or_default());
        }
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(text(&index, "IndexName")?)
                .set_key_schema(Some(key_schema(index.get("KeySchema"))?))
                .projection(built.build())
                .build()?,
        );
    }
    if let Some(view) = properties
        .pointer("/StreamSpecification/StreamViewType")
        .and_then(Value::as_str)
    {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view))
                .build()?,
        );
    }
    let created = request.send().await?;
    if let Some(ttl) = properties.get("TimeToLiveSpecification")
        && ttl.get("Enabled") == Some(&Value::Bool(true))
    {
        dynamodb
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(text(ttl, "AttributeName")?)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await?;
    }
    Ok(created
        .table_description()
        .and_then(|d| d.latest_stream_arn())
        .map(str::to_owned))
}

fn key_schema(value: Option<&Value>) -> Result<Vec<KeySchemaElement>> {
    let elements = value
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("KeySchema is missing"))?;
    elements
        .iter()
        .map(|element| {
            Ok(KeySchemaElement::builder()
                .attribute_name(text(element, "AttributeName")?)
                .key_type(KeyType::from(text(element, "KeyType")?))
                .build()?)
        })
        .collect()
}

fn text<'v>(value: &'v Value, key: &str) -> Result<&'v str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("{key} is missing in {value}"))
}

/// The environment a function gets: the template's variables, resolved.
pub fn function_environment(resolver: &Resolver<'_>, logical_id: &str) -> Result<BTreeMap<String, String>> {
    let function = resolver
        .template()
        .function(logical_id)
        .ok_or_else(|| anyhow!("no function {logical_id}"))?;
    function
        .environment
        .iter()
        .map(|(name, value)| {
            let value = resolver
                .resolve_string(value)
                .with_context(|| format!("{logical_id}: environment variable {name}"))?;
            Ok((name.clone(), value))
        })
        .collect()
}

/// One environment for every function: the stack runs them all under one
/// set of variables, so two functions may not give one name two values.
pub fn shared_environment(resolver: &Resolver<'_>) -> Result<BTreeMap<String, String>> {
    let mut shared: BTreeMap<String, (String, String)> = BTreeMap::new();
    for function in resolver.template().functions() {
        for (name, value) in function_environment(resolver, &function.logical_id)? {
            match shared.get(&name) {
                Some((other, existing)) if *existing != value => bail!(
                    "{name} is {existing:?} for {other} but {value:?} for {}; the local stack needs one value",
                    function.logical_id
                ),
                _ => {
                    shared.insert(name, (function.logical_id.clone(), value));
                }
            }
        }
    }
    Ok(shared
        .into_iter()
        .map(|(name, (_, value))| (name, value))
        .collect())
}

/// Does locally what the template's deploy-time custom resources do, with
/// the same code: `Custom::SeedData` seeds the tables its function is given,
/// `Custom::SecretKey` creates a secret key parameter (whose name `!Ref` then
/// gives, as in the cloud). Each runs with `config_for(binary)`, the SDK
/// configuration of the function its `ServiceToken` names.
pub async fn run_setup_resources(
    resolver: &mut Resolver<'_>,
    config_for: impl Fn(&str) -> aws_config::SdkConfig,
) -> Result<()> {
    let template = resolver.template();
    let service = |id: &str, properties: &Value| -> Result<String> {
        let function = properties
            .pointer("/ServiceToken/Fn::GetAtt/0")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("{id}: ServiceToken is not !GetAtt <function>.Arn"))?;
        Ok(function.to_owned())
    };
    for (id, resource) in template.resources_of("Custom::SeedData") {
        let function = service(id, &resource.properties)?;
        let environment = function_environment(resolver, &function)?;
        let binary = resolver.resolve_string(&serde_json::json!({ "Ref": function }))?;
        let config = config_for(&binary);
        let targets = SeedTargets::from_settings(aws_sdk_dynamodb::Client::new(&config), |name| {
            environment.get(name).cloned()
        })
        .with_context(|| format!("{id}: the seeder {function}"))?;
        targets
            .seed()
            .await
            .with_context(|| format!("seeding for {id}"))?;
    }
    let keys: Vec<(String, Value)> = template
        .resources_of("Custom::SecretKey")
        .map(|(id, r)| (id.to_owned(), r.properties.clone()))
        .collect();
    for (id, properties) in keys {
        let function = service(&id, &properties)?;
        let binary = resolver.resolve_string(&serde_json::json!({ "Ref": function }))?;
        let ssm = aws_sdk_ssm::Client::new(&config_for(&binary));
        let property = |name| {
            resolver
                .resolve_string(properties.get(name).unwrap_or(&Value::Null))
                .with_context(|| format!("{id}: {name}"))
        };
        let name = property("ParameterName")?;
        astroshop_seed::ensure_secret_key(&ssm, &name, &property("Description")?).await?;
        resolver.record(&id, "Ref", name);
    }
    Ok(())
}

/// Creates every `AWS::SQS::Queue`, then sets the redrive policies (a queue's
/// dead-letter queue must exist first), recording each queue's URL (its
/// `Ref`), ARN and name.
pub async fn create_queues(resolver: &mut Resolver<'_>, sqs: &aws_sdk_sqs::Client) -> Result<usize> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let queues: Vec<(String, Value)> = resolver
        .template()
        .resources_of("AWS::SQS::Queue")
        .map(|(id, r)| (id.to_owned(), r.properties.clone()))
        .collect();
    let mut redrives = Vec::new();
    for (id, properties) in &queues {
        let properties = resolver.resolve(properties)?;
        let fifo = properties.get("FifoQueue") == Some(&Value::Bool(true));
        let name = match properties.get("QueueName").and_then(Value::as_str) {
            Some(name) => name.to_owned(),
            None if fifo => format!("{}.fifo", resolver.names().physical(id)),
            None => resolver.names().physical(id),
        };
        let mut request = sqs.create_queue().queue_name(&name);
        for (property, attribute) in [
            ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
            (
                "MessageRetentionPeriod",
                QueueAttributeName::MessageRetentionPeriod,
            ),
            ("DelaySeconds", QueueAttributeName::DelaySeconds),
            (
                "ReceiveMessageWaitTimeSeconds",
                QueueAttributeName::ReceiveMessageWaitTimeSeconds,
            ),
            ("FifoQueue", QueueAttributeName::FifoQueue),
            (
                "ContentBasedDeduplication",
                QueueAttributeName::ContentBasedDeduplication,
            ),
        ] {
            if let Some(value) = properties.get(property) {
                let value = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                request = request.attributes(attribute, value);
            }
        }
        let url = request
            .send()
            .await
            .with_context(|| format!("creating queue {id} ({name})"))?
            .queue_url
            .ok_or_else(|| anyhow!("queue {id} was created without a URL"))?;
        if let Some(redrive) = properties.get("RedrivePolicy") {
            redrives.push((id.clone(), url.clone(), redrive.to_string()));
        }
        let arn = resolver.names().arn("sqs", &name);
        resolver.record(id, "Ref", url);
        resolver.record(id, "Arn", arn);
        resolver.record(id, "QueueName", name);
    }
    for (id, url, redrive) in redrives {
        sqs.set_queue_attributes()
            .queue_url(url)
            .attributes(QueueAttributeName::RedrivePolicy, redrive)
            .send()
            .await
            .with_context(|| format!("setting the redrive policy of queue {id}"))?;
    }
    Ok(queues.len())
}

/// Creates every `AWS::Events::EventBus` and `AWS::Events::Rule` with its
/// queue targets. Rules on a schedule, and targets other than queues, are the
/// local stack's own job (it runs schedules itself; the emulator delivers only
/// to queues), so they are left out here.
pub async fn create_event_routing(
    resolver: &mut Resolver<'_>,
    events: &aws_sdk_eventbridge::Client,
) -> Result<(usize, usize)> {
    use aws_sdk_eventbridge::types::{
        DeadLetterConfig, InputTransformer, RetryPolicy, RuleState, SqsParameters, Target,
    };
    let template = resolver.template();
    let buses: Vec<(String, Value)> = template
        .resources_of("AWS::Events::EventBus")
        .map(|(id, r)| (id.to_owned(), r.properties.clone()))
        .collect();
    for (id, properties) in &buses {
        let name = match properties.get("Name") {
            Some(name) => resolver.resolve_string(name)?,
            None => resolver.names().physical(id),
        };
        events
            .create_event_bus()
            .name(&name)
            .send()
            .await
            .with_context(|| format!("creating event bus {id} ({name})"))?;
        let arn = resolver.names().arn("events", &format!("event-bus/{name}"));
        resolver.record(id, "Ref", name.clone());
        resolver.record(id, "Name", name);
        resolver.record(id, "Arn", arn);
    }
    let rules: Vec<(String, Value)> = template
        .resources_of("AWS::Events::Rule")
        .map(|(id, r)| (id.to_owned(), r.properties.clone()))
        .collect();
    let mut created = 0;
    for (id, properties) in rules {
        let properties = resolver
            .resolve(&properties)
            .with_context(|| format!("rule {id}"))?;
        let Some(pattern) = properties.get("EventPattern") else {
            continue; // a schedule
        };
        let name = match properties.get("Name").and_then(Value::as_str) {
            Some(name) => name.to_owned(),
            None => resolver.names().physical(&id),
        };
        let bus = properties
            .get("EventBusName")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_owned();
        events
            .put_rule()
            .name(&name)
            .event_bus_name(&bus)
            .event_pattern(pattern.to_string())
            .state(match properties.get("State").and_then(Value::as_str) {
                Some("DISABLED") => RuleState::Disabled,
                _ => RuleState::Enabled,
            })
            .send()
            .await
            .with_context(|| format!("creating rule {id} ({name})"))?;
        let mut targets = Vec::new();
        for target in properties
            .get("Targets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let arn = text(target, "Arn")?;
            if !arn.starts_with("arn:aws:sqs:") {
                tracing::warn!(rule = %id, %arn, "the local stack routes rules to queues only; target left out");
                continue;
            }
            let mut built = Target::builder().id(text(target, "Id")?).arn(arn);
            if let Some(transformer) = target.get("InputTransformer") {
                let paths = transformer
                    .get("InputPathsMap")
                    .and_then(Value::as_object)
                    .map(|map| {
                        map.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    });
                built = built.input_transformer(
                    InputTransformer::builder()
                        .set_input_paths_map(paths)
                        .input_template(text(transformer, "InputTemplate")?)
                        .build()?,
                );
            }
            if let Some(path) = target.get("InputPath").and_then(Value::as_str) {
                built = built.input_path(path);
            }
            if let Some(group) = target
                .pointer("/SqsParameters/MessageGroupId")
                .and_then(Value::as_str)
            {
                built = built.sqs_parameters(SqsParameters::builder().message_group_id(group).build());
            }
            if let Some(arn) = target.pointer("/DeadLetterConfig/Arn").and_then(Value::as_str) {
                built = built.dead_letter_config(DeadLetterConfig::builder().arn(arn).build());
            }
            if let Some(retry) = target.get("RetryPolicy") {
                let number = |name: &str| {
                    retry
                        .get(name)
                        .and_then(Value::as_i64)
                        .and_then(|n| i32::try_from(n).ok())
                };
                built = built.retry_policy(
                    RetryPolicy::builder()
                        .set_maximum_retry_attempts(number("MaximumRetryAttempts"))
                        .set_maximum_event_age_in_seconds(number("MaximumEventAgeInSeconds"))
                        .build(),
                );
            }
            targets.push(built.build()?);
        }
        if !targets.is_empty() {
            let output = events
                .put_targets()
                .rule(&name)
                .event_bus_name(&bus)
                .set_targets(Some(targets))
                .send()
                .await
                .with_context(|| format!("adding the targets of rule {id}"))?;
            if output.failed_entry_count() > 0 {
                bail!("rule {id}: targets refused: {:?}", output.failed_entries());
            }
        }
        resolver.record(&id, "Ref", name.clone());
        resolver.record(
            &id,
            "Arn",
            resolver.names().arn("events", &format!("rule/{bus}/{name}")),
        );
        created += 1;
    }
    Ok((buses.len(), created))
}

/// KMS keys (`!Ref` is the key id the emulator gives) and SES e-mail
/// identities (created verified, as the emulator has no inbox to confirm).
async fn create_keys_and_mail_identities(
    resolver: &mut Resolver<'_>,
    config: &aws_config::SdkConfig,
) -> Result<usize> {
    let template = resolver.template();
    let keys: Vec<(String, Value)> = template
        .resources_of("AWS::KMS::Key")
        .map(|(id, r)| (id.to_owned(), r.properties.clone()))
        .collect();
    let identities: Vec<(String, Value)> = template
        .resources_of("AWS::SES::EmailIdentity")
        .map(|(id, r)| (id.to_owned(), r.properties.clone()))
        .collect();
    let kms = aws_sdk_kms::Client::new(config);
    for (id, properties) in &keys {
        let mut request = kms.create_key();
        if let Some(description) = properties.get("Description") {
            request = request.description(resolver.resolve_string(description)?);
        }
        let created = request
            .send()
            .await
            .with_context(|| format!("creating KMS key {id}"))?;
        let metadata = created
            .key_metadata()
            .ok_or_else(|| anyhow!("the emulator created KMS key {id} without metadata"))?;
        resolver.record(id, "Ref", metadata.key_id());
        resolver.record(id, "KeyId", metadata.key_id());
        resolver.record(id, "Arn", metadata.arn().unwrap_or_default());
    }
    let ses = aws_sdk_sesv2::Client::new(config);
    for (id, properties) in &identities {
        let identity = resolver
            .resolve_string(properties.get("EmailIdentity").unwrap_or(&Value::Null))
            .with_context(|| format!("{id}: EmailIdentity"))?;
        ses.create_email_identity()
            .email_identity(&identity)
            .send()
            .await
            .with_context(|| format!("creating SES identity {id} ({identity})"))?;
        resolver.record(id, "Ref", identity);
    }
    Ok(keys.len() + identities.len())
}

/// A password policy's rules, each `false` unless the template sets it.
const PASSWORD_RULES: [&str; 4] = [
    "RequireLowercase",
    "RequireUppercase",
    "RequireNumbers",
    "RequireSymbols",
];

/// Creates every `AWS::Cognito::UserPool` (with what the emulator keeps of
/// it: its name, username attributes and password policy), then every
/// `AWS::Cognito::UserPoolClient`, recording a pool's id (its `Ref`) and
/// ARN and a client's id (its `Ref`). Gives how many pools and clients.
pub async fn create_user_pools(
    resolver: &mut Resolver<'_>,
    cognito: &aws_sdk_cognitoidentityprovider::Client,
) -> Result<(usize, usize)> {
    use aws_sdk_cognitoidentityprovider::types::{
        ExplicitAuthFlowsType, PasswordPolicyType, PreventUserExistenceErrorTypes, UserPoolPolicyType,
        UsernameAttributeType,
    };
    let template = resolver.template();
    let of_kind = |kind| -> Vec<(String, Value)> {
        template
            .resources_of(kind)
            .map(|(id, r)| (id.to_owned(), r.properties.clone()))
            .collect()
    };
    let pools = of_kind("AWS::Cognito::UserPool");
    let clients = of_kind("AWS::Cognito::UserPoolClient");
    for (id, properties) in &pools {
        let properties = resolver
            .resolve(properties)
            .with_context(|| format!("user pool {id}"))?;
        let name = match properties.get("UserPoolName") {
            Some(name) => scalar(name).with_context(|| format!("user pool {id}: UserPoolName"))?,
            None => resolver.names().physical(id),
        };
        let mut request = cognito
            .create_user_pool()
            .pool_name(&name)
            .set_username_attributes(strings(&properties, "UsernameAttributes").map(|attributes| {
                attributes
                    .iter()
                    .map(|a| UsernameAttributeType::from(a.as_str()))
                    .collect()
            }));
        if let Some(policy) = properties.pointer("/Policies/PasswordPolicy") {
            let rule = |key: &str| policy.get(key).map(|v| v == &Value::Bool(true) || v == "true");
            let length = match policy.get("MinimumLength") {
                Some(length) => Some(scalar(length)?.parse().context("MinimumLength")?),
                None => None,
            };
            request = request.policies(
                UserPoolPolicyType::builder()
                    .password_policy(
                        PasswordPolicyType::builder()
                            .set_minimum_length(length)
                            .set_require_lowercase(rule("RequireLowercase"))
                            .set_require_uppercase(rule("RequireUppercase"))
                            .set_require_numbers(rule("RequireNumbers"))
                            .set_require_symbols(rule("RequireSymbols"))
                            .build(),
                    )
                    .build(),
            );
        }
        let created = request
            .customize()
            .mutate_request(|request| {
                // The SDK leaves out a rule that is `false`, Cognito's
                // default; moto reads a missing rule as `true`, so the
                // rules the template relaxes are sent as `false`.
                let Some(mut body) = request
                    .body()
                    .bytes()
                    .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok())
                else {
                    return;
                };
                let Some(policy) = body
                    .pointer_mut("/Policies/PasswordPolicy")
                    .and_then(Value::as_object_mut)
                else {
                    return;
                };
                for rule in PASSWORD_RULES {
                    policy.entry(rule).or_insert(Value::Bool(false));
                }
                let body = body.to_string();
                request
                    .headers_mut()
                    .insert("content-length", body.len().to_string());
                *request.body_mut() = body.into();
            })
            .send()
            .await
            .with_context(|| format!("creating user pool {id} ({name})"))?;
        let pool = created
            .user_pool()
            .ok_or_else(|| anyhow!("the emulator created user pool {id} without describing it"))?;
        let (Some(pool_id), Some(arn)) = (pool.id(), pool.arn()) else {
            bail!("the emulator gave user pool {id} no id or ARN");
        };
        resolver.record(id, "Ref", pool_id);
        resolver.record(id, "Arn", arn);
    }
    for (id, properties) in &clients {
        let properties = resolver
            .resolve(properties)
            .with_context(|| format!("user pool client {id}"))?;
        let name = match properties.get("ClientName") {
            Some(name) => scalar(name).with_context(|| format!("user pool client {id}: ClientName"))?,
            None => resolver.names().physical(id),
        };
        let created = cognito
            .create_user_pool_client()
            .user_pool_id(text(&properties, "UserPoolId")?)
            .client_name(&name)
            .generate_secret(properties.get("GenerateSecret") == Some(&Value::Bool(true)))
            .set_explicit_auth_flows(strings(&properties, "ExplicitAuthFlows").map(|flows| {
                flows
                    .iter()
                    .map(|f| ExplicitAuthFlowsType::from(f.as_str()))
                    .collect()
            }))
            .set_prevent_user_existence_errors(
                properties
                    .get("PreventUserExistenceErrors")
                    .and_then(Value::as_str)
                    .map(PreventUserExistenceErrorTypes::from),
            )
            .send()
            .await
            .with_context(|| format!("creating user pool client {id} ({name})"))?;
        let client_id = created
            .user_pool_client()
            .and_then(|client| client.client_id())
            .ok_or_else(|| anyhow!("the emulator gave user pool client {id} no id"))?;
        resolver.record(id, "Ref", client_id);
    }
    Ok((pools.len(), clients.len()))
}

/// A list of strings property (`UsernameAttributes: [email]`).
fn strings(properties: &Value, key: &str) -> Option<Vec<String>> {
    properties.get(key).and_then(Value::as_array).map(|items| {
        items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    })
}

/// A scalar property as text, as CloudFormation reads `8` and `"8"` alike.
fn scalar(value: &Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => bail!("expected a scalar, got {other}"),
    }
}

/// What `everything` created, for the progress line.
#[derive(Debug, Default)]
pub struct Provisioned {
    pub tables: usize,
    pub queues: usize,
    pub buses: usize,
    pub rules: usize,
    pub keys_and_identities: usize,
    pub user_pools: usize,
    pub user_pool_clients: usize,
}

impl std::fmt::Display for Provisioned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} tables, {} queues, {} event buses, {} rules, {} keys and mail identities, \
             {} user pools with {} app clients; data seeded",
            self.tables,
            self.queues,
            self.buses,
            self.rules,
            self.keys_and_identities,
            self.user_pools,
            self.user_pool_clients
        )
    }
}

/// Creates everything of the template the emulator serves, in dependency
/// order, and runs the deploy-time setup resources.
pub async fn everything(resolver: &mut Resolver<'_>, config: &aws_config::SdkConfig) -> Result<Provisioned> {
    let provisioned = resources(resolver, config).await?;
    run_setup_resources(resolver, |_| config.clone()).await?;
    Ok(provisioned)
}

/// What `everything` does but the setup resources: every resource the
/// template declares, created in the emulator.
pub async fn resources(resolver: &mut Resolver<'_>, config: &aws_config::SdkConfig) -> Result<Provisioned> {
    let keys_and_identities = create_keys_and_mail_identities(resolver, config).await?;
    create_tables(resolver, &aws_sdk_dynamodb::Client::new(config)).await?;
    let queues = create_queues(resolver, &aws_sdk_sqs::Client::new(config)).await?;
    let (buses, rules) = create_event_routing(resolver, &aws_sdk_eventbridge::Client::new(config)).await?;
    let (user_pools, user_pool_clients) =
        create_user_pools(resolver, &aws_sdk_cognitoidentityprovider::Client::new(config)).await?;
    Ok(Provisioned {
        tables: resolver.template().resources_of("AWS::DynamoDB::Table").count(),
        queues,
        buses,
        rules,
        keys_and_identities,
        user_pools,
        user_pool_clients,
    })
}
