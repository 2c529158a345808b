//! The checkout request, in the OpenTelemetry demo's shape, parsed into
//! domain types at the edge. Every field is checked before anything is read
//! or written, and a bad one is a 400 whose message names it
//! (`address.city`, `creditCard.creditCardCvv`). The card's *shape* is
//! checked here; whether it can be charged (Luhn, network, expiry) is
//! payment's decision, made when the saga reaches it.

use astroshop_domain::card::{CardDetails, CardNumber, Expiry};
use astroshop_domain::shipping::Address;
use astroshop_domain::{CurrencyCode, EmailAddress, UserId};
use astroshop_edge::ApiError;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A checkout request, valid in every field.
#[derive(Clone)]
pub struct CheckoutForm {
    pub user_id: UserId,
    pub email: EmailAddress,
    pub address: Address,
    pub user_currency: Option<CurrencyCode>,
    pub card: CardDetails,
    /// The body as JSON with its keys sorted, the card reduced to its type
    /// and last four digits and the CVV dropped, for the idempotency hash.
    canonical: String,
}

impl CheckoutForm {
    /// Parses a guest's request body: `userId` names the guest (any id but
    /// an account's).
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        Self::parse_for(body, None)
    }

    /// Parses a request body for `account`, the signed-in shopper, whose
    /// order it is whatever `userId` the body holds; for a guest when `None`.
    pub fn parse_for(body: &[u8], account: Option<UserId>) -> Result<Self, ApiError> {
        if body.is_empty() {
            return Err(ApiError::bad_request(
                "missing_body",
                "a JSON request body is required",
            ));
        }
        let value: Value = serde_json::from_slice(body).map_err(|error| {
            ApiError::bad_request(
                "invalid_body",
                format!("the request body is not valid JSON: {error}"),
            )
        })?;
        let form = Fields::root(&value)?;
        let user_id = match account {
            Some(account) => account,
            None => UserId::guest(form.text("userId")?).map_err(|e| invalid("userId", &e.to_string()))?,
        };
        let email = EmailAddress::parse(form.text("email")?.trim())
            .map_err(|_| invalid("email", "must be an e-mail address such as someone@example.com"))?;
        let address = form.object("address")?;
        let address = Address {
            street_address: address_line(&address, "streetAddress", 200)?,
            city: address_line(&address, "city", 100)?,
            state: address_line(&address, "state", 100)?,
            country: address_line(&address, "country", 100)?,
            zip_code: zip_code(&address)?,
        };
        let user_currency = form
            .optional_text("userCurrency")?
            .map(|code| {
                CurrencyCode::parse(code)
                    .map_err(|e| ApiError::bad_request("invalid_currency", format!("\"userCurrency\": {e}")))
            })
            .transpose()?;
        let card = form.object("creditCard")?;
        let number = CardNumber::parse(card.text("creditCardNumber")?)
            .map_err(|e| invalid(&card.path("creditCardNumber"), &e.to_string()))?;
        let month = card.integer("creditCardExpirationMonth")?;
        let year = card.integer("creditCardExpirationYear")?;
        let expiry = Expiry::new(month, year)
            .map_err(|e| invalid(&card.path("creditCardExpiration"), &e.to_string()))?;
        check_cvv(&card)?;
        // The hash is stored with the key, so it is taken over what may be
        // stored of the card: a hash of a card number is as good as the
        // number to anyone who tries every number of a card's bin.
        let mut kept = value.clone();
        if let Some(card) = kept.get_mut("creditCard").and_then(Value::as_object_mut) {
            card.remove("creditCardCvv");
            card.insert(
                "creditCardNumber".to_owned(),
                serde_json::to_value(number.summary()).unwrap_or_default(),
            );
        }
        Ok(Self {
            user_id,
            email,
            address,
            user_currency,
            card: CardDetails { number, expiry },
            canonical: canonical(&kept),
        })
    }

    /// What identifies this request for its Idempotency-Key: the SHA-256 (hex)
    /// of the currency it is priced in and the body with its keys sorted, so
    /// the same request sent again matches however its JSON was laid out.
    pub fn request_hash(&self, currency: &CurrencyCode) -> String {
        let digest = Sha256::new()
            .chain_update(currency.as_str())
            .chain_update(b"\n")
            .chain_update(&self.canonical)
            .finalize();
        digest.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

/// Shows everything but the card.
impl std::fmt::Debug for CheckoutForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckoutForm")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("address", &self.address)
            .field("user_currency", &self.user_currency)
            .field("card", &self.card)
            .finish_non_exhaustive()
    }
}

