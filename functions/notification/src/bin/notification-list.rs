//! Lambda: `GET /api/notifications` (admin key required).

use astroshop_edge::AdminKey;
use astroshop_notification::{NotificationTable, list_notifications};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let config = astroshop_store::aws_config().await;
    let notifications = NotificationTable::from_env(astroshop_store::dynamodb(&config))?;
    let admin = AdminKey::from_env(aws_sdk_ssm::Client::new(&config))?;
    astroshop_edge::serve(|request| list_notifications(&notifications, &admin, request)).await
}
