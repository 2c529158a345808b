//! Storefront: the shop as a person sees it. Server-rendered pages (home,
//! search results, a category, product, cart, checkout, an order, my
//! orders, sign-up and sign-in) and
//! their form posts, built only on the public HTTP API, the way any other
//! client of the shop would use it; shopper accounts in the shop's user
//! pool; and the pictures, stylesheet and script those pages load.
//!
//! Every answer is a page, never a bare error: bad form input is a 400 or 422
//! page, an unknown product or order a 404 page, and a service that is down or
//! not deployed yet a 503 page that says so, with the cart left as it was.
//! Every post must come from one of the visitor's own pages (the form token
//! of their session, no foreign `Origin`), else it is a 403 page and nothing
//! changes. A shopper whose token the API refuses is signed out and sent to
//! sign in again. A checkout names the visitor's address to the API, signed
//! with the client key, so the checkout limit counts each visitor apart.

pub mod accounts;
pub mod api;
pub mod assets;
pub mod browse;
pub mod config;
pub mod csrf;
pub mod forms;
pub mod pages;
pub mod price;
pub mod visit;

use std::time::{Duration, SystemTime};

use astroshop_domain::{CurrencyCode, Money, MoneyError, OrderId, Product, ProductId};
use astroshop_edge::ClientKey;
use astroshop_edge::client::source_address;
use astroshop_flags::{Flag, Flags};
use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use lambda_http::http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use maud::Markup;

use crate::accounts::{AccountError, IdToken, Shoppers};
use crate::api::{
    Ad, ApiCallError, Cart, Category, CheckoutRequest, Listing, OrderKey, ShopApi, Shopper, Vouched,
};
use crate::browse::{CategoryQuery, Filters, SearchQuery};
use crate::config::{ShopAddress, ShopUrl, TracePage};
use crate::forms::{AddToCart, CheckoutFields, ChooseCurrency, Credentials, Form, FormError};
use crate::pages::{
    AccountForm, AccountPage, CategoryListing, Chrome, Notice, SearchResults, Totals, TypedFilters,
};
use crate::visit::{SHOPPER_COOKIE, Visit};

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

    /// A post that did not come from one of the visitor's own pages.
    fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "That form could not be accepted",
            "It did not come from one of this shop's pages, or the page was too old. Nothing was changed. \
             Please go back, reload the page and try again.",
        )
    }

    /// The API refused the shopper's token: they are signed out (see `handle`).
    fn signed_out() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Please sign in again",
            "Your sign-in has ended.",
        )
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
/// passed on with its status; a refused token signs the shopper out;
/// anything else means the shop is unwell.
fn from_api(error: ApiCallError) -> Failure {
    match &error {
        ApiCallError::Unauthorized(_) => Failure::signed_out(),
        ApiCallError::Rejected { status, message, .. } if status.is_client_error() => {
            Failure::new(*status, "That did not work", message.clone())
        }
        _ => Failure::unavailable(&error),
    }
}

type PageResult = Result<Response<Body>, Failure>;

/// The storefront's form posts. Each is accepted only with the visitor's
/// session, their form token and no foreign `Origin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Post {
    AddToCart,
    RemoveFromCart,
    EmptyCart,
    ChooseCurrency,
    PlaceOrder,
    SignUp,
    SignIn,
    SignOut,
}

impl Post {
    fn at(segments: &[&str]) -> Option<Self> {
        Some(match segments {
            ["cart"] => Self::AddToCart,
            ["cart", "remove"] => Self::RemoveFromCart,
            ["cart", "empty"] => Self::EmptyCart,
            ["currency"] => Self::ChooseCurrency,
            ["checkout"] => Self::PlaceOrder,
            ["signup"] => Self::SignUp,
            ["signin"] => Self::SignIn,
            ["signout"] => Self::SignOut,
            _ => return None,
        })
    }
}

/// The pages Lambda: one HTTP client per cold start, shared by every
/// request; where the shop is; the shoppers' accounts; and the key it
/// vouches for its visitors' addresses with (without one, its checkouts
/// count as its own address's).
pub struct Storefront<S> {
    http: reqwest::Client,
    address: ShopAddress,
    shoppers: S,
    clients: Option<ClientKey>,
    trace_page: Option<TracePage>,
}

