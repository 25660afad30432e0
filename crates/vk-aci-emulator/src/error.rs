//! The crate's error type.

use std::net::SocketAddr;

/// Errors returned by the emulator's library API.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The listening socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address that was requested.
        addr: SocketAddr,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the state file failed.
    #[error("state file {path}: {source}")]
    StateFile {
        /// The state file path.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The state file does not contain valid emulator state.
    #[error("state file {path} is not valid emulator state: {source}")]
    StateFormat {
        /// The state file path.
        path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// No container group has this name (admin fault injection).
    #[error("no container group named '{0}'")]
    NoSuchGroup(String),
    /// The group is stopped or in a transition, so the platform event cannot
    /// apply now.
    #[error("container group '{name}' is {state}")]
    GroupBusy {
        /// The group name.
        name: String,
        /// Its provisioning state (or `Stopped`).
        state: String,
    },
    /// The group is not a Spot group, so it cannot be evicted.
    #[error("container group '{0}' has priority Regular: only Spot groups are evicted")]
    NotSpot(String),
    /// Some other I/O failure (for instance reading the bound address).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
