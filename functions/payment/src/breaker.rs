//! The circuit breaker on the card processor. Its state is one DynamoDB item
//! (the `Breakers` table, pk `name`) shared by every payment instance, and
//! moved only by conditional writes, so no two instances make one move:
//!
//! - CLOSED: calls go through. A failure (an error or a timeout) is counted
//!   in a window of `window`; the `threshold`th in one window opens it.
//! - OPEN: no call goes through for `cool_down`; the first instance to ask
//!   after that takes the one probe (HALF_OPEN).
//! - HALF_OPEN: the probe's call decides: a success closes the breaker, a
//!   failure opens it for another cool-down. A probe that never reports (its
//!   instance died) is given up after `probe_timeout`, and another taken.
//!
//! Every move is logged and counted (`BreakerTransitions`, by the state
//! entered).

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use astroshop_store::dynamo::{OnTable, condition_held};
use astroshop_store::{MissingSetting, StoreError, setting};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

/// When the breaker opens and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures in one window that open the breaker.
    pub threshold: u32,
    pub window: Duration,
    /// How long an open breaker lets no call through.
    pub cool_down: Duration,
    /// How long a probe may take before another instance may probe.
    pub probe_timeout: Duration,
}

impl Policy {
    /// `BREAKER_THRESHOLD` failures in `BREAKER_WINDOW_SECONDS` open the
    /// breaker for `BREAKER_COOL_DOWN_SECONDS`; a probe may take twice a
    /// call's `timeout`.
    pub fn from_env(timeout: Duration) -> Result<Self, MissingSetting> {
        let number = |name: &'static str| -> Result<u64, MissingSetting> {
            setting(name)?.parse().map_err(|_| MissingSetting(name))
        };
        Ok(Self {
            threshold: number("BREAKER_THRESHOLD")? as u32,
            window: Duration::from_secs(number("BREAKER_WINDOW_SECONDS")?),
            cool_down: Duration::from_secs(number("BREAKER_COOL_DOWN_SECONDS")?),
            probe_timeout: 2 * timeout,
        })
    }
}

/// What the breaker lets a caller do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Call, and report how it went.
    Call,
    /// Call as the breaker's one probe (taken at this time, in ms), and report.
    Probe { taken_at: u64 },
    /// Do not call; ask again after this long.
    Wait(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Open => "OPEN",
            State::HalfOpen => "HALF_OPEN",
        }
    }
}

/// The breaker's item, as read.
#[derive(Debug)]
struct Seen {
    state: State,
    opened_at: u64,
    probe_at: u64,
}

pub struct Breaker {
    client: Client,
    table: String,
    name: String,
    policy: Policy,
}

impl Breaker {
    pub fn new(client: Client, table: impl Into<String>, name: impl Into<String>, policy: Policy) -> Self {
        Self {
            client,
            table: table.into(),
            name: name.into(),
            policy,
        }
    }

    /// The breaker `name` in the table `BREAKERS_TABLE`.
    pub fn from_env(client: Client, name: &str, policy: Policy) -> Result<Self, MissingSetting> {
        Ok(Self::new(client, setting("BREAKERS_TABLE")?, name, policy))
    }

    /// Whether a call may go out now.
    pub async fn admit(&self) -> Result<Admission, StoreError> {
        let now = now_ms();
        let seen = self.read().await?;
        let (since, after) = match seen.state {
            State::Closed => return Ok(Admission::Call),
            State::Open => (seen.opened_at, self.policy.cool_down),
            State::HalfOpen => (seen.probe_at, self.policy.probe_timeout),
        };
        let until = since.saturating_add(millis(after));
        if now < until {
            return Ok(Admission::Wait(Duration::from_millis(until - now)));
        }
        // The cool-down is over, or the probe is lost: one instance probes.
        let (field, from) = match seen.state {
            State::Open => ("openedAt", State::Open),
            _ => ("probeAt", State::HalfOpen),
        };
        let taken = self
            .update()
            .update_expression("SET #state = :half_open, probeAt = :now ADD probes :one")
            .condition_expression("#state = :from AND #since = :since")
            .expression_attribute_names("#since", field)
            .expression_attribute_values(":half_open", text(State::HalfOpen.name()))
            .expression_attribute_values(":from", text(from.name()))
            .expression_attribute_values(":since", number(since))
            .expression_attribute_values(":now", number(now))
            .expression_attribute_values(":one", number(1))
            .send()
            .await;
        if condition_held(taken, &self.table)? {
            self.moved(State::HalfOpen);
            Ok(Admission::Probe { taken_at: now })
        } else {
            Ok(Admission::Wait(self.policy.probe_timeout))
        }
    }

