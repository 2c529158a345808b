//! The storefront's handlers called in-process with the API Gateway events
//! the local gateway builds. The assets need nothing else; the pages are
//! pointed at an API address where nothing listens, which proves that bad
//! input and a shop that is down both give a page, never a bare 500. Pages
//! against a running shop are proven end to end (tests/e2e/storefront.rs).

use astroshop_storefront::{Storefront, serve_asset};
use lambda_http::{Body, Response};
use local_stack::testing::api_event;

/// Where no shop answers: port 9 (discard) is closed on a test machine.
const NO_SHOP: &str = "127.0.0.1:9";

fn event(
    method: &str,
    uri: &str,
    function: &str,
    form: Option<&str>,
    cookies: &[&str],
) -> lambda_http::Request {
    let (routed_to, mut event) = api_event(method, uri, form).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(routed_to, function, "{method} {uri} is routed to {routed_to}");
    event["headers"]["host"] = NO_SHOP.into();
    event["headers"]["x-forwarded-proto"] = "http".into();
    if form.is_some() {
        event["headers"]["content-type"] = "application/x-www-form-urlencoded".into();
    }
    if !cookies.is_empty() {
        event["cookies"] = cookies.iter().map(|c| c.to_string()).collect();
    }
    lambda_http::request::from_str(&event.to_string()).expect("the gateway's events parse")
}

fn page(method: &str, uri: &str, form: Option<&str>, cookies: &[&str]) -> Response<Body> {
    let request = event(method, uri, "storefront", form, cookies);
    let storefront = Storefront::new().expect("an HTTP client builds");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(storefront.handle(request))
}

fn header<'r>(response: &'r Response<Body>, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

fn text(response: &Response<Body>) -> &str {
    match response.body() {
        Body::Text(text) => text,
        other => panic!("expected a text body, got {other:?}"),
    }
}

fn assert_html_page(response: &Response<Body>, status: u16, says: &str) {
    assert_eq!(response.status().as_u16(), status, "{}", text(response));
    assert_eq!(header(response, "content-type"), "text/html; charset=utf-8");
    let body = text(response);
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    assert!(body.contains(says), "the page does not say {says:?}: {body}");
}

#[test]
fn a_product_picture_is_a_cacheable_jpeg() {
    let request = event(
        "GET",
        "/images/products/RedFlashlight.jpg",
        "storefront-assets",
        None,
        &[],
    );
    let response = serve_asset(&request);
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "content-type"), "image/jpeg");
    assert!(header(&response, "cache-control").contains("max-age=31536000"));
    let Body::Binary(bytes) = response.body() else {
        panic!("a picture is a binary body");
    };
    assert_eq!(bytes.len(), 369_585);
    assert!(bytes.starts_with(&[0xff, 0xd8, 0xff]));
}

#[test]
fn a_picture_the_browser_holds_is_answered_304_without_bytes() {
    let first = serve_asset(&event("GET", "/static/shop.css", "storefront-assets", None, &[]));
    let etag = header(&first, "etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() == 18, "{etag}");
    let (_, mut again) = api_event("GET", "/static/shop.css", None).unwrap();
    again["headers"]["if-none-match"] = format!("W/{etag}").into();
    let again = lambda_http::request::from_str(&again.to_string()).unwrap();
    let response = serve_asset(&again);
    assert_eq!(response.status().as_u16(), 304);
    assert_eq!(header(&response, "etag"), etag);
    assert!(matches!(response.body(), Body::Empty));
}

#[test]
fn an_unknown_picture_or_file_is_a_404() {
    for uri in [
        "/images/products/NoSuchThing.jpg",
        "/static/..%2FCargo.toml",
        "/static/app.js",
    ] {
        let response = serve_asset(&event("GET", uri, "storefront-assets", None, &[]));
        assert_eq!(response.status().as_u16(), 404, "{uri}");
    }
}

#[test]
fn a_first_visit_gets_a_session_cookie_even_when_the_shop_is_down() {
    let response = page("GET", "/", None, &[]);
    assert_html_page(&response, 503, "Please try again in a moment");
    let cookie = header(&response, "set-cookie");
    assert!(cookie.starts_with("session-id="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
}

#[test]
fn a_returning_visitor_keeps_their_session() {
    let cookie = "session-id=1b4e28ba-2fa1-41d2-883f-0016d3cca427";
    let response = page("GET", "/cart", None, &[cookie]);
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(response.status().as_u16(), 503);
}

#[test]
fn adding_zero_or_too_many_is_a_422_page() {
    for quantity in ["0", "11", "100000000000"] {
        let form = format!("productId=OLJCESPC7Z&quantity={quantity}");
        let response = page("POST", "/cart", Some(&form), &[]);
        assert_html_page(&response, 422, "between 1 and 10");
    }
}

#[test]
fn a_form_without_a_product_is_a_400_page() {
    let response = page("POST", "/cart", Some("quantity=1"), &[]);
    assert_html_page(&response, 400, "the form has no productId");
    let response = page("POST", "/cart/remove", Some("productId=%3Cscript%3E"), &[]);
    assert_html_page(&response, 400, "&lt;script&gt;");
}

#[test]
fn a_product_or_order_id_that_cannot_exist_is_a_404_page() {
    assert_html_page(
        &page("GET", "/product/not%20an%20id", None, &[]),
        404,
        "could not find that product",
    );
    assert_html_page(
        &page("GET", "/orders/a%2Fb", None, &[]),
        404,
        "could not find that order",
    );
}

#[test]
fn a_currency_that_is_not_a_code_is_a_400_page() {
    let response = page("POST", "/currency", Some("currencyCode=euro&next=%2F"), &[]);
    assert_html_page(&response, 400, "is not a currency code");
}
