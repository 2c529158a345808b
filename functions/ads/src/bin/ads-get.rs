//! Lambda: `GET /api/data`.

use astroshop_ads::get_ads;
use astroshop_flags::Flags;
use astroshop_store::AdTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let ads = AdTable::from_env(dynamodb)?;
    let flags = Flags::from_env();
    astroshop_edge::serve(|request| get_ads(&ads, &flags, request)).await
}
