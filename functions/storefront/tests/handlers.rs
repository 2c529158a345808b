//! The storefront's handlers called in-process with the API Gateway events
//! the local gateway builds. The assets need nothing else; the pages are
//! pointed at a shop address where nothing listens, which proves that bad
//! input and a shop that is down both give a page, never a bare 500, and
//! that a refused form post is refused before anything is asked of the
//! shop. Accounts are a stand-in pool that starts with one shopper. Pages
//! against a running shop are proven end to end (tests/e2e/storefront.rs).

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use astroshop_flags::Flags;
use astroshop_storefront::accounts::{AccountError, IdToken, Shoppers};
use astroshop_storefront::config::{ShopAddress, ShopUrl};
use astroshop_storefront::forms::Credentials;
use astroshop_storefront::{Storefront, csrf, serve_asset};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::{Body, Response};
use local_stack_testing::api_event;
use uuid::Uuid;

/// Where no shop answers: port 9 (discard) is closed on a test machine.
const NO_SHOP: &str = "http://127.0.0.1:9";

const SESSION: &str = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
const ADA: &str = "ada@example.com";
const ADAS_PASSWORD: &str = "stargazer9";

/// A pool of (e-mail, password) that starts with Ada, answering as Cognito would.
struct Pool(Mutex<Vec<(String, String)>>);

impl Pool {
    fn with_ada() -> Self {
        Self(Mutex::new(vec![(ADA.to_owned(), ADAS_PASSWORD.to_owned())]))
    }
}

impl Shoppers for Pool {
    async fn sign_up(&self, credentials: &Credentials) -> Result<(), AccountError> {
        let mut accounts = self.0.lock().unwrap();
        if accounts
            .iter()
            .any(|(email, _)| email == credentials.email.as_str())
        {
            return Err(AccountError::EmailTaken);
        }
        accounts.push((
            credentials.email.as_str().to_owned(),
            credentials.password.expose().to_owned(),
        ));
        Ok(())
    }

    async fn sign_in(&self, credentials: &Credentials) -> Result<IdToken, AccountError> {
        let accounts = self.0.lock().unwrap();
        let known = accounts.iter().any(|(email, password)| {
            email == credentials.email.as_str() && password == credentials.password.expose()
        });
        if known {
            Ok(token(credentials.email.as_str(), 3600))
        } else {
            Err(AccountError::WrongCredentials)
        }
    }
}

/// An ID token for `email` that ends in `seconds`; unsigned, as only the
/// gateway checks signatures.
fn token(email: &str, seconds: u64) -> IdToken {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let claims = serde_json::json!({"sub": "s-1", "email": email, "exp": now + seconds});
    let raw = format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    IdToken::parse(&raw).unwrap()
}

struct Post<'a> {
    form: &'a str,
    origin: Option<&'a str>,
}

fn event(
    method: &str,
    uri: &str,
    function: &str,
    cookies: &[&str],
    post: Option<&Post<'_>>,
) -> lambda_http::Request {
    let (routed_to, mut event) =
        api_event(method, uri, post.map(|post| post.form)).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(routed_to, function, "{method} {uri} is routed to {routed_to}");
    // What a client says about where it is must not matter.
    event["headers"]["host"] = "evil.example".into();
    event["headers"]["x-forwarded-proto"] = "https".into();
    if !cookies.is_empty() {
        event["cookies"] = cookies.iter().map(|c| c.to_string()).collect();
    }
    if let Some(post) = post {
        event["headers"]["content-type"] = "application/x-www-form-urlencoded".into();
        if let Some(origin) = post.origin {
            event["headers"]["origin"] = origin.into();
        }
    }
    lambda_http::request::from_str(&event.to_string()).expect("the gateway's events parse")
}

fn answer(request: lambda_http::Request) -> Response<Body> {
    let shop = ShopAddress::Configured(ShopUrl::parse(NO_SHOP).unwrap());
    let storefront = Storefront::new(shop, Pool::with_ada()).expect("an HTTP client builds");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(storefront.handle(request))
}

fn get(uri: &str, cookies: &[&str]) -> Response<Body> {
    answer(event("GET", uri, "storefront", cookies, None))
}

