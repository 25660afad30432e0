//! The command line.
//!
//! Every configuration flag is an `Option`: a flag that is not given serializes to nothing and
//! so never overrides the file or the environment (see [`crate::config`]). Flags are global, so
//! `vk config print --aci-region northeurope` shows what `vk --aci-region northeurope` would
//! run with.
#![allow(
    rustdoc::invalid_html_tags,
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    reason = "the doc comments here are clap's --help texts (`<os>`, `[default: …]`), written for a terminal"
)]

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::config::{LogFormat, Os, PrintFormat};

const AFTER_HELP: &str = "\
Configuration is layered, each layer overriding the ones before it:
  1. built-in defaults            (see `vk config print`)
  2. the TOML file of --config    (VK_CONFIG)
  3. VK_ environment variables    (VK_ACI__RESOURCE_GROUP sets aci.resource_group; '__' nests)
  4. command-line flags

Secrets belong in the environment, e.g. VK_ACI__CREDENTIALS__CLIENT_SECRET from a Kubernetes
Secret. RUST_LOG, when set, overrides the log filter. POD_IP (downward API) is the default
internal IP of the nodes, POD_NAME the default HA identity.

Exit codes: 0 clean shutdown, 1 runtime error, 64 invalid command line or configuration.";

/// A virtual kubelet that runs Kubernetes pods on Azure Container Instances.
///
/// Without a subcommand, vk registers its virtual nodes and serves their pods until SIGTERM or
/// SIGINT.
#[derive(Debug, Parser)]
#[command(name = "vk", version, about, long_about, after_long_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// Configuration flags (global: they apply to the subcommands too).
    #[command(flatten)]
    pub(crate) config: ConfigArgs,

    /// What to do; runs the virtual kubelet when omitted.
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Inspect the effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Install vk into the cluster of --kubeconfig (like `az aks install-connector`): the
    /// embedded deploy/base manifests, rendered for these options, applied with server-side
    /// apply. Idempotent; --dry-run prints the YAML.
    Install(vk_install::InstallArgs),
    /// Remove what `vk install` created (objects labelled app.kubernetes.io/managed-by=vk-install),
    /// the namespace only when it holds no Secret or ConfigMap install did not create. Takes the
    /// same options as install.
    Uninstall(vk_install::InstallArgs),
}

/// `vk config …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print the effective configuration (defaults < file < VK_ env < flags), secrets redacted.
    ///
    /// Exits 64 (after printing) when the configuration does not validate.
    Print {
        /// Output format.
        #[arg(long, value_enum, default_value_t = PrintFormat::Toml)]
        format: PrintFormat,
    },
    /// Check the configuration: exit 0 when valid, else 64 with one line per invalid field.
    Validate,
}

/// The configuration flags. Field names match the configuration's keys, so serializing the
/// given flags yields a configuration layer.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub(crate) struct ConfigArgs {
    /// TOML configuration file; an error if it does not exist.
    #[arg(long, env = "VK_CONFIG", value_name = "PATH", global = true)]
    #[serde(skip)]
    pub(crate) config: Option<PathBuf>,

    /// Kubeconfig file [default: in-cluster config, else KUBECONFIG or ~/.kube/config].
    #[arg(long, value_name = "PATH", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kubeconfig: Option<PathBuf>,

    /// Cluster identity, tagged on every ACI container group vk creates [default: default].
    #[arg(long, value_name = "ID", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cluster_id: Option<String>,

    /// Delete the virtual nodes' pods on shutdown instead of leaving them running in ACI
    /// [default: false].
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) drain_on_shutdown: Option<bool>,

    /// The first node (nodes[0]); more nodes come from the configuration file.
    #[command(flatten)]
    #[serde(skip)]
    pub(crate) node: NodeArgs,

    /// Logging.
    #[command(flatten)]
    pub(crate) log: LogArgs,

    /// The admin port.
    #[command(flatten)]
    pub(crate) admin: AdminArgs,

    /// Azure Container Instances.
    #[command(flatten)]
    pub(crate) aci: AciArgs,

    /// The Kubernetes client.
    #[command(flatten)]
    pub(crate) kube: KubeArgs,

    /// The pod reconciler.
    #[command(flatten)]
    pub(crate) reconciler: ReconcilerArgs,

    /// Leader election.
    #[command(flatten)]
    pub(crate) ha: HaArgs,

    /// The kubelet API.
    #[command(flatten)]
    pub(crate) kubelet: KubeletArgs,
}

