//! Lambda: `PUT /api/admin/inventory/{productId}`.

use astroshop_edge::AdminKey;
use astroshop_inventory::restock;
use astroshop_inventory::store::InventoryTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let config = astroshop_store::aws_config().await;
    let stock = InventoryTable::from_env(astroshop_store::dynamodb(&config))?;
    let key = AdminKey::from_env(aws_sdk_ssm::Client::new(&config))?;
    astroshop_edge::serve(|request| restock(&stock, &key, request)).await
}
