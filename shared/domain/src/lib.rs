//! The shop's domain types. Everything here is plain data and pure functions:
//! no AWS, no I/O, so every rule can be unit-tested in microseconds.

pub mod card;
pub mod cart;
pub mod currency;
pub mod email;
pub mod events;
pub mod history;
pub mod money;
pub mod order;
pub mod product;
pub mod shipping;
pub mod timestamp;

pub use cart::{CartLine, Quantity, UserId};
pub use currency::{ConversionError, CurrencyCode, Rate, RateTable};
pub use email::{EmailAddress, InvalidEmail};
pub use money::{Money, MoneyError};
pub use order::{Order, OrderId, OrderItem, OrderStatus};
pub use product::{Product, ProductId};
pub use timestamp::{InvalidTimestamp, Timestamp};
