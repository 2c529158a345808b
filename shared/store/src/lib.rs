//! DynamoDB (and KMS) adapters behind the ports the services share, and the
//! configuration they read from the environment.
//!
//! Clients come from `aws_config` defaults, so `AWS_ENDPOINT_URL` (or
//! `AWS_ENDPOINT_URL_DYNAMODB`) points every function at an emulator without a
//! line of code changing.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;

pub mod ads;
pub mod backoff;
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
pub use backoff::Backoff;
pub use card_key::{CardKey, CardOpener, CardSealer, OpenError, SealError};
pub use carts::{CartStore, CartTable, LineUpdate};
pub use kept::Kept;
pub use limits::{Admission, Counters, Limit, LimitSettingError, Limiter, LimitsTable};
pub use orders::{ListedOrder, OrderRecord, OrderRecords, OrderTable, OrderTransitions, Transition};
pub use products::{Changed, Created, ProductCatalog, ProductEditor, ProductTable};
pub use rates::{CachedRates, RateSource, RateTableStore};
pub use search::{
    Entry, ListOrder, Listed, Listing, ListingRead, ProductSearchTable, SearchIndex, SearchIndexWriter,
    WordMatch,
};

/// What can go wrong talking to a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A DynamoDB call failed. Made only by [`dynamo::OnTable`] (or
    /// [`StoreError::dynamo`]), so no call fails without saying which table
    /// it went to.
    #[error("DynamoDB {operation} on {table}: {source}")]
    Dynamo {
        /// The call, as DynamoDB names it (`GetItem`).
        operation: &'static str,
        /// The table's name; a transaction's tables, comma-separated.
        table: String,
        #[source]
        source: Box<aws_sdk_dynamodb::Error>,
    },
    #[error("stored item is malformed: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Missing(String),
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
/// environment, as every function and tool builds it, and a time limit on
/// every call (`timeouts`).
pub async fn aws_config() -> aws_config::SdkConfig {
    config_loader().load().await
}

fn config_loader() -> aws_config::ConfigLoader {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts());
    let plain_http = std::env::var("AWS_ENDPOINT_URL").is_ok_and(|endpoint| endpoint.starts_with("http://"));
    match plain_http.then(plain_http_client).flatten() {
        Some(client) => loader.http_client(client),
        None => loader,
    }
}

/// The client for an `AWS_ENDPOINT_URL` that speaks plain HTTP (an
/// emulator): it trusts no certificate, so none is loaded. The SDK's default
/// client reads and parses the system's whole certificate store when a
/// service's client is created, whichever scheme the endpoint has: tens of
/// milliseconds of CPU in every new instance, for nothing when no call is
/// encrypted. (A service sent to an `https://` endpoint of its own beside it
/// would fail its TLS handshake, as it trusts nothing.)
fn plain_http_client() -> Option<aws_sdk_dynamodb::config::SharedHttpClient> {
    use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let no_certificates = TlsContext::builder()
        .with_trust_store(TrustStore::empty())
        .build()
        .ok()?;
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(no_certificates)
        .build_https();
    Some(client)
}

/// How long a call to an AWS service may take, for functions that time out
/// after 10 s (the template's `Globals`): a call that hangs (a connection
/// gone silent, an endpoint that stopped answering) fails while the function
/// can still answer an error or report its batch, instead of the invocation
/// being killed at its timeout.
///
/// - Opening a connection, 1 s: in the region it takes milliseconds (the
///   SDK's default waits 3.1 s).
/// - One attempt, 4 s: DynamoDB, SQS, EventBridge and KMS answer in tens
///   of milliseconds, so an attempt silent for 4 s is stuck; the SDK tries
///   again on a fresh connection. (The local emulator, serving every
///   function one request at a time, can take seconds under a test run's
///   load; a tighter limit there turned slow answers into failed steps.)
/// - The whole call, 7 s: a second attempt after a stuck first, and 3 s
///   of the function's 10 s left to report the failure.
fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(4))
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The longest one call to an AWS service takes, retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(7);

pub fn dynamodb(config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::SdkError;

    use super::*;

    #[tokio::test]
    async fn a_call_to_a_service_that_never_answers_fails_within_the_operation_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        // Takes every connection and holds it open without a word.
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((connection, _)) = listener.accept().await {
                held.push(connection);
            }
        });
        let config = config_loader()
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("eu-west-1"))
            .test_credentials()
            .load()
            .await;
        let call = dynamodb(&config).list_tables().send();
        let result = tokio::time::timeout(OPERATION_TIMEOUT + Duration::from_secs(2), call)
            .await
            .expect("the call hung past its operation timeout");
        silent.abort();
        assert!(matches!(result, Err(SdkError::TimeoutError(_))), "{result:?}");
    }
}
