//! The crate's error type and its mapping to [`vk_pods::ProviderError`].

use vk_pods::{ErrorKind, ProviderError};

/// Everything that can fail while resolving a pod's references or translating
/// it to a container group, and an unusable [`AciConfig`](crate::AciConfig) (or its client).
/// Every pod variant names the pod (`namespace/name`) and the object at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key of the `[aci]` table is unusable (see [`AciConfig::validate`](crate::AciConfig::validate)).
    #[error("ACI configuration: {field}: {reason}")]
    InvalidConfig {
        /// The key, relative to the `[aci]` table (`region`, `credentials.tenant_id`).
        field: String,
        /// Why it is unusable.
        reason: String,
    },
    /// The ACI client of an [`AciConfig`](crate::AciConfig) could not be built (see
    /// [`AciConfig::client`](crate::AciConfig::client)).
    #[error("{context}")]
    Client {
        /// The setting at fault by its path in vk's configuration (`aci.subscription_id is
        /// required`, `aci.credentials (client-secret)`), or the step that failed (`building the
        /// ACI client`).
        context: String,
        /// The cause, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The pod has no spec.
    #[error("pod {pod} has no spec")]
    NoSpec {
        /// The pod.
        pod: String,
    },
    /// A Secret the pod needs does not exist.
    #[error("pod {pod}: secret \"{name}\" not found")]
    MissingSecret {
        /// The pod.
        pod: String,
        /// The Secret's namespace.
        namespace: String,
        /// The Secret's name.
        name: String,
    },
    /// A ConfigMap the pod needs does not exist.
    #[error("pod {pod}: configmap \"{name}\" not found")]
    MissingConfigMap {
        /// The pod.
        pod: String,
        /// The ConfigMap's namespace.
        namespace: String,
        /// The ConfigMap's name.
        name: String,
    },
    /// A key the pod needs is not in a Secret or ConfigMap.
    #[error("pod {pod}: couldn't find key {key} in {kind} {namespace}/{name}")]
    MissingKey {
        /// The pod.
        pod: String,
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// The object's namespace.
        namespace: String,
        /// The object's name.
        name: String,
        /// The missing key.
        key: String,
    },
    /// Reading a Secret or ConfigMap from the API server failed.
    #[error("pod {pod}: reading {kind} {namespace}/{name}: {source}")]
    Fetch {
        /// The pod.
        pod: String,
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// The object's namespace.
        namespace: String,
        /// The object's name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Minting a service-account token (TokenRequest) failed.
    #[error(
        "pod {pod}: requesting a token for service account {namespace}/{service_account}: {source}"
    )]
    ServiceAccountToken {
        /// The pod.
        pod: String,
        /// The namespace.
        namespace: String,
        /// The service account.
        service_account: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The TokenRequest answer carried no token.
    #[error("pod {pod}: the token request for service account {service_account} returned no token")]
    EmptyToken {
        /// The pod.
        pod: String,
        /// The service account.
        service_account: String,
    },
    /// A volume type ACI cannot mount.
    #[error("pod {pod}: volume {volume:?} is of type {kind}, which ACI does not support")]
    UnsupportedVolume {
        /// The pod.
        pod: String,
        /// The volume's name.
        volume: String,
        /// The volume's type (`hostPath`, `persistentVolumeClaim`, ...).
        kind: String,
    },
    /// A volume is malformed or cannot be expressed.
    #[error("pod {pod}: volume {volume:?}: {message}")]
    InvalidVolume {
        /// The pod.
        pod: String,
        /// The volume's name.
        volume: String,
        /// What is wrong.
        message: String,
    },
    /// ACI allows at most 20 volumes per group.
    #[error("pod {pod} has {count} volumes; ACI allows at most {maximum}")]
    TooManyVolumes {
        /// The pod.
        pod: String,
        /// Number of volumes.
        count: usize,
        /// ACI's maximum.
        maximum: usize,
    },
    /// A container mounts a volume the pod does not declare.
    #[error("pod {pod}: container {container:?} mounts unknown volume {volume:?}")]
    UnknownVolumeMount {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
        /// The volume name.
        volume: String,
    },
    /// `subPath` / `subPathExpr` mounts cannot be expressed in ACI.
    #[error(
        "pod {pod}: container {container:?} mounts volume {volume:?} with subPath, which ACI does not support"
    )]
    SubPathUnsupported {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
        /// The volume name.
        volume: String,
    },
    /// ACI mount paths must not contain `:`.
    #[error(
        "pod {pod}: container {container:?} mount path {path:?} contains ':', which ACI does not allow"
    )]
    InvalidMountPath {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
        /// The mount path.
        path: String,
    },
    /// `args` without `command`: ACI has one command list replacing the image
    /// entrypoint, so the entrypoint must be known.
    #[error(
        "pod {pod}: container {container:?} has args but no command; ACI cannot keep the image's \
         entrypoint: set command, or give the entrypoint in annotation {annotation:?}"
    )]
    ArgsWithoutCommand {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
        /// The entrypoint annotation that would help.
        annotation: String,
    },
    /// A pod annotation has a value vk cannot use.
    #[error("pod {pod}: annotation {annotation:?}: {message}")]
    InvalidAnnotation {
        /// The pod.
        pod: String,
        /// The annotation key.
        annotation: String,
        /// What is wrong.
        message: String,
    },
    /// The same port is exposed twice (ACI rejects it).
    #[error("pod {pod}: port {port}/{protocol} is exposed more than once")]
    DuplicatePort {
        /// The pod.
        pod: String,
        /// The port.
        port: i32,
        /// `TCP` or `UDP`.
        protocol: String,
    },
    /// A port ACI cannot expose (out of range, SCTP).
    #[error("pod {pod}: container {container:?} port {port}/{protocol}: {message}")]
    InvalidPort {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
        /// The port.
        port: i32,
        /// The protocol.
        protocol: String,
        /// What is wrong.
        message: String,
    },
    /// ACI allows at most 5 ports on a group's IP address.
    #[error("pod {pod} exposes {count} ports; ACI allows at most {maximum} per container group")]
    TooManyPorts {
        /// The pod.
        pod: String,
        /// Number of ports.
        count: usize,
        /// ACI's maximum.
        maximum: usize,
    },
    /// A probe names a port the container does not declare.
    #[error(
        "pod {pod}: container {container:?}: probe port {port:?} is not a port of the container"
    )]
    UnknownProbePort {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
        /// The named port.
        port: String,
    },
    /// An environment variable uses a downward API field vk cannot provide.
    #[error("pod {pod}: container {container:?}: env {variable}: {message}")]
    InvalidEnv {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
        /// The variable.
        variable: String,
        /// What is wrong.
        message: String,
    },
    /// A command or args would carry secret material in plain text.
    #[error(
        "pod {pod}: container {container:?}: command/args reference $({variable}), which comes \
         from a Secret; ACI commands are not secret (use a shell: sh -c '... ${variable}')"
    )]
    SecretInCommand {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
        /// The secret-sourced variable.
        variable: String,
    },
    /// Spot container groups cannot have a public IP address.
    #[error(
        "pod {pod}: Spot priority is not supported with inbound connectivity (ports on a public IP)"
    )]
    SpotWithPublicIp {
        /// The pod.
        pod: String,
    },
    /// Something ACI's Windows container groups cannot run: volumes of any
    /// kind, several containers, init containers.
    #[error(
        "pod {pod}: {what}: Azure Container Instances Windows container groups support {limitation}"
    )]
    WindowsUnsupported {
        /// The pod.
        pod: String,
        /// What the pod asks for (names the volume or container).
        what: String,
        /// What ACI supports instead.
        limitation: &'static str,
        /// The container at fault, when one is.
        container: Option<String>,
    },
    /// A container's image is not a valid image reference (the kubelet's
    /// `InvalidImageName`: nothing to pull, and retrying cannot help).
    #[error(
        "pod {pod}: container {container:?}: couldn't parse image reference {image:?}: {problem}"
    )]
    InvalidImageName {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
        /// The image as written.
        image: String,
        /// What is wrong with it.
        problem: String,
    },
    /// ACI runs no privileged containers.
    #[error(
        "pod {pod}: container {container:?} sets securityContext.privileged, and Azure Container \
         Instances runs no privileged containers"
    )]
    Privileged {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
    },
    /// A Spot container group breaks one of ACI's Spot rules.
    #[error("pod {pod}: Spot priority: {message}")]
    SpotRule {
        /// The pod.
        pod: String,
        /// Which rule, and what the pod asks for.
        message: String,
    },
    /// A pod field ACI cannot express, where running without it would change
    /// what the pod means (host namespaces, shareProcessNamespace, ...).
    #[error("pod {pod}: {field}: {message}")]
    UnsupportedField {
        /// The pod.
        pod: String,
        /// The field, as in the pod spec.
        field: String,
        /// The CamelCase reason.
        reason: &'static str,
        /// Why ACI cannot run it, and what to do.
        message: String,
    },
    /// The pod cannot be sized for ACI (too big, bad quantity, GPU not offered...).
    #[error("pod {pod}: {source}")]
    Sizing {
        /// The pod.
        pod: String,
        /// The sizing error.
        #[source]
        source: vk_resources::Error,
    },
}

