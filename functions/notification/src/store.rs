//! The `Notifications` table: one item per e-mail an order gets (pk `email`,
//! sk `<orderId>#<kind>`), holding its text and whether it went out
//! (`status` SENDING, then SENT with `sentAt`). The item is claimed before
//! the mail is sent, on the condition that it is new, so a redelivered event
//! finds it: SENT means done, SENDING means the earlier attempt may not have
//! reached SES, and the same text is sent again.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::future::Future;

use astroshop_domain::OrderId;
use astroshop_domain::events::timestamp;
use astroshop_store::{MissingSetting, StoreError, setting};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::address::EmailAddress;
use crate::mail::{Kind, Mail};

type Item = HashMap<String, AttributeValue>;

const SENDING: &str = "SENDING";
const SENT: &str = "SENT";

/// What claiming an order's mail found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Nobody had claimed it: send it.
    New,
    /// Claimed before and perhaps not sent: send this, the text first claimed.
    Unsent(Mail),
    /// It went out already.
    AlreadySent,
}

/// A sent e-mail, as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub order_id: String,
    pub kind: Kind,
    pub subject: String,
    pub body: String,
    pub sent_at: String,
}

/// The record of what was mailed to whom.
pub trait NotificationStore {
    fn claim(
        &self,
        to: &EmailAddress,
        order_id: &OrderId,
        kind: Kind,
        mail: &Mail,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    fn mark_sent(
        &self,
        to: &EmailAddress,
        order_id: &OrderId,
        kind: Kind,
        message_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The mail sent to an address, newest first.
    fn sent_to(
        &self,
        to: &EmailAddress,
    ) -> impl Future<Output = Result<Vec<Notification>, StoreError>> + Send;
}

#[derive(Clone, Debug)]
pub struct NotificationTable {
    client: Client,
    table: String,
}

impl NotificationTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `NOTIFICATIONS_TABLE`.
    pub fn from_env(client: Client) -> Result<Self, MissingSetting> {
        Ok(Self::new(client, setting("NOTIFICATIONS_TABLE")?))
    }
}

fn sort_key(order_id: &OrderId, kind: Kind) -> AttributeValue {
    AttributeValue::S(format!("{order_id}#{}", kind.as_str()))
}

fn text<'i>(item: &'i Item, name: &str) -> Result<&'i str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(StoreError::Corrupt(format!("notification has no text {name}"))),
    }
}

fn notification(item: &Item) -> Result<Notification, StoreError> {
    let kind = text(item, "kind")?;
    Ok(Notification {
        order_id: text(item, "orderId")?.to_owned(),
        kind: Kind::parse(kind).ok_or_else(|| StoreError::Corrupt(format!("notification kind {kind:?}")))?,
        subject: text(item, "subject")?.to_owned(),
        body: text(item, "body")?.to_owned(),
        sent_at: text(item, "sentAt")?.to_owned(),
    })
}

impl NotificationStore for NotificationTable {
    async fn claim(
        &self,
        to: &EmailAddress,
        order_id: &OrderId,
        kind: Kind,
        mail: &Mail,
    ) -> Result<Claim, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("email", AttributeValue::S(to.to_string()))
            .item("sk", sort_key(order_id, kind))
            .item("orderId", AttributeValue::S(order_id.to_string()))
            .item("kind", AttributeValue::S(kind.as_str().to_owned()))
            .item("subject", AttributeValue::S(mail.subject.clone()))
            .item("body", AttributeValue::S(mail.body.clone()))
            .item("status", AttributeValue::S(SENDING.to_owned()))
            .item("claimedAt", AttributeValue::S(timestamp(astroshop_saga::now())))
            .condition_expression("attribute_not_exists(sk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(Claim::New),
            Err(error) => error,
        };
        let Some(PutItemError::ConditionalCheckFailedException(failed)) = error.as_service_error() else {
            return Err(error.into());
        };
        let claimed = failed
            .item()
            .ok_or_else(|| StoreError::Corrupt("a failed claim returned no item".to_owned()))?;
        if text(claimed, "status")? == SENT {
            return Ok(Claim::AlreadySent);
        }
        Ok(Claim::Unsent(Mail {
            subject: text(claimed, "subject")?.to_owned(),
            body: text(claimed, "body")?.to_owned(),
        }))
    }

    async fn mark_sent(
        &self,
        to: &EmailAddress,
        order_id: &OrderId,
        kind: Kind,
        message_id: &str,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("email", AttributeValue::S(to.to_string()))
            .key("sk", sort_key(order_id, kind))
            .update_expression("SET #status = :sent, sentAt = :at, messageId = :message")
            .condition_expression("attribute_exists(sk)")
            // `status` is one of DynamoDB's reserved words.
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sent", AttributeValue::S(SENT.to_owned()))
            .expression_attribute_values(":at", AttributeValue::S(timestamp(astroshop_saga::now())))
            .expression_attribute_values(":message", AttributeValue::S(message_id.to_owned()))
            .send()
            .await?;
        Ok(())
    }

    async fn sent_to(&self, to: &EmailAddress) -> Result<Vec<Notification>, StoreError> {
        let mut items = Vec::new();
        let mut start_key = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("email = :email")
                .expression_attribute_values(":email", AttributeValue::S(to.to_string()))
                .set_exclusive_start_key(start_key)
                .send()
                .await?;
            items.extend(page.items.unwrap_or_default());
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
        let mut sent = items
            .iter()
            .filter(|item| text(item, "status").is_ok_and(|status| status == SENT))
            .map(|item| {
                let notification = notification(item)?;
                let at = OffsetDateTime::parse(&notification.sent_at, &Rfc3339)
                    .map_err(|_| StoreError::Corrupt(format!("sentAt {:?}", notification.sent_at)))?;
                Ok((at, notification))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // By time, not text: RFC 3339 texts with and without fractions of a
        // second do not sort as the times they name.
        sent.sort_by_key(|(at, _)| Reverse(*at));
        Ok(sent.into_iter().map(|(_, notification)| notification).collect())
    }
}
