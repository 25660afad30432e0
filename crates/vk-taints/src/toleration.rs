//! Toleration matching with Kubernetes' exact semantics, the kubelet's taint
//! admission check, and how long a pod may stay under `NoExecute` taints.
//!
//! Ported from `k8s.io/api/core/v1/toleration.go` (`ToleratesTaint`),
//! `k8s.io/component-helpers/scheduling/corev1` (`FindMatchingUntoleratedTaint`),
//! `pkg/kubelet/lifecycle/predicate.go` (admission) and the taint eviction
//! controller (`getMinTolerationTime`).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};

/// `Predicate TaintToleration failed: ...` is reported with this reason.
pub const ADMISSION_REASON: &str = "TaintToleration";
/// The kubelet's message when a pod does not tolerate the node's taints.
pub const ADMISSION_MESSAGE: &str =
    "Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate";

/// Whether `toleration` tolerates `taint` (`Toleration.ToleratesTaint`):
///
/// * an empty effect matches every effect, otherwise effects must be equal;
/// * an empty key matches every key, otherwise keys must be equal;
/// * operator `Exists` matches any value; `Equal` or empty (the default)
///   needs equal values (a missing value equals the empty string);
/// * any other operator matches nothing.
#[must_use]
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        "Exists" => true,
        _ => false,
    }
}

/// Whether any of `tolerations` tolerates `taint`.
#[must_use]
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// The taints passing `filter` that no toleration tolerates, in node order.
pub fn untolerated<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    filter: impl Fn(&Taint) -> bool,
) -> Vec<&'a Taint> {
    taints
        .iter()
        .filter(|t| filter(t))
        .filter(|t| !tolerated(tolerations, t))
        .collect()
}

/// Which taint effects admission enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdmissionScope {
    /// Only `NoExecute`, exactly like the kubelet (which trusts the scheduler
    /// for `NoSchedule`).
    #[default]
    NoExecute,
    /// `NoExecute` and `NoSchedule`: also refuses pods bound to the node
    /// directly (`spec.nodeName`) that bypassed the scheduler.
    NoExecuteAndNoSchedule,
}

/// Why a pod was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// `TaintToleration`, as the kubelet reports.
    pub reason: &'static str,
    /// The kubelet's message.
    pub message: String,
    /// The taints the pod does not tolerate.
    pub untolerated: Vec<Taint>,
}

/// The kubelet's taint admission: refuses a pod that does not tolerate one of
/// the node's taints within `scope`. Static pods are not checked by the
/// kubelet; vk never runs static pods.
///
/// ```
/// use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
/// use vk_taints::{AdmissionScope, admit};
///
/// let taints = [Taint { key: "k".into(), effect: "NoExecute".into(), ..Default::default() }];
/// assert!(admit(&[], &taints, AdmissionScope::NoExecute).is_err());
/// let exists = Toleration { operator: Some("Exists".into()), ..Default::default() };
/// assert!(admit(&[exists], &taints, AdmissionScope::NoExecute).is_ok());
/// ```
pub fn admit(
    tolerations: &[Toleration],
    taints: &[Taint],
    scope: AdmissionScope,
) -> Result<(), Rejection> {
    let bad = untolerated(taints, tolerations, |t| match scope {
        AdmissionScope::NoExecute => t.effect == "NoExecute",
        AdmissionScope::NoExecuteAndNoSchedule => {
            t.effect == "NoExecute" || t.effect == "NoSchedule"
        }
    });
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Rejection {
            reason: ADMISSION_REASON,
            message: ADMISSION_MESSAGE.to_owned(),
            untolerated: bad.into_iter().cloned().collect(),
        })
    }
}

/// [`admit`] for a pod and the Node it is bound to (tolerations from
/// `spec.tolerations`, taints from the Node's `spec.taints`; missing lists are empty).
pub fn admit_pod(pod: &Pod, node: &Node, scope: AdmissionScope) -> Result<(), Rejection> {
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default();
    admit(tolerations, taints, scope)
}

