//! Fault injection rules.

use std::time::Duration;

use serde::{Deserialize, Serialize};

fn any_op() -> String {
    "any".to_owned()
}

/// A fault injected into matching requests.
///
/// JSON form (admin API `POST /_emulator/faults`):
/// `{"op": "create", "group": "web-*", "status": 429, "retry_after_secs": 2, "count": 1}`.
/// `op` is an operation name (see the crate docs) or `any`; `group` a name pattern
/// where `*` matches any run of characters. Exactly one effect applies, checked in
/// this order: `drop_connection`, `status`, `latency_ms` (latency alone delays the
/// request and then serves it normally; with `status` it delays the error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Operation name to match, or `any`.
    #[serde(default = "any_op")]
    pub op: String,
    /// Container group name pattern (`*` wildcard); `None` matches every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// HTTP status to answer with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// ARM error code of the answer (default from the status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// ARM error message of the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `Retry-After` header value in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// Added latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Close the connection without answering.
    #[serde(default)]
    pub drop_connection: bool,
    /// Number of requests the rule applies to (`None`: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// How long the rule stays active from when it is added (`None`: forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    #[serde(skip)]
    pub(crate) expires: Option<tokio::time::Instant>,
}

impl FaultRule {
    /// A rule matching operation `op` (`any` for all) with no effect yet.
    pub fn new(op: impl Into<String>) -> Self {
        Self {
            op: op.into(),
            group: None,
            status: None,
            code: None,
            message: None,
            retry_after_secs: None,
            latency_ms: None,
            drop_connection: false,
            count: None,
            duration_secs: None,
            expires: None,
        }
    }

    /// Answer with this HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Set the ARM error code and message of the answer.
    pub fn with_error(mut self, code: impl Into<String>, message: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self.message = Some(message.into());
        self
    }

    /// Send `Retry-After: secs`.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// Delay the request.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency_ms = Some(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Close the connection without an answer.
    pub fn dropping_connection(mut self) -> Self {
        self.drop_connection = true;
        self
    }

    /// Only for requests on groups matching `pattern` (`*` wildcard).
    pub fn for_group(mut self, pattern: impl Into<String>) -> Self {
        self.group = Some(pattern.into());
        self
    }

    /// Apply to the next `n` matching requests only.
    pub fn times(mut self, n: u32) -> Self {
        self.count = Some(n);
        self
    }

    /// Stay active for `d` from when it is added.
    pub fn for_duration(mut self, d: Duration) -> Self {
        self.duration_secs = Some(d.as_secs_f64());
        self
    }

    pub(crate) fn activate(&mut self) {
        self.expires = self
            .duration_secs
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s.min(1e9)));
    }

    fn matches(&self, op: &str, group: Option<&str>) -> bool {
        let op_ok = self.op.eq_ignore_ascii_case("any") || self.op.eq_ignore_ascii_case(op);
        let group_ok = match (&self.group, group) {
            (None, _) => true,
            (Some(p), Some(g)) => glob(p, g),
            (Some(_), None) => false,
        };
        op_ok && group_ok
    }
}

/// A provisioning failure: groups whose name matches fail to provision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisioningFailure {
    /// Group name pattern (`*` wildcard).
    pub group: String,
    /// Error code reported (default `ServiceUnavailable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Error message reported (default: ACI's capacity message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Number of provisionings it applies to (`None`: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

impl ProvisioningFailure {
    /// Groups matching `pattern` fail to provision.
    pub fn new(pattern: impl Into<String>) -> Self {
        Self {
            group: pattern.into(),
            code: None,
            message: None,
            count: None,
        }
    }

    /// Set the reported error.
    pub fn with_error(mut self, code: impl Into<String>, message: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self.message = Some(message.into());
        self
    }

    /// Apply to the next `n` provisionings only.
    pub fn times(mut self, n: u32) -> Self {
        self.count = Some(n);
        self
    }
}

/// `*`-wildcard match, case-insensitive.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Takes the first active rule matching; consumes one use of it.
pub(crate) fn take_fault(
    rules: &mut Vec<FaultRule>,
    op: &str,
    group: Option<&str>,
) -> Option<FaultRule> {
    let now = tokio::time::Instant::now();
    rules.retain(|r| r.expires.is_none_or(|e| e > now) && r.count != Some(0));
    let idx = rules.iter().position(|r| r.matches(op, group))?;
    let rule = rules[idx].clone();
    if let Some(c) = rules[idx].count.as_mut() {
        *c -= 1;
        if *c == 0 {
            rules.remove(idx);
        }
    }
    Some(rule)
}

/// Takes a matching provisioning failure, if any.
pub(crate) fn take_provisioning_failure(
    rules: &mut Vec<ProvisioningFailure>,
    group: &str,
) -> Option<ProvisioningFailure> {
    let idx = rules.iter().position(|r| glob(&r.group, group))?;
    let rule = rules[idx].clone();
    if let Some(c) = rules[idx].count.as_mut() {
        *c = c.saturating_sub(1);
        if *c == 0 {
            rules.remove(idx);
        }
    }
    Some(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob("web-*", "web-1"));
        assert!(glob("*", ""));
        assert!(glob("a*c", "abbbc"));
        assert!(!glob("a*c", "abbb"));
        assert!(glob("exact", "EXACT"));
    }

    #[test]
    fn counted_rules_expire() {
        let mut rules = vec![FaultRule::new("get").with_status(429).times(2)];
        assert!(take_fault(&mut rules, "create", None).is_none());
        assert!(take_fault(&mut rules, "get", Some("x")).is_some());
        assert!(take_fault(&mut rules, "get", None).is_some());
        assert!(take_fault(&mut rules, "get", None).is_none());
    }
}
