//! The `ProductSearch` table: the catalogue's read model, kept up to date
//! from the `Products` stream (CQRS), so search, the category list and every
//! filtered, sorted page of products are key lookups and never a scan of
//! the catalogue.
//!
//! Three kinds of item share the table (pk `term`, sk `productId`):
//! - one per word of a product, in the partition `w#` and the word's first
//!   two letters, with sk `<word>#<productId>`: a prefix of two letters or
//!   more is one `Query` with `begins_with`. The item carries the product
//!   and the weight of the most telling field the word is in;
//! - one per category of a product, all in the [`CATEGORIES`] partition with
//!   sk `<category>#<productId>`, so one `Query` lists every category;
//! - one per [`Listing`] a product is in (every product by name and by
//!   price, and each of its categories by name and by price), with sk the
//!   product's position in that order, so a page is one ranged `Query` from
//!   where the last one ended. The item carries the product.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use astroshop_domain::{Product, ProductId};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};

use crate::StoreError;
use crate::dynamo::{self, Item, OnTable};

/// The partition holding category memberships. Words never contain `#`, so
/// no partition of another kind can collide with it.
pub const CATEGORIES: &str = "#categories";

/// How much of a name orders a listing: DynamoDB keys are at most 1 KiB.
const NAME_POSITION_CHARS: usize = 200;

/// One way a product is found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entry {
    /// A word of the product's name, description or categories, with the
    /// weight of the most telling of those it is in.
    Word {
        word: String,
        weight: u8,
    },
    Category(String),
    /// The product's place in a listing; `position` is [`Listing::position`].
    Listed {
        listing: Listing,
        position: String,
    },
}

/// The order of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ListOrder {
    /// By name, case aside.
    Name,
    /// By price in US dollars, which orders every currency alike: each is a
    /// fixed multiple of the dollar.
    Price,
}

/// Every product, or one category's, in one order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Listing {
    pub category: Option<String>,
    pub order: ListOrder,
}

impl Listing {
    fn partition(&self) -> String {
        let order = match self.order {
            ListOrder::Name => "name",
            ListOrder::Price => "price",
        };
        // Injective: the order is always the last segment.
        match &self.category {
            None => format!("#list/{order}"),
            Some(category) => format!("#category/{category}/{order}"),
        }
    }

    /// Where `product` sorts in this listing: its name or price, then its id.
    pub fn position(&self, product: &Product) -> String {
        match self.order {
            ListOrder::Name => {
                let name: String = product
                    .name
                    .to_lowercase()
                    .chars()
                    .take(NAME_POSITION_CHARS)
                    .collect();
                format!("{name}#{}", product.id)
            }
            ListOrder::Price => format!(
                "{}#{}",
                Self::price_position(product.price_usd.total_nanos()),
                product.id
            ),
        }
    }

    /// The start of every position at `nanos` US dollars; every position of
    /// a higher price sorts after it, and of a lower one before.
    pub fn price_position(nanos: i128) -> String {
        format!("{:020}", nanos.clamp(0, i128::from(u64::MAX)))
    }
}

/// One ranged read of a listing.
#[derive(Debug, Clone)]
pub struct ListingRead {
    pub listing: Listing,
    pub descending: bool,
    /// Positions from `from` to `to` (inclusive, as strings compare).
    pub from: Option<String>,
    pub to: Option<String>,
    /// Where the previous read ended; this one starts after it.
    pub after: Option<String>,
    pub limit: i32,
}

/// A product found by a word prefix.
#[derive(Debug, Clone)]
pub struct WordMatch {
    pub product: Product,
    pub weight: u8,
}

/// A product in a listing, at its position.
#[derive(Debug, Clone)]
pub struct Listed {
    pub position: String,
    pub product: Product,
}

impl Entry {
    fn key(&self, id: &ProductId) -> Item {
        let (term, sort) = match self {
            Self::Word { word, .. } => (word_partition(word), format!("{word}#{id}")),
            Self::Category(category) => (CATEGORIES.to_owned(), format!("{category}#{id}")),
            Self::Listed { listing, position } => (listing.partition(), position.clone()),
        };
        HashMap::from([
            ("term".to_owned(), AttributeValue::S(term)),
            ("productId".to_owned(), AttributeValue::S(sort)),
        ])
    }
}

/// The partition of a word: `w#` and its first two letters.
fn word_partition(word: &str) -> String {
    let start: String = word.chars().take(2).collect();
    format!("w#{start}")
}

