//! Seeds the catalogue and the currency rates when the stack is deployed: a
//! CloudFormation custom resource, so `sam deploy` alone gives a shop with
//! products. CloudFormation waits for an answer at the request's pre-signed
//! URL, so every outcome, failure included, is reported there.

use astroshop_store::{ProductTable, RateTableStore};
use serde::{Deserialize, Serialize};

/// The fields of a custom resource request this resource uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    pub request_type: RequestType,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CustomResourceResponse<'a> {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    physical_resource_id: &'static str,
    stack_id: &'a str,
    request_id: &'a str,
    logical_resource_id: &'a str,
}

pub struct Seeder {
    pub products: ProductTable,
    pub rates: RateTableStore,
    pub http: reqwest::Client,
}

impl Seeder {
    /// Handles one custom resource event: create and update seed (puts are
    /// idempotent), delete leaves the data to go with its tables.
    pub async fn handle(&self, request: CustomResourceRequest) -> Result<(), reqwest::Error> {
        let outcome = match request.request_type {
            RequestType::Create | RequestType::Update => astroshop_seed::seed(&self.products, &self.rates)
                .await
                .map_err(|e| e.to_string()),
            RequestType::Delete => Ok(()),
        };
        if let Err(reason) = &outcome {
            tracing::error!(%reason, "seeding failed");
        }
        let response = CustomResourceResponse {
            status: if outcome.is_ok() { "SUCCESS" } else { "FAILED" },
            reason: outcome.err(),
            physical_resource_id: "astroshop-seed-data",
            stack_id: &request.stack_id,
            request_id: &request.request_id,
            logical_resource_id: &request.logical_resource_id,
        };
        self.http
            .put(&request.response_url)
            .json(&response)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}
