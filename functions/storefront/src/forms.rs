//! The storefront's HTML forms, parsed at the edge into what they mean: a
//! product and a quantity to add, a currency to switch to, the details of a
//! checkout, the e-mail and password of an account. Nothing past this
//! module sees raw form text.

use astroshop_domain::{CurrencyCode, EmailAddress, ProductId};
use uuid::Uuid;

use crate::api::{Address, CreditCard};

/// The most of one product a single "Add to cart" takes, as the product
/// page's quantity list offers.
pub const MAX_QUANTITY: u32 = 10;

/// What is wrong with a submitted form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// The form is not one our pages send (a field missing or not parseable).
    #[error("{0}")]
    Malformed(String),
    /// Well formed, but a value the shop cannot accept.
    #[error("{0}")]
    Invalid(String),
}

/// A submitted `application/x-www-form-urlencoded` body.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        serde_urlencoded::from_bytes(body)
            .map(Self)
            .map_err(|error| FormError::Malformed(format!("the form could not be read: {error}")))
    }

    /// A field's value, trimmed; absent and blank are the same to a shopper.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.raw_field(name)
            .map(str::trim)
            .filter(|value| !value.is_empty())
    }

    /// A field's value exactly as typed (a password's spaces are its own).
    fn raw_field(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, FormError> {
        self.field(name)
            .ok_or_else(|| FormError::Malformed(format!("the form has no {name}")))
    }
}

/// "Add to cart".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddToCart {
    pub product_id: ProductId,
    pub quantity: u32,
}

impl AddToCart {
    pub fn from_form(form: &Form) -> Result<Self, FormError> {
        let product_id = product_id(form)?;
        let quantity = match form.field("quantity") {
            None => 1,
            Some(text) => text
                .parse::<i64>()
                .map_err(|_| FormError::Malformed(format!("{text:?} is not a quantity")))?,
        };
        if !(1..=i64::from(MAX_QUANTITY)).contains(&quantity) {
            return Err(FormError::Invalid(format!(
                "you can add between 1 and {MAX_QUANTITY} at a time, not {quantity}"
            )));
        }
        Ok(Self {
            product_id,
            quantity: quantity as u32,
        })
    }
}

/// "Remove" on a cart line.
pub fn product_id(form: &Form) -> Result<ProductId, FormError> {
    let text = form.required("productId")?;
    ProductId::parse(text).map_err(|error| FormError::Malformed(error.to_string()))
}

/// The currency switcher: the code, and the page to go back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChooseCurrency {
    pub currency: CurrencyCode,
    pub back_to: String,
}

impl ChooseCurrency {
    pub fn from_form(form: &Form) -> Result<Self, FormError> {
        let text = form.required("currencyCode")?;
        let currency = CurrencyCode::parse(text).map_err(|error| FormError::Malformed(error.to_string()))?;
        Ok(Self {
            currency,
            back_to: local_path(form.field("next")),
        })
    }
}

/// A path on this site to send the shopper back to; anything else (another
/// site, `//evil.example`, a scheme) is the home page, so the switcher and
/// the sign-in form can never be used to redirect someone away.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && path.chars().all(|c| c.is_ascii_graphic()) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// What the checkout form collects, checked enough to be worth sending;
/// the checkout API has the last word (card number checks, stock, payment).
#[derive(Debug, Clone)]
pub struct CheckoutDetails {
    pub email: EmailAddress,
    pub address: Address,
    pub card: CreditCard,
    /// Set when the form is shown, so a double submit places one order.
    pub idempotency_key: Uuid,
}

/// The checkout form's fields as typed, to show them again next to the
/// problems found. A security code typed by the shopper is never sent back
/// in a page; only the sample card's is filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckoutFields {
    pub email: String,
    pub address: Address,
    pub card_number: String,
    pub expiration_month: String,
    pub expiration_year: String,
    pub security_code: String,
    pub idempotency_key: String,
}

impl CheckoutFields {
    /// The form as first shown: the demo's sample shopper and test card, so
    /// trying the shop takes one click.
    pub fn sample() -> Self {
        Self {
            email: "someone@example.com".into(),
            address: crate::api::quote_address(),
            card_number: "4432-8015-6152-0454".into(),
            expiration_month: "1".into(),
            expiration_year: "2030".into(),
            security_code: "672".into(),
            idempotency_key: Uuid::new_v4().to_string(),
        }
    }

