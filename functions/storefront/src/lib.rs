//! Storefront: the shop as a person sees it. Server-rendered pages (home,
//! product, cart, checkout, order) and their form posts, built only on the
//! public HTTP API, the way any other client of the shop would use it; and the
//! pictures, stylesheet and script those pages load.
//!
//! Every answer is a page, never a bare error: bad form input is a 400 or 422
//! page, an unknown product or order a 404 page, and a service that is down or
//! not deployed yet a 503 page that says so, with the cart left as it was.

pub mod api;
pub mod assets;
pub mod forms;
pub mod pages;
pub mod price;
pub mod visit;

use std::time::Duration;

use astroshop_domain::{CurrencyCode, Money, MoneyError, Product, ProductId};
use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use lambda_http::http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use maud::Markup;

use crate::api::{Ad, ApiCallError, Cart, CheckoutRequest, ShopApi};
use crate::forms::{AddToCart, CheckoutFields, ChooseCurrency, Form, FormError};
use crate::pages::{Chrome, Notice, Totals};
use crate::visit::Visit;

/// Why a page could not be shown as asked; rendered as a page of its own.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    title: &'static str,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", message)
    }

    /// A service the page needs did not answer as it should.
    fn unavailable(error: &ApiCallError) -> Self {
        tracing::error!(%error, "a service the page needs failed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again in a moment",
            "Part of the shop is not answering right now. Nothing has been lost; please try again shortly.",
        )
    }

    fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "the storefront failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Something went wrong on our side. Please try again.",
        )
    }
}

impl From<FormError> for Failure {
    fn from(error: FormError) -> Self {
        match error {
            FormError::Malformed(message) => Self::new(StatusCode::BAD_REQUEST, "That did not work", message),
            FormError::Invalid(message) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "That did not work", message)
            }
        }
    }
}

/// A service's answer the shopper can act on (bad input, a conflict) is
/// passed on with its status; anything else means the shop is unwell.
fn from_api(error: ApiCallError) -> Failure {
    match &error {
        ApiCallError::Rejected { status, message, .. } if status.is_client_error() => {
            Failure::new(*status, "That did not work", message.clone())
        }
        _ => Failure::unavailable(&error),
    }
}

type PageResult = Result<Response<Body>, Failure>;

/// The pages Lambda: one HTTP client per cold start, shared by every request.
pub struct Storefront {
    http: reqwest::Client,
}

impl Storefront {
    pub fn new() -> Result<Self, reqwest::Error> {
        // Below the function's timeout, so a slow service still gets a page.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(3))
            .build()?;
        Ok(Self { http })
    }

    /// Answers one request of the storefront's routes.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let visit = Visit::of(request.headers());
        let api = ShopApi::new(&self.http, &visit.api_base);
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let method = request.method().clone();
        let page = match (&method, segments.as_slice()) {
            (&Method::GET, []) => home(&api, &visit).await,
            (&Method::GET, ["product", id]) => product_page(&api, &visit, id, &path).await,
            (&Method::GET, ["cart"]) => cart_page(&api, &visit).await,
            (&Method::POST, ["cart"]) => add_to_cart(&api, &visit, &request).await,
            (&Method::POST, ["cart", "remove"]) => remove_from_cart(&api, &visit, &request).await,
            (&Method::POST, ["cart", "empty"]) => empty_cart(&api, &visit).await,
            (&Method::POST, ["currency"]) => choose_currency(&api, &visit, &request).await,
            (&Method::GET, ["checkout"]) => checkout_page(&api, &visit).await,
            (&Method::POST, ["checkout"]) => place_order(&api, &visit, &request).await,
            (&Method::GET, ["orders", id]) => order_page(&api, &visit, id, &path).await,
            _ => Err(Failure::not_found("There is no page at this address.")),
        };
        let mut response = match page {
            Ok(response) => response,
            Err(failure) => failure_page(&api, &visit, failure, &path).await,
        };
        if visit.new_session
            && let Ok(cookie) = HeaderValue::from_str(&visit.session_cookie())
        {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
        response
    }
}

