//! On-demand resolution of what a pod references: Secrets, ConfigMaps and
//! service-account tokens.
//!
//! No cluster-wide watches: [`Resolver::resolve`] reads exactly the objects a
//! pod names ([`pod_references`]) through a [`RefSource`] (the API server via
//! [`KubeRefSource`], or anything else in tests) and returns a
//! [`ResolvedRefs`], which the pure translation ([`crate::translate`]) reads.
//! Secret values are held in [`vk_aci::Secret`], so `Debug` never shows them.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret as K8sSecret};
use vk_aci::Secret;

/// Token lifetime when a projection does not say (the API server's default).
pub const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 3600;

/// The contents of a Secret. Values are redacted in `Debug`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretData {
    /// The Secret's `type` (e.g. `kubernetes.io/dockerconfigjson`).
    pub type_: Option<String>,
    data: BTreeMap<String, Secret<Vec<u8>>>,
}

impl SecretData {
    /// Secret contents from `(key, value)` pairs.
    pub fn new<K: Into<String>, V: Into<Vec<u8>>>(
        type_: Option<&str>,
        data: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            type_: type_.map(str::to_owned),
            data: data
                .into_iter()
                .map(|(k, v)| (k.into(), Secret::new(v.into())))
                .collect(),
        }
    }

    /// The contents of a Kubernetes Secret (`data`, then `stringData` if a
    /// client ever returns it).
    pub fn from_k8s(secret: &K8sSecret) -> Self {
        let mut data: BTreeMap<String, Secret<Vec<u8>>> = secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), Secret::new(v.0.clone())))
            .collect();
        for (k, v) in secret.string_data.iter().flatten() {
            data.insert(k.clone(), Secret::new(v.clone().into_bytes()));
        }
        Self {
            type_: secret.type_.clone(),
            data,
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.data.get(key).map(|v| v.expose().as_slice())
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.data.keys().map(String::as_str)
    }
}

/// The contents of a ConfigMap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigMapData {
    /// `data`.
    pub data: BTreeMap<String, String>,
    /// `binaryData`.
    pub binary_data: BTreeMap<String, Vec<u8>>,
}

impl ConfigMapData {
    /// ConfigMap contents from `(key, value)` pairs of text.
    pub fn new<K: Into<String>, V: Into<String>>(data: impl IntoIterator<Item = (K, V)>) -> Self {
        Self {
            data: data
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            binary_data: BTreeMap::new(),
        }
    }

    /// The contents of a Kubernetes ConfigMap.
    pub fn from_k8s(cm: &ConfigMap) -> Self {
        Self {
            data: cm.data.clone().unwrap_or_default(),
            binary_data: cm
                .binary_data
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.0.clone()))
                .collect(),
        }
    }

    /// The bytes of `key` (from `data`, else `binaryData`).
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.data
            .get(key)
            .map(String::as_bytes)
            .or_else(|| self.binary_data.get(key).map(Vec::as_slice))
    }

    /// Every key of `data` and `binaryData`, sorted.
    pub fn keys(&self) -> BTreeSet<&str> {
        self.data
            .keys()
            .chain(self.binary_data.keys())
            .map(String::as_str)
            .collect()
    }
}

/// Identifies a service-account token a projected volume asks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenKey {
    /// The audience (`None`: the API server's default audiences).
    pub audience: Option<String>,
    /// Requested lifetime in seconds.
    pub expiration_seconds: i64,
}

/// Everything a pod references, resolved. Missing optional objects are
/// absent, each with an [`Adjustment`](vk_pods::Adjustment) saying so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedRefs {
    /// Optional Secrets and ConfigMaps that do not exist
    /// (`OptionalSecretNotFound`, `OptionalConfigMapNotFound`, the Go
    /// virtual-kubelet's event reasons): the pod runs without them.
    pub adjustments: Vec<vk_pods::Adjustment>,
    /// Secrets by name (the pod's namespace).
    pub secrets: BTreeMap<String, SecretData>,
    /// ConfigMaps by name (the pod's namespace).
    pub config_maps: BTreeMap<String, ConfigMapData>,
    /// Service-account tokens of the pod's service account.
    pub tokens: BTreeMap<TokenKey, Secret>,
}

