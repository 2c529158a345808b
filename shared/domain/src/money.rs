//! Money as the OpenTelemetry demo speaks it: a currency code, whole `units`
//! and `nanos` (billionths of a unit). Arithmetic is exact and checked: a sum
//! that does not fit is an error, never a wrapped or rounded number.

use serde::{Deserialize, Serialize};

use crate::CurrencyCode;

pub const NANOS_PER_UNIT: i128 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawMoney")]
pub struct Money {
    currency_code: CurrencyCode,
    units: i64,
    nanos: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("nanos must be between -999999999 and 999999999, got {0}")]
    NanosOutOfRange(i64),
    #[error("units and nanos must have the same sign (units {units}, nanos {nanos})")]
    SignMismatch { units: i64, nanos: i64 },
    #[error("the amount does not fit in a money value")]
    Overflow,
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(CurrencyCode, CurrencyCode),
}

impl Money {
    /// Builds a money value, checking the demo's invariants: `nanos` within a
    /// unit and of the same sign as `units`.
    pub fn new(currency_code: CurrencyCode, units: i64, nanos: i64) -> Result<Self, MoneyError> {
        if !(-999_999_999..=999_999_999).contains(&nanos) {
            return Err(MoneyError::NanosOutOfRange(nanos));
        }
        if (units > 0 && nanos < 0) || (units < 0 && nanos > 0) {
            return Err(MoneyError::SignMismatch { units, nanos });
        }
        Ok(Self {
            currency_code,
            units,
            nanos: nanos as i32,
        })
    }

    /// Zero in the given currency.
    pub fn zero(currency_code: CurrencyCode) -> Self {
        Self {
            currency_code,
            units: 0,
            nanos: 0,
        }
    }

    /// Builds a money value from a total count of nanos.
    pub fn from_total_nanos(currency_code: CurrencyCode, total: i128) -> Result<Self, MoneyError> {
        let units = i64::try_from(total / NANOS_PER_UNIT).map_err(|_| MoneyError::Overflow)?;
        let nanos = (total % NANOS_PER_UNIT) as i32;
        Ok(Self {
            currency_code,
            units,
            nanos,
        })
    }

    pub fn currency_code(&self) -> &CurrencyCode {
        &self.currency_code
    }

    pub fn units(&self) -> i64 {
        self.units
    }

    pub fn nanos(&self) -> i32 {
        self.nanos
    }

    /// The whole amount in nanos; i128 holds any `Money` without loss.
    pub fn total_nanos(&self) -> i128 {
        i128::from(self.units) * NANOS_PER_UNIT + i128::from(self.nanos)
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        if self.currency_code != other.currency_code {
            return Err(MoneyError::CurrencyMismatch(
                self.currency_code.clone(),
                other.currency_code.clone(),
            ));
        }
        Money::from_total_nanos(
            self.currency_code.clone(),
            self.total_nanos() + other.total_nanos(),
        )
    }

    /// The price of `quantity` items at this unit price.
    pub fn checked_mul(&self, quantity: u32) -> Result<Money, MoneyError> {
        let total = self
            .total_nanos()
            .checked_mul(i128::from(quantity))
            .ok_or(MoneyError::Overflow)?;
        Money::from_total_nanos(self.currency_code.clone(), total)
    }
}