/// `GET /images/products/{picture}` and `GET /static/{file}`: the assets Lambda.
pub fn serve_asset(request: &Request) -> Response<Body> {
    let path = request.uri().path();
    let asset = if let Some(name) = path.strip_prefix("/images/products/") {
        assets::picture(name)
    } else if let Some(name) = path.strip_prefix("/static/") {
        assets::static_file(name)
    } else {
        None
    };
    match asset {
        Some(asset) => asset.respond(request.headers()),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header(CONTENT_TYPE, "text/plain; charset=utf-8")
            .header(CACHE_CONTROL, "no-store")
            .body(Body::Text("no such file".to_owned()))
            .expect("static headers always build a response"),
    }
}

/// An HTML page. Pages show a shopper's own cart, so no cache may keep them.
fn html(status: StatusCode, markup: Markup) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .header(CACHE_CONTROL, "no-store")
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "same-origin")
        .header(
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'",
        )
        .body(Body::Text(markup.into_string()))
        .expect("static headers always build a response")
}

/// 303 See Other: after a form post, the browser loads `location` with GET,
/// so reloading the page never posts the form twice.
fn see_other(location: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(LOCATION, location)
        .header(CACHE_CONTROL, "no-store")
        .body(Body::Empty)
        .expect("a path is a valid location")
}

/// The header's data: the currencies to switch to and the cart's size.
/// Neither may stop a page from showing, so failures leave them out.
struct Header {
    currencies: Vec<CurrencyCode>,
    cart_count: Option<u32>,
}

impl Header {
    fn chrome<'a>(&'a self, visit: &'a Visit, path: &'a str) -> Chrome<'a> {
        Chrome {
            currency: &visit.currency,
            currencies: &self.currencies,
            cart_count: self.cart_count,
            path,
        }
    }
}

async fn header(api: &ShopApi<'_>, visit: &Visit, cart: Option<&Cart>) -> Header {
    let (currencies, cart_count) = match cart {
        Some(cart) => (api.currencies().await, Some(cart.item_count())),
        None => {
            let (currencies, cart) =
                tokio::join!(api.currencies(), api.cart(visit.session_id, &visit.currency));
            (currencies, cart.ok().map(|cart| cart.item_count()))
        }
    };
    Header {
        currencies: currencies.unwrap_or_else(|error| {
            tracing::warn!(%error, "the currency list is not available");
            vec![visit.currency.clone()]
        }),
        cart_count,
    }
}

async fn failure_page(api: &ShopApi<'_>, visit: &Visit, failure: Failure, path: &str) -> Response<Body> {
    let header = header(api, visit, None).await;
    let markup = pages::message(&header.chrome(visit, path), failure.title, &failure.message);
    html(failure.status, markup)
}

/// An ad that fits the context; the shop is whole without one.
async fn ad_for(api: &ShopApi<'_>, context_keys: &[String]) -> Option<Ad> {
    match api.ads(context_keys).await {
        Ok(ads) => ads.into_iter().next(),
        Err(error) => {
            tracing::warn!(%error, "no ad to show");
            None
        }
    }
}

async fn home(api: &ShopApi<'_>, visit: &Visit) -> PageResult {
    let (products, header, ad) = tokio::join!(
        api.products(&visit.currency),
        header(api, visit, None),
        ad_for(api, &[])
    );
    let products = products.map_err(from_api)?;
    let markup = pages::home(&header.chrome(visit, "/"), &products, ad.as_ref());
    Ok(html(StatusCode::OK, markup))
}

fn parse_product_id(text: &str) -> Result<ProductId, Failure> {
    ProductId::parse(text).map_err(|_| Failure::not_found("We could not find that product."))
}

async fn product_page(api: &ShopApi<'_>, visit: &Visit, id: &str, path: &str) -> PageResult {
    let id = parse_product_id(id)?;
    let (product, recommendations, header) = tokio::join!(
        api.product(&id, &visit.currency),
        api.recommendations(&id, visit.session_id, &visit.currency),
        header(api, visit, None)
    );
    let product = product.map_err(|error| {
        if error.is_not_found() {
            Failure::not_found("We could not find that product. It may no longer be sold.")
        } else {
            from_api(error)
        }
    })?;
    let recommendations = recommendations.unwrap_or_else(|error| {
        tracing::warn!(%error, "no recommendations to show");
        Vec::new()
    });
    let ad = ad_for(api, &product.categories).await;
    let markup = pages::product(
        &header.chrome(visit, path),
        &product,
        &recommendations,
        ad.as_ref(),
    );
    Ok(html(StatusCode::OK, markup))
}

