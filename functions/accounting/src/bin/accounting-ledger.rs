//! Lambda: the `accounting` queue consumer (OrderConfirmed).

use astroshop_accounting::{LedgerTable, count_confirmed_order};
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let ledger = LedgerTable::from_env(dynamodb)?;
    astroshop_saga::serve(|delivery| count_confirmed_order(&ledger, delivery)).await
}
