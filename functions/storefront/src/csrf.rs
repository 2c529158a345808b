//! Defences against cross-site request forgery: another site must not be
//! able to make a shopper's browser add to their cart, sign them out or
//! place an order. Every form the storefront renders carries a token only
//! this visitor's pages can know (an HMAC keyed by the session cookie's
//! value, which is HttpOnly, so no script on any page can read it), and a
//! post is accepted only with that token, from a browser that has the
//! session, and, when the browser says where the post comes from
//! (`Origin`), from the shop's own origin.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use lambda_http::http::HeaderMap;
use lambda_http::http::header::ORIGIN;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::config::ShopUrl;

/// The hidden field every form carries the token in.
pub const FIELD: &str = "csrf";

/// What the token is for, so an HMAC of the session made for anything else
/// can never pass as one.
const PURPOSE: &[u8] = b"astroshop storefront form v1";

/// The token the forms of `session`'s pages carry.
pub fn form_token(session: Uuid) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(session.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(PURPOSE);
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Whether a posted token is `session`'s. Compared in constant time, so
/// answer times do not tell how much of a guess was right.
pub fn is_valid(session: Uuid, posted: Option<&str>) -> bool {
    posted.is_some_and(|posted| bool::from(posted.as_bytes().ct_eq(form_token(session).as_bytes())))
}

/// False when the request says it comes from another origin. Browsers send
/// `Origin` with every form post (as `null` from a sandbox or a privacy
/// redirect, which is refused too); a client that sends none is not a
/// browser another site can drive, and is held to the token alone.
pub fn same_origin(headers: &HeaderMap, shop: &ShopUrl) -> bool {
    headers
        .get_all(ORIGIN)
        .iter()
        .all(|origin| origin.as_bytes() == shop.origin().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    const SESSION: Uuid = Uuid::from_u128(0x1b4e28ba_2fa1_41d2_883f_0016d3cca427);

    fn shop() -> ShopUrl {
        ShopUrl::parse("http://127.0.0.1:8080").unwrap()
    }

    fn origin(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(ORIGIN, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_sessions_own_token_is_valid_and_stable() {
        let token = form_token(SESSION);
        assert_eq!(token, form_token(SESSION));
        assert_eq!(token.len(), 43, "{token}");
        assert!(is_valid(SESSION, Some(&token)));
    }

    #[test]
    fn another_sessions_token_a_changed_token_or_none_is_refused() {
        let token = form_token(SESSION);
        assert!(!is_valid(Uuid::new_v4(), Some(&token)));
        let mut changed = token.clone().into_bytes();
        changed[0] = if changed[0] == b'A' { b'B' } else { b'A' };
        assert!(!is_valid(SESSION, Some(std::str::from_utf8(&changed).unwrap())));
        assert!(!is_valid(SESSION, Some(&token[..42])));
        assert!(!is_valid(SESSION, Some("")));
        assert!(!is_valid(SESSION, None));
    }

    #[test]
    fn the_token_does_not_give_the_session_away() {
        let token = form_token(SESSION);
        assert!(!token.contains(&SESSION.simple().to_string()[..8]));
        assert!(!token.contains(&SESSION.to_string()[..8]));
    }

    #[test]
    fn only_the_shops_own_origin_or_none_may_post() {
        assert!(same_origin(&origin(&[]), &shop()));
        assert!(same_origin(&origin(&["http://127.0.0.1:8080"]), &shop()));
        for foreign in [
            "http://localhost:8080",
            "http://127.0.0.1:8081",
            "https://127.0.0.1:8080",
            "http://evil.example",
            "null",
            "http://127.0.0.1:8080.evil.example",
        ] {
            assert!(!same_origin(&origin(&[foreign]), &shop()), "{foreign} may post");
        }
        assert!(!same_origin(
            &origin(&["http://127.0.0.1:8080", "http://evil.example"]),
            &shop()
        ));
    }
}
