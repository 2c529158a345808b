//! Lambda: the `notification` queue consumer (OrderConfirmed, OrderFailed).

use astroshop_notification::{NotificationTable, OrderPages, SesMailer, mail_order_outcome};
use astroshop_saga::consume;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    astroshop_telemetry::init();
    let config = astroshop_store::aws_config().await;
    let notifications = NotificationTable::from_env(astroshop_store::dynamodb(&config))?;
    let mailer = SesMailer::from_env(&config)?;
    let pages = OrderPages::from_env(aws_sdk_ssm::Client::new(&config))?;
    lambda_runtime::run(service_fn(|event| async {
        Ok::<_, Error>(
            consume(event, |delivery| {
                mail_order_outcome(&notifications, &mailer, &pages, delivery)
            })
            .await,
        )
    }))
    .await
}
