//! The `CurrencyRates` table: one item, `id = "current"`, holding every rate
//! against the base currency as a DynamoDB number (an exact decimal string),
//! so a rate update is one atomic write and a read is one `GetItem`.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use astroshop_domain::{CurrencyCode, Rate, RateTable};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::dynamo::OnTable;
use crate::{Kept, StoreError};

const CURRENT: &str = "current";

/// Where exchange rates come from.
pub trait RateSource {
    fn rate_table(&self) -> impl Future<Output = Result<Arc<RateTable>, StoreError>> + Send;
}

#[derive(Clone, Debug)]
pub struct RateTableStore {
    client: Client,
    table: String,
}

impl RateTableStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `CURRENCY_RATES_TABLE`.
    pub fn from_env(client: Client) -> Result<Self, crate::MissingSetting> {
        Ok(Self::new(client, crate::setting("CURRENCY_RATES_TABLE")?))
    }

    pub async fn put_rates(&self, base: &CurrencyCode, rates: &RateTable) -> Result<(), StoreError> {
        let map: HashMap<String, AttributeValue> = rates
            .rates()
            .map(|(code, rate)| (code.to_string(), AttributeValue::N(rate.to_string())))
            .collect();
        self.client
            .put_item()
            .table_name(&self.table)
            .item("id", AttributeValue::S(CURRENT.to_owned()))
            .item("base", AttributeValue::S(base.to_string()))
            .item("rates", AttributeValue::M(map))
            .send()
            .await
            .on_table(&self.table)?;
        Ok(())
    }
}

impl RateSource for RateTableStore {
    async fn rate_table(&self) -> Result<Arc<RateTable>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(CURRENT.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .on_table(&self.table)?;
        let item = output
            .item
            .ok_or_else(|| StoreError::Missing(format!("no current rates in table {}", self.table)))?;
        let Some(AttributeValue::M(stored)) = item.get("rates") else {
            return Err(StoreError::Corrupt("rates is not a map".to_owned()));
        };
        let mut rates = BTreeMap::new();
        for (code, value) in stored {
            let corrupt = |what: &str| StoreError::Corrupt(format!("rate {code}: {what}"));
            let code = CurrencyCode::parse(code).map_err(|e| corrupt(&e.to_string()))?;
            let AttributeValue::N(number) = value else {
                return Err(corrupt("not a number"));
            };
            rates.insert(code, Rate::parse(number).map_err(|e| corrupt(&e.to_string()))?);
        }
        Ok(Arc::new(RateTable::new(rates)))
    }
}

/// Keeps the rates a Lambda instance read for a while: they change at most
/// daily, and a warm instance should not pay a round trip per request.
pub struct CachedRates<S> {
    source: S,
    kept: Kept<RateTable>,
}

impl<S: RateSource + Sync> CachedRates<S> {
    pub fn new(source: S, ttl: Duration) -> Self {
        Self {
            source,
            kept: Kept::new("rates", ttl),
        }
    }
}

impl CachedRates<RateTableStore> {
    /// How long a warm instance trusts the rates it read.
    pub const TTL: Duration = Duration::from_secs(60);

    /// The rates table named by `CURRENCY_RATES_TABLE`, cached for [`Self::TTL`].
    pub fn from_env(client: Client) -> Result<Self, crate::MissingSetting> {
        Ok(Self::new(RateTableStore::from_env(client)?, Self::TTL))
    }
}

impl<S: RateSource + Sync> RateSource for CachedRates<S> {
    async fn rate_table(&self) -> Result<Arc<RateTable>, StoreError> {
        self.kept.get_or_read(|| self.source.rate_table()).await
    }
}
