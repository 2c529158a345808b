//! Lambda: `GET /api/orders/{orderId}`.

use astroshop_orders::get_order;
use astroshop_orders::store::OrderTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let orders = OrderTable::from_env(astroshop_store::dynamodb(&astroshop_store::aws_config().await))?;
    astroshop_edge::serve(|request| get_order(&orders, request)).await
}
