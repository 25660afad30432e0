//! Pod → container group translation (pure: no I/O).
//!
//! [`pod_to_group`] turns a pod, the objects it references ([`ResolvedRefs`])
//! and the node's [`TranslateConfig`] into the ACI [`ContainerGroup`] to PUT,
//! plus warnings for what ACI cannot express exactly. The full rule table is in
//! `docs/aci-provider.md`.

mod command;
mod containers;
mod downward;
mod env;
mod expand;
mod network;
mod options;
mod platform;
mod podapi;
mod probes;
mod reference;
mod registry;
mod security;
pub(crate) mod volumes;

pub use network::MAX_PORTS;
pub use options::{
    AKS_CCE_POLICY_ANNOTATION, AKS_IDENTITY_ANNOTATION, AKS_INJECT_DNS_ANNOTATION,
    AKS_INJECT_KUBE_PROXY_ANNOTATION, AKS_SUBNET_ANNOTATION, AKS_ZONES_ANNOTATION,
    IDENTITY_ANNOTATION, INJECT_DNS_ANNOTATION, SUBNET_ANNOTATION, ZONE_ANNOTATION,
};
pub use platform::{SPOT_MAX, SPOT_REGIONS, strip_service_account_token};
pub use volumes::MAX_VOLUMES;

use base64::Engine as _;
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use vk_aci::models::{
    ConfidentialComputeProperties, ContainerGroup, ContainerGroupProperties, ContainerGroupSku,
    ContainerGroupSubnetId, OperatingSystemType, Priority, RestartPolicy,
};
use vk_pods::Adjustment;
use vk_resources::{GroupSku, GroupTarget, OsType, PodSizing, Sizer, SizingWarning};

use crate::Error;
use crate::refs::ResolvedRefs;
use crate::util::pod_name;

/// Pod annotation giving a DNS name label for the group's public IP.
pub const DNS_NAME_LABEL_ANNOTATION: &str = "virtualkubelet.io/dnsnamelabel";
/// Pod annotation giving the image's entrypoint as a JSON array (for every
/// container) or a JSON object of container name → array, so containers with
/// `args` but no `command` can be expressed.
pub const ENTRYPOINT_ANNOTATION: &str = "virtual-kubelet.io/entrypoint";
/// Pod annotation choosing the group SKU (`Standard` or `Confidential`).
pub const SKU_ANNOTATION: &str = "virtual-kubelet.io/container-sku";
/// Pod annotation giving a confidential computing enforcement (CCE) policy
/// (base64, as `az confcom acipolicygen` writes it); implies the
/// `Confidential` SKU. [`AKS_CCE_POLICY_ANNOTATION`] is accepted too.
pub const CCE_POLICY_ANNOTATION: &str = "virtual-kubelet.io/confidential-compute-cce-policy";
/// Pod annotation choosing the group priority (`Regular` or `Spot`).
pub const PRIORITY_ANNOTATION: &str = "virtual-kubelet.io/priority";

/// Cluster DNS, used for `dnsPolicy: ClusterFirst` pods in VNet mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDns {
    /// The cluster DNS service IP (e.g. `10.0.0.10`).
    pub nameserver: String,
    /// The cluster domain (e.g. `cluster.local`).
    pub cluster_domain: String,
}

