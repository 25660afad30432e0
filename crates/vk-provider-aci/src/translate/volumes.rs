//! Pod volumes → ACI volumes, and volume mounts.
//!
//! | Kubernetes | ACI |
//! |---|---|
//! | emptyDir | emptyDir |
//! | secret, configMap, projected, downwardAPI | secret volume (files base64-encoded), honouring `items` |
//! | azureFile, CSI `file.csi.azure.com` | azureFile, account name and key from the Secret |
//! | gitRepo | gitRepo |
//! | anything else | [`Error::UnsupportedVolume`] |
//!
//! ACI cannot set file modes: `defaultMode` / `mode` give a warning. A missing
//! optional Secret or ConfigMap (or one without data) becomes an empty
//! directory, as the kubelet mounts an empty volume.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    CSIVolumeSource, Container, DownwardAPIVolumeFile, KeyToPath, Volume as K8sVolume,
};
use vk_aci::Secret;
use vk_aci::models::{AzureFileVolume, GitRepoVolume, Volume, VolumeMount};
use vk_resources::OsType;

use super::Ctx;
use super::downward::{FieldValue, field_value, resource_value};
use crate::Error;
use crate::naming::volume_name;
use crate::refs::{ConfigMapData, SecretData, TokenKey};

/// ACI's maximum number of volumes per group.
pub const MAX_VOLUMES: usize = 20;

/// The CSI driver of Azure Files.
const AZURE_FILE_CSI_DRIVER: &str = "file.csi.azure.com";

/// The translated volumes and the pod volume name → ACI volume name map.
pub(crate) struct Volumes {
    pub(crate) volumes: Vec<Volume>,
    pub(crate) names: BTreeMap<String, String>,
}

/// The Secret holding the storage account of an Azure Files CSI volume.
pub(crate) fn csi_secret_name(csi: &CSIVolumeSource) -> Option<String> {
    if csi.driver != AZURE_FILE_CSI_DRIVER {
        return None;
    }
    csi.volume_attributes
        .as_ref()
        .and_then(|a| a.get("secretName"))
        .cloned()
        .or_else(|| csi.node_publish_secret_ref.as_ref().map(|r| r.name.clone()))
}

/// Files of a secret volume being assembled (path → bytes).
type Files = BTreeMap<String, Vec<u8>>;

/// Translates every pod volume.
pub(crate) fn volumes(ctx: &mut Ctx<'_>) -> Result<Volumes, Error> {
    let spec = ctx.spec;
    let pod_volumes = spec.volumes.as_deref().unwrap_or_default();
    if pod_volumes.len() > MAX_VOLUMES {
        return Err(Error::TooManyVolumes {
            pod: ctx.pod_id.clone(),
            count: pod_volumes.len(),
            maximum: MAX_VOLUMES,
        });
    }
    let mut out = Volumes {
        volumes: Vec::with_capacity(pod_volumes.len()),
        names: BTreeMap::new(),
    };
    for v in pod_volumes {
        let name = volume_name(&v.name);
        let volume = volume(ctx, v, &name)?;
        out.names.insert(v.name.clone(), name);
        out.volumes.push(volume);
    }
    Ok(out)
}

