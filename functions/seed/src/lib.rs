//! Deploy-time setup as CloudFormation custom resources, so `sam deploy` alone
//! gives a working shop: `Custom::SeedData` loads the catalogue and currency
//! rates, `Custom::SecretKey` creates a secret key (the admin API's, the order
//! links') in SSM Parameter Store.
//! CloudFormation waits for an answer at the request's pre-signed URL, so
//! every outcome, failure included, is reported there.

use astroshop_seed::SeedTargets;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The fields of a custom resource request this function uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    pub request_type: RequestType,
    pub resource_type: String,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// Absent on Create.
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: Value,
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
    physical_resource_id: String,
    stack_id: &'a str,
    request_id: &'a str,
    logical_resource_id: &'a str,
}

pub struct Setup {
    pub seed: SeedTargets,
    pub ssm: aws_sdk_ssm::Client,
    pub http: reqwest::Client,
}

impl Setup {
    /// Handles one custom resource event and reports its outcome to
    /// CloudFormation. The error is only for a report that could not be sent.
    pub async fn handle(&self, request: CustomResourceRequest) -> Result<(), reqwest::Error> {
        let outcome = self.apply(&request).await;
        if let Err(reason) = &outcome {
            tracing::error!(resource = %request.logical_resource_id, %reason, "setup failed");
        }
        let (status, reason, physical_resource_id) = match outcome {
            Ok(id) => ("SUCCESS", None, id),
            // A failed Create has no resource yet; CloudFormation still wants an id.
            Err(reason) => (
                "FAILED",
                Some(reason),
                request
                    .physical_resource_id
                    .clone()
                    .unwrap_or_else(|| request.logical_resource_id.clone()),
            ),
        };
        let response = CustomResourceResponse {
            status,
            reason,
            physical_resource_id,
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

    /// Does what the request asks and gives the resource's physical id.
    async fn apply(&self, request: &CustomResourceRequest) -> Result<String, String> {
        match (request.resource_type.as_str(), request.request_type) {
            // Puts are idempotent, so an update re-seeds; the data goes with its tables.
            ("Custom::SeedData", RequestType::Create | RequestType::Update) => {
                self.seed.seed().await.map_err(|e| e.to_string())?;
                Ok("astroshop-seed-data".to_owned())
            }
            ("Custom::SeedData", RequestType::Delete) => Ok("astroshop-seed-data".to_owned()),
            // The physical id is the parameter's name, so `!Ref` gives it and a
            // renamed parameter is a replacement CloudFormation deletes the old one of.
            ("Custom::SecretKey", RequestType::Create | RequestType::Update) => {
                let property = |name| request.resource_properties.get(name).and_then(Value::as_str);
                let name =
                    property("ParameterName").ok_or("Custom::SecretKey needs a ParameterName property")?;
                let description = property("Description").unwrap_or("astroshop secret key");
                astroshop_seed::ensure_secret_key(&self.ssm, name, description)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(name.to_owned())
            }
            ("Custom::SecretKey", RequestType::Delete) => {
                let name = request
                    .physical_resource_id
                    .as_deref()
                    .ok_or("a Delete request has a physical resource id")?;
                // A failed Create reported its logical id; there is nothing to delete then.
                if name != request.logical_resource_id {
                    astroshop_seed::delete_secret_key(&self.ssm, name)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok(name.to_owned())
            }
            (other, _) => Err(format!("this function does not set up {other} resources")),
        }
    }
}
