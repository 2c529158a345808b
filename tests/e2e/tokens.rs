//! The HTTP API's JWT authorizer on `GET /api/orders`: a shopper's token
//! from the shop's user pool reaches the function; any other token, or
//! none, gets API Gateway's own 401 (the exact body and challenge the
//! gateway gives, so it is the gateway answering, not a function). The
//! forged tokens are as an attacker would make them: from another pool of
//! the same Cognito (same signing key), another app client, a changed
//! signature, no signature, or the issuer's own key with a past expiry.

use anyhow::{Context, Result};
use astroshop_tests::accounts::{Tokens, claims, sign_in_with};
use astroshop_tests::{Reply, Shop, ensure_that};
use aws_sdk_cognitoidentityprovider::types::{ExplicitAuthFlowsType, UsernameAttributeType};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const TESTS: &[(&str, crate::Test)] = tests![
    a_shoppers_tokens_pass_the_gateway_to_the_function,
    a_request_without_a_token_is_refused_by_the_gateway,
    a_token_of_another_user_pool_is_refused,
    a_token_for_another_app_client_is_refused,
    a_token_with_a_changed_signature_is_refused,
    an_unsigned_token_is_refused,
    an_expired_token_is_refused,
];

// Good for any pool: the emulator asks a pool without a policy for
// a capital and a symbol.
const PASSWORD: &str = "Correct-h0rse-battery";

/// A new shopper of the shop's pool, signed in.
fn new_shopper(shop: &Shop) -> Result<Tokens> {
    let email = format!("tokens-{}@example.com", uuid::Uuid::new_v4().simple());
    shop.sign_up(&email, PASSWORD)
}

