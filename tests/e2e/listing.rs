//! Browsing the catalogue end to end: the product list filtered by category
//! and price, sorted by name or price, and paged by the `Link` each page
//! gives, over the seeded catalogue and forty products the admin API adds;
//! and search as a shopper types, best matches first.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use astroshop_tests::{Reply, Shop, ensure_that};
use serde_json::{Value, json};

use crate::search::{INDEXING_DEADLINE, eventually};

pub const TESTS: &[(&str, crate::Test)] = tests![
    a_prefix_finds_the_telescopes_with_name_matches_first,
    bad_list_parameters_are_400s_naming_the_parameter,
];

/// Alone: it adds forty products to the catalogue that other tests list.
pub const EXCLUSIVE: &[(&str, crate::Test)] =
    tests![fifty_products_page_in_every_order_with_none_missing_or_twice_and_a_repriced_one_moves];

/// The category the forty belong to, besides half of them being lamps.
const NEBULAE: &str = "nebulae";

const SEEDED: [&str; 10] = [
    "OLJCESPC7Z",
    "66VCHSJNUP",
    "1YMWWN1N4O",
    "L9ECAV7KIM",
    "2ZYFJ3GM2N",
    "0PUK6V6EV0",
    "LS4PSXUNUM",
    "9SIQT8TOJO",
    "6E92ZMYYFZ",
    "HQTGWGPNH4",
];

fn admin(shop: &Shop, method: &str, path: &str, body: Option<&Value>) -> Result<Reply> {
    let bearer = format!("Bearer {}", shop.admin_key()?);
    shop.send_with_headers(method, path, &[("authorization", &bearer)], body)
}

/// The `i`th of the forty: prices spread and out of name order, some equal.
fn nebula(i: u32) -> Value {
    let mut categories = vec![NEBULAE];
    if i.is_multiple_of(2) {
        categories.push("lamps");
    }
    json!({
        "id": format!("NEBULA{i:04}"),
        "name": format!("Nebula Lamp {}", ["Orion", "Crab", "Ring", "Veil", "Helix"][i as usize % 5]) + &format!(" {i:02}"),
        "description": "A night light that paints a nebula on the ceiling.",
        "picture": "NebulaLamp.jpg",
        "priceUsd": {"currencyCode": "USD", "units": 10 + (i * 37) % 41, "nanos": if i.is_multiple_of(3) { 0 } else { 500_000_000 }},
        "categories": categories,
    })
}

/// Every page from `path` on, following each page's `Link: <…>; rel="next"`.
fn pages(shop: &Shop, path: &str) -> Result<Vec<Vec<Value>>> {
    let mut pages = Vec::new();
    let mut next = Some(path.to_owned());
    while let Some(path) = next {
        let reply = shop.get(&path)?;
        ensure_that!(reply.status == 200, "{path}: {} {}", reply.status, reply.body);
        pages.push(reply.body.as_array().context("a page is a list")?.clone());
        next = match reply.headers.get("link") {
            None => None,
            Some(link) => {
                let link = link.to_str()?;
                let url = link
                    .strip_prefix('<')
                    .and_then(|rest| rest.strip_suffix(">; rel=\"next\""))
                    .with_context(|| format!("not a next link: {link}"))?;
                Some(url.to_owned())
            }
        };
        ensure_that!(pages.len() <= 60, "{path}: paging does not end");
    }
    Ok(pages)
}

