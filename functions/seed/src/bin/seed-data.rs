//! Lambda: the `SeedData` and `AdminKey` custom resources in infra/template.yaml.

use astroshop_seed::SeedTargets;
use astroshop_seed_function::Setup;
use astroshop_telemetry::Trigger;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    astroshop_telemetry::init();
    let config = astroshop_store::aws_config().await;
    let setup = Setup {
        seed: SeedTargets::from_settings(astroshop_store::dynamodb(&config), |name| {
            std::env::var(name).ok()
        })?,
        ssm: aws_sdk_ssm::Client::new(&config),
        http: reqwest::Client::new(),
    };
    let handler = service_fn(|event: LambdaEvent<_>| async {
        setup
            .handle(event.payload)
            .await
            .map_err(lambda_runtime::Error::from)
    });
    astroshop_telemetry::run(handler, Trigger::Other).await
}