impl<S: Shoppers> Storefront<S> {
    pub fn new(address: ShopAddress, shoppers: S) -> Result<Self, reqwest::Error> {
        // Below the function's timeout, so a slow service still gets a page.
        let builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(3));
        // A shop on plain HTTP (the local stack's) is called without TLS: a
        // client that trusts no certificate loads none at cold start.
        let http = match &address {
            ShopAddress::Configured(url) if !url.is_secure() => builder.tls_certs_only([]),
            _ => builder,
        }
        .build()?;
        Ok(Self {
            http,
            address,
            shoppers,
            clients: None,
            trace_page: None,
        })
    }

    /// Order pages link their checkout's trace on `page` (the local trace
    /// viewer).
    pub fn linking_traces_to(self, page: Option<TracePage>) -> Self {
        Self {
            trace_page: page,
            ..self
        }
    }

    /// Names each visitor's address to checkout, signed with `key`.
    pub fn vouching_with(self, key: ClientKey) -> Self {
        Self {
            clients: Some(key),
            ..self
        }
    }

    /// The visitor's address, as API Gateway saw it, signed for checkout.
    async fn vouch_for_visitor(&self, request: &Request) -> Result<Option<Vouched>, Failure> {
        let (Some(key), Some(address)) = (&self.clients, source_address(request)) else {
            return Ok(None);
        };
        let signature = key.vouch_for(address).await.map_err(Failure::internal)?;
        Ok(Some(Vouched { address, signature }))
    }

    /// Answers one request of the storefront's routes.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let Some(shop) = self.address.for_request(&request) else {
            let failure = Failure::internal("SHOP_URL is not set and the request names no domain");
            let usd = CurrencyCode::usd();
            let chrome = Chrome {
                currency: &usd,
                currencies: &[],
                cart_count: None,
                path: "/",
                form_token: "",
                shopper: None,
                categories: &[],
                search: "",
            };
            return html(
                failure.status,
                pages::message(&chrome, failure.title, &failure.message),
            );
        };
        let now = SystemTime::now();
        let visit = Visit::of(request.headers(), &shop, now);
        let api = ShopApi::new(&self.http, shop.origin());
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let query = request.query_string_parameters_ref();
        let query = |name: &str| query.and_then(|query| query.first(name));
        let method = request.method().clone();
        let page = match (&method, segments.as_slice()) {
            (&Method::GET, []) => home(&api, &visit).await,
            (&Method::GET, ["product", id]) => product_page(&api, &visit, id, &path).await,
            (&Method::GET, ["cart"]) => cart_page(&api, &visit).await,
            (&Method::GET, ["checkout"]) => checkout_page(&api, &visit).await,
            (&Method::GET, ["search"]) => search_page(&api, &visit, &query).await,
            (&Method::GET, ["category", name]) => category_page(&api, &visit, name, &query).await,
            (&Method::GET, ["orders"]) => my_orders_page(&api, &visit, &query).await,
            (&Method::GET, ["orders", id]) => {
                order_page(&api, &visit, id, query("key"), self.trace_page.as_ref()).await
            }
            (&Method::GET, [name @ ("signin" | "signup")]) => {
                let page = if *name == "signin" {
                    AccountPage::SignIn
                } else {
                    AccountPage::SignUp
                };
                let next = forms::local_path(query("next"));
                let notice =
                    query("expired").map(|_| Notice::Info("Your sign-in has ended. Please sign in again."));
                let form = AccountForm {
                    email: "",
                    next: &next,
                    notice,
                };
                account_page(&api, &visit, page, form, StatusCode::OK).await
            }
            (&Method::POST, segments) => match Post::at(segments) {
                Some(post) => self.post(&api, &visit, &shop, &request, post, now).await,
                None => Err(Failure::not_found("There is no page at this address.")),
            },
            _ => Err(Failure::not_found("There is no page at this address.")),
        };
        let mut response = match page {
            Ok(response) => response,
            Err(failure) if failure.status == StatusCode::UNAUTHORIZED => {
                let mut response = see_other("/signin?expired=1");
                set_cookie(&mut response, &visit.signed_out_cookie());
                response
            }
            Err(failure) => failure_page(&api, &visit, failure, &path).await,
        };
        // Only a page starts a session. A post without one is another site's
        // (the browser keeps a SameSite=Lax cookie from it): a new cookie in
        // its answer would replace the visitor's own, and their cart with it.
        if visit.new_session && method == Method::GET {
            set_cookie(&mut response, &visit.session_cookie());
        }
        if visit.stale_token && !sets_cookie(&response, SHOPPER_COOKIE) {
            set_cookie(&mut response, &visit.signed_out_cookie());
        }
        response
    }

    /// A form post, once it has proven it comes from the visitor's own page.
    async fn post(
        &self,
        api: &ShopApi<'_>,
        visit: &Visit,
        shop: &ShopUrl,
        request: &Request,
        post: Post,
        now: SystemTime,
    ) -> PageResult {
        let form = accepted_form(request, visit, shop)?;
        match post {
            Post::AddToCart => add_to_cart(api, visit, &form).await,
            Post::RemoveFromCart => remove_from_cart(api, visit, &form).await,
            Post::EmptyCart => empty_cart(api, visit).await,
            Post::ChooseCurrency => choose_currency(api, visit, &form).await,
            Post::PlaceOrder => {
                let visitor = self.vouch_for_visitor(request).await?;
                place_order(api, visit, &form, visitor.as_ref()).await
            }
            Post::SignUp => {
                self.sign_up_or_in(api, visit, AccountPage::SignUp, &form, now)
                    .await
            }
            Post::SignIn => {
                self.sign_up_or_in(api, visit, AccountPage::SignIn, &form, now)
                    .await
            }
            Post::SignOut => {
                let mut response = see_other("/");
                set_cookie(&mut response, &visit.signed_out_cookie());
                Ok(response)
            }
        }
    }

    /// Signs the shopper up (and then in), or in; or shows the form again
    /// with why not.
    async fn sign_up_or_in(
        &self,
        api: &ShopApi<'_>,
        visit: &Visit,
        page: AccountPage,
        form: &Form,
        now: SystemTime,
    ) -> PageResult {
        let credentials = match Credentials::from_form(form) {
            Ok(credentials) => credentials,
            Err(problem) => {
                let problem = problem.to_string();
                return account_problem_page(
                    api,
                    visit,
                    page,
                    form,
                    &problem,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        };
        let token = match page {
            AccountPage::SignUp => match self.shoppers.sign_up(&credentials).await {
                Ok(()) => self.shoppers.sign_in(&credentials).await,
                Err(error) => Err(error),
            },
            AccountPage::SignIn => self.shoppers.sign_in(&credentials).await,
        };
        match token {
            Ok(token) => Ok(signed_in(api, visit, form, &token, now).await),
            Err(error) => {
                let (status, problem) = account_problem(page, &error);
                account_problem_page(api, visit, page, form, problem, status).await
            }
        }
    }
}

/// `GET /images/products/{picture}` and `GET /static/{file}`: the assets
/// Lambda. `imageSlowLoad` holds pictures back.
pub async fn serve_asset(flags: &Flags, request: &Request) -> Response<Body> {
    let path = request.uri().path();
    let asset = if let Some(name) = path.strip_prefix("/images/products/") {
        flags.current().await.hold_back(Flag::ImageSlowLoad).await;
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

fn set_cookie(response: &mut Response<Body>, cookie: &str) {
    match HeaderValue::from_str(cookie) {
        Ok(value) => {
            response.headers_mut().append(SET_COOKIE, value);
        }
        Err(error) => tracing::error!(%error, "a cookie that is not a header value"),
    }
}

fn sets_cookie(response: &Response<Body>, name: &str) -> bool {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|value| value.as_bytes().starts_with(format!("{name}=").as_bytes()))
}

/// The form of a post that comes from one of the visitor's own pages: no
/// foreign `Origin`, a session, and the session's form token.
fn accepted_form(request: &Request, visit: &Visit, shop: &ShopUrl) -> Result<Form, Failure> {
    if !csrf::same_origin(request.headers(), shop) {
        tracing::warn!(origin = ?request.headers().get("origin"), "a post from another origin was refused");
        return Err(Failure::forbidden());
    }
    if visit.new_session {
        tracing::warn!("a post without a session was refused");
        return Err(Failure::forbidden());
    }
    let form = form_of(request)?;
    if !csrf::is_valid(visit.session_id, form.field(csrf::FIELD)) {
        tracing::warn!("a post without its form token was refused");
        return Err(Failure::forbidden());
    }
    Ok(form)
}

/// The header's data: the currencies to switch to, the cart's size and the
/// visitor's form token. Neither list nor count may stop a page from
/// showing, so failures leave them out; only a refused token does, as it
/// means the shopper is signed out.
struct Header {
    currencies: Vec<CurrencyCode>,
    cart_count: Option<u32>,
    form_token: String,
    categories: Vec<Category>,
}

impl Header {
    fn chrome<'a>(&'a self, visit: &'a Visit, path: &'a str) -> Chrome<'a> {
        self.chrome_searching(visit, path, "")
    }

    /// The chrome of a search's page: its box shows the words searched.
    fn chrome_searching<'a>(&'a self, visit: &'a Visit, path: &'a str, search: &'a str) -> Chrome<'a> {
        Chrome {
            categories: &self.categories,
            search,
            currency: &visit.currency,
            currencies: &self.currencies,
            cart_count: self.cart_count,
            path,
            form_token: &self.form_token,
            shopper: visit
                .token
                .as_ref()
                .map(|token| token.email().unwrap_or("Your account")),
        }
    }
}

