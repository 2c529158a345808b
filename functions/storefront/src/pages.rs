//! The storefront's HTML. `maud` checks the markup at compile time and
//! escapes every value it inserts, so a product name or an address typed by
//! anyone can never become markup. Every form carries the visitor's form
//! token (see `csrf`). These functions only render: they get everything
//! they show as arguments and do no I/O.

use astroshop_domain::{CurrencyCode, Money, OrderStatus, Product, ProductId};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::api::{Ad, Address, Cart, Category, Order, OrderSummary, order_page};
use crate::assets::static_url;
use crate::browse::{self, Cursor, Filters, Sort};
use crate::csrf;
use crate::forms::{CheckoutFields, MAX_QUANTITY};
use crate::price::format_money;

pub const SHOP_NAME: &str = "Astronomy Shop";

/// What every page shows around its content.
pub struct Chrome<'a> {
    pub currency: &'a CurrencyCode,
    pub currencies: &'a [CurrencyCode],
    /// `None` when the cart could not be read; the header then shows no count.
    pub cart_count: Option<u32>,
    /// This page's path, for the currency switcher to come back to.
    pub path: &'a str,
    /// The token this visitor's forms carry.
    pub form_token: &'a str,
    /// How the header names a signed-in shopper (their e-mail); `None` for a guest.
    pub shopper: Option<&'a str>,
    /// The categories the header links; empty when they could not be read.
    pub categories: &'a [Category],
    /// What the search box shows: the words of the search on screen.
    pub search: &'a str,
}

/// A cart's money: the lines, shipping (when it could be quoted) and the total.
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    pub subtotal: Money,
    pub shipping: Option<Money>,
    pub total: Money,
}

/// A message shown above a page's content.
pub enum Notice<'a> {
    Info(&'a str),
    Error(&'a str),
    Problems(&'a [String]),
}

fn notice_box(notice: Option<Notice<'_>>) -> Markup {
    html! {
        @match notice {
            Some(Notice::Info(text)) => div.notice role="status" { p { (text) } },
            Some(Notice::Error(text)) => div.notice.notice-error role="alert" { p { (text) } },
            Some(Notice::Problems(problems)) => div.notice.notice-error role="alert" {
                p { "Please check the form:" }
                ul { @for problem in problems { li { (problem) } } }
            },
            None => {},
        }
    }
}

/// The hidden field that proves a form came from one of this visitor's pages.
fn form_token(chrome: &Chrome<'_>) -> Markup {
    html! { input type="hidden" name=(csrf::FIELD) value=(chrome.form_token); }
}

fn layout(chrome: &Chrome<'_>, title: &str, refresh: bool, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if refresh {
                    meta http-equiv="refresh" content="3";
                }
                title { (title) " · " (SHOP_NAME) }
                meta name="description" content="Telescopes, binoculars and accessories for every stargazer.";
                link rel="icon" href=(static_url("favicon.svg")) type="image/svg+xml";
                link rel="stylesheet" href=(static_url("shop.css"));
                script src=(static_url("shop.js")) defer {}
            }
            body {
                a.skip-link href="#main" { "Skip to content" }
                (header(chrome))
                main #main { (content) }
                footer.site-footer {
                    div.wrap {
                        p { strong { (SHOP_NAME) } " · telescopes, binoculars and accessories for every stargazer." }
                        p.muted { "A demonstration store: orders are never charged or shipped." }
                    }
                }
            }
        }
    }
}

