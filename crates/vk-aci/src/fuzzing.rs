//! Entry points for fuzzing (`fuzz/`) and hostile-input tests (`crates/vk-hostile-tests`).
//!
//! **Not a stable API**: hidden from the documentation, exempt from semver, and changed
//! whenever the code it reaches changes. It exists so that the fuzz targets run the crate's
//! *private* parsers as they are, rather than copies of their source:
//!
//! - [`arm_failure`]: what the client makes of a failed ARM (or token endpoint) response —
//!   `Failure::from_response` (ARM `{"error": {...}}` body, OAuth `{"error": "..."}` body, raw
//!   text fallback truncated to 512 bytes, `x-ms-request-id`, `Retry-After`);
//! - [`arm_failure_input`]: one fuzzer input → status, headers and body → [`arm_failure`],
//!   then everything the client does with the result (wrapping it in an [`Error`],
//!   classifying it, the retry and polling waits), panicking if an invariant breaks.
//!
//! The module is compiled in every build (no cargo feature): it adds no dependency, unused
//! functions are not linked, and the crate's own tests and lints cover it.

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tokio::time::Instant;

use crate::error::header_str;
use crate::models::CloudError;
use crate::transport::RawResponse;
use crate::{Error, Failure, FailureKind, LroOptions, Operation, RetryPolicy, Target};

/// The failure the client builds from a response with an error status, as
/// `ContainerInstances` and the token credentials do (one attempt).
pub fn arm_failure(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Failure {
    RawResponse {
        status,
        headers: headers.clone(),
        body: body.to_vec(),
        attempts: 1,
    }
    .failure()
}

/// Splits a fuzzer input into an HTTP status, headers and a body.
///
/// Layout: two bytes of status (`100 + u16 % 900`), then header lines `name: value` up to the
/// first empty line (`\n\n`), then the body. Lines that are not valid header names or values
/// are skipped; an input without an empty line is all body.
pub fn split_response(data: &[u8]) -> (StatusCode, HeaderMap, &[u8]) {
    let (status, rest) = match data {
        [a, b, rest @ ..] => (100 + u16::from_be_bytes([*a, *b]) % 900, rest),
        _ => (500, data),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    let Some(end) = rest.windows(2).position(|w| w == b"\n\n") else {
        return (status, headers, rest);
    };
    for line in rest[..end].split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii_start());
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim_ascii()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    (status, headers, &rest[end + 2..])
}

/// One fuzzer input (see [`split_response`]) through [`arm_failure`] and everything the client
/// does with the failure.
///
/// # Panics
///
/// When an invariant breaks: the failure must keep the status and request id, have a
/// non-empty message (at most 512 bytes of a non-JSON body plus `…`), carry the ARM code of an
/// ARM error body, display and classify without panicking, never be both a quota error and
/// transient, and its `Retry-After` must give usable retry and polling waits.
pub fn arm_failure_input(data: &[u8]) {
    let (status, headers, body) = split_response(data);
    let failure = arm_failure(status, &headers, body);
    assert_eq!(failure.kind, FailureKind::Http);
    assert_eq!(failure.status, Some(status));
    assert_eq!(failure.attempts, 1);
    assert!(!failure.message.is_empty(), "empty message");
    assert_eq!(
        failure.request_id.as_deref(),
        header_str(&headers, "x-ms-request-id"),
        "request id"
    );
    match serde_json::from_slice::<CloudError>(body) {
        Ok(CloudError { error: Some(err) }) => {
            assert_eq!(failure.code, err.code, "ARM code");
            assert_eq!(failure.target, err.target, "ARM target");
        }
        _ if serde_json::from_slice::<serde_json::Value>(body).is_err() => {
            // Raw text: truncated to 512 bytes on a character boundary, plus an ellipsis.
            assert!(
                failure.message.len() <= 512 + '…'.len_utf8(),
                "message of {} bytes",
                failure.message.len()
            );
        }
        _ => {}
    }
    if failure.is_quota_exceeded() {
        assert!(!failure.is_transient(), "a quota error is not transient");
    }
    let text = failure.to_string();
    assert!(text.contains(&failure.message), "{text:?}");
    let _ = format!("{failure:?}");
    let retry_after = failure.retry_after;
    let err = Error::failed(Operation::Get, Target::group("g"), failure);
    assert!(err.to_string().contains(status.as_str()));
    let _ = (
        err.is_not_found(),
        err.is_conflict(),
        err.is_throttled(),
        err.is_quota_exceeded(),
        err.is_transient(),
        err.is_auth(),
        err.code(),
        err.request_id(),
    );
    // What the retry loop and the operation poller do with Retry-After.
    let policy = RetryPolicy::default();
    let deadline = Instant::now() + policy.deadline;
    let delay = retry_after.unwrap_or_else(|| policy.backoff(1));
    let _ = crate::transport::past_deadline(delay, deadline);
    let options = LroOptions::default();
    assert!(crate::lro::wait_for(&options, &headers) <= options.max_poll_interval);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_status_headers_and_body() {
        let (status, headers, body) =
            split_response(b"\x01\x2cx-ms-request-id: abc\nretry-after: 5\nbad line\n\n{}");
        assert_eq!(status, StatusCode::from_u16(400).unwrap());
        assert_eq!(header_str(&headers, "x-ms-request-id"), Some("abc"));
        assert_eq!(header_str(&headers, "retry-after"), Some("5"));
        assert_eq!(body, b"{}");
        let (_, headers, body) = split_response(b"\x00\x00no headers");
        assert!(headers.is_empty());
        assert_eq!(body, b"no headers");
    }

    #[test]
    fn seeds_pass() {
        for seed in [
            &b"\x01\x2cx-ms-request-id: abc\n\n{\"error\":{\"code\":\"ResourceNotFound\",\"message\":\"gone\"}}"[..],
            b"\x01\x4dretry-after: 2\n\n{\"error\":\"invalid_client\",\"error_description\":\"bad secret\"}",
            b"\x01\x90\n\n<html>",
            b"",
        ] {
            arm_failure_input(seed);
        }
    }
}
