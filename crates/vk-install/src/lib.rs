//! `vk install` / `vk uninstall`: vk's manifests (deploy/base, embedded in the binary) rendered
//! for the options of the command line and applied with server-side apply — the one-command
//! counterpart of `az aks install-connector`. Kustomize (`deploy/overlays`) stays the path for
//! GitOps; `vk install --dry-run` prints what it would apply, and bin/vk/tests/e2e_install.rs
//! checks that it equals `kubectl kustomize` of the matching overlay.
//!
//! ```
//! use clap::Parser as _;
//!
//! #[derive(clap::Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     install: vk_install::InstallArgs,
//! }
//! let args = Cli::parse_from(["vk", "--subscription-id", "00000000-0000-0000-0000-000000000000",
//!     "--resource-group", "rg"]).install;
//! args.validate(true)?;
//! let yaml = vk_install::to_yaml(&vk_install::render(&args)?)?;
//! assert!(yaml.contains("kind: Deployment"));
//! # Ok::<(), vk_install::Error>(())
//! ```
//!
//! What the render does to the base, in the order kustomize's overlays would:
//!
//! - adds the label `app.kubernetes.io/part-of: vk` (the base's `labels`) and
//!   `app.kubernetes.io/managed-by: vk-install`, which `vk uninstall` looks for;
//! - generates the ConfigMap `vk-config` from the options (`config.toml`: nodes, ACI subscription,
//!   resource group, region). Unlike kustomize's generator its name has no content hash; the pod
//!   template carries the hash as the annotation `vk.io/config-hash` instead, so a changed
//!   configuration still rolls the Deployment;
//! - for `--os-type both`, exposes the second node's kubelet port (10251), as the `both` overlay;
//! - points the credential variables at `--credentials-secret` (keys `tenant-id`, `client-id`,
//!   `client-secret`; not created here) and the container at `--image`;
//! - for another `--namespace` than `vk-system`, moves every namespaced object there and names
//!   the cluster-wide objects (and the node-lease Role) after it, so installs do not collide.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use clap::{Args, ValueEnum};
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Api, Client};
use serde_json::{Value, json};

/// A line on stdout; a closed pipe (`vk uninstall --dry-run | head`) is not an error.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// What `vk install` and `vk uninstall` can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option is invalid; the message starts with the flag (`--namespace: …`).
    #[error("{0}")]
    InvalidOption(String),
    /// The embedded manifests cannot be read or rendered.
    #[error("{message}")]
    Manifest {
        /// What is wrong.
        message: String,
        /// The cause, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A Kubernetes API call failed; `what` names it (`applying Deployment vk-system/vk`).
    #[error("{what}")]
    Kube {
        /// What was attempted.
        what: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
}

/// Maps a Kubernetes API error to [`Error::Kube`] with what was attempted.
fn kube_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let what = what.into();
    move |source| Error::Kube { what, source }
}

/// The field manager of `vk install`'s server-side apply.
pub const FIELD_MANAGER: &str = "vk-install";
/// The label `vk install` puts on everything it creates.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "vk-install");
/// The default namespace (deploy/base's).
pub const DEFAULT_NAMESPACE: &str = "vk-system";

/// deploy/base, as the binary embeds it.
const BASE: &[(&str, &str)] = &[
    (
        "namespace.yaml",
        include_str!("../../../deploy/base/namespace.yaml"),
    ),
    (
        "serviceaccount.yaml",
        include_str!("../../../deploy/base/serviceaccount.yaml"),
    ),
    ("rbac.yaml", include_str!("../../../deploy/base/rbac.yaml")),
    (
        "deployment.yaml",
        include_str!("../../../deploy/base/deployment.yaml"),
    ),
    ("pdb.yaml", include_str!("../../../deploy/base/pdb.yaml")),
];

/// Which virtual nodes to serve (`az aks install-connector --os-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OsType {
    /// One Linux node.
    Linux,
    /// One Windows node.
    Windows,
    /// A Linux and a Windows node.
    Both,
}

