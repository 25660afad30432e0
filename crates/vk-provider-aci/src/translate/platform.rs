//! What Azure Container Instances refuses, checked before anything is sent,
//! so a pod ACI can never run is held with a reason that names the cause
//! instead of costing a refused PUT (sources in `docs/aci-emulator.md`'s
//! behaviour catalogue):
//!
//! - Windows groups hold one container, no init containers and **no volume
//!   of any kind**; the automatic service-account token is therefore left out
//!   ([`strip_service_account_token`]);
//! - no privileged containers, except in the Confidential SKU;
//! - Spot groups only in East US 2, West Europe and West US, at most 4 CPU and
//!   16 GB, never in a virtual network, never Confidential, never pinned to an
//!   availability zone (and, checked with the ports, never with a public IP).

use k8s_openapi::api::core::v1::{Pod, Volume};
use vk_pods::Adjustment;
use vk_resources::{Cpu, MemoryGb, OsType, PodSizing};

use super::{Ctx, TranslateConfig};
use crate::Error;

/// Where ACI's service-account token volume is mounted.
const SERVICE_ACCOUNT_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The regions that offer Spot container groups.
pub const SPOT_REGIONS: [&str; 3] = ["eastus2", "westeurope", "westus"];

/// The largest Spot container group: 4 CPU, 16 GB.
pub const SPOT_MAX: (Cpu, MemoryGb) = (Cpu(400), MemoryGb(160));

/// The volume the API server's ServiceAccount admission added for the pod's
/// token (a `kube-api-access-*` projection, or before 1.21 the
/// `<service account>-token-*` Secret), when every mount of it is at the
/// standard path.
fn is_service_account_token(pod: &Pod, v: &Volume) -> bool {
    let Some(spec) = &pod.spec else {
        return false;
    };
    let account = spec
        .service_account_name
        .as_deref()
        .or(spec.service_account.as_deref())
        .unwrap_or("default");
    let token_source = v.projected.as_ref().is_some_and(|p| {
        p.sources
            .iter()
            .flatten()
            .any(|s| s.service_account_token.is_some())
    }) || v.secret.as_ref().is_some_and(|s| {
        s.secret_name
            .as_deref()
            .is_some_and(|n| n.starts_with(&format!("{account}-token-")))
    });
    let mounts: Vec<&str> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .flat_map(|c| c.volume_mounts.iter().flatten())
        .filter(|m| m.name == v.name)
        .map(|m| m.mount_path.trim_end_matches('/'))
        .collect();
    token_source && !mounts.is_empty() && mounts.iter().all(|p| *p == SERVICE_ACCOUNT_MOUNT_PATH)
}

/// For a Windows group: the pod without its automatic service-account token
/// volume (ACI mounts no volume in Windows groups), with the adjustment that
/// says so; `None` when the pod has no such volume.
pub fn strip_service_account_token(pod: &Pod) -> Option<(Pod, Adjustment)> {
    let spec = pod.spec.as_ref()?;
    let volume = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| is_service_account_token(pod, v))?
        .name
        .clone();
    let mut out = pod.clone();
    let spec = out.spec.as_mut()?;
    if let Some(vs) = spec.volumes.as_mut() {
        vs.retain(|v| v.name != volume);
    }
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        if let Some(ms) = c.volume_mounts.as_mut() {
            ms.retain(|m| m.name != volume);
        }
    }
    let adjustment = Adjustment::normal(
        "ServiceAccountTokenNotMounted",
        format!(
            "the service-account token (volume {volume:?}) is not mounted at \
             {SERVICE_ACCOUNT_MOUNT_PATH}: Azure Container Instances mounts no volumes in \
             Windows container groups, so in-cluster API access needs credentials passed \
             another way (for example a token from a Secret in an environment variable)"
        ),
    );
    Some((out, adjustment))
}

