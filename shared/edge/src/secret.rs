//! A secret key kept in an SSM Parameter Store SecureString (created on
//! deploy by the seeder): read on first use and kept for a while by a warm
//! instance, so an instance makes one SSM call every few minutes and a
//! rotated key is honoured within [`SecretParameter::TTL`].

use std::sync::Arc;
use std::time::Duration;

use astroshop_store::{Kept, MissingSetting};

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("reading secret parameter {parameter}")]
    Read {
        parameter: String,
        #[source]
        source: Box<aws_sdk_ssm::Error>,
    },
    #[error("secret parameter {0} is empty")]
    Empty(String),
}

pub struct SecretParameter {
    ssm: aws_sdk_ssm::Client,
    parameter: String,
    kept: Kept<Vec<u8>>,
}

impl SecretParameter {
    pub const TTL: Duration = Duration::from_secs(300);

    pub fn new(ssm: aws_sdk_ssm::Client, parameter: impl Into<String>, ttl: Duration) -> Self {
        Self {
            ssm,
            parameter: parameter.into(),
            kept: Kept::new("secrets", ttl),
        }
    }

    /// The parameter named by the environment variable `setting`, kept for [`Self::TTL`].
    pub fn from_env(ssm: aws_sdk_ssm::Client, setting: &'static str) -> Result<Self, MissingSetting> {
        Ok(Self::new(ssm, astroshop_store::setting(setting)?, Self::TTL))
    }

    /// The key's bytes.
    pub async fn current(&self) -> Result<Arc<Vec<u8>>, SecretError> {
        // Boxed: the SDK call's future is deep, and a handler that awaits it
        // among its own steps would exceed the compiler's layout depth.
        Box::pin(self.kept.get_or_read(|| self.read())).await
    }

    async fn read(&self) -> Result<Arc<Vec<u8>>, SecretError> {
        let output = self
            .ssm
            .get_parameter()
            .name(&self.parameter)
            .with_decryption(true)
            .send()
            .await
            .map_err(|error| SecretError::Read {
                parameter: self.parameter.clone(),
                source: Box::new(error.into()),
            })?;
        let value = output
            .parameter
            .and_then(|parameter| parameter.value)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| SecretError::Empty(self.parameter.clone()))?;
        Ok(Arc::new(value.into_bytes()))
    }
}
