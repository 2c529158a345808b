//! The fraud rules: each adds points when an order shows a pattern that
//! card fraud and resale of stolen goods share in a small web shop, and an
//! order at [`FLAG_AT`] points or more is flagged. No rule alone flags an
//! ordinary large order; it takes an extreme value or two patterns at once.
//!
//! | rule | points | why |
//! |---|---|---|
//! | total at least [`VERY_LARGE_ORDER_USD`] | 60 | far beyond what a hobbyist spends at once |
//! | total at least [`LARGE_ORDER_USD`] | 40 | a stolen card is used for as much as it will take |
//! | one line of [`BULK_QUANTITY`] or more | 30 | a shopper wants one telescope; a reseller wants ten |
//! | [`MANY_UNITS`] units or more in all | 20 | volume for resale |
//! | a throwaway e-mail domain | 30 | no way to reach the buyer afterwards |
//!
//! Amounts are compared in US dollars (the caller converts the total with the
//! shop's rates), so a rule means the same in every currency.

use astroshop_domain::{Money, Order};

/// The score from which an order is flagged.
pub const FLAG_AT: u32 = 50;
/// The highest score; the points of several rules together stop there.
pub const MAX_SCORE: u32 = 100;

pub const LARGE_ORDER_USD: i64 = 1_000;
pub const VERY_LARGE_ORDER_USD: i64 = 5_000;
pub const BULK_QUANTITY: u32 = 10;
pub const MANY_UNITS: u32 = 25;

/// Domains of disposable mailboxes, which exist for minutes.
const THROWAWAY_DOMAINS: [&str; 6] = [
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
    "yopmail.com",
    "trashmail.com",
    "temp-mail.org",
];

/// An order's score and the rules that contributed to it, in the order of
/// the table above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub score: u32,
    pub reasons: Vec<String>,
}

impl Assessment {
    pub fn is_suspicious(&self) -> bool {
        self.score >= FLAG_AT
    }
}