fn header(chrome: &Chrome<'_>) -> Markup {
    html! {
        header.site-header {
            div.wrap.header-bar {
                a.brand href="/" aria-label={ (SHOP_NAME) ", home" } {
                    (PreEscaped(LOGO))
                    span { (SHOP_NAME) }
                }
                // A plain GET form: it works without the script, which only
                // adds suggestions under the box as the shopper types.
                form.site-search role="search" method="get" action="/search" {
                    label.visually-hidden for="search-q" { "Search the shop" }
                    input #search-q type="search" name="q" value=(chrome.search)
                        placeholder="Search telescopes, binoculars…" autocomplete="off"
                        maxlength=(browse::MAX_SEARCH_CHARS)
                        role="combobox" aria-autocomplete="list" aria-expanded="false" aria-controls="search-suggestions";
                    button.button.button-small type="submit" { "Search" }
                    ul #search-suggestions.search-suggestions role="listbox" aria-label="Suggestions" hidden {}
                }
                nav.account-nav aria-label="Account" {
                    @if let Some(shopper) = chrome.shopper {
                        span.account-name title=(shopper) data-shopper=(shopper) { (shopper) }
                        a href="/orders" { "My orders" }
                        form.sign-out method="post" action="/signout" {
                            (form_token(chrome))
                            button.link-button type="submit" { "Sign out" }
                        }
                    } @else {
                        a href="/signin" { "Sign in" }
                        a href="/signup" { "Sign up" }
                    }
                }
                div.header-tools {
                    form.currency-switcher method="post" action="/currency" {
                        (form_token(chrome))
                        label for="currency" { "Currency" }
                        select #currency name="currencyCode" data-autosubmit {
                            @for code in chrome.currencies {
                                option value=(code) selected[code == chrome.currency] { (code) }
                            }
                        }
                        input type="hidden" name="next" value=(chrome.path);
                        button.button.button-small.js-hidden type="submit" { "Change" }
                    }
                    @let count = chrome.cart_count.unwrap_or(0);
                    a.cart-link href="/cart" aria-label={ "Cart, " (count) @if count == 1 { " item" } @else { " items" } } {
                        (PreEscaped(CART_ICON))
                        @if let Some(count) = chrome.cart_count {
                            span.cart-count data-cart-count=(count) { (count) }
                        }
                    }
                }
            }
            @if !chrome.categories.is_empty() {
                nav.category-nav aria-label="Categories" {
                    ul.wrap {
                        @for category in chrome.categories {
                            @let url = browse::category_url(&category.name, &[]);
                            li {
                                a href=(url) aria-current=[(chrome.path.starts_with(&format!("{url}?")) || chrome.path == url).then_some("page")] {
                                    (category_title(&category.name))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A category's name as a heading shows it: `telescopes` → `Telescopes`.
fn category_title(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Links to the next page of a list and back to its first: `first` is the
/// list's own URL, `next` the URL of the page after this one.
fn pager(first: &str, next: Option<&str>, on_first: bool, next_label: &str, first_label: &str) -> Markup {
    html! {
        @if next.is_some() || !on_first {
            nav.pager aria-label="Pages" {
                @if !on_first {
                    a.button.button-secondary rel="first" href=(first) { "← " (first_label) }
                }
                @if let Some(next) = next {
                    a.button rel="next" href=(next) { (next_label) " →" }
                }
            }
        }
    }
}

/// What `GET /search` shows.
pub struct SearchResults<'a> {
    /// The words searched; `None` when nothing was typed.
    pub words: Option<&'a str>,
    pub products: &'a [Product],
    /// Where this page started; `None` on the first.
    pub cursor: Option<&'a Cursor>,
    pub next: Option<&'a Cursor>,
}

/// `GET /search?q=`: what was searched, how many were found, and the cards
/// with their add-to-cart buttons.
pub fn search_results(chrome: &Chrome<'_>, results: &SearchResults<'_>) -> Markup {
    let count = results.products.len();
    let title = match results.words {
        Some(words) => format!("Results for “{words}”"),
        None => "Search".to_owned(),
    };
    let content = html! {
        div.wrap.listing {
            @match results.words {
                None => {
                    h1 { "Search the shop" }
                    div.empty-state {
                        p { "Type what you are looking for in the search box above, like “telescope” or “solar”." }
                        a.button href="/" { "Browse the shop" }
                    }
                },
                Some(words) => {
                    h1 { "Results for " q.searched { (words) } }
                    p.result-count role="status" data-found=(count) {
                        @if count == 0 {
                            "No products found for “" (words) "”."
                        } @else {
                            @if results.cursor.is_some() { "More results: " }
                            (count) @if count == 1 { " product" } @else { " products" }
                            @if results.next.is_some() { " on this page" } @else { " found" }
                            @if results.cursor.is_none() && results.next.is_none() { " for “" (words) "”" }
                            "."
                        }
                    }
                    @if count == 0 {
                        div.empty-state {
                            p { "Check the spelling, try fewer words, or browse a category." }
                            a.button href="/" { "Browse the shop" }
                        }
                    } @else {
                        (product_grid(chrome, results.products))
                    }
                    @let first = browse::with_query("/search", &[("q", words)]);
                    @let next = results.next.map(|next| browse::with_query("/search", &[("q", words), ("cursor", next.as_str())]));
                    (pager(&first, next.as_deref(), results.cursor.is_none(), "More results", "First results"))
                }
            }
        }
    };
    layout(chrome, &title, false, content)
}

/// What `GET /category/{name}` shows.
pub struct CategoryListing<'a> {
    pub category: &'a Category,
    pub filters: &'a Filters,
    /// What the filter form shows when what was typed could not be used.
    pub typed: Option<TypedFilters<'a>>,
    pub products: &'a [Product],
    pub cursor: Option<&'a Cursor>,
    pub next: Option<&'a Cursor>,
    /// Why the products could not be listed as asked (bad filters).
    pub problem: Option<&'a str>,
}

/// The filter form's fields as the shopper typed them, shown back with the
/// problem so they can be corrected.
#[derive(Debug, Clone, Copy, Default)]
pub struct TypedFilters<'a> {
    pub min_price: &'a str,
    pub max_price: &'a str,
    pub sort: &'a str,
}

/// `GET /category/{name}`: the filter and sort form (a plain GET form), a
/// page of the category's products, and links to the next page and back.
pub fn category(chrome: &Chrome<'_>, listing: &CategoryListing<'_>) -> Markup {
    let name = &listing.category.name;
    let title = category_title(name);
    let action = browse::category_url(name, &[]);
    let typed = listing.typed.unwrap_or(TypedFilters {
        min_price: listing.filters.min_price.as_ref().map_or("", |p| p.as_str()),
        max_price: listing.filters.max_price.as_ref().map_or("", |p| p.as_str()),
        sort: listing.filters.sort.as_str(),
    });
    let pairs = listing.filters.pairs();
    let first = browse::category_url(name, &pairs);
    let next = listing.next.map(|next| {
        let mut pairs = pairs.clone();
        pairs.push(("cursor", next.as_str()));
        browse::category_url(name, &pairs)
    });
    let count = listing.products.len();
    let content = html! {
        div.wrap.listing data-category=(name) {
            nav.breadcrumbs aria-label="Breadcrumb" {
                a href="/" { "Home" } " / " span aria-current="page" { (title) }
            }
            h1 { (title) }
            // A category the list did not name (it could not be read) has no count to show.
            @let total = listing.category.product_count;
            @if total > 0 {
                p.muted { (total) @if total == 1 { " product" } @else { " products" } " in this category." }
            }
            form.filters method="get" action=(action) {
                div.field {
                    label for="minPrice" { "Lowest price (" (chrome.currency) ")" }
                    input #minPrice name="minPrice" type="text" inputmode="decimal" placeholder="0" value=(typed.min_price);
                }
                div.field {
                    label for="maxPrice" { "Highest price (" (chrome.currency) ")" }
                    input #maxPrice name="maxPrice" type="text" inputmode="decimal" placeholder="any" value=(typed.max_price);
                }
                div.field {
                    label for="sort" { "Sort by" }
                    select #sort name="sort" {
                        @for sort in Sort::ALL {
                            option value=(sort.as_str()) selected[sort.as_str() == typed.sort] { (sort.label()) }
                        }
                    }
                }
                div.filter-actions {
                    button.button type="submit" { "Show" }
                    @if !pairs.is_empty() || listing.typed.is_some() {
                        a.link-reset href=(action) { "Clear" }
                    }
                }
            }
            @if let Some(problem) = listing.problem {
                (notice_box(Some(Notice::Error(problem))))
            } @else {
                p.result-count role="status" data-found=(count) {
                    @if count == 0 {
                        "No products in " (title) " match these filters."
                    } @else {
                        "Showing " (count) @if count == 1 { " product" } @else { " products" }
                        ", sorted by " (listing.filters.sort.label().to_lowercase()) "."
                    }
                }
                (product_grid(chrome, listing.products))
                (pager(&first, next.as_deref(), listing.cursor.is_none(), "Next page", "First page"))
            }
        }
    };
    layout(chrome, &title, false, content)
}

/// `GET /`
pub fn home(chrome: &Chrome<'_>, products: &[Product], ad: Option<&Ad>) -> Markup {
    let content = html! {
        section.hero {
            div.wrap {
                p.eyebrow { "Clear skies ahead" }
                h1 { "The universe is closer than you think" }
                p.lead { "Telescopes, binoculars and accessories picked for every stargazer, from the first look at the Moon to deep-sky imaging." }
                a.button.button-light href="#products" { "Shop the collection" }
            }
        }
        div.wrap {
            section #products aria-labelledby="products-title" {
                h2 #products-title { "Our products" }
                (product_grid(chrome, products))
            }
            @if let Some(ad) = ad { (ad_banner(ad)) }
        }
    };
    layout(chrome, "Telescopes and accessories", false, content)
}

fn product_grid(chrome: &Chrome<'_>, products: &[Product]) -> Markup {
    html! {
        ul.product-grid {
            @for product in products {
                li { (product_card(chrome, product)) }
            }
        }
    }
}

fn product_card(chrome: &Chrome<'_>, product: &Product) -> Markup {
    html! {
        article.product-card data-product-id=(product.id) {
            a.product-card-link href=(product_url(&product.id)) {
                img src=(picture_url(&product.picture)) alt=(product.name) width="400" height="400";
                h3 { (product.name) }
            }
            div.product-card-footer {
                p.price { (format_money(&product.price_usd)) }
                form method="post" action="/cart" {
                    (form_token(chrome))
                    input type="hidden" name="productId" value=(product.id);
                    input type="hidden" name="quantity" value="1";
                    button.button.button-small type="submit" aria-label={ "Add " (product.name) " to cart" } { "Add to cart" }
                }
            }
        }
    }
}

/// `GET /product/{productId}`
pub fn product(
    chrome: &Chrome<'_>,
    product: &Product,
    recommendations: &[Product],
    ad: Option<&Ad>,
) -> Markup {
    let content = html! {
        div.wrap {
            nav.breadcrumbs aria-label="Breadcrumb" {
                a href="/" { "Home" } " / " span aria-current="page" { (product.name) }
            }
            article.product-detail data-product-id=(product.id) {
                div.product-picture {
                    img src=(picture_url(&product.picture)) alt=(product.name) width="600" height="600";
                }
                div.product-info {
                    h1 { (product.name) }
                    ul.tags aria-label="Categories" {
                        @for category in &product.categories { li { (category) } }
                    }
                    p.price.price-large { (format_money(&product.price_usd)) }
                    p.description { (product.description) }
                    form.add-to-cart method="post" action="/cart" {
                        (form_token(chrome))
                        input type="hidden" name="productId" value=(product.id);
                        label for="quantity" { "Quantity" }
                        select #quantity name="quantity" {
                            @for quantity in 1..=MAX_QUANTITY {
                                option value=(quantity) { (quantity) }
                            }
                        }
                        button.button type="submit" { "Add to cart" }
                    }
                }
            }
            @if let Some(ad) = ad { (ad_banner(ad)) }
            @if !recommendations.is_empty() {
                section.recommendations aria-labelledby="recommendations-title" {
                    h2 #recommendations-title { "You may also like" }
                    (product_grid(chrome, recommendations))
                }
            }
        }
    };
    layout(chrome, &product.name, false, content)
}

fn ad_banner(ad: &Ad) -> Markup {
    // Ads come from the ads service; only links into this shop or to a web
    // page are followed, never `javascript:` or other schemes.
    let link = ad.redirect_url.as_str();
    let safe = (link.starts_with('/') && !link.starts_with("//")) || link.starts_with("https://");
    html! {
        aside.ad aria-label="Advertisement" {
            span.ad-label { "Ad" }
            @if safe {
                a href=(link) { (ad.text) }
            } @else {
                span { (ad.text) }
            }
        }
    }
}

/// `GET /cart`
pub fn cart(chrome: &Chrome<'_>, cart: &Cart, totals: Option<&Totals>) -> Markup {
    let content = html! {
        div.wrap.narrow {
            h1 { "Your cart" }
            @if cart.items.is_empty() {
                div.empty-state {
                    p { "Your cart is empty." }
                    a.button href="/" { "Browse the shop" }
                }
            } @else {
                ul.cart-lines {
                    @for line in &cart.items {
                        li.cart-line data-product-id=(line.product_id) {
                            img src=(picture_url(&line.product.picture)) alt="" width="96" height="96";
                            div.cart-line-info {
                                a.cart-line-name href=(product_url(&line.product_id)) { (line.product.name) }
                                p.muted { "Quantity " span.quantity { (line.quantity) } " · " (format_money(&line.product.price_usd)) " each" }
                            }
                            div.cart-line-end {
                                p.price { (line_cost(&line.product.price_usd, line.quantity)) }
                                form method="post" action="/cart/remove" {
                                    (form_token(chrome))
                                    input type="hidden" name="productId" value=(line.product_id);
                                    button.link-button type="submit" aria-label={ "Remove " (line.product.name) } { "Remove" }
                                }
                            }
                        }
                    }
                }
                @if let Some(totals) = totals { (totals_box(totals)) }
                div.cart-actions {
                    form method="post" action="/cart/empty" {
                        (form_token(chrome))
                        button.button.button-secondary type="submit" { "Empty cart" }
                    }
                    a.button href="/checkout" { "Checkout" }
                }
            }
        }
    };
    layout(chrome, "Your cart", false, content)
}

fn line_cost(unit: &Money, quantity: u32) -> String {
    unit.checked_mul(quantity)
        .map(|cost| format_money(&cost))
        .unwrap_or_else(|_| "—".to_owned())
}

fn totals_box(totals: &Totals) -> Markup {
    html! {
        dl.totals {
            div { dt { "Subtotal" } dd { (format_money(&totals.subtotal)) } }
            div {
                dt { "Shipping" }
                dd { @match &totals.shipping {
                    Some(shipping) => (format_money(shipping)),
                    None => "calculated at checkout",
                } }
            }
            div.total { dt { "Total" } dd data-total { (format_money(&totals.total)) } }
        }
    }
}

/// `GET /checkout`, and `POST /checkout` when the order could not be placed.
pub fn checkout(
    chrome: &Chrome<'_>,
    cart: &Cart,
    totals: Option<&Totals>,
    fields: &CheckoutFields,
    notice: Option<Notice<'_>>,
) -> Markup {
    let content = html! {
        div.wrap {
            h1 { "Checkout" }
            (notice_box(notice))
            @if cart.items.is_empty() {
                div.empty-state {
                    p { "Your cart is empty, so there is nothing to check out yet." }
                    a.button href="/" { "Browse the shop" }
                }
            } @else {
                div.checkout {
                    form.checkout-form method="post" action="/checkout" {
                        (form_token(chrome))
                        input type="hidden" name="idempotencyKey" value=(fields.idempotency_key);
                        fieldset {
                            legend { "Contact" }
                            (field("email", "E-mail", "email", &fields.email, "email"))
                        }
                        fieldset {
                            legend { "Shipping address" }
                            (field("streetAddress", "Street address", "text", &fields.address.street_address, "street-address"))
                            div.field-row {
                                (field("city", "City", "text", &fields.address.city, "address-level2"))
                                (field("state", "State or region", "text", &fields.address.state, "address-level1"))
                            }
                            div.field-row {
                                (field("zipCode", "ZIP or postal code", "text", &fields.address.zip_code, "postal-code"))
                                (field("country", "Country", "text", &fields.address.country, "country-name"))
                            }
                        }
                        fieldset {
                            legend { "Payment" }
                            (field("creditCardNumber", "Card number", "text", &fields.card_number, "cc-number"))
                            div.field-row {
                                div.field {
                                    label for="creditCardExpirationMonth" { "Expiry month" }
                                    select #creditCardExpirationMonth name="creditCardExpirationMonth" autocomplete="cc-exp-month" {
                                        @for month in 1..=12 {
                                            option value=(month) selected[fields.expiration_month == month.to_string()] { (format!("{month:02}")) }
                                        }
                                    }
                                }
                                div.field {
                                    label for="creditCardExpirationYear" { "Expiry year" }
                                    select #creditCardExpirationYear name="creditCardExpirationYear" autocomplete="cc-exp-year" {
                                        @for year in 2025..=2040 {
                                            option value=(year) selected[fields.expiration_year == year.to_string()] { (year) }
                                        }
                                    }
                                }
                                div.field {
                                    label for="creditCardCvv" { "Security code" }
                                    input #creditCardCvv name="creditCardCvv" type="text" inputmode="numeric" autocomplete="cc-csc" required maxlength="4" value=(fields.security_code);
                                }
                            }
                            p.muted { "This is a demonstration shop: use the sample card above; nothing is charged." }
                        }
                        button.button.button-wide type="submit" { "Place order" }
                    }
                    aside.order-summary aria-labelledby="summary-title" {
                        h2 #summary-title { "Order summary" }
                        ul.summary-lines {
                            @for line in &cart.items {
                                li {
                                    span { (line.product.name) " × " (line.quantity) }
                                    span { (line_cost(&line.product.price_usd, line.quantity)) }
                                }
                            }
                        }
                        @if let Some(totals) = totals { (totals_box(totals)) }
                    }
                }
            }
        }
    };
    layout(chrome, "Checkout", false, content)
}

fn field(name: &str, label: &str, kind: &str, value: &str, autocomplete: &str) -> Markup {
    html! {
        div.field {
            label for=(name) { (label) }
            input #(name) name=(name) type=(kind) value=(value) autocomplete=(autocomplete) required;
        }
    }
}

/// The saga's steps as a shopper follows them: (step in the order's history, label).
const PROGRESS: [(&str, &str); 4] = [
    ("OrderPlaced", "Order received"),
    ("InventoryReserved", "Items set aside"),
    ("PaymentSucceeded", "Payment accepted"),
    ("OrderShipped", "Shipped"),
];

/// `GET /orders/{orderId}?key=`. `names` gives the product names the order's
/// lines only know by id. While the order is pending the page refreshes
/// itself and shows how far the order has come.
/// An order's page; `trace` links the trace of its checkout, for the
/// operator who runs the shop locally.
pub fn order(
    chrome: &Chrome<'_>,
    order: &Order,
    names: &dyn Fn(&ProductId) -> Option<String>,
    trace: Option<&str>,
) -> Markup {
    let status = order.status.as_deref().unwrap_or("PLACED");
    let settled = matches!(status, "CONFIRMED" | "FAILED" | "SHIPPED" | "CANCELLED");
    let failed = status == "FAILED";
    let reached = |step: &str| order.history.iter().any(|done| done.step == step);
    let content = html! {
        div.wrap.narrow {
            @if failed {
                h1 { "We could not complete your order" }
            } @else {
                h1 { "Thank you for your order" }
            }
            p.order-id { "Order " code { (order.order_id) } }
            p { "Status: " span.status data-status=(status) { (status) }
                @if !settled { span.muted { " · this page updates by itself" } } }
            @if let Some(reason) = &order.failure_reason {
                p.notice.notice-error role="alert" {
                    (reason) ". Nothing was charged (or the charge is refunded), and your cart is kept."
                }
            }
            @if !failed {
                ol.progress aria-label="Order progress" {
                    @for (step, label) in PROGRESS {
                        li class=[reached(step).then_some("done")] data-step=(step) {
                            (label) @if reached(step) { span.visually-hidden { " (done)" } }
                        }
                    }
                }
            }
            @if let Some(tracking) = &order.shipping_tracking_id {
                p { "Tracking number: " code { (tracking) } }
            }
            @if !order.items.is_empty() {
                ul.summary-lines {
                    @for line in &order.items {
                        li {
                            span {
                                (names(&line.item.product_id).unwrap_or_else(|| line.item.product_id.to_string()))
                                " × " (line.item.quantity)
                            }
                            @if let Some(cost) = &line.cost { span { (format_money(cost)) } }
                        }
                    }
                }
            }
            dl.totals {
                @if let Some(shipping) = &order.shipping_cost {
                    div { dt { "Shipping" } dd { (format_money(shipping)) } }
                }
                @if let Some(total) = &order.total {
                    div.total { dt { "Total" } dd { (format_money(total)) } }
                }
            }
            @if let Some(address) = &order.shipping_address { (address_block(address)) }
            a.button href="/" { "Continue shopping" }
            @if let Some(trace) = trace {
                p.muted { a.trace-link href=(trace) { "How this order went through the shop (its trace)" } }
            }
        }
    };
    layout(chrome, "Your order", !settled, content)
}

/// What a shopper reads for an order's status in their list.
fn status_label(status: OrderStatus) -> (&'static str, &'static str) {
    match status {
        OrderStatus::Pending => (
            "In progress",
            "We are setting your items aside and taking payment.",
        ),
        OrderStatus::Confirmed => ("Confirmed", "Paid and on its way."),
        OrderStatus::Failed => (
            "Not completed",
            "Nothing was charged (or the charge is refunded).",
        ),
    }
}

/// `GET /orders`: the signed-in shopper's orders, newest first, each
/// linking to its page.
pub fn my_orders(
    chrome: &Chrome<'_>,
    orders: &[OrderSummary],
    cursor: Option<&Cursor>,
    next: Option<&Cursor>,
) -> Markup {
    let next = next.map(|next| browse::with_query("/orders", &[("cursor", next.as_str())]));
    let content = html! {
        div.wrap.narrow {
            h1 { "My orders" }
            @if orders.is_empty() && cursor.is_some() {
                div.empty-state {
                    p { "There are no older orders." }
                    a.button href="/orders" { "Newest orders" }
                }
            } @else if orders.is_empty() {
                div.empty-state {
                    p { "You have not placed an order yet." }
                    a.button href="/" { "Browse the shop" }
                }
            } @else {
                ul.order-list {
                    @for order in orders {
                        @let (label, explanation) = status_label(order.status);
                        @let placed_on = order.placed_at.time().date();
                        li.order-card data-order-id=(order.order_id) {
                            div.order-card-head {
                                a.order-link href=(order_page(&order.order_id, &order.key)) {
                                    "Order " code { (order.order_id) }
                                }
                                span.status data-status=(order.status.as_str()) { (label) }
                            }
                            p.muted {
                                "Placed " time datetime=(order.placed_at) { (placed_on) }
                                " · " (order.items) @if order.items == 1 { " item" } @else { " items" }
                                " · " (explanation)
                            }
                            div.order-card-foot {
                                p.price data-total { (format_money(&order.total)) }
                                @if let Some(tracking) = &order.tracking_id {
                                    p.muted { "Tracking number " code { (tracking) } }
                                }
                            }
                        }
                    }
                }
                (pager("/orders", next.as_deref(), cursor.is_none(), "Older orders", "Newest orders"))
            }
        }
    };
    layout(chrome, "My orders", false, content)
}

/// The two account forms, which differ only in their words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountPage {
    SignIn,
    SignUp,
}

