//! Notification service: the e-mail a shopper gets when their order is
//! confirmed or fails (with the order's link), sent once per order and
//! outcome however often the event is delivered, and
//! `GET /api/notifications?email=`, the history of what was sent to an
//! address, for operators (admin key).
//!
//! An address is sent at most the mail limit's allowance an hour: mail is
//! paid for, and an address that anyone may type into a checkout form must
//! not be flooded. A mail over the limit is not sent and is recorded as
//! SUPPRESSED in the history; its event is handled (not retried, never a
//! dead letter).

pub mod mail;
mod ses;
mod store;

use astroshop_domain::events::{OrderConfirmed, OrderFailed};
use astroshop_domain::{EmailAddress, OrderId};
use astroshop_edge::order_link::page_link;
use astroshop_edge::{AdminKey, ApiError, OrderLinks, SecretError, ok, required_query};
use astroshop_saga::{Delivery, StepError};
use astroshop_store::{Admission, Counters, Limiter, MissingSetting};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

pub use mail::{Kind, Mail};
pub use ses::{MailError, Mailer, SesMailer};
pub use store::{Claim, LEASE, Notification, NotificationStore, NotificationTable, Outcome};

/// Another attempt holds the claim on the mail: this copy of the event is
/// retried once that attempt has sent it or let its claim lapse.
#[derive(Debug, thiserror::Error)]
#[error("another attempt is sending the {0} mail now; this one is retried later")]
pub struct MailInProgress(&'static str);

/// The storefront's pages of orders, as the mail links them: the shop's
/// address (`SHOP_URL`) and the order's key.
pub struct OrderPages {
    shop_url: String,
    links: OrderLinks,
}

impl OrderPages {
    pub fn new(shop_url: impl Into<String>, links: OrderLinks) -> Self {
        Self {
            shop_url: shop_url.into(),
            links,
        }
    }

    pub fn from_env(ssm: aws_sdk_ssm::Client) -> Result<Self, MissingSetting> {
        Ok(Self::new(
            astroshop_store::setting("SHOP_URL")?,
            OrderLinks::from_env(ssm)?,
        ))
    }

    /// The order's page, key included.
    pub async fn link(&self, order: &OrderId) -> Result<String, SecretError> {
        Ok(page_link(
            &self.shop_url,
            order,
            &self.links.key_for(order).await?,
        ))
    }
}

/// Mails the shopper the outcome of their order, once: the mail is claimed
/// in the table, sent, then marked sent. A copy of the event handled while
/// another attempt holds the claim fails, to be retried once that attempt
/// has marked the mail sent or let its claim lapse. A mail over the
/// address's allowance (`limiter`, per address) is marked suppressed instead.
pub async fn mail_order_outcome(
    notifications: &impl NotificationStore,
    mailer: &impl Mailer,
    pages: &OrderPages,
    limiter: &Limiter<impl Counters + Sync>,
    delivery: Delivery,
) -> Result<(), StepError> {
    let (order, kind, mail) = if delivery.is::<OrderConfirmed>() {
        let confirmed: OrderConfirmed = delivery.parse()?;
        let link = pages
            .link(&confirmed.order.order_id)
            .await
            .map_err(StepError::other)?;
        let mail =
            mail::confirmation(&confirmed.order, &confirmed.tracking_id, &link).map_err(StepError::other)?;
        (confirmed.order, Kind::Confirmation, mail)
    } else if delivery.is::<OrderFailed>() {
        let failed: OrderFailed = delivery.parse()?;
        let link = pages
            .link(&failed.order.order_id)
            .await
            .map_err(StepError::other)?;
        let mail = mail::failure(&failed.order, &failed.reason, &link).map_err(StepError::other)?;
        (failed.order, Kind::Failure, mail)
    } else {
        return Err(StepError::UnexpectedEvent(delivery.detail_type));
    };
    let to = &order.email;
    let now = astroshop_saga::now();
    let mail = match notifications.claim(to, &order.order_id, kind, &mail, now).await? {
        Claim::Send(mail) => mail,
        Claim::InProgress => return Err(StepError::other(MailInProgress(kind.as_str()))),
        Claim::AlreadySent => {
            tracing::info!(kind = kind.as_str(), "mail already sent; nothing to do");
            return Ok(());
        }
        Claim::Suppressed => {
            tracing::info!(
                kind = kind.as_str(),
                "mail held back by the mail limit before; nothing to do"
            );
            return Ok(());
        }
    };
    // Counted once the mail is ours to send, so a copy of an event whose
    // mail went out (or was held back) is not counted again. The address's
    // local part is lowercased too: most mailboxes ignore its case, and a
    // limit must not be stepped around by changing it.
    let recipient = to.as_str().to_lowercase();
    if let Admission::Refused { retry_after } =
        limiter.admit(&recipient, std::time::SystemTime::now()).await?
    {
        notifications.mark_suppressed(to, &order.order_id, kind).await?;
        tracing::warn!(
            kind = kind.as_str(),
            next_window_in_seconds = retry_after.as_secs(),
            "mail limit reached for the address; mail suppressed"
        );
        return Ok(());
    }
    let message_id = mailer.send(to, &mail).await.map_err(StepError::other)?;
    notifications
        .mark_sent(to, &order.order_id, kind, &message_id)
        .await?;
    tracing::info!(kind = kind.as_str(), message_id, "mail sent");
    astroshop_telemetry::metric("MailsSent", "Count", 1.0, Some(("Kind", kind.as_str())));
    Ok(())
}

#[derive(Serialize)]
struct History {
    email: String,
    notifications: Vec<Notification>,
}

/// `GET /api/notifications?email=`: what was mailed to the address, and
/// what the mail limit held back, newest first. Mail holds a shopper's address and orders, so only an operator
/// (the admin key) may read it.
pub async fn list_notifications(
    notifications: &impl NotificationStore,
    admin: &AdminKey,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    admin.authorize(&request).await?;
    let email = EmailAddress::parse(required_query(&request, "email")?)
        .map_err(|error| ApiError::bad_request("invalid_email", error.to_string()))?;
    let sent = notifications.mail_to(&email).await.map_err(ApiError::internal)?;
    Ok(ok(&History {
        email: email.to_string(),
        notifications: sent,
    }))
}
