//! Accounting service: the shop's takings, per currency per day. Each
//! confirmed order is added to the total of its currency on the day it was
//! placed (UTC), exactly once however often the event is delivered: the
//! order's marker and the addition are written in one transaction, and the
//! marker's condition turns a duplicate into a no-op.
//!
//! A day's total is kept in [`SHARDS`] items, each order adding to the one
//! its id picks, and read as their sum: were every order of a currency and
//! day to write the same item, concurrent transactions on that hot item
//! would cancel each other (`TransactionConflict`). A transaction cancelled
//! so is tried again after a random pause; a conflict that outlasts
//! [`CONFLICTS`] is an error, and the queue delivers the message again.

mod store;

use std::time::Duration;

use astroshop_domain::events::OrderConfirmed;
use astroshop_domain::{CurrencyCode, Order, OrderId};
use astroshop_saga::{Delivery, StepError};
use astroshop_store::Backoff;
use time::Date;

pub use store::{Counted, Ledger, LedgerError, LedgerTable};

/// How many items a day's total is split over: one per hex digit, the last
/// of the order id picking (random in the v4 UUIDs checkout gives orders).
/// Concurrent orders of one day meet on one item a sixteenth as often.
pub const SHARDS: u32 = 16;

/// Pauses before counting again an order whose transaction another one on
/// the same total item cancelled. Such a conflict clears in milliseconds:
/// 25 ms doubling to 400 ms, five retries, at most 775 ms for a message,
/// well inside the function's 10 s with a batch's messages counted side by
/// side. A conflict still there is an error: the queue delivers the message
/// again, and its marker makes that a no-op if it was counted after all.
pub const CONFLICTS: Backoff = Backoff::new(
    Duration::from_millis(25),
    Duration::from_millis(400),
    Duration::from_millis(800),
);

/// What one order adds to the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub order_id: OrderId,
    pub currency: CurrencyCode,
    /// The day (UTC) the order was placed, whose total it joins.
    pub day: Date,
    /// The order's total in billionths of its currency's unit: exact, and
    /// summed by DynamoDB's `ADD` on an exact decimal number.
    pub amount_nanos: i128,
}

impl LedgerEntry {
    pub fn of(order: &Order) -> Self {
        Self {
            order_id: order.order_id.clone(),
            currency: order.total.currency_code().clone(),
            day: order.placed_at.time().date(),
            amount_nanos: order.total.total_nanos(),
        }
    }

    /// The key of the item of the daily total this entry joins:
    /// `<currency>#<YYYY-MM-DD>#<shard>`, the shard the order id's last hex
    /// digit.
    pub fn total_key(&self) -> String {
        // An order id is a UUID, so its last character is a hex digit.
        let shard = self
            .order_id
            .as_str()
            .chars()
            .last()
            .and_then(|digit| digit.to_digit(16));
        shard_key(&self.currency, self.day, shard.unwrap_or(0))
    }
}

/// A currency's takings on one day: the sum of its shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DailyTotal {
    pub total_nanos: i128,
    pub orders: u64,
}

impl DailyTotal {
    /// The keys of the items a currency's total on `day` is the sum of.
    pub fn keys(currency: &CurrencyCode, day: Date) -> impl Iterator<Item = String> {
        (0..SHARDS).map(move |shard| shard_key(currency, day, shard))
    }
}

fn shard_key(currency: &CurrencyCode, day: Date, shard: u32) -> String {
    format!("{currency}#{day}#{shard:x}")
}

/// Adds a confirmed order to its currency's daily total, once.
pub async fn count_confirmed_order(ledger: &impl Ledger, delivery: Delivery) -> Result<(), StepError> {
    let confirmed: OrderConfirmed = delivery.expect()?;
    let entry = LedgerEntry::of(&confirmed.order);
    match count_through_conflicts(ledger, &entry)
        .await
        .map_err(StepError::other)?
    {
        Counted::Added => tracing::info!(
            total = entry.total_key(),
            amount_nanos = %entry.amount_nanos,
            "order added to the ledger"
        ),
        Counted::AlreadyCounted => tracing::info!("order already in the ledger; nothing added"),
    }
    Ok(())
}

/// Counts the entry, trying again while concurrent transactions on its
/// total item cancel the count and [`CONFLICTS`] leaves room for a pause.
async fn count_through_conflicts(ledger: &impl Ledger, entry: &LedgerEntry) -> Result<Counted, LedgerError> {
    let mut retries = CONFLICTS.retries();
    loop {
        let conflict = match ledger.count(entry).await {
            Err(LedgerError::Conflict(conflict)) => conflict,
            outcome => return outcome,
        };
        tracing::info!(
            total = entry.total_key(),
            "a concurrent transaction on the same total cancelled the count"
        );
        if !retries.pause().await {
            return Err(LedgerError::Conflict(conflict));
        }
    }
}

#[cfg(test)]
mod tests {
    use astroshop_domain::{Money, Timestamp};
    use local_stack_testing::larrys_order;
    use time::macros::date;

    use super::*;

    /// Larry's order, with this total, placed at this time.
    fn order(total: Money, placed_at: &str) -> Order {
        Order {
            currency_code: total.currency_code().clone(),
            items: vec![],
            shipping_cost: Money::zero(total.currency_code().clone()),
            total,
            placed_at: Timestamp::parse(placed_at).unwrap(),
            ..larrys_order()
        }
    }

    fn eur(units: i64, nanos: i64) -> Money {
        Money::new(CurrencyCode::parse("EUR").unwrap(), units, nanos).unwrap()
    }

    #[test]
    fn an_order_counts_its_exact_total_on_its_day() {
        let entry = LedgerEntry::of(&order(eur(580, 840_000_001), "2026-11-21T10:00:00Z"));
        assert_eq!(entry.amount_nanos, 580_840_000_001);
        assert_eq!(entry.day, date!(2026 - 11 - 21));
        // Larry's order id ends in 1.
        assert_eq!(entry.total_key(), "EUR#2026-11-21#1");
    }

    #[test]
    fn the_orders_of_a_day_are_spread_over_sixteen_shards_by_the_last_digit_of_their_id() {
        let mut order = order(eur(1, 0), "2026-11-21T10:00:00Z");
        let mut keys = Vec::new();
        for digit in "0123456789abcdef".chars() {
            order.order_id = OrderId::parse(&format!("3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a1{digit}")).unwrap();
            keys.push(LedgerEntry::of(&order).total_key());
        }
        let read: Vec<String> = DailyTotal::keys(&order.currency_code, date!(2026 - 11 - 21)).collect();
        assert_eq!(keys, read);
        assert_eq!(read.len(), 16);
        assert_eq!(read[10], "EUR#2026-11-21#a");
    }

    #[test]
    fn conflicts_hold_a_message_up_at_most_775_ms_over_five_retries() {
        assert_eq!(CONFLICTS.worst_case(), Duration::from_millis(775));
        assert_eq!(CONFLICTS.retries().count(), 5);
    }

    #[test]
    fn the_day_is_the_utc_date_whatever_offset_the_time_was_written_with() {
        let late_evening_in_new_york = order(eur(1, 0), "2026-11-21T21:30:00-05:00");
        assert_eq!(
            LedgerEntry::of(&late_evening_in_new_york).day,
            date!(2026 - 11 - 22)
        );
    }
}
