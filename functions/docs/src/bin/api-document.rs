//! Lambda: `GET /api/openapi.json`.

use astroshop_docs::api_document;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    astroshop_edge::serve(api_document).await
}
