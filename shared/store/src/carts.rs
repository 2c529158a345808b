//! The `Carts` table: one item per cart line (pk `userId`, sk `productId`,
//! `quantity`, `expiresAt`). Adding is one atomic `UpdateItem ... ADD` guarded
//! by a condition, so concurrent adds never lose a count and a line never
//! passes the cap. `expiresAt` (epoch seconds) is DynamoDB's TTL: a line
//! nobody touched for a week is deleted, and ignored until it is.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use astroshop_domain::{CartLine, ProductId, Quantity, UserId};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, ReturnValue, ReturnValuesOnConditionCheckFailure, WriteRequest,
};

use crate::StoreError;
use crate::dynamo::{self, OnTable};

/// How long an untouched cart line is kept.
pub const CART_LINE_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// What adding to a line did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineUpdate {
    /// The line now holds this many.
    Added(Quantity),
    /// The line would pass [`Quantity::MAX`]; nothing was written.
    WouldExceedCap,
}

/// Reading and changing carts.
pub trait CartStore {
    /// The live lines of a cart, ordered by product id.
    fn cart_lines(&self, user: &UserId) -> impl Future<Output = Result<Vec<CartLine>, StoreError>> + Send;
    /// Adds `quantity` to the line for `product`, creating it if needed.
    fn add_to_line(
        &self,
        user: &UserId,
        product: &ProductId,
        quantity: Quantity,
    ) -> impl Future<Output = Result<LineUpdate, StoreError>> + Send;
    /// Deletes every line of the cart; an empty cart stays empty.
    fn empty_cart(&self, user: &UserId) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes one line; false when the cart had no such line.
    fn remove_line(
        &self,
        user: &UserId,
        product: &ProductId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Deletes the lines of `products` that nobody has changed since
    /// `since` (an add renews a line's expiry, which tells when it was last
    /// changed); how many were deleted. Doing it again deletes nothing the
    /// shopper has added since.
    fn remove_lines_unchanged_since(
        &self,
        user: &UserId,
        products: &[ProductId],
        since: SystemTime,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

#[derive(Clone, Debug)]
pub struct CartTable {
    client: Client,
    table: String,
}

impl CartTable {
    /// Adds racing with an expired line's replacement are retried this often.
    const ADD_ATTEMPTS: u32 = 3;

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `CARTS_TABLE`.
    pub fn from_env(client: Client) -> Result<Self, crate::MissingSetting> {
        Ok(Self::new(client, crate::setting("CARTS_TABLE")?))
    }

    fn key(user: &UserId, product: &ProductId) -> [(&'static str, AttributeValue); 2] {
        [
            ("userId", AttributeValue::S(user.to_string())),
            ("productId", AttributeValue::S(product.to_string())),
        ]
    }

    /// Every line item of the cart, expired or not.
    async fn stored_lines(&self, user: &UserId) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        dynamo::all_pages(|start_key| async {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("userId = :user")
                .expression_attribute_values(":user", AttributeValue::S(user.to_string()))
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .on_table(&self.table)?;
            Ok((page.items.unwrap_or_default(), page.last_evaluated_key))
        })
        .await
    }

    /// One atomic add to a live line (or a new one), capped at [`Quantity::MAX`].
    async fn add_to_live_line(
        &self,
        user: &UserId,
        product: &ProductId,
        quantity: Quantity,
    ) -> Result<Added, StoreError> {
        let now = SystemTime::now();
        let [user_key, product_key] = Self::key(user, product);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(user_key.0, user_key.1)
            .key(product_key.0, product_key.1)
            .update_expression("ADD quantity :add SET expiresAt = :expires")
            .condition_expression(
                "attribute_not_exists(quantity) OR (expiresAt > :now AND quantity <= :room)",
            )
            .expression_attribute_values(":add", AttributeValue::N(quantity.to_string()))
            .expression_attribute_values(":expires", seconds(now + CART_LINE_LIFETIME))
            .expression_attribute_values(":now", seconds(now))
            .expression_attribute_values(":room", AttributeValue::N(quantity.room_left().to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let total = Quantity::new(number(&output.attributes.unwrap_or_default(), "quantity")?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(Added::Done(LineUpdate::Added(total)))
            }
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let expires_at: u64 = number(failed.item().unwrap_or(&HashMap::new()), "expiresAt")?;
                    if expires_at <= epoch_seconds(now) {
                        Ok(Added::LineExpired)
                    } else {
                        Ok(Added::Done(LineUpdate::WouldExceedCap))
                    }
                }
                _ => Err(error).on_table(&self.table),
            },
        }
    }

    /// Writes a fresh line over an expired one; false when the line was
    /// renewed in the meantime.
    async fn replace_expired_line(
        &self,
        user: &UserId,
        product: &ProductId,
        quantity: Quantity,
    ) -> Result<bool, StoreError> {
        let now = SystemTime::now();
        let [user_key, product_key] = Self::key(user, product);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(user_key.0, user_key.1)
            .item(product_key.0, product_key.1)
            .item("quantity", AttributeValue::N(quantity.to_string()))
            .item("expiresAt", seconds(now + CART_LINE_LIFETIME))
            .condition_expression("expiresAt <= :now")
            .expression_attribute_values(":now", seconds(now))
            .send()
            .await;
        dynamo::condition_held(result, &self.table)
    }
}

/// What one attempt at adding to a line found.
enum Added {
    Done(LineUpdate),
    LineExpired,
}

fn epoch_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn seconds(at: SystemTime) -> AttributeValue {
    AttributeValue::N(epoch_seconds(at).to_string())
}

fn number<T: std::str::FromStr>(item: &HashMap<String, AttributeValue>, name: &str) -> Result<T, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("cart line {name} {n:?} is not a count"))),
        _ => Err(StoreError::Corrupt(format!("cart line has no number {name}"))),
    }
}

