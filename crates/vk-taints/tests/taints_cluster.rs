//! Integration test against a real API server (the local control plane from
//! `vk-testkit`): another writer adds and removes its own taints while vk's
//! reconciler toggles the healthy/unhealthy taint set; at the end both sets
//! are exactly as each writer left them.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{Node, Taint};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use vk_taints::{Health, Outcome, TaintConfig, TaintReconciler};

/// Rounds of the other writer: keys `other-0` and `other-1` end present,
/// `other-2` and `other-3` end absent.
const OTHER_ROUNDS: usize = 42;
/// Rounds of vk's reconciler: it ends unhealthy.
const VK_ROUNDS: usize = 41;
const OTHER_PREFIX: &str = "example.com/other-";

fn unique_node_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("vk-taints-it-{}-{nanos}", std::process::id())
}

fn node_taints(node: &Node) -> Vec<Taint> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
}

/// The "other writer": toggles `example.com/other-N` taints with its own
/// read-modify-write + resourceVersion precondition, retrying on conflict.
/// Returns the set of its taint keys it left on the node.
async fn other_writer(nodes: Api<Node>, name: String) -> Result<BTreeSet<String>, kube::Error> {
    let mut mine = BTreeSet::new();
    for round in 0..OTHER_ROUNDS {
        let key = format!("{OTHER_PREFIX}{}", round % 4);
        let adding = !mine.contains(&key);
        loop {
            let node = nodes.get(&name).await?;
            let mut taints = node_taints(&node);
            taints.retain(|t| t.key != key);
            if adding {
                taints.push(Taint {
                    key: key.clone(),
                    value: Some(format!("r{round}")),
                    effect: "NoSchedule".into(),
                    time_added: None,
                });
            }
            let patch = json!({
                "metadata": {"resourceVersion": node.resource_version()},
                "spec": {"taints": taints},
            });
            match nodes
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => break,
                Err(kube::Error::Api(s)) if s.is_conflict() => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(e) => return Err(e),
            }
        }
        if adding {
            mine.insert(key);
        } else {
            mine.remove(&key);
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    Ok(mine)
}

#[tokio::test]
async fn concurrent_writers_keep_each_others_taints() {
    let env = vk_testkit::TestEnv::get().await;
    let client: kube::Client = env.client().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let name = unique_node_name();

    // A Node without spec.taints.
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"type": "virtual-kubelet"}},
    }))
    .expect("node json");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");

    let config = TaintConfig::default();
    let reconciler = TaintReconciler::new(client.clone(), name.clone(), &config);

    let other = tokio::spawn(other_writer(nodes.clone(), name.clone()));
    let vk = {
        let reconciler = reconciler.clone();
        let config = config.clone();
        tokio::spawn(async move {
            let mut last = Health::Healthy;
            let mut conflicts = 0;
            for round in 0..VK_ROUNDS {
                last = if round % 2 == 0 {
                    Health::unhealthy("ProviderUnreachable", format!("round {round}"))
                } else {
                    Health::Healthy
                };
                if let Outcome::Updated { attempts, .. } =
                    reconciler.ensure(&config.desired(&last)).await?
                {
                    conflicts += attempts - 1;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Ok::<_, vk_taints::Error>((last, conflicts))
        })
    };

    let other_result = other.await.expect("other writer task");
    let vk_result = vk.await.expect("vk task");
    let final_node = nodes.get(&name).await;
    let _ = nodes.delete(&name, &DeleteParams::default()).await;

    let other_keys = other_result.expect("other writer");
    let (last_health, conflicts) = vk_result.expect("vk reconciler");
    let taints = node_taints(&final_node.expect("get node"));
    eprintln!("final taints: {taints:?}; vk saw {conflicts} conflict retries");

    // The other writer's taints are exactly what it left.
    let others_on_node: BTreeSet<String> = taints
        .iter()
        .filter(|t| t.key.starts_with(OTHER_PREFIX))
        .map(|t| t.key.clone())
        .collect();
    assert_eq!(others_on_node, other_keys);
    let expected: BTreeSet<String> = [0, 1].map(|i| format!("{OTHER_PREFIX}{i}")).into();
    assert_eq!(other_keys, expected);

    // vk's taints are exactly its last desired set.
    let owned = config.owned();
    let mine: Vec<Taint> = taints
        .iter()
        .filter(|t| owned.iter().any(|id| id.matches(t)))
        .cloned()
        .collect();
    assert!(!last_health.is_healthy());
    assert!(
        vk_taints::same_taints(&mine, &config.desired(&last_health)),
        "vk's taints {mine:?}"
    );
}