    pub fn from_form(form: &Form) -> Self {
        let text = |name: &str| form.field(name).unwrap_or_default().to_owned();
        Self {
            email: text("email"),
            address: Address {
                street_address: text("streetAddress"),
                city: text("city"),
                state: text("state"),
                country: text("country"),
                zip_code: text("zipCode"),
            },
            card_number: text("creditCardNumber"),
            expiration_month: text("creditCardExpirationMonth"),
            expiration_year: text("creditCardExpirationYear"),
            security_code: String::new(),
            idempotency_key: text("idempotencyKey"),
        }
    }
}

/// Checks the checkout form; every problem is listed, in the form's order.
pub fn checkout_details(form: &Form) -> Result<CheckoutDetails, Vec<String>> {
    let fields = CheckoutFields::from_form(form);
    let mut problems = Vec::new();
    let email = email(&fields.email);
    if let Err(problem) = &email {
        problems.push(problem.to_string());
    }
    let address = &fields.address;
    for (value, label) in [
        (&address.street_address, "a street address"),
        (&address.city, "a city"),
        (&address.state, "a state or region"),
        (&address.country, "a country"),
        (&address.zip_code, "a ZIP or postal code"),
    ] {
        if value.is_empty() || value.chars().count() > 100 {
            problems.push(format!("Enter {label} (up to 100 characters)."));
        }
    }
    let digits: String = fields
        .card_number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        problems.push("Enter the card number (12 to 19 digits).".to_owned());
    }
    let cvv = form.field("creditCardCvv").unwrap_or_default();
    let cvv_value = cvv
        .parse::<u32>()
        .ok()
        .filter(|_| (3..=4).contains(&cvv.len()) && cvv.bytes().all(|b| b.is_ascii_digit()));
    if cvv_value.is_none() {
        problems.push("Enter the 3 or 4 digit security code from the back of the card.".to_owned());
    }
    let month = fields
        .expiration_month
        .parse::<u32>()
        .ok()
        .filter(|m| (1..=12).contains(m));
    if month.is_none() {
        problems.push("Choose the card's expiry month.".to_owned());
    }
    let year = fields
        .expiration_year
        .parse::<i32>()
        .ok()
        .filter(|y| (2000..=2100).contains(y));
    if year.is_none() {
        problems.push("Choose the card's expiry year.".to_owned());
    }
    let idempotency_key = Uuid::parse_str(&fields.idempotency_key).unwrap_or_else(|_| Uuid::new_v4());
    match (email, cvv_value, month, year) {
        (Ok(email), Some(cvv), Some(month), Some(year)) if problems.is_empty() => Ok(CheckoutDetails {
            email,
            address: fields.address,
            card: CreditCard {
                credit_card_number: digits,
                credit_card_cvv: cvv,
                credit_card_expiration_year: year,
                credit_card_expiration_month: month,
            },
            idempotency_key,
        }),
        _ => Err(problems),
    }
}

/// An e-mail address as typed into a form (trimmed, as every field is), by
/// the shop's one rule; what is wrong is said to the shopper, not echoed.
fn email(text: &str) -> Result<EmailAddress, FormError> {
    EmailAddress::parse(text.trim())
        .map_err(|_| FormError::Invalid("Enter an e-mail address like name@example.com.".to_owned()))
}

