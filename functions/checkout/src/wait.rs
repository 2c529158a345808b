//! `Prefer: wait=N` (RFC 7240): a client that would rather have the finished
//! order than a pending one asks checkout to wait up to N seconds for the
//! saga to settle it. Checkout then reads the order, strongly consistent,
//! after pauses that double from [`FIRST_PAUSE`] up to [`LONGEST_PAUSE`],
//! and stops at N seconds or well before the invocation's deadline, whichever
//! comes first. A preference it cannot read is ignored, as the RFC asks: the
//! checkout goes on as if it had not been sent.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use astroshop_domain::OrderStatus;
use astroshop_store::{OrderRecord, StoreError};
use lambda_http::http::{HeaderMap, HeaderValue};

/// The longest wait checkout grants; a longer one asked for is cut to this.
pub const LONGEST_WAIT: u64 = 10;
/// The pause before the first read: an idle saga takes about half a second,
/// so a read sooner would only find the order pending.
pub const FIRST_PAUSE: Duration = Duration::from_millis(50);
/// The longest pause between reads: a settled order is seen at most this
/// late, and a 10 s wait costs about 30 reads.
pub const LONGEST_PAUSE: Duration = Duration::from_millis(400);
/// What is kept of the invocation for answering after the wait: the order
/// link's key and the answer itself.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(1);
/// A read that would have less than this before the wait ends is not started.
const SHORTEST_READ: Duration = Duration::from_millis(20);

/// A wait the client asked for with `Prefer: wait=N`, N seconds (at most
/// [`LONGEST_WAIT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    seconds: u64,
}

impl Wait {
    /// The wait the request's `Prefer` headers ask for, read as one
    /// comma-separated list; only the first `wait` counts (RFC 7240 §2), and
    /// none when it is malformed.
    pub fn requested(headers: &HeaderMap) -> Option<Self> {
        headers
            .get_all("prefer")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(preferences)
            .find(|preference| name_of(preference).eq_ignore_ascii_case("wait"))
            .and_then(Self::parse_preference)
    }

    /// `wait = delta-seconds` with optional parameters after `;`, which
    /// `wait` defines none of. The value may be quoted (a `word`, RFC 7240 §2).
    fn parse_preference(preference: &str) -> Option<Self> {
        let (_, value) = preference.split_once('=')?;
        let value = value.split(';').next()?.trim();
        let digits = value
            .strip_prefix('"')
            .and_then(|quoted| quoted.strip_suffix('"'))
            .unwrap_or(value);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Digits too many for a u64 are a wait longer than any granted.
        let seconds = digits
            .parse::<u64>()
            .map_or(LONGEST_WAIT, |n| n.min(LONGEST_WAIT));
        Some(Self { seconds })
    }

    pub fn seconds(self) -> u64 {
        self.seconds
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(self.seconds)
    }

    /// `Preference-Applied: wait=N`, the wait granted. (`wait=` and digits
    /// are always a valid header value.)
    pub fn applied(self) -> HeaderValue {
        HeaderValue::try_from(format!("wait={}", self.seconds)).unwrap_or(HeaderValue::from_static("wait"))
    }

    /// When the wait that starts now must end: after the seconds granted,
    /// or [`ANSWER_MARGIN`] before the invocation's `deadline` (epoch
    /// milliseconds, as Lambda gives it), whichever is sooner. A deadline
    /// already past (0, in a context built by hand) sets no limit.
    pub fn ends_at(self, deadline_millis: Option<u64>) -> Instant {
        let started = Instant::now();
        let granted = started + self.duration();
        let left = deadline_millis.and_then(|millis| {
            (UNIX_EPOCH + Duration::from_millis(millis))
                .duration_since(SystemTime::now())
                .ok()
        });
        match left {
            Some(left) => granted.min(started + left.saturating_sub(ANSWER_MARGIN)),
            None => granted,
        }
    }
}

