//! Lambda: the `accounting` queue consumer (OrderConfirmed).

use astroshop_accounting::{LedgerTable, count_confirmed_order};
use astroshop_saga::consume;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    astroshop_telemetry::init();
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let ledger = LedgerTable::from_env(dynamodb)?;
    lambda_runtime::run(service_fn(|event| async {
        Ok::<_, Error>(consume(event, |delivery| count_confirmed_order(&ledger, delivery)).await)
    }))
    .await
}
