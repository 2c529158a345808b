//! What a shopper asks the listings for (a search, a category with a price
//! range and an order, a page of their orders), read from the page's query
//! string at the edge into what it means. Bad input is a `FormError` the
//! page shows with a 400, never a call to the API with text it would refuse.
//! The same types write the query back, for the links to the next page and
//! the form that shows what was asked.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::forms::FormError;

/// Products on one page of a category: three or four rows of the grid.
pub const CATEGORY_PAGE_SIZE: u32 = 12;

/// Products a search asks for at once: the API's most, so the count a
/// results page gives is whole for any search a shopper types.
pub const SEARCH_PAGE_SIZE: u32 = 100;

/// Orders on one page of My orders.
pub const ORDERS_PAGE_SIZE: u32 = 10;

/// The most characters of a search the storefront passes on.
pub const MAX_SEARCH_CHARS: usize = 100;

/// The longest cursor a page link may carry; the API's are far shorter.
const MAX_CURSOR_CHARS: usize = 2048;

/// How a category lists its products, as the API's `sort` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Name,
    PriceLowToHigh,
    PriceHighToLow,
}

impl Sort {
    pub const ALL: [Self; 3] = [Self::Name, Self::PriceLowToHigh, Self::PriceHighToLow];

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|sort| sort.as_str() == text)
    }

    /// The API's word for it, which the page's links and form use too.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::PriceLowToHigh => "price",
            Self::PriceHighToLow => "-price",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Name => "Name",
            Self::PriceLowToHigh => "Price, low to high",
            Self::PriceHighToLow => "Price, high to low",
        }
    }
}

/// One end of a price range: a non-negative decimal amount in the shopper's
/// currency (`25`, `19.99`), kept as typed for the form and the API, and in
/// nanos to compare the two ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceBound {
    text: String,
    nanos: i128,
}

impl PriceBound {
    fn parse(label: &str, text: &str) -> Result<Self, FormError> {
        let bad = || {
            FormError::Malformed(format!(
                "The {label} price \"{text}\" is not an amount. Use digits, like 25 or 19.99."
            ))
        };
        let (units, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |part: &str, most: usize| part.len() <= most && part.bytes().all(|b| b.is_ascii_digit());
        if units.is_empty() || !digits(units, 12) || !digits(fraction, 9) || text.ends_with('.') {
            return Err(bad());
        }
        let units: i128 = units.parse().map_err(|_| bad())?;
        let fraction_nanos: i128 = if fraction.is_empty() {
            0
        } else {
            format!("{fraction:0<9}").parse().map_err(|_| bad())?
        };
        Ok(Self {
            text: text.to_owned(),
            nanos: units * 1_000_000_000 + fraction_nanos,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The opaque place in a list where the next page starts, as the API gave
/// it (URL-safe base64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    pub fn parse(text: &str) -> Result<Self, FormError> {
        let plain = (1..=MAX_CURSOR_CHARS).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='));
        if plain {
            Ok(Self(text.to_owned()))
        } else {
            Err(FormError::Malformed(
                "This page's link is not one of ours, so we cannot tell where the list goes on. \
                 Start again from the first page."
                    .to_owned(),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The category page's filters: a price range and an order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub min_price: Option<PriceBound>,
    pub max_price: Option<PriceBound>,
    pub sort: Sort,
}

impl Filters {
    /// The filters as query pairs (the defaults left out): the links of a
    /// category's pages carry them, and the API is asked with them.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut pairs = Vec::new();
        if let Some(min) = &self.min_price {
            pairs.push(("minPrice", min.as_str()));
        }
        if let Some(max) = &self.max_price {
            pairs.push(("maxPrice", max.as_str()));
        }
        if self.sort != Sort::Name {
            pairs.push(("sort", self.sort.as_str()));
        }
        pairs
    }
}

/// A query string's fields as the page was asked them; blank is absent, as
/// an empty field of a GET form is sent blank.
fn field<'q>(query: &impl Fn(&str) -> Option<&'q str>, name: &str) -> Option<&'q str> {
    query(name).map(str::trim).filter(|value| !value.is_empty())
}

fn cursor<'q>(query: &impl Fn(&str) -> Option<&'q str>) -> Result<Option<Cursor>, FormError> {
    field(query, "cursor").map(Cursor::parse).transpose()
}

/// `GET /category/{name}?minPrice=&maxPrice=&sort=&cursor=`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryQuery {
    pub filters: Filters,
    pub cursor: Option<Cursor>,
}

impl CategoryQuery {
    pub fn parse<'q>(query: impl Fn(&str) -> Option<&'q str>) -> Result<Self, FormError> {
        let min_price = field(&query, "minPrice")
            .map(|text| PriceBound::parse("lowest", text))
            .transpose()?;
        let max_price = field(&query, "maxPrice")
            .map(|text| PriceBound::parse("highest", text))
            .transpose()?;
        if let (Some(min), Some(max)) = (&min_price, &max_price)
            && min.nanos > max.nanos
        {
            return Err(FormError::Malformed(format!(
                "The lowest price ({}) is above the highest ({}). Swap them or leave one empty.",
                min.as_str(),
                max.as_str()
            )));
        }
        let sort = match field(&query, "sort") {
            None => Sort::Name,
            Some(text) => Sort::parse(text).ok_or_else(|| {
                FormError::Malformed(format!(
                    "\"{text}\" is not a way to sort. Sort by name or by price."
                ))
            })?,
        };
        Ok(Self {
            filters: Filters {
                min_price,
                max_price,
                sort,
            },
            cursor: cursor(&query)?,
        })
    }
}

/// `GET /search?q=&cursor=`: the words as typed (trimmed), or `None` when
/// nothing was typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub words: Option<String>,
    pub cursor: Option<Cursor>,
}