impl std::fmt::Display for Money {
    /// `12.50 USD`: two decimals when the nanos allow it, all nine otherwise.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = self.total_nanos();
        let sign = if total < 0 { "-" } else { "" };
        let units = (total / NANOS_PER_UNIT).unsigned_abs();
        let nanos = (total % NANOS_PER_UNIT).unsigned_abs();
        if nanos.is_multiple_of(10_000_000) {
            write!(
                f,
                "{sign}{units}.{:02} {}",
                nanos / 10_000_000,
                self.currency_code
            )
        } else {
            write!(f, "{sign}{units}.{nanos:09} {}", self.currency_code)
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMoney {
    currency_code: CurrencyCode,
    #[serde(default)]
    units: i64,
    #[serde(default)]
    nanos: i64,
}

impl TryFrom<RawMoney> for Money {
    type Error = MoneyError;

    fn try_from(raw: RawMoney) -> Result<Self, Self::Error> {
        Money::new(raw.currency_code, raw.units, raw.nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(units: i64, nanos: i64) -> Money {
        Money::new(CurrencyCode::parse("USD").unwrap(), units, nanos).unwrap()
    }

    #[test]
    fn nanos_outside_one_unit_are_rejected() {
        let code = CurrencyCode::parse("USD").unwrap();
        assert_eq!(
            Money::new(code.clone(), 1, 1_000_000_000),
            Err(MoneyError::NanosOutOfRange(1_000_000_000))
        );
        assert_eq!(
            Money::new(code, 1, -1_000_000_000),
            Err(MoneyError::NanosOutOfRange(-1_000_000_000))
        );
    }

    #[test]
    fn units_and_nanos_of_opposite_signs_are_rejected() {
        let code = CurrencyCode::parse("USD").unwrap();
        assert!(matches!(
            Money::new(code.clone(), 1, -5),
            Err(MoneyError::SignMismatch { .. })
        ));
        assert!(matches!(
            Money::new(code.clone(), -1, 5),
            Err(MoneyError::SignMismatch { .. })
        ));
        assert!(Money::new(code.clone(), 0, -5).is_ok());
        assert!(Money::new(code, -3, -5).is_ok());
    }

    #[test]
    fn adding_carries_nanos_into_units() {
        let sum = usd(1, 600_000_000).checked_add(&usd(2, 500_000_000)).unwrap();
        assert_eq!((sum.units(), sum.nanos()), (4, 100_000_000));
    }

    #[test]
    fn adding_a_negative_amount_borrows_across_zero() {
        let sum = usd(1, 250_000_000).checked_add(&usd(-2, -500_000_000)).unwrap();
        assert_eq!((sum.units(), sum.nanos()), (-1, -250_000_000));
    }

    #[test]
    fn adding_different_currencies_is_an_error() {
        let eur = Money::new(CurrencyCode::parse("EUR").unwrap(), 1, 0).unwrap();
        assert!(matches!(
            usd(1, 0).checked_add(&eur),
            Err(MoneyError::CurrencyMismatch(..))
        ));
    }

    #[test]
    fn multiplying_by_a_quantity_is_exact() {
        let total = usd(8, 990_000_000).checked_mul(3).unwrap();
        assert_eq!((total.units(), total.nanos()), (26, 970_000_000));
    }

    #[test]
    fn overflowing_units_is_an_error_not_a_wrap() {
        assert_eq!(usd(i64::MAX, 0).checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(
            usd(i64::MAX, 999_999_999).checked_add(&usd(0, 1)),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn deserializing_checks_the_invariants() {
        let bad: Result<Money, _> = serde_json::from_str(r#"{"currencyCode":"USD","units":1,"nanos":-1}"#);
        assert!(bad.is_err());
        let bad_code: Result<Money, _> =
            serde_json::from_str(r#"{"currencyCode":"usd!","units":1,"nanos":0}"#);
        assert!(bad_code.is_err());
        let good: Money =
            serde_json::from_str(r#"{"currencyCode":"USD","units":101,"nanos":960000000}"#).unwrap();
        assert_eq!(good, usd(101, 960_000_000));
    }

    #[test]
    fn serializes_in_the_demo_shape() {
        let json = serde_json::to_value(usd(3, 50)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"currencyCode": "USD", "units": 3, "nanos": 50})
        );
    }

    #[test]
    fn displays_cents_or_full_nanos() {
        assert_eq!(usd(101, 960_000_000).to_string(), "101.96 USD");
        assert_eq!(usd(0, -5).to_string(), "-0.000000005 USD");
    }
}
