//! Composes the library crates for one node from the configuration: its ACI provider, its
//! reconciler settings and its kubelet API server.

use std::sync::Arc;

use anyhow::Context as _;
use vk_aci::ContainerInstances;

use crate::config::{Config, NodeSpec};

/// The ACI provider of one node: translation settings from the configuration.
pub(crate) fn aci_provider(
    config: &Config,
    node: &NodeSpec,
    aci: &ContainerInstances,
    kube: &kube::Client,
) -> vk_provider_aci::AciProvider {
    let mut tc = (config.aci).translate_config(node.name.clone(), config.cluster_id.clone());
    tc.node_ip = Some(node.internal_ip().to_owned());
    tc.os = node.os;
    vk_provider_aci::AciProvider::new(aci.clone(), kube.clone(), tc)
}

/// The pod reconciler settings of one node.
pub(crate) fn reconciler_config(config: &Config, node: &NodeSpec) -> vk_pods::ReconcilerConfig {
    config
        .reconciler
        .clone()
        .for_node(node.name.clone(), node.os, node.internal_ip())
}

/// The kubelet API server of one node (logs, exec, stats), authenticating and
/// authorizing like a kubelet in webhook mode, listening on the node's address and
/// `kubelet_port` until `stop`.
#[expect(
    clippy::too_many_arguments,
    reason = "the parts of one node the server reads"
)]
pub(crate) fn kubelet_server(
    config: &Config,
    node: &NodeSpec,
    aci: &ContainerInstances,
    kube: &kube::Client,
    pods: kube::runtime::reflector::Store<k8s_openapi::api::core::v1::Pod>,
    names: Arc<vk_provider_aci::GroupNames>,
    usage: Option<Arc<vk_kubelet_aci::UsageCache>>,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<impl Future<Output = anyhow::Result<()>> + Send + 'static> {
    let mut backend =
        vk_kubelet_aci::AciBackend::new(aci.clone(), move || pods.state(), names.namer());
    if let Some(cache) = usage {
        backend = backend.with_usage(cache);
    }
    let sans = vec![
        node.internal_ip().to_owned(),
        node.name.clone(),
        "localhost".into(),
    ];
    let auth = (config.kubelet.auth_config(Some(kube.clone()))).context("kubelet.client_ca")?;
    let kubelet = vk_kubelet_api::KubeletServer::builder(backend, node.name.clone())
        .tls(config.kubelet.tls_source(sans))
        .auth(auth);
    let addr = (node.internal_ip().to_owned(), node.kubelet_port);
    Ok(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}:{} (nodes[].kubelet_port)",
                    addr.0, addr.1
                )
            })?;
        tracing::info!(addr = %format!("{}:{}", addr.0, addr.1), "kubelet API serving");
        kubelet
            .serve(listener, stop.cancelled_owned())
            .await
            .map_err(anyhow::Error::from)
    })
}
