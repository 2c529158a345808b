//! API Gateway's route throttling: a token bucket per route, shared by every
//! client of the route. The bucket holds up to the burst limit, starts full
//! and refills at the rate limit; each request takes a token, and a request
//! that finds none is refused (429) before any function runs.

use std::sync::Mutex;
use std::time::Instant;

use crate::template::Throttling;

/// The longest `Retry-After` given: a route with a rate of 0 never refills.
const LONGEST_RETRY_AFTER: f64 = 3600.0;

#[derive(Debug)]
pub struct TokenBucket {
    rate_per_second: f64,
    burst: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    /// When `tokens` was counted.
    at: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(limits: Throttling, now: Instant) -> Self {
        let burst = f64::from(limits.burst);
        Self {
            rate_per_second: limits.rate_per_second,
            burst,
            state: Mutex::new(State {
                tokens: burst,
                at: now,
            }),
        }
    }

    /// Takes a token at `now`; if there is none, the whole seconds (at least
    /// one) until there is, as `Retry-After` gives them.
    pub fn take(&self, now: Instant) -> Result<(), u64> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Callers read the clock before they queue for the lock, so time may seem to step back.
        let elapsed = now.saturating_duration_since(state.at).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.rate_per_second).min(self.burst);
        state.at = state.at.max(now);
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - state.tokens) / self.rate_per_second;
        Err(wait.ceil().clamp(1.0, LONGEST_RETRY_AFTER) as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn bucket(rate_per_second: f64, burst: u32, now: Instant) -> TokenBucket {
        TokenBucket::new(
            Throttling {
                rate_per_second,
                burst,
            },
            now,
        )
    }

    #[test]
    fn a_full_bucket_lets_a_burst_through_then_refuses() {
        let now = Instant::now();
        let bucket = bucket(1.0, 3, now);
        for n in 0..3 {
            assert_eq!(bucket.take(now), Ok(()), "request {n} of the burst");
        }
        assert_eq!(bucket.take(now), Err(1));
    }

    #[test]
    fn tokens_come_back_at_the_rate_and_never_beyond_the_burst() {
        let start = Instant::now();
        let bucket = bucket(2.0, 2, start);
        bucket.take(start).unwrap();
        bucket.take(start).unwrap();
        let half_a_token_later = start + Duration::from_millis(250);
        assert_eq!(bucket.take(half_a_token_later), Err(1));
        bucket.take(start + Duration::from_millis(500)).unwrap();
        assert!(bucket.take(start + Duration::from_millis(500)).is_err());
        let long_after = start + Duration::from_secs(60);
        bucket.take(long_after).unwrap();
        bucket.take(long_after).unwrap();
        assert!(
            bucket.take(long_after).is_err(),
            "a minute's idling fills the bucket to its burst, no more"
        );
    }

    #[test]
    fn retry_after_is_the_whole_seconds_until_the_next_token() {
        let now = Instant::now();
        let slow = bucket(0.25, 1, now);
        slow.take(now).unwrap();
        assert_eq!(slow.take(now), Err(4));
        assert_eq!(slow.take(now + Duration::from_millis(1500)), Err(3));
        let fast = bucket(1000.0, 1, now);
        fast.take(now).unwrap();
        assert_eq!(fast.take(now), Err(1), "never less than a second");
    }

    #[test]
    fn a_route_limited_to_nothing_refuses_everything() {
        let now = Instant::now();
        let closed = bucket(0.0, 0, now);
        assert_eq!(closed.take(now), Err(3600));
        assert_eq!(closed.take(now + Duration::from_secs(86400)), Err(3600));
    }

    #[test]
    fn a_clock_read_before_the_last_take_counts_as_no_time() {
        let now = Instant::now();
        let bucket = bucket(1.0, 1, now + Duration::from_secs(1));
        bucket.take(now).unwrap();
        assert!(bucket.take(now + Duration::from_millis(999)).is_err());
        bucket.take(now + Duration::from_secs(2)).unwrap();
    }
}
