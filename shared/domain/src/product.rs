//! Products of the catalogue, in the shape the demo storefront reads.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Money;

/// A catalogue id such as `OLJCESPC7Z`: 1 to 64 ASCII letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a product id (1 to 64 letters, digits, '-' or '_')")]
pub struct InvalidProductId(pub String);

impl ProductId {
    pub fn parse(id: &str) -> Result<Self, InvalidProductId> {
        let valid = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(id.to_owned()))
        } else {
            Err(InvalidProductId(id.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ProductId {
    type Error = InvalidProductId;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::parse(&id)
    }
}

impl From<ProductId> for String {
    fn from(id: ProductId) -> Self {
        id.0
    }
}

/// A product. `price_usd` keeps the demo's field name even when a response
/// carries the price converted to another currency, as the demo's API does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub description: String,
    pub picture: String,
    pub price_usd: Money,
    pub categories: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_ids_reject_paths_and_blanks() {
        assert!(ProductId::parse("OLJCESPC7Z").is_ok());
        for bad in ["", "../etc", "a b", "x".repeat(65).as_str(), "ID%20"] {
            assert!(ProductId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
