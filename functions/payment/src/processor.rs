//! The card processor: a service of its own (`payment-processor`, `POST
//! /api/processor/charges`) that payment calls over HTTP to charge a card,
//! by the demo's card rules. Only payment may call it: it shows the
//! processor key, a bearer secret. Two fault flags break it on purpose:
//! `paymentFailure` declines that share of charges, `paymentUnreachable`
//! keeps it from answering at all.
//!
//! Payment's side is [`CardProcessor`]: the call, with a time limit, and
//! whatever keeps it from an answer (no connection, a timeout, a 5xx) told
//! apart from a decline, which is an answer.

use std::future::Future;
use std::time::Duration;

use astroshop_domain::card::{CardDetails, charge_decision};
use astroshop_domain::{Money, OrderId};
use astroshop_edge::{ApiError, BearerKey, SecretParameter, json_body, ok};
use astroshop_flags::{Flag, Flags};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

/// What payment asks the processor to charge.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeRequest {
    pub order_id: OrderId,
    pub amount: Money,
    pub card: CardDetails,
}

/// The processor's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum Processed {
    #[serde(rename_all = "camelCase")]
    Approved {
        transaction_id: String,
    },
    Declined {
        reason: String,
    },
}

/// With `paymentUnreachable` on, the processor holds a call this long
/// without answering: longer than payment waits.
const UNREACHABLE_HOLD: Duration = Duration::from_secs(8);

/// `POST /api/processor/charges` with a [`ChargeRequest`]: approved with a
/// new transaction id, or declined with the reason.
pub async fn process_charge(
    key: &BearerKey,
    flags: &Flags,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    key.authorize(&request).await?;
    astroshop_telemetry::metric("ProcessorRequests", "Count", 1.0, None);
    let charge: ChargeRequest = json_body(&request)?;
    let faults = flags.current().await;
    if faults.is_on(Flag::PaymentUnreachable) {
        // Counted once, by the error it ends with.
        tokio::time::sleep(UNREACHABLE_HOLD).await;
        return Err(ApiError::injected(Flag::PaymentUnreachable));
    }
    let processed = if faults.strikes(Flag::PaymentFailure) {
        astroshop_flags::injected(Flag::PaymentFailure);
        Processed::Declined {
            reason: "the card processor declined the charge".to_owned(),
        }
    } else {
        decide(&charge.card)
    };
    tracing::info!(order_id = %charge.order_id, outcome = ?processed, "charge processed");
    Ok(ok(&processed))
}

/// The demo's card rules.
pub fn decide(card: &CardDetails) -> Processed {
    match charge_decision(card, astroshop_saga::now().date()) {
        Ok(()) => Processed::Approved {
            transaction_id: uuid::Uuid::new_v4().to_string(),
        },
        Err(decline) => Processed::Declined {
            reason: decline.to_string(),
        },
    }
}

/// Why the processor gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum Unanswered {
    #[error("the card processor could not be reached")]
    Unreachable(#[source] reqwest::Error),
    #[error("the card processor answered {status}: {body}")]
    Failed { status: u16, body: String },
    #[error("the card processor's key could not be read")]
    Key(#[source] astroshop_edge::SecretError),
}

/// Charging a card, as payment sees it.
pub trait CardProcessor {
    fn charge(&self, charge: &ChargeRequest) -> impl Future<Output = Result<Processed, Unanswered>> + Send;
}

/// The processor over HTTP, at `CARD_PROCESSOR_URL`, with its key.
pub struct HttpProcessor {
    http: reqwest::Client,
    url: String,
    key: SecretParameter,
}

impl HttpProcessor {
    /// How long payment waits for an answer.
    pub const TIMEOUT: Duration = Duration::from_secs(2);

    /// The processor at `url`; an error only when no HTTP client with the
    /// time limit can be built (the breaker counts on it). A processor on
    /// plain HTTP (the local one) gets a client that trusts no certificate,
    /// so a cold start does not read the system's certificate store for it.
    pub fn new(url: impl Into<String>, key: SecretParameter) -> Result<Self, reqwest::Error> {
        let url = url.into();
        let builder = reqwest::Client::builder()
            .timeout(Self::TIMEOUT)
            .connect_timeout(Duration::from_secs(1));
        let http = match url.starts_with("http://") {
            true => builder.tls_certs_only([]),
            false => builder,
        }
        .build()?;
        Ok(Self { http, url, key })
    }

    pub fn from_env(ssm: aws_sdk_ssm::Client) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self::new(
            astroshop_store::setting("CARD_PROCESSOR_URL")?,
            SecretParameter::from_env(ssm, "PROCESSOR_KEY_PARAMETER")?,
        )?)
    }
}

impl CardProcessor for HttpProcessor {
    async fn charge(&self, charge: &ChargeRequest) -> Result<Processed, Unanswered> {
        let key = self.key.current().await.map_err(Unanswered::Key)?;
        let mut request = self
            .http
            .post(&self.url)
            .bearer_auth(String::from_utf8_lossy(&key))
            .json(charge);
        if let Some(traceparent) = astroshop_telemetry::current_traceparent() {
            request = request.header("traceparent", traceparent);
        }
        let response = request.send().await.map_err(Unanswered::Unreachable)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(Unanswered::Failed {
                status: status.as_u16(),
                body,
            });
        }
        response.json().await.map_err(Unanswered::Unreachable)
    }
}

/// The processor's rules called in-process, for the saga's tests: the same
/// decision as over HTTP, without the network.
pub struct InProcess;

impl CardProcessor for InProcess {
    async fn charge(&self, charge: &ChargeRequest) -> Result<Processed, Unanswered> {
        Ok(decide(&charge.card))
    }
}
