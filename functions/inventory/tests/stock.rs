//! The stock API's handlers, called in-process with the API Gateway events
//! the gateway builds, against the template's tables (seeded as a deploy
//! seeds them) and the admin key parameter in the emulator.

use astroshop_domain::{CartLine, ProductId, Quantity};
use astroshop_edge::AdminKey;
use astroshop_inventory::store::{Hold, InventoryTable, Reservations, StockLevels};
use astroshop_inventory::{get_stock, list_stock, restock};
use astroshop_seed::SeedTargets;
use lambda_http::http::HeaderValue;
use local_stack_testing::{TestTables, json_response as json, new_order_id, request, sample_request};
use serde_json::{Value, json};

struct Shop {
    tables: TestTables,
    stock: InventoryTable,
    key: AdminKey,
    secret: String,
}

async fn shop(prefix: &str) -> Shop {
    let tables = TestTables::provision(prefix).await.expect("tables provisioned");
    let secret = tables.admin_secret().await;
    let ssm = aws_sdk_ssm::Client::new(tables.config());
    let parameter = tables.setting("ADMIN_KEY_PARAMETER");
    Shop {
        stock: InventoryTable::new(tables.dynamodb(), tables.setting("INVENTORY_TABLE")),
        key: AdminKey::new(ssm, parameter, AdminKey::TTL),
        secret,
        tables,
    }
}

impl Shop {
    async fn list(&self) -> (u16, Value) {
        let request = request("GET", "/api/inventory", None, "inventory-list");
        json(
            list_stock(&self.stock, request)
                .await
                .unwrap_or_else(|e| e.into_response()),
        )
    }

    async fn get(&self, product: &str) -> (u16, Value) {
        let request = request("GET", &format!("/api/inventory/{product}"), None, "inventory-get");
        json(
            get_stock(&self.stock, request)
                .await
                .unwrap_or_else(|e| e.into_response()),
        )
    }

    async fn restock(&self, product: &str, body: Option<&str>, bearer: Option<&str>) -> (u16, Value) {
        let uri = format!("/api/admin/inventory/{product}");
        let mut request = request("PUT", &uri, body, "inventory-restock");
        if let Some(secret) = bearer {
            request.headers_mut().insert(
                "authorization",
                HeaderValue::try_from(format!("Bearer {secret}")).unwrap(),
            );
        }
        json(
            restock(&self.stock, &self.key, request)
                .await
                .unwrap_or_else(|e| e.into_response()),
        )
    }
}

#[tokio::test]
async fn every_seeded_product_is_stocked_listed_and_read_alone() {
    let shop = shop("invpay-stock-seeded").await;
    let seeded = astroshop_seed::stock().unwrap();
    let (status, listed) = shop.list().await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), seeded.len(), "{listed:?}");
    for (product, available) in &seeded {
        let entry = json!({"productId": product.as_str(), "available": available});
        assert!(listed.contains(&entry), "{entry} not in {listed:?}");
        assert_eq!(shop.get(product.as_str()).await, (200, entry));
    }
}

#[tokio::test]
async fn the_stock_list_comes_a_page_at_a_time_by_product_id() {
    let shop = shop("invpay-stock-pages").await;
    let (_, everything) = shop.list().await;
    let mut pages = Vec::new();
    let mut listed = Vec::new();
    let mut uri = "/api/inventory?limit=3".to_owned();
    loop {
        let response = list_stock(&shop.stock, request("GET", &uri, None, "inventory-list"))
            .await
            .unwrap();
        let link = response
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        let (status, page) = json(response);
        assert_eq!(status, 200, "{page}");
        pages.push(page.as_array().unwrap().len());
        listed.extend(page.as_array().unwrap().iter().cloned());
        let Some(link) = link else { break };
        uri = link[1..link.find('>').unwrap()].to_owned();
    }
    assert_eq!(pages, [3, 3, 3, 1]);
    assert_eq!(
        listed,
        *everything.as_array().unwrap(),
        "every product once, by id"
    );
    let (status, body) = json(
        list_stock(
            &shop.stock,
            request("GET", "/api/inventory?cursor=bm9wZQ", None, "inventory-list"),
        )
        .await
        .unwrap_or_else(|e| e.into_response()),
    );
    assert_eq!(
        (status, body["error"]["parameter"].as_str()),
        (400, Some("cursor")),
        "{body}"
    );
}

#[tokio::test]
async fn seeding_again_never_resets_stock_that_changed() {
    let shop = shop("invpay-stock-reseed").await;
    let product = ProductId::parse("OLJCESPC7Z").unwrap();
    shop.stock.set_stock(&product, 7).await.unwrap();
    let seeder = SeedTargets::from_settings(shop.tables.dynamodb(), |name| {
        Some(shop.tables.setting(name).to_owned())
    })
    .unwrap();
    seeder.seed().await.unwrap();
    assert_eq!(
        shop.get("OLJCESPC7Z").await,
        (200, json!({"productId": "OLJCESPC7Z", "available": 7}))
    );
}

