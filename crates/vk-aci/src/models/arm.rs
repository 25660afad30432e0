//! ARM envelopes: error bodies and asynchronous operation status.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// An ARM error response: `{"error": {...}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudError {
    /// The error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<CloudErrorBody>,
}

/// An ARM error: code, message, target and nested details.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudErrorBody {
    /// Error code, e.g. `ResourceNotFound`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Target (e.g. a property path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Nested details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<CloudErrorBody>>,
}

/// Body returned by an `Azure-AsyncOperation` URL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationStatus {
    /// Operation id (ACI uses the group's id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Operation name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Succeeded`, `Failed`, `Canceled`, or any other (non-terminal) value.
    #[serde(default)]
    pub status: String,
    /// Start time.
    #[serde(
        default,
        with = "super::time::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<Timestamp>,
    /// End time.
    #[serde(
        default,
        with = "super::time::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_time: Option<Timestamp>,
    /// Progress in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_complete: Option<f64>,
    /// Resource-provider properties (ACI puts group `events` here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<serde_json::Value>,
    /// Error of a failed or canceled operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<CloudErrorBody>,
}

impl OperationStatus {
    /// `Succeeded`, `Failed` or `Canceled` (ignoring case).
    pub fn is_terminal(&self) -> bool {
        ["Succeeded", "Failed", "Canceled"]
            .iter()
            .any(|s| self.status.eq_ignore_ascii_case(s))
    }

    /// Status is `Succeeded`.
    pub fn is_succeeded(&self) -> bool {
        self.status.eq_ignore_ascii_case("Succeeded")
    }
}
