//! Accounting service: the shop's takings, per currency per day. Each
//! confirmed order is added to the total of its currency on the day it was
//! placed (UTC), exactly once however often the event is delivered: the
//! order's marker and the addition are written in one transaction, and the
//! marker's condition turns a duplicate into a no-op.

mod store;

use astroshop_domain::events::OrderConfirmed;
use astroshop_domain::{CurrencyCode, Order, OrderId};
use astroshop_saga::{Delivery, StepError};
use time::Date;

pub use store::{Counted, Ledger, LedgerTable};

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

    /// The key of the daily total this entry joins: `<currency>#<YYYY-MM-DD>`.
    pub fn total_key(&self) -> String {
        format!("{}#{}", self.currency, self.day)
    }
}

/// Adds a confirmed order to its currency's daily total, once.
pub async fn count_confirmed_order(ledger: &impl Ledger, delivery: Delivery) -> Result<(), StepError> {
    let confirmed: OrderConfirmed = delivery.expect()?;
    let entry = LedgerEntry::of(&confirmed.order);
    match ledger.count(&entry).await? {
        Counted::Added => tracing::info!(
            total = entry.total_key(),
            amount_nanos = %entry.amount_nanos,
            "order added to the ledger"
        ),
        Counted::AlreadyCounted => tracing::info!("order already in the ledger; nothing added"),
    }
    Ok(())
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
        assert_eq!(entry.total_key(), "EUR#2026-11-21");
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
