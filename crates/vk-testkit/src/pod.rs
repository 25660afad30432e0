//! What tests read off a pod's status.

use k8s_openapi::api::core::v1::Pod;

/// Phase `Running` with the `Ready` condition `True`.
pub fn running_ready(p: &Pod) -> bool {
    let Some(s) = p.status.as_ref() else {
        return false;
    };
    s.phase.as_deref() == Some("Running")
        && s.conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The waiting reason of the pod's first container, if it waits.
pub fn first_waiting_reason(p: &Pod) -> Option<String> {
    p.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .waiting
        .as_ref()?
        .reason
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "p"}, "status": status}))
            .unwrap()
    }

    #[test]
    fn readiness_needs_the_phase_and_the_condition() {
        let ready = serde_json::json!([{"type": "Ready", "status": "True"}]);
        assert!(running_ready(&pod(
            serde_json::json!({"phase": "Running", "conditions": ready})
        )));
        assert!(!running_ready(&pod(
            serde_json::json!({"phase": "Pending", "conditions": ready})
        )));
        assert!(!running_ready(&pod(
            serde_json::json!({"phase": "Running"})
        )));
        assert!(!running_ready(&pod(serde_json::json!(null))));
    }

    #[test]
    fn the_first_container_says_why_it_waits() {
        let p = pod(serde_json::json!({"containerStatuses": [
            {"name": "a", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"waiting": {"reason": "ErrImagePull"}}},
            {"name": "b", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"waiting": {"reason": "ContainerCreating"}}}]}));
        assert_eq!(first_waiting_reason(&p).as_deref(), Some("ErrImagePull"));
        assert_eq!(first_waiting_reason(&pod(serde_json::json!({}))), None);
    }
}
