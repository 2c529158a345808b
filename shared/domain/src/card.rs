//! Payment cards, and the rules the OpenTelemetry demo's payment service
//! charges by: the number passes the Luhn check, the card is a Visa or a
//! Mastercard, and it has not expired. Checkout only checks a card's *shape*
//! (digits, a real month); whether it can be charged is payment's decision,
//! made by `charge_decision` when the saga reaches it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A card number: 12 to 19 digits (spaces and dashes between groups are
/// dropped). `Debug` shows only the last four digits, so a number never
/// reaches a log by accident.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CardNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a card number is 12 to 19 digits")]
pub struct InvalidCardNumber;

impl CardNumber {
    pub fn parse(text: &str) -> Result<Self, InvalidCardNumber> {
        let digits: String = text.chars().filter(|c| *c != ' ' && *c != '-').collect();
        if (12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(InvalidCardNumber)
        }
    }

    /// The Luhn checksum: every second digit from the right doubled.
    pub fn passes_luhn(&self) -> bool {
        let sum: u32 = self
            .0
            .bytes()
            .rev()
            .enumerate()
            .map(|(position, byte)| {
                let digit = u32::from(byte - b'0');
                if position % 2 == 1 {
                    let doubled = digit * 2;
                    if doubled > 9 { doubled - 9 } else { doubled }
                } else {
                    digit
                }
            })
            .sum();
        sum.is_multiple_of(10)
    }

    /// The network, from the number's leading digits.
    pub fn card_type(&self) -> CardType {
        let prefix = |len: usize| self.0[..len].parse::<u32>().unwrap_or(0);
        match () {
            _ if self.0.starts_with('4') => CardType::Visa,
            _ if (51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)) => CardType::Mastercard,
            _ if matches!(prefix(2), 34 | 37) => CardType::Amex,
            _ => CardType::Other,
        }
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }

    /// What may be kept and shown of this card.
    pub fn summary(&self) -> CardSummary {
        CardSummary {
            card_type: self.card_type(),
            last4: self.last4().to_owned(),
        }
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber(…{})", self.last4())
    }
}

impl TryFrom<String> for CardNumber {
    type Error = InvalidCardNumber;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<CardNumber> for String {
    fn from(number: CardNumber) -> Self {
        number.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CardType {
    Visa,
    Mastercard,
    Amex,
    Other,
}

impl fmt::Display for CardType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Visa => "Visa",
            Self::Mastercard => "Mastercard",
            Self::Amex => "American Express",
            Self::Other => "unknown card",
        })
    }
}

/// The part of a card that is stored and shown: its network and last four digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardSummary {
    pub card_type: CardType,
    pub last4: String,
}

