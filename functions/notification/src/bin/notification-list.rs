//! Lambda: `GET /api/notifications`.

use astroshop_notification::{NotificationTable, list_notifications};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let notifications = NotificationTable::from_env(dynamodb)?;
    astroshop_edge::serve(|request| list_notifications(&notifications, request)).await
}
