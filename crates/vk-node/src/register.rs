//! Create-or-adopt registration and status writes.

use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

use crate::build::{node_labels, node_object, status_patch};
use crate::status::Conditions;
use crate::{Error, NodeConfig};

/// Creates the Node with vk's labels, initial taints and status, or adopts an
/// existing one by applying vk's labels (server-side apply: labels owned by
/// others stay). Returns the Node's UID.
pub(crate) async fn register(
    nodes: &Api<Node>,
    cfg: &NodeConfig,
    kubelet_version: &str,
    conditions: &Conditions,
) -> Result<String, Error> {
    let name = &cfg.name;
    let existing = nodes.get_opt(name).await.map_err(|source| Error::GetNode {
        node: name.clone(),
        source,
    })?;
    if existing.is_none() {
        let node = node_object(cfg, kubelet_version, conditions)?;
        let pp = PostParams {
            field_manager: Some(cfg.field_manager.clone()),
            ..PostParams::default()
        };
        match nodes.create(&pp, &node).await {
            Ok(_) => tracing::info!(node = %name, "registered node"),
            Err(kube::Error::Api(s)) if s.is_already_exists() => {}
            Err(source) => {
                return Err(Error::CreateNode {
                    node: name.clone(),
                    source,
                });
            }
        }
    } else {
        tracing::info!(node = %name, "adopting existing node");
    }
    let labels = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": { "name": name, "labels": node_labels(cfg) },
    });
    let applied = nodes
        .patch(
            name,
            &PatchParams::apply(&cfg.field_manager).force(),
            &Patch::Apply(&labels),
        )
        .await
        .map_err(|source| Error::ApplyLabels {
            node: name.clone(),
            source,
        })?;
    Ok(applied.metadata.uid.unwrap_or_default())
}

/// The field manager for status writes (distinct from the metadata manager:
/// API servers before 1.22 do not separate subresources in managed fields).
pub(crate) fn status_manager(cfg: &NodeConfig) -> String {
    format!("{}-status", cfg.field_manager)
}

/// Writes the Node's status with server-side apply.
pub(crate) async fn write_status(
    nodes: &Api<Node>,
    cfg: &NodeConfig,
    kubelet_version: &str,
    conditions: &Conditions,
) -> Result<(), Error> {
    let patch = status_patch(cfg, kubelet_version, conditions);
    nodes
        .patch_status(
            &cfg.name,
            &PatchParams::apply(&status_manager(cfg)).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map(|_| ())
        .map_err(|source| Error::WriteStatus {
            node: cfg.name.clone(),
            source,
        })
}
