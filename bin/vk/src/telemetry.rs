//! Logging: `tracing` to stderr, as text or JSON, filtered `RUST_LOG`-style.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSpec};

/// Logging could not be set up.
#[derive(Debug)]
pub(crate) enum TelemetryError {
    /// The filter does not parse; names where it came from.
    Filter {
        /// `RUST_LOG` or `log.filter`.
        source_name: &'static str,
        /// The filter text.
        filter: String,
        /// The parser's complaint.
        message: String,
    },
    /// A global subscriber was already installed.
    AlreadyInstalled(String),
}

impl std::fmt::Display for TelemetryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Filter {
                source_name,
                filter,
                message,
            } => write!(f, "{source_name}: invalid filter {filter:?}: {message}"),
            Self::AlreadyInstalled(message) => {
                write!(f, "a log subscriber is already installed: {message}")
            }
        }
    }
}

impl std::error::Error for TelemetryError {}

/// The filter to use: `rust_log` (the `RUST_LOG` variable, passed in by the caller) when set and
/// not blank, else the configured one.
pub(crate) fn filter(log: &LogSpec, rust_log: Option<&str>) -> Result<EnvFilter, TelemetryError> {
    let (source_name, text) = match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        Some(env) => ("RUST_LOG", env),
        None => ("log.filter", log.filter.as_str()),
    };
    EnvFilter::try_new(text).map_err(|err| TelemetryError::Filter {
        source_name,
        filter: text.to_string(),
        message: err.to_string(),
    })
}

/// Installs the global subscriber. Call once, early in `main`.
pub(crate) fn init(log: &LogSpec, rust_log: Option<&str>) -> Result<(), TelemetryError> {
    let filter = filter(log, rust_log)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match log.format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    result.map_err(|err| TelemetryError::AlreadyInstalled(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_overrides_the_configured_filter() {
        let log = LogSpec {
            filter: "not a [valid filter".into(),
            ..LogSpec::default()
        };
        assert!(filter(&log, Some("debug")).is_ok());
        let err = filter(&log, None).expect_err("config filter is invalid");
        assert!(
            err.to_string().starts_with("log.filter: invalid filter"),
            "{err}"
        );
        let err = filter(&LogSpec::default(), Some("[[")).expect_err("RUST_LOG is invalid");
        assert!(err.to_string().starts_with("RUST_LOG:"), "{err}");
        // A blank RUST_LOG is ignored.
        assert!(filter(&LogSpec::default(), Some("  ")).is_ok());
    }
}