/// Reading the search read model.
pub trait SearchIndex {
    /// Every product with a word that starts with `prefix` (lower-case); a
    /// one-letter prefix finds only one-letter words. A product with
    /// several such words comes once per word.
    fn products_with_prefix(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<WordMatch>, StoreError>> + Send;
    /// Every category, with how many products are in it.
    fn category_counts(&self) -> impl Future<Output = Result<BTreeMap<String, usize>, StoreError>> + Send;
    /// Up to `read.limit` products of a listing, in its order, and whether
    /// the listing may hold more after them.
    fn listing_page(
        &self,
        read: &ListingRead,
    ) -> impl Future<Output = Result<(Vec<Listed>, bool), StoreError>> + Send;
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
    async fn products_with_prefix(&self, prefix: &str) -> Result<Vec<WordMatch>, StoreError> {
        let start = if prefix.chars().count() < 2 {
            format!("{prefix}#")
        } else {
            prefix.to_owned()
        };
        let items = dynamo::all_pages(|start_key| async {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#term = :term AND begins_with(#sort, :start)")
                .expression_attribute_names("#term", "term")
                .expression_attribute_names("#sort", "productId")
                .expression_attribute_values(":term", AttributeValue::S(word_partition(prefix)))
                .expression_attribute_values(":start", AttributeValue::S(start.clone()))
                .projection_expression("product, weight")
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .on_table(&self.table)?;
            Ok((page.items.unwrap_or_default(), page.last_evaluated_key))
        })
        .await?;
        items
            .into_iter()
            .map(|mut item| {
                let weight = match item.get("weight") {
                    Some(AttributeValue::N(number)) => number.parse().ok(),
                    _ => None,
                }
                .ok_or_else(|| StoreError::Corrupt(format!("word entry for {prefix:?} has no weight")))?;
                Ok(WordMatch {
                    product: stored_product(&mut item)?,
                    weight,
                })
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

    async fn listing_page(&self, read: &ListingRead) -> Result<(Vec<Listed>, bool), StoreError> {
        let partition = read.listing.partition();
        let mut condition = "#term = :term".to_owned();
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_names("#term", "term")
            .expression_attribute_values(":term", AttributeValue::S(partition.clone()))
            .scan_index_forward(!read.descending)
            .limit(read.limit)
            .projection_expression("productId, product");
        // Lowest and highest possible positions stand in for an open end.
        if read.from.is_some() || read.to.is_some() {
            condition.push_str(" AND #sort BETWEEN :from AND :to");
            query = query
                .expression_attribute_names("#sort", "productId")
                .expression_attribute_values(
                    ":from",
                    AttributeValue::S(read.from.clone().unwrap_or_default()),
                )
                .expression_attribute_values(
                    ":to",
                    AttributeValue::S(read.to.clone().unwrap_or_else(|| char::MAX.to_string())),
                );
        }
        if let Some(after) = &read.after {
            query = query.set_exclusive_start_key(Some(HashMap::from([
                ("term".to_owned(), AttributeValue::S(partition.clone())),
                ("productId".to_owned(), AttributeValue::S(after.clone())),
            ])));
        }
        let page = query
            .key_condition_expression(condition)
            .send()
            .await
            .on_table(&self.table)?;
        let more = page.last_evaluated_key.is_some();
        let listed = page
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|mut item| {
                let Some(AttributeValue::S(position)) = item.remove("productId") else {
                    return Err(StoreError::Corrupt(format!(
                        "listing entry in {partition} has no position"
                    )));
                };
                Ok(Listed {
                    position,
                    product: stored_product(&mut item)?,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok((listed, more))
    }
}

/// The product a word or listing entry carries.
fn stored_product(item: &mut Item) -> Result<Product, StoreError> {
    let product = item
        .remove("product")
        .ok_or_else(|| StoreError::Corrupt("search entry has no product".to_owned()))?;
    serde_dynamo::from_attribute_value(product).map_err(|e| StoreError::Corrupt(e.to_string()))
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
                    Entry::Word { weight, .. } => {
                        item.insert("product".to_owned(), stored.clone());
                        item.insert("weight".to_owned(), AttributeValue::N(weight.to_string()));
                    }
                    Entry::Category(category) => {
                        item.insert("category".to_owned(), AttributeValue::S(category.clone()));
                    }
                    Entry::Listed { .. } => {
                        item.insert("product".to_owned(), stored.clone());
                    }
                }
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
