//! Every overlay renders with `kubectl kustomize`, and what it renders keeps vk's invariants:
//! exactly the documented RBAC rules (no cluster-admin, no wildcard), no host access, the
//! restricted security context, probes on the admin port, and a config file and environment
//! that fit the overlay's nodes and credentials.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use common::{OVERLAYS, id, parse_stream, render, workspace_root};
use serde_json::Value;

/// `(apiGroup, resource, verb)`: one permission.
type Permission = (String, String, String);

/// The rules of the ClusterRole `vk`, as in docs/deploy.md. Adding or widening a rule in
/// deploy/base/rbac.yaml fails this test until it is added here (and documented there).
const CLUSTER_RULES: &[(&str, &[&str], &[&str])] = &[
    ("", &["nodes"], &["get", "list", "watch", "create", "patch"]),
    ("", &["nodes/status"], &["patch"]),
    ("", &["pods"], &["list", "watch", "delete"]),
    ("", &["pods/eviction"], &["create"]),
    ("", &["pods/status"], &["patch"]),
    ("events.k8s.io", &["events"], &["create", "patch"]),
    ("", &["secrets", "configmaps"], &["get"]),
    ("", &["serviceaccounts/token"], &["create"]),
    ("authentication.k8s.io", &["tokenreviews"], &["create"]),
    (
        "authorization.k8s.io",
        &["subjectaccessreviews"],
        &["create"],
    ),
];

/// The Role `kube-node-lease/vk-node-lease`: the virtual nodes' heartbeat Leases.
const NODE_LEASE_RULES: &[(&str, &[&str], &[&str])] = &[(
    "coordination.k8s.io",
    &["leases"],
    &["get", "create", "update"],
)];

/// The Role `vk-system/vk-leader-election`: the leader Lease between replicas
/// (kube-lease-manager: get, create when missing, patch to take and renew).
const LEADER_RULES: &[(&str, &[&str], &[&str])] = &[(
    "coordination.k8s.io",
    &["leases"],
    &["get", "create", "patch"],
)];

const ADMIN_PORT: i64 = 10255;
const IMAGE: &str = "ghcr.io/vk-aci/vk";
const EMULATOR_URL: &str = "http://aci-emulator.vk-system.svc:8080";

fn expand(rules: &[(&str, &[&str], &[&str])]) -> BTreeSet<Permission> {
    let mut set = BTreeSet::new();
    for (group, resources, verbs) in rules {
        for resource in *resources {
            for verb in *verbs {
                set.insert((group.to_string(), resource.to_string(), verb.to_string()));
            }
        }
    }
    set
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// What an overlay should produce.
struct Expect {
    /// `(name, os, kubelet_port)` of the configured nodes.
    nodes: &'static [(&'static str, &'static str, i64)],
    /// `VK_ACI__CREDENTIALS__KIND`.
    credentials: &'static str,
    ha: bool,
    emulator: bool,
}

fn expect(overlay: &str) -> Expect {
    const LINUX: (&str, &str, i64) = ("virtual-kubelet-aci-linux", "linux", 10250);
    const WINDOWS_ONLY: (&str, &str, i64) = ("virtual-kubelet-aci-windows", "windows", 10250);
    const WINDOWS_SECOND: (&str, &str, i64) = ("virtual-kubelet-aci-windows", "windows", 10251);
    let plain = Expect {
        nodes: &[LINUX],
        credentials: "client-secret",
        ha: false,
        emulator: false,
    };
    match overlay {
        "linux" => plain,
        "windows" => Expect {
            nodes: &[WINDOWS_ONLY],
            ..plain
        },
        "both" => Expect {
            nodes: &[LINUX, WINDOWS_SECOND],
            ..plain
        },
        "workload-identity" => Expect {
            credentials: "workload-identity",
            ..plain
        },
        "ha" => Expect { ha: true, ..plain },
        "dev" => Expect {
            nodes: &[LINUX, WINDOWS_SECOND],
            emulator: true,
            ..plain
        },
        other => panic!("no expectations for overlay {other}"),
    }
}

/// Collects the violations of one overlay.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }
}

#[test]
fn every_overlay_is_tested() {
    let dir = workspace_root().join("deploy/overlays");
    let found: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().join("kustomization.yaml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = OVERLAYS.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        found, listed,
        "deploy/overlays/* and common::OVERLAYS differ"
    );
}

