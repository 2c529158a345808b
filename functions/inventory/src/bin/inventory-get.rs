//! Lambda: `GET /api/inventory/{productId}`.

use astroshop_inventory::get_stock;
use astroshop_inventory::store::InventoryTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let stock = InventoryTable::from_env(dynamodb)?;
    astroshop_edge::serve(|request| get_stock(&stock, request)).await
}
