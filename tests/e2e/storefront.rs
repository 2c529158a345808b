//! The storefront over HTTP, as a browser without JavaScript uses it: pages,
//! pictures, form posts (with the form token of the page they come from and
//! the shop's `Origin`, as a browser sends them), redirects and cookies;
//! forged posts refused; shopper accounts and the cart a guest brings to one;
//! search results and category pages, sorted and filtered with plain GET forms.

use std::cell::RefCell;

use anyhow::{Context, Result};
use astroshop_tests::{Shop, ensure_that};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, ORIGIN, SET_COOKIE};

pub const TESTS: &[(&str, crate::Test)] = tests![
    the_home_page_shows_the_ten_products_with_pictures_that_load,
    a_product_added_with_the_form_is_in_the_cart,
    switching_currency_changes_the_prices_shown,
    remove_and_empty_clear_the_cart,
    an_unknown_product_page_is_a_404_page,
    a_search_without_script_says_what_it_found_priced_in_the_shoppers_currency,
    a_category_sorted_by_price_high_to_low_lists_its_products_in_that_order,
    a_category_the_shop_does_not_have_is_a_404_and_bad_filters_a_400_page,
    bad_add_to_cart_input_is_an_error_page_not_a_500,
    checkout_places_an_order_whose_page_follows_it_to_confirmed,
    pictures_are_revalidated_with_their_etag,
    a_post_without_its_form_token_or_with_another_is_a_403_and_changes_nothing,
    a_post_from_another_origin_is_a_403_and_changes_nothing,
    a_guest_who_signs_up_keeps_their_cart_and_finds_it_again_after_signing_in,
    a_wrong_password_is_the_sign_in_form_again_with_why,
    a_token_the_shop_refuses_signs_the_shopper_out_not_a_500,
];

/// A password any user pool accepts (8+ characters, upper and lower case, a digit, a symbol).
pub const PASSWORD: &str = "Orbit-2026x";