impl SearchQuery {
    pub fn parse<'q>(query: impl Fn(&str) -> Option<&'q str>) -> Result<Self, FormError> {
        let words = field(&query, "q");
        if let Some(words) = words
            && words.chars().count() > MAX_SEARCH_CHARS
        {
            return Err(FormError::Malformed(format!(
                "That search is too long. Use at most {MAX_SEARCH_CHARS} characters."
            )));
        }
        Ok(Self {
            words: words.map(str::to_owned),
            cursor: cursor(&query)?,
        })
    }
}

/// `GET /orders?cursor=`.
pub fn orders_cursor<'q>(query: impl Fn(&str) -> Option<&'q str>) -> Result<Option<Cursor>, FormError> {
    cursor(&query)
}

/// What a path segment may hold unescaped.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A category's page: `/category/{name}`, then its query (filters, cursor).
pub fn category_url(name: &str, pairs: &[(&str, &str)]) -> String {
    with_query(
        &format!("/category/{}", utf8_percent_encode(name, SEGMENT)),
        pairs,
    )
}

/// The category a `/category/{name}` segment names, decoded.
pub fn category_name(segment: &str) -> Option<String> {
    percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|name| name.into_owned())
}

/// A path with a query string built from `pairs`, each value escaped.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return path.to_owned();
    }
    match serde_urlencoded::to_string(pairs) {
        Ok(query) => format!("{path}?{query}"),
        Err(_) => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked<'q>(pairs: &'q [(&'q str, &'q str)]) -> impl Fn(&str) -> Option<&'q str> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| *value)
        }
    }

    fn error(result: Result<CategoryQuery, FormError>) -> String {
        match result {
            Err(FormError::Malformed(message)) => message,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn a_category_query_reads_a_price_range_an_order_and_a_cursor() {
        let query = CategoryQuery::parse(asked(&[
            ("minPrice", " 10.5 "),
            ("maxPrice", "200"),
            ("sort", "-price"),
            ("cursor", "eyJrIjoxfQ=="),
            ("utm_source", "mail"),
        ]))
        .unwrap();
        assert_eq!(query.filters.sort, Sort::PriceHighToLow);
        assert_eq!(
            query.filters.pairs(),
            [("minPrice", "10.5"), ("maxPrice", "200"), ("sort", "-price")]
        );
        assert_eq!(query.cursor.unwrap().as_str(), "eyJrIjoxfQ==");
    }

    #[test]
    fn blank_fields_of_the_filter_form_are_no_filter() {
        let query =
            CategoryQuery::parse(asked(&[("minPrice", ""), ("maxPrice", " "), ("sort", "")])).unwrap();
        assert_eq!(query, CategoryQuery::default());
        assert!(query.filters.pairs().is_empty());
    }

    #[test]
    fn a_price_that_is_not_an_amount_says_which_and_why() {
        for (text, which) in [
            ("abc", "lowest"),
            ("-5", "lowest"),
            ("1e3", "lowest"),
            ("10.", "lowest"),
            (".5", "lowest"),
            ("1.0000000001", "lowest"),
            ("9999999999999", "lowest"),
        ] {
            let message = error(CategoryQuery::parse(asked(&[("minPrice", text)])));
            assert!(
                message.contains(&format!("The {which} price \"{text}\"")),
                "{message}"
            );
        }
        let message = error(CategoryQuery::parse(asked(&[("maxPrice", "12,50")])));
        assert!(
            message.contains("highest price \"12,50\" is not an amount"),
            "{message}"
        );
    }

    #[test]
    fn a_lowest_price_above_the_highest_is_refused_and_equal_ones_are_not() {
        let message = error(CategoryQuery::parse(asked(&[
            ("minPrice", "100.01"),
            ("maxPrice", "100"),
        ])));
        assert!(
            message.contains("(100.01) is above the highest (100)"),
            "{message}"
        );
        assert!(CategoryQuery::parse(asked(&[("minPrice", "100.0"), ("maxPrice", "100")])).is_ok());
    }

    #[test]
    fn an_unknown_order_or_a_cursor_that_could_break_a_url_is_refused() {
        let message = error(CategoryQuery::parse(asked(&[("sort", "cheapest")])));
        assert!(message.contains("\"cheapest\" is not a way to sort"), "{message}");
        for cursor in ["a&b", "a b", "<script>", &"c".repeat(MAX_CURSOR_CHARS + 1)] {
            assert!(
                CategoryQuery::parse(asked(&[("cursor", cursor)])).is_err(),
                "{cursor}"
            );
        }
    }

    #[test]
    fn a_search_keeps_its_words_and_refuses_a_very_long_one() {
        let query = SearchQuery::parse(asked(&[("q", "  red tele ")])).unwrap();
        assert_eq!(query.words.as_deref(), Some("red tele"));
        assert_eq!(SearchQuery::parse(asked(&[("q", "")])).unwrap().words, None);
        let long = "a".repeat(MAX_SEARCH_CHARS + 1);
        assert!(SearchQuery::parse(asked(&[("q", &long)])).is_err());
    }

    #[test]
    fn category_links_escape_the_name_and_the_query() {
        assert_eq!(
            category_url("telescopes", &[("sort", "-price"), ("cursor", "a=")]),
            "/category/telescopes?sort=-price&cursor=a%3D"
        );
        assert_eq!(category_url("a/b c", &[]), "/category/a%2Fb%20c");
        assert_eq!(category_name("a%2Fb%20c").as_deref(), Some("a/b c"));
        assert_eq!(
            with_query("/search", &[("q", "red & \"blue\"")]),
            "/search?q=red+%26+%22blue%22"
        );
    }
}
