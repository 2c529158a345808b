//! The admin API's key: a bearer token kept in an SSM Parameter Store
//! SecureString (created on deploy), checked by every admin function, the
//! catalogue's and the stock's alike.

use std::sync::Arc;
use std::time::Duration;

use astroshop_store::{Kept, MissingSetting};
use lambda_http::Request;
use lambda_http::http::header;
use subtle::ConstantTimeEq;

use crate::ApiError;

/// The admin key, read from its SecureString parameter on first use and
/// kept for a while by a warm instance: one SSM call per instance every few
/// minutes, and a rotated key is honoured within [`AdminKey::TTL`].
pub struct AdminKey {
    ssm: aws_sdk_ssm::Client,
    parameter: String,
    kept: Kept<Vec<u8>>,
}

impl AdminKey {
    pub const TTL: Duration = Duration::from_secs(300);

    pub fn new(ssm: aws_sdk_ssm::Client, parameter: impl Into<String>, ttl: Duration) -> Self {
        Self {
            ssm,
            parameter: parameter.into(),
            kept: Kept::new(ttl),
        }
    }

    /// The parameter named by `ADMIN_KEY_PARAMETER`, cached for [`Self::TTL`].
    pub fn from_env(ssm: aws_sdk_ssm::Client) -> Result<Self, MissingSetting> {
        Ok(Self::new(
            ssm,
            astroshop_store::setting("ADMIN_KEY_PARAMETER")?,
            Self::TTL,
        ))
    }

    async fn current(&self) -> Result<Arc<Vec<u8>>, ApiError> {
        self.kept.get_or_read(|| self.read()).await
    }

    async fn read(&self) -> Result<Arc<Vec<u8>>, ApiError> {
        let output = self
            .ssm
            .get_parameter()
            .name(&self.parameter)
            .with_decryption(true)
            .send()
            .await
            .map_err(|error| {
                let error = aws_sdk_ssm::Error::from(error);
                ApiError::internal(format!("reading admin key parameter {}: {error}", self.parameter))
            })?;
        let value = output
            .parameter
            .and_then(|parameter| parameter.value)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| ApiError::internal(format!("admin key parameter {} is empty", self.parameter)))?;
        Ok(Arc::new(value.into_bytes()))
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
        let key = self.current().await?;
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
