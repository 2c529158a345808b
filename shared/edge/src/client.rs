//! Who a request comes from, for the limits on what costs money: the
//! signed-in shopper (the token's `sub`), else the address API Gateway saw
//! the request come from (`requestContext.http.sourceIp`, the TCP peer;
//! never a header, which a client writes as it likes). An IPv6 client is
//! its /64, the block one subscriber is given, so it cannot step around a
//! limit by changing the low bits.
//!
//! The storefront calls the API on its visitors' behalf, so its requests
//! all come from its own address. It names the visitor's address in
//! [`FORWARDED_ADDRESS`], and vouches for it with an HMAC-SHA256 under the
//! client key (an SSM SecureString only the storefront and checkout read)
//! in [`FORWARDED_SIGNATURE`]. A forwarded address without a valid
//! signature is ignored: the request counts as its own address's.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use astroshop_domain::UserId;
use astroshop_store::MissingSetting;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::ApiError;
use crate::secret::{SecretError, SecretParameter};
use crate::shopper::signed_in;

/// The header the storefront names its visitor's address in.
pub const FORWARDED_ADDRESS: &str = "x-astroshop-client-address";
/// The header carrying the storefront's HMAC of [`FORWARDED_ADDRESS`].
pub const FORWARDED_SIGNATURE: &str = "x-astroshop-client-signature";

/// Whom a limit counts a request against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    Shopper(UserId),
    Address(IpAddr),
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shopper(user) => write!(f, "shopper:{user}"),
            Self::Address(IpAddr::V4(address)) => write!(f, "ip:{address}"),
            Self::Address(IpAddr::V6(address)) => {
                let block = u128::from(*address) & !((1u128 << 64) - 1);
                write!(f, "ip:{}/64", Ipv6Addr::from(block))
            }
        }
    }
}

/// The address API Gateway received the request from.
pub fn source_address(request: &Request) -> Option<IpAddr> {
    let RequestContext::ApiGatewayV2(context) = request.request_context_ref()? else {
        return None;
    };
    context.http.source_ip.as_deref()?.parse().ok()
}

/// The key the storefront vouches for its visitors' addresses with.
pub struct ClientKey {
    secret: SecretParameter,
}

impl ClientKey {
    pub const TTL: Duration = SecretParameter::TTL;

    pub fn new(ssm: aws_sdk_ssm::Client, parameter: impl Into<String>, ttl: Duration) -> Self {
        Self {
            secret: SecretParameter::new(ssm, parameter, ttl),
        }
    }

    /// The secret named by `CLIENT_KEY_PARAMETER`.
    pub fn from_env(ssm: aws_sdk_ssm::Client) -> Result<Self, MissingSetting> {
        Ok(Self {
            secret: SecretParameter::from_env(ssm, "CLIENT_KEY_PARAMETER")?,
        })
    }

    /// The [`FORWARDED_SIGNATURE`] for a visitor at `address`.
    pub async fn vouch_for(&self, address: IpAddr) -> Result<String, SecretError> {
        Ok(sign(&self.secret.current().await?, address))
    }

    /// Whom the request counts against: its shopper, else the address the
    /// storefront vouches for, else its own address. A request with no
    /// source address did not come through API Gateway.
    pub async fn client_of(&self, request: &Request) -> Result<Client, ApiError> {
        if let Some(shopper) = signed_in(request) {
            return Ok(Client::Shopper(shopper));
        }
        let source =
            source_address(request).ok_or_else(|| ApiError::internal("the request has no source address"))?;
        let headers = request.headers();
        let forwarded = headers
            .get(FORWARDED_ADDRESS)
            .and_then(|value| value.to_str().ok());
        let signature = headers
            .get(FORWARDED_SIGNATURE)
            .and_then(|value| value.to_str().ok());
        let (Some(forwarded), Some(signature)) = (forwarded, signature) else {
            return Ok(Client::Address(source));
        };
        let Ok(forwarded) = forwarded.parse::<IpAddr>() else {
            tracing::warn!(%source, "a forwarded client address that is not an address; ignored");
            return Ok(Client::Address(source));
        };
        let expected = self.vouch_for(forwarded).await.map_err(ApiError::internal)?;
        // Constant time, so response times do not reveal how much of a guess was right.
        if bool::from(signature.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(Client::Address(forwarded))
        } else {
            tracing::warn!(%source, "a forwarded client address without a valid signature; ignored");
            Ok(Client::Address(source))
        }
    }
}

/// `HMAC-SHA256(secret, "client:" + address)`, base64url without padding.
pub fn sign(secret: &[u8], address: IpAddr) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(b"client:");
    mac.update(address.to_string().as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_named_by_its_shopper_or_its_address_and_ipv6_by_its_64() {
        let shopper = Client::Shopper(UserId::account("5c1f").unwrap());
        assert!(shopper.to_string().starts_with("shopper:"), "{shopper}");
        assert!(shopper.to_string().ends_with("5c1f"), "{shopper}");
        assert_eq!(
            Client::Address("127.0.0.2".parse().unwrap()).to_string(),
            "ip:127.0.0.2"
        );
        let one = Client::Address("2001:db8:1:2:aaaa::1".parse().unwrap());
        let same_block = Client::Address("2001:db8:1:2:ffff:1:2:3".parse().unwrap());
        let other_block = Client::Address("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(one.to_string(), "ip:2001:db8:1:2::/64");
        assert_eq!(one.to_string(), same_block.to_string());
        assert_ne!(one.to_string(), other_block.to_string());
    }

    #[test]
    fn a_signature_is_for_one_address_under_one_secret() {
        let address: IpAddr = "203.0.113.7".parse().unwrap();
        let signature = sign(b"secret", address);
        assert_eq!(signature.len(), 43);
        assert_eq!(sign(b"secret", address), signature);
        assert_ne!(sign(b"secret", "203.0.113.8".parse().unwrap()), signature);
        assert_ne!(sign(b"another secret", address), signature);
    }
}
