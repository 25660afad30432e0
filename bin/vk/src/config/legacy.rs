//! The Go provider's environment variables (virtual-kubelet/azure-aci and its Helm chart),
//! accepted as deprecated aliases of vk's keys so a deployment moves over without rewriting.
//!
//! Precedence: defaults < file < **these aliases** < `VK_` variables < flags. Each alias that is
//! set becomes its own configuration layer named after the variable, so an invalid value is
//! reported as `nodes[0].taint.effect: … (from deprecated alias VKUBELET_TAINT_EFFECT)`.
//! [`warnings`] lists what `vk` logs at start for every alias in use (docs/migration.md maps
//! each one, and the Helm values, to vk's configuration).

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::insert_nested;

/// Where an alias's value goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A key of the configuration, dotted (`aci.region`).
    Key(&'static str),
    /// A field of every configured node (the Go provider served one node per process).
    EveryNode(&'static str),
    /// A field of the first node.
    FirstNode(&'static str),
}

impl Target {
    /// The vk key, as docs/configuration.md writes it.
    pub(crate) fn describe(self) -> String {
        match self {
            Self::Key(key) => key.to_owned(),
            Self::EveryNode(field) => format!("nodes[*].{field}"),
            Self::FirstNode(field) => format!("nodes[0].{field}"),
        }
    }

    /// The `VK_` variable a user should set instead, when there is a single one.
    fn vk_variable(self) -> Option<String> {
        match self {
            Self::Key(key) => Some(format!("VK_{}", key.replace('.', "__").to_uppercase())),
            Self::EveryNode(_) | Self::FirstNode(_) => None,
        }
    }
}

/// One Go-provider variable and the vk key it sets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Alias {
    /// The Go provider's variable.
    pub(crate) variable: &'static str,
    /// The vk key it maps to.
    pub(crate) target: Target,
}

/// The Go provider's variables vk maps one to one (`ACI:main.go`, `ACI:pkg/provider/aci.go`).
pub(crate) const ALIASES: &[Alias] = &[
    Alias {
        variable: "ACI_RESOURCE_GROUP",
        target: Target::Key("aci.resource_group"),
    },
    Alias {
        variable: "ACI_REGION",
        target: Target::Key("aci.region"),
    },
    Alias {
        variable: "AZURE_SUBSCRIPTION_ID",
        target: Target::Key("aci.subscription_id"),
    },
    Alias {
        variable: "VKUBELET_TAINT_KEY",
        target: Target::EveryNode("taint.key"),
    },
    Alias {
        variable: "VKUBELET_TAINT_VALUE",
        target: Target::EveryNode("taint.value"),
    },
    Alias {
        variable: "VKUBELET_TAINT_EFFECT",
        target: Target::EveryNode("taint.effect"),
    },
    Alias {
        variable: "ACI_QUOTA_CPU",
        target: Target::EveryNode("capacity.cpu"),
    },
    Alias {
        variable: "ACI_QUOTA_MEMORY",
        target: Target::EveryNode("capacity.memory"),
    },
    Alias {
        variable: "ACI_QUOTA_POD",
        target: Target::EveryNode("capacity.pods"),
    },
    Alias {
        variable: "VKUBELET_POD_IP",
        target: Target::EveryNode("internal_ip"),
    },
    Alias {
        variable: "KUBELET_PORT",
        target: Target::FirstNode("kubelet_port"),
    },
    Alias {
        variable: "APISERVER_CERT_LOCATION",
        target: Target::Key("kubelet.tls_cert"),
    },
    Alias {
        variable: "APISERVER_KEY_LOCATION",
        target: Target::Key("kubelet.tls_key"),
    },
    Alias {
        variable: "APISERVER_CA_CERT_LOCATION",
        target: Target::Key("kubelet.client_ca"),
    },
];

/// The variables that together name the delegated subnet (`aci.subnet_id`): the Go provider
/// composes the subnet's resource ID from them.
pub(crate) const SUBNET_VARIABLES: &[&str] = &[
    "ACI_VNET_SUBSCRIPTION_ID",
    "ACI_VNET_RESOURCE_GROUP",
    "ACI_VNET_NAME",
    "ACI_SUBNET_NAME",
];

/// Go-provider variables vk has no equivalent for: set, they only draw a warning.
pub(crate) const IGNORED: &[(&str, &str)] = &[
    (
        "ACI_SUBNET_CIDR",
        "vk does not create or delegate subnets; create the delegated subnet beforehand",
    ),
    (
        "KUBE_DNS_IP",
        "vk has no kube-proxy/DNS sidecar; pods use ACI's DNS",
    ),
    ("MASTER_URI", "vk has no kube-proxy sidecar"),
    ("CLUSTER_CIDR", "vk has no kube-proxy sidecar"),
    (
        "ENABLE_REAL_TIME_METRICS",
        "vk exports its own metrics on admin.listen (/metrics)",
    ),
    ("ACI_EXTRA_USER_AGENT", "vk sends its own User-Agent"),
    (
        "AKS_CREDENTIAL_LOCATION",
        "use aci.credentials kind = \"azure-json\" with its path",
    ),
    (
        "AZURE_AUTH_LOCATION",
        "use aci.credentials (client-secret or azure-json)",
    ),
];

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// One alias that is set: a layer of its own.
struct AliasLayer {
    name: String,
    dict: Result<Dict, String>,
}

impl Provider for AliasLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("deprecated alias {}", self.name))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        match &self.dict {
            Ok(dict) => Ok(Profile::Default.collect(dict.clone())),
            Err(message) => Err(figment::Error::from(format!("{}: {message}", self.name))),
        }
    }
}

