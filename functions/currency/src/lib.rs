//! Currency service: the supported currencies and exact conversion between
//! them, from the rates in the `CurrencyRates` table.

use astroshop_domain::{ConversionError, CurrencyCode, Money};
use astroshop_edge::{ApiError, ok, query, required_query};
use astroshop_store::RateSource;
use lambda_http::{Body, Request, Response};

/// `GET /api/currency`: the supported codes, alphabetically.
pub async fn list_currencies(rates: &impl RateSource, _request: Request) -> Result<Response<Body>, ApiError> {
    let rates = rates.rate_table().await.map_err(ApiError::internal)?;
    let codes: Vec<&CurrencyCode> = rates.codes().collect();
    Ok(ok(&codes))
}

/// `GET /api/currency/convert?from=&to=&units=&nanos=`
pub async fn convert_currency(rates: &impl RateSource, request: Request) -> Result<Response<Body>, ApiError> {
    let currency = |name| {
        CurrencyCode::parse(required_query(&request, name)?)
            .map_err(|e| ApiError::bad_request("invalid_currency", format!("{name}: {e}")))
    };
    let from = currency("from")?;
    let to = currency("to")?;
    let units = whole_number("units", required_query(&request, "units")?)?;
    let nanos = query(&request, "nanos")
        .map(|text| whole_number("nanos", text))
        .transpose()?;
    let amount = Money::new(from, units, nanos.unwrap_or(0))
        .map_err(|e| ApiError::bad_request("invalid_amount", e.to_string()))?;
    let rates = rates.rate_table().await.map_err(ApiError::internal)?;
    let converted = rates.convert(&amount, &to).map_err(|error| match error {
        ConversionError::UnsupportedCurrency(_) => {
            ApiError::bad_request("unsupported_currency", error.to_string())
        }
        ConversionError::Money(_) => ApiError::bad_request("amount_out_of_range", error.to_string()),
    })?;
    Ok(ok(&converted))
}

fn whole_number(name: &str, text: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_amount",
            format!("{name} must be a whole number, got {text:?}"),
        )
    })
}
