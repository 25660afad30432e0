//! The container group resource and everything in its `properties` except containers.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::container::{Container, Event, InitContainer};
use super::enums::{
    ContainerGroupSku, DnsNameLabelReusePolicy, GroupState, IpAddressType, LogAnalyticsLogType,
    OperatingSystemType, Priority, Protocol, ProvisioningState, ResourceIdentityType,
    RestartPolicy,
};
use crate::secret::Secret;

/// The ARM resource type of container groups.
pub const CONTAINER_GROUP_TYPE: &str = "Microsoft.ContainerInstance/containerGroups";

/// A container group (`Microsoft.ContainerInstance/containerGroups`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerGroup {
    /// Full ARM resource id (responses only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Resource name (responses only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Resource type (responses only).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Azure region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Resource tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Availability zones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zones: Option<Vec<String>>,
    /// Managed identities of the group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<ContainerGroupIdentity>,
    /// Group properties.
    #[serde(default)]
    pub properties: ContainerGroupProperties,
}

impl ContainerGroup {
    /// `properties.provisioningState`, if present.
    pub fn provisioning_state(&self) -> Option<&ProvisioningState> {
        self.properties.provisioning_state.as_ref()
    }

    /// `properties.instanceView.state`, if present.
    pub fn state(&self) -> Option<&GroupState> {
        self.properties
            .instance_view
            .as_ref()
            .and_then(|v| v.state.as_ref())
    }
}

/// `ContainerGroup.properties`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerGroupProperties {
    /// Provisioning state (responses only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<ProvisioningState>,
    /// The containers.
    #[serde(default)]
    pub containers: Vec<Container>,
    /// Init containers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_containers: Option<Vec<InitContainer>>,
    /// Private registry credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_registry_credentials: Option<Vec<ImageRegistryCredential>>,
    /// Restart policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<IpAddress>,
    /// Operating system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_type: Option<OperatingSystemType>,
    /// Volumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<Volume>>,
    /// Runtime view (GET responses only; absent from lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_view: Option<ContainerGroupInstanceView>,
    /// Diagnostics (Log Analytics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<ContainerGroupDiagnostics>,
    /// Virtual network subnets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_ids: Option<Vec<ContainerGroupSubnetId>>,
    /// DNS configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_config: Option<DnsConfiguration>,
    /// SKU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<ContainerGroupSku>,
    /// Customer-managed-key encryption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_properties: Option<EncryptionProperties>,
    /// Extension sidecars (used by virtual kubelet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Vec<DeploymentExtension>>,
    /// Confidential computing properties.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidential_compute_properties: Option<ConfidentialComputeProperties>,
    /// Priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
}

/// Managed identities of a group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerGroupIdentity {
    /// Principal id of the system identity (responses only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// Tenant of the system identity (responses only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Identity type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub identity_type: Option<ResourceIdentityType>,
    /// User-assigned identities, keyed by ARM id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_assigned_identities: Option<BTreeMap<String, UserAssignedIdentity>>,
}

/// A user-assigned identity (its fields are filled by the service).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAssignedIdentity {
    /// Principal id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// Client id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// Credentials for a private image registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRegistryCredential {
    /// Registry server, without scheme.
    pub server: String,
    /// User name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password (never returned by the service).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secret::expose_option"
    )]
    pub password: Option<Secret>,
    /// ARM id of a user-assigned identity used to pull.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Identity URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_url: Option<String>,
}

/// The IP address of a group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpAddress {
    /// Exposed ports.
    #[serde(default)]
    pub ports: Vec<Port>,
    /// `Public` or `Private`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub address_type: Option<IpAddressType>,
    /// The address (responses; may be requested for private groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// DNS name label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_name_label: Option<String>,
    /// DNS name label reuse policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_generated_domain_name_label_scope: Option<DnsNameLabelReusePolicy>,
    /// Fully qualified domain name (responses only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
}

/// A port on the group's IP address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    /// Protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// Port number.
    pub port: u16,
}

