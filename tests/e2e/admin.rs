//! The admin API end to end: writes go to the catalogue, search follows
//! through the stream within seconds, and every rejected write leaves the
//! catalogue as it was. Products and words here are the tests' own, so the
//! tests that list the catalogue or search it are not disturbed.

use anyhow::Result;
use astroshop_tests::{Reply, Shop, ensure_that};
use serde_json::{Value, json};

use crate::catalog::ensure_error;
use crate::search::{INDEXING_DEADLINE, eventually, found_ids, product_page, search_finds};

pub const TESTS: &[(&str, crate::Test)] = tests![
    a_created_product_is_found_renamed_and_deleted_through_search,
    a_product_created_without_an_id_gets_one,
    no_key_is_a_401_and_a_wrong_key_a_403_and_nothing_changes,
    bad_bodies_duplicates_and_unknown_ids_are_rejected_and_nothing_changes,
];

/// A product of the admin tests; each test writes to a category of its own,
/// so one test's products never keep another's category listed.
fn orrery(id: &str, name: &str, category: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "description": "A clockwork model of the solar system, for the admin tests.",
        "picture": "Orrery.jpg",
        "priceUsd": {"currencyCode": "USD", "units": 249, "nanos": 500000000},
        "categories": [category]
    })
}

/// Waits until `/api/categories` lists `category` with `count` products, or
/// not at all for `None`.
fn categories_show(shop: &Shop, category: &str, count: Option<u64>) -> Result<()> {
    eventually(
        &format!("the category {category} listed with {count:?} products"),
        INDEXING_DEADLINE,
        || {
            let categories = shop.get("/api/categories")?.body;
            let listed = categories
                .as_array()
                .and_then(|all| all.iter().find(|c| c["name"] == category))
                .and_then(|c| c["productCount"].as_u64());
            Ok(if listed == count {
                Ok(())
            } else {
                Err(categories.to_string())
            })
        },
    )
}

fn admin(shop: &Shop, method: &str, path: &str, body: Option<&Value>) -> Result<Reply> {
    let bearer = format!("Bearer {}", shop.admin_key()?);
    shop.send_with_headers(method, path, &[("authorization", &bearer)], body)
}

fn a_created_product_is_found_renamed_and_deleted_through_search(shop: &Shop) -> Result<()> {
    let reply = admin(
        shop,
        "POST",
        "/api/admin/products",
        Some(&orrery("E2EORRERY1", "Zenithal Orrery", "orreries")),
    )?;
    ensure_that!(
        reply.status == 201,
        "create: status {}: {}",
        reply.status,
        reply.body
    );
    let location = reply.headers.get("location").and_then(|v| v.to_str().ok());
    ensure_that!(
        location == Some("/api/products/E2EORRERY1"),
        "location {location:?}"
    );
    search_finds(shop, "zenithal", &["E2EORRERY1"])?;
    categories_show(shop, "orreries", Some(1))?;

    let renamed = orrery("E2EORRERY1", "Azimuthal Orrery", "orreries");
    let reply = admin(shop, "PUT", "/api/admin/products/E2EORRERY1", Some(&renamed))?;
    ensure_that!(
        reply.status == 200,
        "rename: status {}: {}",
        reply.status,
        reply.body
    );
    search_finds(shop, "azimuthal%20orrery", &["E2EORRERY1"])?;
    search_finds(shop, "zenithal", &[])?;
    ensure_that!(
        product_page(shop, "E2EORRERY1")?["name"] == "Azimuthal Orrery",
        "the product page shows the old name"
    );

    let reply = admin(shop, "DELETE", "/api/admin/products/E2EORRERY1", None)?;
    ensure_that!(
        reply.status == 204,
        "delete: status {}: {}",
        reply.status,
        reply.body
    );
    search_finds(shop, "azimuthal", &[])?;
    ensure_that!(
        product_page(shop, "E2EORRERY1")?.is_null(),
        "the deleted product is still shown"
    );
    categories_show(shop, "orreries", None)
}

fn a_product_created_without_an_id_gets_one(shop: &Shop) -> Result<()> {
    let mut draft = orrery("", "Heliacal Orrery", "heliacal");
    draft.as_object_mut().map(|d| d.remove("id"));
    let reply = admin(shop, "POST", "/api/admin/products", Some(&draft))?;
    ensure_that!(reply.status == 201, "status {}: {}", reply.status, reply.body);
    let id = reply.body["id"].as_str().unwrap_or_default().to_owned();
    ensure_that!(
        id.len() == 10 && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "generated id {id:?}"
    );
    search_finds(shop, "heliacal", &[&id])?;
    let reply = admin(shop, "DELETE", &format!("/api/admin/products/{id}"), None)?;
    ensure_that!(reply.status == 204, "delete: status {}", reply.status);
    search_finds(shop, "heliacal", &[])
}