async fn header(api: &ShopApi<'_>, visit: &Visit, cart: Option<&Cart>) -> Result<Header, Failure> {
    let ((currencies, cart_count), categories) = tokio::join!(
        async {
            match cart {
                Some(cart) => (api.currencies().await, Ok(Some(cart.item_count()))),
                None => {
                    let (currencies, cart) =
                        tokio::join!(api.currencies(), api.cart(visit.shopper(), &visit.currency));
                    let count = match cart {
                        Ok(cart) => Ok(Some(cart.item_count())),
                        Err(ApiCallError::Unauthorized(_)) => Err(Failure::signed_out()),
                        Err(_) => Ok(None),
                    };
                    (currencies, count)
                }
            }
        },
        api.categories()
    );
    Ok(Header {
        currencies: currencies.unwrap_or_else(|error| {
            tracing::warn!(%error, "the currency list is not available");
            vec![visit.currency.clone()]
        }),
        cart_count: cart_count?,
        form_token: visit.form_token(),
        categories: categories.unwrap_or_else(|error| {
            tracing::warn!(%error, "the category list is not available");
            Vec::new()
        }),
    })
}

async fn failure_page(api: &ShopApi<'_>, visit: &Visit, failure: Failure, path: &str) -> Response<Body> {
    let header = header(api, visit, None).await.unwrap_or_else(|_| Header {
        currencies: vec![visit.currency.clone()],
        cart_count: None,
        form_token: visit.form_token(),
        categories: Vec::new(),
    });
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
    let markup = pages::home(&header?.chrome(visit, "/"), &products, ad.as_ref());
    Ok(html(StatusCode::OK, markup))
}

