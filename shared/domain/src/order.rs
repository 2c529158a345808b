//! Orders: what checkout places and the saga carries from step to step, in
//! the OpenTelemetry demo's shape (`items` of `{item: {productId, quantity},
//! cost}`, where `cost` is the unit price in the order's currency).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::CurrencyCode;
use crate::card::CardSummary;
use crate::cart::{CartLine, UserId};
use crate::email::EmailAddress;
use crate::money::{Money, MoneyError};
use crate::shipping::Address;
use crate::timestamp::Timestamp;

/// An order's id: a UUID in its canonical lowercase text form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an order id (a UUID such as 3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11)")]
pub struct InvalidOrderId(pub String);

impl OrderId {
    pub fn parse(id: &str) -> Result<Self, InvalidOrderId> {
        let groups: Vec<&str> = id.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
        let valid = lengths == [8, 4, 4, 4, 12]
            && groups.iter().all(|group| {
                group
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
        if valid {
            Ok(Self(id.to_owned()))
        } else {
            Err(InvalidOrderId(id.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for OrderId {
    type Error = InvalidOrderId;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::parse(&id)
    }
}

impl From<OrderId> for String {
    fn from(id: OrderId) -> Self {
        id.0
    }
}

/// Where an order is in the saga. It starts `PENDING` and ends exactly once,
/// `CONFIRMED` (shipped) or `FAILED` (and compensated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    Failed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Confirmed => "CONFIRMED",
            Self::Failed => "FAILED",
        }
    }
}

/// One line of an order: what was bought and its unit price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub item: CartLine,
    pub cost: Money,
}

/// A placed order, as every step of the saga sees it. It holds no secret:
/// the card appears only as its type and last four digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub email: EmailAddress,
    pub currency_code: CurrencyCode,
    pub items: Vec<OrderItem>,
    pub shipping_cost: Money,
    pub total: Money,
    pub shipping_address: Address,
    pub card: CardSummary,
    /// When checkout accepted it.
    pub placed_at: Timestamp,
}

impl Order {
    /// The order's lines as product and quantity, for the services that move stock.
    pub fn lines(&self) -> Vec<CartLine> {
        self.items.iter().map(|line| line.item.clone()).collect()
    }
}

/// What an order costs: every line's unit price times its quantity, plus
/// shipping, exactly.
pub fn total_of(items: &[OrderItem], shipping_cost: &Money) -> Result<Money, MoneyError> {
    items.iter().try_fold(shipping_cost.clone(), |sum, line| {
        sum.checked_add(&line.cost.checked_mul(line.item.quantity.get())?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ProductId, Quantity};

    fn usd(units: i64, nanos: i64) -> Money {
        Money::new(CurrencyCode::usd(), units, nanos).unwrap()
    }

    fn line(id: &str, quantity: i64, cost: Money) -> OrderItem {
        OrderItem {
            item: CartLine {
                product_id: ProductId::parse(id).unwrap(),
                quantity: Quantity::new(quantity).unwrap(),
            },
            cost,
        }
    }

    #[test]
    fn order_ids_are_canonical_uuids() {
        let id = "3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11";
        assert_eq!(OrderId::parse(id).unwrap().as_str(), id);
        for bad in [
            "",
            "3F2B8C1E-0D4A-4C7E-9B1A-2F6D8E0C4A11",
            "3f2b8c1e0d4a4c7e9b1a2f6d8e0c4a11",
            "3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a1",
            "../../etc/passwd",
            "3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a1g",
        ] {
            assert!(OrderId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_total_is_every_line_times_its_quantity_plus_shipping() {
        let items = [
            line("A", 2, usd(101, 960_000_000)),
            line("B", 3, usd(0, 990_000_000)),
        ];
        let total = total_of(&items, &usd(44, 950_000_000)).unwrap();
        assert_eq!(total, usd(251, 840_000_000));
    }

    #[test]
    fn a_total_in_two_currencies_is_refused() {
        let eur = Money::new(CurrencyCode::parse("EUR").unwrap(), 1, 0).unwrap();
        assert!(total_of(&[line("A", 1, eur)], &usd(1, 0)).is_err());
    }

    #[test]
    fn statuses_read_as_the_api_shows_them() {
        assert_eq!(
            serde_json::to_string(&OrderStatus::Confirmed).unwrap(),
            "\"CONFIRMED\""
        );
        assert_eq!(OrderStatus::Pending.as_str(), "PENDING");
    }
}