impl Error {
    /// The CamelCase reason for the pod's status and events. Missing
    /// references use the reasons of the Go virtual-kubelet library
    /// (`MandatorySecretNotFound`, ...), which its users' tooling knows.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidConfig { .. } | Self::Client { .. } => "InvalidConfig",
            Self::NoSpec { .. } => "InvalidPodSpec",
            Self::MissingSecret { .. } => "MandatorySecretNotFound",
            Self::MissingConfigMap { .. } => "MandatoryConfigMapNotFound",
            Self::MissingKey { kind: "Secret", .. } => "MandatorySecretKeyNotFound",
            Self::MissingKey { .. } => "MandatoryConfigMapKeyNotFound",
            Self::Fetch { .. } => "ReferenceFetchFailed",
            Self::ServiceAccountToken { .. } | Self::EmptyToken { .. } => {
                "ServiceAccountTokenFailed"
            }
            Self::UnsupportedVolume { .. } => "UnsupportedVolume",
            Self::InvalidVolume { .. } => "InvalidVolume",
            Self::TooManyVolumes { .. } => "TooManyVolumes",
            Self::UnknownVolumeMount { .. } => "UnknownVolumeMount",
            Self::SubPathUnsupported { .. } => "SubPathUnsupported",
            Self::InvalidMountPath { .. } => "InvalidMountPath",
            Self::ArgsWithoutCommand { .. } => "ArgsWithoutCommand",
            Self::InvalidAnnotation { .. } => "InvalidAnnotation",
            Self::DuplicatePort { .. } => "DuplicatePort",
            Self::InvalidPort { .. } => "InvalidPort",
            Self::TooManyPorts { .. } => "TooManyPorts",
            Self::UnknownProbePort { .. } => "InvalidProbe",
            Self::InvalidEnv { .. } => "UnsupportedEnv",
            Self::SecretInCommand { .. } => "SecretInCommand",
            Self::SpotWithPublicIp { .. } | Self::SpotRule { .. } => "SpotNotSupported",
            Self::WindowsUnsupported { .. } => "WindowsUnsupported",
            Self::Privileged { .. } => "PrivilegedNotSupported",
            Self::InvalidImageName { .. } => "InvalidImageName",
            Self::UnsupportedField { reason, .. } => reason,
            Self::Sizing { source, .. } => sizing_reason(source),
        }
    }

    /// Whether retrying later may succeed without the pod changing (API failures).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Fetch { .. } | Self::ServiceAccountToken { .. } | Self::EmptyToken { .. }
        )
    }

    /// Whether the pod may start once a missing object is created.
    pub fn is_missing_reference(&self) -> bool {
        matches!(
            self,
            Self::MissingSecret { .. } | Self::MissingConfigMap { .. } | Self::MissingKey { .. }
        )
    }

    /// The container at fault, when the error names one.
    pub fn container(&self) -> Option<&str> {
        match self {
            Self::UnknownVolumeMount { container, .. }
            | Self::SubPathUnsupported { container, .. }
            | Self::InvalidMountPath { container, .. }
            | Self::ArgsWithoutCommand { container, .. }
            | Self::InvalidPort { container, .. }
            | Self::UnknownProbePort { container, .. }
            | Self::InvalidEnv { container, .. }
            | Self::SecretInCommand { container, .. }
            | Self::Privileged { container, .. }
            | Self::InvalidImageName { container, .. } => Some(container),
            Self::WindowsUnsupported { container, .. } => container.as_deref(),
            _ => None,
        }
    }

    /// This error as the reconciler's [`ProviderError`]:
    /// [`ErrorKind::Transient`] for API failures while resolving references,
    /// [`ErrorKind::ConfigUnavailable`] for missing Secrets, ConfigMaps and
    /// keys (the pod starts once they exist), [`ErrorKind::InvalidSpec`] for
    /// everything else (the pod is held Pending with the reason).
    pub fn to_provider_error(&self) -> ProviderError {
        let kind = if self.is_transient() {
            ErrorKind::Transient
        } else if self.is_missing_reference() {
            ErrorKind::ConfigUnavailable
        } else {
            ErrorKind::InvalidSpec
        };
        let e = ProviderError::new(kind, self.reason(), self.to_string());
        match self.container() {
            Some(c) => e.with_container(c),
            None => e,
        }
    }
}