/// What an account form shows: the e-mail typed (never the password), the
/// page to go on to, and why the last attempt did not work.
pub struct AccountForm<'a> {
    pub email: &'a str,
    pub next: &'a str,
    pub notice: Option<Notice<'a>>,
}

/// `GET /signin` and `GET /signup`, and their posts when they did not work.
pub fn account(chrome: &Chrome<'_>, page: AccountPage, form: AccountForm<'_>) -> Markup {
    let (title, action, button, password_autocomplete) = match page {
        AccountPage::SignIn => ("Sign in", "/signin", "Sign in", "current-password"),
        AccountPage::SignUp => ("Create an account", "/signup", "Create account", "new-password"),
    };
    let content = html! {
        div.wrap.narrow.account-page {
            h1 { (title) }
            (notice_box(form.notice))
            form.account-form method="post" action=(action) {
                (form_token(chrome))
                input type="hidden" name="next" value=(form.next);
                (field("email", "E-mail", "email", form.email, "username"))
                div.field {
                    label for="password" { "Password" }
                    input #password name="password" type="password" autocomplete=(password_autocomplete) required;
                    @if page == AccountPage::SignUp {
                        p.muted { "At least 8 characters, with a lower-case letter and a number." }
                    }
                }
                button.button.button-wide type="submit" { (button) }
            }
            @match page {
                AccountPage::SignIn => p { "New here? " a href="/signup" { "Create an account" } " to keep your cart and see your orders." },
                AccountPage::SignUp => p { "Already have an account? " a href="/signin" { "Sign in" } },
            }
        }
    };
    layout(chrome, title, false, content)
}

