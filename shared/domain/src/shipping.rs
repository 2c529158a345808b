//! Shipping quotes: a flat 8.99 USD per item, as the demo's shipping service
//! charges, converted to the shopper's currency in one exact step. Checkout
//! prices an order's shipping with the same function the quote endpoint uses.

use serde::{Deserialize, Serialize};

use crate::cart::Quantity;
use crate::currency::{ConversionError, CurrencyCode, RateTable};
use crate::money::{Money, MoneyError};

/// Where an order goes, in the demo's JSON shape (`zipCode` is text, as
/// the demo's storefront sends it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub street_address: String,
    pub city: String,
    pub state: String,
    pub country: String,
    pub zip_code: String,
}

impl Address {
    /// Whether the address is in the United States, however its country is
    /// written ("US", "USA", "United States", "United States of America").
    pub fn is_in_the_us(&self) -> bool {
        let country = self.country.trim().trim_end_matches('.').to_ascii_lowercase();
        matches!(
            country.as_str(),
            "us" | "usa" | "u.s" | "u.s.a" | "united states" | "united states of america"
        )
    }
}

/// What shipping one item costs, in US dollars.
pub fn cost_per_item_usd() -> Money {
    Money::new(CurrencyCode::usd(), 8, 990_000_000).expect("8.99 is a valid amount")
}

/// The cost of shipping `items` (the quantity of each line), in `currency`.
/// The USD total is converted once, so the quote is the exact total rounded
/// at the nano, not a sum of rounded per-item prices.
pub fn quote(
    items: impl IntoIterator<Item = Quantity>,
    rates: &RateTable,
    currency: &CurrencyCode,
) -> Result<Money, ConversionError> {
    let count = items
        .into_iter()
        .try_fold(0u32, |total, quantity| total.checked_add(quantity.get()))
        .ok_or(MoneyError::Overflow)?;
    let usd = cost_per_item_usd().checked_mul(count)?;
    rates.convert(&usd, currency)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rate;

    fn code(c: &str) -> CurrencyCode {
        CurrencyCode::parse(c).unwrap()
    }

    fn rates() -> RateTable {
        let rates = [("EUR", "1.0"), ("USD", "1.1305"), ("JPY", "126.4")]
            .into_iter()
            .map(|(c, r)| (code(c), Rate::parse(r).unwrap()))
            .collect();
        RateTable::new(rates)
    }

    fn quantities(counts: &[i64]) -> Vec<Quantity> {
        counts.iter().map(|&c| Quantity::new(c).unwrap()).collect()
    }

    #[test]
    fn the_us_is_known_however_it_is_written() {
        let at = |country: &str| Address {
            street_address: "1600 Amphitheatre Parkway".into(),
            city: "Mountain View".into(),
            state: "CA".into(),
            country: country.into(),
            zip_code: "94043".into(),
        };
        for us in [
            "United States",
            "US",
            "usa",
            " U.S.A. ",
            "United States of America",
        ] {
            assert!(at(us).is_in_the_us(), "{us}");
        }
        for abroad in ["Canada", "DE", "", "United Kingdom", "USSR"] {
            assert!(!at(abroad).is_in_the_us(), "{abroad}");
        }
    }

    #[test]
    fn every_item_costs_8_99_usd() {
        let cost = quote(quantities(&[2, 3]), &rates(), &code("USD")).unwrap();
        assert_eq!((cost.units(), cost.nanos()), (44, 950_000_000));
    }

    #[test]
    fn nothing_to_ship_costs_nothing() {
        let cost = quote(Vec::new(), &rates(), &code("EUR")).unwrap();
        assert_eq!(cost, Money::zero(code("EUR")));
    }

    #[test]
    fn the_total_is_converted_once_and_rounded_at_the_nano() {
        // 5 × 8.99 = 44.95 USD; 44.95 / 1.1305 = 39.761167624944714... EUR.
        let cost = quote(quantities(&[5]), &rates(), &code("EUR")).unwrap();
        assert_eq!((cost.units(), cost.nanos()), (39, 761_167_625));
        // 3 × 8.99 = 26.97 USD × 126.4 / 1.1305 = 3015.486952675807... JPY.
        let cost = quote(quantities(&[1, 1, 1]), &rates(), &code("JPY")).unwrap();
        assert_eq!((cost.units(), cost.nanos()), (3015, 486_952_676));
    }

    #[test]
    fn an_unsupported_currency_is_an_error() {
        assert_eq!(
            quote(quantities(&[1]), &rates(), &code("XXX")),
            Err(ConversionError::UnsupportedCurrency(code("XXX")))
        );
    }
}
