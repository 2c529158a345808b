//! Who is visiting and how they want to see the shop: the `session-id` cookie
//! (the cart's owner, created on the first visit), the `currency` cookie the
//! switcher sets, and the address of the shop's API, which is wherever this
//! request came in (API Gateway and the local gateway both say so in the
//! `x-forwarded-proto` and `host` headers).

use astroshop_domain::CurrencyCode;
use lambda_http::http::HeaderMap;
use lambda_http::http::header::{COOKIE, HOST};
use uuid::Uuid;

pub const SESSION_COOKIE: &str = "session-id";
pub const CURRENCY_COOKIE: &str = "currency";

/// A year: the cart outlives a browser restart, as shoppers expect.
const COOKIE_MAX_AGE: u32 = 365 * 24 * 60 * 60;

/// One request's visitor.
#[derive(Debug, Clone)]
pub struct Visit {
    pub session_id: Uuid,
    /// True when the session was created by this request and its cookie must be set.
    pub new_session: bool,
    pub currency: CurrencyCode,
    pub api_base: String,
    /// Whether the shopper reached us over HTTPS, so cookies can be marked `Secure`.
    pub secure: bool,
}

impl Visit {
    pub fn of(headers: &HeaderMap) -> Self {
        let existing = cookie(headers, SESSION_COOKIE).and_then(|value| Uuid::parse_str(&value).ok());
        let currency = cookie(headers, CURRENCY_COOKIE)
            .and_then(|value| CurrencyCode::parse(&value).ok())
            .unwrap_or_else(CurrencyCode::usd);
        let proto = header(headers, "x-forwarded-proto")
            .and_then(|value| value.split(',').next().map(str::trim).map(str::to_owned))
            .filter(|proto| proto == "http" || proto == "https")
            .unwrap_or_else(|| "https".to_owned());
        let host = header(headers, HOST.as_str()).unwrap_or_else(|| "localhost".to_owned());
        Self {
            session_id: existing.unwrap_or_else(Uuid::new_v4),
            new_session: existing.is_none(),
            currency,
            secure: proto == "https",
            api_base: format!("{proto}://{host}"),
        }
    }

    /// The `Set-Cookie` value that keeps this session.
    pub fn session_cookie(&self) -> String {
        self.cookie(SESSION_COOKIE, &self.session_id.to_string(), true)
    }

    /// The `Set-Cookie` value that remembers the chosen currency.
    pub fn currency_cookie(&self, currency: &CurrencyCode) -> String {
        self.cookie(CURRENCY_COOKIE, currency.as_str(), false)
    }

    fn cookie(&self, name: &str, value: &str, http_only: bool) -> String {
        let mut cookie = format!("{name}={value}; Path=/; Max-Age={COOKIE_MAX_AGE}; SameSite=Lax");
        if http_only {
            cookie.push_str("; HttpOnly");
        }
        if self.secure {
            cookie.push_str("; Secure");
        }
        cookie
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
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
    use super::*;
    use lambda_http::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_first_visit_gets_a_new_session_and_usd() {
        let visit = Visit::of(&headers(&[
            ("host", "shop.example"),
            ("x-forwarded-proto", "https"),
        ]));
        assert!(visit.new_session);
        assert_eq!(visit.session_id.get_version_num(), 4);
        assert_eq!(visit.currency, CurrencyCode::usd());
        assert_eq!(visit.api_base, "https://shop.example");
        let cookie = visit.session_cookie();
        for part in ["session-id=", "HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
            assert!(cookie.contains(part), "{cookie} lacks {part}");
        }
    }

    #[test]
    fn a_returning_visitor_keeps_session_and_currency() {
        let id = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
        let visit = Visit::of(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("x-forwarded-proto", "http"),
            ("cookie", "theme=dark; currency=EUR"),
            ("cookie", &format!("session-id={id}")),
        ]));
        assert!(!visit.new_session);
        assert_eq!(visit.session_id.to_string(), id);
        assert_eq!(visit.currency.as_str(), "EUR");
        assert_eq!(visit.api_base, "http://127.0.0.1:8080");
        assert!(!visit.session_cookie().contains("Secure"));
    }

    #[test]
    fn forged_cookies_are_replaced_not_trusted() {
        let visit = Visit::of(&headers(&[
            ("host", "h"),
            ("cookie", "session-id=../../etc; currency=<b>"),
            ("x-forwarded-proto", "gopher"),
        ]));
        assert!(visit.new_session);
        assert_eq!(visit.currency, CurrencyCode::usd());
        assert_eq!(visit.api_base, "https://h");
    }
}