fn volume_kind(v: &Volume) -> &'static str {
    if v.empty_dir.is_some() {
        "emptyDir"
    } else if v.secret.is_some() {
        "secret"
    } else if v.config_map.is_some() {
        "configMap"
    } else if v.projected.is_some() {
        "projected"
    } else if v.downward_api.is_some() {
        "downwardAPI"
    } else if v.azure_file.is_some() {
        "azureFile"
    } else if v.git_repo.is_some() {
        "gitRepo"
    } else {
        "other"
    }
}

/// Windows groups: one container, no init containers, no volumes.
pub(crate) fn windows(pod: &Pod, config: &TranslateConfig, pod_id: &str) -> Result<(), Error> {
    let Some(spec) = &pod.spec else {
        return Ok(());
    };
    if config.os != OsType::Windows {
        return Ok(());
    }
    let refuse = |what: String, limitation: &'static str, container: Option<&str>| {
        Err(Error::WindowsUnsupported {
            pod: pod_id.to_owned(),
            what,
            limitation,
            container: container.map(str::to_owned),
        })
    };
    if let Some(v) = spec.volumes.iter().flatten().next() {
        return refuse(
            format!("volume {:?} ({})", v.name, volume_kind(v)),
            "no volumes of any kind",
            None,
        );
    }
    if let Some(c) = spec.init_containers.iter().flatten().next() {
        return refuse(
            format!("init container {:?}", c.name),
            "no init containers",
            Some(&c.name),
        );
    }
    if spec.containers.len() > 1 {
        let names: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
        return refuse(
            format!("{} containers ({})", names.len(), names.join(", ")),
            "exactly one container",
            None,
        );
    }
    Ok(())
}

/// No privileged containers, except in the Confidential SKU, where
/// `privileged` is the one security-context flag ACI takes.
pub(crate) fn privileged(ctx: &Ctx<'_>, confidential: bool) -> Result<(), Error> {
    if confidential {
        return Ok(());
    }
    let spec = ctx.spec;
    let privileged = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| {
            c.security_context
                .as_ref()
                .and_then(|s| s.privileged)
                .unwrap_or(false)
        });
    match privileged {
        Some(c) => Err(Error::Privileged {
            pod: ctx.pod_id.clone(),
            container: c.name.clone(),
        }),
        None => Ok(()),
    }
}

/// Spot groups: three regions, at most 4 CPU / 16 GB, no virtual network,
/// not Confidential, no availability zone
/// (`container-instances-spot-containers-overview.md`, "Unsupported features").
pub(crate) fn spot(
    config: &TranslateConfig,
    sizing: &PodSizing,
    confidential: bool,
    zone: Option<&str>,
    pod_id: &str,
) -> Result<(), Error> {
    let refuse = |message: String| {
        Err(Error::SpotRule {
            pod: pod_id.to_owned(),
            message,
        })
    };
    let region = config.location.to_ascii_lowercase().replace(' ', "");
    if !SPOT_REGIONS.contains(&region.as_str()) {
        return refuse(format!(
            "Azure Container Instances offers Spot container groups only in {}, not in {region}",
            SPOT_REGIONS.join(", ")
        ));
    }
    if config.vnet() {
        return refuse(
            "Spot container groups cannot be deployed into a virtual network (this node's groups join one)"
                .to_owned(),
        );
    }
    if confidential {
        return refuse("Spot container groups do not support the Confidential SKU".to_owned());
    }
    if let Some(zone) = zone {
        return refuse(format!(
            "Spot container groups cannot be pinned to an availability zone (zone {zone:?} requested)"
        ));
    }
    let (cpu, memory) = SPOT_MAX;
    if sizing.totals.cpu > cpu || sizing.totals.memory > memory {
        return refuse(format!(
            "the pod needs {} CPU and {} GB; Spot container groups have at most {} CPU and {} GB",
            sizing.totals.cpu.as_f64(),
            sizing.totals.memory.as_f64(),
            cpu.as_f64(),
            memory.as_f64()
        ));
    }
    Ok(())
}
