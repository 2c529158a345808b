//! Prices as a shopper reads them: `$101.96`, `€90.19`, `¥11,424`, `CHF 12.50`.
//! Money is exact (units and nanos), so formatting is integer arithmetic: the
//! amount is rounded to the currency's minor unit, half to even as the shop
//! rounds conversions, and never passes through a float.

use astroshop_domain::money::NANOS_PER_UNIT;
use astroshop_domain::{CurrencyCode, Money};

/// How a currency is written: the sign before the amount, and how many
/// decimals its minor unit has (ISO 4217).
struct Style {
    symbol: &'static str,
    decimals: u32,
}

/// Symbols for the currencies whose sign a shopper recognises at a glance;
/// the others are written with their code, as `CHF 12.50`, which cannot be
/// mistaken for another currency.
fn style_of(code: &CurrencyCode) -> Style {
    let (symbol, decimals) = match code.as_str() {
        "USD" => ("$", 2),
        "EUR" => ("€", 2),
        "GBP" => ("£", 2),
        "JPY" => ("¥", 0),
        "CNY" => ("CN¥", 2),
        "KRW" => ("₩", 0),
        "INR" => ("₹", 2),
        "ILS" => ("₪", 2),
        "PHP" => ("₱", 2),
        "THB" => ("฿", 2),
        "TRY" => ("₺", 2),
        "RUB" => ("₽", 2),
        "AUD" => ("A$", 2),
        "CAD" => ("CA$", 2),
        "NZD" => ("NZ$", 2),
        "HKD" => ("HK$", 2),
        "SGD" => ("S$", 2),
        "MXN" => ("MX$", 2),
        "BRL" => ("R$", 2),
        "ISK" => ("", 0),
        _ => ("", 2),
    };
    Style { symbol, decimals }
}

/// The amount as a shopper reads it, rounded to the currency's minor unit.
pub fn format_money(money: &Money) -> String {
    let style = style_of(money.currency_code());
    let step = NANOS_PER_UNIT / 10_i128.pow(style.decimals);
    let minor = round_half_even(money.total_nanos(), step);
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    let scale = 10_u128.pow(style.decimals);
    let whole = group_thousands(minor / scale);
    let amount = if style.decimals == 0 {
        whole
    } else {
        format!(
            "{whole}.{:0width$}",
            minor % scale,
            width = style.decimals as usize
        )
    };
    if style.symbol.is_empty() {
        format!("{sign}{} {amount}", money.currency_code())
    } else {
        format!("{sign}{}{amount}", style.symbol)
    }
}

/// `value / step`, rounded to the nearest integer, ties to even.
fn round_half_even(value: i128, step: i128) -> i128 {
    let quotient = value.div_euclid(step);
    let remainder = value.rem_euclid(step);
    match (2 * remainder).cmp(&step) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal => quotient + quotient.rem_euclid(2),
    }
}

/// `1234567` as `1,234,567`.
fn group_thousands(value: u128) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(code: &str, units: i64, nanos: i64) -> Money {
        Money::new(CurrencyCode::parse(code).unwrap(), units, nanos).unwrap()
    }

    #[test]
    fn dollars_and_euros_show_their_sign_and_cents() {
        assert_eq!(format_money(&money("USD", 101, 960_000_000)), "$101.96");
        assert_eq!(format_money(&money("EUR", 90, 190_181_336)), "€90.19");
        assert_eq!(format_money(&money("GBP", 0, 0)), "£0.00");
    }

    #[test]
    fn cents_round_half_to_even() {
        assert_eq!(format_money(&money("USD", 1, 5_000_000)), "$1.00");
        assert_eq!(format_money(&money("USD", 1, 15_000_000)), "$1.02");
        assert_eq!(format_money(&money("USD", 1, 15_000_001)), "$1.02");
        assert_eq!(format_money(&money("USD", 1, 994_999_999)), "$1.99");
        assert_eq!(format_money(&money("USD", 1, 995_000_001)), "$2.00");
    }

    #[test]
    fn currencies_without_minor_units_show_whole_amounts() {
        assert_eq!(format_money(&money("JPY", 11_424, 500_000_000)), "¥11,424");
        assert_eq!(format_money(&money("JPY", 11_425, 500_000_000)), "¥11,426");
        assert_eq!(format_money(&money("KRW", 1_275_050, 0)), "₩1,275,050");
        assert_eq!(format_money(&money("ISK", 136, 800_000_000)), "ISK 137");
    }

    #[test]
    fn currencies_without_a_well_known_sign_show_their_code() {
        assert_eq!(format_money(&money("CHF", 12, 500_000_000)), "CHF 12.50");
        assert_eq!(format_money(&money("PLN", 4, 299_600_000)), "PLN 4.30");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(format_money(&money("USD", 3_599, 0)), "$3,599.00");
        assert_eq!(
            format_money(&money("IDR", 57_581_840, 60_000_000)),
            "IDR 57,581,840.06"
        );
        assert_eq!(format_money(&money("USD", 999, 0)), "$999.00");
        assert_eq!(format_money(&money("USD", 100_000, 0)), "$100,000.00");
    }

    #[test]
    fn negative_amounts_put_the_sign_first() {
        assert_eq!(format_money(&money("USD", -2, -500_000_000)), "-$2.50");
        assert_eq!(format_money(&money("CHF", 0, -10_000_000)), "-CHF 0.01");
    }

    #[test]
    fn every_supported_currency_has_a_readable_form() {
        let codes = [
            "EUR", "USD", "JPY", "BGN", "CZK", "DKK", "GBP", "HUF", "PLN", "RON", "SEK", "CHF", "ISK", "NOK",
            "HRK", "RUB", "TRY", "AUD", "BRL", "CAD", "CNY", "HKD", "IDR", "ILS", "INR", "KRW", "MXN", "MYR",
            "NZD", "PHP", "SGD", "THB", "ZAR",
        ];
        for code in codes {
            let text = format_money(&money(code, 1234, 560_000_000));
            assert!(text.contains("1,23"), "{code}: {text}");
            assert!(!text.contains("1234"), "{code} is not grouped: {text}");
        }
    }
}