/// `GET /search?q=&cursor=`: what the words find, best first. A page with
/// no words asks for some; the API is not asked.
async fn search_page<'q>(
    api: &ShopApi<'_>,
    visit: &Visit,
    query: &impl Fn(&str) -> Option<&'q str>,
) -> PageResult {
    let search = SearchQuery::parse(query)?;
    let Some(words) = search.words.as_deref() else {
        let header = header(api, visit, None).await?;
        let results = SearchResults {
            words: None,
            products: &[],
            cursor: None,
            next: None,
        };
        let markup = pages::search_results(&header.chrome(visit, "/search"), &results);
        return Ok(html(StatusCode::OK, markup));
    };
    let (found, header) = tokio::join!(
        api.search(
            words,
            &visit.currency,
            browse::SEARCH_PAGE_SIZE,
            search.cursor.as_ref()
        ),
        header(api, visit, None)
    );
    let found = found.map_err(from_api)?;
    // The currency switcher comes back to the search's first page.
    let path = browse::with_query("/search", &[("q", words)]);
    let results = SearchResults {
        words: Some(words),
        products: &found.items,
        cursor: search.cursor.as_ref(),
        next: found.next.as_ref(),
    };
    let markup = pages::search_results(&header?.chrome_searching(visit, &path, words), &results);
    Ok(html(StatusCode::OK, markup))
}

