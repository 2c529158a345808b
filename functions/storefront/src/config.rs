//! Where the shop is: its public base URL. The storefront calls the API
//! there, accepts form posts only from that origin, and marks its cookies
//! `Secure` when it is HTTPS. The base URL is configuration (`SHOP_URL`);
//! where the template cannot give it (the API's address is not known until
//! the API exists), it is the address API Gateway itself says it received
//! the request on (`requestContext.domainName`), over HTTPS. Never the
//! `Host` or `X-Forwarded-*` headers a client sends: those are whatever the
//! client wants them to be.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use reqwest::Url;

/// The shop's public base URL: `http(s)://host[:port]`, nothing after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopUrl {
    /// The origin as a browser serializes it (`https://shop.example`,
    /// lowercase, no default port), which is also the API's base.
    origin: String,
    secure: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a shop base URL (http or https, a host and at most a port, such as https://shop.example)"
)]
pub struct InvalidShopUrl(pub String);

impl ShopUrl {
    pub fn parse(text: &str) -> Result<Self, InvalidShopUrl> {
        let invalid = || InvalidShopUrl(text.to_owned());
        let url = Url::parse(text).map_err(|_| invalid())?;
        let plain = matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|host| !host.is_empty())
            && url.username().is_empty()
            && url.password().is_none()
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none();
        if !plain {
            return Err(invalid());
        }
        Ok(Self {
            origin: url.origin().ascii_serialization(),
            secure: url.scheme() == "https",
        })
    }

    /// The origin form posts must come from, and the base of the API.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn is_secure(&self) -> bool {
        self.secure
    }
}

/// How the storefront learns the shop's base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShopAddress {
    /// `SHOP_URL`, as the local stack (or an operator) sets it.
    Configured(ShopUrl),
    /// `https://` and the domain API Gateway received the request on.
    FromGateway,
}

impl ShopAddress {
    /// `SHOP_URL` when it is set and not empty; a value that is not a base
    /// URL stops the function at its cold start rather than on a request.
    pub fn from_env() -> Result<Self, InvalidShopUrl> {
        match std::env::var("SHOP_URL") {
            Ok(text) if !text.trim().is_empty() => ShopUrl::parse(text.trim()).map(Self::Configured),
            _ => Ok(Self::FromGateway),
        }
    }

    /// The shop's base URL for this request; `None` when it is not
    /// configured and the gateway named no domain it could be.
    pub fn for_request(&self, request: &Request) -> Option<ShopUrl> {
        match self {
            Self::Configured(url) => Some(url.clone()),
            Self::FromGateway => match request.request_context_ref() {
                Some(RequestContext::ApiGatewayV2(context)) => context
                    .domain_name
                    .as_deref()
                    .and_then(|domain| ShopUrl::parse(&format!("https://{domain}")).ok()),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(domain_name: &str, host: &str) -> Request {
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "GET /",
            "rawPath": "/",
            "rawQueryString": "",
            "headers": {"host": host, "x-forwarded-proto": "http"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api",
                "domainName": domain_name,
                "domainPrefix": "api",
                "http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test"},
                "requestId": "id",
                "routeKey": "GET /",
                "stage": "$default",
                "time": "21/Nov/2026:10:00:00 +0000",
                "timeEpoch": 0
            },
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    #[test]
    fn a_base_url_is_a_scheme_a_host_and_a_port() {
        let local = ShopUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(local.origin(), "http://127.0.0.1:8080");
        assert!(!local.is_secure());
        let cloud = ShopUrl::parse("HTTPS://Shop.Example:443/").unwrap();
        assert_eq!(cloud.origin(), "https://shop.example");
        assert!(cloud.is_secure());
    }

    #[test]
    fn anything_more_or_less_than_a_base_url_is_refused() {
        for text in [
            "",
            "shop.example",
            "ftp://shop.example",
            "https://shop.example/prod",
            "https://user:pw@shop.example",
            "https://shop.example/?a=1",
            "https://shop.example/#top",
            "javascript:alert(1)",
        ] {
            assert!(ShopUrl::parse(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn the_configured_url_wins_over_anything_the_request_says() {
        let configured = ShopAddress::Configured(ShopUrl::parse("http://127.0.0.1:8080").unwrap());
        let url = configured
            .for_request(&request("evil.example", "evil.example"))
            .unwrap();
        assert_eq!(url.origin(), "http://127.0.0.1:8080");
    }

    #[test]
    fn without_configuration_the_gateways_domain_is_used_never_the_host_header() {
        let url = ShopAddress::FromGateway
            .for_request(&request(
                "abc123.execute-api.eu-west-1.amazonaws.com",
                "evil.example",
            ))
            .unwrap();
        assert_eq!(url.origin(), "https://abc123.execute-api.eu-west-1.amazonaws.com");
        assert!(url.is_secure());
        assert_eq!(
            ShopAddress::FromGateway.for_request(&request("evil.example/path@x", "h")),
            None
        );
    }
}

/// Where an operator sees one trace (`TRACE_PAGE`, a URL with `{trace_id}`
/// in it): the local stack's trace viewer. An order page links its checkout's
/// trace there; without it (the cloud) there is no link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracePage(String);

impl TracePage {
    const SLOT: &str = "{trace_id}";

    /// The page `TRACE_PAGE` names, if it is set and has a `{trace_id}`.
    pub fn from_env() -> Option<Self> {
        Self::parse(&std::env::var("TRACE_PAGE").ok()?)
    }

    pub fn parse(template: &str) -> Option<Self> {
        let url = Url::parse(&template.replace(Self::SLOT, "0")).ok()?;
        (matches!(url.scheme(), "http" | "https") && template.contains(Self::SLOT))
            .then(|| Self(template.to_owned()))
    }

    /// The page of `trace_id`, if it is one (32 hex digits).
    pub fn of(&self, trace_id: &str) -> Option<String> {
        let valid = trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| self.0.replace(Self::SLOT, trace_id))
    }
}

#[cfg(test)]
mod trace_page_tests {
    use super::*;

    #[test]
    fn a_trace_page_is_filled_only_with_a_trace_id() {
        let page = TracePage::parse("http://127.0.0.1:6006/projects/UHJvamVjdDox/traces/{trace_id}").unwrap();
        assert_eq!(
            page.of("5759e988bd862e3fe1be46a994272793").as_deref(),
            Some("http://127.0.0.1:6006/projects/UHJvamVjdDox/traces/5759e988bd862e3fe1be46a994272793")
        );
        assert_eq!(page.of("5759e988\"><script>"), None);
        assert_eq!(page.of(""), None);
        assert_eq!(TracePage::parse("http://127.0.0.1:6006/traces"), None, "no slot");
        assert_eq!(TracePage::parse("javascript:{trace_id}"), None);
    }
}
