//! Lambda: `GET /api/orders/{orderId}?key=`.

use astroshop_edge::OrderLinks;
use astroshop_orders::get_order;
use astroshop_store::OrderTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let config = astroshop_store::aws_config().await;
    let orders = OrderTable::from_env(astroshop_store::dynamodb(&config))?;
    let links = OrderLinks::from_env(aws_sdk_ssm::Client::new(&config))?;
    astroshop_edge::serve(|request| get_order(&orders, &links, request)).await
}
