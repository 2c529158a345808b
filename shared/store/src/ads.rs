//! The `Ads` table: one item per ad, pk `category`, sk `redirectUrl` (an ad
//! sends the shopper to one product page), so a category's ads are one
//! `Query`. Random ads need every ad; that read is a `Scan` of a handful of
//! items, cached per warm instance so it is not paid on every request.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use crate::dynamo::{self, OnTable};
use crate::{Kept, StoreError};

/// An ad as the demo's storefront shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ad {
    pub redirect_url: String,
    pub text: String,
}

/// Reading ads.
pub trait AdCatalog {
    /// The ads of one category, none for a category nobody advertises in.
    fn ads_in(&self, category: &str) -> impl Future<Output = Result<Vec<Ad>, StoreError>> + Send;
    /// Every ad, to pick random ones from.
    fn all_ads(&self) -> impl Future<Output = Result<Arc<Vec<Ad>>, StoreError>> + Send;
}

#[derive(Debug)]
pub struct AdTable {
    client: Client,
    table: String,
    every_ad: Kept<Vec<Ad>>,
}

/// A stored ad: its category beside the ad's fields.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdItem {
    category: String,
    #[serde(flatten)]
    ad: Ad,
}

impl AdTable {
    /// How long a warm instance keeps the list of every ad; ads change with
    /// a deploy, not by the minute.
    pub const EVERY_AD_TTL: Duration = Duration::from_secs(300);

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            every_ad: Kept::new("ads", Self::EVERY_AD_TTL),
        }
    }

    /// The table named by `ADS_TABLE`.
    pub fn from_env(client: Client) -> Result<Self, crate::MissingSetting> {
        Ok(Self::new(client, crate::setting("ADS_TABLE")?))
    }

    pub async fn put_ad(&self, category: &str, ad: &Ad) -> Result<(), StoreError> {
        let item = AdItem {
            category: category.to_owned(),
            ad: ad.clone(),
        };
        let item = serde_dynamo::to_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .on_table(&self.table)?;
        Ok(())
    }

    async fn scan_ads(&self) -> Result<Vec<Ad>, StoreError> {
        let items = dynamo::all_pages(|start_key| async {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .on_table(&self.table)?;
            Ok((page.items.unwrap_or_default(), page.last_evaluated_key))
        })
        .await?;
        items.into_iter().map(ad).collect()
    }
}

fn ad(item: std::collections::HashMap<String, AttributeValue>) -> Result<Ad, StoreError> {
    serde_dynamo::from_item::<_, AdItem>(item)
        .map(|stored| stored.ad)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl AdCatalog for AdTable {
    async fn ads_in(&self, category: &str) -> Result<Vec<Ad>, StoreError> {
        let items = dynamo::all_pages(|start_key| async {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("category = :category")
                .expression_attribute_values(":category", AttributeValue::S(category.to_owned()))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .on_table(&self.table)?;
            Ok((page.items.unwrap_or_default(), page.last_evaluated_key))
        })
        .await?;
        items.into_iter().map(ad).collect()
    }

    async fn all_ads(&self) -> Result<Arc<Vec<Ad>>, StoreError> {
        self.every_ad
            .get_or_read(|| async { Ok(Arc::new(self.scan_ads().await?)) })
            .await
    }
}
