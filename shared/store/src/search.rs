//! The `ProductSearch` table: the catalogue's search read model, kept up to
//! date from the `Products` stream (CQRS), so search and the category list
//! are key lookups and never a scan of the catalogue.
//!
//! Two kinds of item share the table (pk `term`, sk `productId`):
//! - one per word of a product: `term` is the word, and the item carries the
//!   whole product, so a search needs no second read;
//! - one per category of a product, all in the [`CATEGORIES`] partition with
//!   sk `<category>#<productId>`, so one `Query` lists every category.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use astroshop_domain::{Product, ProductId};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};

use crate::StoreError;
use crate::dynamo::{self, OnTable};

/// The partition holding category memberships. Words never contain `#`, so
/// it cannot collide with a term.
pub const CATEGORIES: &str = "#categories";

/// One way a product is found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entry {
    /// A word of the product's name, description or categories.
    Term(String),
    Category(String),
}

impl Entry {
    fn key(&self, id: &ProductId) -> HashMap<String, AttributeValue> {
        let (term, sort) = match self {
            Self::Term(term) => (term.clone(), id.to_string()),
            Self::Category(category) => (CATEGORIES.to_owned(), format!("{category}#{id}")),
        };
        HashMap::from([
            ("term".to_owned(), AttributeValue::S(term)),
            ("productId".to_owned(), AttributeValue::S(sort)),
        ])
    }
}

/// Reading the search read model.
pub trait SearchIndex {
    /// The products indexed under one term, in no particular order.
    fn products_with_term(&self, term: &str)
    -> impl Future<Output = Result<Vec<Product>, StoreError>> + Send;
    /// Every category, with how many products are in it.
    fn category_counts(&self) -> impl Future<Output = Result<BTreeMap<String, usize>, StoreError>> + Send;
}

/// Changing the search read model. Puts and deletes only, so applying a
/// change twice leaves what applying it once did.
pub trait SearchIndexWriter {
    /// Writes `entries` for `product`, replacing what they carried before.
    fn put_entries(
        &self,
        product: &Product,
        entries: &[Entry],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn delete_entries(
        &self,
        id: &ProductId,
        entries: &[Entry],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[derive(Clone, Debug)]
pub struct ProductSearchTable {
    client: Client,
    table: String,
}

impl ProductSearchTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `PRODUCT_SEARCH_TABLE`.
    pub fn from_env(client: Client) -> Result<Self, crate::MissingSetting> {
        Ok(Self::new(client, crate::setting("PRODUCT_SEARCH_TABLE")?))
    }

    async fn write_all(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        dynamo::write_batches(&self.client, &self.table, requests).await
    }

    /// Every item under `term`, with only the `attribute` it is read for.
    async fn query_partition(
        &self,
        term: &str,
        attribute: &str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        dynamo::all_pages(|start_key| async {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                // Names go through placeholders: DynamoDB reserves many common words.
                .key_condition_expression("#term = :term")
                .expression_attribute_names("#term", "term")
                .expression_attribute_names("#attribute", attribute)
                .expression_attribute_values(":term", AttributeValue::S(term.to_owned()))
                .projection_expression("#attribute")
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .on_table(&self.table)?;
            Ok((page.items.unwrap_or_default(), page.last_evaluated_key))
        })
        .await
    }
}

impl SearchIndex for ProductSearchTable {
    async fn products_with_term(&self, term: &str) -> Result<Vec<Product>, StoreError> {
        self.query_partition(term, "product")
            .await?
            .into_iter()
            .map(|mut item| {
                let product = item.remove("product").ok_or_else(|| {
                    StoreError::Corrupt(format!("search entry for {term:?} has no product"))
                })?;
                serde_dynamo::from_attribute_value(product).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    async fn category_counts(&self) -> Result<BTreeMap<String, usize>, StoreError> {
        let mut counts = BTreeMap::new();
        for item in self.query_partition(CATEGORIES, "category").await? {
            let Some(AttributeValue::S(category)) = item.get("category") else {
                return Err(StoreError::Corrupt(
                    "category entry without a category".to_owned(),
                ));
            };
            *counts.entry(category.clone()).or_insert(0) += 1;
        }
        Ok(counts)
    }
}

impl SearchIndexWriter for ProductSearchTable {
    async fn put_entries(&self, product: &Product, entries: &[Entry]) -> Result<(), StoreError> {
        let stored: AttributeValue =
            serde_dynamo::to_attribute_value(product).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let requests = entries
            .iter()
            .map(|entry| {
                let mut item = entry.key(&product.id);
                match entry {
                    Entry::Term(_) => item.insert("product".to_owned(), stored.clone()),
                    Entry::Category(category) => {
                        item.insert("category".to_owned(), AttributeValue::S(category.clone()))
                    }
                };
                let put = PutRequest::builder().set_item(Some(item)).build()?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, aws_sdk_dynamodb::error::BuildError>>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.write_all(requests).await
    }

    async fn delete_entries(&self, id: &ProductId, entries: &[Entry]) -> Result<(), StoreError> {
        let requests = entries
            .iter()
            .map(|entry| {
                let delete = DeleteRequest::builder().set_key(Some(entry.key(id))).build()?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<Vec<_>, aws_sdk_dynamodb::error::BuildError>>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.write_all(requests).await
    }
}