fn volume(ctx: &mut Ctx<'_>, v: &K8sVolume, name: &str) -> Result<Volume, Error> {
    let unsupported = |ctx: &Ctx<'_>, kind: String| Error::UnsupportedVolume {
        pod: ctx.pod_id.clone(),
        volume: v.name.clone(),
        kind,
    };
    let windows = ctx.config.os == OsType::Windows;
    if let Some(e) = &v.empty_dir {
        if e.medium.as_deref() == Some("Memory") {
            ctx.warn(format!(
                "volume {:?}: emptyDir medium Memory is ignored (ACI emptyDir is disk-backed)",
                v.name
            ));
        }
        return Ok(Volume::empty_dir(name));
    }
    if let Some(s) = &v.secret {
        let Some(secret_name) = s.secret_name.as_deref().filter(|n| !n.is_empty()) else {
            return Err(invalid_volume(ctx, v, "secret volume without secretName"));
        };
        warn_modes(ctx, v, s.default_mode, s.items.as_deref());
        let mut files = Files::new();
        add_secret(ctx, &mut files, secret_name, s.items.as_deref(), s.optional)?;
        return Ok(files_volume(name, files));
    }
    if let Some(cm) = &v.config_map {
        warn_modes(ctx, v, cm.default_mode, cm.items.as_deref());
        let mut files = Files::new();
        add_config_map(ctx, &mut files, &cm.name, cm.items.as_deref(), cm.optional)?;
        return Ok(files_volume(name, files));
    }
    if let Some(d) = &v.downward_api {
        let modes = d.default_mode.is_some() || d.items.iter().flatten().any(|i| i.mode.is_some());
        if modes {
            warn_mode(ctx, v);
        }
        let mut files = Files::new();
        add_downward(ctx, v, &mut files, d.items.as_deref().unwrap_or_default())?;
        return Ok(files_volume(name, files));
    }
    if let Some(p) = &v.projected {
        let mut modes = p.default_mode.is_some();
        let mut files = Files::new();
        for src in p.sources.iter().flatten() {
            if let Some(s) = &src.secret {
                modes |= s.items.iter().flatten().any(|i| i.mode.is_some());
                add_secret(ctx, &mut files, &s.name, s.items.as_deref(), s.optional)?;
            }
            if let Some(cm) = &src.config_map {
                modes |= cm.items.iter().flatten().any(|i| i.mode.is_some());
                add_config_map(ctx, &mut files, &cm.name, cm.items.as_deref(), cm.optional)?;
            }
            if let Some(d) = &src.downward_api {
                modes |= d.items.iter().flatten().any(|i| i.mode.is_some());
                add_downward(ctx, v, &mut files, d.items.as_deref().unwrap_or_default())?;
            }
            if let Some(t) = &src.service_account_token {
                let key = TokenKey {
                    audience: t.audience.clone().filter(|a| !a.is_empty()),
                    expiration_seconds: t
                        .expiration_seconds
                        .unwrap_or(crate::refs::DEFAULT_TOKEN_EXPIRATION_SECONDS),
                };
                let Some(token) = ctx.refs.tokens.get(&key) else {
                    return Err(invalid_volume(
                        ctx,
                        v,
                        "the service-account token was not resolved",
                    ));
                };
                files.insert(t.path.clone(), token.expose().as_bytes().to_vec());
            }
            if src.cluster_trust_bundle.is_some() {
                return Err(unsupported(ctx, "projected clusterTrustBundle".into()));
            }
        }
        if modes {
            warn_mode(ctx, v);
        }
        return Ok(files_volume(name, files));
    }
    if let Some(af) = &v.azure_file {
        if windows {
            return Err(unsupported(ctx, "azureFile (on Windows)".into()));
        }
        return azure_file(ctx, v, name, &af.secret_name, &af.share_name, af.read_only);
    }
    if let Some(csi) = &v.csi {
        if csi.driver != AZURE_FILE_CSI_DRIVER {
            return Err(unsupported(ctx, format!("csi (driver {})", csi.driver)));
        }
        if windows {
            return Err(unsupported(ctx, "azureFile (on Windows)".into()));
        }
        let attrs = csi.volume_attributes.clone().unwrap_or_default();
        let Some(share) = attrs.get("shareName") else {
            return Err(invalid_volume(
                ctx,
                v,
                "CSI volume without volumeAttributes.shareName",
            ));
        };
        let Some(secret) = csi_secret_name(csi) else {
            return Err(invalid_volume(
                ctx,
                v,
                "CSI volume without volumeAttributes.secretName",
            ));
        };
        return azure_file(ctx, v, name, &secret, share, csi.read_only);
    }
    if let Some(g) = &v.git_repo {
        if windows {
            return Err(unsupported(ctx, "gitRepo (on Windows)".into()));
        }
        if g.directory.as_deref().is_some_and(|d| d.contains("..")) {
            return Err(invalid_volume(
                ctx,
                v,
                "gitRepo directory must not contain '..'",
            ));
        }
        return Ok(Volume {
            name: name.to_owned(),
            git_repo: Some(GitRepoVolume {
                directory: g.directory.clone().filter(|d| !d.is_empty()),
                repository: g.repository.clone(),
                revision: g.revision.clone().filter(|r| !r.is_empty()),
            }),
            ..Volume::default()
        });
    }
    Err(unsupported(ctx, volume_kind(v)))
}

