//! Lambda: the `payment-refund` queue consumer (OrderFailed).

use astroshop_payment::refund_payment;
use astroshop_payment::store::PaymentsTable;
use astroshop_saga::Publisher;
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = astroshop_store::aws_config().await;
    let payments = PaymentsTable::from_env(astroshop_store::dynamodb(&config))?;
    let bus = Publisher::from_env(&config)?;
    astroshop_saga::serve(|delivery| refund_payment(&payments, &bus, delivery)).await
}
