//! The configuration model and how it is loaded.
//!
//! Layers, lowest precedence first (each one only overrides what it sets):
//!
//! 1. defaults ([`Config::default`]);
//! 2. the TOML file given with `--config` / `VK_CONFIG` (an explicit file that is missing is an
//!    error);
//! 3. `VK_`-prefixed environment variables, nested with `__`: `VK_ACI__RESOURCE_GROUP` sets
//!    `aci.resource_group`. Scalars are taken as strings and converted to the field's type, so
//!    `VK_CLUSTER_ID=0042` stays `"0042"`; lists and tables use TOML syntax
//!    (`VK_NODES='[{name="a"},{name="b",os="windows",kubelet_port=10251}]'`);
//!    Below them, the Go provider's variables (`ACI_REGION`, `VKUBELET_TAINT_KEY`, …) are
//!    accepted as deprecated aliases ([`legacy`]);
//! 4. command-line flags ([`crate::cli::ConfigArgs`]); flags that are not given change nothing.
//!    `--node-name`, `--os`, `--internal-ip` and `--kubelet-port` override `nodes[0]` only.
//!
//! Then values that depend on the host are resolved ([`Config::resolve`]: a node's internal IP,
//! the HA identity) and everything is validated ([`Config::validate`]), with one error per bad
//! field, named by its path (`nodes[1].name: must be a DNS-1123 subdomain …`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};
use vk_taints::names::label_value;

use crate::cli::{ConfigArgs, NodeArgs};

pub(crate) mod legacy;

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

/// The whole configuration of one vk process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    /// Identifies this cluster; written as a tag on every ACI container group vk creates, so
    /// several clusters can share a resource group.
    pub(crate) cluster_id: String,
    /// Kubeconfig file; in-cluster or `KUBECONFIG` inference when unset.
    pub(crate) kubeconfig: Option<PathBuf>,
    /// Delete the pods of the virtual nodes on SIGTERM (default: leave them running in ACI).
    pub(crate) drain_on_shutdown: bool,
    /// The virtual nodes this process serves (at least one).
    pub(crate) nodes: Vec<NodeSpec>,
    /// Azure Container Instances.
    pub(crate) aci: vk_provider_aci::AciConfig,
    /// The node Lease in `kube-node-lease`.
    pub(crate) lease: vk_node::LeaseConfig,
    /// Node status writes and provider health checks.
    pub(crate) status: vk_node::StatusConfig,
    /// The pod reconciler.
    pub(crate) reconciler: vk_pods::ReconcilerConfig,
    /// The Kubernetes client.
    pub(crate) kube: vk_kube::ClientConfig,
    /// Leader election between replicas.
    pub(crate) ha: vk_kube::LeaderConfig,
    /// The admin HTTP port (health, readiness, metrics).
    pub(crate) admin: AdminSpec,
    /// The kubelet API (logs, exec).
    pub(crate) kubelet: vk_kubelet_api::KubeletConfig,
    /// Logging.
    pub(crate) log: LogSpec,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            cluster_id: "default".into(),
            kubeconfig: None,
            drain_on_shutdown: false,
            nodes: vec![NodeSpec::default()],
            aci: vk_provider_aci::AciConfig::default(),
            lease: vk_node::LeaseConfig::default(),
            status: vk_node::StatusConfig::default(),
            reconciler: vk_pods::ReconcilerConfig::default(),
            kube: vk_kube::ClientConfig::default(),
            ha: vk_kube::LeaderConfig::default(),
            admin: AdminSpec::default(),
            kubelet: vk_kubelet_api::KubeletConfig::default(),
            log: LogSpec::default(),
        }
    }
}

/// The operating system of a virtual node's pods (vk's one OS type).
pub(crate) use vk_resources::OsType as Os;

pub(crate) use vk_node::{DEFAULT_KUBELET_PORT, FALLBACK_INTERNAL_IP, NodeSpec};

/// The admin HTTP port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct AdminSpec {
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    pub(crate) listen: SocketAddr,
}