/// `vk install` and `vk uninstall` options; they mirror `az aks install-connector`.
#[derive(Debug, Clone, Args)]
#[allow(
    rustdoc::invalid_html_tags,
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    reason = "the field docs are clap's --help texts (`<os>`, `[default: …]`), written for a terminal"
)]
pub struct InstallArgs {
    /// Names the nodes virtual-kubelet-<NAME>-<os>-<region>, as the AKS connector did
    /// [default: the overlays' names, virtual-kubelet-aci-<os>].
    #[arg(long, value_name = "NAME")]
    pub connector_name: Option<String>,

    /// Which virtual nodes: linux, windows or both.
    #[arg(long, value_enum, default_value = "linux", value_name = "OS")]
    pub os_type: OsType,

    /// Azure subscription (a GUID) of the container groups.
    #[arg(long, value_name = "GUID")]
    pub subscription_id: Option<String>,

    /// Resource group of the container groups.
    #[arg(long, value_name = "NAME")]
    pub resource_group: Option<String>,

    /// Azure region of the container groups.
    #[arg(long, default_value = "westeurope", value_name = "REGION")]
    pub region: String,

    /// The Secret (in --namespace) vk takes its service principal from: keys tenant-id,
    /// client-id, client-secret. Not created by vk install.
    #[arg(long, default_value = "vk-azure", value_name = "SECRET")]
    pub credentials_secret: String,

    /// Namespace of vk's objects.
    #[arg(long, default_value = DEFAULT_NAMESPACE, value_name = "NAMESPACE")]
    pub namespace: String,

    /// vk's container image.
    #[arg(long, default_value = "ghcr.io/vk-aci/vk:latest", value_name = "IMAGE")]
    pub image: String,

    /// Cluster identity tagged on every container group: the global `--cluster-id`.
    #[arg(skip = String::from("default"))]
    pub cluster_id: String,

    /// Print the YAML that would be applied (install) or the objects that would be deleted
    /// (uninstall), and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

impl InstallArgs {
    /// The virtual nodes: `(name, os, kubelet_port)`.
    pub fn nodes(&self) -> Vec<(String, &'static str, u16)> {
        let systems: &[&'static str] = match self.os_type {
            OsType::Linux => &["linux"],
            OsType::Windows => &["windows"],
            OsType::Both => &["linux", "windows"],
        };
        systems
            .iter()
            .zip(10250u16..)
            .map(|(os, port)| {
                let name = match &self.connector_name {
                    Some(c) => format!("virtual-kubelet-{c}-{os}-{}", self.region),
                    None => format!("virtual-kubelet-aci-{os}"),
                };
                (name, *os, port)
            })
            .collect()
    }

    /// Checks the options, naming the flag at fault.
    pub fn validate(&self, installing: bool) -> Result<(), Error> {
        macro_rules! bail {
            ($($arg:tt)*) => {
                return Err(Error::InvalidOption(format!($($arg)*)))
            };
        }
        let dns_label = |s: &str| {
            !s.is_empty()
                && s.len() <= 63
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !s.starts_with('-')
                && !s.ends_with('-')
        };
        if !dns_label(&self.namespace) {
            bail!("--namespace: {:?} is not a DNS-1123 label", self.namespace);
        }
        if let Some(c) = &self.connector_name
            && !dns_label(c)
        {
            bail!(
                "--connector-name: {c:?} must be lowercase letters, digits and '-' (it is part of the node names)"
            );
        }
        if !dns_label(&self.region) {
            bail!("--region: {:?} is not an Azure region name", self.region);
        }
        if !installing {
            return Ok(());
        }
        match &self.subscription_id {
            None => bail!("--subscription-id: required (the subscription of the container groups)"),
            Some(s) if !is_guid(s) => bail!("--subscription-id: {s:?} is not a GUID"),
            Some(_) => {}
        }
        if self.resource_group.as_deref().is_none_or(str::is_empty) {
            bail!("--resource-group: required (the resource group of the container groups)");
        }
        Ok(())
    }

