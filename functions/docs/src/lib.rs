//! The API's contract, published: `GET /api/openapi.json` answers the
//! OpenAPI 3.1 document kept in the repository as `infra/openapi.json`,
//! built into the binary, so the document served is always the one the
//! deployed code was built with.

use astroshop_edge::ApiError;
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};

/// `infra/openapi.json`, as it was when this function was built.
pub const DOCUMENT: &str = include_str!("../../../infra/openapi.json");

/// `GET /api/openapi.json`: the document, byte for byte.
pub async fn api_document(_request: Request) -> Result<Response<Body>, ApiError> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(DOCUMENT.to_owned()))
        .map_err(ApiError::internal)
}