/// `GET /category/{name}?minPrice=&maxPrice=&sort=&cursor=`: a page of the
/// category's products. Filters that cannot be used are the page again with
/// why, as a 400; a category the shop does not list is a 404.
async fn category_page<'q>(
    api: &ShopApi<'_>,
    visit: &Visit,
    segment: &str,
    query: &impl Fn(&str) -> Option<&'q str>,
) -> PageResult {
    let not_found = || Failure::not_found("We could not find that category.");
    let name = browse::category_name(segment).ok_or_else(not_found)?;
    let asked = CategoryQuery::parse(query);
    let (listed, header) = tokio::join!(
        async {
            let asked = asked.as_ref().map_err(Clone::clone)?;
            let listing = Listing {
                category: &name,
                filters: &asked.filters,
                cursor: asked.cursor.as_ref(),
                limit: browse::CATEGORY_PAGE_SIZE,
            };
            let page = api.category_page(&listing, &visit.currency).await;
            Ok::<_, FormError>((asked, page))
        },
        header(api, visit, None)
    );
    let header = header?;
    let category = match header.categories.iter().find(|c| c.name == name) {
        Some(category) => category.clone(),
        // Without the list, the category is taken on trust: the API answers
        // an unknown one with no products.
        None if header.categories.is_empty() => Category {
            name: name.clone(),
            product_count: 0,
        },
        None => return Err(not_found()),
    };
    let typed = || TypedFilters {
        min_price: query("minPrice").unwrap_or_default(),
        max_price: query("maxPrice").unwrap_or_default(),
        sort: query("sort").unwrap_or_default(),
    };
    let (filters, cursor, typed, page, problem) = match listed {
        Ok((asked, Ok(page))) => (
            asked.filters.clone(),
            asked.cursor.as_ref(),
            None,
            Some(page),
            None,
        ),
        // The API refused what passed here (a cursor it cannot read): the
        // page says why in the API's words, as it does for its own checks.
        Ok((_, Err(ApiCallError::Rejected { status, message, .. }))) if status == StatusCode::BAD_REQUEST => {
            (Filters::default(), None, Some(typed()), None, Some(message))
        }
        Ok((_, Err(error))) => return Err(from_api(error)),
        Err(problem) => (
            Filters::default(),
            None,
            Some(typed()),
            None,
            Some(problem.to_string()),
        ),
    };
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    // The currency switcher comes back to the first page, filters kept.
    let path = browse::category_url(&name, &filters.pairs());
    let products = page.as_ref().map_or(&[][..], |page| &page.items[..]);
    let listing = CategoryListing {
        category: &category,
        filters: &filters,
        typed,
        products,
        cursor,
        next: page.as_ref().and_then(|page| page.next.as_ref()),
        problem: problem.as_deref(),
    };
    let markup = pages::category(&header.chrome(visit, &path), &listing);
    Ok(html(status, markup))
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
    let header = header?;
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
    api.cart(visit.shopper(), &visit.currency)
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
    let markup = pages::cart(&header?.chrome(visit, "/cart"), &cart, totals?.as_ref());
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

async fn add_to_cart(api: &ShopApi<'_>, visit: &Visit, form: &Form) -> PageResult {
    let add = AddToCart::from_form(form)?;
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
    api.add_to_cart(visit.shopper(), &add.product_id, add.quantity)
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

async fn remove_from_cart(api: &ShopApi<'_>, visit: &Visit, form: &Form) -> PageResult {
    let product_id = forms::product_id(form)?;
    match api.remove_from_cart(visit.shopper(), &product_id).await {
        // Already gone (removed in another tab): the cart is as asked.
        Err(error) if error.is_not_found() => Ok(see_other("/cart")),
        Err(error) => Err(cart_write_failure(error)),
        Ok(()) => Ok(see_other("/cart")),
    }
}

async fn empty_cart(api: &ShopApi<'_>, visit: &Visit) -> PageResult {
    api.empty_cart(visit.shopper())
        .await
        .map_err(cart_write_failure)?;
    Ok(see_other("/cart"))
}

async fn choose_currency(api: &ShopApi<'_>, visit: &Visit, form: &Form) -> PageResult {
    let choice = ChooseCurrency::from_form(form)?;
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
    set_cookie(&mut response, &visit.currency_cookie(&choice.currency));
    Ok(response)
}

async fn checkout_page(api: &ShopApi<'_>, visit: &Visit) -> PageResult {
    let cart = read_cart(api, visit).await?;
    let mut fields = CheckoutFields::sample();
    if let Some(email) = visit.token.as_ref().and_then(IdToken::email) {
        email.clone_into(&mut fields.email);
    }
    show_checkout(api, visit, &cart, &fields, None, StatusCode::OK).await
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
        &header?.chrome(visit, "/checkout"),
        cart,
        totals?.as_ref(),
        fields,
        notice,
    );
    Ok(html(status, markup))
}

async fn place_order(api: &ShopApi<'_>, visit: &Visit, form: &Form, visitor: Option<&Vouched>) -> PageResult {
    let cart = read_cart(api, visit).await?;
    let fields = CheckoutFields::from_form(form);
    if cart.items.is_empty() {
        let notice = Notice::Info("Your cart is empty, so no order was placed.");
        return show_checkout(api, visit, &cart, &fields, Some(notice), StatusCode::CONFLICT).await;
    }
    let details = match forms::checkout_details(form) {
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
    let shopper = visit.shopper();
    let order = CheckoutRequest {
        // A signed-in shopper is the token's, never a field of the body.
        user_id: match shopper {
            Shopper::Guest(session) => Some(session.to_string()),
            Shopper::SignedIn(_) => None,
        },
        email: details.email,
        address: details.address,
        user_currency: visit.currency.clone(),
        credit_card: details.card,
    };
    match api
        .place_order(shopper, &order, details.idempotency_key, visitor)
        .await
    {
        Ok(placed) => match &placed.key {
            Some(key) => Ok(see_other(&api::order_page(&placed.order_id, key))),
            None => Err(Failure::internal(format!(
                "checkout placed order {} but answered no key for its link",
                placed.order_id
            ))),
        },
        Err(ApiCallError::Unauthorized(_)) => Err(Failure::signed_out()),
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

/// `GET /orders/{orderId}?key=`: the order, to whoever holds its link. An
/// order without its key is not found, as one that does not exist.
async fn order_page(
    api: &ShopApi<'_>,
    visit: &Visit,
    id: &str,
    key: Option<&str>,
    trace_page: Option<&TracePage>,
) -> PageResult {
    let not_found = || Failure::not_found("We could not find that order.");
    let id = OrderId::parse(id).map_err(|_| not_found())?;
    let key = key
        .and_then(|key| OrderKey::parse(key).ok())
        .ok_or_else(not_found)?;
    let (order, products, header) = tokio::join!(
        api.order(&id, &key),
        api.products(&visit.currency),
        header(api, visit, None)
    );
    let order = order.map_err(|error| match error {
        ApiCallError::NotServed(_) => Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Order pages are not open yet",
            "Orders cannot be looked up in this deployment of the shop yet. Please come back soon.",
        ),
        error if error.is_not_found() => not_found(),
        error => from_api(error),
    })?;
    let products: Vec<Product> = products.unwrap_or_default();
    let names = |id: &ProductId| products.iter().find(|p| &p.id == id).map(|p| p.name.clone());
    // The currency switcher comes back to this page, key and all.
    let path = api::order_page(&id, &key);
    let trace = trace_page
        .zip(order.trace_id.as_deref())
        .and_then(|(page, id)| page.of(id));
    let markup = pages::order(&header?.chrome(visit, &path), &order, &names, trace.as_deref());
    Ok(html(StatusCode::OK, markup))
}

/// `GET /orders?cursor=`: a page of the signed-in shopper's orders; a guest
/// is asked to sign in.
async fn my_orders_page<'q>(
    api: &ShopApi<'_>,
    visit: &Visit,
    query: &impl Fn(&str) -> Option<&'q str>,
) -> PageResult {
    let Some(token) = &visit.token else {
        return Ok(see_other("/signin?next=%2Forders"));
    };
    let cursor = browse::orders_cursor(query)?;
    let (orders, header) = tokio::join!(
        api.my_orders(token, browse::ORDERS_PAGE_SIZE, cursor.as_ref()),
        header(api, visit, None)
    );
    let orders = orders.map_err(|error| match error {
        ApiCallError::NotServed(_) => Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Your orders are not available yet",
            "Order lists are not open in this deployment of the shop yet. Please come back soon.",
        ),
        error => from_api(error),
    })?;
    let markup = pages::my_orders(
        &header?.chrome(visit, "/orders"),
        &orders.items,
        cursor.as_ref(),
        orders.next.as_ref(),
    );
    Ok(html(StatusCode::OK, markup))
}

/// A sign-in or sign-up form, as first shown or with why it did not work.
async fn account_page(
    api: &ShopApi<'_>,
    visit: &Visit,
    page: AccountPage,
    form: AccountForm<'_>,
    status: StatusCode,
) -> PageResult {
    let header = header(api, visit, None).await?;
    let path = match page {
        AccountPage::SignIn => "/signin",
        AccountPage::SignUp => "/signup",
    };
    Ok(html(
        status,
        pages::account(&header.chrome(visit, path), page, form),
    ))
}

/// The posted form again, with the e-mail typed (never the password).
async fn account_problem_page(
    api: &ShopApi<'_>,
    visit: &Visit,
    page: AccountPage,
    form: &Form,
    problem: &str,
    status: StatusCode,
) -> PageResult {
    let next = forms::local_path(form.field("next"));
    let form = AccountForm {
        email: form.field("email").unwrap_or_default(),
        next: &next,
        notice: Some(Notice::Error(problem)),
    };
    account_page(api, visit, page, form, status).await
}

/// What a shopper is told when signing up or in did not work. Cognito's
/// own words never reach the page.
fn account_problem(page: AccountPage, error: &AccountError) -> (StatusCode, &'static str) {
    const WRONG: &str = "Wrong e-mail or password.";
    const POLICY: &str =
        "Choose a stronger password: at least 8 characters, with a lower-case letter and a number.";
    match (error, page) {
        (AccountError::EmailTaken, _) => (
            StatusCode::CONFLICT,
            "An account with this e-mail already exists. Sign in instead.",
        ),
        (AccountError::WeakPassword, AccountPage::SignUp) => (StatusCode::UNPROCESSABLE_ENTITY, POLICY),
        (AccountError::WeakPassword | AccountError::WrongCredentials, _) => {
            (StatusCode::UNPROCESSABLE_ENTITY, WRONG)
        }
        (AccountError::TooManyAttempts, _) => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts. Please wait a minute and try again.",
        ),
        (AccountError::Challenged(_) | AccountError::Unavailable(_), _) => {
            tracing::error!(error = %error, "signing up or in failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Accounts are not available just now. Please try again in a moment; your cart is kept.",
            )
        }
    }
}