impl From<Error> for ProviderError {
    fn from(e: Error) -> Self {
        e.to_provider_error()
    }
}

/// The CamelCase reason of a sizing error: the variant's name.
fn sizing_reason(e: &vk_resources::Error) -> &'static str {
    use vk_resources::Error as E;
    match e {
        E::InvalidQuantity { .. } | E::ContainerQuantity { .. } | E::CapacityQuantity { .. } => {
            "InvalidQuantity"
        }
        E::NegativeQuantity { .. } => "NegativeQuantity",
        E::LimitBelowRequest { .. } => "LimitBelowRequest",
        E::NoContainers { .. } => "NoContainers",
        E::TooManyContainers { .. } => "TooManyContainers",
        E::WindowsMultiContainer { .. } => "WindowsMultiContainer",
        E::UnsupportedResource { .. } => "UnsupportedResource",
        E::ExceedsGroupMaximum { .. } => "ExceedsGroupMaximum",
        E::NoGroupLimits { .. } => "NoGroupLimits",
        E::InvalidGpuCount { .. } => "InvalidGpuCount",
        E::GpuRequestLimitMismatch { .. } => "GpuRequestLimitMismatch",
        E::GpuOnWindows { .. } => "GpuOnWindows",
        E::GpuInInitContainer { .. } => "GpuInInitContainer",
        E::UnknownGpuSku { .. } => "UnknownGpuSku",
        E::GpuUnavailable { .. } => "GpuUnavailable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_secret_is_a_config_error_retried_until_it_exists() {
        let e = Error::MissingSecret {
            pod: "ns/p".into(),
            namespace: "ns".into(),
            name: "x".into(),
        };
        let p = e.to_provider_error();
        assert_eq!(p.kind, ErrorKind::ConfigUnavailable);
        assert_eq!(p.reason, "MandatorySecretNotFound");
        assert!(
            p.message.contains("secret \"x\" not found"),
            "{}",
            p.message
        );
    }

    #[test]
    fn fetch_failures_are_transient() {
        let e = Error::Fetch {
            pod: "ns/p".into(),
            kind: "Secret",
            namespace: "ns".into(),
            name: "x".into(),
            source: kube::Error::Api(Box::new(
                kube::core::Status::failure("boom", "InternalError").with_code(500),
            )),
        };
        assert_eq!(e.to_provider_error().kind, ErrorKind::Transient);
    }

    #[test]
    fn sizing_reason_names_the_limit() {
        let e = Error::Sizing {
            pod: "ns/p".into(),
            source: vk_resources::Error::ExceedsGroupMaximum {
                resource: "cpu",
                requested: "64".into(),
                maximum: "31".into(),
                os: vk_resources::OsType::Linux,
                sku: vk_resources::GroupSku::Standard,
                gpu: None,
            },
        };
        let p = ProviderError::from(e);
        assert_eq!(p.reason, "ExceedsGroupMaximum");
        assert!(
            p.message.contains("cpu 64 exceeds the ACI maximum 31"),
            "{}",
            p.message
        );
    }
}