/// Scores `order`, whose total is `total_usd` in US dollars.
pub fn assess(order: &Order, total_usd: &Money) -> Assessment {
    let mut score = 0;
    let mut reasons = Vec::new();
    let mut add = |points: u32, reason: String| {
        score += points;
        reasons.push(reason);
    };

    let total = if order.total.currency_code() == total_usd.currency_code() {
        order.total.to_string()
    } else {
        format!("{} ({total_usd})", order.total)
    };
    let whole_dollars = total_usd.units();
    if whole_dollars >= VERY_LARGE_ORDER_USD {
        add(
            60,
            format!("the total {total} is {VERY_LARGE_ORDER_USD} USD or more"),
        );
    } else if whole_dollars >= LARGE_ORDER_USD {
        add(40, format!("the total {total} is {LARGE_ORDER_USD} USD or more"));
    }

    if let Some(bulk) = order
        .items
        .iter()
        .map(|line| &line.item)
        .filter(|line| line.quantity.get() >= BULK_QUANTITY)
        .max_by_key(|line| line.quantity)
    {
        add(
            30,
            format!(
                "{} units of one product ({}), {BULK_QUANTITY} or more",
                bulk.quantity, bulk.product_id
            ),
        );
    }

    let units: u32 = order.items.iter().map(|line| line.item.quantity.get()).sum();
    if units >= MANY_UNITS {
        add(20, format!("{units} units in all, {MANY_UNITS} or more"));
    }

    let domain = order.email.domain();
    if THROWAWAY_DOMAINS.contains(&domain) {
        add(
            30,
            format!("the e-mail address is at {domain}, a throwaway mailbox"),
        );
    }

    Assessment {
        score: score.min(MAX_SCORE),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use astroshop_domain::{CartLine, CurrencyCode, EmailAddress, OrderItem, ProductId, Quantity};
    use local_stack_testing::larrys_order;

    use super::*;

    fn usd(units: i64) -> Money {
        Money::new(CurrencyCode::usd(), units, 0).unwrap()
    }

    /// Larry's order with these lines, no shipping, mailed to `email`.
    fn order(email: &str, lines: &[(&str, i64, i64)]) -> Order {
        let items = lines
            .iter()
            .map(|(product, quantity, price)| OrderItem {
                item: CartLine {
                    product_id: ProductId::parse(product).unwrap(),
                    quantity: Quantity::new(*quantity).unwrap(),
                },
                cost: usd(*price),
            })
            .collect::<Vec<_>>();
        Order {
            email: EmailAddress::parse(email).unwrap(),
            total: astroshop_domain::order::total_of(&items, &usd(0)).unwrap(),
            items,
            shipping_cost: usd(0),
            ..larrys_order()
        }
    }

    fn scored(order: &Order) -> Assessment {
        assess(order, &order.total)
    }

    #[test]
    fn an_everyday_order_scores_nothing() {
        let everyday = order(
            "larry@example.com",
            &[("OLJCESPC7Z", 2, 101), ("66VCHSJNUP", 1, 349)],
        );
        assert_eq!(
            scored(&everyday),
            Assessment {
                score: 0,
                reasons: vec![]
            }
        );
    }

    #[test]
    fn a_large_order_alone_is_noted_but_not_flagged() {
        let large = order("larry@example.com", &[("66VCHSJNUP", 3, 349)]);
        let assessment = scored(&large);
        assert_eq!(assessment.score, 40);
        assert!(!assessment.is_suspicious());
        assert_eq!(assessment.reasons, ["the total 1047.00 USD is 1000 USD or more"]);
    }

    #[test]
    fn a_very_large_order_is_flagged_on_its_own() {
        let huge = order("larry@example.com", &[("66VCHSJNUP", 9, 700)]);
        let assessment = scored(&huge);
        assert_eq!(assessment.score, 60);
        assert!(assessment.is_suspicious());
    }

    #[test]
    fn the_threshold_is_in_dollars_whatever_the_order_currency() {
        let yen = |units| Money::new(CurrencyCode::parse("JPY").unwrap(), units, 0).unwrap();
        let mut in_yen = order("larry@example.com", &[("66VCHSJNUP", 1, 0)]);
        in_yen.total = yen(1_200);
        let worth_9_50_usd = Money::new(CurrencyCode::usd(), 9, 500_000_000).unwrap();
        assert_eq!(assess(&in_yen, &worth_9_50_usd).score, 0);
        in_yen.total = yen(150_000);
        let assessment = assess(&in_yen, &usd(1_187));
        assert_eq!(
            assessment.reasons,
            ["the total 150000.00 JPY (1187.00 USD) is 1000 USD or more"]
        );
    }

    #[test]
    fn a_large_order_of_one_product_in_bulk_is_flagged_with_both_reasons() {
        let resale = order("larry@example.com", &[("OLJCESPC7Z", 12, 101)]);
        let assessment = scored(&resale);
        assert_eq!(assessment.score, 70);
        assert!(assessment.is_suspicious());
        assert_eq!(
            assessment.reasons,
            [
                "the total 1212.00 USD is 1000 USD or more",
                "12 units of one product (OLJCESPC7Z), 10 or more",
            ]
        );
    }

    #[test]
    fn a_throwaway_mailbox_with_bulk_buying_is_flagged() {
        let cheap_bulk = order(
            "x@Mailinator.com",
            &[("L9ECAV7KIM", 10, 5), ("2ZYFJ3GM2N", 20, 1)],
        );
        let assessment = scored(&cheap_bulk);
        assert_eq!(assessment.score, 80);
        assert_eq!(
            assessment.reasons,
            [
                "20 units of one product (2ZYFJ3GM2N), 10 or more",
                "30 units in all, 25 or more",
                "the e-mail address is at mailinator.com, a throwaway mailbox",
            ]
        );
    }

    #[test]
    fn the_score_stops_at_one_hundred() {
        let everything = order("x@yopmail.com", &[("66VCHSJNUP", 30, 700)]);
        let assessment = scored(&everything);
        assert_eq!(assessment.score, MAX_SCORE);
        assert_eq!(assessment.reasons.len(), 4);
    }
}
