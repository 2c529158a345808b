//! Pauses between the tries of a request refused for a passing reason (a
//! transaction conflict, items left unprocessed by throttling): capped
//! exponential back-off with full jitter, and a budget for the pauses
//! together. Retrying ends, whatever the luck, well inside the function's
//! timeout; what is still refused then is an error, for the caller or the
//! queue to retry later.

use std::time::Duration;

use rand::Rng;

/// How a request is retried: the first pause at most `first`, each next
/// one's ceiling twice the last, up to `longest`, and only as many retries
/// as fit in `budget` with every pause at its ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    longest: Duration,
    budget: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, longest: Duration, budget: Duration) -> Self {
        assert!(
            !first.is_zero() && !longest.is_zero(),
            "a back-off must pause, or its retries never end"
        );
        Self {
            first,
            longest,
            budget,
        }
    }

    /// The retries of one request (or of one batch of requests, sharing
    /// the budget).
    pub fn retries(self) -> Retries {
        Retries {
            ceiling: self.first,
            longest: self.longest,
            left: self.budget,
        }
    }

    /// The longest the pauses of one request can take together: every
    /// pause at its ceiling. Never more than the budget.
    pub fn worst_case(self) -> Duration {
        self.retries().sum()
    }
}

/// The retries a request has left; as an iterator, the ceiling of each
/// pause, in order.
#[derive(Debug)]
pub struct Retries {
    ceiling: Duration,
    longest: Duration,
    left: Duration,
}

impl Retries {
    /// Waits before the next try, a random part of its ceiling (full
    /// jitter: requests that collided spread apart); false, at once, when
    /// the budget has no room for another.
    pub async fn pause(&mut self) -> bool {
        let Some(ceiling) = self.next() else {
            return false;
        };
        let pause = rand::rng().random_range(Duration::ZERO..=ceiling);
        tokio::time::sleep(pause).await;
        true
    }
}

impl Iterator for Retries {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let ceiling = self.ceiling.min(self.longest);
        self.left = self.left.checked_sub(ceiling)?;
        self.ceiling = ceiling.saturating_mul(2);
        Some(ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ceilings_double_up_to_the_longest_pause_while_the_budget_lasts() {
        let ceilings: Vec<Duration> = Backoff::new(ms(10), ms(50), ms(200)).retries().collect();
        assert_eq!(ceilings, [ms(10), ms(20), ms(40), ms(50), ms(50)]);
    }

    #[test]
    fn the_worst_case_fills_at_most_the_budget() {
        for (first, longest, budget) in [(1, 1, 0), (1, 1, 7), (25, 400, 800), (50, 1000, 2000), (3, 1, 10)] {
            let backoff = Backoff::new(ms(first), ms(longest), ms(budget));
            assert!(backoff.worst_case() <= ms(budget), "{backoff:?}");
        }
    }

    #[test]
    fn a_budget_smaller_than_the_first_pause_allows_no_retry() {
        assert_eq!(Backoff::new(ms(10), ms(10), ms(9)).retries().count(), 0);
    }

    #[tokio::test]
    async fn pausing_stops_when_the_budget_is_spent() {
        let mut retries = Backoff::new(ms(1), ms(1), ms(3)).retries();
        let mut pauses = 0;
        while retries.pause().await {
            pauses += 1;
        }
        assert_eq!(pauses, 3);
    }
}
