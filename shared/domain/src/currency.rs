//! Currencies and exchange rates. Rates are exact decimals (as the reference
//! file and DynamoDB number attributes write them), and conversion is done in
//! integer nanos with round-half-to-even, so a price converts to the same nano
//! on every call and every machine.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::money::{Money, MoneyError};

/// An ISO 4217 code: three upper-case ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CurrencyCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a currency code (three letters, like USD)")]
pub struct InvalidCurrencyCode(pub String);

impl CurrencyCode {
    pub fn parse(code: &str) -> Result<Self, InvalidCurrencyCode> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(InvalidCurrencyCode(code.to_owned()))
        }
    }

    pub fn usd() -> Self {
        Self("USD".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CurrencyCode {
    type Error = InvalidCurrencyCode;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::parse(&code)
    }
}

impl From<CurrencyCode> for String {
    fn from(code: CurrencyCode) -> Self {
        code.0
    }
}

/// A positive exact decimal: `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    mantissa: u64,
    scale: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a positive decimal rate")]
pub struct InvalidRate(pub String);

impl Rate {
    /// At most 18 significant digits, which keeps conversion inside i128.
    const MAX_SCALE: u32 = 18;

    /// Parses a plain decimal such as `1.1305` or `126.4`.
    pub fn parse(text: &str) -> Result<Self, InvalidRate> {
        let invalid = || InvalidRate(text.to_owned());
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) {
            return Err(invalid());
        }
        let fraction = fraction.trim_end_matches('0');
        let scale = fraction.len() as u32;
        if scale > Self::MAX_SCALE {
            return Err(invalid());
        }
        let mantissa: u64 = format!("{whole}{fraction}").parse().map_err(|_| invalid())?;
        if mantissa == 0 {
            return Err(invalid());
        }
        Ok(Self { mantissa, scale })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = format!("{:0>width$}", self.mantissa, width = self.scale as usize + 1);
        let (whole, fraction) = digits.split_at(digits.len() - self.scale as usize);
        if fraction.is_empty() {
            f.write_str(whole)
        } else {
            write!(f, "{whole}.{fraction}")
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    #[error("unsupported currency {0}")]
    UnsupportedCurrency(CurrencyCode),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Rates against one base currency (the reference data uses EUR = 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateTable {
    rates: BTreeMap<CurrencyCode, Rate>,
}

impl RateTable {
    pub fn new(rates: BTreeMap<CurrencyCode, Rate>) -> Self {
        Self { rates }
    }

    /// The supported codes, in alphabetical order.
    pub fn codes(&self) -> impl Iterator<Item = &CurrencyCode> {
        self.rates.keys()
    }

    pub fn rates(&self) -> impl Iterator<Item = (&CurrencyCode, &Rate)> {
        self.rates.iter()
    }

    pub fn supports(&self, code: &CurrencyCode) -> bool {
        self.rates.contains_key(code)
    }

    fn rate(&self, code: &CurrencyCode) -> Result<Rate, ConversionError> {
        self.rates
            .get(code)
            .copied()
            .ok_or_else(|| ConversionError::UnsupportedCurrency(code.clone()))
    }

    /// Converts through the base currency in one exact step:
    /// `amount × to / from`, rounded to the nearest nano, ties to even.
    pub fn convert(&self, amount: &Money, to: &CurrencyCode) -> Result<Money, ConversionError> {
        let from = self.rate(amount.currency_code())?;
        let target = self.rate(to)?;
        if amount.currency_code() == to {
            return Ok(amount.clone());
        }
        let overflow = || ConversionError::Money(MoneyError::Overflow);
        // amount × (target.m / 10^target.s) / (from.m / 10^from.s)
        let numerator = amount
            .total_nanos()
            .checked_mul(i128::from(target.mantissa))
            .and_then(|n| n.checked_mul(10i128.pow(from.scale)))
            .ok_or_else(overflow)?;
        let denominator = i128::from(from.mantissa)
            .checked_mul(10i128.pow(target.scale))
            .ok_or_else(overflow)?;
        let nanos = divide_rounding_half_even(numerator, denominator);
        Ok(Money::from_total_nanos(to.clone(), nanos)?)
    }
}

/// `numerator / denominator` (denominator > 0) rounded to the nearest integer,
/// ties to even.
fn divide_rounding_half_even(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator.div_euclid(denominator);
    let remainder = numerator.rem_euclid(denominator);
    let twice = remainder * 2;
    if twice > denominator || (twice == denominator && quotient % 2 != 0) {
        quotient + 1
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(c: &str) -> CurrencyCode {
        CurrencyCode::parse(c).unwrap()
    }

    fn table() -> RateTable {
        let rates = [
            ("EUR", "1.0"),
            ("USD", "1.1305"),
            ("JPY", "126.4"),
            ("IDR", "15999.4"),
        ]
        .into_iter()
        .map(|(c, r)| (code(c), Rate::parse(r).unwrap()))
        .collect();
        RateTable::new(rates)
    }

    fn money(c: &str, units: i64, nanos: i64) -> Money {
        Money::new(code(c), units, nanos).unwrap()
    }

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert!(CurrencyCode::parse("EUR").is_ok());
        for bad in ["eur", "EU", "EURO", "", "E1R", "ÉUR", "XXX "] {
            assert!(CurrencyCode::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn rates_parse_exactly_and_print_back() {
        assert_eq!(Rate::parse("1.1305").unwrap().to_string(), "1.1305");
        assert_eq!(Rate::parse("126.40").unwrap().to_string(), "126.4");
        assert_eq!(Rate::parse("1.0").unwrap().to_string(), "1");
        assert_eq!(Rate::parse("0.8597").unwrap().to_string(), "0.8597");
        for bad in [
            "0",
            "0.0",
            "-1",
            "1e3",
            "",
            ".5",
            "1.2.3",
            "abc",
            "1.0000000000000000001",
        ] {
            assert!(Rate::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn usd_to_eur_rounds_to_the_nearest_nano() {
        // 101.96 / 1.1305 = 90.19018133569217...
        let eur = table()
            .convert(&money("USD", 101, 960_000_000), &code("EUR"))
            .unwrap();
        assert_eq!((eur.units(), eur.nanos()), (90, 190_181_336));
    }

    #[test]
    fn usd_to_jpy_goes_through_the_base_in_one_exact_step() {
        // 8.99 × 126.4 / 1.1305 = 1005.16231755860238...
        let jpy = table()
            .convert(&money("USD", 8, 990_000_000), &code("JPY"))
            .unwrap();
        assert_eq!((jpy.units(), jpy.nanos()), (1005, 162_317_559));
    }

    #[test]
    fn ties_round_to_even() {
        let rates = [("EUR", "1"), ("AAA", "2")]
            .into_iter()
            .map(|(c, r)| (code(c), Rate::parse(r).unwrap()))
            .collect();
        let table = RateTable::new(rates);
        // 3 nanos AAA = 1.5 nanos EUR -> 2; 5 nanos AAA = 2.5 -> 2; negative mirrors.
        let convert = |nanos| {
            table
                .convert(&money("AAA", 0, nanos), &code("EUR"))
                .unwrap()
                .nanos()
        };
        assert_eq!(convert(3), 2);
        assert_eq!(convert(5), 2);
        assert_eq!(convert(7), 4);
        assert_eq!(convert(-3), -2);
        assert_eq!(convert(-5), -2);
    }

    #[test]
    fn converting_to_the_same_currency_is_the_identity() {
        let amount = money("USD", 5, 1);
        assert_eq!(table().convert(&amount, &code("USD")).unwrap(), amount);
    }

    #[test]
    fn unknown_currencies_are_reported() {
        assert_eq!(
            table().convert(&money("USD", 1, 0), &code("XXX")),
            Err(ConversionError::UnsupportedCurrency(code("XXX")))
        );
        assert_eq!(
            table().convert(&money("XXX", 1, 0), &code("USD")),
            Err(ConversionError::UnsupportedCurrency(code("XXX")))
        );
    }

    #[test]
    fn a_result_too_large_for_money_is_an_overflow() {
        let huge = money("EUR", i64::MAX, 999_999_999);
        assert_eq!(
            table().convert(&huge, &code("IDR")),
            Err(ConversionError::Money(MoneyError::Overflow))
        );
    }
}