fn invalid(field: &str, problem: &str) -> ApiError {
    ApiError::bad_request("invalid_field", format!("{field:?}: {problem}"))
}

/// One JSON object of the body, and where it sits in it.
struct Fields<'v> {
    object: &'v Map<String, Value>,
    prefix: String,
}

impl<'v> Fields<'v> {
    fn root(value: &'v Value) -> Result<Self, ApiError> {
        match value {
            Value::Object(object) => Ok(Self {
                object,
                prefix: String::new(),
            }),
            _ => Err(ApiError::bad_request(
                "invalid_body",
                "the request body must be a JSON object",
            )),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn present(&self, name: &str) -> Result<&'v Value, ApiError> {
        match self.object.get(name) {
            None | Some(Value::Null) => Err(ApiError::bad_request(
                "missing_field",
                format!("{:?} is required", self.path(name)),
            )),
            Some(value) => Ok(value),
        }
    }

    fn object(&self, name: &str) -> Result<Fields<'v>, ApiError> {
        match self.present(name)? {
            Value::Object(object) => Ok(Fields {
                object,
                prefix: format!("{}.", self.path(name)),
            }),
            _ => Err(invalid(&self.path(name), "must be a JSON object")),
        }
    }

    fn text(&self, name: &str) -> Result<&'v str, ApiError> {
        self.present(name)?
            .as_str()
            .ok_or_else(|| invalid(&self.path(name), "must be a string"))
    }

    fn optional_text(&self, name: &str) -> Result<Option<&'v str>, ApiError> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(_) => self.text(name).map(Some),
        }
    }

    fn integer(&self, name: &str) -> Result<i64, ApiError> {
        self.present(name)?
            .as_i64()
            .ok_or_else(|| invalid(&self.path(name), "must be a whole number"))
    }
}

fn address_line(address: &Fields<'_>, name: &str, max: usize) -> Result<String, ApiError> {
    bounded(address, name, address.text(name)?, max)
}

/// The demo's storefront sends the zip code as text; its protobuf has it as
/// a number, so a whole number is taken too.
fn zip_code(address: &Fields<'_>) -> Result<String, ApiError> {
    let name = "zipCode";
    match address.present(name)? {
        Value::Number(number) if number.is_u64() => Ok(number.to_string()),
        _ => bounded(address, name, address.text(name)?, 20),
    }
}

fn bounded(fields: &Fields<'_>, name: &str, text: &str, max: usize) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        Err(invalid(&fields.path(name), "must not be empty"))
    } else if text.chars().count() > max {
        Err(invalid(
            &fields.path(name),
            &format!("must be at most {max} characters"),
        ))
    } else if text.chars().any(char::is_control) {
        Err(invalid(&fields.path(name), "must not contain control characters"))
    } else {
        Ok(text.to_owned())
    }
}

/// Three or four digits, as text or (the demo sends it so) a number; a
/// number has lost any leading zero, so any from 0 to 9999 is taken. It is
/// checked and dropped: the CVV is never stored or sealed.
fn check_cvv(card: &Fields<'_>) -> Result<(), ApiError> {
    let name = "creditCardCvv";
    let valid = match card.present(name)? {
        Value::Number(number) => number.as_u64().is_some_and(|n| n <= 9999),
        Value::String(text) => (3..=4).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(invalid(&card.path(name), "must be 3 or 4 digits"))
    }
}