/// The name of the volume's type (its one set field), e.g. `hostPath`.
fn volume_kind(v: &K8sVolume) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::Object(map)) => map
            .keys()
            .find(|k| *k != "name")
            .cloned()
            .unwrap_or_else(|| "unknown".into()),
        _ => "unknown".into(),
    }
}

fn invalid_volume(ctx: &Ctx<'_>, v: &K8sVolume, message: &str) -> Error {
    Error::InvalidVolume {
        pod: ctx.pod_id.clone(),
        volume: v.name.clone(),
        message: message.to_owned(),
    }
}

fn warn_mode(ctx: &mut Ctx<'_>, v: &K8sVolume) {
    ctx.warn(format!(
        "volume {:?}: file modes (defaultMode/mode) are ignored: ACI secret volumes cannot set them",
        v.name
    ));
}

fn warn_modes(
    ctx: &mut Ctx<'_>,
    v: &K8sVolume,
    default_mode: Option<i32>,
    items: Option<&[KeyToPath]>,
) {
    if default_mode.is_some() || items.into_iter().flatten().any(|i| i.mode.is_some()) {
        warn_mode(ctx, v);
    }
}

/// A secret volume of `files`, or an empty directory when there are none.
fn files_volume(name: &str, files: Files) -> Volume {
    if files.is_empty() {
        Volume::empty_dir(name)
    } else {
        Volume::secret_from_bytes(name, files)
    }
}

/// The contents of a Secret or a ConfigMap, for volume files.
#[derive(Clone, Copy)]
enum Data<'r> {
    Secret(&'r SecretData),
    ConfigMap(&'r ConfigMapData),
}

impl<'r> Data<'r> {
    fn kind(self) -> &'static str {
        match self {
            Self::Secret(_) => "Secret",
            Self::ConfigMap(_) => "ConfigMap",
        }
    }

    fn get(self, key: &str) -> Option<&'r [u8]> {
        match self {
            Self::Secret(s) => s.get(key),
            Self::ConfigMap(c) => c.get(key),
        }
    }

    fn keys(self) -> Vec<String> {
        match self {
            Self::Secret(s) => s.keys().map(str::to_owned).collect(),
            Self::ConfigMap(c) => c.keys().into_iter().map(str::to_owned).collect(),
        }
    }
}

/// Adds the keys of Secret `name` (all, or `items`) to `files`.
fn add_secret(
    ctx: &Ctx<'_>,
    files: &mut Files,
    name: &str,
    items: Option<&[KeyToPath]>,
    optional: Option<bool>,
) -> Result<(), Error> {
    let optional = optional == Some(true);
    match ctx.refs.secrets.get(name) {
        Some(secret) => add_items(ctx, files, name, items, optional, Data::Secret(secret)),
        None if optional => Ok(()),
        None => Err(Error::MissingSecret {
            pod: ctx.pod_id.clone(),
            namespace: ctx.namespace().to_owned(),
            name: name.to_owned(),
        }),
    }
}

/// Adds the keys of ConfigMap `name` (all, or `items`) to `files`.
fn add_config_map(
    ctx: &Ctx<'_>,
    files: &mut Files,
    name: &str,
    items: Option<&[KeyToPath]>,
    optional: Option<bool>,
) -> Result<(), Error> {
    let optional = optional == Some(true);
    match ctx.refs.config_maps.get(name) {
        Some(cm) => add_items(ctx, files, name, items, optional, Data::ConfigMap(cm)),
        None if optional => Ok(()),
        None => Err(Error::MissingConfigMap {
            pod: ctx.pod_id.clone(),
            namespace: ctx.namespace().to_owned(),
            name: name.to_owned(),
        }),
    }
}

