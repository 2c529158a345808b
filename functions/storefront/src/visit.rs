//! Who is visiting and how they want to see the shop: the `session-id` cookie
//! (a guest cart's owner, and the key of the visitor's form tokens, created
//! on the first visit), the `currency` cookie the switcher sets, and the
//! `shopper` cookie that keeps a signed-in shopper's ID token. Every cookie
//! is `SameSite=Lax`, the session and the token are `HttpOnly`, and all are
//! `Secure` when the shop is served over HTTPS.

use std::time::SystemTime;

use astroshop_domain::CurrencyCode;
use lambda_http::http::HeaderMap;
use lambda_http::http::header::COOKIE;
use uuid::Uuid;

use crate::accounts::IdToken;
use crate::api::Shopper;
use crate::config::ShopUrl;
use crate::csrf;

pub const SESSION_COOKIE: &str = "session-id";
pub const CURRENCY_COOKIE: &str = "currency";
pub const SHOPPER_COOKIE: &str = "shopper";

/// A year: the cart outlives a browser restart, as shoppers expect.
const COOKIE_MAX_AGE: u64 = 365 * 24 * 60 * 60;

/// One request's visitor.
#[derive(Debug, Clone)]
pub struct Visit {
    pub session_id: Uuid,
    /// True when the session was created by this request and its cookie must be set.
    pub new_session: bool,
    pub currency: CurrencyCode,
    /// The signed-in shopper's token, when the cookie holds one that has not ended.
    pub token: Option<IdToken>,
    /// The `shopper` cookie holds a token that has ended or is not one:
    /// the answer clears it, and the visitor is a guest.
    pub stale_token: bool,
    /// Whether the shop is served over HTTPS, so cookies are marked `Secure`.
    pub secure: bool,
}

impl Visit {
    pub fn of(headers: &HeaderMap, shop: &ShopUrl, now: SystemTime) -> Self {
        let existing = cookie(headers, SESSION_COOKIE).and_then(|value| Uuid::parse_str(&value).ok());
        let currency = cookie(headers, CURRENCY_COOKIE)
            .and_then(|value| CurrencyCode::parse(&value).ok())
            .unwrap_or_else(CurrencyCode::usd);
        let kept = cookie(headers, SHOPPER_COOKIE);
        let token = kept
            .as_deref()
            .and_then(IdToken::parse)
            .filter(|token| token.seconds_left(now) > 0);
        Self {
            session_id: existing.unwrap_or_else(Uuid::new_v4),
            new_session: existing.is_none(),
            currency,
            stale_token: kept.is_some() && token.is_none(),
            token,
            secure: shop.is_secure(),
        }
    }

    /// Whose cart this visit sees: the account's when signed in, else the session's.
    pub fn shopper(&self) -> Shopper<'_> {
        match &self.token {
            Some(token) => Shopper::SignedIn(token),
            None => Shopper::Guest(self.session_id),
        }
    }

    /// The token every form of this visit's pages carries.
    pub fn form_token(&self) -> String {
        csrf::form_token(self.session_id)
    }

    /// The `Set-Cookie` value that keeps this session.
    pub fn session_cookie(&self) -> String {
        self.cookie(SESSION_COOKIE, &self.session_id.to_string(), COOKIE_MAX_AGE, true)
    }

    /// The `Set-Cookie` value that remembers the chosen currency.
    pub fn currency_cookie(&self, currency: &CurrencyCode) -> String {
        self.cookie(CURRENCY_COOKIE, currency.as_str(), COOKIE_MAX_AGE, false)
    }

    /// The `Set-Cookie` value that signs the shopper in until the token ends.
    pub fn shopper_cookie(&self, token: &IdToken, now: SystemTime) -> String {
        self.cookie(SHOPPER_COOKIE, token.as_str(), token.seconds_left(now), true)
    }

    /// The `Set-Cookie` value that signs the shopper out.
    pub fn signed_out_cookie(&self) -> String {
        self.cookie(SHOPPER_COOKIE, "", 0, true)
    }

    fn cookie(&self, name: &str, value: &str, max_age: u64, http_only: bool) -> String {
        let mut cookie = format!("{name}={value}; Path=/; Max-Age={max_age}; SameSite=Lax");
        if http_only {
            cookie.push_str("; HttpOnly");
        }
        if self.secure {
            cookie.push_str("; Secure");
        }
        cookie
    }
}

