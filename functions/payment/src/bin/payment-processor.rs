//! Lambda: `POST /api/processor/charges`, the card processor payment calls.

use astroshop_edge::BearerKey;
use astroshop_flags::Flags;
use astroshop_payment::processor::process_charge;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let config = astroshop_store::aws_config().await;
    let key = BearerKey::from_env(
        aws_sdk_ssm::Client::new(&config),
        "PROCESSOR_KEY_PARAMETER",
        "the card processor",
    )?;
    let flags = Flags::from_env();
    astroshop_edge::serve(|request| process_charge(&key, &flags, request)).await
}