fn orders_with(shop: &Shop, token: &str) -> Result<Reply> {
    shop.send_with_headers(
        "GET",
        "/api/orders",
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
}

/// The gateway's 401, with the `www-authenticate` challenge `challenge`.
fn ensure_refused(reply: &Reply, challenge: &str) -> Result<()> {
    ensure_that!(reply.status == 401, "status {} {}", reply.status, reply.body);
    ensure_that!(
        reply.body == json!({"message": "Unauthorized"}),
        "not the gateway's body: {}",
        reply.body
    );
    let header = |name: &str| reply.headers.get(name).and_then(|v| v.to_str().ok());
    ensure_that!(
        header("content-type") == Some("application/json"),
        "content-type {:?}",
        header("content-type")
    );
    ensure_that!(
        header("www-authenticate") == Some(challenge),
        "www-authenticate {:?}, expected {challenge:?}",
        header("www-authenticate")
    );
    Ok(())
}

fn ensure_invalid(reply: &Reply, description: &str) -> Result<()> {
    ensure_refused(
        reply,
        &format!(r#"Bearer scope="" error="invalid_token" error_description="{description}""#),
    )
}

fn a_shoppers_tokens_pass_the_gateway_to_the_function(shop: &Shop) -> Result<()> {
    let shopper = new_shopper(shop)?;
    // The access token names its client in `client_id`, not `aud`.
    for token in [&shopper.id_token, &shopper.access_token] {
        let reply = orders_with(shop, token)?;
        ensure_that!(reply.status == 200, "status {} {}", reply.status, reply.body);
        ensure_that!(
            reply.body["orders"] == json!([]),
            "a new shopper has no orders: {}",
            reply.body
        );
    }
    Ok(())
}

fn a_request_without_a_token_is_refused_by_the_gateway(shop: &Shop) -> Result<()> {
    ensure_refused(&shop.get("/api/orders")?, "Bearer")?;
    let reply = shop.send_with_headers("GET", "/api/orders", &[("authorization", "Bearer ")], None)?;
    ensure_refused(&reply, "Bearer")
}

fn a_token_of_another_user_pool_is_refused(shop: &Shop) -> Result<()> {
    let cognito = shop.shopper_pool()?.cognito;
    // The emulator signs every pool's tokens with one key, so this token's
    // signature is good: only its issuer is wrong.
    let name = format!("tokens-other-{}", uuid::Uuid::new_v4().simple());
    let (pool_id, client_id) = shop.block_on(async {
        let pool = cognito
            .create_user_pool()
            .pool_name(&name)
            .username_attributes(UsernameAttributeType::Email)
            .send()
            .await?
            .user_pool
            .and_then(|p| p.id)
            .context("the new pool has no id")?;
        let client = cognito
            .create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("elsewhere")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .send()
            .await?
            .user_pool_client
            .and_then(|c| c.client_id)
            .context("the new client has no id")?;
        anyhow::Ok((pool, client))
    })?;
    let email = format!("{name}@example.com");
    shop.block_on(async {
        cognito
            .sign_up()
            .client_id(&client_id)
            .username(&email)
            .password(PASSWORD)
            .send()
            .await?;
        cognito
            .admin_confirm_sign_up()
            .user_pool_id(&pool_id)
            .username(&email)
            .send()
            .await?;
        anyhow::Ok(())
    })?;
    let foreign = sign_in_with(shop, &cognito, &client_id, &email, PASSWORD)?;
    ensure_invalid(
        &orders_with(shop, &foreign.id_token)?,
        "the token does not have a valid issuer",
    )
}

fn a_token_for_another_app_client_is_refused(shop: &Shop) -> Result<()> {
    let pool = shop.shopper_pool()?;
    let email = format!("tokens-{}@example.com", uuid::Uuid::new_v4().simple());
    shop.sign_up(&email, PASSWORD)?;
    let other_client = shop
        .block_on(
            pool.cognito
                .create_user_pool_client()
                .user_pool_id(&pool.pool_id)
                .client_name("not-the-storefront")
                .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
                .send(),
        )?
        .user_pool_client
        .and_then(|c| c.client_id)
        .context("the new client has no id")?;
    let elsewhere = sign_in_with(shop, &pool.cognito, &other_client, &email, PASSWORD)?;
    for token in [&elsewhere.id_token, &elsewhere.access_token] {
        ensure_invalid(
            &orders_with(shop, token)?,
            "the token does not have a valid audience",
        )?;
    }
    Ok(())
}

fn a_token_with_a_changed_signature_is_refused(shop: &Shop) -> Result<()> {
    let token = new_shopper(shop)?.id_token;
    let (message, signature) = token.rsplit_once('.').context("a JWT has a signature")?;
    let mut changed = signature.as_bytes().to_vec();
    // A middle character carries six bits of the signature, none of padding.
    let middle = changed.len() / 2;
    changed[middle] = if changed[middle] == b'A' { b'B' } else { b'A' };
    let forged = format!("{message}.{}", String::from_utf8(changed)?);
    ensure_invalid(&orders_with(shop, &forged)?, "the token's signature is invalid")
}

fn an_unsigned_token_is_refused(shop: &Shop) -> Result<()> {
    let token = new_shopper(shop)?.id_token;
    let payload = token.split('.').nth(1).context("a JWT has claims")?;
    let header = BASE64URL.encode(json!({"alg": "none", "typ": "JWT", "kid": "dummy"}).to_string());
    ensure_invalid(
        &orders_with(shop, &format!("{header}.{payload}."))?,
        "signing method none is invalid",
    )
}

fn an_expired_token_is_refused(shop: &Shop) -> Result<()> {
    let issued = claims(&new_shopper(shop)?.id_token)?;
    let key = emulator_signing_key()?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let reissued = |iat: i64, exp: i64| -> Result<String> {
        let mut claims = issued.clone();
        let fields = claims.as_object_mut().context("claims are an object")?;
        for (name, value) in [("iat", iat), ("auth_time", iat), ("exp", exp)] {
            fields.insert(name.to_owned(), Value::from(value));
        }
        let header = Header {
            kid: Some("dummy".to_owned()),
            ..Header::new(Algorithm::RS256)
        };
        Ok(jsonwebtoken::encode(&header, &claims, &key)?)
    };
    // The same claims signed by the same key pass while current: only the
    // expiry is what the gateway refuses.
    let current = orders_with(shop, &reissued(now - 60, now + 3600)?)?;
    ensure_that!(
        current.status == 200,
        "a current token: {} {}",
        current.status,
        current.body
    );
    ensure_invalid(
        &orders_with(shop, &reissued(now - 7200, now - 3600)?)?,
        "the token has expired",
    )
}

/// The private key the emulator signs every pool's tokens with, from
/// moto's package, as PEM.
fn emulator_signing_key() -> Result<EncodingKey> {
    let script = "from moto.utilities.utils import load_resource\n\
                  from joserfc.jwk import RSAKey\n\
                  key = RSAKey.import_key(load_resource('cognitoidp/resources/jwks-private.json'))\n\
                  print(key.as_pem(private=True).decode())";
    let output = std::process::Command::new(local_stack::tools::tool("python3"))
        .args(["-c", script])
        .output()
        .context("running the emulator's Python")?;
    ensure_that!(
        output.status.success(),
        "reading moto's signing key: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(EncodingKey::from_rsa_pem(&output.stdout)?)
}
