//! Waiting for conditions with a deadline, polling quickly, never sleeping a fixed time.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use kube::runtime::wait::{Condition, await_condition};
use kube::{Api, Resource};

const POLL: Duration = Duration::from_millis(100);

/// Polls `probe` until it returns `Some`, and returns that value. Panics
/// naming `what` after `timeout_secs` seconds.
pub async fn until<T, F, Fut>(what: &str, timeout_secs: u64, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_secs);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout_secs} s waiting for {what}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Like [`until`], but returns `None` instead of panicking on timeout.
pub async fn try_until<T, F, Fut>(timeout_secs: u64, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_secs);
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Watches the object `name` until `cond` holds and returns it. Panics naming
/// the object after `timeout_secs` seconds, or if the watch fails.
pub async fn for_object<K>(
    api: &Api<K>,
    name: &str,
    timeout_secs: u64,
    cond: impl Condition<K>,
) -> K
where
    K: Resource + Clone + Debug + serde::de::DeserializeOwned + Send + 'static,
    K::DynamicType: Default,
{
    let kind = K::kind(&K::DynamicType::default()).to_string();
    match tokio::time::timeout(
        Duration::from_secs(timeout_secs),
        await_condition(api.clone(), name, cond),
    )
    .await
    {
        Ok(Ok(Some(obj))) => obj,
        Ok(Ok(None)) => panic!("{kind} {name} was deleted while waiting for a condition"),
        Ok(Err(e)) => panic!("watching {kind} {name}: {e}"),
        Err(_) => {
            panic!("timed out after {timeout_secs} s waiting for a condition on {kind} {name}")
        }
    }
}

/// Waits until the object `name` no longer exists.
pub async fn deleted<K>(api: &Api<K>, name: &str, timeout_secs: u64)
where
    K: Resource + Clone + Debug + serde::de::DeserializeOwned + Send + 'static,
    K::DynamicType: Default,
{
    let kind = K::kind(&K::DynamicType::default()).to_string();
    until(
        &format!("{kind} {name} to be deleted"),
        timeout_secs,
        || async {
            match api.get_opt(name).await {
                Ok(None) => Some(()),
                _ => None,
            }
        },
    )
    .await;
}

/// Waits until namespace `namespace`'s `default` ServiceAccount has its token
/// secret: Kubernetes 1.20 refuses pods in a namespace until then.
pub async fn default_service_account(client: &kube::Client, namespace: &str) {
    let sas: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(client.clone(), namespace);
    until(
        &format!("ServiceAccount {namespace}/default with a token"),
        60,
        || async {
            sas.get_opt("default")
                .await
                .ok()
                .flatten()
                .filter(|sa| sa.secrets.as_ref().is_some_and(|s| !s.is_empty()))
        },
    )
    .await;
}
