//! Per-pod ACI options given by annotation: availability zone, user-assigned
//! managed identity, subnet override, cluster DNS and kube-proxy injection.
//! Each option has vk's own annotation and, where AKS virtual nodes on ACI
//! (microsoft/virtualnodesOnAzureContainerInstances `Docs/PodCustomizations.md`)
//! has one, accepts that name too, so manifests move over unchanged. Both
//! names with different values are refused (`InvalidAnnotation` naming both).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use vk_aci::models::{ContainerGroupIdentity, ResourceIdentityType, UserAssignedIdentity};
use vk_resources::OsType;

use super::{TranslateConfig, annotation, invalid_annotation};
use crate::Error;

/// Pod annotation pinning the group to one availability zone (`1`, `2` or `3`).
pub const ZONE_ANNOTATION: &str = "virtual-kubelet.io/availability-zone";
/// Pod annotation giving the ARM id of a user-assigned managed identity for
/// the group.
pub const IDENTITY_ANNOTATION: &str = "virtual-kubelet.io/managed-identity";
/// Pod annotation giving the ARM id of the subnet the group joins, instead of
/// the node's subnets.
pub const SUBNET_ANNOTATION: &str = "virtual-kubelet.io/subnet";
/// Pod annotation: `"false"` gives the group ACI's default DNS instead of the
/// cluster DNS (VNet groups with `dnsPolicy: ClusterFirst`).
pub const INJECT_DNS_ANNOTATION: &str = "virtual-kubelet.io/inject-cluster-dns";

/// The AKS virtual-nodes name of [`super::CCE_POLICY_ANNOTATION`].
pub const AKS_CCE_POLICY_ANNOTATION: &str = "microsoft.containerinstance.virtualnode.ccepolicy";
/// The AKS virtual-nodes name of [`SUBNET_ANNOTATION`].
pub const AKS_SUBNET_ANNOTATION: &str = "microsoft.containerinstance.virtualnode.subnets.primary";
/// The AKS virtual-nodes name of [`IDENTITY_ANNOTATION`].
pub const AKS_IDENTITY_ANNOTATION: &str = "microsoft.containerinstance.virtualnode.identity";
/// The AKS virtual-nodes name of [`INJECT_DNS_ANNOTATION`].
pub const AKS_INJECT_DNS_ANNOTATION: &str = "microsoft.containerinstance.virtualnode.injectdns";
/// The AKS virtual-nodes annotation for kube-proxy injection. vk injects no
/// kube-proxy, so `"false"` is what every vk group gets; `"true"` is refused.
pub const AKS_INJECT_KUBE_PROXY_ANNOTATION: &str =
    "microsoft.containerinstance.virtualnode.injectkubeproxy";
/// The AKS virtual-nodes name of [`ZONE_ANNOTATION`] (a `;`-separated list;
/// ACI takes one zone).
pub const AKS_ZONES_ANNOTATION: &str = "microsoft.containerinstance.virtualnode.zones";

/// The availability zones Azure regions offer.
const ZONES: [&str; 3] = ["1", "2", "3"];