#[test]
fn the_documented_rules_are_the_ones_in_docs_deploy_md() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/deploy.md"))
        .expect("docs/deploy.md exists");
    for (group, resources, verbs) in CLUSTER_RULES
        .iter()
        .chain(NODE_LEASE_RULES)
        .chain(LEADER_RULES)
    {
        let group = if group.is_empty() {
            "\"\" (core)"
        } else {
            group
        };
        let row = format!(
            "| {group} | {} | {} |",
            resources.join(", "),
            verbs.join(", ")
        );
        assert!(
            doc.contains(&row),
            "docs/deploy.md has no RBAC table row {row:?}"
        );
    }
}

#[test]
fn every_overlay_renders_and_keeps_the_invariants() {
    let mut report = String::new();
    for overlay in OVERLAYS {
        let objects = parse_stream(&render(overlay));
        let problems = check_overlay(overlay, &objects);
        if !problems.0.is_empty() {
            let _ = writeln!(report, "overlay {overlay}:");
            for p in problems.0 {
                let _ = writeln!(report, "  - {p}");
            }
        }
    }
    assert!(report.is_empty(), "invariants broken:\n{report}");
}

fn check_overlay(overlay: &str, objects: &[Value]) -> Problems {
    let mut p = Problems::default();
    let want = expect(overlay);
    let by_kind = |kind: &str| -> Vec<&Value> {
        objects
            .iter()
            .filter(|o| o["kind"].as_str() == Some(kind))
            .collect()
    };
    let one = |p: &mut Problems, kind: &str, ns: Option<&str>, name: &str| -> Option<Value> {
        let found: Vec<&Value> = objects
            .iter()
            .filter(|o| {
                o["kind"].as_str() == Some(kind)
                    && o["metadata"]["name"].as_str() == Some(name)
                    && o["metadata"]["namespace"].as_str() == ns
            })
            .collect();
        p.check(found.len() == 1, || {
            format!(
                "expected one {kind} {}/{name}, found {}",
                ns.unwrap_or(""),
                found.len()
            )
        });
        found.first().map(|v| (*v).clone())
    };

    // --- RBAC -------------------------------------------------------------------------------
    let role_rules = |p: &mut Problems, obj: &Value| -> BTreeSet<Permission> {
        let mut set = BTreeSet::new();
        for rule in obj["rules"].as_array().cloned().unwrap_or_default() {
            p.check(rule.get("nonResourceURLs").is_none(), || {
                format!("{} grants nonResourceURLs", id(obj))
            });
            p.check(rule.get("resourceNames").is_none(), || {
                format!("{} uses resourceNames (update the test)", id(obj))
            });
            for group in strings(&rule["apiGroups"]) {
                for resource in strings(&rule["resources"]) {
                    for verb in strings(&rule["verbs"]) {
                        p.check(group != "*" && resource != "*" && verb != "*", || {
                            format!("{} has a wildcard rule {rule}", id(obj))
                        });
                        set.insert((group.clone(), resource.clone(), verb));
                    }
                }
            }
        }
        set
    };
    let mut defined_roles = BTreeSet::new();
    for kind in ["ClusterRole", "Role"] {
        for obj in by_kind(kind) {
            defined_roles.insert((
                kind.to_string(),
                obj["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                obj["metadata"]["name"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    let expected_roles: BTreeSet<(String, String, String)> = [
        ("ClusterRole", "", "vk"),
        ("Role", "kube-node-lease", "vk-node-lease"),
        ("Role", "vk-system", "vk-leader-election"),
    ]
    .iter()
    .map(|(k, n, m)| (k.to_string(), n.to_string(), m.to_string()))
    .collect();
    p.check(defined_roles == expected_roles, || {
        format!("roles are {defined_roles:?}, expected {expected_roles:?}")
    });
    for (kind, ns, name, rules) in [
        ("ClusterRole", None, "vk", CLUSTER_RULES),
        (
            "Role",
            Some("kube-node-lease"),
            "vk-node-lease",
            NODE_LEASE_RULES,
        ),
        (
            "Role",
            Some("vk-system"),
            "vk-leader-election",
            LEADER_RULES,
        ),
    ] {
        if let Some(obj) = one(&mut p, kind, ns, name) {
            let got = role_rules(&mut p, &obj);
            let want = expand(rules);
            let extra: Vec<_> = got.difference(&want).collect();
            let missing: Vec<_> = want.difference(&got).collect();
            p.check(extra.is_empty() && missing.is_empty(), || {
                format!("{kind} {name}: granted but not documented {extra:?}; documented but not granted {missing:?}")
            });
        }
    }
    for kind in ["ClusterRoleBinding", "RoleBinding"] {
        for obj in by_kind(kind) {
            let role_kind = obj["roleRef"]["kind"].as_str().unwrap_or("");
            let role_name = obj["roleRef"]["name"].as_str().unwrap_or("");
            p.check(
                !matches!(role_name, "cluster-admin" | "admin" | "edit" | "view"),
                || format!("{} binds the built-in role {role_name}", id(obj)),
            );
            let role_ns = if role_kind == "Role" {
                obj["metadata"]["namespace"].as_str().unwrap_or("")
            } else {
                ""
            };
            p.check(
                defined_roles.contains(&(
                    role_kind.to_string(),
                    role_ns.to_string(),
                    role_name.to_string(),
                )),
                || format!("{} binds {role_kind} {role_name}, not one of vk's", id(obj)),
            );
            let subjects = obj["subjects"].as_array().cloned().unwrap_or_default();
            let only_vk = subjects.len() == 1
                && subjects[0]["kind"] == "ServiceAccount"
                && subjects[0]["name"] == "vk"
                && subjects[0]["namespace"] == "vk-system";
            p.check(only_vk, || {
                format!(
                    "{} must bind only ServiceAccount vk-system/vk, binds {subjects:?}",
                    id(obj)
                )
            });
        }
    }
    one(&mut p, "ClusterRoleBinding", None, "vk");
    one(
        &mut p,
        "RoleBinding",
        Some("kube-node-lease"),
        "vk-node-lease",
    );
    one(
        &mut p,
        "RoleBinding",
        Some("vk-system"),
        "vk-leader-election",
    );
    one(&mut p, "Namespace", None, "vk-system");
    let sa = one(&mut p, "ServiceAccount", Some("vk-system"), "vk");

    // --- every workload: no host access, restricted security context, resources ------------
    for kind in [
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "Pod",
    ] {
        for obj in by_kind(kind) {
            p.check(kind == "Deployment", || {
                format!("{} is a {kind}; only Deployments are expected", id(obj))
            });
            check_pod_spec(&mut p, &id(obj), &obj["spec"]["template"]["spec"]);
        }
    }
    p.check(by_kind("Secret").is_empty() != want.emulator, || {
        "only the dev overlay generates a Secret (real credentials are created by hand)".into()
    });

    // --- the vk Deployment ------------------------------------------------------------------
    let Some(deploy) = one(&mut p, "Deployment", Some("vk-system"), "vk") else {
        return p;
    };
    let spec = &deploy["spec"];
    let pod = &spec["template"]["spec"];
    let replicas = spec["replicas"].as_i64().unwrap_or(1);
    p.check(replicas == if want.ha { 2 } else { 1 }, || {
        format!("replicas {replicas}")
    });
    let strategy = spec["strategy"]["type"].as_str().unwrap_or("RollingUpdate");
    p.check(
        strategy == if want.ha { "RollingUpdate" } else { "Recreate" },
        || format!("strategy {strategy}: one replica without HA must be Recreate"),
    );
    p.check(pod["serviceAccountName"] == "vk", || {
        "the pod must run as ServiceAccount vk".into()
    });
    p.check(pod["automountServiceAccountToken"] == true, || {
        "automountServiceAccountToken must be true (vk needs the API)".into()
    });
    let containers = pod["containers"].as_array().cloned().unwrap_or_default();
    let Some(vk) = containers.iter().find(|c| c["name"] == "vk") else {
        p.0.push("no container named vk".into());
        return p;
    };
    let image = vk["image"].as_str().unwrap_or("");
    p.check(image.starts_with(IMAGE), || format!("image {image}"));
    p.check(
        strings(&vk["args"]).contains(&"--config=/etc/vk/config.toml".to_string()),
        || "args must include --config=/etc/vk/config.toml".into(),
    );
    for (path, probe) in [("/healthz", "livenessProbe"), ("/readyz", "readinessProbe")] {
        let get = &vk[probe]["httpGet"];
        p.check(get["path"] == path && get["port"] == ADMIN_PORT, || {
            format!("{probe} must GET {path} on {ADMIN_PORT}, is {}", vk[probe])
        });
    }
    let ports: BTreeSet<i64> = vk["ports"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["containerPort"].as_i64())
                .collect()
        })
        .unwrap_or_default();
    p.check(ports.contains(&ADMIN_PORT), || {
        format!("no containerPort {ADMIN_PORT}")
    });

    let env: BTreeMap<String, Value> = vk["env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| Some((e["name"].as_str()?.to_string(), e.clone())))
                .collect()
        })
        .unwrap_or_default();
    p.check(
        env.get("POD_IP")
            .map(|e| &e["valueFrom"]["fieldRef"]["fieldPath"])
            == Some(&Value::from("status.podIP")),
        || "POD_IP must come from status.podIP".into(),
    );
    p.check(
        env.get("POD_NAME")
            .map(|e| &e["valueFrom"]["fieldRef"]["fieldPath"])
            == Some(&Value::from("metadata.name")),
        || "POD_NAME must come from metadata.name".into(),
    );
    let kind = env
        .get("VK_ACI__CREDENTIALS__KIND")
        .and_then(|e| e["value"].as_str())
        .unwrap_or("");
    p.check(kind == want.credentials, || {
        format!("credentials kind {kind:?}, expected {:?}", want.credentials)
    });
    let from_secret: BTreeSet<&str> = env
        .iter()
        .filter(|(_, e)| !e["valueFrom"]["secretKeyRef"].is_null())
        .map(|(k, _)| k.as_str())
        .collect();
    for (key, e) in &env {
        p.check(!key.contains("SECRET") || e["value"].is_null(), || {
            format!("{key} is a literal; secrets come from a Secret")
        });
    }
    let secret_names: BTreeSet<&str> = env
        .values()
        .filter_map(|e| e["valueFrom"]["secretKeyRef"]["name"].as_str())
        .collect();
    match want.credentials {
        "client-secret" => {
            let expected: BTreeSet<&str> = [
                "VK_ACI__CREDENTIALS__TENANT_ID",
                "VK_ACI__CREDENTIALS__CLIENT_ID",
                "VK_ACI__CREDENTIALS__CLIENT_SECRET",
            ]
            .into();
            p.check(from_secret == expected, || {
                format!("variables from the Secret: {from_secret:?}, expected {expected:?}")
            });
            p.check(
                secret_names.len() == 1 && secret_names.iter().all(|n| n.starts_with("vk-azure")),
                || format!("credentials must come from the Secret vk-azure, not {secret_names:?}"),
            );
            if want.emulator {
                let generated: Vec<String> = by_kind("Secret")
                    .iter()
                    .map(|s| s["metadata"]["name"].as_str().unwrap_or("").to_string())
                    .collect();
                p.check(
                    secret_names
                        .iter()
                        .all(|n| generated.iter().any(|g| g == n)),
                    || format!("the dev Secret {generated:?} is not the one referenced {secret_names:?}"),
                );
            }
        }
        "workload-identity" => {
            p.check(from_secret.is_empty(), || {
                format!("workload identity needs no Secret, yet {from_secret:?} come from one")
            });
            let label = &spec["template"]["metadata"]["labels"]["azure.workload.identity/use"];
            p.check(label == "true", || {
                "the pod needs the label azure.workload.identity/use: \"true\"".into()
            });
            let client_id = sa
                .as_ref()
                .map(|sa| {
                    sa["metadata"]["annotations"]["azure.workload.identity/client-id"].clone()
                })
                .unwrap_or(Value::Null);
            p.check(client_id.is_string(), || {
                "the ServiceAccount needs the annotation azure.workload.identity/client-id".into()
            });
        }
        other => p.0.push(format!("unexpected credentials {other}")),
    }
    let ha_env = env
        .get("VK_HA__ENABLED")
        .and_then(|e| e["value"].as_str())
        .unwrap_or("false");
    p.check((ha_env == "true") == want.ha, || {
        format!("VK_HA__ENABLED={ha_env}")
    });

    // The PodDisruptionBudget.
    if let Some(pdb) = one(&mut p, "PodDisruptionBudget", Some("vk-system"), "vk") {
        let s = &pdb["spec"];
        let ok = if want.ha {
            s["minAvailable"] == 1 && s.get("maxUnavailable").is_none_or(Value::is_null)
        } else {
            s["maxUnavailable"] == 1 && s.get("minAvailable").is_none_or(Value::is_null)
        };
        p.check(ok, || format!("PodDisruptionBudget spec {s}"));
        p.check(
            s["selector"]["matchLabels"] == spec["selector"]["matchLabels"],
            || "the PodDisruptionBudget must select vk's pods".into(),
        );
    }

    // --- the config file -------------------------------------------------------------------
    let volumes = pod["volumes"].as_array().cloned().unwrap_or_default();
    let config_map = volumes
        .iter()
        .find(|v| v["name"] == "config")
        .and_then(|v| v["configMap"]["name"].as_str())
        .unwrap_or("");
    p.check(config_map.starts_with("vk-config"), || {
        format!("the config volume must be the ConfigMap vk-config, is {config_map:?}")
    });
    let mounted = vk["volumeMounts"].as_array().is_some_and(|m| {
        m.iter()
            .any(|m| m["name"] == "config" && m["mountPath"] == "/etc/vk")
    });
    p.check(mounted, || {
        "the config volume must be mounted at /etc/vk".into()
    });
    let Some(cm) = one(&mut p, "ConfigMap", Some("vk-system"), config_map) else {
        return p;
    };
    let Some(text) = cm["data"]["config.toml"].as_str() else {
        p.0.push(format!("ConfigMap {config_map} has no config.toml"));
        return p;
    };
    let config: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            p.0.push(format!("config.toml does not parse: {e}"));
            return p;
        }
    };
    check_config(&mut p, &want, &config, &ports);
    check_keys_documented(&mut p, &config, &env);
    p
}

