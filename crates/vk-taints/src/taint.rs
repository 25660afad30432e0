//! The taints vk owns and their configuration.

use std::fmt;
use std::str::FromStr;

use k8s_openapi::api::core::v1::Taint;
use serde::{Deserialize, Serialize};

use crate::{Error, names};

/// Key of the default provider taint.
pub const DEFAULT_TAINT_KEY: &str = "virtual-kubelet.io/provider";
/// Value of the default provider taint.
pub const DEFAULT_TAINT_VALUE: &str = "azure";
/// Key of the taint vk adds while the provider is unhealthy.
pub const DEFAULT_UNHEALTHY_TAINT_KEY: &str = "virtual-kubelet.io/provider-unhealthy";

/// A taint effect (`NoSchedule` by default).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum TaintEffect {
    /// `NoSchedule`: the scheduler places no new pods without a toleration.
    #[default]
    NoSchedule,
    /// `PreferNoSchedule`: the scheduler avoids the node.
    PreferNoSchedule,
    /// `NoExecute`: pods without a toleration are evicted and not admitted.
    NoExecute,
}

impl TaintEffect {
    /// The Kubernetes spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoSchedule => "NoSchedule",
            Self::PreferNoSchedule => "PreferNoSchedule",
            Self::NoExecute => "NoExecute",
        }
    }
}

impl fmt::Display for TaintEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaintEffect {
    type Err = Error;

    /// Parses the exact Kubernetes spelling (as the Go provider does).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "NoSchedule" => Ok(Self::NoSchedule),
            "PreferNoSchedule" => Ok(Self::PreferNoSchedule),
            "NoExecute" => Ok(Self::NoExecute),
            _ => Err(Error::InvalidEffect {
                input: s.to_owned(),
            }),
        }
    }
}

/// A configured taint: key, optional value, effect (an entry of
/// `nodes[].extra_taints` in vk's configuration). An empty `value` is no value;
/// the effect defaults to `NoSchedule`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TaintSpec {
    /// The key, e.g. `virtual-kubelet.io/provider`.
    pub key: String,
    /// The value; `None` for a key-only taint.
    #[serde(default, with = "empty_is_none")]
    pub value: Option<String>,
    /// The effect.
    #[serde(default)]
    pub effect: TaintEffect,
}

/// A taint value: `""` is no value.
mod empty_is_none {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_deref().unwrap_or_default())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Option::<String>::deserialize(d).map(|v| v.filter(|v| !v.is_empty()))
    }
}

/// vk's own taint on a node, which keeps ordinary pods off it (`nodes[].taint`
/// in vk's configuration): by default the Go provider's
/// `virtual-kubelet.io/provider=azure:NoSchedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ProviderTaint {
    /// Whether to taint the node at all (the Go provider's `--disable-taint`).
    pub enabled: bool,
    /// Taint key.
    pub key: String,
    /// Taint value (empty: none).
    pub value: String,
    /// Taint effect.
    pub effect: TaintEffect,
}

impl Default for ProviderTaint {
    fn default() -> Self {
        Self {
            enabled: true,
            key: DEFAULT_TAINT_KEY.into(),
            value: DEFAULT_TAINT_VALUE.into(),
            effect: TaintEffect::NoSchedule,
        }
    }
}

impl ProviderTaint {
    /// The taint, or `None` when disabled.
    #[must_use]
    pub fn spec(&self) -> Option<TaintSpec> {
        self.enabled.then(|| {
            TaintSpec::new(
                self.key.clone(),
                Some(self.value.as_str()).filter(|v| !v.is_empty()),
                self.effect,
            )
        })
    }
}

impl TaintSpec {
    /// A taint spec.
    #[must_use]
    pub fn new(key: impl Into<String>, value: Option<&str>, effect: TaintEffect) -> Self {
        Self {
            key: key.into(),
            value: value.map(str::to_owned),
            effect,
        }
    }

    /// The Kubernetes taint (no `timeAdded`).
    #[must_use]
    pub fn to_taint(&self) -> Taint {
        Taint {
            key: self.key.clone(),
            value: self.value.clone(),
            effect: self.effect.as_str().to_owned(),
            time_added: None,
        }
    }

    /// The identity of this taint on a node.
    #[must_use]
    pub fn id(&self) -> TaintId {
        TaintId {
            key: self.key.clone(),
            effect: self.effect.as_str().to_owned(),
        }
    }

    /// Checks the key and the value; the reason names which (`key: …`, `value …`).
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: &str| Error::InvalidTaint {
            key: self.key.clone(),
            reason: reason.to_owned(),
        };
        names::qualified_name(&self.key).map_err(|reason| invalid(&format!("key: {reason}")))?;
        if let Some(v) = &self.value {
            names::label_value(v).map_err(|reason| invalid(&format!("value {reason}")))?;
        }
        Ok(())
    }
}