/// What translation needs to know about the node and the deployment.
#[derive(Debug, Clone)]
pub struct TranslateConfig {
    /// The virtual node's name (`spec.nodeName`, tags).
    pub node_name: String,
    /// The node's IP, for `status.hostIP` in the downward API.
    pub node_ip: Option<String>,
    /// The cluster id recorded in tags.
    pub cluster_id: String,
    /// The Azure region of the groups.
    pub location: String,
    /// The node's OS, and so the groups' `osType`.
    pub os: OsType,
    /// Subnet ARM ids: set → VNet mode (private IP, DNS config).
    pub subnet_ids: Vec<String>,
    /// Cluster DNS for `ClusterFirst` pods (VNet mode only).
    pub cluster_dns: Option<ClusterDns>,
    /// Resource sizing (defaults, rounding, per-group maxima).
    pub sizer: Sizer,
    /// See [`DNS_NAME_LABEL_ANNOTATION`].
    pub dns_name_label_annotation: String,
    /// See [`ENTRYPOINT_ANNOTATION`].
    pub entrypoint_annotation: String,
    /// See [`SKU_ANNOTATION`].
    pub sku_annotation: String,
    /// See [`CCE_POLICY_ANNOTATION`].
    pub cce_policy_annotation: String,
    /// See [`PRIORITY_ANNOTATION`].
    pub priority_annotation: String,
    /// See [`ZONE_ANNOTATION`].
    pub zone_annotation: String,
    /// See [`IDENTITY_ANNOTATION`].
    pub identity_annotation: String,
    /// See [`SUBNET_ANNOTATION`].
    pub subnet_annotation: String,
    /// See [`INJECT_DNS_ANNOTATION`].
    pub inject_dns_annotation: String,
}

impl TranslateConfig {
    /// A Linux, public-IP configuration with default sizing and annotation keys.
    pub fn new(
        node_name: impl Into<String>,
        cluster_id: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        Self {
            node_name: node_name.into(),
            node_ip: None,
            cluster_id: cluster_id.into(),
            location: location.into(),
            os: OsType::Linux,
            subnet_ids: Vec::new(),
            cluster_dns: None,
            sizer: Sizer::default(),
            dns_name_label_annotation: DNS_NAME_LABEL_ANNOTATION.into(),
            entrypoint_annotation: ENTRYPOINT_ANNOTATION.into(),
            sku_annotation: SKU_ANNOTATION.into(),
            cce_policy_annotation: CCE_POLICY_ANNOTATION.into(),
            priority_annotation: PRIORITY_ANNOTATION.into(),
            zone_annotation: ZONE_ANNOTATION.into(),
            identity_annotation: IDENTITY_ANNOTATION.into(),
            subnet_annotation: SUBNET_ANNOTATION.into(),
            inject_dns_annotation: INJECT_DNS_ANNOTATION.into(),
        }
    }

    /// Whether groups are deployed into a virtual network.
    pub fn vnet(&self) -> bool {
        !self.subnet_ids.is_empty()
    }
}

/// Shared state of one translation.
pub(crate) struct Ctx<'a> {
    pub(crate) pod: &'a Pod,
    pub(crate) spec: &'a PodSpec,
    pub(crate) refs: &'a ResolvedRefs,
    pub(crate) config: &'a TranslateConfig,
    pub(crate) sizing: PodSizing,
    pub(crate) pod_id: String,
    pub(crate) adjustments: Vec<Adjustment>,
    /// The group is Confidential (the SKU that takes `privileged`).
    pub(crate) sku_confidential: bool,
    /// `ClusterFirst` pods get the cluster DNS ([`INJECT_DNS_ANNOTATION`]).
    pub(crate) inject_dns: bool,
}

impl Ctx<'_> {
    /// Records that a field is ignored (ACI cannot express it).
    pub(crate) fn warn(&mut self, message: impl Into<String>) {
        self.adjust("FieldIgnored", message);
    }

    /// Records an adjustment with its reason.
    pub(crate) fn adjust(&mut self, reason: &str, message: impl Into<String>) {
        self.adjustments.push(Adjustment::new(reason, message));
    }

    pub(crate) fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or("default")
    }

    pub(crate) fn annotation(&self, key: &str) -> Option<&str> {
        annotation(self.pod, key)
    }
}

/// A pod annotation.
fn annotation<'p>(pod: &'p Pod, key: &str) -> Option<&'p str> {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

fn invalid_annotation(pod_id: &str, key: &str, message: impl Into<String>) -> Error {
    Error::InvalidAnnotation {
        pod: pod_id.to_owned(),
        annotation: key.to_owned(),
        message: message.into(),
    }
}

