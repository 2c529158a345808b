//! Per-client limits where a request costs money (a checkout, a mail): at
//! most `allowed` per client in each fixed window of time. The count is one
//! item per client and window in the `Limits` table (pk
//! `<what>#<client>#<window start>`), raised by one `UpdateItem ... ADD`
//! on the condition that it is below the limit, so concurrent requests
//! never admit one too many. `expiresAt` (epoch seconds, the window's end)
//! is DynamoDB's TTL; an item past its window is never read again, as the
//! next window has a key of its own.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::{MissingSetting, StoreError, dynamo};

/// At most `allowed` of one thing (`what`: `checkout`, `mail`) per client
/// in each window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    what: &'static str,
    allowed: u32,
    window: Duration,
}

/// A limit's setting that is not a whole number from 1 up.
#[derive(Debug, thiserror::Error)]
pub enum LimitSettingError {
    #[error(transparent)]
    Missing(#[from] MissingSetting),
    #[error("environment variable {name} is {value:?}, not a whole number from 1 up")]
    Invalid { name: &'static str, value: String },
}

/// One window of a limit, in epoch seconds: `start <= t < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u64,
    pub end: u64,
}

/// Whether a request may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// The client has had its `allowed` in this window; the next one starts
    /// in `retry_after` (whole seconds, at least one).
    Refused {
        retry_after: Duration,
    },
}

impl Limit {
    /// `allowed` per `window`; both at least one (a window of whole seconds).
    pub fn new(what: &'static str, allowed: u32, window: Duration) -> Self {
        Self {
            what,
            allowed: allowed.max(1),
            window: window.max(Duration::from_secs(1)),
        }
    }

    /// `allowed` from the environment variable `name`.
    pub fn from_env(
        what: &'static str,
        name: &'static str,
        window: Duration,
    ) -> Result<Self, LimitSettingError> {
        Self::from_setting(what, name, &crate::setting(name)?, window)
    }

    /// `allowed` from `value`, the setting `name`'s text.
    fn from_setting(
        what: &'static str,
        name: &'static str,
        value: &str,
        window: Duration,
    ) -> Result<Self, LimitSettingError> {
        match value.parse::<u32>() {
            Ok(allowed) if allowed >= 1 => Ok(Self::new(what, allowed, window)),
            _ => Err(LimitSettingError::Invalid {
                name,
                value: value.to_owned(),
            }),
        }
    }

    pub fn allowed(&self) -> u32 {
        self.allowed
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// The window `now` falls in: windows start at multiples of their length
    /// since the epoch, so every instance of a function agrees on them.
    pub fn window_at(&self, now: SystemTime) -> Window {
        let length = self.window.as_secs();
        let start = epoch_seconds(now) / length * length;
        Window {
            start,
            end: start + length,
        }
    }

    /// The counter of `client` in `window`.
    pub fn key(&self, client: &str, window: Window) -> String {
        format!("{}#{client}#{}", self.what, window.start)
    }
}

impl Window {
    /// How long from `now` until the window ends, in whole seconds rounded
    /// up (a `Retry-After`), at least one.
    pub fn retry_after(&self, now: SystemTime) -> Duration {
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let left = Duration::from_secs(self.end).saturating_sub(now);
        let whole = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        Duration::from_secs(whole.max(1))
    }
}

fn epoch_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Counts that only grow up to a ceiling.
pub trait Counters {
    /// Adds one to the count `key` unless it has reached `ceiling`; whether
    /// it did. The count may be deleted after `expires_at` (epoch seconds).
    fn count_below(
        &self,
        key: &str,
        ceiling: u32,
        expires_at: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// A limit and where its counts are kept.
#[derive(Debug, Clone)]
pub struct Limiter<C> {
    counters: C,
    limit: Limit,
}

impl<C: Counters + Sync> Limiter<C> {
    pub fn new(counters: C, limit: Limit) -> Self {
        Self { counters, limit }
    }

    pub fn limit(&self) -> &Limit {
        &self.limit
    }

    /// Counts one for `client` at `now`, unless the client has had its
    /// allowance in this window; nothing is counted for a refused request.
    pub async fn admit(&self, client: &str, now: SystemTime) -> Result<Admission, StoreError> {
        let window = self.limit.window_at(now);
        let key = self.limit.key(client, window);
        if self
            .counters
            .count_below(&key, self.limit.allowed, window.end)
            .await?
        {
            Ok(Admission::Admitted)
        } else {
            Ok(Admission::Refused {
                retry_after: window.retry_after(now),
            })
        }
    }
}

/// The `Limits` table (pk `pk`, `count`, `expiresAt` as TTL).
#[derive(Clone, Debug)]
pub struct LimitsTable {
    client: Client,
    table: String,
}

impl LimitsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `LIMITS_TABLE`.
    pub fn from_env(client: Client) -> Result<Self, MissingSetting> {
        Ok(Self::new(client, crate::setting("LIMITS_TABLE")?))
    }
}

impl Counters for LimitsTable {
    async fn count_below(&self, key: &str, ceiling: u32, expires_at: u64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_owned()))
            .update_expression("ADD #count :one SET expiresAt = :expires")
            .condition_expression("attribute_not_exists(#count) OR #count < :ceiling")
            // `count` is one of DynamoDB's reserved words.
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .expression_attribute_values(":ceiling", AttributeValue::N(ceiling.to_string()))
            .expression_attribute_values(":expires", AttributeValue::N(expires_at.to_string()))
            .send()
            .await;
        dynamo::condition_held(result, &self.table)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    /// Counts in memory, as the table keeps them.
    #[derive(Default)]
    struct InMemory(Mutex<HashMap<String, u32>>);