impl fmt::Display for TaintSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={}:{}", self.key, v, self.effect),
            None => write!(f, "{}:{}", self.key, self.effect),
        }
    }
}

/// How a taint is identified on a node: Kubernetes allows one taint per key
/// and effect.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaintId {
    /// The key.
    pub key: String,
    /// The effect, as spelled on the node.
    pub effect: String,
}

impl TaintId {
    /// The identity of a taint.
    #[must_use]
    pub fn of(taint: &Taint) -> Self {
        Self {
            key: taint.key.clone(),
            effect: taint.effect.clone(),
        }
    }

    /// Whether `taint` has this identity.
    #[must_use]
    pub fn matches(&self, taint: &Taint) -> bool {
        self.key == taint.key && self.effect == taint.effect
    }
}

/// The provider's health as last probed: it decides whether the unhealthy
/// taint is set, and vk-node's Ready condition reflects it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Health {
    /// ACI is reachable, credentials work, quota is left.
    Healthy,
    /// ACI unreachable, credentials rejected or quota exhausted: the scheduler
    /// should stop sending pods.
    Unhealthy {
        /// A CamelCase reason, e.g. `ProviderUnreachable`, `CredentialsRejected`, `QuotaExhausted`.
        reason: String,
        /// A human-readable message.
        message: String,
    },
}

impl Health {
    /// Unhealthy for `reason` (CamelCase), explained by `message`.
    #[must_use]
    pub fn unhealthy(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Unhealthy {
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// True when healthy.
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        matches!(self, Self::Healthy)
    }
}

/// Which taints vk puts on its node.
///
/// The default is the Go provider's taint `virtual-kubelet.io/provider=azure:NoSchedule`,
/// no extra taints, and `virtual-kubelet.io/provider-unhealthy:NoSchedule`
/// while the provider is unhealthy.
///
/// ```
/// use vk_taints::{Health, TaintConfig};
///
/// let config = TaintConfig::default();
/// let healthy = config.desired(&Health::Healthy);
/// assert_eq!(healthy.len(), 1);
/// assert_eq!(healthy[0].key, "virtual-kubelet.io/provider");
/// assert_eq!(config.desired(&Health::unhealthy("ProviderUnreachable", "ACI does not answer")).len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaintConfig {
    /// The provider taint; `None` disables it (the Go provider's `--disable-taint`).
    pub provider: Option<TaintSpec>,
    /// More taints, always present.
    pub extra: Vec<TaintSpec>,
    /// The taint present while the provider is unhealthy; `None` disables it.
    pub unhealthy: Option<TaintSpec>,
}

impl Default for TaintConfig {
    fn default() -> Self {
        Self {
            provider: Some(TaintSpec::new(
                DEFAULT_TAINT_KEY,
                Some(DEFAULT_TAINT_VALUE),
                TaintEffect::NoSchedule,
            )),
            extra: Vec::new(),
            unhealthy: Some(TaintSpec::new(
                DEFAULT_UNHEALTHY_TAINT_KEY,
                None,
                TaintEffect::NoSchedule,
            )),
        }
    }
}

impl TaintConfig {
    /// vk's taints on one node: `provider` (when enabled), `extra`, and the
    /// default unhealthy taint.
    #[must_use]
    pub fn for_node(provider: &ProviderTaint, extra: &[TaintSpec]) -> Self {
        Self {
            provider: provider.spec(),
            extra: extra.to_vec(),
            ..Self::default()
        }
    }

    /// Checks keys and values, and that no two taints share a key and effect.
    pub fn validate(&self) -> Result<(), Error> {
        let mut seen = Vec::new();
        for spec in self.all() {
            spec.validate()?;
            let id = spec.id();
            if seen.contains(&id) {
                return Err(Error::InvalidTaint {
                    key: spec.key.clone(),
                    reason: format!("configured twice with effect {}", spec.effect),
                });
            }
            seen.push(id);
        }
        Ok(())
    }

    /// The taints vk wants on its node in this health state.
    #[must_use]
    pub fn desired(&self, health: &Health) -> Vec<Taint> {
        let unhealthy = match health {
            Health::Healthy => None,
            Health::Unhealthy { .. } => self.unhealthy.as_ref(),
        };
        self.provider
            .iter()
            .chain(&self.extra)
            .chain(unhealthy)
            .map(TaintSpec::to_taint)
            .collect()
    }

    /// Identities of every taint vk owns in any health state; the reconciler
    /// removes these when they are not desired and leaves all others alone.
    #[must_use]
    pub fn owned(&self) -> Vec<TaintId> {
        self.all().map(TaintSpec::id).collect()
    }

