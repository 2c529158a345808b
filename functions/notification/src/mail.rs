//! The two e-mails a shopper gets, written from the order the event carries:
//! a confirmation (what was bought, what it cost, where it goes, how to track
//! it) or a failure (why, and that nothing stays charged), each with the
//! order's link, which opens its page without an account. Plain text, so
//! every mail client shows it the same way.

use std::fmt::Write;

use astroshop_domain::{MoneyError, Order};
use serde::{Deserialize, Serialize};

/// Which of the two e-mails; an order gets at most one of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Confirmation,
    Failure,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation",
            Self::Failure => "failure",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "confirmation" => Some(Self::Confirmation),
            "failure" => Some(Self::Failure),
            _ => None,
        }
    }
}

/// One e-mail's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub body: String,
}

/// `link` is the order's page, key included.
pub fn confirmation(order: &Order, tracking_id: &str, link: &str) -> Result<Mail, MoneyError> {
    let mut body = format!(
        "Thank you for your order!\n\n\
         Order {id}, placed {placed}:\n\n",
        id = order.order_id,
        placed = order.placed_at
    );
    write_lines(&mut body, order)?;
    let address = &order.shipping_address;
    let _ = write!(
        body,
        "\nIt ships to:\n  {street}\n  {city}, {state} {zip}\n  {country}\n\n\
         Tracking id: {tracking_id}\n\
         Follow your order at {link}\n",
        street = address.street_address,
        city = address.city,
        state = address.state,
        zip = address.zip_code,
        country = address.country,
    );
    Ok(Mail {
        subject: format!("Your astroshop order {} is confirmed", order.order_id),
        body,
    })
}

pub fn failure(order: &Order, reason: &str, link: &str) -> Result<Mail, MoneyError> {
    let mut body = format!(
        "We are sorry: your order {id}, placed {placed}, could not be completed.\n\n\
         Why: {reason}\n\n\
         What you ordered:\n\n",
        id = order.order_id,
        placed = order.placed_at
    );
    write_lines(&mut body, order)?;
    let _ = write!(
        body,
        "\nYou owe nothing for this order: nothing was charged to your {card} ending in {last4}, \
         or any charge made is refunded. Nothing will be shipped.\n\n\
         The order's page: {link}\n",
        card = order.card.card_type,
        last4 = order.card.last4,
    );
    Ok(Mail {
        subject: format!("Your astroshop order {} could not be completed", order.order_id),
        body,
    })
}

/// Each line with its quantity, unit price and line total, then shipping
/// and the total.
fn write_lines(body: &mut String, order: &Order) -> Result<(), MoneyError> {
    for line in &order.items {
        let quantity = line.item.quantity.get();
        let _ = writeln!(
            body,
            "  {quantity} x {product} at {price} = {total}",
            product = line.item.product_id,
            price = line.cost,
            total = line.cost.checked_mul(quantity)?,
        );
    }
    let _ = write!(
        body,
        "\n  Shipping: {}\n  Total: {}\n",
        order.shipping_cost, order.total
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use local_stack_testing::larrys_order as order;

    use super::*;

    const LINK: &str = "https://shop.example/orders/3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11?key=k";

    #[test]
    fn a_confirmation_lists_every_line_shipping_total_address_and_tracking_id() {
        let mail = confirmation(&order(), "5f0c2a8e-7d41-4b9a-a3e6-1c8b7d2f9e04", LINK).unwrap();
        assert_eq!(
            mail.subject,
            "Your astroshop order 3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11 is confirmed"
        );
        assert_eq!(
            mail.body,
            "Thank you for your order!\n\n\
             Order 3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11, placed 2026-11-21T10:00:00Z:\n\n  \
             2 x OLJCESPC7Z at 101.96 USD = 203.92 USD\n  \
             1 x 66VCHSJNUP at 349.95 USD = 349.95 USD\n\n  \
             Shipping: 26.97 USD\n  \
             Total: 580.84 USD\n\n\
             It ships to:\n  \
             1600 Amphitheatre Parkway\n  \
             Mountain View, CA 94043\n  \
             United States\n\n\
             Tracking id: 5f0c2a8e-7d41-4b9a-a3e6-1c8b7d2f9e04\n\
             Follow your order at https://shop.example/orders/3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11?key=k\n"
        );
    }

    #[test]
    fn a_failure_says_why_what_was_ordered_and_that_nothing_stays_charged() {
        let mail = failure(&order(), "the card expired in 01/2020", LINK).unwrap();
        assert_eq!(
            mail.subject,
            "Your astroshop order 3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11 could not be completed"
        );
        assert!(
            mail.body.contains("Why: the card expired in 01/2020\n"),
            "{}",
            mail.body
        );
        assert!(mail.body.contains("2 x OLJCESPC7Z at 101.96 USD = 203.92 USD"));
        assert!(mail.body.contains("Total: 580.84 USD"));
        assert!(
            mail.body
                .contains("nothing was charged to your Visa ending in 0454, or any charge made is refunded"),
            "{}",
            mail.body
        );
        assert!(!mail.body.contains("Tracking id"));
        assert!(
            mail.body.ends_with(&format!("The order's page: {LINK}\n")),
            "{}",
            mail.body
        );
    }

    #[test]
    fn kinds_read_and_print_as_stored() {
        for kind in [Kind::Confirmation, Kind::Failure] {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("receipt"), None);
    }
}
