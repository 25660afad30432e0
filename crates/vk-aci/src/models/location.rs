//! Per-region results: capabilities, usages and cached images.

use serde::{Deserialize, Serialize};

/// A page of [`Capabilities`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitiesListResult {
    /// Capabilities of this page.
    #[serde(default)]
    pub value: Vec<Capabilities>,
    /// Absolute URL of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// What a region offers for one (OS, IP address type, GPU) combination.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// Resource type (`containerGroups`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// OS type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    /// Region display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// IP address type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    /// GPU SKU, or `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    /// Maxima.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<CapabilityLimits>,
}

/// Maxima of one capabilities row.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityLimits {
    /// Maximum memory request in GB.
    #[serde(rename = "maxMemoryInGB", skip_serializing_if = "Option::is_none")]
    pub max_memory_in_gb: Option<f64>,
    /// Maximum CPU request in cores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cpu: Option<f64>,
    /// Maximum GPU count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_gpu_count: Option<f64>,
}

/// Usage results of a region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageListResult {
    /// Usages.
    #[serde(default)]
    pub value: Vec<Usage>,
    /// Absolute URL of the next page (newer API versions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// One quota and its usage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Unit, e.g. `Count`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Current usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_value: Option<i64>,
    /// Limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Quota name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<UsageName>,
}

/// Name of a quota.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageName {
    /// Name, e.g. `ContainerGroups`, `StandardCores`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Localized name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub localized_value: Option<String>,
}

/// A page of cached images.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedImagesListResult {
    /// Images.
    #[serde(default)]
    pub value: Vec<CachedImage>,
    /// Absolute URL of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// An image cached in a region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedImage {
    /// OS type.
    #[serde(default)]
    pub os_type: String,
    /// Image reference.
    #[serde(default)]
    pub image: String,
}
