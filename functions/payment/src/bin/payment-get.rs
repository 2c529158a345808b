//! Lambda: `GET /api/payments/{orderId}?key=`.

use astroshop_edge::OrderLinks;
use astroshop_payment::get_payment;
use astroshop_payment::store::PaymentsTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let config = astroshop_store::aws_config().await;
    let payments = PaymentsTable::from_env(astroshop_store::dynamodb(&config))?;
    let links = OrderLinks::from_env(aws_sdk_ssm::Client::new(&config))?;
    astroshop_edge::serve(|request| get_payment(&payments, &links, request)).await
}