/// Parses `linux` or `windows` (listed in `--help` as the possible values).
fn os_parser() -> impl clap::builder::TypedValueParser<Value = Os> {
    clap::builder::PossibleValuesParser::new(["linux", "windows"]).map(|os| {
        if os == "windows" {
            Os::Windows
        } else {
            Os::Linux
        }
    })
}

/// Node flags, applied after the other layers: `--nodes` replaces the node list, the others
/// override `nodes[0]`.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Nodes")]
pub(crate) struct NodeArgs {
    /// Serve one node per OS, replacing the configured nodes: named virtual-kubelet-aci-<os>,
    /// kubelet ports 10250, 10251, … (e.g. --nodes linux,windows).
    #[arg(
        long,
        value_parser = os_parser(),
        value_delimiter = ',',
        value_name = "OS,...",
        global = true
    )]
    pub(crate) nodes: Option<Vec<Os>>,

    /// Name of the first virtual node [default: virtual-kubelet-aci-linux].
    #[arg(long, value_name = "NAME", global = true)]
    pub(crate) node_name: Option<String>,

    /// Operating system of the first node's pods [default: linux].
    #[arg(long, value_parser = os_parser(), value_name = "OS", global = true)]
    pub(crate) os: Option<Os>,

    /// InternalIP address of the first node [default: $POD_IP, else 127.0.0.1].
    #[arg(long, value_name = "IP", global = true)]
    pub(crate) internal_ip: Option<String>,

    /// Kubelet API port of the first node [default: 10250].
    #[arg(long, value_name = "PORT", global = true)]
    pub(crate) kubelet_port: Option<u16>,
}

impl NodeArgs {
    /// No node flag was given.
    pub(crate) fn is_empty(&self) -> bool {
        self.nodes.is_none()
            && self.node_name.is_none()
            && self.os.is_none()
            && self.internal_ip.is_none()
            && self.kubelet_port.is_none()
    }
}

/// `log.*` flags.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[command(next_help_heading = "Logging")]
pub(crate) struct LogArgs {
    /// Log format, to stderr [default: text].
    #[arg(
        id = "log_format",
        long = "log-format",
        value_enum,
        value_name = "FORMAT",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) format: Option<LogFormat>,

    /// Log filter in RUST_LOG syntax, e.g. "info,vk=debug"; RUST_LOG overrides it
    /// [default: info].
    #[arg(
        id = "log_filter",
        long = "log-filter",
        value_name = "FILTER",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) filter: Option<String>,
}

/// `admin.*` flags.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[command(next_help_heading = "Admin port")]
pub(crate) struct AdminArgs {
    /// Address of /healthz, /readyz and /metrics [default: 0.0.0.0:10255].
    #[arg(
        id = "admin_listen",
        long = "admin-listen",
        value_name = "ADDR",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) listen: Option<SocketAddr>,
}

/// `aci.*` flags.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[command(next_help_heading = "Azure Container Instances")]
pub(crate) struct AciArgs {
    /// Azure subscription ID (a GUID) of the container groups.
    #[arg(
        id = "aci_subscription_id",
        long = "aci-subscription-id",
        value_name = "GUID",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) subscription_id: Option<String>,

    /// Resource group of the container groups.
    #[arg(
        id = "aci_resource_group",
        long = "aci-resource-group",
        value_name = "NAME",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resource_group: Option<String>,

    /// Azure region of the container groups [default: westeurope].
    #[arg(
        id = "aci_region",
        long = "aci-region",
        value_name = "REGION",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) region: Option<String>,

    /// ARM endpoint, e.g. the ACI emulator's URL [default: https://management.azure.com].
    #[arg(
        id = "aci_arm_endpoint",
        long = "aci-arm-endpoint",
        value_name = "URL",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) arm_endpoint: Option<String>,

    /// Microsoft Entra ID authority host [default: https://login.microsoftonline.com].
    #[arg(
        id = "aci_authority_host",
        long = "aci-authority-host",
        value_name = "URL",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) authority_host: Option<String>,

    /// Subnet resource ID for VNet-injected container groups [default: none, public IPs].
    #[arg(
        id = "aci_subnet_id",
        long = "aci-subnet-id",
        value_name = "ID",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) subnet_id: Option<String>,
}

/// `kube.*` flags.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[command(next_help_heading = "Kubernetes client")]
pub(crate) struct KubeArgs {
    /// Sustained requests per second to the API server [default: 500].
    #[arg(id = "kube_qps", long = "kube-qps", value_name = "QPS", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) qps: Option<f64>,