    /// The name of a cluster-wide object (or of the node-lease Role) that is `base` in
    /// vk-system.
    fn scoped(&self, base: &str) -> String {
        if self.namespace == DEFAULT_NAMESPACE {
            base.to_owned()
        } else {
            format!("{base}-{}", self.namespace)
        }
    }

    /// vk's configuration file for these options.
    pub fn config_toml(&self) -> String {
        let mut text = String::from(
            "# vk's configuration file, written by `vk install` (docs/configuration.md lists every key).\n\
             # Credentials are not here: the Deployment takes them from a Secret as\n\
             # VK_ACI__CREDENTIALS__* variables.\n",
        );
        let _ = writeln!(text, "cluster_id = {}", toml_str(&self.cluster_id));
        let _ = write!(
            text,
            "\n[aci]\nsubscription_id = {}\nresource_group = {}\nregion = {}\n",
            toml_str(self.subscription_id.as_deref().unwrap_or_default()),
            toml_str(self.resource_group.as_deref().unwrap_or_default()),
            toml_str(&self.region)
        );
        for (name, os, port) in self.nodes() {
            let _ = write!(
                text,
                "\n[[nodes]]\nname = {}\nos = \"{os}\"\nkubelet_port = {port}\n",
                toml_str(&name)
            );
        }
        if self.namespace != DEFAULT_NAMESPACE {
            let _ = write!(text, "\n[ha]\nnamespace = {}\n", toml_str(&self.namespace));
        }
        text.push_str("\n[log]\nformat = \"json\"\nfilter = \"info\"\n");
        text
    }
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A stable 64-bit FNV-1a hash, hex: the configuration's fingerprint on the pod template.
fn fnv1a(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The objects `vk install` applies, in apply order (the namespace first).
pub fn render(args: &InstallArgs) -> Result<Vec<Value>, Error> {
    let mut objects = Vec::new();
    for (file, text) in BASE {
        let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| Error::Manifest {
            message: format!("deploy/base/{file} (embedded) is not YAML: {e}"),
            source: None,
        })?;
        objects.extend(docs.into_iter().filter(|d| !d.is_null()));
    }
    let config = args.config_toml();
    objects.push(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "vk-config", "namespace": DEFAULT_NAMESPACE},
        "data": {"config.toml": config}
    }));
    let ns = args.namespace.as_str();
    for obj in &mut objects {
        let kind = obj["kind"].as_str().unwrap_or_default().to_owned();
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let labels = &mut obj["metadata"]["labels"];
        if !labels.is_object() {
            *labels = json!({});
        }
        labels["app.kubernetes.io/part-of"] = json!("vk");
        labels[MANAGED_BY.0] = json!(MANAGED_BY.1);
        // Namespaces and names.
        match kind.as_str() {
            "Namespace" => obj["metadata"]["name"] = json!(ns),
            "ClusterRole" | "ClusterRoleBinding" => {
                obj["metadata"]["name"] = json!(args.scoped(&name));
            }
            _ if obj["metadata"]["namespace"] == "kube-node-lease" => {
                obj["metadata"]["name"] = json!(args.scoped(&name));
            }
            _ => obj["metadata"]["namespace"] = json!(ns),
        }
        if kind == "ClusterRoleBinding" || kind == "RoleBinding" {
            let role = obj["roleRef"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if kind == "ClusterRoleBinding" || obj["metadata"]["namespace"] == "kube-node-lease" {
                obj["roleRef"]["name"] = json!(args.scoped(&role));
            }
            for subject in obj["subjects"].as_array_mut().into_iter().flatten() {
                subject["namespace"] = json!(ns);
            }
        }
        if kind == "Deployment" {
            let template = &mut obj["spec"]["template"];
            template["metadata"]["annotations"] = json!({"vk.io/config-hash": fnv1a(&config)});
            let container = &mut template["spec"]["containers"][0];
            container["image"] = json!(args.image);
            for env in container["env"].as_array_mut().into_iter().flatten() {
                if env["valueFrom"]["secretKeyRef"].is_object() {
                    env["valueFrom"]["secretKeyRef"]["name"] = json!(args.credentials_secret);
                }
            }
            if args.os_type == OsType::Both
                && let Some(ports) = container["ports"].as_array_mut()
            {
                // Where kustomize's strategic merge of the `both` overlay puts it: first.
                ports.insert(
                    0,
                    json!({"name": "kubelet-win", "containerPort": 10251, "protocol": "TCP"}),
                );
            }
        }
    }
    Ok(objects)
}