/// A password as typed; it is never trimmed, shown or logged.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Only what no account's password can be is refused here; the user
    /// pool's policy (length, letters, digits) has the last word.
    pub fn parse(text: &str) -> Result<Self, FormError> {
        if text.is_empty() {
            return Err(FormError::Invalid("Enter your password.".to_owned()));
        }
        if text.chars().count() > 256
            || text.starts_with(char::is_whitespace)
            || text.ends_with(char::is_whitespace)
        {
            return Err(FormError::Invalid(
                "A password has at most 256 characters and does not start or end with a space.".to_owned(),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// What the sign-up and sign-in forms give: an e-mail and a password.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub email: EmailAddress,
    pub password: Password,
}

impl Credentials {
    pub fn from_form(form: &Form) -> Result<Self, FormError> {
        let email = email(form.field("email").unwrap_or_default())?;
        let password = Password::parse(form.raw_field("password").unwrap_or_default())?;
        Ok(Self { email, password })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Form {
        Form::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn add_to_cart_reads_product_and_quantity() {
        let add = AddToCart::from_form(&form("productId=OLJCESPC7Z&quantity=3")).unwrap();
        assert_eq!(add.product_id.as_str(), "OLJCESPC7Z");
        assert_eq!(add.quantity, 3);
        let one = AddToCart::from_form(&form("productId=OLJCESPC7Z")).unwrap();
        assert_eq!(one.quantity, 1);
    }

    #[test]
    fn quantities_outside_one_to_ten_are_refused() {
        for quantity in ["0", "-1", "11", "99999999999999"] {
            let result = AddToCart::from_form(&form(&format!("productId=OLJCESPC7Z&quantity={quantity}")));
            assert!(
                matches!(result, Err(FormError::Invalid(_))),
                "{quantity}: {result:?}"
            );
        }
        let huge = AddToCart::from_form(&form("productId=OLJCESPC7Z&quantity=1e99"));
        assert!(matches!(huge, Err(FormError::Malformed(_))), "{huge:?}");
    }

    #[test]
    fn a_missing_or_malformed_product_is_malformed() {
        for body in ["quantity=1", "productId=&quantity=1", "productId=..%2Fetc"] {
            let result = AddToCart::from_form(&form(body));
            assert!(
                matches!(result, Err(FormError::Malformed(_))),
                "{body}: {result:?}"
            );
        }
    }

    #[test]
    fn the_currency_switcher_only_returns_to_pages_of_this_site() {
        let chosen =
            ChooseCurrency::from_form(&form("currencyCode=EUR&next=%2Fproduct%2FOLJCESPC7Z")).unwrap();
        assert_eq!(chosen.currency.as_str(), "EUR");
        assert_eq!(chosen.back_to, "/product/OLJCESPC7Z");
        for next in [
            "https%3A%2F%2Fevil.example",
            "%2F%2Fevil.example",
            "%2F%5Cevil",
            "",
            "%2Fa%0D%0ASet-Cookie",
        ] {
            let chosen = ChooseCurrency::from_form(&form(&format!("currencyCode=JPY&next={next}"))).unwrap();
            assert_eq!(chosen.back_to, "/", "{next}");
        }
        assert!(ChooseCurrency::from_form(&form("currencyCode=euro")).is_err());
    }

    #[test]
    fn a_complete_checkout_form_gives_the_details() {
        let key = Uuid::new_v4();
        let details = checkout_details(&form(&format!(
            "email=a%40b.example&streetAddress=1+Main+St&city=Town&state=CA&country=US&zipCode=94043\
             &creditCardNumber=4432-8015-6152-0454&creditCardCvv=672&creditCardExpirationMonth=1\
             &creditCardExpirationYear=2030&idempotencyKey={key}"
        )))
        .unwrap();
        assert_eq!(details.email.as_str(), "a@b.example");
        assert_eq!(details.address.street_address, "1 Main St");
        assert_eq!(details.card.credit_card_number, "4432801561520454");
        assert_eq!(details.card.credit_card_cvv, 672);
        assert_eq!(details.idempotency_key, key);
    }

    #[test]
    fn every_checkout_problem_is_listed() {
        let problems = checkout_details(&form(
            "email=nobody&creditCardCvv=12&creditCardExpirationMonth=13",
        ))
        .unwrap_err();
        assert_eq!(problems.len(), 10, "{problems:#?}");
        assert!(problems[0].contains("e-mail"));
    }

    #[test]
    fn credentials_keep_the_password_as_typed_and_never_print_it() {
        let credentials = Credentials::from_form(&form(
            "email=+ada%40example.com+&password=se+cret9&next=%2Forders",
        ))
        .unwrap();
        assert_eq!(credentials.email.as_str(), "ada@example.com");
        assert_eq!(credentials.password.expose(), "se cret9");
        assert!(!format!("{credentials:?}").contains("cret"));
    }

    #[test]
    fn an_account_form_without_an_email_or_a_usable_password_is_invalid() {
        for body in [
            "email=ada&password=secret99",
            "email=ada%40example.com",
            "email=ada%40example.com&password=",
            "email=ada%40example.com&password=+secret99",
            "email=a+b%40example.com&password=secret99",
        ] {
            let result = Credentials::from_form(&form(body));
            assert!(matches!(result, Err(FormError::Invalid(_))), "{body}: {result:?}");
        }
    }

    #[test]
    fn an_address_with_an_empty_domain_label_is_refused_by_every_form() {
        for address in ["a%40b.", "a%40b..example", "a%40-b.example"] {
            let problems = checkout_details(&form(&format!("email={address}"))).unwrap_err();
            assert!(problems[0].contains("e-mail"), "{address}: {problems:?}");
            let credentials = Credentials::from_form(&form(&format!("email={address}&password=secret99")));
            assert!(matches!(credentials, Err(FormError::Invalid(_))), "{address}");
        }
    }

    #[test]
    fn a_json_body_is_not_an_add_to_cart_form() {
        assert!(matches!(
            AddToCart::from_form(&form("{\"productId\":\"X\"}")),
            Err(FormError::Malformed(_))
        ));
    }
}