/// A volume; exactly one source is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Volume name.
    pub name: String,
    /// Azure Files share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure_file: Option<AzureFileVolume>,
    /// Empty directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDirVolume>,
    /// Secret files: file name → base64 content (returned empty by the service).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secret::expose_map_option"
    )]
    pub secret: Option<BTreeMap<String, Secret>>,
    /// Git repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_repo: Option<GitRepoVolume>,
}

impl Volume {
    /// An empty-directory volume.
    pub fn empty_dir(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            empty_dir: Some(EmptyDirVolume {}),
            ..Self::default()
        }
    }

    /// A secret volume from raw file contents, base64-encoding each as the API requires.
    pub fn secret_from_bytes<K, V>(
        name: impl Into<String>,
        files: impl IntoIterator<Item = (K, V)>,
    ) -> Self
    where
        K: Into<String>,
        V: AsRef<[u8]>,
    {
        let engine = base64::engine::general_purpose::STANDARD;
        let secret = files
            .into_iter()
            .map(|(k, v)| (k.into(), Secret::new(engine.encode(v.as_ref()))))
            .collect();
        Self {
            name: name.into(),
            secret: Some(secret),
            ..Self::default()
        }
    }
}

/// An Azure Files share volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzureFileVolume {
    /// Share name.
    pub share_name: String,
    /// Mount read-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Storage account name.
    pub storage_account_name: String,
    /// Storage account key (never returned by the service).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secret::expose_option"
    )]
    pub storage_account_key: Option<Secret>,
}

/// An empty-directory volume (`{}` on the wire).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyDirVolume {}

/// A git repository volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitRepoVolume {
    /// Target directory (must not contain `..`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    /// Repository URL.
    pub repository: String,
    /// Commit hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

/// Runtime view of a group (GET only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerGroupInstanceView {
    /// Group events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Event>>,
    /// Group state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<GroupState>,
}

/// Diagnostics of a group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerGroupDiagnostics {
    /// Log Analytics settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_analytics: Option<LogAnalytics>,
}

/// Log Analytics settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogAnalytics {
    /// Workspace id.
    pub workspace_id: String,
    /// Workspace key (required on create; never returned).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secret::expose_option"
    )]
    pub workspace_key: Option<Secret>,
    /// Log type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_type: Option<LogAnalyticsLogType>,
    /// Metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Workspace ARM id (marked secret by the API).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secret::expose_option"
    )]
    pub workspace_resource_id: Option<Secret>,
}

/// A subnet the group is deployed into.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerGroupSubnetId {
    /// Subnet ARM id.
    pub id: String,
    /// Subnet name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// DNS configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsConfiguration {
    /// Name servers.
    #[serde(default)]
    pub name_servers: Vec<String>,
    /// Search domains, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_domains: Option<String>,
    /// Resolver options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
}

/// Encryption with a customer-managed key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionProperties {
    /// Key vault URL.
    pub vault_base_url: String,
    /// Key name.
    pub key_name: String,
    /// Key version.
    pub key_version: String,
    /// ARM id of the identity that reads the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

/// An extension sidecar.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentExtension {
    /// Extension name.
    pub name: String,
    /// Extension properties.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<DeploymentExtensionProperties>,
}

/// Properties of an extension sidecar.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentExtensionProperties {
    /// Extension type, e.g. `kube-proxy`.
    pub extension_type: String,
    /// Version.
    pub version: String,
    /// Settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Value>,
    /// Protected settings (e.g. a kubeconfig); redacted in `Debug`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secret::expose_option"
    )]
    pub protected_settings: Option<Secret<serde_json::Value>>,
}

/// Confidential computing properties.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfidentialComputeProperties {
    /// Base64 confidential computing enforcement policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cce_policy: Option<String>,
}

/// A page of container groups.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerGroupListResult {
    /// Groups of this page (without `instanceView`).
    #[serde(default)]
    pub value: Vec<ContainerGroup>,
    /// Absolute URL of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}