/// The preferences of one `Prefer` value: its elements split at the commas
/// outside quoted strings, trimmed, the empty ones dropped.
fn preferences(value: &str) -> impl Iterator<Item = &str> {
    let mut elements = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, byte) in value.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                elements.push(&value[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    elements.push(&value[start..]);
    elements
        .into_iter()
        .map(str::trim)
        .filter(|element| !element.is_empty())
}

/// A preference's name: what comes before its `=` or first `;`.
fn name_of(preference: &str) -> &str {
    preference.split(['=', ';']).next().unwrap_or_default().trim()
}

/// What waiting found: the order once settled (none when the wait ended
/// first, or a read failed), and how many reads it took.
#[derive(Debug)]
pub struct Waited {
    pub settled: Option<OrderRecord>,
    pub reads: u32,
}

/// Reads the order with `read` until the saga has settled it (any status
/// but PENDING) or `until` comes: a pause, then a read, each pause twice the
/// last up to [`LONGEST_PAUSE`], the last one cut to end at `until`. A read
/// still running at `until` is abandoned. A read that fails, or finds no
/// order, ends the wait: the order is placed either way, and the client
/// follows it by its link.
pub async fn until_settled<Read, Reading>(mut read: Read, until: Instant) -> Waited
where
    Read: FnMut() -> Reading,
    Reading: Future<Output = Result<Option<OrderRecord>, StoreError>>,
{
    let mut pause = FIRST_PAUSE;
    let mut reads = 0;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left <= SHORTEST_READ {
            return Waited { settled: None, reads };
        }
        tokio::time::sleep(pause.min(left - SHORTEST_READ)).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
        reads += 1;
        match tokio::time::timeout_at(until.into(), read()).await {
            Ok(Ok(Some(record))) if record.status != OrderStatus::Pending => {
                return Waited {
                    settled: Some(record),
                    reads,
                };
            }
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) => {
                tracing::warn!(reads, "the order just placed was not found while waiting for it");
                return Waited { settled: None, reads };
            }
            Ok(Err(error)) => {
                tracing::warn!(error = %astroshop_telemetry::error_chain(&error), reads, "reading the order while waiting for it failed");
                return Waited { settled: None, reads };
            }
            Err(_) => return Waited { settled: None, reads },
        }
    }
}

#[cfg(test)]
mod tests {
    use lambda_http::http::header::HeaderName;

    use super::*;

    fn wait_of(values: &[&str]) -> Option<u64> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                HeaderName::from_static("prefer"),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        Wait::requested(&headers).map(Wait::seconds)
    }

    #[test]
    fn a_wait_of_zero_to_ten_seconds_is_granted_as_asked() {
        assert_eq!(wait_of(&["wait=0"]), Some(0));
        assert_eq!(wait_of(&["wait=5"]), Some(5));
        assert_eq!(wait_of(&["wait=10"]), Some(10));
        assert_eq!(wait_of(&["Wait = 3"]), Some(3));
        assert_eq!(wait_of(&["wait=\"7\""]), Some(7));
        assert_eq!(wait_of(&["wait=007"]), Some(7));
    }

    #[test]
    fn a_longer_wait_is_cut_to_ten_seconds() {
        assert_eq!(wait_of(&["wait=11"]), Some(10));
        assert_eq!(wait_of(&["wait=3600"]), Some(10));
        assert_eq!(wait_of(&["wait=99999999999999999999999"]), Some(10));
    }

    #[test]
    fn wait_is_found_among_other_preferences_and_header_lines() {
        assert_eq!(wait_of(&["respond-async, wait=4"]), Some(4));
        assert_eq!(wait_of(&["return=representation,wait=2;foo=bar"]), Some(2));
        assert_eq!(wait_of(&["handling=lenient", "wait=6"]), Some(6));
        assert_eq!(wait_of(&["foo=\"a, wait=9\", wait=1"]), Some(1));
        assert_eq!(wait_of(&[" , ,wait=8,"]), Some(8));
    }

    #[test]
    fn only_the_first_wait_counts() {
        assert_eq!(wait_of(&["wait=2, wait=9"]), Some(2));
        assert_eq!(wait_of(&["wait=2", "wait=9"]), Some(2));
        assert_eq!(wait_of(&["wait=soon, wait=9"]), None);
    }

    #[test]
    fn a_malformed_or_unknown_preference_is_ignored() {
        for value in [
            "",
            "wait",
            "wait=",
            "wait=-1",
            "wait=1.5",
            "wait=5s",
            "wait=five",
            "wait=\"5",
            "wait=+5",
            "waiting=5",
            "respond-async",
            "return=minimal",
            "wait 5",
        ] {
            assert_eq!(wait_of(&[value]), None, "{value:?}");
        }
        assert_eq!(wait_of(&[]), None);
    }

    #[test]
    fn a_header_that_is_not_text_is_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert("prefer", HeaderValue::from_bytes(b"wait=\xff5").unwrap());
        assert_eq!(Wait::requested(&headers), None);
    }

    #[test]
    fn the_applied_header_names_the_wait_granted() {
        assert_eq!(Wait { seconds: 10 }.applied(), "wait=10");
        assert_eq!(Wait { seconds: 0 }.applied(), "wait=0");
    }

    #[test]
    fn the_wait_ends_before_the_invocations_deadline() {
        let wait = Wait { seconds: 10 };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let deadline = u64::try_from((now + Duration::from_secs(3)).as_millis()).unwrap();
        let ends = wait.ends_at(Some(deadline));
        let left = ends.saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_secs(2), "{left:?}");
        assert!(left > Duration::from_millis(1500), "{left:?}");
        let far = wait.ends_at(Some(deadline + 60_000));
        assert!(far.saturating_duration_since(Instant::now()) > Duration::from_millis(9500));
        // A deadline of 0 (a context built by hand) is no deadline.
        assert!(
            wait.ends_at(Some(0)).saturating_duration_since(Instant::now()) > Duration::from_millis(9500)
        );
        assert!(wait.ends_at(None).saturating_duration_since(Instant::now()) > Duration::from_millis(9500));
    }
}