fn ids(products: &[Value]) -> Vec<String> {
    products
        .iter()
        .map(|p| p["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn price(product: &Value) -> i128 {
    let money = &product["priceUsd"];
    i128::from(money["units"].as_i64().unwrap_or(0)) * 1_000_000_000
        + i128::from(money["nanos"].as_i64().unwrap_or(0))
}

/// Pages `path` with the given `limit` and checks the pages against the
/// listing in one page: the same items in the same order, each once, every
/// page full but the last.
fn paged_like_one_page(shop: &Shop, path: &str, limit: usize) -> Result<Vec<Value>> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let whole = pages(shop, &format!("{path}{separator}limit=100"))?.concat();
    let paged = pages(shop, &format!("{path}{separator}limit={limit}"))?;
    let sizes: Vec<usize> = paged.iter().map(Vec::len).collect();
    ensure_that!(
        sizes.iter().rev().skip(1).all(|size| *size == limit) && sizes.last().is_some_and(|s| *s <= limit),
        "{path}: page sizes {sizes:?}"
    );
    let paged = paged.concat();
    let unique: BTreeSet<String> = ids(&paged).into_iter().collect();
    ensure_that!(
        unique.len() == paged.len(),
        "{path}: an item came twice: {:?}",
        ids(&paged)
    );
    ensure_that!(
        ids(&paged) == ids(&whole),
        "{path}: paged {:?}\nwhole {:?}",
        ids(&paged),
        ids(&whole)
    );
    Ok(whole)
}

fn fifty_products_page_in_every_order_with_none_missing_or_twice_and_a_repriced_one_moves(
    shop: &Shop,
) -> Result<()> {
    for i in 0..40 {
        let reply = admin(shop, "POST", "/api/admin/products", Some(&nebula(i)))?;
        ensure_that!(reply.status == 201, "create {i}: {} {}", reply.status, reply.body);
    }
    let listed = |path: &str, count: usize| {
        eventually(&format!("{path} lists {count}"), INDEXING_DEADLINE, || {
            let found = pages(shop, path)?.concat().len();
            Ok(if found == count {
                Ok(())
            } else {
                Err(format!("{found} listed"))
            })
        })
    };
    listed(&format!("/api/products?category={NEBULAE}"), 40)?;
    let outcome = browse(shop);
    for i in 0..40 {
        admin(shop, "DELETE", &format!("/api/admin/products/NEBULA{i:04}"), None)?;
    }
    // Gone from the listings too, so the tests that run after see the seeded catalogue.
    listed(&format!("/api/products?category={NEBULAE}"), 0)?;
    outcome
}

fn browse(shop: &Shop) -> Result<()> {
    let by_name = paged_like_one_page(shop, "/api/products", 7)?;
    let listed: BTreeSet<String> = ids(&by_name).into_iter().collect();
    let expected: BTreeSet<String> = SEEDED
        .iter()
        .map(|id| (*id).to_owned())
        .chain((0..40).map(|i| format!("NEBULA{i:04}")))
        .collect();
    ensure_that!(
        expected.is_subset(&listed),
        "missing: {:?}",
        expected.difference(&listed).collect::<Vec<_>>()
    );
    let names: Vec<String> = by_name
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    ensure_that!(names.is_sorted(), "not by name: {names:?}");

    let by_price = paged_like_one_page(shop, "/api/products?sort=price", 9)?;
    let prices: Vec<i128> = by_price.iter().map(price).collect();
    ensure_that!(prices.is_sorted(), "not by price: {prices:?}");
    let dearest_first = paged_like_one_page(shop, "/api/products?sort=-price", 11)?;
    let mut reversed = dearest_first.iter().map(price).collect::<Vec<_>>();
    reversed.reverse();
    ensure_that!(reversed == prices, "-price is not price reversed");

    // A category and a price range, in euros.
    let lamps = paged_like_one_page(
        shop,
        "/api/products?category=lamps&minPrice=20&maxPrice=40&sort=price&currencyCode=EUR",
        4,
    )?;
    let expected_lamps = (0..40_u32)
        .filter(|i: &u32| i.is_multiple_of(2))
        .filter(|i| {
            let usd = f64::from(10 + (i * 37) % 41) + if i.is_multiple_of(3) { 0.0 } else { 0.5 };
            (20.0..=40.0).contains(&(usd / 1.1305))
        })
        .count();
    ensure_that!(
        lamps.len() == expected_lamps,
        "{} lamps between 20 and 40 EUR, not {expected_lamps}",
        lamps.len()
    );
    ensure_that!(
        lamps.iter().all(|p| p["priceUsd"]["currencyCode"] == "EUR"
            && (20_000_000_000..=40_000_000_000).contains(&price(p))
            && p["categories"]
                .as_array()
                .is_some_and(|c| c.contains(&json!("lamps")))),
        "{lamps:?}"
    );

    // The cheapest nebula becomes the dearest product: it leaves the first
    // page of the price order and ends the last one.
    let cheapest = by_price
        .iter()
        .find(|p| p["id"].as_str().is_some_and(|id| id.starts_with("NEBULA")))
        .context("a nebula is listed")?
        .clone();
    let id = cheapest["id"].as_str().unwrap_or_default().to_owned();
    let mut repriced = cheapest.clone();
    repriced["priceUsd"] = json!({"currencyCode": "USD", "units": 9999, "nanos": 0});
    let reply = admin(shop, "PUT", &format!("/api/admin/products/{id}"), Some(&repriced))?;
    ensure_that!(reply.status == 200, "reprice: {} {}", reply.status, reply.body);
    eventually(&format!("{id} listed last by price"), INDEXING_DEADLINE, || {
        let pages = pages(shop, "/api/products?sort=price&limit=9")?;
        let last = pages.last().and_then(|page| page.last()).map(|p| p["id"].clone());
        let first_page = ids(&pages[0]);
        Ok(if last == Some(json!(id)) && !first_page.contains(&id) {
            Ok(())
        } else {
            Err(format!("last {last:?}, first page {first_page:?}"))
        })
    })?;
    paged_like_one_page(shop, "/api/products?sort=price", 9)?;
    Ok(())
}

fn a_prefix_finds_the_telescopes_with_name_matches_first(shop: &Shop) -> Result<()> {
    let reply = shop.get("/api/products/search?q=tele")?;
    ensure_that!(reply.status == 200, "{} {}", reply.status, reply.body);
    let found = ids(reply.body.as_array().context("a list")?);
    // Two have "Telescope" in their name; four more are in the category
    // "telescopes"; the lens kit only mentions telescopes in its description.
    ensure_that!(
        found.len() >= 7 && found[..2] == ["1YMWWN1N4O", "66VCHSJNUP"],
        "{found:?}"
    );
    let position = |id: &str| found.iter().position(|f| f == id);
    ensure_that!(
        position("L9ECAV7KIM") > position("9SIQT8TOJO"),
        "description above category: {found:?}"
    );
    let as_typed: Vec<Vec<String>> = ["te", "tel", "tele", "teles", "telescope"]
        .iter()
        .map(|q| {
            shop.get(&format!("/api/products/search?q={q}"))
                .map(|r| ids(r.body.as_array().map(Vec::as_slice).unwrap_or_default()))
        })
        .collect::<Result<_>>()?;
    ensure_that!(as_typed[2..].iter().all(|ids| *ids == found), "{as_typed:?}");
    let first_two = pages(shop, "/api/products/search?q=tele&limit=2")?;
    ensure_that!(ids(&first_two[0]) == found[..2], "{first_two:?}");
    ensure_that!(ids(&first_two.concat()) == found, "paged search differs");
    Ok(())
}

fn bad_list_parameters_are_400s_naming_the_parameter(shop: &Shop) -> Result<()> {
    let other_query = shop.get("/api/products?sort=price&limit=1")?;
    let cursor = other_query
        .headers
        .get("link")
        .and_then(|link| link.to_str().ok())
        .and_then(|link| link.split("cursor=").nth(1))
        .and_then(|rest| rest.split('>').next())
        .context("a next link")?
        .to_owned();
    for (path, parameter) in [
        ("/api/products?limit=0".to_owned(), "limit"),
        ("/api/products?limit=1000".to_owned(), "limit"),
        ("/api/products?sort=popular".to_owned(), "sort"),
        ("/api/products?minPrice=cheap".to_owned(), "minPrice"),
        ("/api/products?maxPrice=-5".to_owned(), "maxPrice"),
        ("/api/products?minPrice=50&maxPrice=10".to_owned(), "minPrice"),
        ("/api/products?cursor=%7B%7D".to_owned(), "cursor"),
        (format!("/api/products?sort=-price&cursor={cursor}"), "cursor"),
        ("/api/products/search?q=lens&limit=abc".to_owned(), "limit"),
        ("/api/inventory?limit=0".to_owned(), "limit"),
        ("/api/inventory?cursor=x".to_owned(), "cursor"),
    ] {
        let reply = shop.get(&path)?;
        ensure_that!(reply.status == 400, "{path}: {} {}", reply.status, reply.body);
        ensure_that!(
            reply.body["error"]["code"] == "invalid_parameter"
                && reply.body["error"]["parameter"] == parameter,
            "{path}: {}",
            reply.body
        );
    }
    Ok(())
}