/// The objects as a YAML stream.
pub fn to_yaml(objects: &[Value]) -> Result<String, Error> {
    let mut out = String::new();
    for obj in objects {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(obj).map_err(|e| Error::Manifest {
            message: "rendering YAML".into(),
            source: Some(Box::new(e)),
        })?);
    }
    Ok(out)
}

/// The API resource of a rendered object and whether it is namespaced. On a server without
/// `policy/v1` (Kubernetes < 1.21) the PodDisruptionBudget goes as `policy/v1beta1`.
fn resource(obj: &Value, policy_v1: bool) -> Result<(ApiResource, bool), Error> {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let kind = obj["kind"].as_str().unwrap_or_default();
    let (plural, namespaced) = match kind {
        "Namespace" => ("namespaces", false),
        "ServiceAccount" => ("serviceaccounts", true),
        "ConfigMap" => ("configmaps", true),
        "ClusterRole" => ("clusterroles", false),
        "ClusterRoleBinding" => ("clusterrolebindings", false),
        "Role" => ("roles", true),
        "RoleBinding" => ("rolebindings", true),
        "Deployment" => ("deployments", true),
        "PodDisruptionBudget" => ("poddisruptionbudgets", true),
        other => {
            return Err(Error::Manifest {
                message: format!("vk install does not know the kind {other:?}"),
                source: None,
            });
        }
    };
    let api_version = if kind == "PodDisruptionBudget" && !policy_v1 {
        "policy/v1beta1"
    } else {
        api_version
    };
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Ok((ApiResource::from_gvk_with_plural(&gvk, plural), namespaced))
}

fn api_for(client: &Client, ar: &ApiResource, namespaced: bool, obj: &Value) -> Api<DynamicObject> {
    match obj["metadata"]["namespace"].as_str() {
        Some(ns) if namespaced => Api::namespaced_with(client.clone(), ns, ar),
        _ => Api::all_with(client.clone(), ar),
    }
}

async fn has_policy_v1(client: &Client) -> bool {
    client
        .list_api_group_resources("policy/v1")
        .await
        .is_ok_and(|r| r.resources.iter().any(|r| r.name == "poddisruptionbudgets"))
}

/// `kind/namespace/name` of a rendered object.
pub fn id(obj: &Value) -> String {
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
    let kind = obj["kind"].as_str().unwrap_or("?");
    let name = obj["metadata"]["name"].as_str().unwrap_or("?");
    if ns.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}/{ns}/{name}")
    }
}

/// The managed-fields entry of `vk install`'s apply, as JSON.
fn ours(obj: &DynamicObject) -> Option<Value> {
    obj.metadata
        .managed_fields
        .iter()
        .flatten()
        .find(|m| m.manager.as_deref() == Some(FIELD_MANAGER))
        .and_then(|m| serde_json::to_value(m).ok())
}

/// `vk install`: server-side apply of every object; prints one line per object saying whether
/// it was created, changed or left as it was.
pub async fn install(client: &Client, args: &InstallArgs) -> Result<(), Error> {
    let objects = render(args)?;
    let policy_v1 = has_policy_v1(client).await;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for obj in &objects {
        let (ar, namespaced) = resource(obj, policy_v1)?;
        let mut body = obj.clone();
        body["apiVersion"] = json!(ar.api_version);
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        let api = api_for(client, &ar, namespaced, obj);
        let before = api
            .get_opt(name)
            .await
            .map_err(kube_err(format!("reading {}", id(obj))))?;
        let applied = api
            .patch(name, &params, &Patch::Apply(&body))
            .await
            .map_err(kube_err(format!("applying {}", id(obj))))?;
        // Our managed-fields entry changes (its time, its fields) exactly when the apply
        // changed something; controllers writing status meanwhile do not count.
        let what = match before {
            None => "created",
            Some(before) if ours(&before) == ours(&applied) => "unchanged",
            Some(_) => "configured",
        };
        say!("{} {what}", id(obj));
    }
    let secret_api: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), &args.namespace);
    if secret_api
        .get_opt(&args.credentials_secret)
        .await
        .ok()
        .flatten()
        .is_none()
    {
        eprintln!(
            "note: the Secret {}/{} does not exist yet; vk's pod starts once it does \
             (keys tenant-id, client-id, client-secret; docs/deploy.md)",
            args.namespace, args.credentials_secret
        );
    }
    Ok(())
}

