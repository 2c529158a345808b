//! Lambda: `GET /api/orders?userId=`.

use astroshop_orders::list_orders;
use astroshop_orders::store::OrderTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let orders = OrderTable::from_env(astroshop_store::dynamodb(&astroshop_store::aws_config().await))?;
    astroshop_edge::serve(|request| list_orders(&orders, request)).await
}
