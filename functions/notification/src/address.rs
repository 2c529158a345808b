//! E-mail addresses as the notification history is keyed by them. The check
//! is the storefront's (something before the `@`, a dotted domain after it,
//! no spaces), not RFC 5322's: its job is to refuse what cannot be a
//! shopper's mailbox. The domain is lowercased, because domains are
//! case-insensitive and `Larry@Example.com` must find the mail sent to
//! `larry@example.com`'s mailbox; the local part is kept as written, as
//! mail servers may treat its case as meaningful.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an e-mail address (like name@example.com)")]
pub struct InvalidEmailAddress(pub String);

impl EmailAddress {
    pub const MAX_LEN: usize = 254;

    pub fn parse(text: &str) -> Result<Self, InvalidEmailAddress> {
        let invalid = || InvalidEmailAddress(text.to_owned());
        if text.len() > Self::MAX_LEN || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = text.split_once('@').ok_or_else(invalid)?;
        let domain_ok =
            !domain.contains('@') && domain.contains('.') && domain.split('.').all(|label| !label.is_empty());
        if local.is_empty() || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
        assert_eq!(
            EmailAddress::parse("a+shop@mail.b.example").unwrap().as_str(),
            "a+shop@mail.b.example"
        );
    }

    #[test]
    fn what_cannot_be_a_mailbox_is_refused() {
        for bad in [
            "",
            "larry",
            "@example.com",
            "larry@",
            "larry@localhost",
            "larry@example..com",
            "larry@.example.com",
            "larry@a@example.com",
            "larry page@example.com",
            "larry@example.com\n",
            &format!("{}@example.com", "a".repeat(250)),
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }
}
