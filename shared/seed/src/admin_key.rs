//! The key that guards the catalogue's admin API: a random secret kept as an
//! SSM Parameter Store SecureString. CloudFormation cannot create a
//! SecureString, so the deploy-time seeder creates it (and the local stack
//! does the same); it is never overwritten, so a key an operator rotated by
//! hand survives redeploys.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::ParameterType;
use rand::RngCore;

#[derive(Debug, thiserror::Error)]
#[error("admin key parameter {name}: {source}")]
pub struct AdminKeyError {
    name: String,
    source: Box<aws_sdk_ssm::Error>,
}

/// Creates the parameter `name` with a fresh random key unless it exists.
pub async fn ensure_admin_key(ssm: &Client, name: &str) -> Result<(), AdminKeyError> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let key: String = secret.iter().map(|byte| format!("{byte:02x}")).collect();
    let created = ssm
        .put_parameter()
        .name(name)
        .description("astroshop admin API key (Authorization: Bearer <key>)")
        .r#type(ParameterType::SecureString)
        .value(key)
        .overwrite(false)
        .send()
        .await;
    match created.map_err(aws_sdk_ssm::Error::from) {
        Ok(_) | Err(aws_sdk_ssm::Error::ParameterAlreadyExists(_)) => Ok(()),
        Err(error) => Err(AdminKeyError {
            name: name.to_owned(),
            source: Box::new(error),
        }),
    }
}

/// Deletes the parameter; one already gone is not an error.
pub async fn delete_admin_key(ssm: &Client, name: &str) -> Result<(), AdminKeyError> {
    match ssm
        .delete_parameter()
        .name(name)
        .send()
        .await
        .map_err(aws_sdk_ssm::Error::from)
    {
        Ok(_) | Err(aws_sdk_ssm::Error::ParameterNotFound(_)) => Ok(()),
        Err(error) => Err(AdminKeyError {
            name: name.to_owned(),
            source: Box::new(error),
        }),
    }
}
