//! The shop's seed data, compiled in (the OpenTelemetry demo's catalogue,
//! euro reference rates and ads, see `data/LICENSE`, and each product's
//! opening stock), and the one routine that loads it into DynamoDB: the local
//! stack and the deploy-time seeder both call it.
//! Also the shop's secret keys (the admin key, the order-link key), created
//! in SSM Parameter Store on deploy.

mod secret_key;

pub use secret_key::{SecretKeyError, delete_secret_key, ensure_secret_key};

use std::collections::BTreeMap;

use astroshop_domain::{CurrencyCode, Product, ProductId, Rate, RateTable};
use astroshop_store::dynamo::OnTable;
use astroshop_store::{Ad, AdTable, MissingSetting, ProductTable, RateTableStore, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;

const PRODUCTS_JSON: &str = include_str!("../data/products.json");
const RATES_JSON: &str = include_str!("../data/currency_rates.json");
const ADS_JSON: &str = include_str!("../data/ads.json");
const INVENTORY_JSON: &str = include_str!("../data/inventory.json");

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

#[derive(Deserialize)]
struct AdsFile {
    ads: BTreeMap<String, Vec<Ad>>,
}

#[derive(Deserialize)]
struct InventoryFile {
    stock: BTreeMap<ProductId, u64>,
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

/// The ads of each category; a category may have none.
pub fn ads() -> Result<BTreeMap<String, Vec<Ad>>, SeedError> {
    serde_json::from_str::<AdsFile>(ADS_JSON)
        .map(|file| file.ads)
        .map_err(|e| SeedError::Invalid {
            file: "ads.json",
            message: e.to_string(),
        })
}

/// Each product's opening stock.
pub fn stock() -> Result<BTreeMap<ProductId, u64>, SeedError> {
    serde_json::from_str::<InventoryFile>(INVENTORY_JSON)
        .map(|file| file.stock)
        .map_err(|e| SeedError::Invalid {
            file: "inventory.json",
            message: e.to_string(),
        })
}

/// The tables the seed data goes to. Built from settings by the names the
/// template gives the seeder function, so the deploy-time seeder (reading its
/// environment) and the local stack (reading the template) seed the same
/// tables through this one list.
pub struct SeedTargets {
    products: ProductTable,
    rates: RateTableStore,
    ads: AdTable,
    dynamodb: aws_sdk_dynamodb::Client,
    inventory: String,
}

impl SeedTargets {
    /// `setting` looks a name up: the process environment in the Lambda, the
    /// seeder's resolved environment in the local stack.
    pub fn from_settings(
        dynamodb: aws_sdk_dynamodb::Client,
        setting: impl Fn(&'static str) -> Option<String>,
    ) -> Result<Self, MissingSetting> {
        let table = |name| {
            setting(name)
                .filter(|v| !v.is_empty())
                .ok_or(MissingSetting(name))
        };
        Ok(Self {
            products: ProductTable::new(dynamodb.clone(), table("PRODUCTS_TABLE")?),
            rates: RateTableStore::new(dynamodb.clone(), table("CURRENCY_RATES_TABLE")?),
            ads: AdTable::new(dynamodb.clone(), table("ADS_TABLE")?),
            dynamodb,
            inventory: table("INVENTORY_TABLE")?,
        })
    }

    /// Writes the seed data. Puts are idempotent, so seeding twice leaves the
    /// same data; stock is written only for a product that has none, so a
    /// redeploy never resets what was sold or restocked since.
    pub async fn seed(&self) -> Result<(), SeedError> {
        for product in products()? {
            self.products.put_product(&product).await?;
        }
        let (base, table) = rates()?;
        self.rates.put_rates(&base, &table).await?;
        for (category, ads) in ads()? {
            for ad in &ads {
                self.ads.put_ad(&category, ad).await?;
            }
        }
        for (product, available) in stock()? {
            self.open_stock(&product, available).await?;
        }
        Ok(())
    }

    /// The stock item `{productId, available, stocked}` the inventory
    /// service keeps; a count the product has already is left as it is.
    async fn open_stock(&self, product: &ProductId, available: u64) -> Result<(), StoreError> {
        self.dynamodb
            .update_item()
            .table_name(&self.inventory)
            .key("productId", AttributeValue::S(product.to_string()))
            .update_expression("SET stocked = :stocked, available = if_not_exists(available, :available)")
            .expression_attribute_values(":stocked", AttributeValue::S("STOCK".to_owned()))
            .expression_attribute_values(":available", AttributeValue::N(available.to_string()))
            .send()
            .await
            .on_table(&self.inventory)?;
        Ok(())
    }
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

    #[test]
    fn every_product_and_only_those_have_opening_stock() {
        let stock = stock().unwrap();
        let mut ids: Vec<&ProductId> = stock.keys().collect();
        let products = products().unwrap();
        let mut catalogue: Vec<&ProductId> = products.iter().map(|p| &p.id).collect();
        ids.sort();
        catalogue.sort();
        assert_eq!(ids, catalogue);
        assert!(stock.values().all(|units| (100..=500).contains(units)));
    }

    #[test]
    fn every_ad_leads_to_a_product_of_its_category() {
        let products = products().unwrap();
        let ads = ads().unwrap();
        assert_eq!(ads.values().map(Vec::len).sum::<usize>(), 7);
        assert!(
            ads["books"].is_empty(),
            "books has no ads, so it gets random ones"
        );
        for (category, ads) in &ads {
            for ad in ads {
                let id = ad.redirect_url.strip_prefix("/product/").unwrap();
                let product = products.iter().find(|p| p.id.as_str() == id).unwrap();
                assert!(product.categories.contains(category), "{id} is not in {category}");
            }
        }
    }
}
