//! The product list: every product, or one category's, filtered by price
//! and sorted by name or price, one page at a time. Served from the read
//! model's listings (see `astroshop_store::search`): a page is one ranged
//! `Query` in the asked order, starting where the last page ended, never a
//! read of the whole catalogue.

use astroshop_domain::money::NANOS_PER_UNIT;
use astroshop_domain::{CurrencyCode, Money, Product};
use astroshop_edge::{ApiError, PageRequest, Pricing, page_response, query};
use astroshop_store::{ListOrder, Listing, ListingRead, RateSource, SearchIndex};
use lambda_http::{Body, Request, Response};

use crate::terms::category_key;

/// A page when `limit` is not given: the demo's whole catalogue, and more.
pub const DEFAULT_LIMIT: usize = 100;

/// The longest category a filter names; longer is not a category.
const MAX_CATEGORY_CHARS: usize = 100;

/// The most whole units a price filter states.
const MAX_PRICE_UNITS: i64 = 1_000_000_000_000;

/// What a request lists: whose products, in which order, in what price range.
#[derive(Debug, PartialEq)]
pub struct ListQuery {
    pub category: Option<String>,
    pub order: ListOrder,
    pub descending: bool,
    /// Inclusive bounds in the asked currency.
    pub min_price: Option<Money>,
    pub max_price: Option<Money>,
}

impl ListQuery {
    /// Reads `category`, `sort`, `minPrice` and `maxPrice`; a bad one is a
    /// 400 naming it.
    pub fn from_request(request: &Request, currency: &CurrencyCode) -> Result<Self, ApiError> {
        let category = query(request, "category")
            .map(|category| {
                if category.chars().count() > MAX_CATEGORY_CHARS {
                    return Err(ApiError::invalid_parameter(
                        "category",
                        format!(
                            "query parameter \"category\" is longer than {MAX_CATEGORY_CHARS} characters"
                        ),
                    ));
                }
                Ok(category_key(category))
            })
            .transpose()?;
        let (order, descending) = match query(request, "sort").unwrap_or("name") {
            "name" => (ListOrder::Name, false),
            "-name" => (ListOrder::Name, true),
            "price" => (ListOrder::Price, false),
            "-price" => (ListOrder::Price, true),
            _ => {
                return Err(ApiError::invalid_parameter(
                    "sort",
                    "query parameter \"sort\" must be one of name, -name, price, -price",
                ));
            }
        };
        let price = |name: &'static str| {
            query(request, name)
                .map(|text| {
                    parse_amount(text, currency).ok_or_else(|| {
                        ApiError::invalid_parameter(
                            name,
                            format!(
                                "query parameter {name:?} must be an amount in {currency} such as 25 or 24.99, \
                                 not {text:?}"
                            ),
                        )
                    })
                })
                .transpose()
        };
        let (min_price, max_price) = (price("minPrice")?, price("maxPrice")?);
        if let (Some(min), Some(max)) = (&min_price, &max_price)
            && min.total_nanos() > max.total_nanos()
        {
            return Err(ApiError::invalid_parameter(
                "minPrice",
                "query parameter \"minPrice\" is above \"maxPrice\"",
            ));
        }
        Ok(Self {
            category,
            order,
            descending,
            min_price,
            max_price,
        })
    }

    /// Everything that decides the list, for its cursors.
    fn scope(&self, currency: &CurrencyCode) -> String {
        let amount = |money: &Option<Money>| money.as_ref().map(Money::total_nanos);
        format!(
            "products;{:?};{:?};{};{:?};{:?};{currency}",
            self.category,
            self.order,
            self.descending,
            amount(&self.min_price),
            amount(&self.max_price)
        )
    }

    fn admits(&self, priced: &Product) -> bool {
        let price = priced.price_usd.total_nanos();
        self.min_price
            .as_ref()
            .is_none_or(|min| price >= min.total_nanos())
            && self
                .max_price
                .as_ref()
                .is_none_or(|max| price <= max.total_nanos())
    }
}

