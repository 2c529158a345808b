//! Lambda: `PUT /api/admin/products/{productId}`.

use astroshop_catalog::admin::replace_product;
use astroshop_edge::AdminKey;
use astroshop_store::ProductTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let config = astroshop_store::aws_config().await;
    let catalog = ProductTable::from_env(astroshop_store::dynamodb(&config))?;
    let key = AdminKey::from_env(aws_sdk_ssm::Client::new(&config))?;
    astroshop_edge::serve(|request| replace_product(&catalog, &key, request)).await
}