    /// Request burst above --kube-qps [default: 1000].
    #[arg(
        id = "kube_burst",
        long = "kube-burst",
        value_name = "N",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) burst: Option<u32>,
}

/// `reconciler.*` flags.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[command(next_help_heading = "Pod reconciler")]
pub(crate) struct ReconcilerArgs {
    /// Pods reconciled concurrently [default: 128].
    #[arg(
        id = "reconcile_concurrency",
        long = "reconcile-concurrency",
        value_name = "N",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) concurrency: Option<u16>,
}

/// `ha.*` flags.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[command(next_help_heading = "High availability")]
pub(crate) struct HaArgs {
    /// Run as one of several replicas; only the holder of the leader Lease serves the nodes
    /// [default: false].
    #[arg(
        id = "ha_enabled",
        long = "ha",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) enabled: Option<bool>,

    /// Namespace of the leader Lease [default: vk-system].
    #[arg(
        id = "ha_namespace",
        long = "ha-namespace",
        value_name = "NAMESPACE",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) namespace: Option<String>,

    /// Name of the leader Lease [default: vk-leader].
    #[arg(
        id = "ha_lease_name",
        long = "ha-lease-name",
        value_name = "NAME",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) lease_name: Option<String>,

    /// This replica's identity in the leader Lease [default: $POD_NAME, else the hostname].
    #[arg(
        id = "ha_identity",
        long = "ha-identity",
        value_name = "ID",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) identity: Option<String>,
}

/// `kubelet.*` flags.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[command(next_help_heading = "Kubelet API")]
pub(crate) struct KubeletArgs {
    /// Serving certificate of the kubelet API (PEM), with --kubelet-tls-key.
    #[arg(
        id = "kubelet_tls_cert",
        long = "kubelet-tls-cert",
        value_name = "PATH",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// Serving key of the kubelet API (PEM), with --kubelet-tls-cert.
    #[arg(
        id = "kubelet_tls_key",
        long = "kubelet-tls-key",
        value_name = "PATH",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tls_key: Option<PathBuf>,

    /// CA bundle that kubelet API client certificates must chain to.
    #[arg(
        id = "kubelet_client_ca",
        long = "kubelet-client-ca",
        value_name = "PATH",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_ca: Option<PathBuf>,

    /// Accept unauthenticated kubelet API requests (never in production) [default: false].
    #[arg(
        id = "kubelet_anonymous_auth",
        long = "kubelet-anonymous-auth",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        global = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) anonymous_auth: Option<bool>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_flag_is_documented() {
        let cmd = Cli::command();
        for arg in cmd.get_arguments() {
            if arg.is_positional() || arg.get_id() == "help" || arg.get_id() == "version" {
                continue;
            }
            assert!(
                arg.get_help().is_some(),
                "flag {} has no help",
                arg.get_id()
            );
        }
    }

    #[test]
    fn flags_not_given_serialize_to_nothing() {
        let cli = Cli::try_parse_from(["vk"]).expect("parses");
        let value = serde_json::to_value(&cli.config).expect("serializes");
        assert_eq!(
            value,
            serde_json::json!({
                "log": {}, "admin": {}, "aci": {}, "kube": {}, "reconciler": {}, "ha": {}, "kubelet": {}
            })
        );
    }

    #[test]
    fn given_flags_serialize_to_config_keys() {
        let cli = Cli::try_parse_from([
            "vk",
            "--aci-resource-group",
            "rg",
            "--kube-qps",
            "50",
            "--drain-on-shutdown",
            "--ha=false",
            "--log-format",
            "json",
        ])
        .expect("parses");
        let value = serde_json::to_value(&cli.config).expect("serializes");
        assert_eq!(value["aci"]["resource_group"], "rg");
        assert_eq!(value["kube"]["qps"], 50.0);
        assert_eq!(value["drain_on_shutdown"], true);
        assert_eq!(value["ha"]["enabled"], false);
        assert_eq!(value["log"]["format"], "json");
    }

    #[test]
    fn flags_are_global() {
        let cli = Cli::try_parse_from([
            "vk",
            "config",
            "print",
            "--node-name",
            "n1",
            "--format",
            "json",
        ])
        .expect("parses");
        assert_eq!(cli.config.node.node_name.as_deref(), Some("n1"));
        assert!(matches!(
            cli.command,
            Some(Command::Config(ConfigCommand::Print {
                format: PrintFormat::Json
            }))
        ));
    }
}