fn session_token() -> String {
    csrf::form_token(Uuid::parse_str(SESSION).unwrap())
}

/// A post from one of the session's own pages: its cookie and form token.
fn post(uri: &str, form: &str) -> Response<Body> {
    let session = format!("session-id={SESSION}");
    let form = format!("csrf={}&{form}", session_token());
    let post = Post {
        form: &form,
        origin: Some(NO_SHOP),
    };
    answer(event("POST", uri, "storefront", &[&session], Some(&post)))
}

fn header<'r>(response: &'r Response<Body>, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

/// The response clears the shopper's token cookie.
fn assert_signs_out(response: &Response<Body>) {
    let cookies = cookies(response);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("shopper=; Path=/; Max-Age=0")),
        "{cookies:?}"
    );
}

fn cookies(response: &Response<Body>) -> Vec<&str> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
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

#[tokio::test]
async fn a_product_picture_is_a_cacheable_jpeg() {
    let request = event(
        "GET",
        "/images/products/RedFlashlight.jpg",
        "storefront-assets",
        &[],
        None,
    );
    let response = serve_asset(&Flags::none(), &request).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "content-type"), "image/jpeg");
    assert!(header(&response, "cache-control").contains("max-age=31536000"));
    let Body::Binary(bytes) = response.body() else {
        panic!("a picture is a binary body");
    };
    assert_eq!(bytes.len(), 369_585);
    assert!(bytes.starts_with(&[0xff, 0xd8, 0xff]));
}