fn no_key_is_a_401_and_a_wrong_key_a_403_and_nothing_changes(shop: &Shop) -> Result<()> {
    let seeded = product_page(shop, "OLJCESPC7Z")?;
    let draft = orrery("E2EORRERY2", "Equinoctial Orrery", "equinoctial");
    let reply = shop.send("POST", "/api/admin/products", Some(&draft))?;
    ensure_that!(reply.status == 401, "no key: status {}", reply.status);
    let challenge = reply
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok());
    ensure_that!(challenge == Some("Bearer"), "WWW-Authenticate {challenge:?}");
    ensure_error(&reply.body, "unauthorized")?;

    let wrong = [("authorization", "Bearer not-the-admin-key")];
    let mut replaced = orrery("OLJCESPC7Z", "Equinoctial Orrery", "equinoctial");
    replaced["id"] = json!("OLJCESPC7Z");
    for (method, path, body) in [
        ("POST", "/api/admin/products", Some(&draft)),
        ("PUT", "/api/admin/products/OLJCESPC7Z", Some(&replaced)),
        ("DELETE", "/api/admin/products/OLJCESPC7Z", None),
    ] {
        let reply = shop.send_with_headers(method, path, &wrong, body)?;
        ensure_that!(
            reply.status == 403,
            "{method} {path} with a wrong key: status {}",
            reply.status
        );
        ensure_error(&reply.body, "forbidden")?;
        let reply = shop.send(method, path, body)?;
        ensure_that!(
            reply.status == 401,
            "{method} {path} without a key: status {}",
            reply.status
        );
    }
    ensure_that!(
        product_page(shop, "E2EORRERY2")?.is_null(),
        "a rejected create wrote a product"
    );
    ensure_that!(
        product_page(shop, "OLJCESPC7Z")? == seeded,
        "a rejected write changed OLJCESPC7Z"
    );
    Ok(())
}

fn bad_bodies_duplicates_and_unknown_ids_are_rejected_and_nothing_changes(shop: &Shop) -> Result<()> {
    let seeded = product_page(shop, "OLJCESPC7Z")?;
    let with = |field: &str, value: Value| {
        let mut draft = orrery("E2EORRERY3", "Solstitial Orrery", "solstitial");
        draft[field] = value;
        draft
    };
    for (draft, code) in [
        (with("name", json!("")), "invalid_name"),
        (with("picture", json!("../../etc/passwd")), "invalid_picture"),
        (
            with(
                "priceUsd",
                json!({"currencyCode": "USD", "units": -5, "nanos": 0}),
            ),
            "invalid_price",
        ),
        (
            with("priceUsd", json!({"currencyCode": "EUR", "units": 5, "nanos": 0})),
            "invalid_price",
        ),
        (with("categories", json!([])), "invalid_categories"),
        (with("categories", json!(["Orreries!"])), "invalid_categories"),
        (with("priceUsd", json!(249.5)), "invalid_body"),
    ] {
        let reply = admin(shop, "POST", "/api/admin/products", Some(&draft))?;
        ensure_that!(
            reply.status == 400,
            "{draft}: status {}: {}",
            reply.status,
            reply.body
        );
        ensure_error(&reply.body, code)?;
    }
    ensure_that!(
        product_page(shop, "E2EORRERY3")?.is_null(),
        "a rejected create wrote a product"
    );

    let duplicate = orrery("OLJCESPC7Z", "Solstitial Orrery", "solstitial");
    let reply = admin(shop, "POST", "/api/admin/products", Some(&duplicate))?;
    ensure_that!(
        reply.status == 409,
        "duplicate: status {}: {}",
        reply.status,
        reply.body
    );
    ensure_error(&reply.body, "product_exists")?;

    let reply = admin(
        shop,
        "PUT",
        "/api/admin/products/E2EORRERY3",
        Some(&orrery("E2EORRERY3", "Solstitial Orrery", "solstitial")),
    )?;
    ensure_that!(
        reply.status == 404,
        "unknown PUT: status {}: {}",
        reply.status,
        reply.body
    );
    ensure_error(&reply.body, "product_not_found")?;
    let reply = admin(shop, "DELETE", "/api/admin/products/E2EORRERY3", None)?;
    ensure_that!(reply.status == 404, "unknown DELETE: status {}", reply.status);
    ensure_error(&reply.body, "product_not_found")?;

    ensure_that!(
        product_page(shop, "E2EORRERY3")?.is_null(),
        "a rejected replace created a product"
    );
    ensure_that!(
        product_page(shop, "OLJCESPC7Z")? == seeded,
        "a rejected write changed OLJCESPC7Z"
    );
    // Searching finds nothing of a rejected write only once the index has
    // caught up: a write accepted after them, to the same product, found by
    // search, shows that any earlier change to it has been indexed.
    let reply = admin(
        shop,
        "POST",
        "/api/admin/products",
        Some(&orrery("E2EORRERY3", "Sidereal Orrery", "sidereal")),
    )?;
    ensure_that!(
        reply.status == 201,
        "create: status {}: {}",
        reply.status,
        reply.body
    );
    search_finds(shop, "sidereal", &["E2EORRERY3"])?;
    let found = found_ids(shop, "solstitial")?;
    ensure_that!(found.is_empty(), "a rejected write was indexed: {found:?}");
    let reply = admin(shop, "DELETE", "/api/admin/products/E2EORRERY3", None)?;
    ensure_that!(reply.status == 204, "delete: status {}", reply.status);
    search_finds(shop, "sidereal", &[])
}