/// The month a card expires (it is good through the end of that month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawExpiry")]
pub struct Expiry {
    month: u8,
    year: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidExpiry {
    #[error("the expiration month must be 1 to 12, got {0}")]
    Month(i64),
    #[error("the expiration year must be 2000 to 2099, got {0}")]
    Year(i64),
}

impl Expiry {
    pub fn new(month: i64, year: i64) -> Result<Self, InvalidExpiry> {
        let month = u8::try_from(month)
            .ok()
            .filter(|m| (1..=12).contains(m))
            .ok_or(InvalidExpiry::Month(month))?;
        let year = u16::try_from(year)
            .ok()
            .filter(|y| (2000..=2099).contains(y))
            .ok_or(InvalidExpiry::Year(year))?;
        Ok(Self { month, year })
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn year(self) -> u16 {
        self.year
    }

    /// Whether the card can no longer be used on `today`.
    pub fn has_passed(self, today: time::Date) -> bool {
        let today = (today.year(), u8::from(today.month()));
        (i32::from(self.year), self.month) < today
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawExpiry {
    month: i64,
    year: i64,
}

impl TryFrom<RawExpiry> for Expiry {
    type Error = InvalidExpiry;

    fn try_from(raw: RawExpiry) -> Result<Self, Self::Error> {
        Self::new(raw.month, raw.year)
    }
}

/// What checkout seals for payment: everything needed to charge, nothing
/// else (the CVV is checked for shape at the edge and never kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardDetails {
    pub number: CardNumber,
    pub expiry: Expiry,
}

/// Why a card is not charged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Decline {
    #[error("the card number is not valid")]
    InvalidNumber,
    #[error("{0} cards are not accepted; only Visa and Mastercard")]
    UnacceptedType(CardType),
    #[error("the card expired in {month:02}/{year}")]
    Expired { month: u8, year: u16 },
}

/// The demo's charging rules, in the demo's order.
pub fn charge_decision(card: &CardDetails, today: time::Date) -> Result<(), Decline> {
    if !card.number.passes_luhn() {
        return Err(Decline::InvalidNumber);
    }
    match card.number.card_type() {
        CardType::Visa | CardType::Mastercard => {}
        other => return Err(Decline::UnacceptedType(other)),
    }
    if card.expiry.has_passed(today) {
        return Err(Decline::Expired {
            month: card.expiry.month,
            year: card.expiry.year,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn card(number: &str, month: i64, year: i64) -> CardDetails {
        CardDetails {
            number: CardNumber::parse(number).unwrap(),
            expiry: Expiry::new(month, year).unwrap(),
        }
    }

    const TODAY: time::Date = date!(2026 - 11 - 21);

    #[test]
    fn numbers_are_twelve_to_nineteen_digits_with_optional_separators() {
        assert_eq!(
            String::from(CardNumber::parse("4432-8015 6152-0454").unwrap()),
            "4432801561520454"
        );
        for bad in [
            "",
            "4432",
            "4432a01561520454",
            "44328015615204541234",
            "+4432801561520454",
        ] {
            assert_eq!(CardNumber::parse(bad), Err(InvalidCardNumber), "{bad}");
        }
    }

    #[test]
    fn the_luhn_check_accepts_real_numbers_and_rejects_a_changed_digit() {
        for good in [
            "4432801561520454",
            "4111111111111111",
            "5555555555554444",
            "378282246310005",
        ] {
            assert!(CardNumber::parse(good).unwrap().passes_luhn(), "{good}");
        }
        for bad in ["4432801561520455", "4111111111111112", "5555555555554440"] {
            assert!(!CardNumber::parse(bad).unwrap().passes_luhn(), "{bad}");
        }
    }

    #[test]
    fn the_network_comes_from_the_leading_digits() {
        let kind = |n: &str| CardNumber::parse(n).unwrap().card_type();
        assert_eq!(kind("4111111111111111"), CardType::Visa);
        assert_eq!(kind("5555555555554444"), CardType::Mastercard);
        assert_eq!(kind("2221000000000009"), CardType::Mastercard);
        assert_eq!(kind("378282246310005"), CardType::Amex);
        assert_eq!(kind("6011111111111117"), CardType::Other);
    }

    #[test]
    fn debug_output_hides_all_but_the_last_four_digits() {
        let number = CardNumber::parse("4432801561520454").unwrap();
        assert_eq!(format!("{number:?}"), "CardNumber(…0454)");
        assert_eq!(
            number.summary(),
            CardSummary {
                card_type: CardType::Visa,
                last4: "0454".into()
            }
        );
    }

    #[test]
    fn a_card_is_good_through_the_end_of_its_month() {
        assert!(!Expiry::new(11, 2026).unwrap().has_passed(TODAY));
        assert!(Expiry::new(10, 2026).unwrap().has_passed(TODAY));
        assert!(Expiry::new(12, 2025).unwrap().has_passed(TODAY));
        assert!(!Expiry::new(1, 2027).unwrap().has_passed(TODAY));
        assert_eq!(Expiry::new(13, 2030), Err(InvalidExpiry::Month(13)));
        assert_eq!(Expiry::new(0, 2030), Err(InvalidExpiry::Month(0)));
        assert_eq!(Expiry::new(1, 1999), Err(InvalidExpiry::Year(1999)));
        assert_eq!(Expiry::new(1, 30), Err(InvalidExpiry::Year(30)));
    }

    #[test]
    fn charging_follows_the_demo_rules_in_order() {
        assert_eq!(charge_decision(&card("4432801561520454", 1, 2030), TODAY), Ok(()));
        assert_eq!(
            charge_decision(&card("5555555555554444", 11, 2026), TODAY),
            Ok(())
        );
        assert_eq!(
            charge_decision(&card("4432801561520455", 1, 2030), TODAY),
            Err(Decline::InvalidNumber)
        );
        assert_eq!(
            charge_decision(&card("378282246310005", 1, 2030), TODAY),
            Err(Decline::UnacceptedType(CardType::Amex))
        );
        assert_eq!(
            charge_decision(&card("4432801561520454", 1, 2020), TODAY),
            Err(Decline::Expired { month: 1, year: 2020 })
        );
    }
}
