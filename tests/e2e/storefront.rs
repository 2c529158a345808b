//! The storefront over HTTP, as a browser without JavaScript uses it: pages,
//! pictures, form posts, redirects and cookies.

use std::cell::RefCell;

use anyhow::{Context, Result};
use astroshop_tests::{Shop, ensure_that};
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};

pub const TESTS: &[(&str, crate::Test)] = tests![
    the_home_page_shows_the_ten_products_with_pictures_that_load,
    a_product_added_with_the_form_is_in_the_cart,
    switching_currency_changes_the_prices_shown,
    remove_and_empty_clear_the_cart,
    an_unknown_product_page_is_a_404_page,
    bad_add_to_cart_input_is_an_error_page_not_a_500,
    checkout_places_an_order_whose_page_follows_it_to_confirmed,
    pictures_are_revalidated_with_their_etag,
];

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
/// be checked).
struct Shopper<'s> {
    shop: &'s Shop,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    cookies: RefCell<Vec<(String, String)>>,
}

struct Page {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Page {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

impl<'s> Shopper<'s> {
    fn new(shop: &'s Shop) -> Result<Self> {
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
        })
    }

    /// A page; a server error fails the test.
    fn get(&self, path: &str) -> Result<Page> {
        let page = self.send(self.http.get(self.url(path)), path)?;
        ensure_that!(
            page.status < 500,
            "{path} answered {}: {}",
            page.status,
            page.text()
        );
        Ok(page)
    }

    /// Posts a form and gives whatever it answered (the caller checks the status).
    fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Page> {
        self.send(self.http.post(self.url(path)).form(form), path)
    }

    /// Posts a form and follows its 303 to the page it leads to.
    fn submit(&self, path: &str, form: &[(&str, &str)]) -> Result<Page> {
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
                jar.push((name.to_owned(), value.to_owned()));
            }
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
    let html = ensure_html(&home, 200, "/")?;
    let cookie = home.header("set-cookie");
    ensure_that!(
        cookie.starts_with("session-id=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "the first visit's cookie: {cookie:?}"
    );
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
    let home = ensure_html(&shopper.get("/")?, 200, "/")?;
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

fn bad_add_to_cart_input_is_an_error_page_not_a_500(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
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

fn checkout_places_an_order_whose_page_follows_it_to_confirmed(shop: &Shop) -> Result<()> {
    let shopper = Shopper::new(shop)?;
    shopper.submit("/cart", &[("productId", "2ZYFJ3GM2N"), ("quantity", "1")])?;
    let form_page = ensure_html(&shopper.get("/checkout")?, 200, "/checkout")?;
    ensure_that!(
        form_page.contains("Roof Binoculars"),
        "the summary lacks the binoculars"
    );
    let invalid = shopper.post("/checkout", &[("email", "nobody")])?;
    let html = ensure_html(&invalid, 422, "POST /checkout")?;
    ensure_that!(html.contains("Enter an e-mail address"), "{html}");
    let key = form_page
        .split("name=\"idempotencyKey\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no idempotency key in the form")?
        .to_owned();
    let form = [
        ("idempotencyKey", key.as_str()),
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
    ];
    let placed = shopper.post("/checkout", &form)?;
    ensure_that!(placed.status == 303, "POST /checkout answered {}", placed.status);
    let location = placed.header(LOCATION.as_str()).to_owned();
    ensure_that!(location.starts_with("/orders/"), "checkout led to {location}");
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