/// The cart, or a page saying it cannot be read.
async fn read_cart(api: &ShopApi<'_>, visit: &Visit) -> Result<Cart, Failure> {
    api.cart(visit.session_id, &visit.currency)
        .await
        .map_err(|error| match error {
            ApiCallError::NotServed(_) => {
                tracing::error!(%error, "the cart API is not deployed");
                Failure::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The cart is not open yet",
                    "Carts are not available in this deployment of the shop yet. Please come back soon.",
                )
            }
            other => from_api(other),
        })
}

/// The cart's subtotal, the shipping quote (left out when it cannot be had)
/// and the total, all in exact money.
async fn totals(api: &ShopApi<'_>, visit: &Visit, cart: &Cart) -> Result<Option<Totals>, Failure> {
    if cart.items.is_empty() {
        return Ok(None);
    }
    let subtotal = cart
        .items
        .iter()
        .try_fold(Money::zero(visit.currency.clone()), |sum, line| {
            sum.checked_add(&line.product.price_usd.checked_mul(line.quantity)?)
        })
        .map_err(|error: MoneyError| Failure::internal(format!("adding up the cart: {error}")))?;
    let shipping = match api
        .shipping_quote(cart, &visit.currency, &api::quote_address())
        .await
    {
        Ok(quote) => Some(quote),
        Err(error) => {
            tracing::warn!(%error, "no shipping quote");
            None
        }
    };
    let total = match &shipping {
        Some(shipping) => subtotal
            .checked_add(shipping)
            .map_err(|error| Failure::internal(format!("adding shipping: {error}")))?,
        None => subtotal.clone(),
    };
    Ok(Some(Totals {
        subtotal,
        shipping,
        total,
    }))
}

async fn cart_page(api: &ShopApi<'_>, visit: &Visit) -> PageResult {
    let cart = read_cart(api, visit).await?;
    let (header, totals) = tokio::join!(header(api, visit, Some(&cart)), totals(api, visit, &cart));
    let markup = pages::cart(&header.chrome(visit, "/cart"), &cart, totals?.as_ref());
    Ok(html(StatusCode::OK, markup))
}

fn form_of(request: &Request) -> Result<Form, Failure> {
    let bytes: &[u8] = match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    Ok(Form::parse(bytes)?)
}

async fn add_to_cart(api: &ShopApi<'_>, visit: &Visit, request: &Request) -> PageResult {
    let add = AddToCart::from_form(&form_of(request)?)?;
    // The product must exist: the cart keeps what it is given.
    api.product(&add.product_id, &visit.currency)
        .await
        .map_err(|error| {
            if error.is_not_found() {
                Failure::not_found(format!(
                    "There is no product {} to add to the cart.",
                    add.product_id
                ))
            } else {
                from_api(error)
            }
        })?;
    api.add_to_cart(visit.session_id, &add.product_id, add.quantity)
        .await
        .map_err(cart_write_failure)?;
    Ok(see_other("/cart"))
}

fn cart_write_failure(error: ApiCallError) -> Failure {
    match error {
        ApiCallError::NotServed(_) => Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The cart is not open yet",
            "Carts are not available in this deployment of the shop yet. Please come back soon.",
        ),
        other => from_api(other),
    }
}

async fn remove_from_cart(api: &ShopApi<'_>, visit: &Visit, request: &Request) -> PageResult {
    let product_id = forms::product_id(&form_of(request)?)?;
    match api.remove_from_cart(visit.session_id, &product_id).await {
        // Already gone (removed in another tab): the cart is as asked.
        Err(error) if error.is_not_found() => Ok(see_other("/cart")),
        Err(error) => Err(cart_write_failure(error)),
        Ok(()) => Ok(see_other("/cart")),
    }
}

async fn empty_cart(api: &ShopApi<'_>, visit: &Visit) -> PageResult {
    api.empty_cart(visit.session_id)
        .await
        .map_err(cart_write_failure)?;
    Ok(see_other("/cart"))
}

async fn choose_currency(api: &ShopApi<'_>, visit: &Visit, request: &Request) -> PageResult {
    let choice = ChooseCurrency::from_form(&form_of(request)?)?;
    let supported = api.currencies().await.map_err(from_api)?;
    if !supported.contains(&choice.currency) {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That currency is not available",
            format!(
                "The shop does not sell in {}; please pick one from the list.",
                choice.currency
            ),
        ));
    }
    let mut response = see_other(&choice.back_to);
    let cookie = HeaderValue::from_str(&visit.currency_cookie(&choice.currency))
        .map_err(|error| Failure::internal(format!("currency cookie: {error}")))?;
    response.headers_mut().append(SET_COOKIE, cookie);
    Ok(response)
}