    impl Counters for InMemory {
        async fn count_below(&self, key: &str, ceiling: u32, _expires_at: u64) -> Result<bool, StoreError> {
            let mut counts = self.0.lock().unwrap();
            let count = counts.entry(key.to_owned()).or_default();
            if *count >= ceiling {
                return Ok(false);
            }
            *count += 1;
            Ok(true)
        }
    }

    fn at(seconds: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_millis(millis)
    }

    fn per_minute(allowed: u32) -> Limit {
        Limit::new("checkout", allowed, Duration::from_secs(60))
    }

    #[test]
    fn windows_are_fixed_multiples_of_their_length_since_the_epoch() {
        let limit = per_minute(3);
        let window = Window {
            start: 1_700_000_040,
            end: 1_700_000_100,
        };
        assert_eq!(limit.window_at(at(1_700_000_040, 0)), window);
        assert_eq!(limit.window_at(at(1_700_000_099, 999)), window);
        assert_eq!(limit.window_at(at(1_700_000_100, 0)).start, 1_700_000_100);
        let hourly = Limit::new("mail", 20, Duration::from_secs(3600));
        assert_eq!(
            hourly.window_at(at(7_199, 0)),
            Window {
                start: 3600,
                end: 7200
            }
        );
    }

    #[test]
    fn a_counter_is_named_by_what_the_client_and_the_window() {
        let limit = per_minute(3);
        let window = limit.window_at(at(1_700_000_061, 0));
        assert_eq!(
            limit.key("ip:127.0.0.2", window),
            "checkout#ip:127.0.0.2#1700000040"
        );
    }

    #[test]
    fn retry_after_is_the_rest_of_the_window_rounded_up_and_at_least_a_second() {
        let window = Window { start: 60, end: 120 };
        assert_eq!(window.retry_after(at(60, 0)), Duration::from_secs(60));
        assert_eq!(window.retry_after(at(61, 300)), Duration::from_secs(59));
        assert_eq!(window.retry_after(at(119, 1)), Duration::from_secs(1));
        assert_eq!(window.retry_after(at(120, 0)), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_client_is_admitted_its_allowance_per_window_and_refused_after() {
        let limiter = Limiter::new(InMemory::default(), per_minute(2));
        let now = at(1_700_000_045, 500);
        assert_eq!(limiter.admit("a", now).await.unwrap(), Admission::Admitted);
        assert_eq!(limiter.admit("a", now).await.unwrap(), Admission::Admitted);
        assert_eq!(
            limiter.admit("a", now).await.unwrap(),
            Admission::Refused {
                retry_after: Duration::from_secs(55)
            }
        );
        // Another client has its own count, and the next window starts afresh.
        assert_eq!(limiter.admit("b", now).await.unwrap(), Admission::Admitted);
        assert_eq!(
            limiter.admit("a", at(1_700_000_100, 0)).await.unwrap(),
            Admission::Admitted
        );
    }

    #[test]
    fn a_limit_setting_must_be_a_whole_number_from_one_up() {
        let minute = Duration::from_secs(60);
        let setting = |value| Limit::from_setting("checkout", "CHECKOUTS", value, minute);
        assert_eq!(setting("60").unwrap().allowed(), 60);
        for bad in ["0", "-1", "sixty", "", "1.5"] {
            assert!(setting(bad).is_err(), "{bad:?}");
        }
        assert!(Limit::from_env("checkout", "ASTROSHOP_NO_SUCH_SETTING", minute).is_err());
    }
}
