//! Lambda: the order-state queue consumer, which records every saga step and
//! confirms or fails the order.

use astroshop_orders::state::follow_saga_event;
use astroshop_saga::Publisher;
use astroshop_store::OrderTable;
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = astroshop_store::aws_config().await;
    let orders = OrderTable::from_env(astroshop_store::dynamodb(&config))?;
    let publisher = Publisher::from_env(&config)?;
    astroshop_saga::serve(|delivery| follow_saga_event(&orders, &publisher, delivery)).await
}