impl Default for AdminSpec {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 10255)),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LogSpec {
    /// Output format.
    pub(crate) format: LogFormat,
    /// `RUST_LOG`-style filter (`info`, `vk=debug,kube=info`); `RUST_LOG` overrides it.
    pub(crate) filter: String,
}

impl Default for LogSpec {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Host context and resolution
// ---------------------------------------------------------------------------------------------

/// Facts about the host that fill in unset values. Read once by `main`
/// ([`HostContext::from_process`]) and passed in, so loading is deterministic in tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HostContext {
    /// `POD_IP` (downward API): the default internal IP of the nodes.
    pub(crate) pod_ip: Option<String>,
    /// `POD_NAME` (downward API): the default HA identity.
    pub(crate) pod_name: Option<String>,
    /// The hostname: the HA identity when `POD_NAME` is unset.
    pub(crate) hostname: Option<String>,
}

impl HostContext {
    /// Reads `POD_IP`, `POD_NAME` and the hostname.
    pub(crate) fn from_process() -> Self {
        let var = |key: &str| std::env::var(key).ok().filter(|v| !v.trim().is_empty());
        Self {
            pod_ip: var("POD_IP"),
            pod_name: var("POD_NAME"),
            hostname: hostname::get()
                .ok()
                .and_then(|h| h.into_string().ok())
                .filter(|h| !h.is_empty()),
        }
    }
}

impl Config {
    /// Fills in values that depend on the host: each node's internal IP (`POD_IP`, else
    /// 127.0.0.1) and the HA identity (`POD_NAME`, else the hostname, else `vk`).
    pub(crate) fn resolve(&mut self, host: &HostContext) {
        for node in &mut self.nodes {
            if node.internal_ip.is_none() {
                node.internal_ip = Some(
                    host.pod_ip
                        .clone()
                        .unwrap_or_else(|| FALLBACK_INTERNAL_IP.into()),
                );
            }
        }
        if self.ha.identity.is_none() {
            self.ha.identity = Some(
                host.pod_name
                    .clone()
                    .or_else(|| host.hostname.clone())
                    .unwrap_or_else(|| "vk".into()),
            );
        }
    }

