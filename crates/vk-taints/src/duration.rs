//! Serde helpers for the libraries' configuration: a [`Duration`](std::time::Duration) as a
//! whole number of seconds ([`secs`]) or milliseconds ([`millis`]), the form the `*_secs` and
//! `*_ms` keys take.
//!
//! ```
//! use std::time::Duration;
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Config {
//!     #[serde(rename = "interval_secs", with = "vk_taints::duration::secs")]
//!     interval: Duration,
//!     #[serde(rename = "delay_ms", with = "vk_taints::duration::millis")]
//!     delay: Duration,
//! }
//!
//! let c: Config = serde_json::from_str(r#"{"interval_secs": 10, "delay_ms": 250}"#).unwrap();
//! assert_eq!((c.interval, c.delay), (Duration::from_secs(10), Duration::from_millis(250)));
//! assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"interval_secs":10,"delay_ms":250}"#);
//! ```

/// A duration as whole seconds (sub-second parts are dropped when serializing).
pub mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the whole seconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    /// Reads whole seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

/// A duration as whole milliseconds (saturating at `u64::MAX` when serializing).
pub mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the whole milliseconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// Reads whole milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