impl ResolvedRefs {
    /// Adds a Secret (builder style, for tests and embedders).
    #[must_use]
    pub fn with_secret<K: Into<String>, V: Into<Vec<u8>>>(
        mut self,
        name: &str,
        type_: Option<&str>,
        data: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.secrets
            .insert(name.to_owned(), SecretData::new(type_, data));
        self
    }

    /// Adds a ConfigMap.
    #[must_use]
    pub fn with_config_map<K: Into<String>, V: Into<String>>(
        mut self,
        name: &str,
        data: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.config_maps
            .insert(name.to_owned(), ConfigMapData::new(data));
        self
    }

    /// Adds a service-account token.
    #[must_use]
    pub fn with_token(
        mut self,
        audience: Option<&str>,
        expiration_seconds: i64,
        token: &str,
    ) -> Self {
        self.tokens.insert(
            TokenKey {
                audience: audience.map(str::to_owned),
                expiration_seconds,
            },
            Secret::from(token),
        );
        self
    }
}

/// The names a pod references. `true` means required (some reference is not
/// optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodReferences {
    /// Secrets (env, envFrom, secret and projected volumes, azureFile, CSI).
    pub secrets: BTreeMap<String, bool>,
    /// ConfigMaps (env, envFrom, configMap and projected volumes).
    pub config_maps: BTreeMap<String, bool>,
    /// Image pull secrets (never required: the kubelet pulls without a missing one).
    pub pull_secrets: BTreeSet<String>,
    /// Service-account tokens for projected `serviceAccountToken` sources.
    pub tokens: BTreeSet<TokenKey>,
}

impl PodReferences {
    fn secret(&mut self, name: &str, optional: Option<bool>) {
        let required = !optional.unwrap_or(false);
        *self.secrets.entry(name.to_owned()).or_default() |= required;
    }

    fn config_map(&mut self, name: &str, optional: Option<bool>) {
        let required = !optional.unwrap_or(false);
        *self.config_maps.entry(name.to_owned()).or_default() |= required;
    }
}

/// Lists the Secrets, ConfigMaps and tokens `pod` references.
pub fn pod_references(pod: &Pod) -> PodReferences {
    let mut refs = PodReferences::default();
    let Some(spec) = &pod.spec else {
        return refs;
    };
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for c in containers {
        for e in c.env.iter().flatten() {
            let Some(from) = &e.value_from else { continue };
            if let Some(s) = &from.secret_key_ref {
                refs.secret(&s.name, s.optional);
            }
            if let Some(cm) = &from.config_map_key_ref {
                refs.config_map(&cm.name, cm.optional);
            }
        }
        for ef in c.env_from.iter().flatten() {
            if let Some(s) = &ef.secret_ref {
                refs.secret(&s.name, s.optional);
            }
            if let Some(cm) = &ef.config_map_ref {
                refs.config_map(&cm.name, cm.optional);
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(s) = &v.secret
            && let Some(name) = &s.secret_name
        {
            refs.secret(name, s.optional);
        }
        if let Some(cm) = &v.config_map {
            refs.config_map(&cm.name, cm.optional);
        }
        if let Some(af) = &v.azure_file {
            refs.secret(&af.secret_name, None);
        }
        if let Some(csi) = &v.csi
            && let Some(name) = crate::translate::volumes::csi_secret_name(csi)
        {
            refs.secret(&name, None);
        }
        for src in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(s) = &src.secret {
                refs.secret(&s.name, s.optional);
            }
            if let Some(cm) = &src.config_map {
                refs.config_map(&cm.name, cm.optional);
            }
            if let Some(t) = &src.service_account_token {
                refs.tokens.insert(TokenKey {
                    audience: t.audience.clone().filter(|a| !a.is_empty()),
                    expiration_seconds: t
                        .expiration_seconds
                        .unwrap_or(DEFAULT_TOKEN_EXPIRATION_SECONDS),
                });
            }
        }
    }
    for s in spec.image_pull_secrets.iter().flatten() {
        if !s.name.is_empty() {
            refs.pull_secrets.insert(s.name.clone());
        }
    }
    refs
}

mod resolver;

pub use resolver::{KubeRefSource, RefSource, Resolver};
