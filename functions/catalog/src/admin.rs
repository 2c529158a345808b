//! The catalogue's admin API: create, replace and delete products in the
//! `Products` table (the write model), behind a bearer key kept in SSM
//! Parameter Store (`astroshop_edge::AdminKey`). Search catches up through the
//! table's stream.

use astroshop_domain::{CurrencyCode, Money, Product, ProductId};
use astroshop_edge::{AdminKey, ApiError, json, json_body, path_param};
use astroshop_store::{Changed, Created, ProductEditor};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use rand::Rng;
use serde::Deserialize;

/// A product as an admin sends it, in the demo's JSON shape.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductDraft {
    #[serde(default)]
    id: Option<String>,
    name: String,
    #[serde(default)]
    description: String,
    picture: String,
    price_usd: PriceDraft,
    categories: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PriceDraft {
    currency_code: String,
    units: i64,
    #[serde(default)]
    nanos: i64,
}

const MAX_NAME_CHARS: usize = 100;
const MAX_DESCRIPTION_CHARS: usize = 5_000;
const MAX_PICTURE_CHARS: usize = 100;
const MAX_CATEGORIES: usize = 10;
const MAX_CATEGORY_CHARS: usize = 30;

fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, message)
}

impl ProductDraft {
    /// The product this draft describes, under `id`; every rule broken is a
    /// 400 naming the field.
    pub fn into_product(self, id: ProductId) -> Result<Product, ApiError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(invalid(
                "invalid_name",
                format!("name must be 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(invalid(
                "invalid_description",
                format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        let plain_file_name = (1..=MAX_PICTURE_CHARS).contains(&self.picture.len())
            && !self.picture.starts_with('.')
            && self
                .picture
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !plain_file_name {
            return Err(invalid(
                "invalid_picture",
                format!(
                    "picture must be a plain file name (letters, digits, '.', '-', '_'; at most {MAX_PICTURE_CHARS})"
                ),
            ));
        }
        let price = self.price_usd;
        if price.currency_code != "USD" {
            return Err(invalid("invalid_price", "priceUsd must be in USD"));
        }
        if price.units < 0 || price.nanos < 0 {
            return Err(invalid("invalid_price", "priceUsd must not be negative"));
        }
        let price_usd = Money::new(CurrencyCode::usd(), price.units, price.nanos)
            .map_err(|error| invalid("invalid_price", format!("priceUsd: {error}")))?;
        let lower_case_word = |category: &String| {
            (1..=MAX_CATEGORY_CHARS).contains(&category.len())
                && category.bytes().all(|b| b.is_ascii_lowercase())
        };
        if self.categories.is_empty()
            || self.categories.len() > MAX_CATEGORIES
            || !self.categories.iter().all(lower_case_word)
        {
            return Err(invalid(
                "invalid_categories",
                format!(
                    "categories must be 1 to {MAX_CATEGORIES} lower-case words (a-z, at most {MAX_CATEGORY_CHARS} letters)"
                ),
            ));
        }
        let mut categories = Vec::with_capacity(self.categories.len());
        for category in self.categories {
            if !categories.contains(&category) {
                categories.push(category);
            }
        }
        Ok(Product {
            id,
            name,
            description: self.description,
            picture: self.picture,
            price_usd,
            categories,
        })
    }

    fn id(&self) -> Result<Option<ProductId>, ApiError> {
        self.id
            .as_deref()
            .map(ProductId::parse)
            .transpose()
            .map_err(|error| invalid("invalid_product_id", format!("id: {error}")))
    }
}

/// A fresh id in the demo's style: ten upper-case letters and digits.
fn new_product_id() -> ProductId {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let id: String = (0..10)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    ProductId::parse(&id).expect("ten letters and digits are a product id")
}

fn id_in_path(request: &Request) -> Result<ProductId, ApiError> {
    ProductId::parse(path_param(request, "productId")?)
        .map_err(|error| invalid("invalid_product_id", error.to_string()))
}

fn no_such_product(id: &ProductId) -> ApiError {
    ApiError::not_found("product_not_found", format!("no product with id {id}"))
}

/// `POST /api/admin/products`: 201 with the product and its `Location`; an
/// id already in use is a 409 and changes nothing.
pub async fn create_product(
    catalog: &impl ProductEditor,
    key: &AdminKey,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    key.authorize(&request).await?;
    let draft: ProductDraft = json_body(&request)?;
    let id = draft.id()?.unwrap_or_else(new_product_id);
    let product = draft.into_product(id)?;
    match catalog
        .create_product(&product)
        .await
        .map_err(ApiError::internal)?
    {
        Created::Created => {
            let mut response = json(StatusCode::CREATED, &product);
            let location =
                HeaderValue::try_from(format!("/api/products/{}", product.id)).map_err(ApiError::internal)?;
            response.headers_mut().insert(header::LOCATION, location);
            Ok(response)
        }
        Created::IdTaken => Err(ApiError::Conflict {
            code: "product_exists",
            message: format!("a product with id {} already exists", product.id),
        }),
    }
}

/// `PUT /api/admin/products/{productId}`: replaces the product whole; an
/// unknown id is a 404 and creates nothing.
pub async fn replace_product(
    catalog: &impl ProductEditor,
    key: &AdminKey,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    key.authorize(&request).await?;
    let id = id_in_path(&request)?;
    let draft: ProductDraft = json_body(&request)?;
    if draft.id()?.is_some_and(|in_body| in_body != id) {
        return Err(invalid(
            "invalid_product_id",
            format!("id in the body differs from {id} in the path"),
        ));
    }
    let product = draft.into_product(id)?;
    match catalog
        .replace_product(&product)
        .await
        .map_err(ApiError::internal)?
    {
        Changed::Changed => Ok(json(StatusCode::OK, &product)),
        Changed::NoSuchProduct => Err(no_such_product(&product.id)),
    }
}

/// `DELETE /api/admin/products/{productId}`: 204, or 404 for an unknown id.
pub async fn delete_product(
    catalog: &impl ProductEditor,
    key: &AdminKey,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    key.authorize(&request).await?;
    let id = id_in_path(&request)?;
    match catalog.delete_product(&id).await.map_err(ApiError::internal)? {
        Changed::Changed => Ok(Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(Body::Empty)
            .map_err(ApiError::internal)?),
        Changed::NoSuchProduct => Err(no_such_product(&id)),
    }
}
