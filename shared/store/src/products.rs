//! The `Products` table: the write model of the catalogue, one item per
//! product in the demo's JSON shape.

use std::future::Future;

use astroshop_domain::{Product, ProductId};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::StoreError;

/// Reading the catalogue.
pub trait ProductCatalog {
    /// Every product, ordered by name.
    fn list_products(&self) -> impl Future<Output = Result<Vec<Product>, StoreError>> + Send;
    fn get_product(&self, id: &ProductId)
    -> impl Future<Output = Result<Option<Product>, StoreError>> + Send;
}

#[derive(Clone, Debug)]
pub struct ProductTable {
    client: Client,
    table: String,
}

impl ProductTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `PRODUCTS_TABLE`.
    pub fn from_env(client: Client) -> Result<Self, crate::MissingSetting> {
        Ok(Self::new(client, crate::setting("PRODUCTS_TABLE")?))
    }

    pub async fn put_product(&self, product: &Product) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(product).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await?;
        Ok(())
    }
}

impl ProductCatalog for ProductTable {
    async fn list_products(&self) -> Result<Vec<Product>, StoreError> {
        let mut products = Vec::new();
        let mut start_key = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start_key)
                .send()
                .await?;
            for item in page.items() {
                products.push(
                    serde_dynamo::from_item(item.clone()).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                );
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
        products.sort_by(|a: &Product, b| a.name.cmp(&b.name));
        Ok(products)
    }

    async fn get_product(&self, id: &ProductId) -> Result<Option<Product>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_string()))
            .send()
            .await?;
        output
            .item
            .map(|item| serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }
}
