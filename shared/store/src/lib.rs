//! DynamoDB (and KMS) adapters behind the ports the services share, and the
//! configuration they read from the environment.
//!
//! Clients come from `aws_config` defaults, so `AWS_ENDPOINT_URL` (or
//! `AWS_ENDPOINT_URL_DYNAMODB`) points every function at an emulator without a
//! line of code changing.

pub mod ads;
pub mod card_key;
pub mod carts;
pub mod dynamo;
pub mod kept;
pub mod limits;
pub mod orders;
pub mod products;
pub mod rates;
pub mod search;

pub use ads::{Ad, AdCatalog, AdTable};
pub use card_key::{CardKey, CardOpener, CardSealer, OpenError, SealError};
pub use carts::{CartStore, CartTable, LineUpdate};
pub use kept::Kept;
pub use limits::{Admission, Counters, Limit, LimitSettingError, Limiter, LimitsTable};
pub use orders::{OrderRecord, OrderRecords, OrderTable, OrderTransitions, Transition};
pub use products::{Changed, Created, ProductCatalog, ProductEditor, ProductTable};
pub use rates::{CachedRates, RateSource, RateTableStore};
pub use search::{Entry, ProductSearchTable, SearchIndex, SearchIndexWriter};

/// What can go wrong talking to a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB: {0}")]
    Dynamo(Box<aws_sdk_dynamodb::Error>),
    #[error("stored item is malformed: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Missing(String),
}

impl<E> From<E> for StoreError
where
    aws_sdk_dynamodb::Error: From<E>,
{
    fn from(error: E) -> Self {
        Self::Dynamo(Box::new(error.into()))
    }
}

/// A setting read from the environment at cold start.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} is not set")]
pub struct MissingSetting(pub &'static str);

pub fn setting(name: &'static str) -> Result<String, MissingSetting> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(MissingSetting(name))
}

/// The shared AWS configuration: region, credentials and endpoint from the
/// environment, as every function and tool builds it.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

pub fn dynamodb(config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}
