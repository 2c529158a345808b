//! The shop's seed data, compiled in (the OpenTelemetry demo's catalogue and
//! euro reference rates, see `data/LICENSE`), and the one routine that loads it
//! into DynamoDB: the local stack and the deploy-time seeder both call it.

use std::collections::BTreeMap;

use astroshop_domain::{CurrencyCode, Product, Rate, RateTable};
use astroshop_store::{ProductTable, RateTableStore, StoreError};
use serde::Deserialize;

const PRODUCTS_JSON: &str = include_str!("../data/products.json");
const RATES_JSON: &str = include_str!("../data/currency_rates.json");

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seed data {file} is invalid: {message}")]
    Invalid { file: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Deserialize)]
struct ProductsFile {
    products: Vec<Product>,
}

#[derive(Deserialize)]
struct RatesFile {
    base: CurrencyCode,
    rates: BTreeMap<CurrencyCode, serde_json::Number>,
}

/// The catalogue's products.
pub fn products() -> Result<Vec<Product>, SeedError> {
    serde_json::from_str::<ProductsFile>(PRODUCTS_JSON)
        .map(|file| file.products)
        .map_err(|e| SeedError::Invalid {
            file: "products.json",
            message: e.to_string(),
        })
}

/// The base currency and the rates against it. JSON numbers print back in
/// their shortest exact form (`1.1305`), which `Rate::parse` reads exactly.
pub fn rates() -> Result<(CurrencyCode, RateTable), SeedError> {
    let invalid = |message: String| SeedError::Invalid {
        file: "currency_rates.json",
        message,
    };
    let file: RatesFile = serde_json::from_str(RATES_JSON).map_err(|e| invalid(e.to_string()))?;
    let rates = file
        .rates
        .into_iter()
        .map(|(code, number)| {
            Rate::parse(&number.to_string())
                .map(|rate| (code, rate))
                .map_err(|e| invalid(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    Ok((file.base, RateTable::new(rates)))
}

/// Writes the catalogue and the rates. Puts are idempotent, so seeding twice
/// leaves the same data.
pub async fn seed(products_table: &ProductTable, rates_store: &RateTableStore) -> Result<(), SeedError> {
    for product in products()? {
        products_table.put_product(&product).await?;
    }
    let (base, table) = rates()?;
    rates_store.put_rates(&base, &table).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_ten_products_priced_in_usd() {
        let products = products().unwrap();
        assert_eq!(products.len(), 10);
        assert!(
            products
                .iter()
                .all(|p| p.price_usd.currency_code().as_str() == "USD")
        );
    }

    #[test]
    fn the_rates_cover_33_currencies_against_eur() {
        let (base, table) = rates().unwrap();
        assert_eq!(base.as_str(), "EUR");
        assert_eq!(table.codes().count(), 33);
        let usd = table.rates().find(|(code, _)| code.as_str() == "USD").unwrap().1;
        assert_eq!(usd.to_string(), "1.1305");
    }
}