/// The value of the first of `keys` the pod sets (non-empty after trimming),
/// with the key; a different value under another of the keys is refused.
pub(crate) fn one_of<'p>(
    pod: &'p Pod,
    keys: &[&str],
    pod_id: &str,
) -> Result<Option<(String, &'p str)>, Error> {
    let mut found: Option<(String, &str)> = None;
    for key in keys {
        let Some(v) = annotation(pod, key)
            .map(str::trim)
            .filter(|v| !v.is_empty())
        else {
            continue;
        };
        match &found {
            None => found = Some(((*key).to_owned(), v)),
            Some((first, value)) if *value != v => {
                return Err(invalid_annotation(
                    pod_id,
                    key,
                    format!("conflicts with annotation {first:?}: give one of them"),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(found)
}

/// The per-pod options that are not the SKU or the priority.
#[derive(Debug, Default)]
pub(crate) struct PodOptions {
    /// `zones` of the group.
    pub(crate) zone: Option<String>,
    /// `identity` of the group.
    pub(crate) identity: Option<ContainerGroupIdentity>,
    /// The subnet override (ARM id).
    pub(crate) subnet: Option<String>,
    /// Whether `ClusterFirst` pods get the cluster DNS (default true).
    pub(crate) inject_dns: bool,
}

/// Reads and checks the per-pod options.
pub(crate) fn pod_options(
    pod: &Pod,
    config: &TranslateConfig,
    pod_id: &str,
) -> Result<PodOptions, Error> {
    let zone = match one_of(
        pod,
        &[&config.zone_annotation, AKS_ZONES_ANNOTATION],
        pod_id,
    )? {
        None => None,
        Some((key, v)) => {
            let zones: Vec<&str> = v
                .split([';', ','])
                .map(str::trim)
                .filter(|z| !z.is_empty())
                .collect();
            if zones.len() != 1 {
                return Err(invalid_annotation(
                    pod_id,
                    &key,
                    format!(
                        "{} zones given ({v:?}): Azure Container Instances pins a container group to exactly one availability zone",
                        zones.len()
                    ),
                ));
            }
            if !ZONES.contains(&zones[0]) {
                return Err(invalid_annotation(
                    pod_id,
                    &key,
                    format!("availability zone {:?} is not one of 1, 2, 3", zones[0]),
                ));
            }
            Some(zones[0].to_owned())
        }
    };
    let identity = match one_of(
        pod,
        &[&config.identity_annotation, AKS_IDENTITY_ANNOTATION],
        pod_id,
    )? {
        None => None,
        Some((key, id)) => {
            if !is_arm_id(id, "Microsoft.ManagedIdentity", "userAssignedIdentities") {
                return Err(invalid_annotation(
                    pod_id,
                    &key,
                    format!(
                        "{id:?} is not the ARM id of a user-assigned identity \
                         (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>)"
                    ),
                ));
            }
            if config.os == OsType::Windows {
                return Err(invalid_annotation(
                    pod_id,
                    &key,
                    "Azure Container Instances supports managed identities only for Linux container groups",
                ));
            }
            Some(ContainerGroupIdentity {
                identity_type: Some(ResourceIdentityType::UserAssigned),
                user_assigned_identities: Some(BTreeMap::from([(
                    id.to_owned(),
                    UserAssignedIdentity::default(),
                )])),
                ..ContainerGroupIdentity::default()
            })
        }
    };
    let subnet = match one_of(
        pod,
        &[&config.subnet_annotation, AKS_SUBNET_ANNOTATION],
        pod_id,
    )? {
        None => None,
        Some((key, id)) => {
            if !is_subnet_id(id) {
                return Err(invalid_annotation(
                    pod_id,
                    &key,
                    format!(
                        "{id:?} is not the ARM id of a subnet \
                         (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<name>)"
                    ),
                ));
            }
            if !config.vnet() {
                return Err(invalid_annotation(
                    pod_id,
                    &key,
                    "this node's groups have public IP addresses (no subnets configured): a subnet override needs a node deployed into a virtual network",
                ));
            }
            Some(id.to_owned())
        }
    };
    let inject_dns = match one_of(
        pod,
        &[&config.inject_dns_annotation, AKS_INJECT_DNS_ANNOTATION],
        pod_id,
    )? {
        None => true,
        Some((key, v)) => bool_value(pod_id, &key, v)?,
    };
    if let Some(v) = annotation(pod, AKS_INJECT_KUBE_PROXY_ANNOTATION).map(str::trim)
        && bool_value(pod_id, AKS_INJECT_KUBE_PROXY_ANNOTATION, v)?
    {
        return Err(invalid_annotation(
            pod_id,
            AKS_INJECT_KUBE_PROXY_ANNOTATION,
            "vk runs no kube-proxy in container groups (every group behaves as with \"false\"): \
             remove the annotation or set it to \"false\"",
        ));
    }
    Ok(PodOptions {
        zone,
        identity,
        subnet,
        inject_dns,
    })
}

fn bool_value(pod_id: &str, key: &str, v: &str) -> Result<bool, Error> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid_annotation(
            pod_id,
            key,
            format!("{v:?} is not \"true\" or \"false\""),
        ))
    }
}

/// `/subscriptions/<s>/resourceGroups/<g>/providers/<namespace>/<kind>/<name>`
/// (case-insensitive, as ARM ids are).
fn is_arm_id(id: &str, namespace: &str, kind: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    parts.len() == 9
        && parts[0].is_empty()
        && parts[1].eq_ignore_ascii_case("subscriptions")
        && parts[3].eq_ignore_ascii_case("resourceGroups")
        && parts[5].eq_ignore_ascii_case("providers")
        && parts[6].eq_ignore_ascii_case(namespace)
        && parts[7].eq_ignore_ascii_case(kind)
        && [2, 4, 8].iter().all(|&i| segment(parts[i]))
}

/// `.../providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<name>`.
fn is_subnet_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    parts.len() == 11
        && is_arm_id(
            &parts[..9].join("/"),
            "Microsoft.Network",
            "virtualNetworks",
        )
        && parts[9].eq_ignore_ascii_case("subnets")
        && segment(parts[10])
}

fn segment(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c == '?' || c == '#')
}
