//! Lambda: the `payment-charge` queue consumer (InventoryReserved).

use astroshop_payment::breaker::{Breaker, Policy};
use astroshop_payment::processor::HttpProcessor;
use astroshop_payment::store::PaymentsTable;
use astroshop_payment::{Charging, charge_card};
use astroshop_saga::Publisher;
use astroshop_store::CardKey;
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = astroshop_store::aws_config().await;
    let dynamodb = astroshop_store::dynamodb(&config);
    let payments = PaymentsTable::from_env(dynamodb.clone())?;
    let cards = CardKey::from_env(&config)?;
    let processor = HttpProcessor::from_env(aws_sdk_ssm::Client::new(&config))?;
    let breaker = Breaker::from_env(
        dynamodb,
        "card-processor",
        Policy::from_env(HttpProcessor::TIMEOUT)?,
    )?;
    let bus = Publisher::from_env(&config)?;
    astroshop_saga::serve(|delivery| {
        let charging = Charging {
            processor: &processor,
            breaker: &breaker,
        };
        charge_card(&payments, &cards, charging, &bus, delivery)
    })
    .await
}