/// A cookie's value; `lambda_http` puts the payload's `cookies` back into
/// `Cookie` headers, one or several.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::accounts::test_token;
    use lambda_http::http::HeaderValue;

    const NOW: u64 = 1_800_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn shop(url: &str) -> ShopUrl {
        ShopUrl::parse(url).unwrap()
    }

    #[test]
    fn a_first_visit_gets_a_new_session_and_usd() {
        let visit = Visit::of(&headers(&[]), &shop("https://shop.example"), now());
        assert!(visit.new_session);
        assert_eq!(visit.session_id.get_version_num(), 4);
        assert_eq!(visit.currency, CurrencyCode::usd());
        assert!(matches!(visit.shopper(), Shopper::Guest(id) if id == visit.session_id));
        let cookie = visit.session_cookie();
        for part in ["session-id=", "HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
            assert!(cookie.contains(part), "{cookie} lacks {part}");
        }
    }

    #[test]
    fn a_returning_visitor_keeps_session_and_currency() {
        let id = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
        let visit = Visit::of(
            &headers(&[
                ("cookie", "theme=dark; currency=EUR"),
                ("cookie", &format!("session-id={id}")),
            ]),
            &shop("http://127.0.0.1:8080"),
            now(),
        );
        assert!(!visit.new_session);
        assert_eq!(visit.session_id.to_string(), id);
        assert_eq!(visit.currency.as_str(), "EUR");
        assert!(!visit.session_cookie().contains("Secure"));
    }

    #[test]
    fn cookies_are_secure_because_the_shop_is_https_not_because_a_header_says_so() {
        let plain = Visit::of(
            &headers(&[("x-forwarded-proto", "https")]),
            &shop("http://127.0.0.1:8080"),
            now(),
        );
        assert!(!plain.session_cookie().contains("Secure"));
        let tls = Visit::of(
            &headers(&[("x-forwarded-proto", "http")]),
            &shop("https://shop.example"),
            now(),
        );
        assert!(tls.session_cookie().contains("Secure"));
    }

    #[test]
    fn forged_cookies_are_replaced_not_trusted() {
        let visit = Visit::of(
            &headers(&[("cookie", "session-id=../../etc; currency=<b>")]),
            &shop("http://h"),
            now(),
        );
        assert!(visit.new_session);
        assert_eq!(visit.currency, CurrencyCode::usd());
    }

    #[test]
    fn a_live_token_signs_the_shopper_in_until_it_ends() {
        let token = test_token("ada@example.com", NOW + 3600);
        let visit = Visit::of(
            &headers(&[("cookie", &format!("shopper={}", token.as_str()))]),
            &shop("https://shop.example"),
            now(),
        );
        assert!(matches!(visit.shopper(), Shopper::SignedIn(t) if t.email() == Some("ada@example.com")));
        assert!(!visit.stale_token);
        let cookie = visit.shopper_cookie(&token, now());
        for part in ["shopper=", "Max-Age=3600", "HttpOnly", "SameSite=Lax", "Secure"] {
            assert!(cookie.contains(part), "{cookie} lacks {part}");
        }
        assert!(
            visit
                .signed_out_cookie()
                .starts_with("shopper=; Path=/; Max-Age=0")
        );
    }

    #[test]
    fn an_ended_or_unreadable_token_is_a_guest_whose_cookie_is_cleared() {
        let ended = test_token("ada@example.com", NOW - 1);
        for value in [ended.as_str(), "garbage"] {
            let visit = Visit::of(
                &headers(&[("cookie", &format!("shopper={value}"))]),
                &shop("http://127.0.0.1:8080"),
                now(),
            );
            assert!(visit.token.is_none(), "{value}");
            assert!(visit.stale_token, "{value}");
            assert!(matches!(visit.shopper(), Shopper::Guest(_)));
        }
    }
}
