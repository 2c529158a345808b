//! Lambda: the `payment-charge` queue consumer (InventoryReserved).

use astroshop_payment::charge_card;
use astroshop_payment::store::PaymentsTable;
use astroshop_saga::Publisher;
use astroshop_store::CardKey;
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = astroshop_store::aws_config().await;
    let payments = PaymentsTable::from_env(astroshop_store::dynamodb(&config))?;
    let cards = CardKey::from_env(&config)?;
    let bus = Publisher::from_env(&config)?;
    astroshop_saga::serve(|delivery| charge_card(&payments, &cards, &bus, delivery)).await
}
