//! Cart service: a shopper's cart as the demo's storefront reads and changes
//! it. Lines are added to atomically in the store; every answer shows the
//! cart with each product priced in the currency the shopper asked for. A
//! confirmed order's products are cleared from the cart by [`clear`].
//!
//! Each route serves guests under `/api/cart` (the cart the client names, as
//! the demo's clients do) and signed-in shoppers under `/api/account/cart`
//! (their own cart, from their token; a `userId` or `sessionId` is ignored).
//! While `cartFailure` is on, that share of writes fails before anything is
//! written.

pub mod clear;

use astroshop_domain::{CartLine, Product, ProductId, Quantity, UserId};
use astroshop_edge::{ApiError, Pricing, fail_if_flagged, json_body, ok, path_param, query, shopper};
use astroshop_flags::{Flag, Flags};
use astroshop_store::{CartStore, LineUpdate, ProductCatalog, RateSource};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

/// A cart as the storefront shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CartView {
    user_id: String,
    items: Vec<CartItemView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CartItemView {
    product_id: ProductId,
    quantity: Quantity,
    product: Product,
}

/// `POST /api/cart` body; a signed-in shopper's has no `userId`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddItemBody {
    user_id: Option<String>,
    item: CartLine,
}

/// `DELETE /api/cart` body; a signed-in shopper sends none.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmptyCartBody {
    user_id: String,
}

/// `GET /api/cart?sessionId=&currencyCode=`: no session is an empty cart.
pub async fn get_cart(
    carts: &impl CartStore,
    catalog: &impl ProductCatalog,
    rates: &impl RateSource,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let pricing = Pricing::for_request(&request, rates).await?;
    let Some(user) = session_shopper(&request)? else {
        return Ok(ok(&CartView {
            user_id: String::new(),
            items: Vec::new(),
        }));
    };
    Ok(ok(&cart_view(carts, catalog, &pricing, &user).await?))
}

/// `POST /api/cart?currencyCode=` with `{"userId", "item": {"productId", "quantity"}}`:
/// adds to the line and answers with the whole cart.
pub async fn add_item(
    carts: &impl CartStore,
    catalog: &impl ProductCatalog,
    rates: &impl RateSource,
    flags: &Flags,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let AddItemBody { user_id, item } = json_body(&request)?;
    let user_id = shopper::shopper(&request, user_id.as_deref())?.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_body",
            "the request body needs a \"userId\" naming the cart",
        )
    })?;
    let pricing = Pricing::for_request(&request, rates).await?;
    fail_if_flagged(flags, Flag::CartFailure).await?;
    let product = catalog
        .get_product(&item.product_id)
        .await
        .map_err(ApiError::internal)?;
    if product.is_none() {
        return Err(product_not_found(&item.product_id));
    }
    let update = carts
        .add_to_line(&user_id, &item.product_id, item.quantity)
        .await
        .map_err(ApiError::internal)?;
    if update == LineUpdate::WouldExceedCap {
        return Err(ApiError::Conflict {
            code: "quantity_limit_exceeded",
            message: format!(
                "a cart holds at most {} of a product; adding {} more of {} would pass that",
                Quantity::MAX,
                item.quantity,
                item.product_id
            ),
        });
    }
    astroshop_telemetry::metric("CartItemsAdded", "Count", 1.0, None);
    Ok(ok(&cart_view(carts, catalog, &pricing, &user_id).await?))
}

/// `DELETE /api/cart` with `{"userId"}`: every line goes; 204 even if there were none.
pub async fn empty_cart(
    carts: &impl CartStore,
    flags: &Flags,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let user_id = match shopper::signed_in(&request) {
        Some(account) => account,
        None => shopper::guest(&json_body::<EmptyCartBody>(&request)?.user_id)?,
    };
    fail_if_flagged(flags, Flag::CartFailure).await?;
    carts.empty_cart(&user_id).await.map_err(ApiError::internal)?;
    Ok(no_content())
}

/// `DELETE /api/cart/items/{productId}?sessionId=`: 404 when the cart has no such line.
pub async fn remove_item(
    carts: &impl CartStore,
    flags: &Flags,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let product = ProductId::parse(path_param(&request, "productId")?)
        .map_err(|e| ApiError::bad_request("invalid_product_id", e.to_string()))?;
    let user = session_shopper(&request)?.ok_or_else(|| {
        ApiError::bad_request("missing_parameter", "query parameter \"sessionId\" is required")
    })?;
    fail_if_flagged(flags, Flag::CartFailure).await?;
    let removed = carts
        .remove_line(&user, &product)
        .await
        .map_err(ApiError::internal)?;
    if removed {
        Ok(no_content())
    } else {
        Err(ApiError::not_found(
            "cart_line_not_found",
            format!("the cart has no line for product {product}"),
        ))
    }
}

/// The signed-in shopper, else the guest the `sessionId` parameter names.
fn session_shopper(request: &Request) -> Result<Option<UserId>, ApiError> {
    if let Some(account) = shopper::signed_in(request) {
        return Ok(Some(account));
    }
    query(request, "sessionId")
        .map(|session| {
            UserId::guest(session).map_err(|e| ApiError::bad_request("invalid_session_id", e.to_string()))
        })
        .transpose()
}

fn product_not_found(id: &ProductId) -> ApiError {
    ApiError::not_found("product_not_found", format!("no product with id {id}"))
}

fn no_content() -> Response<Body> {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::Empty)
        .expect("a status alone always builds a response")
}

/// The cart's lines with their products priced in `currency`. A line whose
/// product has left the catalogue is not shown: it can no longer be bought.
async fn cart_view(
    carts: &impl CartStore,
    catalog: &impl ProductCatalog,
    pricing: &Pricing,
    user: &UserId,
) -> Result<CartView, ApiError> {
    let lines = carts.cart_lines(user).await.map_err(ApiError::internal)?;
    let products =
        futures::future::try_join_all(lines.iter().map(|line| catalog.get_product(&line.product_id)))
            .await
            .map_err(ApiError::internal)?;
    let mut items = Vec::with_capacity(lines.len());
    for (line, product) in lines.into_iter().zip(products) {
        let Some(product) = product else {
            continue;
        };
        items.push(CartItemView {
            product_id: line.product_id,
            quantity: line.quantity,
            product: pricing.price(product)?,
        });
    }
    Ok(CartView {
        user_id: user.to_string(),
        items,
    })
}