/// The shopper is signed in: their guest cart joins the account's, the
/// cookie keeps the token until it ends, and they go on where they meant to.
async fn signed_in(
    api: &ShopApi<'_>,
    visit: &Visit,
    form: &Form,
    token: &IdToken,
    now: SystemTime,
) -> Response<Body> {
    move_guest_cart(api, visit, token).await;
    let mut response = see_other(&forms::local_path(form.field("next")));
    set_cookie(&mut response, &visit.shopper_cookie(token, now));
    response
}

/// A guest who signs in keeps the cart they built: each line is added to the
/// account's cart, then the guest cart is emptied. A line that could not be
/// moved stays in the guest cart, so nothing is lost or counted twice.
/// Signing in never fails for this; what did not move is logged.
async fn move_guest_cart(api: &ShopApi<'_>, visit: &Visit, token: &IdToken) {
    let guest = Shopper::Guest(visit.session_id);
    let cart = match api.cart(guest, &visit.currency).await {
        Ok(cart) => cart,
        Err(error) => {
            tracing::warn!(%error, "the guest cart could not be read to move it to the account");
            return;
        }
    };
    let mut moved = Vec::new();
    for line in &cart.items {
        match api
            .add_to_cart(Shopper::SignedIn(token), &line.product_id, line.quantity)
            .await
        {
            Ok(()) => moved.push(&line.product_id),
            Err(error) => {
                tracing::warn!(%error, product = %line.product_id, "a guest cart line could not be moved to the account");
                break;
            }
        }
    }
    let emptied = if moved.len() == cart.items.len() {
        if moved.is_empty() {
            return;
        }
        api.empty_cart(guest).await
    } else {
        let mut removed = Ok(());
        for product in moved {
            removed = removed.and(api.remove_from_cart(guest, product).await);
        }
        removed
    };
    if let Err(error) = emptied {
        tracing::warn!(%error, "moved guest cart lines could not be taken out of the guest cart");
    }
}
