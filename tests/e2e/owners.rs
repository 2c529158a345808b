//! Who may see what, over HTTP: an order, its payment and its mail belong to
//! whoever holds the order's link (a guest) or the signed-in shopper whose
//! token placed it; to anyone else they do not exist, and no answer carries
//! another shopper's id, e-mail or address.

use anyhow::{Context, Result};
use astroshop_tests::checkout::{GOOD_CARD, checkout_request, fresh_product, order_key};
use astroshop_tests::{Reply, Shop, ensure_that};
use serde_json::{Value, json};

use crate::cart::{add, unique_user};
use crate::checkout::{place, settled};

pub const TESTS: &[(&str, crate::Test)] = tests![
    a_guests_order_opens_with_its_link_and_is_a_404_to_strangers,
    a_signed_in_shoppers_orders_are_listed_to_them_alone,
];

const PASSWORD: &str = "correct-horse-42";

/// API Gateway's own answer to a route's missing or refused token.
fn refused_by_the_gateway(reply: &Reply) -> bool {
    reply.status == 401 && reply.body == json!({"message": "Unauthorized"})
}

/// Fails unless `reply` names none of `private`.
fn leaks_nothing(what: &str, reply: &Reply, private: &[&str]) -> Result<()> {
    let text = reply.body.to_string();
    for secret in private {
        ensure_that!(!text.contains(secret), "{what} shows {secret:?}: {text}");
    }
    Ok(())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn get_as(shop: &Shop, path: &str, token: &str) -> Result<Reply> {
    shop.send_with_headers("GET", path, &[("authorization", &bearer(token))], None)
}

fn a_guests_order_opens_with_its_link_and_is_a_404_to_strangers(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "owners guest", 40, 5)?;
    let user = unique_user("owner");
    // An address that does not hold the user id, so that each can be looked for alone.
    let email = format!("guest-{}@example.com", uuid::Uuid::new_v4().simple());
    add(shop, &user, &product, 1)?;
    let placed = place(
        shop,
        &checkout_request(&user, &email, "USD", (GOOD_CARD, 1, 2039)),
        None,
    )?;
    ensure_that!(
        placed.status == 202,
        "checkout: {} {}",
        placed.status,
        placed.body
    );
    let id = placed.body["orderId"].as_str().context("no orderId")?.to_owned();
    let link = placed.body["link"].as_str().context("no link")?.to_owned();
    let key = placed.body["key"].as_str().context("no key")?.to_owned();
    ensure_that!(link == format!("/api/orders/{id}?key={key}"), "link {link}");
    settled(shop, &id)?;

    // The link opens the order, and shows its owner their own details but not
    // their user id (for a guest of the storefront, its session cookie).
    let opened = shop.get(&link)?;
    ensure_that!(
        opened.status == 200,
        "the link: {} {}",
        opened.status,
        opened.body
    );
    ensure_that!(opened.body["email"] == email.as_str(), "{}", opened.body);
    ensure_that!(
        opened.body.get("userId").is_none(),
        "the order shows its user id: {}",
        opened.body
    );
    leaks_nothing("the order", &opened, &[&user])?;

    let private = [user.as_str(), email.as_str(), "Amphitheatre", "0454"];
    let another_key = order_key(shop, &uuid::Uuid::new_v4().to_string())?;
    let mut doctored = key.clone();
    doctored.replace_range(..1, if key.starts_with('A') { "B" } else { "A" });
    for path in [
        format!("/api/orders/{id}"),
        format!("/api/orders/{id}?key="),
        format!("/api/orders/{id}?key={another_key}"),
        format!("/api/orders/{id}?key={doctored}"),
        format!("/api/orders/{id}?userId={user}"),
    ] {
        let reply = shop.get(&path)?;
        ensure_that!(
            reply.status == 404 && reply.body["error"]["code"] == "order_not_found",
            "{path}: {} {}",
            reply.status,
            reply.body
        );
        leaks_nothing(&path, &reply, &private)?;
    }

    let payment = shop.get(&format!("/api/payments/{id}?key={key}"))?;
    ensure_that!(
        payment.status == 200 && payment.body["status"] == "CHARGED",
        "the payment by the link: {} {}",
        payment.status,
        payment.body
    );
    for path in [
        format!("/api/payments/{id}"),
        format!("/api/payments/{id}?key={another_key}"),
    ] {
        let reply = shop.get(&path)?;
        ensure_that!(reply.status == 404, "{path}: {} {}", reply.status, reply.body);
        leaks_nothing(&path, &reply, &private)?;
    }

    // Mail history is an operator's read.
    let mails = format!("/api/notifications?email={email}");
    let anonymous = shop.get(&mails)?;
    ensure_that!(
        anonymous.status == 401,
        "mail history: {} {}",
        anonymous.status,
        anonymous.body
    );
    leaks_nothing("the mail history", &anonymous, &private)?;
    let wrong_key = get_as(shop, &mails, "not-the-admin-key")?;
    ensure_that!(wrong_key.status == 403, "mail history: {}", wrong_key.status);
    let admin = get_as(shop, &mails, &shop.admin_key()?)?;
    ensure_that!(
        admin.status == 200,
        "mail history for the operator: {}",
        admin.status
    );

    // No one can list a guest's orders: the list is a signed-in shopper's own.
    let listed = shop.get(&format!("/api/orders?userId={user}"))?;
    ensure_that!(
        refused_by_the_gateway(&listed),
        "list: {} {}",
        listed.status,
        listed.body
    );
    let stranger = shop.sign_up(
        &format!("stranger-{}@example.com", uuid::Uuid::new_v4().simple()),
        PASSWORD,
    )?;
    let theirs = get_as(shop, &format!("/api/orders?userId={user}"), &stranger.id_token)?;
    ensure_that!(
        theirs.status == 200 && theirs.body["orders"] == json!([]),
        "{}",
        theirs.body
    );
    Ok(())
}

