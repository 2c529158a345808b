//! Points in time as the shop writes them down (an order's `placedAt`, an
//! event's `occurredAt`, a table's `updatedAt`): RFC 3339 text, read once
//! where it comes in.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// A point in time and the RFC 3339 text it is written as.
///
/// One the shop makes (`Timestamp::from(now)`) is UTC to the millisecond,
/// always with three decimals (`2026-11-21T10:00:00.000Z`), so that its text
/// sorts as the time does: the orders table's indexes sort on it. One that is
/// read keeps the text it was read from (any RFC 3339 time, such as
/// `2026-11-21T10:00:00Z`), so a time that passes through a service leaves it
/// byte for byte as it came. Timestamps compare, order and hash by the
/// instant they name, whatever their text.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp {
    /// In UTC.
    at: OffsetDateTime,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an RFC 3339 time (like 2026-11-21T10:00:00Z)")]
pub struct InvalidTimestamp(pub String);

impl Timestamp {
    pub fn parse(text: &str) -> Result<Self, InvalidTimestamp> {
        // `time` also takes a space for the `T`, which RFC 3339 leaves to
        // applications to allow; JSON Schema's `date-time` does not.
        let separated_by_t = matches!(text.as_bytes().get(10), Some(b'T' | b't'));
        let at = separated_by_t
            .then(|| OffsetDateTime::parse(text, &Rfc3339).ok())
            .flatten()
            .and_then(|at| at.checked_to_offset(UtcOffset::UTC))
            .ok_or_else(|| InvalidTimestamp(text.to_owned()))?;
        Ok(Self {
            at,
            text: text.to_owned(),
        })
    }

    /// The instant, in UTC.
    pub fn time(&self) -> OffsetDateTime {
        self.at
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The time to the millisecond, in UTC, as the shop writes every time it
/// makes. Panics only within a day of the ends of `time`'s range (years
/// -9999 and 9999), which no clock gives.
impl From<OffsetDateTime> for Timestamp {
    fn from(at: OffsetDateTime) -> Self {
        let utc = at.to_offset(UtcOffset::UTC);
        let at = utc
            .replace_millisecond(utc.millisecond())
            .expect("a time's own millisecond is in range");
        let format =
            format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
        let text = at.format(&format).expect("a UTC time always formats");
        Self { at, text }
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Timestamp {}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at.cmp(&other.at)
    }
}

impl Hash for Timestamp {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.at.hash(state);
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Timestamp").field(&self.text).finish()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for Timestamp {
    type Error = InvalidTimestamp;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<Timestamp> for String {
    fn from(timestamp: Timestamp) -> Self {
        timestamp.text
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_time_the_shop_makes_is_utc_to_the_millisecond_with_three_decimals() {
        let cases = [
            (datetime!(2026-11-21 10:00:00 UTC), "2026-11-21T10:00:00.000Z"),
            (datetime!(2026-11-21 10:00:00.5 UTC), "2026-11-21T10:00:00.500Z"),
            (
                datetime!(2026-11-21 10:00:00.123_456_789 UTC),
                "2026-11-21T10:00:00.123Z",
            ),
            (datetime!(2026-11-21 12:00:00 +2), "2026-11-21T10:00:00.000Z"),
        ];
        for (at, text) in cases {
            let made = Timestamp::from(at);
            assert_eq!(made.as_str(), text);
            assert_eq!(Timestamp::parse(text).unwrap(), made);
        }
        assert_eq!(
            Timestamp::from(datetime!(2026-11-21 10:00:00.123_456_789 UTC)).time(),
            datetime!(2026-11-21 10:00:00.123 UTC)
        );
    }

    #[test]
    fn made_times_sort_as_text_as_they_do_as_times() {
        let earlier = Timestamp::from(datetime!(2026-11-21 10:00:00 UTC));
        let later = Timestamp::from(datetime!(2026-11-21 10:00:00.5 UTC));
        assert!(earlier < later);
        assert!(earlier.as_str() < later.as_str());
    }

    #[test]
    fn a_time_read_keeps_its_text_and_names_its_instant_in_utc() {
        for (text, at) in [
            ("2026-11-21T10:00:00Z", datetime!(2026-11-21 10:00:00 UTC)),
            (
                "2026-11-21T10:00:01.123456789Z",
                datetime!(2026-11-21 10:00:01.123_456_789 UTC),
            ),
            ("2026-11-21T21:30:00-05:00", datetime!(2026-11-22 02:30:00 UTC)),
        ] {
            let read = Timestamp::parse(text).unwrap();
            assert_eq!(read.as_str(), text);
            assert_eq!(read.time(), at);
            assert_eq!(read.time().offset(), UtcOffset::UTC);
        }
        assert_eq!(
            Timestamp::parse("2026-11-21T10:00:00Z").unwrap(),
            Timestamp::parse("2026-11-21T11:00:00.000+01:00").unwrap()
        );
    }

    #[test]
    fn what_is_not_an_rfc_3339_time_is_refused() {
        for bad in [
            "",
            "yesterday",
            "2026-11-21",
            "2026-11-21T10:00:00",
            "2026-11-21 10:00:00Z",
            "2026-11-31T10:00:00Z",
            "2026-11-21T25:00:00Z",
            "21/11/2026 10:00",
            "1795262400",
            " 2026-11-21T10:00:00Z",
        ] {
            assert_eq!(
                Timestamp::parse(bad),
                Err(InvalidTimestamp(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_time_is_a_json_string_read_back_byte_for_byte() {
        for text in ["\"2026-11-21T10:00:00Z\"", "\"2026-11-21T10:00:00.000Z\""] {
            let read: Timestamp = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&read).unwrap(), text);
        }
        for bad in ["\"yesterday\"", "1795262400", "null"] {
            assert!(serde_json::from_str::<Timestamp>(bad).is_err(), "{bad}");
        }
    }
}
