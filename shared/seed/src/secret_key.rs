//! Secrets the shop keeps as SSM Parameter Store SecureStrings: the admin
//! API's bearer key and the key that signs order links. CloudFormation cannot
//! create a SecureString, so the deploy-time seeder creates each one (and the
//! local stack does the same); a key is never overwritten, so one an operator
//! rotated by hand survives redeploys.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::ParameterType;
use rand::RngCore;

#[derive(Debug, thiserror::Error)]
#[error("secret key parameter {name}: {source}")]
pub struct SecretKeyError {
    name: String,
    #[source]
    source: Box<aws_sdk_ssm::Error>,
}

/// Creates the parameter `name` with a fresh random key (32 bytes, in hex)
/// unless it exists.
pub async fn ensure_secret_key(ssm: &Client, name: &str, description: &str) -> Result<(), SecretKeyError> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let key: String = secret.iter().map(|byte| format!("{byte:02x}")).collect();
    let created = ssm
        .put_parameter()
        .name(name)
        .description(description)
        .r#type(ParameterType::SecureString)
        .value(key)
        .overwrite(false)
        .send()
        .await;
    match created.map_err(aws_sdk_ssm::Error::from) {
        Ok(_) | Err(aws_sdk_ssm::Error::ParameterAlreadyExists(_)) => Ok(()),
        Err(error) => Err(SecretKeyError {
            name: name.to_owned(),
            source: Box::new(error),
        }),
    }
}

/// Deletes the parameter; one already gone is not an error.
pub async fn delete_secret_key(ssm: &Client, name: &str) -> Result<(), SecretKeyError> {
    match ssm
        .delete_parameter()
        .name(name)
        .send()
        .await
        .map_err(aws_sdk_ssm::Error::from)
    {
        Ok(_) | Err(aws_sdk_ssm::Error::ParameterNotFound(_)) => Ok(()),
        Err(error) => Err(SecretKeyError {
            name: name.to_owned(),
            source: Box::new(error),
        }),
    }
}