/// Translates `pod` to the container group to create, with warnings about
/// what ACI cannot express exactly. Secret material only ever lands in
/// `secureValue`, secret volumes, registry passwords and storage keys (all
/// [`vk_aci::Secret`]); never in plain values, tags or `Debug` output.
///
/// ```
/// use k8s_openapi::api::core::v1::Pod;
/// use vk_provider_aci::{ResolvedRefs, TranslateConfig, pod_to_group};
///
/// let pod: Pod = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
///     "spec": {"containers": [{"name": "nginx", "image": "nginx",
///         "ports": [{"containerPort": 80}],
///         "resources": {"requests": {"cpu": "2", "memory": "1G"}}}]}
/// }))?;
/// let config = TranslateConfig::new("vk-node", "cluster-1", "westeurope");
/// let (group, warnings) = pod_to_group(&pod, &ResolvedRefs::default(), &config)?;
/// let c = &group.properties.containers[0];
/// assert_eq!(c.properties.resources.requests.cpu, 2.0);
/// assert_eq!(group.properties.ip_address.as_ref().map(|ip| ip.ports.len()), Some(1));
/// assert!(warnings.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pod_to_group(
    pod: &Pod,
    refs: &ResolvedRefs,
    config: &TranslateConfig,
) -> Result<(ContainerGroup, Vec<Adjustment>), Error> {
    let pod_id = pod_name(pod);
    let spec = pod.spec.as_ref().ok_or_else(|| Error::NoSpec {
        pod: pod_id.clone(),
    })?;
    platform::windows(pod, config, &pod_id)?;
    let options = options::pod_options(pod, config, &pod_id)?;
    // A subnet override: the group joins that subnet instead of the node's.
    let overridden;
    let config = match &options.subnet {
        Some(subnet) => {
            overridden = TranslateConfig {
                subnet_ids: vec![subnet.clone()],
                ..config.clone()
            };
            &overridden
        }
        None => config,
    };
    let (sku, cce_policy) = group_sku(pod, config, &pod_id)?;
    let priority = priority(pod, config, &pod_id)?;
    let target = GroupTarget {
        os: config.os,
        sku: match sku {
            ContainerGroupSku::Confidential => GroupSku::Confidential,
            ContainerGroupSku::Dedicated => GroupSku::Dedicated,
            _ => GroupSku::Standard,
        },
    };
    let sizing = config
        .sizer
        .size_pod(pod, target)
        .map_err(|source| Error::Sizing {
            pod: pod_id.clone(),
            source,
        })?;
    let adjustments = sizing
        .warnings
        .iter()
        .map(|w| {
            let reason = match w {
                SizingWarning::LimitClamped { .. } => "LimitLowered",
                SizingWarning::InitContainerRaisedGroup { .. } => "ResourcesRaised",
                _ => "FieldIgnored",
            };
            Adjustment::new(reason, w.to_string())
        })
        .collect();
    let mut ctx = Ctx {
        pod,
        spec,
        refs,
        config,
        sizing,
        pod_id: pod_id.clone(),
        adjustments,
        sku_confidential: sku == ContainerGroupSku::Confidential,
        inject_dns: options.inject_dns,
    };

    platform::privileged(&ctx, sku == ContainerGroupSku::Confidential)?;
    if priority == Some(Priority::Spot) {
        platform::spot(
            config,
            &ctx.sizing,
            sku == ContainerGroupSku::Confidential,
            options.zone.as_deref(),
            &pod_id,
        )?;
    }
    podapi::pod_level(&mut ctx)?;
    let volumes = volumes::volumes(&mut ctx)?;
    let (containers, init_containers) = containers::containers(&mut ctx, &volumes.names)?;
    let ip_address = network::ip_address(&mut ctx, &containers)?;
    if priority == Some(Priority::Spot)
        && ip_address
            .as_ref()
            .is_some_and(|ip| ip.address_type == Some(vk_aci::models::IpAddressType::Public))
    {
        return Err(Error::SpotWithPublicIp { pod: pod_id });
    }
    let dns_config = network::dns_config(&mut ctx);
    let images: Vec<&str> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .filter_map(|c| c.image.as_deref())
        .collect();
    let credentials = registry::registry_credentials(&mut ctx, &images);

    let restart_policy = match spec.restart_policy.as_deref() {
        Some("Never") => RestartPolicy::Never,
        Some("OnFailure") => RestartPolicy::OnFailure,
        _ => RestartPolicy::Always,
    };
    let group = ContainerGroup {
        location: Some(config.location.clone()),
        zones: options.zone.map(|z| vec![z]),
        identity: options.identity,
        tags: Some(crate::tags::pod_tags(
            pod,
            &config.node_name,
            &config.cluster_id,
        )),
        properties: ContainerGroupProperties {
            containers,
            init_containers: (!init_containers.is_empty()).then_some(init_containers),
            image_registry_credentials: (!credentials.is_empty()).then_some(credentials),
            restart_policy: Some(restart_policy),
            ip_address,
            os_type: Some(match config.os {
                OsType::Linux => OperatingSystemType::Linux,
                OsType::Windows => OperatingSystemType::Windows,
            }),
            volumes: (!volumes.volumes.is_empty()).then_some(volumes.volumes),
            subnet_ids: config.vnet().then(|| {
                config
                    .subnet_ids
                    .iter()
                    .map(|id| ContainerGroupSubnetId {
                        id: id.clone(),
                        name: None,
                    })
                    .collect()
            }),
            dns_config,
            sku: Some(sku),
            confidential_compute_properties: cce_policy.map(|p| ConfidentialComputeProperties {
                cce_policy: Some(p),
            }),
            priority,
            ..ContainerGroupProperties::default()
        },
        ..ContainerGroup::default()
    };
    Ok((group, ctx.adjustments))
}