#[tokio::test]
async fn a_picture_the_browser_holds_is_answered_304_without_bytes() {
    let first = serve_asset(
        &Flags::none(),
        &event("GET", "/static/shop.css", "storefront-assets", &[], None),
    )
    .await;
    let etag = header(&first, "etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() == 18, "{etag}");
    let (_, mut again) = api_event("GET", "/static/shop.css", None).unwrap();
    again["headers"]["if-none-match"] = format!("W/{etag}").into();
    let again = lambda_http::request::from_str(&again.to_string()).unwrap();
    let response = serve_asset(&Flags::none(), &again).await;
    assert_eq!(response.status().as_u16(), 304);
    assert_eq!(header(&response, "etag"), etag);
    assert!(matches!(response.body(), Body::Empty));
}

#[tokio::test]
async fn an_unknown_picture_or_file_is_a_404() {
    for uri in [
        "/images/products/NoSuchThing.jpg",
        "/static/..%2FCargo.toml",
        "/static/app.js",
    ] {
        let response = serve_asset(&Flags::none(), &event("GET", uri, "storefront-assets", &[], None)).await;
        assert_eq!(response.status().as_u16(), 404, "{uri}");
    }
}

#[test]
fn a_first_visit_gets_a_session_cookie_even_when_the_shop_is_down() {
    let response = get("/", &[]);
    assert_html_page(&response, 503, "Please try again in a moment");
    let cookie = header(&response, "set-cookie");
    assert!(cookie.starts_with("session-id="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    // The shop is http://: a client's `X-Forwarded-Proto: https` changes nothing.
    assert!(!cookie.contains("Secure"), "{cookie}");
}

#[test]
fn a_returning_visitor_keeps_their_session() {
    let response = get("/cart", &[&format!("session-id={SESSION}")]);
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(response.status().as_u16(), 503);
}

#[test]
fn the_sign_in_page_carries_the_sessions_form_token_even_when_the_shop_is_down() {
    let response = get("/signin?next=%2Forders", &[&format!("session-id={SESSION}")]);
    assert_html_page(&response, 200, "Sign in");
    let expected = session_token();
    let page = text(&response);
    assert!(
        page.contains(&format!(r#"name="csrf" value="{expected}""#)),
        "{page}"
    );
    assert!(page.contains(r#"name="next" value="/orders""#), "{page}");
}

#[test]
fn a_post_without_a_session_without_its_token_or_from_another_origin_is_a_403_page() {
    let session = format!("session-id={SESSION}");
    let token = session_token();
    let others = csrf::form_token(Uuid::new_v4());
    let with_token = format!("csrf={token}&productId=OLJCESPC7Z&quantity=1");
    let with_others = format!("csrf={others}&productId=OLJCESPC7Z&quantity=1");
    let cases = [
        ("no session", with_token.as_str(), &[][..], Some(NO_SHOP)),
        (
            "no token",
            "productId=OLJCESPC7Z&quantity=1",
            &[session.as_str()][..],
            Some(NO_SHOP),
        ),
        (
            "another session's token",
            &with_others,
            &[session.as_str()][..],
            Some(NO_SHOP),
        ),
        (
            "another origin",
            &with_token,
            &[session.as_str()][..],
            Some("http://localhost:9"),
        ),
        (
            "an opaque origin",
            &with_token,
            &[session.as_str()][..],
            Some("null"),
        ),
    ];
    for (case, form, sent, origin) in cases {
        for uri in ["/cart", "/cart/empty", "/checkout", "/signout", "/signin"] {
            let post = Post { form, origin };
            let response = answer(event("POST", uri, "storefront", sent, Some(&post)));
            // 403, not the 503 any call to the (absent) shop would give:
            // the post was refused before anything was asked of it.
            assert_html_page(&response, 403, "That form could not be accepted");
            assert!(
                !cookies_of_signing_in(&response),
                "{case}: {uri} signed someone in"
            );
            // The visitor's own session (and cart) is never replaced by
            // another site's post, which the browser sends without it.
            assert!(
                !cookies(&response).iter().any(|c| c.starts_with("session-id=")),
                "{case}: {uri} set a session: {:?}",
                cookies(&response)
            );
        }
    }
}

fn cookies_of_signing_in(response: &Response<Body>) -> bool {
    cookies(response)
        .iter()
        .any(|cookie| cookie.starts_with("shopper=") && !cookie.starts_with("shopper=;"))
}

#[test]
fn a_post_that_names_no_origin_is_held_to_its_token() {
    let session = format!("session-id={SESSION}");
    let form = format!("csrf={}", session_token());
    let post = Post {
        form: &form,
        origin: None,
    };
    let response = answer(event("POST", "/signout", "storefront", &[&session], Some(&post)));
    assert_eq!(response.status().as_u16(), 303, "{}", text(&response));
}

#[test]
fn adding_zero_or_too_many_is_a_422_page() {
    for quantity in ["0", "11", "100000000000"] {
        let response = post("/cart", &format!("productId=OLJCESPC7Z&quantity={quantity}"));
        assert_html_page(&response, 422, "between 1 and 10");
    }
}

#[test]
fn a_form_without_a_product_is_a_400_page() {
    let response = post("/cart", "quantity=1");
    assert_html_page(&response, 400, "the form has no productId");
    let response = post("/cart/remove", "productId=%3Cscript%3E");
    assert_html_page(&response, 400, "&lt;script&gt;");
}

#[test]
fn a_product_or_order_that_cannot_exist_or_an_order_without_its_key_is_a_404_page() {
    assert_html_page(
        &get("/product/not%20an%20id", &[]),
        404,
        "could not find that product",
    );
    for uri in [
        "/orders/a%2Fb",
        // A real order's id, but no key (or one that is not a key): the shop
        // is not even asked, which would be a 503 here.
        "/orders/3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11",
        "/orders/3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11?key=",
        "/orders/3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11?key=a%26b",
    ] {
        assert_html_page(&get(uri, &[]), 404, "could not find that order");
    }
}

#[test]
fn a_currency_that_is_not_a_code_is_a_400_page() {
    let response = post("/currency", "currencyCode=euro&next=%2F");
    assert_html_page(&response, 400, "is not a currency code");
}

#[test]
fn signing_in_keeps_the_token_in_an_http_only_cookie_and_goes_on_to_the_next_page() {
    let response = post(
        "/signin",
        &format!("email={ADA}&password={ADAS_PASSWORD}&next=%2Forders"),
    );
    assert_eq!(response.status().as_u16(), 303, "{}", text(&response));
    assert_eq!(header(&response, "location"), "/orders");
    let cookie = cookies(&response)
        .into_iter()
        .find(|cookie| cookie.starts_with("shopper="))
        .expect("a shopper cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=3"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(IdToken::parse(&cookie["shopper=".len()..cookie.find(';').unwrap()]).is_some());
}

#[test]
fn signing_in_never_sends_the_shopper_to_another_site() {
    let response = post(
        "/signin",
        &format!("email={ADA}&password={ADAS_PASSWORD}&next=https%3A%2F%2Fevil.example"),
    );
    assert_eq!(header(&response, "location"), "/");
}

#[test]
fn a_wrong_password_or_a_taken_email_is_the_form_again_with_why() {
    let wrong = post("/signin", &format!("email={ADA}&password=guess1234"));
    assert_html_page(&wrong, 422, "Wrong e-mail or password.");
    assert!(text(&wrong).contains(&format!(r#"value="{ADA}""#)));
    assert!(!text(&wrong).contains("guess1234"), "a password is never shown");
    assert!(!cookies_of_signing_in(&wrong));
    let taken = post("/signup", &format!("email={ADA}&password=another99"));
    assert_html_page(&taken, 409, "An account with this e-mail already exists");
    let invalid = post("/signup", "email=ada&password=another99");
    assert_html_page(&invalid, 422, "Enter an e-mail address");
}

#[test]
fn signing_up_signs_the_new_shopper_in() {
    let response = post("/signup", "email=grace%40example.com&password=another99");
    assert_eq!(response.status().as_u16(), 303, "{}", text(&response));
    assert_eq!(header(&response, "location"), "/");
    assert!(cookies_of_signing_in(&response), "{:?}", cookies(&response));
}

#[test]
fn signing_out_clears_the_token_and_an_ended_token_is_cleared_too() {
    let signed_in = format!("shopper={}", token(ADA, 600).as_str());
    let session = format!("session-id={SESSION}");
    let form = format!("csrf={}", session_token());
    let post = Post {
        form: &form,
        origin: Some(NO_SHOP),
    };
    let response = answer(event(
        "POST",
        "/signout",
        "storefront",
        &[&session, &signed_in],
        Some(&post),
    ));
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(header(&response, "location"), "/");
    assert_signs_out(&response);
    let response = get("/signin", &[&session, "shopper=not-a-token"]);
    assert_signs_out(&response);
}

#[test]
fn my_orders_sends_a_guest_to_sign_in() {
    let response = get("/orders", &[&format!("session-id={SESSION}")]);
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(header(&response, "location"), "/signin?next=%2Forders");
}

#[test]
fn filters_a_category_cannot_use_are_a_400_page_that_says_why_even_when_the_shop_is_down() {
    for (uri, says) in [
        (
            "/category/telescopes?minPrice=abc&maxPrice=&sort=price",
            "The lowest price &quot;abc&quot; is not an amount.",
        ),
        (
            "/category/telescopes?minPrice=500&maxPrice=100",
            "The lowest price (500) is above the highest (100).",
        ),
        (
            "/category/telescopes?sort=cheapest",
            "&quot;cheapest&quot; is not a way to sort.",
        ),
        (
            "/category/telescopes?cursor=%3Cscript%3E",
            "This page's link is not one of ours",
        ),
    ] {
        let response = get(uri, &[&format!("session-id={SESSION}")]);
        // 400, not the 503 asking the (absent) shop would give: bad input
        // is answered before the shop is asked.
        assert_html_page(&response, 400, says);
        assert!(
            text(&response).contains(r#"<form class="filters" method="get" action="/category/telescopes">"#)
        );
    }
}

#[test]
fn a_search_without_words_asks_for_some_and_a_search_with_the_shop_down_is_a_503_page() {
    let session = format!("session-id={SESSION}");
    assert_html_page(
        &get("/search?q=+", &[&session]),
        200,
        "Type what you are looking for",
    );
    assert_html_page(
        &get("/search?q=tele", &[&session]),
        503,
        "Please try again in a moment",
    );
    let long = "a".repeat(101);
    assert_html_page(
        &get(&format!("/search?q={long}"), &[&session]),
        400,
        "That search is too long",
    );
}

#[test]
fn a_page_of_my_orders_with_a_link_that_is_not_ours_is_a_400_page() {
    let signed_in = format!("shopper={}", token(ADA, 600).as_str());
    let session = format!("session-id={SESSION}");
    let response = get("/orders?cursor=a%26b", &[&session, &signed_in]);
    assert_html_page(&response, 400, "This page's link is not one of ours");
}