    fn all(&self) -> impl Iterator<Item = &TaintSpec> {
        self.provider
            .iter()
            .chain(&self.extra)
            .chain(self.unhealthy.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config() {
        let c = TaintConfig::default();
        c.validate().unwrap();
        let healthy = c.desired(&Health::Healthy);
        assert_eq!(
            healthy,
            vec![Taint {
                key: "virtual-kubelet.io/provider".into(),
                value: Some("azure".into()),
                effect: "NoSchedule".into(),
                time_added: None
            }]
        );
        let unhealthy = c.desired(&Health::unhealthy(
            "ProviderUnreachable",
            "ACI does not answer",
        ));
        assert_eq!(unhealthy[1].key, "virtual-kubelet.io/provider-unhealthy");
        assert_eq!(unhealthy[1].value, None);
        assert_eq!(c.owned().len(), 2);
    }

    #[test]
    fn disabled_and_extra() {
        let c = TaintConfig {
            provider: None,
            extra: vec![TaintSpec::new(
                "example.com/a",
                Some("b"),
                TaintEffect::NoExecute,
            )],
            unhealthy: None,
        };
        c.validate().unwrap();
        assert_eq!(
            c.desired(&Health::unhealthy(
                "ProviderUnreachable",
                "ACI does not answer"
            ))
            .len(),
            1
        );
        assert_eq!(c.desired(&Health::Healthy)[0].effect, "NoExecute");
        assert_eq!(
            TaintConfig {
                provider: None,
                extra: vec![],
                unhealthy: None
            }
            .desired(&Health::unhealthy(
                "ProviderUnreachable",
                "ACI does not answer"
            )),
            vec![]
        );
    }

    #[test]
    fn effect_parsing() {
        assert_eq!(
            "NoExecute".parse::<TaintEffect>().unwrap(),
            TaintEffect::NoExecute
        );
        assert!(matches!(
            "noschedule".parse::<TaintEffect>(),
            Err(Error::InvalidEffect { input }) if input == "noschedule"
        ));
    }

    #[test]
    fn validation() {
        let bad_key = TaintConfig {
            extra: vec![TaintSpec::new("Bad Key", None, TaintEffect::NoSchedule)],
            ..TaintConfig::default()
        };
        assert!(
            matches!(bad_key.validate(), Err(Error::InvalidTaint { key, .. }) if key == "Bad Key")
        );
        let bad_value = TaintConfig {
            extra: vec![TaintSpec::new("a", Some("-x"), TaintEffect::NoSchedule)],
            ..TaintConfig::default()
        };
        assert!(bad_value.validate().is_err());
        let dup = TaintConfig {
            extra: vec![TaintSpec::new(
                DEFAULT_TAINT_KEY,
                Some("x"),
                TaintEffect::NoSchedule,
            )],
            ..TaintConfig::default()
        };
        assert!(dup.validate().is_err());
    }

    #[test]
    fn node_taints_from_config() {
        let extra: Vec<TaintSpec> = serde_json::from_str(
            r#"[{"key":"a","value":""},{"key":"b","value":"x","effect":"NoExecute"}]"#,
        )
        .unwrap();
        assert_eq!(extra[0], TaintSpec::new("a", None, TaintEffect::NoSchedule));
        assert_eq!(serde_json::to_value(&extra[0]).unwrap()["value"], "");
        assert!(serde_json::from_str::<TaintSpec>(r#"{"key":"a","colour":"red"}"#).is_err());
        let provider: ProviderTaint = serde_json::from_str(r#"{"value":""}"#).unwrap();
        let config = TaintConfig::for_node(&provider, &extra);
        assert_eq!(
            config.provider.unwrap().to_string(),
            "virtual-kubelet.io/provider:NoSchedule"
        );
        assert_eq!(config.extra.len(), 2);
        assert!(config.unhealthy.is_some());
        let off = ProviderTaint {
            enabled: false,
            ..ProviderTaint::default()
        };
        assert!(off.spec().is_none());
    }

    #[test]
    fn spec_validation_names_the_field() {
        for (spec, field) in [
            (
                TaintSpec::new("a/b/c", None, TaintEffect::NoSchedule),
                "key",
            ),
            (
                TaintSpec::new("a", Some(&"v".repeat(64)), TaintEffect::NoSchedule),
                "value",
            ),
        ] {
            match spec.validate() {
                Err(Error::InvalidTaint { reason, .. }) => {
                    assert!(reason.starts_with(field), "{reason}");
                }
                other => panic!("{spec}: {other:?}"),
            }
        }
    }

    #[test]
    fn config_from_json() {
        let c: TaintConfig = serde_json::from_str(
            r#"{"provider":{"key":"azure.com/aci","effect":"NoSchedule"},"unhealthy":null}"#,
        )
        .unwrap();
        assert_eq!(
            c.provider.as_ref().unwrap().to_string(),
            "azure.com/aci:NoSchedule"
        );
        assert!(c.unhealthy.is_none());
    }
}