/// How long a pod may stay on a node with the given taints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stay {
    /// No `NoExecute` taint, or every one is tolerated without `tolerationSeconds`.
    Forever,
    /// Evict after this long (from the taint's `timeAdded`).
    For(Duration),
    /// A `NoExecute` taint is not tolerated (or `tolerationSeconds` ≤ 0): evict now.
    EvictNow,
}

/// The taint eviction controller's rule: for each `NoExecute` taint, the
/// first toleration that tolerates it counts; an untolerated taint evicts at
/// once; otherwise the pod may stay for the smallest `tolerationSeconds` among
/// the counted tolerations (≤ 0 means now), or forever if none has one.
#[must_use]
pub fn no_execute_stay(taints: &[Taint], tolerations: &[Toleration]) -> Stay {
    let mut min_seconds: Option<i64> = None;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        let Some(toleration) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return Stay::EvictNow;
        };
        if let Some(seconds) = toleration.toleration_seconds {
            if seconds <= 0 {
                return Stay::EvictNow;
            }
            min_seconds = Some(min_seconds.map_or(seconds, |m| m.min(seconds)));
        }
    }
    match min_seconds {
        None => Stay::Forever,
        Some(s) => Stay::For(Duration::from_secs(s.unsigned_abs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.map(Into::into),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn tol(
        key: Option<&str>,
        op: Option<&str>,
        value: Option<&str>,
        effect: Option<&str>,
    ) -> Toleration {
        Toleration {
            key: key.map(Into::into),
            operator: op.map(Into::into),
            value: value.map(Into::into),
            effect: effect.map(Into::into),
            toleration_seconds: None,
        }
    }

    /// Cases from `TestTolerationToleratesTaint` in k8s.io/api/core/v1.
    #[test]
    fn tolerates_taint_cases() {
        let t = taint("foo", Some("bar"), "NoSchedule");
        let cases = [
            // empty toleration (Equal, empty key/value) does not match foo=bar
            (tol(None, None, None, None), false),
            // key only, default operator Equal, no value → values differ
            (tol(Some("foo"), None, None, None), false),
            (tol(Some("foo"), Some("Equal"), Some("bar"), None), true),
            (tol(Some("foo"), None, Some("bar"), None), true),
            (tol(Some("foo"), Some("Equal"), Some("baz"), None), false),
            (tol(Some("foo"), Some("Exists"), None, None), true),
            (
                tol(Some("foo"), Some("Exists"), Some("ignored"), None),
                true,
            ),
            (tol(Some("other"), Some("Exists"), None, None), false),
            (tol(None, Some("Exists"), None, None), true),
            (tol(None, Some("Exists"), None, Some("NoSchedule")), true),
            (tol(None, Some("Exists"), None, Some("NoExecute")), false),
            (
                tol(Some("foo"), Some("Equal"), Some("bar"), Some("NoSchedule")),
                true,
            ),
            (
                tol(
                    Some("foo"),
                    Some("Equal"),
                    Some("bar"),
                    Some("PreferNoSchedule"),
                ),
                false,
            ),
            (tol(Some("foo"), Some("Lt"), Some("bar"), None), false),
            (tol(Some("foo"), Some("exists"), None, None), false),
            // empty key with Equal matches any key with the same value
            (tol(None, Some("Equal"), Some("bar"), None), true),
        ];
        for (i, (toleration, want)) in cases.iter().enumerate() {
            assert_eq!(tolerates(toleration, &t), *want, "case {i}: {toleration:?}");
        }
        // A key-only taint is tolerated by Equal with no value or empty value.
        let key_only = taint("k", None, "NoExecute");
        assert!(tolerates(&tol(Some("k"), None, None, None), &key_only));
        assert!(tolerates(
            &tol(Some("k"), Some("Equal"), Some(""), None),
            &key_only
        ));
    }

    #[test]
    fn admission_is_no_execute_only_by_default() {
        let taints = [
            taint("a", None, "NoSchedule"),
            taint("b", Some("x"), "NoExecute"),
            taint("c", None, "PreferNoSchedule"),
        ];
        let rej = admit(&[], &taints, AdmissionScope::NoExecute).unwrap_err();
        assert_eq!(rej.reason, "TaintToleration");
        assert_eq!(
            rej.message,
            "Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate"
        );
        assert_eq!(rej.untolerated, vec![taints[1].clone()]);
        let tolerate_b = tol(Some("b"), None, Some("x"), Some("NoExecute"));
        assert!(
            admit(
                std::slice::from_ref(&tolerate_b),
                &taints,
                AdmissionScope::NoExecute
            )
            .is_ok()
        );
        let rej = admit(
            &[tolerate_b],
            &taints,
            AdmissionScope::NoExecuteAndNoSchedule,
        )
        .unwrap_err();
        assert_eq!(rej.untolerated, vec![taints[0].clone()]);
        assert!(admit(&[], &[], AdmissionScope::NoExecuteAndNoSchedule).is_ok());
    }

    #[test]
    fn admit_pod_reads_spec_lists() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "spec": {"containers": [], "tolerations": [
                {"key": "virtual-kubelet.io/provider", "operator": "Exists"}]}
        }))
        .unwrap();
        let node: Node = serde_json::from_value(serde_json::json!({
            "spec": {"taints": [
                {"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]}
        }))
        .unwrap();
        let rej = admit_pod(&pod, &node, AdmissionScope::NoExecuteAndNoSchedule).unwrap_err();
        assert_eq!(rej.untolerated.len(), 1);
        assert_eq!(rej.untolerated[0].key, "node.kubernetes.io/unreachable");
        assert!(admit_pod(&pod, &Node::default(), AdmissionScope::NoExecute).is_ok());
        assert!(admit_pod(&Pod::default(), &Node::default(), AdmissionScope::NoExecute).is_ok());
    }

    #[test]
    fn stay_durations() {
        let ne = taint("unreachable", None, "NoExecute");
        let ns = taint("x", None, "NoSchedule");
        let mut t300 = tol(Some("unreachable"), Some("Exists"), None, Some("NoExecute"));
        t300.toleration_seconds = Some(300);
        let mut t60 = tol(None, Some("Exists"), None, None);
        t60.toleration_seconds = Some(60);
        let mut t0 = t300.clone();
        t0.toleration_seconds = Some(0);
        let forever = tol(Some("unreachable"), Some("Exists"), None, None);

        assert_eq!(
            no_execute_stay(std::slice::from_ref(&ns), &[]),
            Stay::Forever
        );
        assert_eq!(no_execute_stay(&[], &[]), Stay::Forever);
        assert_eq!(
            no_execute_stay(std::slice::from_ref(&ne), &[]),
            Stay::EvictNow
        );
        assert_eq!(
            no_execute_stay(std::slice::from_ref(&ne), std::slice::from_ref(&t300)),
            Stay::For(Duration::from_secs(300))
        );
        assert_eq!(
            no_execute_stay(std::slice::from_ref(&ne), std::slice::from_ref(&forever)),
            Stay::Forever
        );
        assert_eq!(
            no_execute_stay(std::slice::from_ref(&ne), &[t0]),
            Stay::EvictNow
        );
        // First matching toleration counts: forever first → forever.
        assert_eq!(
            no_execute_stay(std::slice::from_ref(&ne), &[forever, t60.clone()]),
            Stay::Forever
        );
        // Two taints: the minimum of their tolerations.
        let other = taint("other", None, "NoExecute");
        assert_eq!(
            no_execute_stay(&[ne, other], &[t300, t60]),
            Stay::For(Duration::from_secs(60))
        );
    }
}
