//! Lambda: `GET /api/inventory`.

use astroshop_inventory::list_stock;
use astroshop_inventory::store::InventoryTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let stock = InventoryTable::from_env(dynamodb)?;
    astroshop_edge::serve(|request| list_stock(&stock, request)).await
}
