//! Bearer keys: secrets kept in SSM Parameter Store SecureStrings (created on
//! deploy) that a caller shows as `Authorization: Bearer <key>`. The admin
//! API's key is checked by every admin function, the catalogue's and the
//! stock's alike; the card processor's is shown by payment alone.

use std::time::Duration;

use astroshop_store::MissingSetting;
use lambda_http::Request;
use lambda_http::http::header;
use subtle::ConstantTimeEq;

use crate::ApiError;
use crate::secret::SecretParameter;

/// A bearer key, read from its SecureString parameter on first use and kept
/// for a while by a warm instance (see [`SecretParameter`]).
pub struct BearerKey {
    secret: SecretParameter,
    /// What the key opens, as an error names it ("the admin API").
    opens: &'static str,
}

impl BearerKey {
    pub const TTL: Duration = SecretParameter::TTL;

    pub fn new(
        ssm: aws_sdk_ssm::Client,
        parameter: impl Into<String>,
        ttl: Duration,
        opens: &'static str,
    ) -> Self {
        Self {
            secret: SecretParameter::new(ssm, parameter, ttl),
            opens,
        }
    }

    /// The parameter named by the setting `setting`, cached for [`Self::TTL`].
    pub fn from_env(
        ssm: aws_sdk_ssm::Client,
        setting: &'static str,
        opens: &'static str,
    ) -> Result<Self, MissingSetting> {
        Ok(Self {
            secret: SecretParameter::from_env(ssm, setting)?,
            opens,
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
                message: format!("{} needs an Authorization: Bearer <key> header", self.opens),
            })?;
        let key = self.secret.current().await.map_err(ApiError::internal)?;
        // Constant time, so response times do not reveal how much of a guess was right.
        if bool::from(token.as_bytes().ct_eq(key.as_slice())) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                code: "forbidden",
                message: format!("the key is not valid for {}", self.opens),
            })
        }
    }
}

/// The admin API's key.
pub struct AdminKey(BearerKey);

impl AdminKey {
    pub const TTL: Duration = SecretParameter::TTL;
    const OPENS: &'static str = "the admin API";

    pub fn new(ssm: aws_sdk_ssm::Client, parameter: impl Into<String>, ttl: Duration) -> Self {
        Self(BearerKey::new(ssm, parameter, ttl, Self::OPENS))
    }

    /// The parameter named by `ADMIN_KEY_PARAMETER`, cached for [`Self::TTL`].
    pub fn from_env(ssm: aws_sdk_ssm::Client) -> Result<Self, MissingSetting> {
        BearerKey::from_env(ssm, "ADMIN_KEY_PARAMETER", Self::OPENS).map(Self)
    }

    /// See [`BearerKey::authorize`].
    pub async fn authorize(&self, request: &Request) -> Result<(), ApiError> {
        self.0.authorize(request).await
    }
}
