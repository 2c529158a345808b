//! Lambda: the `notification` queue consumer (OrderConfirmed, OrderFailed).

use std::time::Duration;

use astroshop_notification::{NotificationTable, OrderPages, SesMailer, mail_order_outcome};
use astroshop_store::{Limit, Limiter, LimitsTable};
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = astroshop_store::aws_config().await;
    let dynamodb = astroshop_store::dynamodb(&config);
    let notifications = NotificationTable::from_env(dynamodb.clone())?;
    let per_hour = Limit::from_env("mail", "MAILS_PER_ADDRESS_PER_HOUR", Duration::from_secs(3600))?;
    let limiter = Limiter::new(LimitsTable::from_env(dynamodb)?, per_hour);
    let mailer = SesMailer::from_env(&config)?;
    let pages = OrderPages::from_env(aws_sdk_ssm::Client::new(&config))?;
    astroshop_saga::serve(|delivery| mail_order_outcome(&notifications, &mailer, &pages, &limiter, delivery))
        .await
}
