//! IAM, checked as AWS checks it: each function calls AWS as its own role,
//! so a call the role does not allow is refused, and the shopper sees a
//! plain 500 that names nothing behind it, while the operator's IAM report
//! names the call.

use anyhow::Result;
use astroshop_tests::{Shop, ensure_that};
use serde_json::json;

/// These change a role that other tests' requests use, so they run alone.
pub const EXCLUSIVE: &[(&str, crate::Test)] =
    tests![a_call_the_role_does_not_allow_is_denied_and_the_route_answers_a_bare_500,];

const PRODUCT: &str = "/api/products/OLJCESPC7Z";

fn a_call_the_role_does_not_allow_is_denied_and_the_route_answers_a_bare_500(shop: &Shop) -> Result<()> {
    let before = shop.get(PRODUCT)?;
    ensure_that!(before.status == 200, "before: status {}", before.status);

    // The products table only: the page reads the rates too, and may find them cached.
    let deny = json!({"Statement": [{
        "Effect": "Deny", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:*:*:table/*ProductsTable"
    }]});
    shop.put_role_policy("catalog-get-product", "deny-reads", &deny)?;
    let denied = shop.get(PRODUCT);
    shop.delete_role_policy("catalog-get-product", "deny-reads")?;
    let denied = denied?;
    ensure_that!(
        denied.status == 500,
        "denied: status {}: {}",
        denied.status,
        denied.body
    );
    let text = denied.body.to_string();
    for secret in [
        "AccessDenied",
        "not authorized",
        "arn:",
        "dynamodb",
        "catalog-get-product",
    ] {
        ensure_that!(!text.contains(secret), "the 500 shows {secret:?}: {text}");
    }

    let report = shop.iam_report()?;
    let page = report
        .functions
        .get("catalog-get-product")
        .ok_or_else(|| anyhow::anyhow!("the report has no catalog-get-product"))?;
    ensure_that!(
        page.denied
            .iter()
            .any(|call| call.starts_with("dynamodb:GetItem on ") && call.contains("ProductsTable")),
        "the report does not name the denied read: {:?}",
        page.denied
    );

    let after = shop.get(PRODUCT)?;
    ensure_that!(
        after.status == 200,
        "once the deny is gone: status {}",
        after.status
    );
    Ok(())
}
