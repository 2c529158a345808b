//! Capability links to orders. A guest has no account, so an order is opened
//! by whoever holds its link: the order id with a key that is an HMAC-SHA256
//! of the id under the shop's order-link secret (an SSM SecureString created
//! on deploy). The key cannot be guessed or derived from the id, so without
//! the link an order, its payment and its history are a 404, exactly as an
//! order that does not exist.

use std::time::Duration;

use astroshop_domain::OrderId;
use astroshop_store::MissingSetting;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use lambda_http::Request;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::secret::{SecretError, SecretParameter};
use crate::{ApiError, query};

/// Signs and checks order links.
pub struct OrderLinks {
    secret: SecretParameter,
}

impl OrderLinks {
    pub const TTL: Duration = SecretParameter::TTL;

    pub fn new(ssm: aws_sdk_ssm::Client, parameter: impl Into<String>, ttl: Duration) -> Self {
        Self {
            secret: SecretParameter::new(ssm, parameter, ttl),
        }
    }

    /// The secret named by `ORDER_LINK_KEY_PARAMETER`.
    pub fn from_env(ssm: aws_sdk_ssm::Client) -> Result<Self, MissingSetting> {
        Ok(Self {
            secret: SecretParameter::from_env(ssm, "ORDER_LINK_KEY_PARAMETER")?,
        })
    }

    /// The key that opens `order`.
    pub async fn key_for(&self, order: &OrderId) -> Result<String, SecretError> {
        Ok(sign(&self.secret.current().await?, order))
    }

    /// Lets the request through when its `key` query parameter opens
    /// `order`, and gives the key back for the links in the answer. Without
    /// it, or with a wrong one, the answer is `not_found`, so a stranger
    /// learns nothing, not even that the order exists.
    pub async fn authorize(
        &self,
        request: &Request,
        order: &OrderId,
        not_found: impl FnOnce() -> ApiError,
    ) -> Result<String, ApiError> {
        let Some(given) = query(request, "key") else {
            return Err(not_found());
        };
        let expected = self.key_for(order).await.map_err(ApiError::internal)?;
        // Constant time, so response times do not reveal how much of a guess was right.
        if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(expected)
        } else {
            Err(not_found())
        }
    }
}

/// `HMAC-SHA256(secret, "order:" + id)`, base64url without padding (43 characters).
pub fn sign(secret: &[u8], order: &OrderId) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(b"order:");
    mac.update(order.as_str().as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Where the API answers the order: `/api/orders/<id>?key=<key>`.
pub fn api_link(order: &OrderId, key: &str) -> String {
    format!("/api/orders/{order}?key={key}")
}

/// The storefront's page of the order, for mail: `<shop>/orders/<id>?key=<key>`.
pub fn page_link(shop_url: &str, order: &OrderId, key: &str) -> String {
    format!("{}/orders/{order}?key={key}", shop_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str) -> OrderId {
        OrderId::parse(id).unwrap()
    }

    #[test]
    fn a_key_is_stable_per_order_and_secret_and_differs_otherwise() {
        let a = order("3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11");
        let b = order("3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a12");
        let key = sign(b"secret", &a);
        assert_eq!(key.len(), 43);
        assert!(
            key.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "{key}"
        );
        assert_eq!(sign(b"secret", &a), key);
        assert_ne!(sign(b"secret", &b), key);
        assert_ne!(sign(b"another secret", &a), key);
    }

    #[test]
    fn links_carry_the_id_and_key() {
        let id = order("3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11");
        assert_eq!(
            api_link(&id, "k"),
            "/api/orders/3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11?key=k"
        );
        assert_eq!(
            page_link("http://127.0.0.1:8080/", &id, "k"),
            "http://127.0.0.1:8080/orders/3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11?key=k"
        );
    }
}
