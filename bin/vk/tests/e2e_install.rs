//! `vk install` / `vk uninstall` against the local API server, and `--dry-run` against
//! `kubectl kustomize` of the overlays it stands for.
//!
//! - `--dry-run --os-type linux|windows|both` renders what `kubectl kustomize
//!   deploy/overlays/<os>` renders, but for what vk install adds on purpose (its
//!   `managed-by` label, the config hash annotation instead of a hashed ConfigMap name) and the
//!   config file's comments.
//! - Installing creates every object with exactly deploy/base's RBAC rules; installing again
//!   changes nothing (same resourceVersions, every object reported unchanged); uninstalling
//!   removes every object it created, keeps a Secret it did not create (and so the namespace),
//!   and removes the namespace once that Secret is gone.
//!
//! Each run installs into a namespace of its own (`--namespace`), which also names the
//! cluster-wide objects, so it never touches the `vk-system` other tests use; a quota of no
//! pods keeps vk's Deployment from starting a pod on another test's simulated agent node.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
use kube::Api;
use kube::api::{DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use vk_testkit::{TestEnv, wait};

const SUB: &str = "00000000-0000-0000-0000-000000000000";

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn vk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vk"))
        .args(args)
        .output()
        .expect("vk runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "vk failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn parse(yaml: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(yaml).unwrap();
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

fn id(obj: &Value) -> String {
    format!(
        "{}/{}/{}",
        obj["kind"].as_str().unwrap_or("?"),
        obj["metadata"]["namespace"].as_str().unwrap_or(""),
        obj["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// The config file without comments and blank lines.
fn config_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Objects by id, with what vk install adds on purpose taken out and the ConfigMap's hashed
/// name (kustomize's generator) put back to `vk-config`.
fn normalised(objects: Vec<Value>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for mut obj in objects {
        if let Some(labels) = obj["metadata"]["labels"].as_object_mut() {
            labels.remove("app.kubernetes.io/managed-by");
        }
        if obj["kind"] == "ConfigMap" {
            obj["metadata"]["name"] = json!("vk-config");
            let text = obj["data"]["config.toml"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            obj["data"]["config.toml"] = json!(config_lines(&text));
        }
        if obj["kind"] == "Deployment" {
            let template = &mut obj["spec"]["template"];
            if let Some(meta) = template["metadata"].as_object_mut() {
                meta.remove("annotations");
            }
            for volume in template["spec"]["volumes"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                if volume["configMap"].is_object() {
                    volume["configMap"]["name"] = json!("vk-config");
                }
            }
        }
        out.insert(id(&obj), obj);
    }
    out
}

#[test]
fn dry_run_renders_what_kustomize_renders_for_each_os_overlay() {
    for os in ["linux", "windows", "both"] {
        let ours = stdout(&vk(&[
            "install",
            "--dry-run",
            "--os-type",
            os,
            "--subscription-id",
            SUB,
            "--resource-group",
            "vk-aci",
            "--region",
            "westeurope",
        ]));
        let dir = workspace().join("deploy/overlays").join(os);
        let out = Command::new("kubectl")
            .arg("kustomize")
            .arg(&dir)
            .output()
            .expect("kubectl on PATH");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let kustomize = normalised(parse(&String::from_utf8_lossy(&out.stdout)));
        let ours = normalised(parse(&ours));
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            kustomize.keys().collect::<Vec<_>>(),
            "--os-type {os}: the same objects"
        );
        for (key, want) in &kustomize {
            assert_eq!(
                &ours[key], want,
                "--os-type {os}: {key} differs from kustomize's"
            );
        }
    }
}

#[test]
fn dry_run_refuses_missing_options_naming_the_flag() {
    let out = vk(&["install", "--dry-run", "--resource-group", "rg"]);
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--subscription-id: required"), "{err}");
    let out = vk(&[
        "install",
        "--dry-run",
        "--subscription-id",
        SUB,
        "--resource-group",
        "rg",
        "--os-type",
        "mac",
    ]);
    assert_eq!(out.status.code(), Some(64));
}

/// `(kind, name, namespace)` of every object vk install creates in namespace `ns`, and its API.
fn installed(ns: &str) -> Vec<(&'static str, String, Option<String>, ApiResource)> {
    let ar = |g: &str, v: &str, k: &str, plural: &str| {
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(g, v, k), plural)
    };
    let rbac = "rbac.authorization.k8s.io";
    vec![
        (
            "Namespace",
            ns.to_owned(),
            None,
            ar("", "v1", "Namespace", "namespaces"),
        ),
        (
            "ServiceAccount",
            "vk".into(),
            Some(ns.to_owned()),
            ar("", "v1", "ServiceAccount", "serviceaccounts"),
        ),
        (
            "ClusterRole",
            format!("vk-{ns}"),
            None,
            ar(rbac, "v1", "ClusterRole", "clusterroles"),
        ),
        (
            "ClusterRoleBinding",
            format!("vk-{ns}"),
            None,
            ar(rbac, "v1", "ClusterRoleBinding", "clusterrolebindings"),
        ),
        (
            "Role",
            format!("vk-node-lease-{ns}"),
            Some("kube-node-lease".into()),
            ar(rbac, "v1", "Role", "roles"),
        ),
        (
            "RoleBinding",
            format!("vk-node-lease-{ns}"),
            Some("kube-node-lease".into()),
            ar(rbac, "v1", "RoleBinding", "rolebindings"),
        ),
        (
            "Role",
            "vk-leader-election".into(),
            Some(ns.to_owned()),
            ar(rbac, "v1", "Role", "roles"),
        ),
        (
            "RoleBinding",
            "vk-leader-election".into(),
            Some(ns.to_owned()),
            ar(rbac, "v1", "RoleBinding", "rolebindings"),
        ),
        (
            "Deployment",
            "vk".into(),
            Some(ns.to_owned()),
            ar("apps", "v1", "Deployment", "deployments"),
        ),
        (
            "PodDisruptionBudget",
            "vk".into(),
            Some(ns.to_owned()),
            ar(
                "policy",
                "v1beta1",
                "PodDisruptionBudget",
                "poddisruptionbudgets",
            ),
        ),
        (
            "ConfigMap",
            "vk-config".into(),
            Some(ns.to_owned()),
            ar("", "v1", "ConfigMap", "configmaps"),
        ),
    ]
}

async fn get(
    client: &kube::Client,
    (_, name, ns, ar): &(&'static str, String, Option<String>, ApiResource),
) -> Option<DynamicObject> {
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    };
    api.get_opt(name).await.unwrap()
}

/// The managed-fields entry of vk install's apply (its time and fields): unchanged exactly when
/// an apply changed nothing (controllers writing status do not touch it).
fn applied_by_install(obj: &DynamicObject) -> Value {
    let entry = obj
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .find(|m| m.manager.as_deref() == Some("vk-install"))
        .unwrap_or_else(|| panic!("{:?} has no vk-install managed fields", obj.metadata.name));
    assert_eq!(entry.operation.as_deref(), Some("Apply"));
    serde_json::to_value(entry).unwrap()
}

/// The rules of a Role or ClusterRole in deploy/base/rbac.yaml.
fn base_rules(kind: &str, name: &str) -> Value {
    let text = std::fs::read_to_string(workspace().join("deploy/base/rbac.yaml")).unwrap();
    parse(&text)
        .into_iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .map(|o| o["rules"].clone())
        .unwrap_or_else(|| panic!("deploy/base/rbac.yaml has no {kind} {name}"))
}

#[tokio::test]
async fn install_is_exact_and_idempotent_and_uninstall_removes_only_its_own() {
    let env = TestEnv::get().await;
    let client = env.client().await;
    let kubeconfig = env.kubeconfig().to_str().unwrap().to_owned();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let ns = format!(
        "vk-inst-{}-{:x}",
        std::process::id() % 10000,
        nanos % 0xfffff
    );
    let connector = format!("c{:x}", nanos % 0xfffff);
    let install_args = |verb: &'static str| -> Vec<String> {
        [
            verb,
            "--kubeconfig",
            &kubeconfig,
            "--namespace",
            &ns,
            "--connector-name",
            &connector,
            "--os-type",
            "both",
            "--subscription-id",
            SUB,
            "--resource-group",
            "vk-test",
            "--credentials-secret",
            "azure-sp",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let run = |verb: &'static str| {
        let args = install_args(verb);
        async move {
            tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                stdout(&vk(&refs))
            })
            .await
            .unwrap()
        }
    };
    let objects = installed(&ns);

    // The namespace exists beforehand, with a quota of no pods: vk's Deployment must not start
    // a pod here, where a simulated agent node of another test (e2e_docs, e2e_burst) could
    // take it and its CPU request. vk install adopts the namespace.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .unwrap();
    let quotas: Api<k8s_openapi::api::core::v1::ResourceQuota> =
        Api::namespaced(client.clone(), &ns);
    quotas
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();

    // First install: every object created, the namespace taken over.
    let first = run("install").await;
    assert_eq!(
        first.lines().filter(|l| l.ends_with(" created")).count(),
        objects.len() - 1,
        "every object created:\n{first}"
    );
    assert!(
        first.contains(&format!("Namespace/{ns} configured")),
        "{first}"
    );
    let mut versions = Vec::new();
    for o in &objects {
        let found = get(&client, o)
            .await
            .unwrap_or_else(|| panic!("{} {} was not created", o.0, o.1));
        let labels = found.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("vk-install")
        );
        versions.push(applied_by_install(&found));
    }
    // RBAC exactly deploy/base's.
    let cr: ClusterRole = Api::all(client.clone())
        .get(&format!("vk-{ns}"))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&cr.rules).unwrap(),
        base_rules("ClusterRole", "vk")
    );
    let lease_role: Role = Api::namespaced(client.clone(), "kube-node-lease")
        .get(&format!("vk-node-lease-{ns}"))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&lease_role.rules).unwrap(),
        base_rules("Role", "vk-node-lease")
    );
    let leader: Role = Api::namespaced(client.clone(), &ns)
        .get("vk-leader-election")
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&leader.rules).unwrap(),
        base_rules("Role", "vk-leader-election")
    );
    // The configuration names the connector's nodes.
    let cm = get(&client, &objects[10]).await.unwrap();
    let config = cm.data["data"]["config.toml"].as_str().unwrap().to_owned();
    for os in ["linux", "windows"] {
        assert!(
            config.contains(&format!(
                "name = \"virtual-kubelet-{connector}-{os}-westeurope\""
            )),
            "{config}"
        );
    }

    // Again: nothing changes.
    let second = run("install").await;
    assert_eq!(
        second.lines().filter(|l| l.ends_with(" unchanged")).count(),
        objects.len(),
        "a second install changes nothing:\n{second}"
    );
    for (o, before) in objects.iter().zip(&versions) {
        let after = applied_by_install(&get(&client, o).await.unwrap());
        assert_eq!(
            &after, before,
            "{} {} was rewritten by the second install",
            o.0, o.1
        );
    }

    // The user's Secret, which vk install did not create.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "azure-sp"},
        "stringData": {"tenant-id": "t", "client-id": "c", "client-secret": "s"}
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();

    let out = run("uninstall").await;
    assert_eq!(
        out.lines().filter(|l| l.ends_with(" deleted")).count(),
        objects.len() - 1,
        "every object but the namespace deleted:\n{out}"
    );
    for o in &objects[1..] {
        wait::until(&format!("{} {} gone", o.0, o.1), 30, || async {
            get(&client, o).await.is_none().then_some(())
        })
        .await;
    }
    assert!(
        secrets.get_opt("azure-sp").await.unwrap().is_some(),
        "the user's Secret stays"
    );
    assert!(
        get(&client, &objects[0]).await.is_some(),
        "the namespace stays while it holds the user's Secret:\n{out}"
    );
    assert!(
        out.contains("kept: it holds what vk install did not create (Secret azure-sp)"),
        "{out}"
    );

    // Without it, uninstall removes the namespace too.
    secrets
        .delete("azure-sp", &Default::default())
        .await
        .unwrap();
    let out = run("uninstall").await;
    assert!(out.contains(&format!("Namespace/{ns} deleted")), "{out}");
    wait::until("the namespace gone", 60, || async {
        get(&client, &objects[0]).await.is_none().then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}
