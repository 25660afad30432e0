//! Kubernetes timestamps.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};

pub(crate) fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// RFC 3339 with seconds, as `metav1.Time` is serialized.
pub(crate) fn rfc3339(ts: jiff::Timestamp) -> serde_json::Value {
    serde_json::to_value(Time(ts)).unwrap_or(serde_json::Value::Null)
}

pub(crate) fn micro(ts: jiff::Timestamp) -> MicroTime {
    MicroTime(ts)
}