/// An address no other test (or run) uses.
pub fn unique_email(what: &str) -> String {
    format!("{what}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// The form token of a page: what its forms carry in their `csrf` field.
pub fn form_token(html: &str) -> Option<&str> {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
}

/// The seeded catalogue: ids, and the USD and EUR prices shown for them.
pub const SEEDED: [(&str, &str, &str, &str); 10] = [
    (
        "OLJCESPC7Z",
        "National Park Foundation Explorascope",
        "$101.96",
        "€90.19",
    ),
    (
        "66VCHSJNUP",
        "Starsense Explorer Refractor Telescope",
        "$349.95",
        "€309.55",
    ),
    (
        "1YMWWN1N4O",
        "Eclipsmart Travel Refractor Telescope",
        "$129.95",
        "€114.95",
    ),
    ("L9ECAV7KIM", "Lens Cleaning Kit", "$21.95", "€19.42"),
    ("2ZYFJ3GM2N", "Roof Binoculars", "$209.95", "€185.71"),
    ("0PUK6V6EV0", "Solar System Color Imager", "$175.00", "€154.80"),
    ("LS4PSXUNUM", "Red Flashlight", "$57.08", "€50.49"),
    ("9SIQT8TOJO", "Optical Tube Assembly", "$3,599.00", "€3,183.55"),
    ("6E92ZMYYFZ", "Solar Filter", "$69.95", "€61.88"),
    ("HQTGWGPNH4", "The Comet Book", "$0.99", "€0.88"),
];

/// One shopper: their own cookies, no redirects followed (so each one can
/// be checked), and the form token of the last page they were shown.
pub struct Shopper<'s> {
    shop: &'s Shop,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    cookies: RefCell<Vec<(String, String)>>,
    form_token: RefCell<Option<String>>,
}

pub struct Page {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Page {
    pub fn status_code(&self) -> u16 {
        self.status
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

impl<'s> Shopper<'s> {
    pub fn new(shop: &'s Shop) -> Result<Self> {
        Ok(Self {
            shop,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(120))
                .build()?,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            cookies: RefCell::new(Vec::new()),
            form_token: RefCell::new(None),
        })
    }

    /// A page; a server error fails the test.
    pub fn get(&self, path: &str) -> Result<Page> {
        let page = self.send(self.http.get(self.url(path)), path)?;
        ensure_that!(
            page.status < 500,
            "{path} answered {}: {}",
            page.status,
            page.text()
        );
        Ok(page)
    }

    /// Posts a form from the last page shown, as a browser does: with that
    /// page's form token and the shop's origin. Gives whatever it answered
    /// (the caller checks the status).
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Page> {
        let token = self
            .form_token
            .borrow()
            .clone()
            .context("no page with forms was shown yet to post from")?;
        self.post_forged(path, form, Some(&token), Some(self.shop.base_url()))
    }

    /// Posts a form with the token and `Origin` given, whatever they are.
    fn post_forged(
        &self,
        path: &str,
        form: &[(&str, &str)],
        token: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Page> {
        let mut fields = form.to_vec();
        if let Some(token) = token {
            fields.push(("csrf", token));
        }
        let mut request = self.http.post(self.url(path)).form(&fields);
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        self.send(request, path)
    }

    /// Posts a form and follows its 303 to the page it leads to.
    pub fn submit(&self, path: &str, form: &[(&str, &str)]) -> Result<Page> {
        let answer = self.post(path, form)?;
        ensure_that!(
            answer.status == 303,
            "POST {path} answered {}: {}",
            answer.status,
            answer.text()
        );
        let location = answer.header("location").to_owned();
        ensure_that!(
            location.starts_with('/'),
            "POST {path} redirected to {location:?}"
        );
        self.get(&location)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shop.base_url())
    }

    fn send(&self, mut request: reqwest::RequestBuilder, path: &str) -> Result<Page> {
        let jar = self
            .cookies
            .borrow()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>();
        if !jar.is_empty() {
            request = request.header(COOKIE, jar.join("; "));
        }
        let page = self.runtime.block_on(async {
            let response = request
                .send()
                .await
                .with_context(|| format!("requesting {path}"))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.bytes().await?.to_vec();
            anyhow::Ok(Page {
                status,
                headers,
                body,
            })
        })?;
        for cookie in page
            .headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            if let Some((name, value)) = cookie.split(';').next().and_then(|pair| pair.split_once('=')) {
                let mut jar = self.cookies.borrow_mut();
                jar.retain(|(existing, _)| existing != name);
                if !cookie.contains("Max-Age=0") {
                    jar.push((name.to_owned(), value.to_owned()));
                }
            }
        }
        if let Some(token) = form_token(&page.text()) {
            self.form_token.replace(Some(token.to_owned()));
        }
        Ok(page)
    }
}

fn ensure_html(page: &Page, status: u16, path: &str) -> Result<String> {
    let text = page.text();
    ensure_that!(
        page.status == status,
        "{path}: status {}, expected {status}: {text}",
        page.status
    );
    ensure_that!(
        page.header("content-type").starts_with("text/html"),
        "{path} is {:?}",
        page.header("content-type")
    );
    ensure_that!(
        text.starts_with("<!DOCTYPE html>"),
        "{path} is not a page: {text}"
    );
    Ok(text)
}

fn the_home_page_shows_the_ten_products_with_pictures_that_load(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    let home = shopper.get("/")?;
    ensure_html(&home, 200, "/")?;
    let cookie = home.header("set-cookie");
    ensure_that!(
        cookie.starts_with("session-id=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "the first visit's cookie: {cookie:?}"
    );
    let html = seeded_home(&shopper)?;
    for (id, name, price, _) in SEEDED {
        let card = html
            .split("<article class=\"product-card\"")
            .find(|card| card.contains(&format!("data-product-id=\"{id}\"")))
            .with_context(|| format!("no card for {id}"))?;
        ensure_that!(card.contains(name), "the card of {id} lacks its name {name}");
        ensure_that!(card.contains(price), "the card of {id} lacks its price {price}");
        let picture = card
            .split("<img src=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .with_context(|| format!("the card of {id} has no picture"))?;
        let image = shopper.get(picture)?;
        ensure_that!(image.status == 200, "{picture}: status {}", image.status);
        ensure_that!(
            image.header("content-type") == "image/jpeg",
            "{picture}: {:?}",
            image.headers
        );
        ensure_that!(
            image.body.starts_with(&[0xff, 0xd8, 0xff]),
            "{picture} is not a JPEG"
        );
        ensure_that!(
            image.body.len() > 10_000,
            "{picture} is only {} bytes",
            image.body.len()
        );
    }
    let stylesheet = html
        .split("<link rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no stylesheet")?;
    let css = shopper.get(stylesheet)?;
    ensure_that!(
        css.status == 200 && css.header("content-type").starts_with("text/css"),
        "{stylesheet}: {} {:?}",
        css.status,
        css.headers
    );
    Ok(())
}

fn a_product_added_with_the_form_is_in_the_cart(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    let product = shopper.get("/product/OLJCESPC7Z")?;
    let html = ensure_html(&product, 200, "/product/OLJCESPC7Z")?;
    ensure_that!(html.contains("National Park Foundation Explorascope"), "{html}");
    ensure_that!(
        html.contains("name=\"quantity\""),
        "no quantity on the product page"
    );
    let cart = shopper.submit("/cart", &[("productId", "OLJCESPC7Z"), ("quantity", "2")])?;
    let html = ensure_html(&cart, 200, "/cart")?;
    ensure_that!(
        html.contains("data-product-id=\"OLJCESPC7Z\"") && html.contains("<span class=\"quantity\">2</span>"),
        "the cart does not hold 2 of OLJCESPC7Z: {html}"
    );
    // 2 × $101.96
    ensure_that!(html.contains("$203.92"), "no line total $203.92: {html}");
    ensure_that!(
        html.contains("data-cart-count=\"2\""),
        "the header does not count 2 items"
    );
    Ok(())
}

fn switching_currency_changes_the_prices_shown(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    shopper.get("/")?;
    let answer = shopper.post(
        "/currency",
        &[("currencyCode", "EUR"), ("next", "/product/LS4PSXUNUM")],
    )?;
    ensure_that!(
        answer.status == 303,
        "status {}: {}",
        answer.status,
        answer.text()
    );
    ensure_that!(
        answer.header("location") == "/product/LS4PSXUNUM",
        "{:?}",
        answer.headers
    );
    ensure_that!(
        answer.header("set-cookie").starts_with("currency=EUR"),
        "{:?}",
        answer.headers
    );
    let home = seeded_home(&shopper)?;
    for (id, _, usd, eur) in SEEDED {
        ensure_that!(home.contains(eur), "{id} is not shown at {eur}");
        ensure_that!(!home.contains(usd), "{id} is still shown at {usd}");
    }
    ensure_that!(
        home.contains("<option value=\"EUR\" selected>"),
        "the switcher does not show EUR"
    );
    let yen = shopper.submit("/currency", &[("currencyCode", "JPY"), ("next", "/")])?;
    let yen = ensure_html(&yen, 200, "/")?;
    ensure_that!(
        yen.contains("¥11,400"),
        "the Explorascope is not ¥11,400 in {yen}"
    );
    let unsupported = shopper.post("/currency", &[("currencyCode", "XYZ"), ("next", "/")])?;
    ensure_html(&unsupported, 422, "/currency")?;
    Ok(())
}

fn remove_and_empty_clear_the_cart(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    shopper.get("/")?;
    shopper.submit("/cart", &[("productId", "L9ECAV7KIM"), ("quantity", "1")])?;
    let cart = shopper.submit("/cart", &[("productId", "HQTGWGPNH4"), ("quantity", "3")])?;
    let html = ensure_html(&cart, 200, "/cart")?;
    ensure_that!(
        html.contains("Lens Cleaning Kit") && html.contains("The Comet Book"),
        "{html}"
    );
    let cart = shopper.submit("/cart/remove", &[("productId", "L9ECAV7KIM")])?;
    let html = ensure_html(&cart, 200, "/cart")?;
    ensure_that!(!html.contains("Lens Cleaning Kit"), "the kit was not removed");
    ensure_that!(html.contains("The Comet Book"), "the book went too");
    let cart = shopper.submit("/cart/empty", &[])?;
    let html = ensure_html(&cart, 200, "/cart")?;
    ensure_that!(html.contains("Your cart is empty."), "{html}");
    Ok(())
}

fn an_unknown_product_page_is_a_404_page(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    for path in ["/product/NOSUCHTHING", "/product/a%20b", "/orders/no%2Fsuch"] {
        let html = ensure_html(&shopper.get(path)?, 404, path)?;
        ensure_that!(html.contains("could not find"), "{path}: {html}");
    }
    Ok(())
}

/// The home page, listing every seeded product.
fn seeded_home(shopper: &Shopper<'_>) -> Result<String> {
    let html = ensure_html(&shopper.get("/")?, 200, "/")?;
    for (id, ..) in SEEDED {
        ensure_that!(
            html.contains(&format!("data-product-id=\"{id}\"")),
            "no card for {id}: {html}"
        );
    }
    Ok(html)
}

/// The (id, price) of each product card of a page, in the page's order.
fn cards_of(html: &str) -> Vec<(&str, &str)> {
    html.split("<article class=\"product-card\" data-product-id=\"")
        .skip(1)
        .filter_map(|card| {
            let id = card.split('"').next()?;
            let price = card.split("<p class=\"price\">").nth(1)?.split('<').next()?;
            Some((id, price))
        })
        .collect()
}

fn a_search_without_script_says_what_it_found_priced_in_the_shoppers_currency(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    shopper.get("/")?;
    shopper.submit("/currency", &[("currencyCode", "EUR"), ("next", "/")])?;
    let html = ensure_html(&shopper.get("/search?q=explorascope")?, 200, "/search")?;
    ensure_that!(
        html.contains("<h1>Results for <q class=\"searched\">explorascope</q></h1>"),
        "{html}"
    );
    ensure_that!(html.contains("1 product found for “explorascope”."), "{html}");
    ensure_that!(
        cards_of(&html) == [("OLJCESPC7Z", "€90.19")],
        "the results show {:?}",
        cards_of(&html)
    );
    ensure_that!(
        html.contains("name=\"q\" value=\"explorascope\""),
        "the box does not show the search"
    );
    let none = ensure_html(&shopper.get("/search?q=zzzyzx")?, 200, "/search")?;
    ensure_that!(none.contains("No products found for “zzzyzx”."), "{none}");
    Ok(())
}

fn a_category_sorted_by_price_high_to_low_lists_its_products_in_that_order(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    let path = "/category/telescopes?minPrice=&maxPrice=&sort=-price";
    let html = ensure_html(&shopper.get(path)?, 200, path)?;
    let ids: Vec<&str> = cards_of(&html).into_iter().map(|(id, _)| id).collect();
    // The six telescopes of the seeded catalogue, dearest first.
    let expected = [
        "9SIQT8TOJO",
        "66VCHSJNUP",
        "0PUK6V6EV0",
        "1YMWWN1N4O",
        "OLJCESPC7Z",
        "6E92ZMYYFZ",
    ];
    ensure_that!(ids == expected, "sorted high to low the category lists {ids:?}");
    ensure_that!(
        html.contains("<option value=\"-price\" selected>Price, high to low</option>"),
        "the form does not show the order asked"
    );
    ensure_that!(!html.contains("rel=\"next\""), "six products fit one page");
    let cheap = "/category/telescopes?minPrice=100&maxPrice=200&sort=price";
    let html = ensure_html(&shopper.get(cheap)?, 200, cheap)?;
    let ids: Vec<&str> = cards_of(&html).into_iter().map(|(id, _)| id).collect();
    ensure_that!(
        ids == ["OLJCESPC7Z", "1YMWWN1N4O", "0PUK6V6EV0"],
        "from $100 to $200 the category lists {ids:?}"
    );
    Ok(())
}

fn a_category_the_shop_does_not_have_is_a_404_and_bad_filters_a_400_page(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    let html = ensure_html(
        &shopper.get("/category/nosuchthing")?,
        404,
        "/category/nosuchthing",
    )?;
    ensure_that!(html.contains("We could not find that category."), "{html}");
    for (path, says) in [
        (
            "/category/telescopes?minPrice=abc",
            "The lowest price &quot;abc&quot; is not an amount.",
        ),
        (
            "/category/telescopes?minPrice=300&maxPrice=30",
            "The lowest price (300) is above the highest (30).",
        ),
        (
            "/category/telescopes?cursor=bm90LW91cnM",
            "query parameter &quot;cursor&quot;",
        ),
    ] {
        let html = ensure_html(&shopper.get(path)?, 400, path)?;
        ensure_that!(html.contains(says), "{path} does not say {says}: {html}");
    }
    Ok(())
}

fn bad_add_to_cart_input_is_an_error_page_not_a_500(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    shopper.get("/")?;
    let cases: [(&[(&str, &str)], u16); 5] = [
        (&[("productId", "NOSUCHTHING"), ("quantity", "1")], 404),
        (&[("productId", "OLJCESPC7Z"), ("quantity", "0")], 422),
        (&[("productId", "OLJCESPC7Z"), ("quantity", "1000000")], 422),
        (&[("productId", "OLJCESPC7Z"), ("quantity", "lots")], 400),
        (&[("quantity", "1")], 400),
    ];
    for (form, status) in cases {
        let page = shopper.post("/cart", form)?;
        ensure_html(&page, status, &format!("POST /cart {form:?}"))?;
    }
    Ok(())
}

/// The idempotency key a checkout page's form carries.
fn idempotency_key(form_page: &str) -> Result<String> {
    Ok(form_page
        .split("name=\"idempotencyKey\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no idempotency key in the form")?
        .to_owned())
}

/// The checkout form as a shopper fills it in, with a card that is accepted.
fn checkout_form(idempotency_key: &str) -> [(&str, &str); 11] {
    [
        ("idempotencyKey", idempotency_key),
        ("email", "someone@example.com"),
        ("streetAddress", "1600 Amphitheatre Parkway"),
        ("city", "Mountain View"),
        ("state", "CA"),
        ("zipCode", "94043"),
        ("country", "United States"),
        ("creditCardNumber", "4432-8015-6152-0454"),
        ("creditCardExpirationMonth", "1"),
        ("creditCardExpirationYear", "2030"),
        ("creditCardCvv", "672"),
    ]
}

/// Puts one `product` in the shopper's cart and checks out through the
/// storefront's forms; the order page's link (`/orders/{id}?key=`).
pub fn check_out(shopper: &Shopper, product: &str) -> Result<String> {
    shopper.get(&format!("/product/{product}"))?;
    shopper.submit("/cart", &[("productId", product), ("quantity", "1")])?;
    let form_page = ensure_html(&shopper.get("/checkout")?, 200, "/checkout")?;
    let key = idempotency_key(&form_page)?;
    let placed = shopper.post("/checkout", &checkout_form(&key))?;
    ensure_that!(placed.status == 303, "POST /checkout answered {}", placed.status);
    Ok(placed.header(LOCATION.as_str()).to_owned())
}

fn checkout_places_an_order_whose_page_follows_it_to_confirmed(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    shopper.get("/product/2ZYFJ3GM2N")?;
    shopper.submit("/cart", &[("productId", "2ZYFJ3GM2N"), ("quantity", "1")])?;
    let form_page = ensure_html(&shopper.get("/checkout")?, 200, "/checkout")?;
    ensure_that!(
        form_page.contains("Roof Binoculars"),
        "the summary lacks the binoculars"
    );
    let invalid = shopper.post("/checkout", &[("email", "nobody")])?;
    let html = ensure_html(&invalid, 422, "POST /checkout")?;
    ensure_that!(html.contains("Enter an e-mail address"), "{html}");
    let key = idempotency_key(&form_page)?;
    let form = checkout_form(&key);
    let placed = shopper.post("/checkout", &form)?;
    ensure_that!(placed.status == 303, "POST /checkout answered {}", placed.status);
    let location = placed.header(LOCATION.as_str()).to_owned();
    let (order_page, key) = location
        .split_once("?key=")
        .with_context(|| format!("checkout led to {location}, not an order's link"))?;
    ensure_that!(
        order_page.starts_with("/orders/") && !key.is_empty(),
        "checkout led to {location}"
    );
    // The page is the link's: without its key, or with another, there is no such order.
    for stranger in [order_page.to_owned(), format!("{order_page}?key=not{key}")] {
        let html = ensure_html(&shopper.get(&stranger)?, 404, &stranger)?;
        ensure_that!(html.contains("could not find that order"), "{stranger}: {html}");
    }
    // The form sent twice (a double click, a reload) is the same order.
    let again = shopper.post("/checkout", &form)?;
    ensure_that!(
        again.status == 303 && again.header(LOCATION.as_str()) == location,
        "the same form again led to {} {}",
        again.status,
        again.header(LOCATION.as_str())
    );
    let first = ensure_html(&shopper.get(&location)?, 200, &location)?;
    ensure_that!(first.contains("Thank you for your order"), "{first}");
    ensure_that!(
        first.contains("data-step=\"OrderPlaced\""),
        "no progress shown: {first}"
    );
    let confirmed = crate::search::eventually(
        "the order page shows CONFIRMED",
        crate::checkout::SAGA_DEADLINE,
        || {
            let page = ensure_html(&shopper.get(&location)?, 200, &location)?;
            Ok(if page.contains("data-status=\"CONFIRMED\"") {
                Ok(page)
            } else {
                Err("not yet".to_owned())
            })
        },
    )?;
    ensure_that!(
        confirmed.contains("Tracking number"),
        "no tracking number: {confirmed}"
    );
    ensure_that!(
        confirmed.contains("class=\"done\" data-step=\"OrderShipped\""),
        "{confirmed}"
    );
    ensure_that!(
        !confirmed.contains("http-equiv=\"refresh\""),
        "a settled order still refreshes"
    );
    crate::search::eventually("the cart emptied", crate::checkout::SAGA_DEADLINE, || {
        let cart = ensure_html(&shopper.get("/cart")?, 200, "/cart")?;
        Ok(if cart.contains("Roof Binoculars") {
            Err("still in the cart".to_owned())
        } else {
            Ok(())
        })
    })?;
    Ok(())
}

fn pictures_are_revalidated_with_their_etag(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    let first = shopper.get("/images/products/TheCometBook.jpg")?;
    ensure_that!(first.status == 200, "status {}", first.status);
    ensure_that!(
        first.header("cache-control").contains("max-age=31536000"),
        "{:?}",
        first.headers
    );
    let etag = first.header("etag").to_owned();
    let again = shopper.send(
        shopper
            .http
            .get(shopper.url("/images/products/TheCometBook.jpg"))
            .header("if-none-match", &etag),
        "/images/products/TheCometBook.jpg",
    )?;
    ensure_that!(
        again.status == 304,
        "status {} with If-None-Match {etag}",
        again.status
    );
    ensure_that!(again.body.is_empty(), "a 304 with {} bytes", again.body.len());
    Ok(())
}

/// The quantity of a product in the shopper's cart page (0 when absent).
fn quantity_in_cart(shopper: &Shopper<'_>, product: &str) -> Result<u32> {
    let html = ensure_html(&shopper.get("/cart")?, 200, "/cart")?;
    let Some(line) = html
        .split("<li class=\"cart-line\"")
        .find(|line| line.contains(&format!("data-product-id=\"{product}\"")))
    else {
        return Ok(0);
    };
    line.split("<span class=\"quantity\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no quantity on the cart line of {product}"))
}

fn ensure_refused(page: &Page, what: &str) -> Result<()> {
    let html = ensure_html(page, 403, what)?;
    ensure_that!(html.contains("That form could not be accepted"), "{what}: {html}");
    Ok(())
}

fn a_post_without_its_form_token_or_with_another_is_a_403_and_changes_nothing(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    shopper.get("/product/6E92ZMYYFZ")?;
    shopper.submit("/cart", &[("productId", "6E92ZMYYFZ"), ("quantity", "1")])?;
    let stranger = Shopper::new(shop)?;
    let strangers_page = stranger.get("/")?;
    let strangers_token = form_token(&strangers_page.text())
        .context("the home page has no form token")?
        .to_owned();
    let add = [("productId", "6E92ZMYYFZ"), ("quantity", "3")];
    let base = shop.base_url();
    ensure_refused(
        &shopper.post_forged("/cart", &add, None, Some(base))?,
        "POST /cart without a token",
    )?;
    ensure_refused(
        &shopper.post_forged("/cart", &add, Some(&strangers_token), Some(base))?,
        "POST /cart with another session's token",
    )?;
    ensure_refused(
        &shopper.post_forged("/cart/empty", &[], Some("forged"), Some(base))?,
        "POST /cart/empty with a made-up token",
    )?;
    // A browser without the session (a request another site makes where the
    // cookie is not sent) is refused even with a token.
    let cookieless = Shopper::new(shop)?;
    let page = cookieless.post_forged("/cart", &add, Some(&strangers_token), Some(base))?;
    ensure_refused(&page, "POST /cart without a session")?;
    let quantity = quantity_in_cart(&shopper, "6E92ZMYYFZ")?;
    ensure_that!(
        quantity == 1,
        "the cart holds {quantity} Solar Filters after refused posts, not 1"
    );
    Ok(())
}

fn a_post_from_another_origin_is_a_403_and_changes_nothing(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    shopper.get("/product/HQTGWGPNH4")?;
    shopper.submit("/cart", &[("productId", "HQTGWGPNH4"), ("quantity", "2")])?;
    let token = shopper
        .form_token
        .borrow()
        .clone()
        .context("the cart page has no form token")?;
    for origin in ["http://evil.example", "null"] {
        ensure_refused(
            &shopper.post_forged(
                "/cart",
                &[("productId", "HQTGWGPNH4"), ("quantity", "5")],
                Some(&token),
                Some(origin),
            )?,
            &format!("POST /cart from {origin}"),
        )?;
        ensure_refused(
            &shopper.post_forged("/cart/empty", &[], Some(&token), Some(origin))?,
            &format!("POST /cart/empty from {origin}"),
        )?;
    }
    let quantity = quantity_in_cart(&shopper, "HQTGWGPNH4")?;
    ensure_that!(
        quantity == 2,
        "the cart holds {quantity} Comet Books after posts from other origins, not 2"
    );
    Ok(())
}

fn signed_in_as(html: &str) -> Option<&str> {
    html.split("data-shopper=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
}

fn a_guest_who_signs_up_keeps_their_cart_and_finds_it_again_after_signing_in(shop: &Shop) -> Result<()> {
    let email = unique_email("keeps-cart");
    let shopper = Shopper::new(shop)?;
    shopper.get("/product/L9ECAV7KIM")?;
    shopper.submit("/cart", &[("productId", "L9ECAV7KIM"), ("quantity", "2")])?;
    let my_orders = shopper.get("/orders")?;
    ensure_that!(
        my_orders.status == 303 && my_orders.header("location") == "/signin?next=%2Forders",
        "a guest's /orders answered {} {:?}",
        my_orders.status,
        my_orders.header("location")
    );
    let signup = ensure_html(&shopper.get("/signup")?, 200, "/signup")?;
    ensure_that!(signup.contains("Create an account"), "{signup}");
    let answer = shopper.post(
        "/signup",
        &[("email", &email), ("password", PASSWORD), ("next", "/cart")],
    )?;
    ensure_that!(
        answer.status == 303 && answer.header("location") == "/cart",
        "signing up answered {} {:?}: {}",
        answer.status,
        answer.header("location"),
        answer.text()
    );
    let cookie = answer
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("shopper="))
        .context("signing up set no shopper cookie")?
        .to_owned();
    ensure_that!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Max-Age="),
        "the shopper cookie: {cookie}"
    );
    let cart = ensure_html(&shopper.get("/cart")?, 200, "/cart")?;
    ensure_that!(
        signed_in_as(&cart) == Some(email.as_str()),
        "the header does not name {email}"
    );
    ensure_that!(
        quantity_in_cart(&shopper, "L9ECAV7KIM")? == 2,
        "the account's cart lacks the guest's 2 lens kits: {cart}"
    );
    let orders = ensure_html(&shopper.get("/orders")?, 200, "/orders")?;
    ensure_that!(orders.contains("You have not placed an order yet."), "{orders}");

    let signed_out = shopper.post("/signout", &[])?;
    ensure_that!(
        signed_out.status == 303,
        "signing out answered {}",
        signed_out.status
    );
    let cart = ensure_html(&shopper.get("/cart")?, 200, "/cart")?;
    ensure_that!(signed_in_as(&cart).is_none(), "still signed in after signing out");
    ensure_that!(
        cart.contains("Your cart is empty."),
        "the guest cart was not emptied when its lines moved: {cart}"
    );

    shopper.get("/signin")?;
    let answer = shopper.post("/signin", &[("email", &email), ("password", PASSWORD)])?;
    ensure_that!(
        answer.status == 303 && answer.header("location") == "/",
        "signing in answered {} {:?}: {}",
        answer.status,
        answer.header("location"),
        answer.text()
    );
    ensure_that!(
        quantity_in_cart(&shopper, "L9ECAV7KIM")? == 2,
        "the account's cart is not there after signing in again"
    );
    Ok(())
}

fn a_wrong_password_is_the_sign_in_form_again_with_why(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    shopper.get("/signin")?;
    let email = unique_email("nobody");
    let page = shopper.post("/signin", &[("email", &email), ("password", PASSWORD)])?;
    let html = ensure_html(&page, 422, "POST /signin")?;
    ensure_that!(html.contains("Wrong e-mail or password."), "{html}");
    ensure_that!(!html.contains(PASSWORD), "the password was shown again");
    let taken = unique_email("taken");
    shopper.get("/signup")?;
    let first = shopper.post("/signup", &[("email", &taken), ("password", PASSWORD)])?;
    ensure_that!(first.status == 303, "signing up answered {}", first.status);
    shopper.post("/signout", &[])?;
    shopper.get("/signup")?;
    let again = shopper.post("/signup", &[("email", &taken), ("password", PASSWORD)])?;
    let html = ensure_html(&again, 409, "POST /signup again")?;
    ensure_that!(html.contains("already exists"), "{html}");
    let weak = shopper.post(
        "/signup",
        &[("email", &unique_email("weak")), ("password", "short")],
    )?;
    let html = ensure_html(&weak, 422, "POST /signup with a weak password")?;
    ensure_that!(html.contains("stronger password"), "{html}");
    Ok(())
}

fn a_token_the_shop_refuses_signs_the_shopper_out_not_a_500(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    shopper.get("/")?;
    // Well formed and not yet ended, but signed by nobody the gateway trusts.
    let claims = serde_json::json!({"sub": "x", "email": "mallory@example.com", "exp": 4_102_444_800_u64});
    let forged = format!(
        "eyJhbGciOiJSUzI1NiIsImtpZCI6ImR1bW15In0.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    shopper.cookies.borrow_mut().push(("shopper".to_owned(), forged));
    let page = shopper.get("/cart")?;
    ensure_that!(
        page.status == 303 && page.header("location") == "/signin?expired=1",
        "a refused token led to {} {:?}: {}",
        page.status,
        page.header("location"),
        page.text()
    );
    ensure_that!(
        !shopper.cookies.borrow().iter().any(|(name, _)| name == "shopper"),
        "the refused token's cookie was not cleared"
    );
    let signin = ensure_html(&shopper.get("/signin?expired=1")?, 200, "/signin")?;
    ensure_that!(signin.contains("Your sign-in has ended"), "{signin}");
    Ok(())
}
