//! Lambda: `GET /api/categories`.

use astroshop_catalog::search::list_categories;
use astroshop_store::ProductSearchTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let dynamodb = astroshop_store::dynamodb(&astroshop_store::aws_config().await);
    let index = ProductSearchTable::from_env(dynamodb)?;
    astroshop_edge::serve(|request| list_categories(&index, request)).await
}