/// JSON text with every object's keys in order: the same value always
/// gives the same text.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(&String, &Value)> = object.iter().collect();
            entries.sort_by_key(|(key, _)| *key);
            let fields: Vec<String> = entries
                .into_iter()
                .map(|(key, value)| format!("{}:{}", Value::String(key.clone()), canonical(value)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        scalar => scalar.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn demo() -> Value {
        json!({
            "userId": "larry",
            "email": "larry_sergei@example.com",
            "address": {
                "streetAddress": "1600 Amphitheatre Parkway",
                "city": "Mountain View",
                "state": "CA",
                "country": "United States",
                "zipCode": "94043"
            },
            "userCurrency": "USD",
            "creditCard": {
                "creditCardNumber": "4432-8015-6152-0454",
                "creditCardCvv": 672,
                "creditCardExpirationYear": 2039,
                "creditCardExpirationMonth": 1
            }
        })
    }

    fn parse(value: &Value) -> Result<CheckoutForm, ApiError> {
        CheckoutForm::parse(value.to_string().as_bytes())
    }

    fn with(pointer: &str, replacement: Value) -> Value {
        let mut value = demo();
        *value.pointer_mut(pointer).unwrap() = replacement;
        value
    }

    fn refusal(value: &Value) -> String {
        match parse(value) {
            Err(ApiError::BadRequest { message, .. }) => message,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn the_demos_request_parses_and_keeps_only_the_cards_number_and_expiry() {
        let form = parse(&demo()).unwrap();
        assert_eq!(form.user_id.as_str(), "larry");
        assert_eq!(form.address.zip_code, "94043");
        assert_eq!(form.card.number.last4(), "0454");
        assert_eq!((form.card.expiry.month(), form.card.expiry.year()), (1, 2039));
        assert_eq!(form.user_currency, Some(CurrencyCode::usd()));
    }

    #[test]
    fn a_bad_field_is_refused_by_its_name() {
        let cases = [
            ("/userId", json!(""), "userId"),
            ("/email", json!("not-an-address"), "email"),
            ("/email", json!("a@b"), "email"),
            ("/address/streetAddress", json!("   "), "address.streetAddress"),
            ("/address/city", json!("x".repeat(101)), "address.city"),
            ("/address/zipCode", json!(true), "address.zipCode"),
            ("/address", json!("somewhere"), "address"),
            (
                "/creditCard/creditCardNumber",
                json!("4432-80AB-6152-0454"),
                "creditCard.creditCardNumber",
            ),
            (
                "/creditCard/creditCardNumber",
                json!(4432801561520454u64),
                "creditCard.creditCardNumber",
            ),
            (
                "/creditCard/creditCardExpirationMonth",
                json!(13),
                "creditCard.creditCardExpiration",
            ),
            (
                "/creditCard/creditCardExpirationYear",
                json!("2039"),
                "creditCard.creditCardExpirationYear",
            ),
            (
                "/creditCard/creditCardCvv",
                json!(12345),
                "creditCard.creditCardCvv",
            ),
            (
                "/creditCard/creditCardCvv",
                json!("12a"),
                "creditCard.creditCardCvv",
            ),
            ("/userCurrency", json!("usd!"), "userCurrency"),
            ("/creditCard", json!(null), "creditCard"),
        ];
        for (pointer, value, field) in cases {
            let message = refusal(&with(pointer, value));
            assert!(message.contains(&format!("\"{field}")), "{pointer}: {message}");
        }
    }

    #[test]
    fn an_expired_card_is_payments_decision_not_checkouts() {
        assert!(parse(&with("/creditCard/creditCardExpirationYear", json!(2020))).is_ok());
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_refused() {
        for body in [&b""[..], b"{not json", b"[1,2]", b"\"text\""] {
            assert!(
                matches!(CheckoutForm::parse(body), Err(ApiError::BadRequest { .. })),
                "{body:?}"
            );
        }
    }

    #[test]
    fn the_request_hash_ignores_layout_but_not_content_or_currency() {
        let form = parse(&demo()).unwrap();
        let reordered = r#"{"creditCard": {"creditCardCvv": 672, "creditCardNumber": "4432-8015-6152-0454",
            "creditCardExpirationMonth": 1, "creditCardExpirationYear": 2039}, "userCurrency": "USD",
            "address": {"zipCode": "94043", "country": "United States", "state": "CA", "city": "Mountain View",
            "streetAddress": "1600 Amphitheatre Parkway"}, "email": "larry_sergei@example.com", "userId": "larry"}"#;
        let same = CheckoutForm::parse(reordered.as_bytes()).unwrap();
        let usd = CurrencyCode::usd();
        assert_eq!(form.request_hash(&usd), same.request_hash(&usd));
        assert_eq!(form.request_hash(&usd).len(), 64);
        let eur = CurrencyCode::parse("EUR").unwrap();
        assert_ne!(form.request_hash(&usd), form.request_hash(&eur));
        let other = parse(&with("/email", json!("someone.else@example.com"))).unwrap();
        assert_ne!(form.request_hash(&usd), other.request_hash(&usd));
        let other_card = parse(&with(
            "/creditCard/creditCardNumber",
            json!("4111-1111-1111-1111"),
        ))
        .unwrap();
        assert_ne!(form.request_hash(&usd), other_card.request_hash(&usd));
    }

    #[test]
    fn the_request_hash_is_not_taken_over_the_card_number_or_cvv() {
        let form = parse(&demo()).unwrap();
        assert!(!form.canonical.contains("4432"), "{}", form.canonical);
        assert!(!form.canonical.contains("672"), "{}", form.canonical);
        assert!(form.canonical.contains("0454"), "{}", form.canonical);
    }
}
