//! Bodies of the logs, exec and attach calls.

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// Container logs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Logs {
    /// Log text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// Body of an exec call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerExecRequest {
    /// The one executable to run (ACI passes no arguments: `ls /` names an executable `ls /`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Terminal size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal_size: Option<TerminalSize>,
}

impl ContainerExecRequest {
    /// A request for `command` with a terminal of `rows` × `cols`.
    pub fn new(command: impl Into<String>, rows: i32, cols: i32) -> Self {
        Self {
            command: Some(command.into()),
            terminal_size: Some(TerminalSize {
                rows: Some(rows),
                cols: Some(cols),
            }),
        }
    }
}

/// Terminal size of an exec session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminalSize {
    /// Rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<i32>,
    /// Columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cols: Option<i32>,
}

/// Answer to an exec call: where to connect and the password to send first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerExecResponse {
    /// WebSocket URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_socket_uri: Option<String>,
    /// Password, sent as the first frame.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secret::expose_option"
    )]
    pub password: Option<Secret>,
}

/// Answer to an attach call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerAttachResponse {
    /// WebSocket URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_socket_uri: Option<String>,
    /// Password, sent as an `Authorization` header value.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secret::expose_option"
    )]
    pub password: Option<Secret>,
}