/// What `vk uninstall` leaves of a namespace that holds objects it did not create.
fn foreign(secrets: &[String], configmaps: &[String]) -> Vec<String> {
    let mut out: Vec<String> = secrets.iter().map(|s| format!("Secret {s}")).collect();
    out.extend(configmaps.iter().map(|c| format!("ConfigMap {c}")));
    out
}

/// `vk uninstall`: deletes what `vk install` created (the objects it renders that carry its
/// label), the namespace last and only when it holds no Secret or ConfigMap that install did
/// not create (other kinds are not looked at).
pub async fn uninstall(client: &Client, args: &InstallArgs) -> Result<(), Error> {
    let objects = render(args)?;
    let policy_v1 = has_policy_v1(client).await;
    let mut namespace = None;
    for obj in objects.iter().rev() {
        let (ar, namespaced) = resource(obj, policy_v1)?;
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        let api = api_for(client, &ar, namespaced, obj);
        let Some(found) = api
            .get_opt(name)
            .await
            .map_err(kube_err(format!("reading {}", id(obj))))?
        else {
            say!("{} not found", id(obj));
            continue;
        };
        let ours = found
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(MANAGED_BY.0))
            .is_some_and(|v| v == MANAGED_BY.1);
        if !ours {
            say!("{} kept: not created by vk install", id(obj));
            continue;
        }
        if obj["kind"] == "Namespace" {
            namespace = Some((api, name.to_owned(), id(obj)));
            continue;
        }
        if args.dry_run {
            say!("{} would be deleted", id(obj));
            continue;
        }
        // Background: the Deployment's ReplicaSet and pods follow through the garbage collector.
        api.delete(name, &DeleteParams::background())
            .await
            .map_err(kube_err(format!("deleting {}", id(obj))))?;
        say!("{} deleted", id(obj));
    }
    if let Some((api, name, what)) = namespace {
        let left = namespace_leftovers(client, &name).await?;
        if !left.is_empty() {
            say!(
                "{what} kept: it holds what vk install did not create ({})",
                left.join(", ")
            );
        } else if args.dry_run {
            say!("{what} would be deleted");
        } else {
            api.delete(&name, &DeleteParams::default())
                .await
                .map_err(kube_err(format!("deleting {what}")))?;
            say!("{what} deleted");
        }
    }
    Ok(())
}

