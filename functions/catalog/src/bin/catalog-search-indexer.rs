//! Lambda: the `Products` stream consumer that keeps search up to date.

use astroshop_catalog::indexer::index_changes;
use astroshop_store::ProductSearchTable;
use astroshop_telemetry::Trigger;
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    astroshop_telemetry::init();
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let index = ProductSearchTable::from_env(dynamodb)?;
    let handler = service_fn(|event| async {
        // A failure of the whole batch: Lambda retries all of it.
        index_changes(&index, event)
            .await
            .map_err(lambda_runtime::Error::from)
    });
    astroshop_telemetry::run(handler, Trigger::Datasource).await
}
