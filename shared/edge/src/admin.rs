//! The admin API's key: a bearer token kept in an SSM Parameter Store
//! SecureString (created on deploy), checked by every admin function, the
//! catalogue's and the stock's alike.

use std::time::Duration;

use astroshop_store::MissingSetting;
use lambda_http::Request;
use lambda_http::http::header;
use subtle::ConstantTimeEq;

use crate::ApiError;
use crate::secret::SecretParameter;

/// The admin key, read from its SecureString parameter on first use and
/// kept for a while by a warm instance (see [`SecretParameter`]).
pub struct AdminKey {
    secret: SecretParameter,
}

impl AdminKey {
    pub const TTL: Duration = SecretParameter::TTL;

    pub fn new(ssm: aws_sdk_ssm::Client, parameter: impl Into<String>, ttl: Duration) -> Self {
        Self {
            secret: SecretParameter::new(ssm, parameter, ttl),
        }
    }

    /// The parameter named by `ADMIN_KEY_PARAMETER`, cached for [`Self::TTL`].
    pub fn from_env(ssm: aws_sdk_ssm::Client) -> Result<Self, MissingSetting> {
        Ok(Self {
            secret: SecretParameter::from_env(ssm, "ADMIN_KEY_PARAMETER")?,
        })
    }

    /// Lets the request through when it carries `Authorization: Bearer <key>`:
    /// no bearer token is a 401 that asks for one, a wrong one a 403.
    pub async fn authorize(&self, request: &Request) -> Result<(), ApiError> {
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| ApiError::Unauthorized {
                code: "unauthorized",
                message: "the admin API needs an Authorization: Bearer <admin key> header".to_owned(),
            })?;
        let key = self.secret.current().await.map_err(ApiError::internal)?;
        // Constant time, so response times do not reveal how much of a guess was right.
        if bool::from(token.as_bytes().ct_eq(key.as_slice())) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                code: "forbidden",
                message: "the admin key is not valid".to_owned(),
            })
        }
    }
}