fn address_block(address: &Address) -> Markup {
    html! {
        section.address {
            h2 { "Shipping to" }
            address {
                (address.street_address) br;
                (address.city) ", " (address.state) " " (address.zip_code) br;
                (address.country)
            }
        }
    }
}

/// A page that explains what went wrong and where to go next.
pub fn message(chrome: &Chrome<'_>, title: &str, text: &str) -> Markup {
    let content = html! {
        div.wrap.narrow.message-page {
            h1 { (title) }
            p { (text) }
            a.button href="/" { "Back to the shop" }
        }
    };
    layout(chrome, title, false, content)
}

fn product_url(id: &ProductId) -> String {
    format!("/product/{id}")
}

fn picture_url(picture: &str) -> String {
    format!("/images/products/{picture}")
}

const LOGO: &str = r##"<svg class="logo" viewBox="0 0 32 32" width="32" height="32" aria-hidden="true"><circle cx="16" cy="16" r="9" fill="#fbbf24"/><ellipse cx="16" cy="16" rx="15" ry="5" fill="none" stroke="#c7d2fe" stroke-width="2" transform="rotate(-20 16 16)"/><circle cx="26" cy="6" r="1.5" fill="#fff"/></svg>"##;

const CART_ICON: &str = r##"<svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><circle cx="9" cy="20" r="1.5"/><circle cx="18" cy="20" r="1.5"/><path d="M2 3h3l2.7 12.4a2 2 0 0 0 2 1.6h8.6a2 2 0 0 0 2-1.5L22 7H6"/></svg>"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::browse::CategoryQuery;

    fn usd(units: i64) -> Money {
        Money::new(CurrencyCode::usd(), units, 0).unwrap()
    }

    fn product(id: &str, name: &str) -> Product {
        Product {
            id: ProductId::parse(id).unwrap(),
            name: name.into(),
            description: "<script>alert(1)</script>".into(),
            picture: "RedFlashlight.jpg".into(),
            price_usd: usd(57),
            categories: vec!["accessories".into()],
        }
    }

    fn render(content: impl Fn(&Chrome<'_>) -> Markup) -> String {
        let usd = CurrencyCode::usd();
        let currencies = [CurrencyCode::parse("EUR").unwrap(), CurrencyCode::usd()];
        let chrome = Chrome {
            currency: &usd,
            currencies: &currencies,
            cart_count: Some(3),
            path: "/",
            form_token: "the-form-token",
            shopper: None,
            categories: &[],
            search: "",
        };
        content(&chrome).into_string()
    }

    fn render_signed_in(content: impl Fn(&Chrome<'_>) -> Markup) -> String {
        let usd = CurrencyCode::usd();
        let chrome = Chrome {
            currency: &usd,
            currencies: &[],
            cart_count: None,
            path: "/orders",
            form_token: "the-form-token",
            shopper: Some("ada@example.com"),
            categories: &[],
            search: "",
        };
        content(&chrome).into_string()
    }

    fn forms_of(page: &str) -> Vec<&str> {
        page.split("<form")
            .skip(1)
            .map(|form| &form[..form.find("</form>").unwrap()])
            .collect()
    }

    #[test]
    fn every_post_form_of_every_page_carries_the_form_token_and_no_get_form_does() {
        let cart: Cart = serde_json::from_value(serde_json::json!({
            "items": [{"productId": "A1", "quantity": 1, "product": {
                "id": "A1", "name": "Red Flashlight", "description": "d", "picture": "RedFlashlight.jpg",
                "priceUsd": {"currencyCode": "USD", "units": 57, "nanos": 0}, "categories": []}}]
        }))
        .unwrap();
        let pages = [
            render(|chrome| home(chrome, &[product("A1", "Red Flashlight")], None)),
            render(|chrome| {
                super::product(
                    chrome,
                    &product("A1", "Red Flashlight"),
                    &[product("B2", "Kit")],
                    None,
                )
            }),
            render(|chrome| super::cart(chrome, &cart, None)),
            render(|chrome| super::checkout(chrome, &cart, None, &CheckoutFields::sample(), None)),
            render(|chrome| {
                account(
                    chrome,
                    AccountPage::SignIn,
                    AccountForm {
                        email: "",
                        next: "/",
                        notice: None,
                    },
                )
            }),
            render(|chrome| {
                account(
                    chrome,
                    AccountPage::SignUp,
                    AccountForm {
                        email: "",
                        next: "/",
                        notice: None,
                    },
                )
            }),
            render_signed_in(|chrome| my_orders(chrome, &[], None, None)),
            render(|chrome| {
                search_results(
                    chrome,
                    &SearchResults {
                        words: Some("red"),
                        products: &[product("A1", "Red Flashlight")],
                        cursor: None,
                        next: None,
                    },
                )
            }),
            render(|chrome| {
                category(
                    chrome,
                    &listing(&telescopes(), &Filters::default(), &[product("A1", "Kit")]),
                )
            }),
        ];
        let mut actions = std::collections::BTreeSet::new();
        for page in &pages {
            for form in forms_of(page) {
                // A GET form puts its fields in the URL, where a token would leak.
                if form.contains(r#"method="get""#) {
                    assert!(
                        !form.contains(r#"name="csrf""#),
                        "a GET form with the token: {form}"
                    );
                    continue;
                }
                assert!(
                    form.contains(r#"<input type="hidden" name="csrf" value="the-form-token">"#),
                    "a form without the token: {form}"
                );
                actions.insert(
                    form.split("action=\"")
                        .nth(1)
                        .unwrap()
                        .split('"')
                        .next()
                        .unwrap()
                        .to_owned(),
                );
            }
        }
        let expected = [
            "/cart",
            "/cart/empty",
            "/cart/remove",
            "/checkout",
            "/currency",
            "/signin",
            "/signout",
            "/signup",
        ];
        assert_eq!(actions.into_iter().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn the_header_offers_sign_in_to_a_guest_and_orders_and_sign_out_to_a_shopper() {
        let guest = render(|chrome| home(chrome, &[], None));
        assert!(guest.contains(r#"<a href="/signin">Sign in</a>"#), "{guest}");
        assert!(guest.contains(r#"<a href="/signup">Sign up</a>"#));
        assert!(!guest.contains("/signout"));
        let shopper = render_signed_in(|chrome| home(chrome, &[], None));
        assert!(shopper.contains(r#"data-shopper="ada@example.com""#), "{shopper}");
        assert!(shopper.contains(r#"<a href="/orders">My orders</a>"#));
        assert!(shopper.contains(r#"action="/signout""#));
        assert!(!shopper.contains(r#"href="/signin""#));
    }

    #[test]
    fn my_orders_link_each_order_by_its_key_with_status_date_and_total() {
        let orders: Vec<OrderSummary> = serde_json::from_value(serde_json::json!([{
            "orderId": "3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11", "status": "PENDING",
            "placedAt": "2026-11-21T10:00:00Z", "items": 2,
            "total": {"currencyCode": "EUR", "units": 90, "nanos": 190_000_000}, "key": "k3y"
        }]))
        .unwrap();
        let page = render_signed_in(|chrome| my_orders(chrome, &orders, None, None));
        for text in [
            r#"href="/orders/3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11?key=k3y""#,
            r#"data-status="PENDING">In progress<"#,
            r#"<time datetime="2026-11-21T10:00:00Z">2026-11-21</time>"#,
            "2 items",
            "€90.19",
        ] {
            assert!(page.contains(text), "{text} missing: {page}");
        }
        let none = render_signed_in(|chrome| my_orders(chrome, &[], None, None));
        assert!(none.contains("You have not placed an order yet."));
    }

    #[test]
    fn an_account_form_shows_the_email_typed_never_a_password() {
        let problem = "Wrong e-mail or password.";
        let page = render(|chrome| {
            account(
                chrome,
                AccountPage::SignIn,
                AccountForm {
                    email: "ada@example.com",
                    next: "/orders",
                    notice: Some(Notice::Error(problem)),
                },
            )
        });
        assert!(page.contains(r#"value="ada@example.com""#));
        assert!(page.contains(r#"<input type="hidden" name="next" value="/orders">"#));
        assert!(page.contains(problem));
        assert!(
            page.contains(r#"type="password" autocomplete="current-password" required>"#),
            "{page}"
        );
    }

    #[test]
    fn the_home_page_lists_cards_with_pictures_prices_and_add_buttons() {
        let page = render(|chrome| {
            home(
                chrome,
                &[product("A1", "Red Flashlight"), product("B2", "Lens Kit")],
                None,
            )
        });
        assert_eq!(page.matches("class=\"product-card\"").count(), 2);
        assert!(page.contains(r#"<img src="/images/products/RedFlashlight.jpg" alt="Red Flashlight""#));
        assert!(page.contains("$57.00"));
        assert!(page.contains(r#"action="/cart""#));
        assert!(
            page.contains(r#"<option value="USD" selected>USD</option>"#),
            "{page}"
        );
        assert!(page.contains(r#"data-cart-count="3""#));
    }

    #[test]
    fn text_from_the_catalogue_is_escaped_never_markup() {
        let mut sneaky = product("A1", "<img src=x onerror=alert(1)>");
        sneaky.categories = vec!["\"><script>".into()];
        let page = render(|chrome| super::product(chrome, &sneaky, &[], None));
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<img src=x"), "{page}");
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    }

    #[test]
    fn ads_only_link_into_the_shop_or_to_web_pages() {
        let ad = |url: &str| Ad {
            redirect_url: url.into(),
            text: "Binoculars 20% off".into(),
        };
        let page = render(|chrome| home(chrome, &[], Some(&ad("/product/2ZYFJ3GM2N"))));
        assert!(page.contains(r#"<a href="/product/2ZYFJ3GM2N">Binoculars 20% off</a>"#));
        let page = render(|chrome| home(chrome, &[], Some(&ad("javascript:alert(1)"))));
        assert!(!page.contains("javascript:"), "{page}");
        assert!(page.contains("Binoculars 20% off"));
    }

    #[test]
    fn the_cart_shows_line_costs_and_totals() {
        let cart: Cart = serde_json::from_value(serde_json::json!({
            "userId": "u",
            "items": [{"productId": "A1", "quantity": 2, "product": {
                "id": "A1", "name": "Red Flashlight", "description": "d", "picture": "RedFlashlight.jpg",
                "priceUsd": {"currencyCode": "USD", "units": 57, "nanos": 80_000_000}, "categories": []}}]
        }))
        .unwrap();
        let totals = Totals {
            subtotal: Money::new(CurrencyCode::usd(), 114, 160_000_000).unwrap(),
            shipping: Some(Money::new(CurrencyCode::usd(), 17, 980_000_000).unwrap()),
            total: Money::new(CurrencyCode::usd(), 132, 140_000_000).unwrap(),
        };
        let page = render(|chrome| super::cart(chrome, &cart, Some(&totals)));
        for text in [
            "$57.08 each",
            "$114.16",
            "$17.98",
            "$132.14",
            r#"action="/cart/remove""#,
        ] {
            assert!(page.contains(text), "{text} missing");
        }
    }

    #[test]
    fn an_empty_cart_invites_browsing() {
        let page = render(|chrome| super::cart(chrome, &Cart { items: vec![] }, None));
        assert!(page.contains("Your cart is empty."));
        assert!(!page.contains("/checkout"));
    }

    #[test]
    fn a_pending_order_shows_the_steps_done_and_a_failed_one_its_reason() {
        let order: Order = serde_json::from_value(serde_json::json!({
            "orderId": "o-2", "status": "PENDING",
            "history": [{"step": "OrderPlaced", "at": "2026-11-21T10:00:00Z"}, {"step": "InventoryReserved"}]
        }))
        .unwrap();
        let page = render(|chrome| super::order(chrome, &order, &|_| None, None));
        assert!(
            page.contains(r#"<li class="done" data-step="InventoryReserved">"#),
            "{page}"
        );
        assert!(page.contains(r#"<li data-step="PaymentSucceeded">"#), "{page}");
        let order: Order = serde_json::from_value(serde_json::json!({
            "orderId": "o-3", "status": "FAILED", "failureReason": "the card expired in 01/2020",
            "trackingId": null
        }))
        .unwrap();
        let page = render(|chrome| super::order(chrome, &order, &|_| None, None));
        assert!(page.contains("We could not complete your order"));
        assert!(page.contains("the card expired in 01/2020"));
        assert!(!page.contains("data-step"), "a failed order shows no progress");
    }

    #[test]
    fn a_pending_order_page_refreshes_itself_and_a_confirmed_one_does_not() {
        let mut order: Order =
            serde_json::from_value(serde_json::json!({"orderId": "o-1", "status": "PENDING"})).unwrap();
        let page = render(|chrome| super::order(chrome, &order, &|_| None, None));
        assert!(page.contains(r#"http-equiv="refresh""#));
        order.status = Some("CONFIRMED".into());
        let page = render(|chrome| super::order(chrome, &order, &|_| None, None));
        assert!(!page.contains(r#"http-equiv="refresh""#));
    }

    #[test]
    fn an_order_page_links_its_trace_only_when_there_is_a_viewer() {
        let order: Order =
            serde_json::from_value(serde_json::json!({"orderId": "o-1", "status": "CONFIRMED"})).unwrap();
        let trace = "http://127.0.0.1:6006/projects/UHJvamVjdDox/traces/5759e988bd862e3fe1be46a994272793";
        let page = render(|chrome| super::order(chrome, &order, &|_| None, Some(trace)));
        assert!(page.contains(&format!(r#"href="{trace}""#)), "{page}");
        let page = render(|chrome| super::order(chrome, &order, &|_| None, None));
        assert!(!page.contains("/traces/"), "{page}");
    }

    fn telescopes() -> Category {
        Category {
            name: "telescopes".into(),
            product_count: 14,
        }
    }

    fn listing<'a>(
        category: &'a Category,
        filters: &'a Filters,
        products: &'a [Product],
    ) -> CategoryListing<'a> {
        CategoryListing {
            category,
            filters,
            typed: None,
            products,
            cursor: None,
            next: None,
            problem: None,
        }
    }

    fn cursor(text: &str) -> Cursor {
        Cursor::parse(text).unwrap()
    }

    fn render_with_categories(search: &str, path: &str, content: impl Fn(&Chrome<'_>) -> Markup) -> String {
        let usd = CurrencyCode::usd();
        let categories = [
            telescopes(),
            Category {
                name: "binoculars".into(),
                product_count: 1,
            },
        ];
        let chrome = Chrome {
            currency: &usd,
            currencies: &[],
            cart_count: Some(0),
            path,
            form_token: "the-form-token",
            shopper: None,
            categories: &categories,
            search,
        };
        content(&chrome).into_string()
    }

    #[test]
    fn every_page_has_a_search_box_that_works_without_script_and_the_category_links() {
        let page = render_with_categories("", "/category/telescopes?sort=price", |chrome| {
            home(chrome, &[], None)
        });
        assert!(
            page.contains(r#"<form class="site-search" role="search" method="get" action="/search">"#),
            "{page}"
        );
        assert!(
            page.contains(r#"<input id="search-q" type="search" name="q" value="""#),
            "{page}"
        );
        assert!(
            page.contains(r#"id="search-suggestions" role="listbox""#),
            "{page}"
        );
        assert!(
            page.contains(r#"<a href="/category/telescopes" aria-current="page">Telescopes</a>"#),
            "{page}"
        );
        assert!(
            page.contains(r#"<a href="/category/binoculars">Binoculars</a>"#),
            "{page}"
        );
    }

    #[test]
    fn search_results_say_what_was_searched_how_many_were_found_with_add_buttons() {
        let found = [product("A1", "Red Flashlight"), product("B2", "Red Filter")];
        let words = "red <b>";
        let page = render_with_categories(words, "/search", |chrome| {
            search_results(
                chrome,
                &SearchResults {
                    words: Some(words),
                    products: &found,
                    cursor: None,
                    next: None,
                },
            )
        });
        assert!(
            page.contains(r#"<h1>Results for <q class="searched">red &lt;b&gt;</q></h1>"#),
            "{page}"
        );
        assert!(page.contains("2 products found for “red &lt;b&gt;”."), "{page}");
        assert!(page.contains(r#"data-found="2""#));
        assert!(
            page.contains(r#"name="q" value="red &lt;b&gt;""#),
            "the box shows the search: {page}"
        );
        assert_eq!(page.matches(r#"action="/cart""#).count(), 2);
        assert!(page.contains("$57.00"));
        assert!(!page.contains("<b>"), "{page}");
        assert!(!page.contains(r#"rel="next""#), "one page has no next link");

        let none = render_with_categories("zzz", "/search", |chrome| {
            search_results(
                chrome,
                &SearchResults {
                    words: Some("zzz"),
                    products: &[],
                    cursor: None,
                    next: None,
                },
            )
        });
        assert!(none.contains("No products found for “zzz”."), "{none}");
    }

    #[test]
    fn more_search_results_are_linked_by_the_apis_cursor_with_the_words_kept() {
        let next = cursor("bmV4dA==");
        let page = render_with_categories("red & blue", "/search", |chrome| {
            search_results(
                chrome,
                &SearchResults {
                    words: Some("red & blue"),
                    products: &[product("A1", "Red Flashlight")],
                    cursor: Some(&next),
                    next: Some(&next),
                },
            )
        });
        assert!(
            page.contains(r#"rel="next" href="/search?q=red+%26+blue&amp;cursor=bmV4dA%3D%3D""#),
            "{page}"
        );
        assert!(
            page.contains(r#"rel="first" href="/search?q=red+%26+blue""#),
            "{page}"
        );
        assert!(page.contains("More results: 1 product on this page."), "{page}");
    }

    #[test]
    fn a_category_page_shows_its_filters_a_page_of_products_and_links_on_and_back() {
        let filters = CategoryQuery::parse(|name| match name {
            "minPrice" => Some("10"),
            "sort" => Some("-price"),
            _ => None,
        })
        .unwrap()
        .filters;
        let products = [product("A1", "Kit"), product("B2", "Scope")];
        let category = telescopes();
        let next = cursor("Mg");
        let on = cursor("MQ");
        let page = render_with_categories("", "/category/telescopes", |chrome| {
            super::category(
                chrome,
                &CategoryListing {
                    cursor: Some(&on),
                    next: Some(&next),
                    ..listing(&category, &filters, &products)
                },
            )
        });
        for text in [
            r#"<form class="filters" method="get" action="/category/telescopes">"#,
            r#"<input id="minPrice" name="minPrice" type="text" inputmode="decimal" placeholder="0" value="10">"#,
            r#"<input id="maxPrice" name="maxPrice" type="text" inputmode="decimal" placeholder="any" value="">"#,
            r#"<option value="-price" selected>Price, high to low</option>"#,
            r#"<option value="price">Price, low to high</option>"#,
            "Lowest price (USD)",
            "<h1>Telescopes</h1>",
            "14 products in this category.",
            "Showing 2 products, sorted by price, high to low.",
            r#"rel="next" href="/category/telescopes?minPrice=10&amp;sort=-price&amp;cursor=Mg""#,
            r#"rel="first" href="/category/telescopes?minPrice=10&amp;sort=-price""#,
        ] {
            assert!(page.contains(text), "{text} missing: {page}");
        }
        assert_eq!(page.matches(r#"class="product-card""#).count(), 2);

        let first = render_with_categories("", "/category/telescopes", |chrome| {
            super::category(chrome, &listing(&category, &Filters::default(), &products))
        });
        assert!(
            !first.contains(r#"rel="first""#),
            "the first page links no first page"
        );
        assert!(
            !first.contains(r#"rel="next""#),
            "the last page links no next page"
        );
    }

    #[test]
    fn filters_that_cannot_be_used_are_shown_back_with_why_and_no_products() {
        let category = telescopes();
        let filters = Filters::default();
        let page = render_with_categories("", "/category/telescopes", |chrome| {
            super::category(
                chrome,
                &CategoryListing {
                    typed: Some(TypedFilters {
                        min_price: "\"><script>",
                        max_price: "",
                        sort: "price",
                    }),
                    problem: Some("The lowest price \"\"><script>\" is not an amount."),
                    ..listing(&category, &filters, &[])
                },
            )
        });
        assert!(page.contains(r#"role="alert""#), "{page}");
        assert!(page.contains("is not an amount."), "{page}");
        assert!(page.contains(r#"value="&quot;&gt;&lt;script&gt;""#), "{page}");
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains(r#"<option value="price" selected>"#), "{page}");
        assert!(
            page.contains(r#"href="/category/telescopes">Clear</a>"#),
            "{page}"
        );
    }

    #[test]
    fn my_orders_link_older_orders_by_cursor_and_back_to_the_newest() {
        let orders: Vec<OrderSummary> = serde_json::from_value(serde_json::json!([{
            "orderId": "3f2b8c1e-0d4a-4c7e-9b1a-2f6d8e0c4a11", "status": "CONFIRMED",
            "placedAt": "2026-11-21T10:00:00Z", "items": 1,
            "total": {"currencyCode": "USD", "units": 9, "nanos": 0}, "key": "k3y"
        }]))
        .unwrap();
        let next = cursor("b2xkZXI");
        let first = render_signed_in(|chrome| my_orders(chrome, &orders, None, Some(&next)));
        assert!(
            first.contains(r#"rel="next" href="/orders?cursor=b2xkZXI">Older orders →"#),
            "{first}"
        );
        assert!(!first.contains(r#"rel="first""#));
        let later = render_signed_in(|chrome| my_orders(chrome, &orders, Some(&next), None));
        assert!(
            later.contains(r#"rel="first" href="/orders">← Newest orders"#),
            "{later}"
        );
        assert!(!later.contains(r#"rel="next""#));
    }
}
