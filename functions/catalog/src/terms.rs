//! What a product is found by: the words of its name, description and
//! categories, lower-cased, each weighed by the most telling field it is in;
//! its categories; and its place in every listing it belongs to. The indexer
//! and the search handler both split text here, so a query word matches
//! exactly the words a product was indexed under.

use std::collections::{BTreeMap, BTreeSet};

use astroshop_domain::Product;
use astroshop_store::{Entry, ListOrder, Listing};

/// How much a word counts towards a search's ranking, by where it is: a
/// match in the name above one in a category above one in the description.
pub const NAME_WEIGHT: u8 = 4;
pub const CATEGORY_WEIGHT: u8 = 2;
pub const DESCRIPTION_WEIGHT: u8 = 1;

/// Longer "words" are noise (a pasted URL, a run of digits); skipping them
/// also keeps every term far below DynamoDB's key size limit.
const MAX_WORD_CHARS: usize = 40;

/// The words of `text`: runs of letters and digits, lower-cased.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty() && word.chars().count() <= MAX_WORD_CHARS)
        .map(str::to_lowercase)
}

/// A category as listings and filters name it: lower-cased.
pub fn category_key(category: &str) -> String {
    category.to_lowercase()
}

/// Every entry the search read model holds for `product`.
pub fn entries(product: &Product) -> BTreeSet<Entry> {
    let fields = [
        (product.name.as_str(), NAME_WEIGHT),
        (product.description.as_str(), DESCRIPTION_WEIGHT),
    ]
    .into_iter()
    .chain(
        product
            .categories
            .iter()
            .map(|category| (category.as_str(), CATEGORY_WEIGHT)),
    );
    let mut weights: BTreeMap<String, u8> = BTreeMap::new();
    for (text, weight) in fields {
        for word in words(text) {
            let best = weights.entry(word).or_insert(weight);
            *best = (*best).max(weight);
        }
    }
    let scopes = std::iter::once(None).chain(product.categories.iter().map(|c| Some(category_key(c))));
    let listings = scopes.flat_map(|category| {
        [ListOrder::Name, ListOrder::Price].map(|order| Listing {
            category: category.clone(),
            order,
        })
    });
    weights
        .into_iter()
        .map(|(word, weight)| Entry::Word { word, weight })
        .chain(product.categories.iter().cloned().map(Entry::Category))
        .chain(listings.map(|listing| Entry::Listed {
            position: listing.position(product),
            listing,
        }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        words(text).collect()
    }

    #[test]
    fn words_are_lower_cased_runs_of_letters_and_digits() {
        assert_eq!(
            terms("Starsense Explorer: 80mm, app-enabled!"),
            ["starsense", "explorer", "80mm", "app", "enabled"]
        );
        assert_eq!(terms("  ,;  "), Vec::<String>::new());
        assert_eq!(terms("Ölfilter für Teleskope"), ["ölfilter", "für", "teleskope"]);
    }

    #[test]
    fn overlong_words_are_not_terms() {
        let long = "x".repeat(MAX_WORD_CHARS + 1);
        assert_eq!(terms(&format!("lens {long} kit")), ["lens", "kit"]);
    }

    #[test]
    fn a_product_is_found_by_its_name_description_and_categories() {
        let product: Product = serde_json::from_value(serde_json::json!({
            "id": "ABC", "name": "Red Flashlight", "description": "Keeps night vision.",
            "picture": "RedFlashlight.jpg",
            "priceUsd": {"currencyCode": "USD", "units": 57, "nanos": 80000000},
            "categories": ["accessories", "flashlights"]
        }))
        .unwrap();
        let entries = entries(&product);
        for (word, weight) in [
            ("red", NAME_WEIGHT),
            ("flashlight", NAME_WEIGHT),
            ("keeps", DESCRIPTION_WEIGHT),
            ("night", DESCRIPTION_WEIGHT),
            ("vision", DESCRIPTION_WEIGHT),
            ("accessories", CATEGORY_WEIGHT),
            ("flashlights", CATEGORY_WEIGHT),
        ] {
            let entry = Entry::Word {
                word: word.to_owned(),
                weight,
            };
            assert!(entries.contains(&entry), "{entry:?} is not an entry");
        }
        assert!(entries.contains(&Entry::Category("flashlights".to_owned())));
        let by_price_in_flashlights = Listing {
            category: Some("flashlights".to_owned()),
            order: ListOrder::Price,
        };
        assert!(entries.contains(&Entry::Listed {
            position: "00000000057080000000#ABC".to_owned(),
            listing: by_price_in_flashlights,
        }));
        // 7 words, 2 categories, and by name and by price in all and in each category.
        assert_eq!(entries.len(), 7 + 2 + 2 * 3);
    }

    #[test]
    fn a_word_in_the_name_and_the_description_weighs_as_the_name() {
        let product: Product = serde_json::from_value(serde_json::json!({
            "id": "ABC", "name": "Lens Cleaning Kit", "description": "A kit for lens care.",
            "picture": "Lens.jpg",
            "priceUsd": {"currencyCode": "USD", "units": 21, "nanos": 950000000},
            "categories": ["Accessories"]
        }))
        .unwrap();
        let entries = entries(&product);
        let weight_of = |word: &str| {
            entries.iter().find_map(|entry| match entry {
                Entry::Word { word: w, weight } if w == word => Some(*weight),
                _ => None,
            })
        };
        assert_eq!(weight_of("lens"), Some(NAME_WEIGHT));
        assert_eq!(weight_of("care"), Some(DESCRIPTION_WEIGHT));
        assert!(entries.iter().any(|entry| matches!(entry,
            Entry::Listed { listing: Listing { category: Some(c), order: ListOrder::Name }, position }
                if c == "accessories" && position == "lens cleaning kit#ABC")));
    }
}
