//! The storefront in a real browser (headless chromium): a shopper browses,
//! adds a product to the cart and switches to euros, with the page's own
//! script doing what it does for a person. Screenshots of the home and cart
//! pages, at laptop and phone width, are saved in target/screenshots.

use std::path::PathBuf;

use anyhow::{Context, Result};
use astroshop_tests::browser::Browser;
use astroshop_tests::{Shop, ensure_that};
use serde_json::Value;

use crate::storefront::SEEDED;

pub const TESTS: &[(&str, crate::Test)] =
    tests![a_shopper_browses_adds_to_cart_and_pays_in_euros_in_chromium];

const LAPTOP: (u32, u32) = (1280, 800);
const PHONE: (u32, u32) = (390, 844);

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots")
}

/// Saves `name`.png at laptop width and `name`-phone.png at phone width.
fn both_widths(browser: &mut Browser, name: &str) -> Result<()> {
    browser.set_screen(LAPTOP.0, LAPTOP.1, false)?;
    browser.screenshot(&screenshots().join(format!("{name}.png")))?;
    browser.set_screen(PHONE.0, PHONE.1, true)?;
    // A phone's browser widens the layout to fit wide content, so the
    // content is measured against the screen, not the window.
    let fits = browser.eval(&format!("document.documentElement.scrollWidth <= {}", PHONE.0))?;
    ensure_that!(fits == Value::Bool(true), "the {name} page is wider than a phone");
    browser.screenshot(&screenshots().join(format!("{name}-phone.png")))?;
    browser.set_screen(LAPTOP.0, LAPTOP.1, false)
}

fn a_shopper_browses_adds_to_cart_and_pays_in_euros_in_chromium(shop: &Shop) -> Result<()> {
    let mut browser = Browser::launch()?;
    browser.set_screen(LAPTOP.0, LAPTOP.1, false)?;
    browser.open(&format!("{}/", shop.base_url()))?;

    let cards = browser.eval(
        "[...document.querySelectorAll('.product-card')].map(card => ({
            id: card.dataset.productId,
            price: card.querySelector('.price').textContent,
            pictureWidth: card.querySelector('img').naturalWidth,
        }))",
    )?;
    let cards = cards.as_array().context("no cards")?;
    for (id, _, usd, _) in SEEDED {
        let card = cards
            .iter()
            .find(|card| card["id"] == id)
            .with_context(|| format!("no card for {id}"))?;
        ensure_that!(card["price"] == usd, "{id} shows {}, not {usd}", card["price"]);
        ensure_that!(
            card["pictureWidth"].as_u64().is_some_and(|w| w > 0),
            "the picture of {id} did not load: {card}"
        );
    }
    both_widths(&mut browser, "home")?;

    browser
        .act_and_wait("document.querySelector('.product-card a[href=\"/product/OLJCESPC7Z\"]').click()")?;
    let title = browser.eval("document.querySelector('h1').textContent")?;
    ensure_that!(
        title == "National Park Foundation Explorascope",
        "the product page shows {title}"
    );
    let recommended = browser.eval("document.querySelectorAll('.recommendations .product-card').length")?;
    ensure_that!(
        recommended.as_u64().is_some_and(|n| n > 0),
        "no recommendations shown"
    );

    browser.act_and_wait(
        "document.querySelector('#quantity').value = '2';
         document.querySelector('form.add-to-cart').requestSubmit()",
    )?;
    let path = browser.eval("location.pathname")?;
    ensure_that!(path == "/cart", "adding to the cart led to {path}");
    let line = browser.eval(
        "(() => { const line = document.querySelector('.cart-line[data-product-id=\"OLJCESPC7Z\"]');
                  return line && line.querySelector('.quantity').textContent; })()",
    )?;
    ensure_that!(line == "2", "the cart holds {line} of the Explorascope");

    // The switcher's script submits on change; its button stays hidden.
    let button_hidden = browser.eval("document.querySelector('.currency-switcher button').hidden")?;
    ensure_that!(
        button_hidden == Value::Bool(true),
        "the script did not take over the switcher"
    );
    browser.act_and_wait(
        "const select = document.querySelector('#currency');
         select.value = 'EUR';
         select.dispatchEvent(new Event('change'))",
    )?;
    let path = browser.eval("location.pathname")?;
    ensure_that!(path == "/cart", "switching currency led to {path}");
    let total = browser.eval("document.querySelector('.cart-line .price').textContent")?;
    // 2 × €90.190181336, rounded once at the end.
    ensure_that!(total == "€180.38", "the line costs {total} in euros");
    let selected = browser.eval("document.querySelector('#currency').value")?;
    ensure_that!(selected == "EUR", "the switcher shows {selected}");
    both_widths(&mut browser, "cart")?;
    Ok(())
}
