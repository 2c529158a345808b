//! Lambda: `GET /api/payments/{orderId}`.

use astroshop_payment::get_payment;
use astroshop_payment::store::PaymentsTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let payments = PaymentsTable::from_env(dynamodb)?;
    astroshop_edge::serve(|request| get_payment(&payments, request)).await
}