/// Secrets and ConfigMaps in `ns` that neither Kubernetes (service-account tokens, the root
/// CA) nor `vk install` put there.
async fn namespace_leftovers(client: &Client, ns: &str) -> Result<Vec<String>, Error> {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    let lp = kube::api::ListParams::default();
    let secrets: Vec<String> = Api::<Secret>::namespaced(client.clone(), ns)
        .list(&lp)
        .await
        .map_err(kube_err("listing the namespace's Secrets"))?
        .items
        .into_iter()
        .filter(|s| s.type_.as_deref() != Some("kubernetes.io/service-account-token"))
        .filter_map(|s| s.metadata.name)
        .collect();
    let configmaps: Vec<String> = Api::<ConfigMap>::namespaced(client.clone(), ns)
        .list(&lp)
        .await
        .map_err(kube_err("listing the namespace's ConfigMaps"))?
        .items
        .into_iter()
        .filter(|c| {
            let labels: BTreeMap<String, String> = c.metadata.labels.clone().unwrap_or_default();
            labels.get(MANAGED_BY.0).map(String::as_str) != Some(MANAGED_BY.1)
        })
        .filter_map(|c| c.metadata.name)
        .filter(|n| n != "kube-root-ca.crt")
        .collect();
    Ok(foreign(&secrets, &configmaps))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> InstallArgs {
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            a: InstallArgs,
        }
        let mut argv = vec![
            "t",
            "--subscription-id",
            "00000000-0000-0000-0000-000000000000",
            "--resource-group",
            "rg",
        ];
        argv.extend_from_slice(extra);
        <T as clap::Parser>::try_parse_from(argv).expect("parses").a
    }

    #[test]
    fn node_names_follow_the_connector() {
        let a = args(&["--connector-name", "mycon", "--os-type", "both"]);
        let names: Vec<String> = a.nodes().into_iter().map(|n| n.0).collect();
        assert_eq!(
            names,
            [
                "virtual-kubelet-mycon-linux-westeurope",
                "virtual-kubelet-mycon-windows-westeurope"
            ]
        );
        assert_eq!(a.nodes()[1].2, 10251);
        assert_eq!(args(&[]).nodes()[0].0, "virtual-kubelet-aci-linux");
    }

    #[test]
    fn invalid_options_name_the_flag() {
        let mut a = args(&[]);
        a.subscription_id = Some("nope".into());
        let err = a.validate(true).expect_err("a bad GUID").to_string();
        assert!(err.starts_with("--subscription-id"), "{err}");
        let mut a = args(&[]);
        a.resource_group = None;
        let err = a.validate(true).expect_err("no resource group").to_string();
        assert!(err.starts_with("--resource-group"), "{err}");
        let a = args(&["--connector-name", "My_Con"]);
        let err = a.validate(true).expect_err("a bad name").to_string();
        assert!(err.starts_with("--connector-name"), "{err}");
        assert!(args(&[]).validate(true).is_ok());
    }

    #[test]
    fn render_scopes_names_and_points_at_the_secret() {
        let a = args(&[
            "--namespace",
            "vk-test",
            "--credentials-secret",
            "creds",
            "--os-type",
            "both",
        ]);
        let objects = render(&a).expect("renders");
        let ids: Vec<String> = objects.iter().map(id).collect();
        assert!(ids.contains(&"Namespace/vk-test".to_owned()), "{ids:?}");
        assert!(
            ids.contains(&"ClusterRole/vk-vk-test".to_owned()),
            "{ids:?}"
        );
        assert!(
            ids.contains(&"Role/kube-node-lease/vk-node-lease-vk-test".to_owned()),
            "{ids:?}"
        );
        assert!(
            ids.contains(&"ConfigMap/vk-test/vk-config".to_owned()),
            "{ids:?}"
        );
        for obj in &objects {
            assert_eq!(
                obj["metadata"]["labels"][MANAGED_BY.0],
                MANAGED_BY.1,
                "{}",
                id(obj)
            );
        }
        let deployment = objects
            .iter()
            .find(|o| o["kind"] == "Deployment")
            .expect("a Deployment");
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        let refs: Vec<&Value> = container["env"]
            .as_array()
            .expect("env")
            .iter()
            .filter_map(|e| e["valueFrom"]["secretKeyRef"]["name"].as_str().map(|_| e))
            .collect();
        assert_eq!(refs.len(), 3);
        assert!(
            refs.iter()
                .all(|e| e["valueFrom"]["secretKeyRef"]["name"] == "creds")
        );
        assert_eq!(container["ports"][0]["containerPort"], 10251);
        let crb = objects
            .iter()
            .find(|o| o["kind"] == "ClusterRoleBinding")
            .expect("a binding");
        assert_eq!(crb["roleRef"]["name"], "vk-vk-test");
        assert_eq!(crb["subjects"][0]["namespace"], "vk-test");
        // YAML round trip.
        let yaml = to_yaml(&objects).expect("yaml");
        let back: Vec<Value> = serde_saphyr::from_multiple(&yaml).expect("parses back");
        assert_eq!(
            back.into_iter()
                .filter(|v| !v.is_null())
                .collect::<Vec<_>>(),
            objects
        );
    }
}
