//! The reconciler against an in-process fake API server (no cluster): node
//! without taints, conflicts from a concurrent writer, unchanged skips and
//! errors.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use k8s_openapi::api::core::v1::Taint;
use kube::client::Body;
use serde_json::{Value, json};
use vk_taints::{Error, Health, Outcome, RetryPolicy, TaintConfig, TaintReconciler};

#[derive(Default)]
struct Fake {
    /// The node, or `None` for 404.
    node: Option<Value>,
    resource_version: u64,
    /// PATCHes that a "concurrent writer" beats: before each, it adds a taint.
    conflicts_to_inject: u32,
    gets: u32,
    patches: u32,
    /// Answer PATCH with this status instead.
    fail_patch: Option<u16>,
}

fn status(code: u16, reason: &str) -> Response<Body> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": reason, "reason": reason, "code": code});
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).expect("json")))
        .expect("response")
}

fn ok(v: &Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(v).expect("json")))
        .expect("response")
}

fn with_rv(node: &Value, rv: u64) -> Value {
    let mut n = node.clone();
    n["metadata"]["resourceVersion"] = json!(rv.to_string());
    n
}

fn client(fake: Arc<Mutex<Fake>>) -> kube::Client {
    let svc = tower::service_fn(move |req: Request<Body>| {
        let fake = fake.clone();
        async move {
            let method = req.method().clone();
            let body = req.into_body().collect_bytes().await.expect("body");
            let mut f = fake.lock().expect("lock");
            let Some(node) = f.node.clone() else {
                return Ok::<_, Infallible>(status(404, "NotFound"));
            };
            if method == Method::GET {
                f.gets += 1;
                return Ok(ok(&with_rv(&node, f.resource_version)));
            }
            assert_eq!(method, Method::PATCH);
            f.patches += 1;
            if let Some(code) = f.fail_patch {
                return Ok(status(code, "Forbidden"));
            }
            if f.conflicts_to_inject > 0 {
                f.conflicts_to_inject -= 1;
                // Another writer got there first.
                let mut n = node.clone();
                let mut taints = n["spec"]["taints"].as_array().cloned().unwrap_or_default();
                taints.push(
                    json!({"key": format!("other/{}", f.resource_version), "effect": "NoSchedule"}),
                );
                n["spec"]["taints"] = Value::Array(taints);
                f.node = Some(n);
                f.resource_version += 1;
            }
            let patch: Value = serde_json::from_slice(&body).expect("patch json");
            let rv = patch["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default();
            if rv != f.resource_version.to_string() {
                return Ok(status(409, "Conflict"));
            }
            let mut n = f.node.clone().unwrap_or_default();
            n["spec"]["taints"] = patch["spec"]["taints"].clone();
            f.resource_version += 1;
            f.node = Some(n.clone());
            Ok(ok(&with_rv(&n, f.resource_version)))
        }
    });
    kube::Client::new(svc, "default")
}

fn node(taints: Option<Value>) -> Value {
    let mut n = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "vk"}, "spec": {}});
    if let Some(t) = taints {
        n["spec"]["taints"] = t;
    }
    n
}

fn taints_of(fake: &Arc<Mutex<Fake>>) -> Vec<Taint> {
    let f = fake.lock().expect("lock");
    serde_json::from_value(f.node.as_ref().expect("node")["spec"]["taints"].clone())
        .unwrap_or_default()
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
    }
}

#[tokio::test]
async fn node_without_taints_gets_desired_then_unchanged() {
    let fake = Arc::new(Mutex::new(Fake {
        node: Some(node(None)),
        ..Fake::default()
    }));
    let config = TaintConfig::default();
    let r = TaintReconciler::new(client(fake.clone()), "vk", &config).retry_policy(fast());
    let out = r
        .ensure(&config.desired(&Health::Healthy))
        .await
        .expect("ensure");
    assert!(matches!(out, Outcome::Updated { attempts: 1, .. }));
    assert!(vk_taints::same_taints(
        &taints_of(&fake),
        &config.desired(&Health::Healthy)
    ));
    let out = r
        .ensure(&config.desired(&Health::Healthy))
        .await
        .expect("ensure");
    assert_eq!(out, Outcome::Unchanged);
    assert_eq!(fake.lock().expect("lock").patches, 1);
}

#[tokio::test]
async fn conflicts_are_retried_and_foreign_taints_survive() {
    let fake = Arc::new(Mutex::new(Fake {
        node: Some(node(Some(json!([
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:00Z"},
            {"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"}
        ])))),
        conflicts_to_inject: 2,
        ..Fake::default()
    }));
    let config = TaintConfig::default();
    let r = TaintReconciler::new(client(fake.clone()), "vk", &config).retry_policy(fast());
    let out = r
        .ensure(&config.desired(&Health::unhealthy(
            "ProviderUnreachable",
            "ACI does not answer",
        )))
        .await
        .expect("ensure");
    assert!(
        matches!(out, Outcome::Updated { attempts: 3, .. }),
        "{out:?}"
    );
    let keys: Vec<String> = taints_of(&fake).into_iter().map(|t| t.key).collect();
    assert_eq!(
        keys,
        [
            "node.kubernetes.io/unreachable",
            "other/0",
            "other/1",
            "virtual-kubelet.io/provider",
            "virtual-kubelet.io/provider-unhealthy"
        ]
    );
    let f = fake.lock().expect("lock");
    assert_eq!((f.gets, f.patches), (3, 3));
}

#[tokio::test]
async fn owned_taints_in_another_order_are_not_rewritten() {
    let fake = Arc::new(Mutex::new(Fake {
        node: Some(node(Some(json!([
            {"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"},
            {"key": "user", "effect": "NoSchedule"}
        ])))),
        ..Fake::default()
    }));
    let config = TaintConfig::default();
    let r = TaintReconciler::new(client(fake.clone()), "vk", &config);
    let out = r
        .ensure(&config.desired(&Health::Healthy))
        .await
        .expect("ensure");
    assert_eq!(out, Outcome::Unchanged);
    assert_eq!(fake.lock().expect("lock").patches, 0);
}

#[tokio::test]
async fn too_many_conflicts_is_a_typed_error() {
    let fake = Arc::new(Mutex::new(Fake {
        node: Some(node(None)),
        conflicts_to_inject: 100,
        ..Fake::default()
    }));
    let config = TaintConfig::default();
    let r = TaintReconciler::new(client(fake), "vk", &config).retry_policy(fast());
    let err = r
        .ensure(&config.desired(&Health::Healthy))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict { ref node, attempts: 5 } if node == "vk"),
        "{err}"
    );
}

#[tokio::test]
async fn missing_node_and_forbidden_write_are_typed_errors() {
    let config = TaintConfig::default();
    let missing = Arc::new(Mutex::new(Fake::default()));
    let err = TaintReconciler::new(client(missing), "vk", &config)
        .ensure(&config.desired(&Health::Healthy))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NodeNotFound { .. }), "{err}");

    let forbidden = Arc::new(Mutex::new(Fake {
        node: Some(node(None)),
        fail_patch: Some(403),
        ..Fake::default()
    }));
    let err = TaintReconciler::new(client(forbidden), "vk", &config)
        .ensure(&config.desired(&Health::Healthy))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UpdateTaints { .. }), "{err}");
    assert!(err.to_string().contains("\"vk\""));
}
