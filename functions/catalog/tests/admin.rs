//! The admin API's handlers against the template's tables and the admin key
//! parameter in the emulator (created there as the deploy-time setup does).

use astroshop_catalog::admin::{create_product, delete_product, replace_product};
use astroshop_domain::ProductId;
use astroshop_edge::AdminKey;
use astroshop_store::{ProductCatalog, ProductTable};
use lambda_http::http::HeaderValue;
use lambda_http::{Body, Request, Response};
use local_stack_testing::{TestTables, json_response as json, request};
use serde_json::{Value, json};

struct Admin {
    products: ProductTable,
    key: AdminKey,
    secret: String,
}

async fn admin(prefix: &str) -> Admin {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    let secret = tables.admin_secret().await;
    let ssm = aws_sdk_ssm::Client::new(tables.config());
    let parameter = tables.setting("ADMIN_KEY_PARAMETER");
    Admin {
        products: ProductTable::new(tables.dynamodb(), tables.setting("PRODUCTS_TABLE")),
        key: AdminKey::new(ssm, parameter, AdminKey::TTL),
        secret,
    }
}

enum Key<'k> {
    None,
    Bearer(&'k str),
}

fn admin_request(method: &str, uri: &str, body: Option<&Value>, function: &str, key: Key<'_>) -> Request {
    let text = body.map(Value::to_string);
    let mut request = request(method, uri, text.as_deref(), function);
    if let Key::Bearer(secret) = key {
        request.headers_mut().insert(
            "authorization",
            HeaderValue::try_from(format!("Bearer {secret}")).unwrap(),
        );
    }
    request
}

impl Admin {
    async fn create(&self, body: &Value, key: Key<'_>) -> Response<Body> {
        let request = admin_request(
            "POST",
            "/api/admin/products",
            Some(body),
            "catalog-admin-create",
            key,
        );
        create_product(&self.products, &self.key, request)
            .await
            .unwrap_or_else(|e| e.into_response())
    }

    async fn replace(&self, id: &str, body: &Value) -> (u16, Value) {
        let uri = format!("/api/admin/products/{id}");
        let request = admin_request(
            "PUT",
            &uri,
            Some(body),
            "catalog-admin-update",
            Key::Bearer(&self.secret),
        );
        json(
            replace_product(&self.products, &self.key, request)
                .await
                .unwrap_or_else(|e| e.into_response()),
        )
    }

    async fn delete(&self, id: &str) -> (u16, Value) {
        let uri = format!("/api/admin/products/{id}");
        let request = admin_request(
            "DELETE",
            &uri,
            None,
            "catalog-admin-delete",
            Key::Bearer(&self.secret),
        );
        json(
            delete_product(&self.products, &self.key, request)
                .await
                .unwrap_or_else(|e| e.into_response()),
        )
    }

    async fn stored(&self, id: &str) -> Option<Value> {
        let product = self
            .products
            .get_product(&ProductId::parse(id).unwrap())
            .await
            .unwrap();
        product.map(|p| serde_json::to_value(p).unwrap())
    }

    async fn catalogue_size(&self) -> usize {
        self.products.list_products().await.unwrap().len()
    }
}

fn moon_lamp() -> Value {
    json!({
        "id": "ADMINTEST1",
        "name": "Moon Lamp",
        "description": "A lamp shaped like the Moon.",
        "picture": "MoonLamp.jpg",
        "priceUsd": {"currencyCode": "USD", "units": 39, "nanos": 990000000},
        "categories": ["lamps", "accessories"]
    })
}

#[tokio::test]
async fn no_key_is_a_401_asking_for_a_bearer_token_and_a_wrong_key_a_403() {
    let admin = admin("admin-keys").await;
    let response = admin.create(&moon_lamp(), Key::None).await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let (status, body) = json(response);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );

    let (status, body) = json(admin.create(&moon_lamp(), Key::Bearer("not-the-key")).await);
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")));

    let mut basic = admin_request(
        "POST",
        "/api/admin/products",
        Some(&moon_lamp()),
        "catalog-admin-create",
        Key::None,
    );
    let basic_credentials = format!("Basic {}", admin.secret);
    basic
        .headers_mut()
        .insert("authorization", HeaderValue::try_from(basic_credentials).unwrap());
    let (status, _) = json(
        create_product(&admin.products, &admin.key, basic)
            .await
            .unwrap_or_else(|e| e.into_response()),
    );
    assert_eq!(status, 401);

    assert_eq!(admin.stored("ADMINTEST1").await, None);
    assert_eq!(admin.catalogue_size().await, 10);
}

#[tokio::test]
async fn a_created_product_is_stored_and_located() {
    let admin = admin("admin-create").await;
    let response = admin.create(&moon_lamp(), Key::Bearer(&admin.secret)).await;
    assert_eq!(response.headers()["location"], "/api/products/ADMINTEST1");
    let (status, body) = json(response);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, moon_lamp());
    assert_eq!(admin.stored("ADMINTEST1").await, Some(moon_lamp()));
}