async fn checkout_page(api: &ShopApi<'_>, visit: &Visit) -> PageResult {
    let cart = read_cart(api, visit).await?;
    show_checkout(api, visit, &cart, &CheckoutFields::sample(), None, StatusCode::OK).await
}

async fn show_checkout(
    api: &ShopApi<'_>,
    visit: &Visit,
    cart: &Cart,
    fields: &CheckoutFields,
    notice: Option<Notice<'_>>,
    status: StatusCode,
) -> PageResult {
    let (header, totals) = tokio::join!(header(api, visit, Some(cart)), totals(api, visit, cart));
    let markup = pages::checkout(
        &header.chrome(visit, "/checkout"),
        cart,
        totals?.as_ref(),
        fields,
        notice,
    );
    Ok(html(status, markup))
}

async fn place_order(api: &ShopApi<'_>, visit: &Visit, request: &Request) -> PageResult {
    let form = form_of(request)?;
    let cart = read_cart(api, visit).await?;
    let fields = CheckoutFields::from_form(&form);
    if cart.items.is_empty() {
        let notice = Notice::Info("Your cart is empty, so no order was placed.");
        return show_checkout(api, visit, &cart, &fields, Some(notice), StatusCode::CONFLICT).await;
    }
    let details = match forms::checkout_details(&form) {
        Ok(details) => details,
        Err(problems) => {
            let notice = Some(Notice::Problems(&problems));
            return show_checkout(
                api,
                visit,
                &cart,
                &fields,
                notice,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let order = CheckoutRequest {
        user_id: visit.session_id.to_string(),
        email: details.email,
        address: details.address,
        user_currency: visit.currency.clone(),
        credit_card: details.card,
    };
    match api.place_order(&order, details.idempotency_key).await {
        Ok(placed) => match order_id(&placed.order_id) {
            Some(id) => Ok(see_other(&format!("/orders/{id}"))),
            None => Err(Failure::internal(format!(
                "checkout answered an order id that is not safe in a URL: {:?}",
                placed.order_id
            ))),
        },
        Err(ApiCallError::NotServed(_)) => {
            let notice = Notice::Info(
                "Checkout is not open yet in this deployment of the shop. Your cart is saved and nothing was charged.",
            );
            show_checkout(
                api,
                visit,
                &cart,
                &fields,
                Some(notice),
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await
        }
        Err(ApiCallError::Rejected { status, message, .. }) if status.is_client_error() => {
            let problems = [message];
            let notice = Some(Notice::Problems(&problems));
            show_checkout(api, visit, &cart, &fields, notice, status).await
        }
        Err(error) => {
            tracing::error!(%error, "checkout failed");
            let notice = Notice::Info(
                "We could not place your order just now. Your cart is saved and nothing was charged; please try again.",
            );
            show_checkout(
                api,
                visit,
                &cart,
                &fields,
                Some(notice),
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await
        }
    }
}

/// Order ids are opaque, but only plain ones are put in a URL.
fn order_id(text: &str) -> Option<&str> {
    let plain = (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plain.then_some(text)
}

async fn order_page(api: &ShopApi<'_>, visit: &Visit, id: &str, path: &str) -> PageResult {
    let id = order_id(id).ok_or_else(|| Failure::not_found("We could not find that order."))?;
    let (order, products, header) = tokio::join!(
        api.order(id),
        api.products(&visit.currency),
        header(api, visit, None)
    );
    let order = order.map_err(|error| match error {
        ApiCallError::NotServed(_) => Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Order pages are not open yet",
            "Orders cannot be looked up in this deployment of the shop yet. Please come back soon.",
        ),
        error if error.is_not_found() => Failure::not_found("We could not find that order."),
        error => from_api(error),
    })?;
    let products: Vec<Product> = products.unwrap_or_default();
    let names = |id: &ProductId| products.iter().find(|p| &p.id == id).map(|p| p.name.clone());
    let markup = pages::order(&header.chrome(visit, path), &order, &names);
    Ok(html(StatusCode::OK, markup))
}