/// Adds every key of `data`, or only `items` (key → path).
fn add_items(
    ctx: &Ctx<'_>,
    files: &mut Files,
    name: &str,
    items: Option<&[KeyToPath]>,
    optional: bool,
    data: Data<'_>,
) -> Result<(), Error> {
    let Some(items) = items.filter(|i| !i.is_empty()) else {
        for k in data.keys() {
            if let Some(v) = data.get(&k) {
                files.insert(k, v.to_vec());
            }
        }
        return Ok(());
    };
    for item in items {
        match data.get(&item.key) {
            Some(v) => {
                files.insert(item.path.clone(), v.to_vec());
            }
            None if optional => {}
            None => {
                return Err(Error::MissingKey {
                    pod: ctx.pod_id.clone(),
                    kind: data.kind(),
                    namespace: ctx.namespace().to_owned(),
                    name: name.to_owned(),
                    key: item.key.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Adds rendered downward API files.
fn add_downward(
    ctx: &Ctx<'_>,
    v: &K8sVolume,
    files: &mut Files,
    items: &[DownwardAPIVolumeFile],
) -> Result<(), Error> {
    for item in items {
        let value = if let Some(field) = &item.field_ref {
            match field_value(ctx, field, true) {
                Ok(FieldValue::Known(v)) => v,
                Ok(FieldValue::Unknown) => String::new(),
                Err(message) => return Err(invalid_volume(ctx, v, &message)),
            }
        } else if let Some(sel) = &item.resource_field_ref {
            resource_value(ctx, sel, None).map_err(|m| invalid_volume(ctx, v, &m))?
        } else {
            return Err(invalid_volume(
                ctx,
                v,
                &format!(
                    "downward API item {:?} has neither fieldRef nor resourceFieldRef",
                    item.path
                ),
            ));
        };
        files.insert(item.path.clone(), value.into_bytes());
    }
    Ok(())
}

/// An Azure Files volume with the storage account from Secret `secret_name`.
fn azure_file(
    ctx: &Ctx<'_>,
    v: &K8sVolume,
    name: &str,
    secret_name: &str,
    share: &str,
    read_only: Option<bool>,
) -> Result<Volume, Error> {
    let Some(secret) = ctx.refs.secrets.get(secret_name) else {
        return Err(Error::MissingSecret {
            pod: ctx.pod_id.clone(),
            namespace: ctx.namespace().to_owned(),
            name: secret_name.to_owned(),
        });
    };
    let key = |k: &str| -> Result<String, Error> {
        secret
            .get(k)
            .map(|b| String::from_utf8_lossy(b).trim().to_owned())
            .ok_or_else(|| Error::MissingKey {
                pod: ctx.pod_id.clone(),
                kind: "Secret",
                namespace: ctx.namespace().to_owned(),
                name: secret_name.to_owned(),
                key: k.to_owned(),
            })
    };
    let account = key("azurestorageaccountname")?;
    let account_key = key("azurestorageaccountkey")?;
    if share.is_empty() {
        return Err(invalid_volume(ctx, v, "azureFile shareName is empty"));
    }
    Ok(Volume {
        name: name.to_owned(),
        azure_file: Some(AzureFileVolume {
            share_name: share.to_owned(),
            read_only,
            storage_account_name: account,
            storage_account_key: Some(Secret::new(account_key)),
        }),
        ..Volume::default()
    })
}

/// The ACI volume mounts of `c`.
pub(crate) fn mounts(
    ctx: &Ctx<'_>,
    c: &Container,
    names: &BTreeMap<String, String>,
) -> Result<Option<Vec<VolumeMount>>, Error> {
    let mut out = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let Some(aci_name) = names.get(&m.name) else {
            return Err(Error::UnknownVolumeMount {
                pod: ctx.pod_id.clone(),
                container: c.name.clone(),
                volume: m.name.clone(),
            });
        };
        let sub_path = m.sub_path.as_deref().is_some_and(|s| !s.is_empty())
            || m.sub_path_expr.as_deref().is_some_and(|s| !s.is_empty());
        if sub_path {
            return Err(Error::SubPathUnsupported {
                pod: ctx.pod_id.clone(),
                container: c.name.clone(),
                volume: m.name.clone(),
            });
        }
        if m.mount_path.contains(':') {
            return Err(Error::InvalidMountPath {
                pod: ctx.pod_id.clone(),
                container: c.name.clone(),
                path: m.mount_path.clone(),
            });
        }
        out.push(VolumeMount {
            name: aci_name.clone(),
            mount_path: m.mount_path.clone(),
            read_only: m.read_only.filter(|r| *r),
        });
    }
    Ok((!out.is_empty()).then_some(out))
}
