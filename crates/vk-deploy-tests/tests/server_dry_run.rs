//! Every overlay passes `kubectl apply --server-side --dry-run=server` against the test
//! cluster: the API server admits every object as rendered (schemas, defaulting, validation,
//! RBAC objects), and nothing is persisted.
//!
//! Server dry-run of namespaced objects needs their namespace to exist, so `vk-system` is
//! created for real when it is missing, and left in place: other tests sharing the cluster (the
//! RBAC end-to-end test) may deploy vk into it at the same time, and deleting it under them
//! would make them flaky. An empty namespace is harmless; a `vk-system` that existed before is
//! never touched.
//!
//! The test cluster runs Kubernetes 1.20, which serves PodDisruptionBudgets only as
//! `policy/v1beta1` (`policy/v1` is 1.21+). On such a server the PodDisruptionBudget is applied
//! as `policy/v1beta1` (same fields); on a newer one nothing is changed.

mod common;

use std::fmt::Write as _;

use common::{OVERLAYS, render, run_kubectl};

const NAMESPACE: &str = "vk-system";
const FIELD_MANAGER: &str = "vk-deploy-tests";

fn kubectl_ok(kubeconfig: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut all = vec!["--kubeconfig", kubeconfig];
    all.extend_from_slice(args);
    let out = run_kubectl(&all, stdin);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "kubectl {} failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_overlay_passes_a_server_side_dry_run() {
    let env = vk_testkit::TestEnv::get().await;
    let kubeconfig = env
        .kubeconfig()
        .to_str()
        .expect("a UTF-8 kubeconfig path")
        .to_string();
    let kc = kubeconfig.as_str();

    let versions = kubectl_ok(kc, &["api-versions"], None).unwrap_or_else(|e| panic!("{e}"));
    let has_policy_v1 = versions.lines().any(|l| l.trim() == "policy/v1");
    if !has_policy_v1 {
        eprintln!(
            "the server has no policy/v1 (Kubernetes < 1.21): applying the PodDisruptionBudget as policy/v1beta1"
        );
    }

    let existed = kubectl_ok(
        kc,
        &[
            "get",
            "namespace",
            NAMESPACE,
            "--ignore-not-found",
            "-o",
            "name",
        ],
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .contains(NAMESPACE);
    if !existed {
        kubectl_ok(kc, &["create", "namespace", NAMESPACE], None).unwrap_or_else(|e| panic!("{e}"));
    }

    let mut failures = String::new();
    for overlay in OVERLAYS {
        let mut yaml = render(overlay);
        let objects = common::parse_stream(&yaml).len();
        if !has_policy_v1 {
            let before = "apiVersion: policy/v1\nkind: PodDisruptionBudget\n";
            assert!(
                yaml.contains(before),
                "overlay {overlay}: no policy/v1 PodDisruptionBudget to downgrade"
            );
            yaml = yaml.replace(
                before,
                "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\n",
            );
        }
        match kubectl_ok(
            kc,
            &[
                "apply",
                "--server-side",
                "--dry-run=server",
                "--field-manager",
                FIELD_MANAGER,
                "-f",
                "-",
            ],
            Some(&yaml),
        ) {
            Ok(out) => {
                let applied = out
                    .lines()
                    .filter(|l| l.contains("(server dry run)"))
                    .count();
                if applied != objects {
                    let _ = writeln!(
                        failures,
                        "overlay {overlay}: {applied} of {objects} objects applied:\n{out}"
                    );
                } else {
                    eprintln!("overlay {overlay}: {objects} objects pass the server-side dry run");
                }
            }
            Err(e) => {
                let _ = writeln!(failures, "overlay {overlay}: {e}");
            }
        }
    }

    // Nothing was persisted by the dry runs (unless vk was deployed for real, by another test).
    let persisted = kubectl_ok(
        kc,
        &[
            "get",
            "clusterrole",
            "vk",
            "--ignore-not-found",
            "-o",
            "name",
        ],
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let deployed = kubectl_ok(
        kc,
        &[
            "-n",
            NAMESPACE,
            "get",
            "serviceaccount",
            "vk",
            "--ignore-not-found",
            "-o",
            "name",
        ],
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .contains("vk");
    if !existed {
        eprintln!("created namespace {NAMESPACE} for the dry runs; it is left in place");
    }

    assert!(
        failures.is_empty(),
        "server-side dry run failed:\n{failures}"
    );
    assert!(
        deployed || persisted.trim().is_empty(),
        "a dry run persisted the ClusterRole vk: {persisted}"
    );
}