fn check_pod_spec(p: &mut Problems, who: &str, pod: &Value) {
    for flag in ["hostNetwork", "hostPID", "hostIPC"] {
        p.check(pod[flag] != true, || format!("{who}: {flag}"));
    }
    for v in pod["volumes"].as_array().cloned().unwrap_or_default() {
        p.check(v.get("hostPath").is_none(), || {
            format!("{who}: hostPath volume {}", v["name"])
        });
    }
    let pod_sc = &pod["securityContext"];
    let mut all = pod["containers"].as_array().cloned().unwrap_or_default();
    all.extend(
        pod["initContainers"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    );
    for c in all {
        let name = c["name"].as_str().unwrap_or("?");
        let sc = &c["securityContext"];
        // A container setting wins over the pod's.
        let get = |key: &str| -> &Value {
            if sc[key].is_null() {
                &pod_sc[key]
            } else {
                &sc[key]
            }
        };
        p.check(get("runAsNonRoot") == true, || {
            format!("{who}/{name}: runAsNonRoot must be true")
        });
        p.check(get("runAsUser") == 65532, || {
            format!("{who}/{name}: runAsUser must be 65532")
        });
        p.check(sc["readOnlyRootFilesystem"] == true, || {
            format!("{who}/{name}: readOnlyRootFilesystem must be true")
        });
        p.check(sc["allowPrivilegeEscalation"] == false, || {
            format!("{who}/{name}: allowPrivilegeEscalation must be false")
        });
        p.check(sc["privileged"] != true, || {
            format!("{who}/{name}: privileged")
        });
        p.check(
            strings(&sc["capabilities"]["drop"]) == ["ALL"] && sc["capabilities"]["add"].is_null(),
            || format!("{who}/{name}: capabilities must drop ALL and add none"),
        );
        p.check(get("seccompProfile")["type"] == "RuntimeDefault", || {
            format!("{who}/{name}: seccompProfile must be RuntimeDefault")
        });
        let r = &c["resources"];
        p.check(
            r["requests"]["cpu"].is_string()
                && r["requests"]["memory"].is_string()
                && r["limits"]["memory"].is_string(),
            || format!("{who}/{name}: needs cpu and memory requests and a memory limit"),
        );
        for port in c["ports"].as_array().cloned().unwrap_or_default() {
            p.check(port.get("hostPort").is_none(), || {
                format!("{who}/{name}: hostPort {port}")
            });
        }
    }
}

fn check_config(p: &mut Problems, want: &Expect, config: &toml::Table, ports: &BTreeSet<i64>) {
    let nodes: Vec<(String, String, i64)> = config
        .get("nodes")
        .and_then(|n| n.as_array())
        .map(|a| {
            a.iter()
                .map(|n| {
                    (
                        n.get("name")
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                            .to_string(),
                        n.get("os")
                            .and_then(|v| v.as_str())
                            .unwrap_or("linux")
                            .to_string(),
                        n.get("kubelet_port")
                            .and_then(|v| v.as_integer())
                            .unwrap_or(10250),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let expected: Vec<(String, String, i64)> = want
        .nodes
        .iter()
        .map(|(n, o, port)| (n.to_string(), o.to_string(), *port))
        .collect();
    p.check(nodes == expected, || {
        format!("config nodes {nodes:?}, expected {expected:?}")
    });
    for (name, _, port) in &nodes {
        p.check(ports.contains(port), || {
            format!("node {name}'s kubelet port {port} is not a containerPort")
        });
    }
    let aci = config.get("aci").and_then(|a| a.as_table());
    p.check(aci.is_some_and(|a| a.get("credentials").is_none()), || {
        "credentials belong in the environment (from a Secret), not in config.toml".into()
    });
    let endpoint = |key: &str| {
        aci.and_then(|a| a.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    if want.emulator {
        for key in ["arm_endpoint", "authority_host"] {
            p.check(endpoint(key).as_deref() == Some(EMULATOR_URL), || {
                format!("aci.{key} must be {EMULATOR_URL}")
            });
        }
    } else {
        for key in ["arm_endpoint", "authority_host"] {
            p.check(endpoint(key).is_none(), || {
                format!("aci.{key} must keep its Azure default outside the dev overlay")
            });
        }
    }
    p.check(
        config.get("ha").and_then(|h| h.get("enabled")).is_none(),
        || "ha.enabled is set by the ha component (VK_HA__ENABLED), not in config.toml".into(),
    );
}

/// Every key the overlay's config.toml sets and every `VK_` variable the Deployment sets must
/// be a documented configuration key (docs/configuration.md), so a typo cannot reach a
/// cluster (vk rejects unknown keys and would crash-loop).
fn check_keys_documented(p: &mut Problems, config: &toml::Table, env: &BTreeMap<String, Value>) {
    let doc = std::fs::read_to_string(workspace_root().join("docs/configuration.md"))
        .expect("docs/configuration.md exists");
    fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                toml::Value::Table(t) => walk(&path, t, out),
                toml::Value::Array(items) if items.iter().all(toml::Value::is_table) => {
                    for item in items {
                        if let toml::Value::Table(t) = item {
                            walk(&format!("{path}[]"), t, out);
                        }
                    }
                }
                _ => out.push(path),
            }
        }
    }
    let mut keys = Vec::new();
    walk("", config, &mut keys);
    for key in keys {
        p.check(doc.contains(&format!("`{key}`")), || {
            format!("config.toml key {key} is not in docs/configuration.md")
        });
    }
    for name in env.keys().filter(|k| k.starts_with("VK_")) {
        p.check(doc.contains(&format!("`{name}`")), || {
            format!("variable {name} is not in docs/configuration.md")
        });
    }
}

#[test]
fn the_dev_overlay_runs_the_emulator() {
    let objects = parse_stream(&render("dev"));
    let find = |kind: &str, name: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("dev overlay has no {kind} {name}"))
    };
    let deploy = find("Deployment", "aci-emulator");
    assert_eq!(deploy["metadata"]["namespace"], "vk-system");
    let c = &deploy["spec"]["template"]["spec"]["containers"][0];
    assert!(
        c["image"].as_str().is_some_and(|i| i.starts_with(IMAGE)),
        "the emulator runs from vk's image: {}",
        c["image"]
    );
    assert_eq!(strings(&c["command"]), ["/aci-emulator"]);
    assert!(
        strings(&c["args"]).contains(&"--listen=0.0.0.0:8080".to_string()),
        "{}",
        c["args"]
    );
    assert_eq!(
        deploy["spec"]["template"]["spec"]["automountServiceAccountToken"], false,
        "the emulator needs no API access"
    );
    let svc = find("Service", "aci-emulator");
    assert_eq!(svc["metadata"]["namespace"], "vk-system");
    assert_eq!(svc["spec"]["ports"][0]["port"], 8080);
    assert_eq!(
        svc["spec"]["selector"],
        deploy["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
            .as_str()
            .map(|n| serde_json::json!({ "app.kubernetes.io/name": n }))
            .expect("labelled")
    );
}

#[test]
fn the_base_renders_like_the_linux_overlay() {
    let dir = workspace_root().join("deploy/base");
    let out = common::run_kubectl(&["kustomize", dir.to_str().expect("UTF-8")], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), render("linux"));
}
