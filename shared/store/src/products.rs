//! The `Products` table: the write model of the catalogue, one item per
//! product in the demo's JSON shape. Its stream feeds the search read model.

use std::future::Future;

use astroshop_domain::{Product, ProductId};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::StoreError;
use crate::dynamo::{self, OnTable};

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
            .await
            .on_table(&self.table)?;
        Ok(())
    }
}

/// What a create found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    /// The id is in use; nothing was written.
    IdTaken,
}

/// What a replace or delete found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    Changed,
    /// No product has the id; nothing was written.
    NoSuchProduct,
}

/// Changing the catalogue. Each write is one conditional request, never a
/// read then a write, so racing admins cannot overwrite each other unseen.
pub trait ProductEditor {
    /// Adds a product whose id is not in use.
    fn create_product(&self, product: &Product) -> impl Future<Output = Result<Created, StoreError>> + Send;
    /// Replaces an existing product whole.
    fn replace_product(&self, product: &Product) -> impl Future<Output = Result<Changed, StoreError>> + Send;
    fn delete_product(&self, id: &ProductId) -> impl Future<Output = Result<Changed, StoreError>> + Send;
}

impl ProductTable {
    /// Puts `product` if `condition` holds; `Ok(false)` when it does not.
    async fn put_if(&self, product: &Product, condition: &str) -> Result<bool, StoreError> {
        let item = serde_dynamo::to_item(product).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .send()
            .await;
        dynamo::condition_held(written, &self.table)
    }
}

impl ProductEditor for ProductTable {
    async fn create_product(&self, product: &Product) -> Result<Created, StoreError> {
        let created = self.put_if(product, "attribute_not_exists(id)").await?;
        Ok(if created {
            Created::Created
        } else {
            Created::IdTaken
        })
    }

    async fn replace_product(&self, product: &Product) -> Result<Changed, StoreError> {
        let replaced = self.put_if(product, "attribute_exists(id)").await?;
        Ok(if replaced {
            Changed::Changed
        } else {
            Changed::NoSuchProduct
        })
    }

    async fn delete_product(&self, id: &ProductId) -> Result<Changed, StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_string()))
            .condition_expression("attribute_exists(id)")
            .send()
            .await;
        Ok(if dynamo::condition_held(deleted, &self.table)? {
            Changed::Changed
        } else {
            Changed::NoSuchProduct
        })
    }
}

impl ProductCatalog for ProductTable {
    async fn list_products(&self) -> Result<Vec<Product>, StoreError> {
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
        let mut products = items
            .into_iter()
            .map(|item| serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect::<Result<Vec<Product>, _>>()?;
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
            .await
            .on_table(&self.table)?;
        output
            .item
            .map(|item| serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }
}
