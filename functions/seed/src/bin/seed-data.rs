//! Lambda: the `SeedData` custom resource in infra/template.yaml.

use astroshop_seed_function::Seeder;
use astroshop_store::{ProductTable, RateTableStore};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    astroshop_telemetry::init();
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let seeder = Seeder {
        products: ProductTable::from_env(dynamodb.clone())?,
        rates: RateTableStore::from_env(dynamodb)?,
        http: reqwest::Client::new(),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| async {
        seeder
            .handle(event.payload)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
