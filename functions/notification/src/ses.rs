//! Sending mail through SES (v2 `SendEmail`), from the shop's verified
//! identity (`MAIL_FROM`).

use std::future::Future;

use astroshop_domain::EmailAddress;
use astroshop_store::{MissingSetting, setting};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::mail::Mail;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("SES: {0}")]
    Ses(#[source] Box<aws_sdk_sesv2::Error>),
    #[error("the mail cannot be built: {0}")]
    Build(#[from] aws_sdk_sesv2::error::BuildError),
}

/// What sends e-mail.
pub trait Mailer {
    /// Sends `mail` to `to`; the id the mail service gave the message.
    fn send(&self, to: &EmailAddress, mail: &Mail) -> impl Future<Output = Result<String, MailError>> + Send;
}

#[derive(Clone, Debug)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }

    /// Sends from the identity named by `MAIL_FROM`.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, MissingSetting> {
        Ok(Self::new(
            aws_sdk_sesv2::Client::new(config),
            setting("MAIL_FROM")?,
        ))
    }
}

fn utf8(text: &str) -> Result<Content, MailError> {
    Ok(Content::builder().data(text).charset("UTF-8").build()?)
}

impl Mailer for SesMailer {
    async fn send(&self, to: &EmailAddress, mail: &Mail) -> Result<String, MailError> {
        let message = Message::builder()
            .subject(utf8(&mail.subject)?)
            .body(Body::builder().text(utf8(&mail.body)?).build())
            .build();
        let output = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|error| MailError::Ses(Box::new(error.into())))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }
}
