//! The `Notifications` table: one item per e-mail an order gets (pk `email`,
//! sk `<orderId>#<kind>`), holding its text and whether it went out
//! (`status` SENDING, then SENT with `sentAt`). The item is claimed before
//! the mail is sent, for a lease (`leaseUntil`, epoch milliseconds), on the
//! condition that it is new or its lease ran out, so a redelivered event
//! finds it: SENT means done; SENDING within the lease means another attempt
//! is sending it now (the event is retried later and finds it SENT); SENDING
//! after the lease means that attempt died, perhaps before SES sent it, and
//! the text first claimed is sent again. SUPPRESSED (with `suppressedAt`)
//! means the address had had its allowance of mail when the mail's turn
//! came: it was not sent, and never will be; the history shows it.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use astroshop_domain::{EmailAddress, OrderId, Timestamp};
use astroshop_store::dynamo::OnTable;
use astroshop_store::{MissingSetting, StoreError, setting};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde::Serialize;
use time::OffsetDateTime;

use crate::mail::{Kind, Mail};

type Item = HashMap<String, AttributeValue>;

const SENDING: &str = "SENDING";
const SENT: &str = "SENT";
const SUPPRESSED: &str = "SUPPRESSED";

/// How long a claim keeps other attempts from sending the same mail: three
/// times the function's timeout, so the attempt holding an expired lease is
/// surely gone.
pub const LEASE: Duration = Duration::from_secs(30);

/// What claiming an order's mail found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The mail is ours to send now: this text, the one first claimed (a
    /// new claim's own, or an abandoned claim's).
    Send(Mail),
    /// Another attempt holds the claim and is sending it now.
    InProgress,
    /// It went out already.
    AlreadySent,
    /// It was held back by the mail limit, for good.
    Suppressed,
}

/// An e-mail of an order, as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub order_id: String,
    pub kind: Kind,
    pub subject: String,
    pub body: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What became of a mail: `{"status": "SENT", "sentAt"}` or
/// `{"status": "SUPPRESSED", "suppressedAt"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "status",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
pub enum Outcome {
    Sent { sent_at: Timestamp },
    Suppressed { suppressed_at: Timestamp },
}

impl Outcome {
    /// When it was sent or held back.
    fn at(&self) -> &Timestamp {
        match self {
            Self::Sent { sent_at } => sent_at,
            Self::Suppressed { suppressed_at } => suppressed_at,
        }
    }
}