#[tokio::test]
async fn an_unstocked_product_is_404_and_a_malformed_id_is_400() {
    let shop = shop("invpay-stock-missing").await;
    let (status, body) = shop.get("NOSUCHTHING").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("stock_not_found"))
    );
    let (status, body) = shop.get("bad.id").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_product_id"))
    );
}

#[tokio::test]
async fn restocking_sets_the_count_only_with_the_admin_key() {
    let shop = shop("invpay-stock-restock").await;
    let body = Some(r#"{"available": 42}"#);
    let (status, answer) = shop.restock("OLJCESPC7Z", body, None).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, answer) = shop.restock("OLJCESPC7Z", body, Some("guess")).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(shop.get("OLJCESPC7Z").await.1["available"], 250);

    let set = json!({"productId": "OLJCESPC7Z", "available": 42});
    assert_eq!(
        shop.restock("OLJCESPC7Z", body, Some(&shop.secret)).await,
        (200, set.clone())
    );
    assert_eq!(shop.get("OLJCESPC7Z").await, (200, set));

    // A product the catalogue just gained has no stock until it is given some.
    assert_eq!(shop.get("NEW-TELESCOPE").await.0, 404);
    let opened = json!({"productId": "NEW-TELESCOPE", "available": 0});
    let zero = Some(r#"{"available": 0}"#);
    assert_eq!(
        shop.restock("NEW-TELESCOPE", zero, Some(&shop.secret)).await,
        (200, opened.clone())
    );
    assert_eq!(shop.get("NEW-TELESCOPE").await, (200, opened.clone()));
    let (_, listed) = shop.list().await;
    assert!(listed.as_array().unwrap().contains(&opened), "{listed}");
}

#[tokio::test]
async fn the_listing_shows_the_stock_left_and_never_the_orders_reservations() {
    let shop = shop("invpay-stock-held").await;
    let seeded = astroshop_seed::stock().unwrap();
    let order = new_order_id();
    let line = CartLine {
        product_id: ProductId::parse("OLJCESPC7Z").unwrap(),
        quantity: Quantity::new(3).unwrap(),
    };
    assert_eq!(shop.stock.hold(&order, &[line]).await.unwrap(), Hold::Held);

    let (status, listed) = shop.list().await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), seeded.len(), "{listed:?}");
    let product_ids: Vec<&str> = listed
        .iter()
        .map(|entry| entry["productId"].as_str().unwrap())
        .collect();
    let mut sorted = product_ids.clone();
    sorted.sort_unstable();
    assert_eq!(product_ids, sorted, "listed by product id");
    let held = ProductId::parse("OLJCESPC7Z").unwrap();
    let expected = json!({"productId": "OLJCESPC7Z", "available": seeded[&held] - 3});
    assert!(listed.contains(&expected), "{expected} not in {listed:?}");
}

#[tokio::test]
async fn bad_restocks_are_400_and_change_nothing() {
    let shop = shop("invpay-stock-bad").await;
    let cases: [(Option<&str>, &str); 9] = [
        (Some(r#"{"available": -1}"#), "invalid_available"),
        (Some(r#"{"available": 1000001}"#), "invalid_available"),
        (Some(r#"{"available": 1.5}"#), "invalid_body"),
        (Some(r#"{"available": "ten"}"#), "invalid_body"),
        (Some(r#"{"available": 99999999999999999999}"#), "invalid_body"),
        (Some(r#"{}"#), "invalid_body"),
        (Some(r#"{"available": 5, "reserved": 1}"#), "invalid_body"),
        (Some("available=5"), "invalid_body"),
        (None, "missing_body"),
    ];
    for (body, code) in cases {
        let (status, answer) = shop.restock("OLJCESPC7Z", body, Some(&shop.secret)).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{body:?}"
        );
    }
    let (status, answer) = shop
        .restock("bad.id", Some(r#"{"available": 5}"#), Some(&shop.secret))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_product_id"))
    );
    assert_eq!(shop.get("OLJCESPC7Z").await.1["available"], 250);
    assert_eq!(shop.get("bad.id").await.0, 400);
}

#[tokio::test]
async fn the_sample_requests_read_the_seeded_stock() {
    let shop = shop("invpay-stock-samples").await;
    let one = get_stock(&shop.stock, sample_request("http/inventory-get.json").unwrap()).await;
    assert_eq!(
        json(one.unwrap()),
        (200, json!({"productId": "OLJCESPC7Z", "available": 250}))
    );
    let all = list_stock(&shop.stock, sample_request("http/inventory-list.json").unwrap()).await;
    let (status, listed) = json(all.unwrap());
    assert_eq!((status, listed.as_array().map(Vec::len)), (200, Some(10)));
}