/// A non-negative decimal amount with at most nine decimals (`25`, `24.99`).
pub fn parse_amount(text: &str, currency: &CurrencyCode) -> Option<Money> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 9 || text.ends_with('.') {
        return None;
    }
    let units: i64 = whole.parse().ok().filter(|units| *units <= MAX_PRICE_UNITS)?;
    let nanos: i64 = format!("{fraction:0<9}").parse().ok()?;
    Money::new(currency.clone(), units, nanos).ok()
}

/// `GET /api/products?currencyCode=&category=&minPrice=&maxPrice=&sort=&limit=&cursor=`:
/// one page of products priced in the asked currency, with a `Link` to the
/// next when there is one.
pub async fn list_products(
    index: &impl SearchIndex,
    rates: &impl RateSource,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let pricing = Pricing::for_request(&request, rates).await?;
    let list = ListQuery::from_request(&request, pricing.currency())?;
    let page = PageRequest::from_request(&request, DEFAULT_LIMIT, &list.scope(pricing.currency()))?;
    let listing = Listing {
        category: list.category.clone(),
        order: list.order,
    };
    let (from, to) = match list.order {
        ListOrder::Price => usd_range(&list, &pricing)?,
        ListOrder::Name => (None, None),
    };
    let mut read = ListingRead {
        listing,
        descending: list.descending,
        from,
        to,
        after: page.after()?,
        // One more than the page, to know whether another follows.
        limit: i32::try_from(page.limit + 1).unwrap_or(i32::MAX),
    };
    let mut found: Vec<(String, Product)> = Vec::with_capacity(page.limit + 1);
    'reading: loop {
        let (listed, more) = index.listing_page(&read).await.map_err(ApiError::internal)?;
        for entry in listed {
            read.after = Some(entry.position.clone());
            let priced = pricing.price(entry.product)?;
            if list.admits(&priced) {
                found.push((entry.position, priced));
                if found.len() > page.limit {
                    break 'reading;
                }
            }
        }
        if !more {
            break;
        }
    }
    let next = if found.len() > page.limit {
        found.truncate(page.limit);
        let (last, _) = found.last().expect("a full page has a last item");
        Some(page.next_cursor(last)?)
    } else {
        None
    };
    let products: Vec<Product> = found.into_iter().map(|(_, product)| product).collect();
    Ok(page_response(&request, &products, next))
}

/// The range of listing positions that can hold prices within the filter:
/// the asked currency's bounds in US dollars, widened by a cent and a tenth
/// of a percent for the rounding of conversion. The exact filter is applied
/// to the converted prices.
fn usd_range(list: &ListQuery, pricing: &Pricing) -> Result<(Option<String>, Option<String>), ApiError> {
    let usd = CurrencyCode::usd();
    let in_usd = |money: &Money| -> Result<i128, ApiError> {
        pricing
            .rates()
            .convert(money, &usd)
            .map(|converted| converted.total_nanos())
            .map_err(|error| ApiError::internal(format!("converting a price filter: {error}")))
    };
    let slack = |nanos: i128| nanos / 1000 + NANOS_PER_UNIT / 100;
    let from = list
        .min_price
        .as_ref()
        .map(in_usd)
        .transpose()?
        .map(|nanos| Listing::price_position(nanos - slack(nanos)));
    let to = list
        .max_price
        .as_ref()
        .map(in_usd)
        .transpose()?
        // `$` sorts after the `#` that ends every price in a position.
        .map(|nanos| format!("{}$", Listing::price_position(nanos + slack(nanos))));
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_whole_or_up_to_nine_decimals() {
        let usd = CurrencyCode::usd();
        let amount = |text| parse_amount(text, &usd).map(|money| money.total_nanos());
        assert_eq!(amount("25"), Some(25 * NANOS_PER_UNIT));
        assert_eq!(amount("24.99"), Some(24_990_000_000));
        assert_eq!(amount("0.000000001"), Some(1));
        for bad in [
            "",
            ".5",
            "5.",
            "-1",
            "1e3",
            "1,5",
            "ten",
            "1.0000000001",
            "99999999999999",
        ] {
            assert_eq!(amount(bad), None, "{bad:?}");
        }
    }
}
