//! Draining virtual nodes on shutdown (vk's `drain_on_shutdown`).

use std::time::Duration;

/// Cordons the nodes and evicts their pods (the eviction
/// API honours PodDisruptionBudgets), then waits up to `wait` for the pods to be
/// gone — the still-running reconcilers delete their container groups first.
pub async fn drain(kube: kube::Client, nodes: Vec<String>, wait: Duration) {
    use k8s_openapi::api::core::v1::{Node, Pod};
    use kube::api::{EvictParams, ListParams, Patch, PatchParams};
    let node_api: kube::Api<Node> = kube::Api::all(kube.clone());
    let all_pods: kube::Api<Pod> = kube::Api::all(kube.clone());
    let on = |node: &str| ListParams::default().fields(&format!("spec.nodeName={node}"));
    for node in &nodes {
        tracing::info!(node = %node, "draining: cordon and evict pods");
        let cordon = serde_json::json!({"spec": {"unschedulable": true}});
        if let Err(e) = node_api
            .patch(node, &PatchParams::default(), &Patch::Merge(&cordon))
            .await
        {
            tracing::warn!(node = %node, error = %e, "drain: cannot cordon the node");
        }
        let pods = match all_pods.list(&on(node)).await {
            Ok(list) => list.items,
            Err(e) => {
                tracing::warn!(node = %node, error = %e, "drain: cannot list the node's pods");
                continue;
            }
        };
        for pod in pods {
            let (Some(ns), Some(name)) = (
                pod.metadata.namespace.as_deref(),
                pod.metadata.name.as_deref(),
            ) else {
                continue;
            };
            let api: kube::Api<Pod> = kube::Api::namespaced(kube.clone(), ns);
            if let Err(e) = api.evict(name, &EvictParams::default()).await {
                tracing::warn!(pod = %format!("{ns}/{name}"), error = %e, "drain: eviction refused");
            }
        }
    }
    let deadline = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < deadline {
        let mut left = 0;
        for node in &nodes {
            left += all_pods
                .list(&on(node))
                .await
                .map(|l| l.items.len())
                .unwrap_or(0);
        }
        if left == 0 {
            tracing::info!("drain complete");
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tracing::warn!("drain: pods still present after {wait:?}; stopping anyway");
}