/// The nodes of `figment` with `field` set to `value` on every node (`first_only`: on the
/// first).
fn nodes_with(figment: &Figment, field: &str, value: &str, first_only: bool) -> Value {
    let mut nodes = match figment.find_value("nodes") {
        Ok(Value::Array(_, items)) => items,
        _ => Vec::new(),
    };
    if nodes.is_empty() {
        nodes.push(Value::from(Dict::new()));
    }
    for (i, node) in nodes.iter_mut().enumerate() {
        if first_only && i > 0 {
            break;
        }
        if !matches!(node, Value::Dict(..)) {
            *node = Value::from(Dict::new());
        }
        if let Value::Dict(_, dict) = node {
            insert_nested(dict, field, Value::from(value.to_owned()));
        }
    }
    Value::from(nodes)
}

/// The subnet's resource ID from the Go provider's variables, or why it cannot be composed.
fn subnet_id(figment: &Figment) -> Option<Result<String, String>> {
    let vnet = var("ACI_VNET_NAME");
    let subnet = var("ACI_SUBNET_NAME");
    if vnet.is_none() && subnet.is_none() {
        return None;
    }
    let (Some(vnet), Some(subnet)) = (vnet, subnet) else {
        return Some(Err(
            "ACI_VNET_NAME and ACI_SUBNET_NAME must be set together (they compose aci.subnet_id)"
                .into(),
        ));
    };
    let lookup = |key: &str| {
        figment
            .find_value(key)
            .ok()
            .and_then(|v| v.into_string())
            .filter(|s| !s.is_empty())
    };
    let Some(subscription) =
        var("ACI_VNET_SUBSCRIPTION_ID").or_else(|| lookup("aci.subscription_id"))
    else {
        return Some(Err(
            "aci.subnet_id needs a subscription: set ACI_VNET_SUBSCRIPTION_ID or aci.subscription_id"
                .into(),
        ));
    };
    let Some(group) = var("ACI_VNET_RESOURCE_GROUP").or_else(|| lookup("aci.resource_group"))
    else {
        return Some(Err(
            "aci.subnet_id needs a resource group: set ACI_VNET_RESOURCE_GROUP or aci.resource_group"
                .into(),
        ));
    };
    Some(Ok(format!(
        "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}"
    )))
}

/// `figment` with a layer for every Go-provider variable that is set, in [`ALIASES`] order,
/// then the composed subnet.
pub(crate) fn merge(mut figment: Figment) -> Figment {
    for alias in ALIASES {
        let Some(value) = var(alias.variable) else {
            continue;
        };
        // `KUBELET_PORT=tcp://10.0.0.1:10250` is the service link of a Service named `kubelet`,
        // not the Go provider's setting.
        if alias.variable == "KUBELET_PORT" && value.parse::<u16>().is_err() {
            continue;
        }
        let mut dict = Dict::new();
        match alias.target {
            Target::Key(key) => insert_nested(&mut dict, key, Value::from(value)),
            Target::EveryNode(field) => {
                dict.insert("nodes".into(), nodes_with(&figment, field, &value, false));
            }
            Target::FirstNode(field) => {
                dict.insert("nodes".into(), nodes_with(&figment, field, &value, true));
            }
        }
        figment = figment.merge(AliasLayer {
            name: alias.variable.to_owned(),
            dict: Ok(dict),
        });
    }
    if let Some(subnet) = subnet_id(&figment) {
        let dict = subnet.map(|id| {
            let mut dict = Dict::new();
            insert_nested(&mut dict, "aci.subnet_id", Value::from(id));
            dict
        });
        figment = figment.merge(AliasLayer {
            name: "ACI_VNET_NAME/ACI_SUBNET_NAME".to_owned(),
            dict,
        });
    }
    figment
}

/// One warning per Go-provider variable that is set: what it maps to, or that it is ignored.
/// `vk` logs them at start.
pub(crate) fn warnings() -> Vec<String> {
    let mut out = Vec::new();
    for alias in ALIASES {
        if var(alias.variable).is_some() {
            let instead = alias
                .target
                .vk_variable()
                .map(|v| format!(" (or {v})"))
                .unwrap_or_default();
            out.push(format!(
                "{} is the Go provider's variable, accepted as a deprecated alias of {}; set {}{instead} instead",
                alias.variable,
                alias.target.describe(),
                alias.target.describe(),
            ));
        }
    }
    for name in SUBNET_VARIABLES {
        if var(name).is_some() {
            out.push(format!(
                "{name} is the Go provider's variable, accepted as a deprecated part of aci.subnet_id \
                 (the subnet's full resource ID); set aci.subnet_id instead"
            ));
        }
    }
    for (name, why) in IGNORED {
        if var(name).is_some() {
            out.push(format!(
                "{name} is the Go provider's variable and has no effect in vk: {why}"
            ));
        }
    }
    out
}