/// The SKU (and CCE policy) from the annotations.
fn group_sku(
    pod: &Pod,
    config: &TranslateConfig,
    pod_id: &str,
) -> Result<(ContainerGroupSku, Option<String>), Error> {
    let key = &config.sku_annotation;
    let mut sku = match annotation(pod, key).map(str::trim) {
        None | Some("") => ContainerGroupSku::Standard,
        Some(v) if v.eq_ignore_ascii_case("standard") => ContainerGroupSku::Standard,
        Some(v) if v.eq_ignore_ascii_case("confidential") => ContainerGroupSku::Confidential,
        Some(v) => {
            return Err(invalid_annotation(
                pod_id,
                key,
                format!("unknown SKU {v:?} (expected Standard or Confidential)"),
            ));
        }
    };
    let policy = options::one_of(
        pod,
        &[&config.cce_policy_annotation, AKS_CCE_POLICY_ANNOTATION],
        pod_id,
    )?;
    if let Some((key, p)) = &policy
        && base64::engine::general_purpose::STANDARD.decode(p).is_err()
    {
        return Err(invalid_annotation(
            pod_id,
            key,
            "the CCE policy is not base64 (give the policy as `az confcom acipolicygen` writes it)",
        ));
    }
    if policy.is_some()
        && sku == ContainerGroupSku::Standard
        && annotation(pod, key).is_some_and(|v| v.trim().eq_ignore_ascii_case("standard"))
    {
        return Err(invalid_annotation(
            pod_id,
            key,
            "a CCE policy is given, and only the Confidential SKU takes one",
        ));
    }
    let policy = policy.map(|(_, p)| p.to_owned());
    if policy.is_some() {
        sku = ContainerGroupSku::Confidential;
    }
    Ok((sku, policy))
}

/// The priority from the annotation.
fn priority(pod: &Pod, config: &TranslateConfig, pod_id: &str) -> Result<Option<Priority>, Error> {
    let key = &config.priority_annotation;
    match annotation(pod, key).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("regular") => Ok(Some(Priority::Regular)),
        Some(v) if v.eq_ignore_ascii_case("spot") => Ok(Some(Priority::Spot)),
        Some(v) => Err(invalid_annotation(
            pod_id,
            key,
            format!("unknown priority {v:?} (expected Regular or Spot)"),
        )),
    }
}

#[cfg(test)]
mod tests;