fn line(item: &HashMap<String, AttributeValue>) -> Result<CartLine, StoreError> {
    let Some(AttributeValue::S(product)) = item.get("productId") else {
        return Err(StoreError::Corrupt("cart line has no productId".to_owned()));
    };
    let product_id = ProductId::parse(product).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let quantity =
        Quantity::new(number(item, "quantity")?).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(CartLine { product_id, quantity })
}

impl CartStore for CartTable {
    async fn cart_lines(&self, user: &UserId) -> Result<Vec<CartLine>, StoreError> {
        let now = epoch_seconds(SystemTime::now());
        let mut lines = Vec::new();
        for item in self.stored_lines(user).await? {
            // TTL deletion runs lazily (within days), so an expired line may still be stored.
            if number::<u64>(&item, "expiresAt")? > now {
                lines.push(line(&item)?);
            }
        }
        Ok(lines)
    }

    async fn add_to_line(
        &self,
        user: &UserId,
        product: &ProductId,
        quantity: Quantity,
    ) -> Result<LineUpdate, StoreError> {
        // A line past its expiry may still be stored (TTL deletes lazily); it is
        // replaced, not added to, and a concurrent renewal makes us add again.
        for _ in 0..Self::ADD_ATTEMPTS {
            match self.add_to_live_line(user, product, quantity).await? {
                Added::Done(update) => return Ok(update),
                Added::LineExpired => {
                    if self.replace_expired_line(user, product, quantity).await? {
                        return Ok(LineUpdate::Added(quantity));
                    }
                }
            }
        }
        Err(StoreError::Missing(format!(
            "cart line {product} of {user} kept changing; the add was not applied"
        )))
    }

    async fn empty_cart(&self, user: &UserId) -> Result<(), StoreError> {
        let deletes: Vec<WriteRequest> = self
            .stored_lines(user)
            .await?
            .into_iter()
            .map(|item| {
                let key = item
                    .into_iter()
                    .filter(|(name, _)| name == "userId" || name == "productId")
                    .collect();
                let delete = DeleteRequest::builder()
                    .set_key(Some(key))
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<_, StoreError>>()?;
        dynamo::write_batches(&self.client, &self.table, deletes).await
    }

    async fn remove_line(&self, user: &UserId, product: &ProductId) -> Result<bool, StoreError> {
        let [user_key, product_key] = Self::key(user, product);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(user_key.0, user_key.1)
            .key(product_key.0, product_key.1)
            .condition_expression("attribute_exists(productId) AND expiresAt > :now")
            .expression_attribute_values(":now", seconds(SystemTime::now()))
            .send()
            .await;
        dynamo::condition_held(result, &self.table)
    }

    async fn remove_lines_unchanged_since(
        &self,
        user: &UserId,
        products: &[ProductId],
        since: SystemTime,
    ) -> Result<usize, StoreError> {
        // A line last changed at or before `since` expires at or before this.
        let latest_expiry = seconds(since + CART_LINE_LIFETIME);
        let mut removed = 0;
        for product in products {
            let [user_key, product_key] = Self::key(user, product);
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key(user_key.0, user_key.1)
                .key(product_key.0, product_key.1)
                .condition_expression("attribute_exists(quantity) AND expiresAt <= :latest")
                .expression_attribute_values(":latest", latest_expiry.clone())
                .send()
                .await;
            if dynamo::condition_held(result, &self.table)? {
                removed += 1;
            }
        }
        Ok(removed)
    }
}
