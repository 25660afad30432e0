//! Huge pods: megabyte values, thousands of variables, huge annotations and
//! names. `pod_to_group` must answer `Ok` or a clear error and never panic.
//! No timing assertions: completing is the point.

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};
use vk_provider_aci::{ResolvedRefs, TranslateConfig, pod_to_group};

const MB: usize = 1 << 20;

fn config() -> TranslateConfig {
    TranslateConfig::new("vk-node", "cluster-1", "westeurope")
}

fn pod(value: Value) -> Pod {
    serde_json::from_value(value).expect("test pod parses")
}

fn base(containers: Value) -> Value {
    json!({
        "metadata": {"name": "big", "namespace": "default", "uid": "u1"},
        "spec": {"containers": containers}
    })
}

/// Translates, and checks a failure is a clear error naming the pod.
fn translate(pod: &Pod, refs: &ResolvedRefs) -> Result<vk_aci::models::ContainerGroup, String> {
    match pod_to_group(pod, refs, &config()) {
        Ok((group, _warnings)) => {
            // The result must also be sendable.
            serde_json::to_vec(&group).expect("group serializes");
            Ok(group)
        }
        Err(e) => {
            let text = e.to_string();
            assert!(!text.is_empty());
            let name = pod.metadata.name.as_deref().unwrap_or_default();
            if name.len() < 256 {
                assert!(text.contains(name), "error does not name the pod: {text}");
            }
            Err(text)
        }
    }
}

#[test]
fn one_megabyte_env_value() {
    let big = "v".repeat(MB);
    let p = pod(base(json!([{
        "name": "app", "image": "busybox",
        "env": [{"name": "BIG", "value": big}, {"name": "REF", "value": "x$(BIG)y"}]
    }])));
    let group = translate(&p, &ResolvedRefs::default()).expect("1 MB env value is accepted");
    let env = group.properties.containers[0]
        .properties
        .environment_variables
        .as_ref()
        .expect("env");
    assert_eq!(env[0].value.as_ref().map(String::len), Some(MB));
    assert_eq!(env[1].value.as_ref().map(String::len), Some(MB + 2));
}

#[test]
fn one_megabyte_secret_env_value() {
    let big = "s".repeat(MB);
    let refs = ResolvedRefs::default().with_secret("big", None, [("k", big.as_bytes())]);
    let p = pod(base(json!([{
        "name": "app", "image": "busybox",
        "env": [{"name": "BIG", "valueFrom": {"secretKeyRef": {"name": "big", "key": "k"}}}]
    }])));
    let group = translate(&p, &refs).expect("accepted");
    assert!(!format!("{group:?}").contains(&big[..64]));
}

#[test]
fn ten_thousand_env_vars() {
    let env: Vec<Value> = (0..10_000)
        .map(|i| json!({"name": format!("VAR_{i}"), "value": format!("$(VAR_{})-{i}", i.max(1) - 1)}))
        .collect();
    let p = pod(base(
        json!([{"name": "app", "image": "busybox", "env": env}]),
    ));
    if let Ok(group) = translate(&p, &ResolvedRefs::default()) {
        let n = group.properties.containers[0]
            .properties
            .environment_variables
            .as_ref()
            .map_or(0, Vec::len);
        assert_eq!(n, 10_000);
    }
}

#[test]
fn ten_thousand_env_vars_from_a_config_map() {
    let data: Vec<(String, String)> = (0..10_000)
        .map(|i| (format!("K{i}"), format!("v{i}")))
        .collect();
    let refs = ResolvedRefs::default().with_config_map("cm", data);
    let p = pod(base(json!([{
        "name": "app", "image": "busybox",
        "envFrom": [{"configMapRef": {"name": "cm"}}]
    }])));
    let _ = translate(&p, &refs);
}

