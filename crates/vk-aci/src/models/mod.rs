//! Typed serde models of api-version 2023-05-01 (camelCase JSON).
//!
//! Optional fields are omitted when `None`; unknown fields are ignored on input; secret material
//! is held in [`Secret`](crate::Secret) so `Debug` never shows it.

mod arm;
mod container;
mod container_group;
mod enums;
mod exec;
mod location;
pub(crate) mod time;

pub use arm::{CloudError, CloudErrorBody, OperationStatus};
pub use container::{
    Container, ContainerExec, ContainerHttpGet, ContainerInstanceView, ContainerPort,
    ContainerProbe, ContainerProperties, ContainerState, EnvironmentVariable, Event, GpuResource,
    HttpHeader, InitContainer, InitContainerProperties, ResourceLimits, ResourceRequests,
    ResourceRequirements, SecurityContext, SecurityContextCapabilities, VolumeMount,
};
pub use container_group::{
    AzureFileVolume, CONTAINER_GROUP_TYPE, ConfidentialComputeProperties, ContainerGroup,
    ContainerGroupDiagnostics, ContainerGroupIdentity, ContainerGroupInstanceView,
    ContainerGroupListResult, ContainerGroupProperties, ContainerGroupSubnetId,
    DeploymentExtension, DeploymentExtensionProperties, DnsConfiguration, EmptyDirVolume,
    EncryptionProperties, GitRepoVolume, ImageRegistryCredential, IpAddress, LogAnalytics, Port,
    UserAssignedIdentity, Volume,
};
pub use enums::{
    ContainerGroupSku, ContainerStateKind, DnsNameLabelReusePolicy, GpuSku, GroupState,
    IpAddressType, LogAnalyticsLogType, OperatingSystemType, Priority, Protocol, ProvisioningState,
    ResourceIdentityType, RestartPolicy, Scheme,
};
pub use exec::{
    ContainerAttachResponse, ContainerExecRequest, ContainerExecResponse, Logs, TerminalSize,
};
pub use location::{
    CachedImage, CachedImagesListResult, Capabilities, CapabilitiesListResult, CapabilityLimits,
    Usage, UsageListResult, UsageName,
};