/// The record of what was mailed to whom.
pub trait NotificationStore {
    /// Claims the mail at `now` for [`LEASE`].
    fn claim(
        &self,
        to: &EmailAddress,
        order_id: &OrderId,
        kind: Kind,
        mail: &Mail,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    fn mark_sent(
        &self,
        to: &EmailAddress,
        order_id: &OrderId,
        kind: Kind,
        message_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records a claimed mail as held back by the mail limit, not sent.
    fn mark_suppressed(
        &self,
        to: &EmailAddress,
        order_id: &OrderId,
        kind: Kind,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The mail sent or held back for an address, newest first.
    fn mail_to(
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

fn epoch_millis(at: OffsetDateTime) -> AttributeValue {
    AttributeValue::N((at.unix_timestamp_nanos() / 1_000_000).to_string())
}

fn text<'i>(item: &'i Item, name: &str) -> Result<&'i str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(StoreError::Corrupt(format!("notification has no text {name}"))),
    }
}

fn timestamp(item: &Item, name: &str) -> Result<Timestamp, StoreError> {
    Timestamp::parse(text(item, name)?).map_err(|e| StoreError::Corrupt(format!("notification {name}: {e}")))
}

/// The history's entry for a mail that was sent or held back; `None` for
/// one still being sent.
fn notification(item: &Item) -> Result<Option<Notification>, StoreError> {
    let outcome = match text(item, "status")? {
        SENT => Outcome::Sent {
            sent_at: timestamp(item, "sentAt")?,
        },
        SUPPRESSED => Outcome::Suppressed {
            suppressed_at: timestamp(item, "suppressedAt")?,
        },
        _ => return Ok(None),
    };
    let kind = text(item, "kind")?;
    Ok(Some(Notification {
        order_id: text(item, "orderId")?.to_owned(),
        kind: Kind::parse(kind).ok_or_else(|| StoreError::Corrupt(format!("notification kind {kind:?}")))?,
        subject: text(item, "subject")?.to_owned(),
        body: text(item, "body")?.to_owned(),
        outcome,
    }))
}

impl NotificationStore for NotificationTable {
    async fn claim(
        &self,
        to: &EmailAddress,
        order_id: &OrderId,
        kind: Kind,
        mail: &Mail,
        now: OffsetDateTime,
    ) -> Result<Claim, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("email", AttributeValue::S(to.to_string()))
            .key("sk", sort_key(order_id, kind))
            // A claim taken over keeps the text first claimed.
            .update_expression(
                "SET orderId = :order, kind = :kind, #status = :sending, claimedAt = :at, \
                 leaseUntil = :until, subject = if_not_exists(subject, :subject), \
                 body = if_not_exists(body, :body)",
            )
            .condition_expression("attribute_not_exists(sk) OR (#status = :sending AND leaseUntil < :now)")
            // `status` is one of DynamoDB's reserved words.
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":order", AttributeValue::S(order_id.to_string()))
            .expression_attribute_values(":kind", AttributeValue::S(kind.as_str().to_owned()))
            .expression_attribute_values(":sending", AttributeValue::S(SENDING.to_owned()))
            .expression_attribute_values(":at", AttributeValue::S(Timestamp::from(now).into()))
            .expression_attribute_values(":now", epoch_millis(now))
            .expression_attribute_values(":until", epoch_millis(now + LEASE))
            .expression_attribute_values(":subject", AttributeValue::S(mail.subject.clone()))
            .expression_attribute_values(":body", AttributeValue::S(mail.body.clone()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let error = match result {
            Ok(output) => {
                let claimed = output
                    .attributes
                    .ok_or_else(|| StoreError::Corrupt("a claim returned no item".to_owned()))?;
                return Ok(Claim::Send(Mail {
                    subject: text(&claimed, "subject")?.to_owned(),
                    body: text(&claimed, "body")?.to_owned(),
                }));
            }
            Err(error) => error,
        };
        let Some(UpdateItemError::ConditionalCheckFailedException(failed)) = error.as_service_error() else {
            return Err(error).on_table(&self.table);
        };
        let held = failed
            .item()
            .ok_or_else(|| StoreError::Corrupt("a refused claim returned no item".to_owned()))?;
        Ok(match text(held, "status")? {
            SENT => Claim::AlreadySent,
            SUPPRESSED => Claim::Suppressed,
            _ => Claim::InProgress,
        })
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
            .expression_attribute_values(
                ":at",
                AttributeValue::S(Timestamp::from(astroshop_saga::now()).into()),
            )
            .expression_attribute_values(":message", AttributeValue::S(message_id.to_owned()))
            .send()
            .await
            .on_table(&self.table)?;
        Ok(())
    }

    async fn mark_suppressed(
        &self,
        to: &EmailAddress,
        order_id: &OrderId,
        kind: Kind,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("email", AttributeValue::S(to.to_string()))
            .key("sk", sort_key(order_id, kind))
            .update_expression("SET #status = :suppressed, suppressedAt = :at")
            // Never over a mail another attempt has sent meanwhile.
            .condition_expression("#status = :sending")
            // `status` is one of DynamoDB's reserved words.
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", AttributeValue::S(SENDING.to_owned()))
            .expression_attribute_values(":suppressed", AttributeValue::S(SUPPRESSED.to_owned()))
            .expression_attribute_values(
                ":at",
                AttributeValue::S(Timestamp::from(astroshop_saga::now()).into()),
            )
            .send()
            .await
            .on_table(&self.table)?;
        Ok(())
    }

    async fn mail_to(&self, to: &EmailAddress) -> Result<Vec<Notification>, StoreError> {
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
                .await
                .on_table(&self.table)?;
            items.extend(page.items.unwrap_or_default());
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
        let mut mail = Vec::with_capacity(items.len());
        for item in &items {
            if let Some(notification) = notification(item)? {
                mail.push(notification);
            }
        }
        // Newest first, by time, not text: RFC 3339 texts with and without
        // fractions of a second do not sort as the times they name.
        mail.sort_by(|one, other| other.outcome.at().cmp(one.outcome.at()));
        Ok(mail)
    }
}