#[test]
fn env_expansion_does_not_blow_up() {
    // Each variable references the previous one twice: naive recursive
    // expansion would be 2^n; Kubernetes expands once, in order.
    let mut env = vec![json!({"name": "V0", "value": "x".repeat(1024)})];
    for i in 1..64 {
        env.push(json!({"name": format!("V{i}"), "value": format!("$(V{})", i - 1)}));
    }
    let p = pod(base(json!([{"name": "app", "image": "busybox", "env": env,
        "command": ["echo", "$(V63)$(V63)"]}])));
    let _ = translate(&p, &ResolvedRefs::default());
}

#[test]
fn huge_annotations() {
    let mut annotations = serde_json::Map::new();
    for i in 0..10_000 {
        annotations.insert(format!("example.com/a{i}"), json!("x".repeat(100)));
    }
    annotations.insert("example.com/huge".into(), json!("h".repeat(MB)));
    let mut value = base(json!([{"name": "app", "image": "busybox"}]));
    value["metadata"]["annotations"] = Value::Object(annotations);
    let group = translate(&pod(value), &ResolvedRefs::default()).expect("accepted");
    let tags = format!("{:?}", group.tags);
    assert!(
        tags.len() < 4096,
        "annotations leaked into tags: {} bytes",
        tags.len()
    );
}

#[test]
fn huge_values_in_annotations_vk_reads() {
    for key in [
        vk_provider_aci::translate::DNS_NAME_LABEL_ANNOTATION,
        vk_provider_aci::translate::ENTRYPOINT_ANNOTATION,
        vk_provider_aci::translate::SKU_ANNOTATION,
        vk_provider_aci::translate::CCE_POLICY_ANNOTATION,
        vk_provider_aci::translate::PRIORITY_ANNOTATION,
    ] {
        for value in [
            "z".repeat(MB),
            format!("[{}]", vec!["\"a\""; 100_000].join(",")),
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        ] {
            let mut v = base(json!([{"name": "app", "image": "busybox", "args": ["a"]}]));
            v["metadata"]["annotations"] = json!({ key: value });
            let _ = translate(&pod(v), &ResolvedRefs::default());
        }
    }
}

#[test]
fn huge_names_commands_and_images() {
    let long = "n".repeat(MB);
    let mut v = base(json!([{
        "name": long, "image": format!("registry.example.com/{long}:tag"),
        "command": vec![long.clone(); 16],
        "ports": [{"containerPort": 80, "name": long}]
    }]));
    v["metadata"]["name"] = json!(long);
    v["metadata"]["namespace"] = json!("ns-🚀-ÜNI");
    v["metadata"]["labels"] = json!({ "k": long });
    let p = pod(v);
    let _ = translate(&p, &ResolvedRefs::default());
}

#[test]
fn many_containers_volumes_and_ports() {
    let containers: Vec<Value> = (0..200)
        .map(|i| json!({"name": format!("c{i}"), "image": "busybox",
            "ports": (0..50).map(|p| json!({"containerPort": 1000 + i * 50 + p})).collect::<Vec<_>>(),
            "volumeMounts": [{"name": format!("v{i}"), "mountPath": format!("/m/{i}")}]}))
        .collect();
    let mut v = base(Value::Array(containers));
    v["spec"]["volumes"] = Value::Array(
        (0..200)
            .map(|i| json!({"name": format!("v{i}"), "emptyDir": {}}))
            .collect(),
    );
    let err = translate(&pod(v), &ResolvedRefs::default()).expect_err("ACI limits apply");
    assert!(!err.is_empty());
}

#[test]
fn huge_resource_quantities() {
    for q in [
        "9".repeat(MB),
        format!("1e{}", "9".repeat(1000)),
        "1Ei".into(),
        "-1".into(),
    ] {
        let p = pod(base(json!([{"name": "app", "image": "busybox",
            "resources": {"requests": {"cpu": q, "memory": q}, "limits": {"cpu": q}}}])));
        let err = translate(&p, &ResolvedRefs::default()).expect_err("refused");
        assert!(
            err.contains("cpu") || err.contains("memory"),
            "{}",
            &err[..err.len().min(300)]
        );
    }
}