    /// The admitted call worked.
    pub async fn succeeded(&self, admission: Admission) -> Result<(), StoreError> {
        let Admission::Probe { taken_at } = admission else {
            return Ok(());
        };
        let closed = self
            .update()
            .update_expression("SET #state = :closed, failures = :zero REMOVE windowStart")
            .condition_expression("#state = :half_open AND probeAt = :taken_at")
            .expression_attribute_values(":closed", text(State::Closed.name()))
            .expression_attribute_values(":half_open", text(State::HalfOpen.name()))
            .expression_attribute_values(":taken_at", number(taken_at))
            .expression_attribute_values(":zero", number(0))
            .send()
            .await;
        if condition_held(closed, &self.table)? {
            self.moved(State::Closed);
        }
        Ok(())
    }

    /// The admitted call failed or timed out.
    pub async fn failed(&self, admission: Admission) -> Result<(), StoreError> {
        let now = now_ms();
        match admission {
            Admission::Wait(_) => Ok(()),
            Admission::Probe { taken_at } => {
                let reopened = self
                    .update()
                    .update_expression("SET #state = :open, openedAt = :now")
                    .condition_expression("#state = :half_open AND probeAt = :taken_at")
                    .expression_attribute_values(":open", text(State::Open.name()))
                    .expression_attribute_values(":half_open", text(State::HalfOpen.name()))
                    .expression_attribute_values(":taken_at", number(taken_at))
                    .expression_attribute_values(":now", number(now))
                    .send()
                    .await;
                if condition_held(reopened, &self.table)? {
                    self.moved(State::Open);
                }
                Ok(())
            }
            Admission::Call => {
                let Some(failures) = self.count_failure(now).await? else {
                    return Ok(());
                };
                if failures < self.policy.threshold {
                    return Ok(());
                }
                let opened = self
                    .update()
                    .update_expression("SET #state = :open, openedAt = :now")
                    .condition_expression("#state = :closed")
                    .expression_attribute_values(":open", text(State::Open.name()))
                    .expression_attribute_values(":closed", text(State::Closed.name()))
                    .expression_attribute_values(":now", number(now))
                    .send()
                    .await;
                if condition_held(opened, &self.table)? {
                    self.moved(State::Open);
                }
                Ok(())
            }
        }
    }

    /// Counts a failure in the current window (or starts a window with it);
    /// the failures in the window, `None` when the breaker is not closed.
    async fn count_failure(&self, now: u64) -> Result<Option<u32>, StoreError> {
        let cutoff = now.saturating_sub(millis(self.policy.window));
        for _ in 0..2 {
            let counted = self
                .update()
                .update_expression("ADD failures :one")
                .condition_expression("#state = :closed AND windowStart >= :cutoff")
                .expression_attribute_values(":closed", text(State::Closed.name()))
                .expression_attribute_values(":cutoff", number(cutoff))
                .expression_attribute_values(":one", number(1))
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            match counted {
                Ok(output) => {
                    let failures = output
                        .attributes
                        .as_ref()
                        .and_then(|item| item.get("failures"))
                        .and_then(|value| value.as_n().ok())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(1);
                    return Ok(Some(failures));
                }
                Err(error)
                    if !error
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    return Err(error).on_table(&self.table);
                }
                Err(_) => {}
            }
            // No window, or an old one: this failure starts the next.
            let started = self
                .update()
                .update_expression("SET #state = :closed, failures = :one, windowStart = :now")
                .condition_expression(
                    "(attribute_not_exists(#state) OR #state = :closed) \
                     AND (attribute_not_exists(windowStart) OR windowStart < :cutoff)",
                )
                .expression_attribute_values(":closed", text(State::Closed.name()))
                .expression_attribute_values(":cutoff", number(cutoff))
                .expression_attribute_values(":one", number(1))
                .expression_attribute_values(":now", number(now))
                .send()
                .await;
            if condition_held(started, &self.table)? {
                return Ok(Some(1));
            }
            // Another instance started the window first, or the breaker is
            // not closed: count again in that window, or not at all.
            if self.read().await?.state != State::Closed {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// An update of the breaker's item, its state named `#state`.
    fn update(&self) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("name", AttributeValue::S(self.name.clone()))
            .expression_attribute_names("#state", "state")
    }

    async fn read(&self) -> Result<Seen, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("name", AttributeValue::S(self.name.clone()))
            .consistent_read(true)
            .send()
            .await
            .on_table(&self.table)?;
        let item = output.item.unwrap_or_default();
        let state = match item.get("state").and_then(|v| v.as_s().ok()).map(String::as_str) {
            Some("OPEN") => State::Open,
            Some("HALF_OPEN") => State::HalfOpen,
            _ => State::Closed,
        };
        Ok(Seen {
            state,
            opened_at: read_number(&item, "openedAt"),
            probe_at: read_number(&item, "probeAt"),
        })
    }

    fn moved(&self, to: State) {
        tracing::warn!(breaker = self.name, state = to.name(), "circuit breaker moved");
        astroshop_telemetry::metric("BreakerTransitions", "Count", 1.0, Some(("State", to.name())));
    }
}

fn read_number(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn text(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, millis)
}