#[tokio::test]
async fn a_product_without_an_id_gets_one_in_the_demos_style() {
    let admin = admin("admin-new-id").await;
    let mut draft = moon_lamp();
    draft.as_object_mut().unwrap().remove("id");
    let (status, body) = json(admin.create(&draft, Key::Bearer(&admin.secret)).await);
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap();
    assert!(
        id.len() == 10 && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(admin.stored(id).await.unwrap()["name"], "Moon Lamp");
}

#[tokio::test]
async fn creating_an_id_in_use_is_a_409_and_keeps_the_original() {
    let admin = admin("admin-duplicate").await;
    let mut copy = moon_lamp();
    copy["id"] = json!("OLJCESPC7Z");
    let (status, body) = json(admin.create(&copy, Key::Bearer(&admin.secret)).await);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("product_exists"))
    );
    assert_eq!(
        admin.stored("OLJCESPC7Z").await.unwrap()["name"],
        "National Park Foundation Explorascope"
    );
}

#[tokio::test]
async fn every_invalid_field_is_a_400_naming_it_and_nothing_is_written() {
    let admin = admin("admin-invalid").await;
    let with = |field: &str, value: Value| {
        let mut draft = moon_lamp();
        draft[field] = value;
        draft
    };
    let without = |field: &str| {
        let mut draft = moon_lamp();
        draft.as_object_mut().unwrap().remove(field);
        draft
    };
    let cases = [
        (with("name", json!("   ")), "invalid_name"),
        (with("name", json!("x".repeat(101))), "invalid_name"),
        (
            with("description", json!("x".repeat(5001))),
            "invalid_description",
        ),
        (with("picture", json!("../etc/passwd")), "invalid_picture"),
        (
            with("picture", json!("https://example.com/a.jpg")),
            "invalid_picture",
        ),
        (
            with("priceUsd", json!({"currencyCode": "EUR", "units": 1, "nanos": 0})),
            "invalid_price",
        ),
        (
            with(
                "priceUsd",
                json!({"currencyCode": "USD", "units": -1, "nanos": 0}),
            ),
            "invalid_price",
        ),
        (
            with(
                "priceUsd",
                json!({"currencyCode": "USD", "units": 1, "nanos": 1000000000}),
            ),
            "invalid_price",
        ),
        (with("categories", json!([])), "invalid_categories"),
        (with("categories", json!(["Telescopes"])), "invalid_categories"),
        (with("categories", json!(["star gazing"])), "invalid_categories"),
        (with("id", json!("a b")), "invalid_product_id"),
        (without("name"), "invalid_body"),
        (with("priceUsd", json!("39.99")), "invalid_body"),
    ];
    for (draft, code) in cases {
        let (status, body) = json(admin.create(&draft, Key::Bearer(&admin.secret)).await);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{draft}: {body}"
        );
    }
    let request = request(
        "POST",
        "/api/admin/products",
        Some("{not json"),
        "catalog-admin-create",
    );
    let mut request = request;
    request.headers_mut().insert(
        "authorization",
        HeaderValue::try_from(format!("Bearer {}", admin.secret)).unwrap(),
    );
    let (status, _) = json(
        create_product(&admin.products, &admin.key, request)
            .await
            .unwrap_or_else(|e| e.into_response()),
    );
    assert_eq!(status, 400);
    assert_eq!(admin.stored("ADMINTEST1").await, None);
    assert_eq!(admin.catalogue_size().await, 10);
}

#[tokio::test]
async fn a_replace_changes_an_existing_product_and_an_unknown_id_is_a_404() {
    let admin = admin("admin-replace").await;
    let (status, body) = admin.replace("ADMINTEST1", &moon_lamp()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("product_not_found"))
    );
    assert_eq!(
        admin.stored("ADMINTEST1").await,
        None,
        "a replace creates nothing"
    );

    let mut renamed = moon_lamp();
    renamed["id"] = json!("L9ECAV7KIM");
    renamed["name"] = json!("Lens Cleaning Kit Deluxe");
    let (status, body) = admin.replace("L9ECAV7KIM", &renamed).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(admin.stored("L9ECAV7KIM").await, Some(renamed.clone()));

    let (status, body) = admin.replace("OLJCESPC7Z", &renamed).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_product_id"))
    );
}

#[tokio::test]
async fn a_deleted_product_is_gone_and_deleting_it_again_is_a_404() {
    let admin = admin("admin-delete").await;
    let (status, body) = admin.delete("HQTGWGPNH4").await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(admin.stored("HQTGWGPNH4").await, None);
    let (status, body) = admin.delete("HQTGWGPNH4").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("product_not_found"))
    );
    assert_eq!(admin.catalogue_size().await, 9);
}
