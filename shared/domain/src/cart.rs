//! Carts: who a cart belongs to, how many of a product a line may hold, and
//! the line itself. Parsed once at the edge, so the store and the handlers
//! never see a zero, negative or absurd quantity or an unusable cart key.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ProductId;

/// How many of one product a cart line holds, and how many one request may
/// add: 1 to [`Quantity::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Quantity(u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quantity must be a whole number from 1 to {max}, got {0}", max = Quantity::MAX)]
pub struct InvalidQuantity(pub i64);

impl Quantity {
    /// A shop's cart line, not a wholesale order: the demo's load generator
    /// adds at most 10 at a time.
    pub const MAX: u32 = 99;

    pub fn new(count: i64) -> Result<Self, InvalidQuantity> {
        u32::try_from(count)
            .ok()
            .filter(|count| (1..=Self::MAX).contains(count))
            .map(Self)
            .ok_or(InvalidQuantity(count))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// How many more a line holding this quantity can take.
    pub fn room_left(self) -> u32 {
        Self::MAX - self.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl TryFrom<i64> for Quantity {
    type Error = InvalidQuantity;

    fn try_from(count: i64) -> Result<Self, Self::Error> {
        Self::new(count)
    }
}

impl From<Quantity> for u32 {
    fn from(quantity: Quantity) -> Self {
        quantity.0
    }
}

/// Whose cart or order: a guest's id (the storefront's session id, or the
/// client's user id: any printable text up to 128 bytes, which keeps it a
/// valid DynamoDB key) or a signed-in shopper's account (`account:<sub>`,
/// which no guest id can be).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a user id (1 to 128 bytes of printable text, no spaces)")]
pub struct InvalidUserId(pub String);

impl UserId {
    pub const MAX_LEN: usize = 128;
    const ACCOUNT_PREFIX: &str = "account:";

    pub fn parse(id: &str) -> Result<Self, InvalidUserId> {
        let valid = (1..=Self::MAX_LEN).contains(&id.len())
            && id.chars().all(|c| !c.is_control() && !c.is_whitespace());
        if valid {
            Ok(Self(id.to_owned()))
        } else {
            Err(InvalidUserId(id.to_owned()))
        }
    }

    /// A guest's id as a client gives it: any id but an account's.
    pub fn guest(id: &str) -> Result<Self, InvalidUserId> {
        let user = Self::parse(id)?;
        if user.is_account() {
            return Err(InvalidUserId(id.to_owned()));
        }
        Ok(user)
    }

    /// The signed-in shopper whose token's `sub` is `sub`.
    pub fn account(sub: &str) -> Result<Self, InvalidUserId> {
        Self::parse(&format!("{}{sub}", Self::ACCOUNT_PREFIX))
    }

    pub fn is_account(&self) -> bool {
        self.0.starts_with(Self::ACCOUNT_PREFIX)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UserId {
    type Error = InvalidUserId;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::parse(&id)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> Self {
        id.0
    }
}

/// One line of a cart: a product and how many of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartLine {
    pub product_id: ProductId,
    pub quantity: Quantity,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_guest_id_names_an_account() {
        let account = UserId::account("5f1c2a9e-0c1d-4b8e-9a51-1f4c0d3e2b7a").unwrap();
        assert!(account.is_account());
        assert!(UserId::guest(account.as_str()).is_err());
        assert!(UserId::guest("account:anything").is_err());
        let guest = UserId::guest("larry_ledger@example.com").unwrap();
        assert!(!guest.is_account());
        assert!(
            UserId::parse(account.as_str()).is_ok(),
            "stored account ids read back"
        );
    }

    #[test]
    fn quantities_run_from_one_to_the_cap() {
        assert_eq!(Quantity::new(1).unwrap().get(), 1);
        assert_eq!(Quantity::new(99).unwrap().get(), 99);
        for bad in [0, -1, 100, i64::from(u32::MAX) + 1, i64::MIN] {
            assert_eq!(Quantity::new(bad), Err(InvalidQuantity(bad)));
        }
    }

    #[test]
    fn room_left_is_what_a_line_can_still_take() {
        assert_eq!(Quantity::new(1).unwrap().room_left(), 98);
        assert_eq!(Quantity::new(99).unwrap().room_left(), 0);
    }

    #[test]
    fn quantities_parse_from_json_whole_numbers_only() {
        let parse = |text: &str| serde_json::from_str::<Quantity>(text);
        assert_eq!(parse("5").unwrap().get(), 5);
        for bad in [
            "0",
            "-3",
            "100",
            "2.5",
            "\"2\"",
            "1e30",
            "null",
            "18446744073709551616",
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
        }
        assert_eq!(serde_json::to_string(&Quantity::new(7).unwrap()).unwrap(), "7");
    }

    #[test]
    fn user_ids_are_printable_and_bounded() {
        assert!(UserId::parse("3f0e6a2c-7d1b-11ef-b864-0242ac120002").is_ok());
        assert!(UserId::parse(&"u".repeat(128)).is_ok());
        for bad in ["", "a b", "tab\there", "new\nline", &"u".repeat(129)] {
            assert!(UserId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
