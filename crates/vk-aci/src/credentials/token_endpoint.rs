//! Shared parts of the token flows: sending a token request with a few retries and parsing the
//! OAuth 2 response (`expires_in` or `expires_on`, as numbers or strings).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use super::AccessToken;
use crate::error::{Failure, FailureKind};
use crate::{Error, Secret};

/// Attempts per token request.
const ATTEMPTS: u32 = 4;
/// Timeout of one token request.
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Secret,
    #[serde(default)]
    expires_in: Option<NumberOrString>,
    #[serde(default)]
    expires_on: Option<NumberOrString>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(f64),
    Text(String),
}

impl NumberOrString {
    fn seconds(&self) -> Option<i64> {
        match self {
            Self::Number(n) if n.is_finite() => Some(*n as i64),
            Self::Number(_) => None,
            Self::Text(t) => t.trim().parse::<i64>().ok(),
        }
    }
}

/// Parses a token endpoint's success body.
pub(crate) fn parse_token(body: &[u8], now: Timestamp) -> Result<AccessToken, Failure> {
    let parsed: TokenResponse = serde_json::from_slice(body)
        .map_err(|e| Failure::new(FailureKind::Decode, "invalid token response").with_source(e))?;
    let absolute = parsed.expires_on.as_ref().and_then(|e| match e {
        NumberOrString::Number(_) => e.seconds().and_then(|s| Timestamp::from_second(s).ok()),
        NumberOrString::Text(t) => match t.trim().parse::<i64>() {
            Ok(s) => Timestamp::from_second(s).ok(),
            Err(_) => crate::models::time::parse(t.trim()),
        },
    });
    let expires_on = match absolute {
        Some(ts) => ts,
        None => {
            let secs = parsed
                .expires_in
                .as_ref()
                .and_then(NumberOrString::seconds)
                .unwrap_or(3599);
            now.checked_add(SignedDuration::from_secs(secs))
                .unwrap_or(Timestamp::MAX)
        }
    };
    Ok(AccessToken {
        token: parsed.access_token,
        expires_on,
    })
}

/// Sends a token request built by `build`, retrying transport errors, 408, 429, 5xx and the
/// extra `retry_statuses`, and parses the token.
pub(crate) async fn fetch(
    credential: &str,
    retry_statuses: &[u16],
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<AccessToken, Error> {
    let fail = |failure| Error::Token {
        credential: credential.to_owned(),
        failure,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = async {
            let resp = build().timeout(TIMEOUT).send().await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        }
        .await;
        let (failure, retry_after) = match outcome {
            Ok((status, _, body)) if status.is_success() => {
                return parse_token(&body, Timestamp::now()).map_err(fail);
            }
            Ok((status, headers, body)) => {
                let failure = Failure::from_response(status, &headers, &body);
                let retryable = crate::retry::is_retryable_status(status)
                    || retry_statuses.contains(&status.as_u16());
                if !retryable {
                    return Err(fail(failure));
                }
                let retry_after = failure.retry_after;
                (failure, retry_after)
            }
            Err(err) => {
                let retryable = !err.is_builder();
                let failure = Failure::from_reqwest(err);
                if !retryable {
                    return Err(fail(failure));
                }
                (failure, None)
            }
        };
        if attempt >= ATTEMPTS {
            let mut failure = failure;
            failure.attempts = attempt;
            return Err(fail(failure));
        }
        let delay = retry_after
            .unwrap_or_else(|| Duration::from_millis(500).saturating_mul(1 << (attempt - 1)))
            .min(Duration::from_secs(30));
        tracing::warn!(credential, attempt, ?delay, error = %failure, "token request failed; retrying");
        tokio::time::sleep(delay).await;
    }
}

/// The v1 resource of a v2 scope: `https://management.azure.com/.default` → `https://management.azure.com/`.
pub(crate) fn scope_to_resource(scope: &str) -> String {
    match scope.strip_suffix("/.default") {
        Some(resource) => format!("{resource}/"),
        None => scope.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v2_v1_and_imds_shapes() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let t = parse_token(
            br#"{"token_type":"Bearer","expires_in":3599,"access_token":"a"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.expires_on.as_second(), 1_003_599);
        assert_eq!(t.token.expose(), "a");
        let t = parse_token(
            br#"{"access_token":"b","expires_in":"3599","expires_on":"1506484173","resource":"r"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.expires_on.as_second(), 1_506_484_173);
        assert!(parse_token(br#"{"error":"x"}"#, now).is_err());
        assert_eq!(
            scope_to_resource("https://management.azure.com/.default"),
            "https://management.azure.com/"
        );
    }
}
