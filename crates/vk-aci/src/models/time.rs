//! Lenient RFC 3339 timestamps: `2017-08-08T00:09:10Z`, with fractions, with an offset, or with
//! no offset at all (read as UTC, as some Azure services send).

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serializer};

/// Parses a timestamp, accepting a missing offset as UTC.
pub(crate) fn parse(text: &str) -> Option<Timestamp> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    let civil = text.parse::<jiff::civil::DateTime>().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// `serde(with = ...)` for `Option<Timestamp>`.
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<Timestamp>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(ts) => serializer.collect_str(ts),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        let text = Option::<std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        match text {
            None => Ok(None),
            Some(t) if t.is_empty() => Ok(None),
            Some(t) => parse(&t)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {t:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lenient_forms() {
        for t in [
            "2017-08-08T00:09:10Z",
            "2025-04-02T16:08:46.1766617Z",
            "2025-04-02T16:08:46+02:00",
            "2025-04-02T16:08:46",
        ] {
            assert!(super::parse(t).is_some(), "{t}");
        }
        assert!(super::parse("yesterday").is_none());
    }
}
