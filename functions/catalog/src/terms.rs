//! What a product is found by: the words of its name, description and
//! categories, lower-cased, and its categories. The indexer and the search
//! handler both split text here, so a query word matches exactly the words
//! a product was indexed under.

use std::collections::BTreeSet;

use astroshop_domain::Product;
use astroshop_store::Entry;

/// Longer "words" are noise (a pasted URL, a run of digits); skipping them
/// also keeps every term far below DynamoDB's key size limit.
const MAX_WORD_CHARS: usize = 40;

/// The words of `text`: runs of letters and digits, lower-cased.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty() && word.chars().count() <= MAX_WORD_CHARS)
        .map(str::to_lowercase)
}

/// Every entry the search read model holds for `product`.
pub fn entries(product: &Product) -> BTreeSet<Entry> {
    let texts = [product.name.as_str(), product.description.as_str()]
        .into_iter()
        .chain(product.categories.iter().map(String::as_str));
    texts
        .flat_map(words)
        .map(Entry::Term)
        .chain(product.categories.iter().cloned().map(Entry::Category))
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
        for term in [
            "red",
            "flashlight",
            "keeps",
            "night",
            "vision",
            "accessories",
            "flashlights",
        ] {
            assert!(
                entries.contains(&Entry::Term(term.to_owned())),
                "{term} is not a term"
            );
        }
        assert!(entries.contains(&Entry::Category("flashlights".to_owned())));
        assert_eq!(entries.len(), 9);
    }
}
