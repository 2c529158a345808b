//! Lambda: the `notification` queue consumer (OrderConfirmed, OrderFailed).

use std::time::Duration;

use astroshop_notification::{NotificationTable, OrderPages, SesMailer, mail_order_outcome};
use astroshop_saga::consume;
use astroshop_store::{Limit, Limiter, LimitsTable};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    astroshop_telemetry::init();
    let config = astroshop_store::aws_config().await;
    let dynamodb = astroshop_store::dynamodb(&config);
    let notifications = NotificationTable::from_env(dynamodb.clone())?;
    let per_hour = Limit::from_env("mail", "MAILS_PER_ADDRESS_PER_HOUR", Duration::from_secs(3600))?;
    let limiter = Limiter::new(LimitsTable::from_env(dynamodb)?, per_hour);
    let mailer = SesMailer::from_env(&config)?;
    let pages = OrderPages::from_env(aws_sdk_ssm::Client::new(&config))?;
    lambda_runtime::run(service_fn(|event| async {
        Ok::<_, Error>(
            consume(event, |delivery| {
                mail_order_outcome(&notifications, &mailer, &pages, &limiter, delivery)
            })
            .await,
        )
    }))
    .await
}
