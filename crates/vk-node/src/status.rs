//! The node conditions vk owns, with stable transition times.

use serde_json::{Value, json};

use crate::Health;
use crate::time::rfc3339;

/// The five conditions vk owns (Ready, MemoryPressure, DiskPressure,
/// PIDPressure, NetworkUnavailable). Only Ready changes: it follows the
/// provider's health; the pressure conditions are always False because ACI
/// isolates every container group.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditions {
    health: Health,
    ready_since: jiff::Timestamp,
    started: jiff::Timestamp,
}

impl Conditions {
    /// Conditions for `health`, whose state began at `since`.
    pub fn new(health: &Health, since: jiff::Timestamp) -> Self {
        Self {
            health: health.clone(),
            ready_since: since,
            started: since,
        }
    }

    /// The health the conditions describe.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Records a new health; returns true when the conditions changed
    /// (Ready flipped, or its reason or message changed).
    pub fn update(&mut self, health: &Health, now: jiff::Timestamp) -> bool {
        if *health == self.health {
            return false;
        }
        if health.is_healthy() != self.health.is_healthy() {
            self.ready_since = now;
        }
        self.health = health.clone();
        true
    }

    /// The `status.conditions` list, with `lastHeartbeatTime` now.
    pub fn to_json(&self) -> Value {
        let now = rfc3339(jiff::Timestamp::now());
        let (ready, reason, message) = match &self.health {
            Health::Healthy => (
                "True",
                "KubeletReady",
                "vk is posting ready status; the provider is reachable".to_owned(),
            ),
            Health::Unhealthy { reason, message } => ("False", reason.as_str(), message.clone()),
        };
        let started = rfc3339(self.started);
        let cond = |type_: &str, status: &str, reason: &str, message: &str, since: &Value| {
            json!({
                "type": type_, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": now, "lastTransitionTime": since,
            })
        };
        json!([
            cond("Ready", ready, reason, &message, &rfc3339(self.ready_since)),
            cond(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "each pod runs in its own container group",
                &started
            ),
            cond(
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "each pod runs in its own container group",
                &started
            ),
            cond(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "each pod runs in its own container group",
                &started
            ),
            cond(
                "NetworkUnavailable",
                "False",
                "ProviderNetworkReady",
                "networking is provided by Azure Container Instances",
                &started
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn transition_time_moves_only_when_ready_flips() {
        let mut c = Conditions::new(&Health::Healthy, ts(100));
        assert!(!c.update(&Health::Healthy, ts(200)));
        let down = Health::Unhealthy {
            reason: "ProviderUnreachable".into(),
            message: "timeout".into(),
        };
        assert!(c.update(&down, ts(300)));
        let j = c.to_json();
        assert_eq!(j[0]["status"], "False");
        assert_eq!(j[0]["reason"], "ProviderUnreachable");
        assert_eq!(j[0]["lastTransitionTime"], "1970-01-01T00:05:00Z");
        let other = Health::Unhealthy {
            reason: "CredentialsRejected".into(),
            message: "401".into(),
        };
        assert!(c.update(&other, ts(400)));
        assert_eq!(c.to_json()[0]["lastTransitionTime"], "1970-01-01T00:05:00Z");
        assert_eq!(c.to_json()[1]["lastTransitionTime"], "1970-01-01T00:01:40Z");
    }
}
