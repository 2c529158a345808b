//! The shop's card key in KMS (`CARD_KEY_ID`). Checkout seals a shopper's
//! card with it and payment opens it; only payment's role may decrypt.
//!
//! A sealed card is the base64 of a KMS ciphertext of the JSON of
//! `CardDetails`, encrypted with the context `{"orderId": <order id>}`: the
//! context binds the card to its order, so a ciphertext copied into another
//! order's event does not open.

use std::future::Future;

use astroshop_domain::OrderId;
use astroshop_domain::card::CardDetails;
use astroshop_domain::events::SealedCard;
use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::primitives::Blob;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::{MissingSetting, setting};

/// The encryption context's key; its value is the order id.
const CONTEXT_KEY: &str = "orderId";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("KMS: {0}")]
    Kms(#[source] Box<aws_sdk_kms::Error>),
    #[error("KMS gave no ciphertext")]
    NoCiphertext,
    #[error("card details do not serialize: {0}")]
    Serialize(#[from] serde_json::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The sealed card can never be opened (not ours, not for this order,
    /// damaged): retrying cannot help.
    #[error("the sealed card cannot be opened: {0}")]
    Unreadable(String),
    /// KMS could not answer now; a retry may succeed.
    #[error("KMS: {0}")]
    Kms(#[source] Box<aws_sdk_kms::Error>),
}

/// Encrypts a card so only payment can read it (checkout's port).
pub trait CardSealer {
    fn seal(
        &self,
        card: &CardDetails,
        order: &OrderId,
    ) -> impl Future<Output = Result<SealedCard, SealError>> + Send;
}

/// Opens a sealed card (payment's port).
pub trait CardOpener {
    fn open(
        &self,
        sealed: &SealedCard,
        order: &OrderId,
    ) -> impl Future<Output = Result<CardDetails, OpenError>> + Send;
}

#[derive(Clone, Debug)]
pub struct CardKey {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl CardKey {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }

    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, MissingSetting> {
        Ok(Self::new(
            aws_sdk_kms::Client::new(config),
            setting("CARD_KEY_ID")?,
        ))
    }
}

impl CardSealer for CardKey {
    /// Encrypts the card so that it opens only for `order`.
    async fn seal(&self, card: &CardDetails, order: &OrderId) -> Result<SealedCard, SealError> {
        let plaintext = serde_json::to_vec(card)?;
        let output = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext))
            .encryption_context(CONTEXT_KEY, order.as_str())
            .send()
            .await
            .map_err(|error| SealError::Kms(Box::new(error.into())))?;
        let ciphertext = output.ciphertext_blob.ok_or(SealError::NoCiphertext)?;
        Ok(SealedCard {
            ciphertext: BASE64.encode(ciphertext.as_ref()),
        })
    }
}

impl CardOpener for CardKey {
    /// Decrypts a card sealed for `order`.
    async fn open(&self, sealed: &SealedCard, order: &OrderId) -> Result<CardDetails, OpenError> {
        let ciphertext = BASE64
            .decode(sealed.ciphertext.trim())
            .map_err(|error| OpenError::Unreadable(format!("the ciphertext is not base64: {error}")))?;
        let output = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(ciphertext))
            .encryption_context(CONTEXT_KEY, order.as_str())
            .send()
            .await;
        let plaintext = match output {
            Ok(output) => output.plaintext.map(Blob::into_inner).unwrap_or_default(),
            Err(error) => {
                return Err(match error.as_service_error() {
                    Some(
                        DecryptError::InvalidCiphertextException(_)
                        | DecryptError::IncorrectKeyException(_)
                        | DecryptError::InvalidKeyUsageException(_),
                    ) => OpenError::Unreadable(aws_sdk_kms::Error::from(error).to_string()),
                    _ => OpenError::Kms(Box::new(error.into())),
                });
            }
        };
        // The error names where the text is wrong, never the card's digits.
        serde_json::from_slice(&plaintext).map_err(|error| {
            OpenError::Unreadable(format!(
                "the card details are not valid (line {}, column {})",
                error.line(),
                error.column()
            ))
        })
    }
}