/// A signed-in shopper's checkout of `product`; the order's id.
fn account_checkout(shop: &Shop, token: &str, product: &str, email: &str) -> Result<String> {
    let auth = bearer(token);
    let headers = [("authorization", auth.as_str())];
    let item = json!({"item": {"productId": product, "quantity": 1}});
    let added = shop.send_with_headers("POST", "/api/account/cart", &headers, Some(&item))?;
    ensure_that!(added.status == 200, "adding: {} {}", added.status, added.body);
    let mut request = checkout_request("ignored", email, "USD", (GOOD_CARD, 1, 2039));
    request.as_object_mut().context("a JSON object")?.remove("userId");
    let placed = shop.send_with_headers("POST", "/api/account/checkout", &headers, Some(&request))?;
    ensure_that!(
        placed.status == 202,
        "checkout: {} {}",
        placed.status,
        placed.body
    );
    ensure_that!(
        placed.body["userId"]
            .as_str()
            .is_some_and(|id| id.starts_with("account:")),
        "the order is the account's: {}",
        placed.body
    );
    placed.body["orderId"]
        .as_str()
        .map(str::to_owned)
        .context("no orderId")
}

fn listed_ids(reply: &Reply) -> Vec<String> {
    reply.body["orders"]
        .as_array()
        .map(|orders| {
            orders
                .iter()
                .filter_map(|order| order["orderId"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn a_signed_in_shoppers_orders_are_listed_to_them_alone(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "owners accounts", 25, 10)?;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (ada_email, bob_email) = (format!("ada-{tag}@example.com"), format!("bob-{tag}@example.com"));
    let ada = shop.sign_up(&ada_email, PASSWORD)?;
    let bob = shop.sign_up(&bob_email, PASSWORD)?;

    let ada_orders = [
        account_checkout(shop, &ada.id_token, &product, &ada_email)?,
        account_checkout(shop, &ada.id_token, &product, &ada_email)?,
    ];
    let bob_order = account_checkout(shop, &bob.id_token, &product, &bob_email)?;
    // A guest cannot place an order as Ada's account.
    add(shop, &unique_user("owner"), &product, 1)?;
    let as_ada = checkout_request(
        &format!("account:{}", ada.sub),
        "x@example.com",
        "USD",
        (GOOD_CARD, 1, 2039),
    );
    let refused = place(shop, &as_ada, None)?;
    ensure_that!(
        refused.status == 400,
        "a guest as Ada: {} {}",
        refused.status,
        refused.body
    );

    let listed = get_as(shop, "/api/orders", &ada.id_token)?;
    ensure_that!(
        listed.status == 200,
        "Ada's orders: {} {}",
        listed.status,
        listed.body
    );
    let mut expected: Vec<String> = ada_orders.to_vec();
    let mut got = listed_ids(&listed);
    expected.sort();
    got.sort();
    ensure_that!(got == expected, "Ada's list {got:?}, her orders {expected:?}");
    leaks_nothing("Ada's list", &listed, &[&bob_email, &bob.sub, &bob_order])?;
    // Each listed order opens with its link, and is Ada's.
    for order in listed.body["orders"].as_array().context("orders")? {
        let link = order["link"].as_str().context("no link")?;
        let opened = shop.get(link)?;
        ensure_that!(
            opened.body["email"] == ada_email.as_str(),
            "{link}: {}",
            opened.body
        );
    }
    settled(shop, &ada_orders[0])?;

    let bobs = get_as(shop, "/api/orders", &bob.id_token)?;
    ensure_that!(
        listed_ids(&bobs) == [bob_order.clone()],
        "Bob's list: {}",
        bobs.body
    );
    leaks_nothing("Bob's list", &bobs, &[&ada_email, &ada.sub])?;

    // Without a token, or with one the gateway refuses, there is no list.
    let anonymous = shop.get("/api/orders")?;
    ensure_that!(
        refused_by_the_gateway(&anonymous),
        "{} {}",
        anonymous.status,
        anonymous.body
    );
    let forged = format!("{}x", ada.id_token);
    let refused = get_as(shop, "/api/orders", &forged)?;
    ensure_that!(
        refused_by_the_gateway(&refused),
        "{} {}",
        refused.status,
        refused.body
    );
    // Bob's token opens none of Ada's orders without their links.
    let peek = get_as(shop, &format!("/api/orders/{}", ada_orders[0]), &bob.id_token)?;
    ensure_that!(peek.status == 404, "{} {}", peek.status, peek.body);
    let value: Value = peek.body;
    ensure_that!(!value.to_string().contains(&ada_email), "{value}");
    Ok(())
}
