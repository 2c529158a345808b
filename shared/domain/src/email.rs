//! E-mail addresses: one rule for every service that takes or mails one,
//! applied once where an address comes in (a form, a query, an event). It is
//! not RFC 5322 in full: its job is to refuse what cannot be a shopper's
//! mailbox, and what the shop could not mail. Domains are lowercased, because
//! they are case-insensitive and `Larry@Example.com` must find the mail sent
//! to `larry@example.com`'s mailbox; the local part is kept as written, as
//! mail servers may treat its case as meaningful.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An address the shop can mail, `local@domain`:
/// - at most 254 characters (SMTP's limit on a path), all 7-bit ASCII, as
///   SES sends to no other (an international domain is written in punycode);
/// - the local part is 1 to 64 of RFC 5322's atom characters (letters,
///   digits and ``!#$%&'*+-/=?^_`{|}~``) in runs joined by single dots: no
///   space, no quotes, no leading, trailing or double dot;
/// - the domain is two or more labels joined by dots, each 1 to 63 letters,
///   digits or hyphens, neither starting nor ending with a hyphen.
///
/// `events/schemas/` says the same with `maxLength` and `pattern`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an e-mail address (like name@example.com)")]
pub struct InvalidEmail(pub String);

impl EmailAddress {
    pub const MAX_LEN: usize = 254;
    const MAX_LOCAL_LEN: usize = 64;
    const MAX_LABEL_LEN: usize = 63;

    pub fn parse(text: &str) -> Result<Self, InvalidEmail> {
        let invalid = || InvalidEmail(text.to_owned());
        if text.len() > Self::MAX_LEN || !text.is_ascii() {
            return Err(invalid());
        }
        let (local, domain) = text.split_once('@').ok_or_else(invalid)?;
        let domain = domain.to_ascii_lowercase();
        if !is_dot_atom(local) || local.len() > Self::MAX_LOCAL_LEN || !is_domain(&domain) {
            return Err(invalid());
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What follows the `@`, lowercase.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

/// Runs of atom characters joined by single dots (RFC 5322 `dot-atom-text`).
fn is_dot_atom(text: &str) -> bool {
    const SPECIALS: &[u8] = b"!#$%&'*+-/=?^_`{|}~";
    text.split('.').all(|run| {
        !run.is_empty()
            && run
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || SPECIALS.contains(&b))
    })
}

/// Two or more DNS labels (letters, digits, inner hyphens) joined by dots.
fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=EmailAddress::MAX_LABEL_LEN).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = InvalidEmail;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<EmailAddress> for String {
    fn from(address: EmailAddress) -> Self {
        address.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_keeps_its_local_part_and_lowercases_its_domain() {
        assert_eq!(
            EmailAddress::parse("Larry.Page@Example.COM").unwrap().as_str(),
            "Larry.Page@example.com"
        );
        for kept in [
            "larry_sergei@example.com",
            "a+shop@mail.b.example",
            "o'brien@example.ie",
            "x@xn--mller-kva.de",
            "1@2.example",
            "a@b-c.d",
        ] {
            assert_eq!(EmailAddress::parse(kept).unwrap().as_str(), kept);
        }
    }

    #[test]
    fn the_longest_address_is_254_characters_with_a_local_part_of_64() {
        let label = "d".repeat(63);
        let longest = format!("{}@{label}.{label}.{}", "l".repeat(64), "d".repeat(61));
        assert_eq!(longest.len(), 254);
        assert!(EmailAddress::parse(&longest).is_ok());
        assert!(EmailAddress::parse(&format!("{longest}x")).is_err());
        assert!(EmailAddress::parse(&format!("{}@example.com", "l".repeat(65))).is_err());
        assert!(EmailAddress::parse(&format!("a@{}.com", "d".repeat(64))).is_err());
    }

    #[test]
    fn what_cannot_be_a_mailbox_is_refused() {
        for bad in [
            "",
            "larry",
            "@example.com",
            "larry@",
            "larry@localhost",
            "a@b.",
            "a@.b",
            "larry@example..com",
            "larry@.example.com",
            "larry@-example.com",
            "larry@example-.com",
            "larry@exa_mple.com",
            "larry@a@example.com",
            "larry page@example.com",
            " larry@example.com",
            "larry@example.com\n",
            "larry\t@example.com",
            ".larry@example.com",
            "larry.@example.com",
            "lar..ry@example.com",
            "\"larry\"@example.com",
            "Larry <larry@example.com>",
            "larry,sergei@example.com",
            "larry@[127.0.0.1]",
            "larry@müller.de",
            "lärry@example.com",
        ] {
            assert_eq!(
                EmailAddress::parse(bad),
                Err(InvalidEmail(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_domain_is_what_follows_the_at() {
        assert_eq!(
            EmailAddress::parse("x@Mailinator.com").unwrap().domain(),
            "mailinator.com"
        );
    }

    #[test]
    fn an_address_is_a_json_string_checked_when_read() {
        let address = EmailAddress::parse("larry_sergei@example.com").unwrap();
        let json = serde_json::to_string(&address).unwrap();
        assert_eq!(json, "\"larry_sergei@example.com\"");
        assert_eq!(serde_json::from_str::<EmailAddress>(&json).unwrap(), address);
        assert_eq!(
            serde_json::from_str::<EmailAddress>("\"Larry@Example.COM\"")
                .unwrap()
                .as_str(),
            "Larry@example.com"
        );
        for bad in ["\"a@b.\"", "\"larry\"", "42", "null"] {
            assert!(serde_json::from_str::<EmailAddress>(bad).is_err(), "{bad}");
        }
    }
}
