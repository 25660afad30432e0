//! Builds the clients from the configuration and composes the library crates.

use std::sync::Arc;

use anyhow::Context as _;
use vk_aci::{AzureCloud, ContainerInstances};

use crate::config::{Config, NodeSpec};

/// The one ACI client all nodes share.
pub(crate) fn aci_client(config: &Config) -> anyhow::Result<ContainerInstances> {
    let aci = &config.aci;
    let http = vk_aci::http_client().context("building the HTTP client for ARM")?;
    let resolved = aci
        .credentials
        .build(&http, &aci.authority_host)
        .map_err(|err| match err {
            // The library names the setting as embedded under `credentials`.
            vk_aci::Error::Credential { context, source } => {
                anyhow::Error::from_boxed(source).context(format!("aci.{context}"))
            }
            other => anyhow::Error::from(other).context("aci.credentials"),
        })?;
    // An azure.json fills in what `aci` leaves unset.
    let subscription = (aci.subscription_id.clone())
        .or(resolved.subscription_id)
        .context("aci.subscription_id is required")?;
    let resource_group = (aci.resource_group.clone())
        .or(resolved.resource_group)
        .context("aci.resource_group is required")?;
    let credential = resolved.credential;
    ContainerInstances::builder(subscription, resource_group, credential)
        .cloud(AzureCloud::custom(&aci.authority_host, &aci.arm_endpoint))
        .http_client(http)
        .rate_limits(aci.rate_limit.limits())
        .build()
        .context("building the ACI client")
}

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