    /// Applies the node flags: `--nodes` replaces the node list, then `--node-name`, `--os`,
    /// `--internal-ip` and `--kubelet-port` override `nodes[0]`.
    fn apply_node_flags(&mut self, flags: &NodeArgs) {
        if flags.is_empty() {
            return;
        }
        if let Some(systems) = &flags.nodes {
            self.nodes = systems
                .iter()
                .zip(DEFAULT_KUBELET_PORT..)
                .map(|(&os, kubelet_port)| {
                    let mut node =
                        NodeSpec::new(format!("virtual-kubelet-aci-{}", os.as_str()), os);
                    node.kubelet_port = kubelet_port;
                    node
                })
                .collect();
        }
        if self.nodes.is_empty() {
            self.nodes.push(NodeSpec::default());
        }
        let node = &mut self.nodes[0];
        if let Some(name) = &flags.node_name {
            node.name.clone_from(name);
        }
        if let Some(os) = flags.os {
            node.os = os;
        }
        if let Some(ip) = &flags.internal_ip {
            node.internal_ip = Some(ip.clone());
        }
        if let Some(port) = flags.kubelet_port {
            node.kubelet_port = port;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// A configuration that could not be loaded or is invalid. Each message names its field.
#[derive(Debug)]
pub(crate) enum ConfigError {
    /// A layer could not be read or does not fit the model.
    Load(Box<figment::Error>),
    /// The values do not pass validation.
    Invalid(Vec<FieldError>),
}

impl ConfigError {
    /// One message per problem, each `path: what is wrong`.
    pub(crate) fn messages(&self) -> Vec<String> {
        match self {
            Self::Load(err) => (**err).clone().into_iter().map(|e| describe(&e)).collect(),
            Self::Invalid(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.messages().join("; "))
    }
}

impl std::error::Error for ConfigError {}

impl From<figment::Error> for ConfigError {
    fn from(err: figment::Error) -> Self {
        Self::Load(Box::new(err))
    }
}

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    /// Its path: `nodes[1].name`, `aci.region`.
    pub(crate) path: String,
    /// What is wrong.
    pub(crate) message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Renders a figment key path: `["nodes", "1", "name"]` → `nodes[1].name`.
fn render_path<S: AsRef<str>>(path: &[S]) -> String {
    let mut out = String::new();
    for segment in path {
        let segment = segment.as_ref();
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(segment);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

/// One figment error as `path: message (from source)`.
fn describe(err: &figment::Error) -> String {
    use figment::error::Kind;
    let mut path = err.path.clone();
    let message = match &err.kind {
        // Name the unknown field itself, not only the table holding it.
        Kind::UnknownField(field, expected) => {
            if path.last() != Some(field) {
                path.push(field.clone());
            }
            format!("unknown field (expected {})", one_of(expected))
        }
        Kind::UnknownVariant(variant, expected) => {
            format!(
                "unknown variant {variant:?} (expected {})",
                one_of(expected)
            )
        }
        kind => kind.to_string(),
    };
    let origin = err.metadata.as_ref().map(|md| {
        if md.name.contains("environment variable") {
            // Name the variable: the key path up to the first list index, `__`-joined.
            let keys: Vec<String> = path
                .iter()
                .take_while(|k| !k.bytes().all(|b| b.is_ascii_digit()))
                .map(|k| k.to_ascii_uppercase())
                .collect();
            format!("environment variable VK_{}", keys.join("__"))
        } else {
            match &md.source {
                Some(source) => format!("{} {source}", md.name),
                None => md.name.to_string(),
            }
        }
    });
    let path = render_path(&path);
    let message = message.trim_end();
    match (path.is_empty(), origin) {
        // A whole layer failed (a missing file, TOML syntax): lead with where.
        (true, Some(origin)) => format!("{origin}: {message}"),
        (true, None) => message.to_string(),
        (false, Some(origin)) => format!("{path}: {message} (from {origin})"),
        (false, None) => format!("{path}: {message}"),
    }
}

fn one_of(expected: &[&str]) -> String {
    match expected {
        [] => "none here".to_string(),
        [one] => format!("{one:?}"),
        many => {
            let quoted: Vec<String> = many.iter().map(|e| format!("{e:?}")).collect();
            format!("one of {}", quoted.join(", "))
        }
    }
}

/// The `VK_` environment layer. Unlike figment's `Env`, scalar values stay strings (the
/// deserializer converts them to numbers or booleans where the field is one), so
/// `VK_CLUSTER_ID=0042` is not read as the number 42; values written as TOML arrays or tables
/// are parsed as such.
struct EnvLayer {
    env: Env,
}

impl EnvLayer {
    fn new() -> Self {
        Self {
            env: Env::prefixed("VK_").split("__").ignore(&["config"]),
        }
    }
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        self.env.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (key, raw) in self.env.iter() {
            if is_service_link(key.as_str()) || is_tooling_var(key.as_str()) {
                continue;
            }
            let value = match raw.parse::<Value>() {
                Ok(parsed @ (Value::Array(..) | Value::Dict(..))) => parsed,
                _ => Value::from(raw),
            };
            insert_nested(&mut dict, key.as_str(), value);
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Whether `key` (lowercased, `VK_` stripped) comes from the variables the kubelet injects for
/// Services whose names start with `vk` (`VK_SERVICE_HOST`, `VK_PORT_10255_TCP_ADDR`,
/// `VK_METRICS_SERVICE_PORT`, …) rather than from the user. No configuration key looks like
/// these, and rejecting them as unknown fields would crash-loop vk whenever a Service named
/// `vk…` exists in its namespace.
fn is_service_link(key: &str) -> bool {
    if key.contains('.') {
        return false;
    }
    let parts: Vec<&str> = key.split('_').collect();
    let is_proto = |p: &str| matches!(p, "tcp" | "udp" | "sctp");
    let is_port_number = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        // <NAME>_SERVICE_HOST, <NAME>_SERVICE_PORT, <NAME>_SERVICE_PORT_<PORT_NAME>
        [.., "service", "host"] | [.., "service", "port"] => true,
        _ if key.starts_with("service_port_") || key.contains("_service_port_") => true,
        // <NAME>_PORT
        [.., "port"] => true,
        // <NAME>_PORT_<N>_<PROTO>[_PROTO|_ADDR] (…_PORT is caught above)
        [.., "port", n, proto] if is_port_number(n) && is_proto(proto) => true,
        [.., "port", n, proto, "proto" | "addr"] if is_port_number(n) && is_proto(proto) => true,
        _ => false,
    }
}

/// Whether `key` (lowercased, `VK_` stripped) belongs to vk's own development tooling
/// (`VK_TEST_*` for the test kit, `VK_CHAOS_*` for the fault tests, `VK_CONTROL_PLANE_BIN`, `VK_CLUSTERS_DIR` for the local
/// cluster, `VK_ACI_SPEC_DIR` for the spec conformance tests) rather than to vk's
/// configuration: a developer's shell may export them while running vk.
fn is_tooling_var(key: &str) -> bool {
    [
        "test_",
        "chaos_",
        "control_plane_",
        "clusters_dir",
        "aci_spec_dir",
    ]
    .iter()
    .any(|p| key.starts_with(p))
}

/// Inserts `value` at the dotted `key` of `dict`, merging with what is there.
fn insert_nested(dict: &mut Dict, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            dict.insert(key.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = dict
                .entry(head.to_string())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert_nested(inner, rest, value);
            }
        }
    }
}

/// The command-line layer: the flags that were given.
struct FlagLayer<'a>(&'a ConfigArgs);

impl Provider for FlagLayer<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named("command-line flags")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::defaults(self.0).data()
    }
}

/// The layered figment: defaults < file < the Go provider's variables ([`legacy`]) < `VK_` env
/// < flags (except the `nodes[0]` flags,
/// applied after extraction by [`load_unvalidated`]).
pub(crate) fn figment(args: &ConfigArgs) -> Figment {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = &args.config {
        figment = figment.merge(Toml::file_exact(path));
    }
    // The Go provider's variables, between the file and the `VK_` variables.
    let figment = legacy::merge(figment);
    figment.merge(EnvLayer::new()).merge(FlagLayer(args))
}

/// Loads and resolves the configuration without validating it (`vk config print`).
pub(crate) fn load_unvalidated(
    args: &ConfigArgs,
    host: &HostContext,
) -> Result<Config, ConfigError> {
    let mut config: Config = figment(args).extract_lossy()?;
    config.apply_node_flags(&args.node);
    config.resolve(host);
    Ok(config)
}

/// Loads, resolves and validates the configuration.
pub(crate) fn load(args: &ConfigArgs, host: &HostContext) -> Result<Config, ConfigError> {
    let config = load_unvalidated(args, host)?;
    config.validate().map_err(ConfigError::Invalid)?;
    Ok(config)
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// Collects field errors.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }

    fn check(&mut self, path: impl Into<String>, result: Result<(), String>) {
        if let Err(message) = result {
            self.add(path, message);
        }
    }

    /// A library's problems with its table at `table` (`aci`, `nodes[1]`): an invalid key
    /// becomes `table.key`, any other error is the table's. vk-node's `[lease]` and `[status]`
    /// name their whole path, so their table is `""`.
    fn library<E: LibraryProblem>(&mut self, table: &str, problems: impl IntoIterator<Item = E>) {
        for problem in problems {
            match problem.invalid_key() {
                Ok((key, reason)) if table.is_empty() => self.add(key, reason),
                Ok((key, reason)) => self.add(format!("{table}.{key}"), reason),
                Err(other) => self.add(table, other.to_string()),
            }
        }
    }
}

/// A library error that may be its `InvalidConfig { field, reason }`.
trait LibraryProblem: fmt::Display + Sized {
    /// The invalid key (relative to the library's table) and why, or the error itself.
    fn invalid_key(self) -> Result<(String, String), Self>;
}

/// [`LibraryProblem`] for the `Error` of each crate whose configuration [`Config`] embeds.
macro_rules! library_problem {
    ($($krate:ident),+) => {$(
        impl LibraryProblem for $krate::Error {
            fn invalid_key(self) -> Result<(String, String), Self> {
                match self {
                    $krate::Error::InvalidConfig { field, reason } => Ok((field.to_string(), reason)),
                    other => Err(other),
                }
            }
        }
    )+};
}

library_problem!(vk_kube, vk_node, vk_pods, vk_kubelet_api, vk_provider_aci);

impl Config {
    /// Checks every value, including that the files named exist. Returns all errors, each
    /// naming its field.
    pub(crate) fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        self.validate_into(&mut errors);
        if errors.0.is_empty() {
            Ok(())
        } else {
            Err(errors.0)
        }
    }

    fn validate_into(&self, e: &mut Errors) {
        if self.cluster_id.is_empty() || label_value(&self.cluster_id).is_err() {
            e.add(
                "cluster_id",
                format!(
                    "must be at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, got {:?}",
                    self.cluster_id
                ),
            );
        }
        if let Some(path) = &self.kubeconfig {
            e.check("kubeconfig", existing_file(path));
        }

        if self.nodes.is_empty() {
            e.add("nodes", "at least one node is required");
        }
        let mut names: BTreeMap<&str, usize> = BTreeMap::new();
        let mut ports: BTreeMap<u16, usize> = BTreeMap::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let at = format!("nodes[{i}]");
            e.library(&at, node.validate().err().unwrap_or_default());
            if let Some(first) = names.insert(&node.name, i) {
                names.insert(&node.name, first);
                e.add(
                    format!("{at}.name"),
                    format!("duplicate node name {:?} (also nodes[{first}])", node.name),
                );
            }
            // A port of 0 is named by the entry's own check.
            if node.kubelet_port == 0 {
                continue;
            }
            if let Some(first) = ports.insert(node.kubelet_port, i) {
                ports.insert(node.kubelet_port, first);
                e.add(
                    format!("{at}.kubelet_port"),
                    format!(
                        "port {} is already used by nodes[{first}]; each node needs its own kubelet port",
                        node.kubelet_port
                    ),
                );
            } else if node.kubelet_port == self.admin.listen.port() {
                e.add(
                    format!("{at}.kubelet_port"),
                    format!(
                        "port {} is the admin port (admin.listen)",
                        node.kubelet_port
                    ),
                );
            }
        }

        e.library("aci", self.aci.validate().err().unwrap_or_default());
        e.library("", self.lease.validate().err());
        e.library("", self.status.validate().err());
        e.library("reconciler", self.reconciler.validate().err());
        e.library("kube", self.kube.validate().err().unwrap_or_default());
        e.library("ha", self.ha.validate().err().unwrap_or_default());
        if self.ha.enabled {
            let budget = self
                .lease
                .duration
                .saturating_sub(self.lease.renew_interval)
                .as_secs();
            if u64::from(self.ha.lease_duration_secs) >= budget {
                e.add(
                    "ha.lease_duration_secs",
                    format!(
                        "must be shorter than lease.duration_secs - lease.renew_interval_secs ({budget}) so a standby takes over before the node lease expires"
                    ),
                );
            }
        }

        e.library("kubelet", self.kubelet.validate().err().unwrap_or_default());

        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log.filter) {
            e.add(
                "log.filter",
                format!("invalid filter {:?}: {err}", self.log.filter),
            );
        }
    }
}

fn existing_file(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(md) if md.is_file() => Ok(()),
        Ok(_) => Err(format!("{} is not a file", path.display())),
        Err(err) => Err(format!("cannot read {}: {err}", path.display())),
    }
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

/// The format of `vk config print`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PrintFormat {
    /// TOML, as in a config file.
    #[default]
    Toml,
    /// JSON.
    Json,
}

impl Config {
    /// The configuration as text, secrets redacted.
    pub(crate) fn render(&self, format: PrintFormat) -> anyhow::Result<String> {
        Ok(match format {
            PrintFormat::Toml => toml::to_string_pretty(self)?,
            PrintFormat::Json => {
                let mut json = serde_json::to_string_pretty(self)?;
                json.push('\n');
                json
            }
        })
    }
}

#[cfg(test)]
mod tests;
