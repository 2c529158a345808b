//! Shopper accounts, as a test makes and uses them: a confirmed account in
//! the shop's Cognito user pool (the emulator's, for the local stack),
//! signed in with USER_PASSWORD_AUTH as the storefront signs in, and
//! requests carrying the shopper's ID token, which the HTTP API's JWT
//! authorizer checks.

use anyhow::{Context, Result};
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use serde_json::Value;

use crate::{Reply, Shop};

/// A signed-in shopper's tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub id_token: String,
    pub access_token: String,
    /// The shopper's id in the shop: the tokens' `sub`.
    pub sub: String,
}

/// The shop's user pool and app client, and a client to reach them.
pub struct ShopperPool {
    pub pool_id: String,
    pub client_id: String,
    pub cognito: Client,
}

impl Shop {
    /// Creates a confirmed account (SignUp, then AdminConfirmSignUp, as the
    /// storefront confirms at once) and signs it in.
    pub fn sign_up(&self, email: &str, password: &str) -> Result<Tokens> {
        let pool = self.shopper_pool()?;
        self.block_on(async {
            pool.cognito
                .sign_up()
                .client_id(&pool.client_id)
                .username(email)
                .password(password)
                .send()
                .await
                .with_context(|| format!("signing {email} up"))?;
            pool.cognito
                .admin_confirm_sign_up()
                .user_pool_id(&pool.pool_id)
                .username(email)
                .send()
                .await
                .with_context(|| format!("confirming {email}"))
        })?;
        self.sign_in(email, password)
    }

    /// Signs an account in with its password (USER_PASSWORD_AUTH).
    pub fn sign_in(&self, email: &str, password: &str) -> Result<Tokens> {
        let pool = self.shopper_pool()?;
        sign_in_with(self, &pool.cognito, &pool.client_id, email, password)
    }

    /// Sends a request as the signed-in shopper: their ID token in
    /// `Authorization`, as the storefront sends it.
    pub fn send_as(&self, tokens: &Tokens, method: &str, path: &str, body: Option<&Value>) -> Result<Reply> {
        let bearer = format!("Bearer {}", tokens.id_token);
        self.send_with_headers(method, path, &[("authorization", &bearer)], body)
    }

    /// The shop's user pool (`ShopperPool`) and app client
    /// (`ShopperPoolClient`): the local stack's, in its emulator. For a
    /// deployed shop (`ASTROSHOP_BASE_URL` set), `ASTROSHOP_SHOPPER_POOL_ID`
    /// and `ASTROSHOP_SHOPPER_POOL_CLIENT_ID` name them (the stack's outputs
    /// `ShopperPoolId` and `ShopperPoolClientId`), reached in the pool's
    /// region with the environment's AWS credentials, which must allow
    /// `cognito-idp:AdminConfirmSignUp` on the pool.
    pub fn shopper_pool(&self) -> Result<ShopperPool> {
        let Some(stack) = &self.stack else {
            let setting = |name: &str| {
                std::env::var(name)
                    .with_context(|| format!("set {name} to sign shoppers up at {}", self.base_url))
            };
            let pool_id = setting("ASTROSHOP_SHOPPER_POOL_ID")?;
            let client_id = setting("ASTROSHOP_SHOPPER_POOL_CLIENT_ID")?;
            // A pool id starts with its region: `eu-west-1_AbC123`.
            let region = pool_id.split_once('_').map(|(region, _)| region.to_owned());
            let config = self.block_on(
                aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(region.map(aws_config::Region::new))
                    .load(),
            );
            return Ok(ShopperPool {
                pool_id,
                client_id,
                cognito: Client::new(&config),
            });
        };
        let reference = |logical_id: &str| {
            stack
                .resource_ref(logical_id)
                .map(str::to_owned)
                .with_context(|| format!("the template declares no {logical_id}"))
        };
        Ok(ShopperPool {
            pool_id: reference("ShopperPool")?,
            client_id: reference("ShopperPoolClient")?,
            cognito: Client::new(stack.sdk_config()),
        })
    }
}

/// Signs an account in through the app client `client_id` (the shop's or
/// another of a test's own).
pub fn sign_in_with(
    shop: &Shop,
    cognito: &Client,
    client_id: &str,
    email: &str,
    password: &str,
) -> Result<Tokens> {
    let answer = shop
        .block_on(
            cognito
                .initiate_auth()
                .client_id(client_id)
                .auth_flow(AuthFlowType::UserPasswordAuth)
                .auth_parameters("USERNAME", email)
                .auth_parameters("PASSWORD", password)
                .send(),
        )
        .with_context(|| format!("signing {email} in"))?;
    let tokens = answer
        .authentication_result()
        .with_context(|| format!("signing {email} in gave a challenge, not tokens"))?;
    let id_token = tokens.id_token().context("no ID token")?.to_owned();
    let sub = claims(&id_token)?["sub"]
        .as_str()
        .context("the ID token has no sub")?
        .to_owned();
    Ok(Tokens {
        access_token: tokens.access_token().context("no access token")?.to_owned(),
        id_token,
        sub,
    })
}

/// A token's claims, read without checking it (the gateway checks it).
pub fn claims(token: &str) -> Result<Value> {
    let payload = token.split('.').nth(1).context("a JWT has three parts")?;
    let bytes = BASE64URL
        .decode(payload)
        .context("the token's claims are not base64url")?;
    serde_json::from_slice(&bytes).context("the token's claims are not JSON")
}
