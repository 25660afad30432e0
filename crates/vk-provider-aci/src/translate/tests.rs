// Over 800 lines: the pod-to-container-group translation table, one test per mapped field.
//! Translation rules, one test (or a few) per rule. Pods are JSON literals.

use base64::Engine as _;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};
use vk_aci::models::{ContainerGroup, IpAddressType, OperatingSystemType, Protocol};
use vk_resources::OsType;

use super::*;
use crate::refs::ResolvedRefs;

fn pod(spec: Value) -> Pod {
    pod_with(json!({}), spec)
}

fn pod_with(annotations: Value, spec: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {
            "name": "web", "namespace": "prod", "uid": "uid-1",
            "labels": {"app": "web", "tier": "front"},
            "annotations": annotations,
        },
        "spec": spec,
    }))
    .unwrap()
}

fn config() -> TranslateConfig {
    let mut c = TranslateConfig::new("vk-node", "cluster-1", "westeurope");
    c.node_ip = Some("10.1.0.4".into());
    c
}

fn translate(pod: &Pod, refs: &ResolvedRefs) -> (ContainerGroup, Vec<String>) {
    let (group, adjustments) = pod_to_group(pod, refs, &config()).unwrap();
    (group, adjustments.into_iter().map(|a| a.message).collect())
}

fn err(pod: &Pod, refs: &ResolvedRefs) -> Error {
    pod_to_group(pod, refs, &config()).unwrap_err()
}

fn one(c: Value) -> Value {
    json!({"containers": [c]})
}

fn env_of(group: &ContainerGroup) -> Value {
    serde_json::to_value(
        &group.properties.containers[0]
            .properties
            .environment_variables,
    )
    .unwrap()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn secret_files(group: &ContainerGroup, volume: &str) -> Value {
    let v = group
        .properties
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == volume)
        .unwrap();
    // A volume serializes its files for ARM; a bare `Secret` would show `<redacted>`.
    serde_json::to_value(v).unwrap()["secret"].clone()
}

// ---- The seed -----------------------------------------------------------

#[test]
fn seed_iis_pod_is_a_windows_group_with_one_cpu_one_gb_and_port_80() {
    let pod = pod(one(json!({
        "name": "iis", "image": "microsoft/iis",
        "ports": [{"containerPort": 80}],
        "resources": {"requests": {"memory": "1G", "cpu": "1"}, "limits": {"memory": "1G", "cpu": "1"}}
    })));
    let mut config = config();
    config.os = OsType::Windows;
    let (group, warnings) = pod_to_group(&pod, &ResolvedRefs::default(), &config).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let p = &group.properties;
    assert_eq!(p.os_type, Some(OperatingSystemType::Windows));
    let c = &p.containers[0].properties;
    assert_eq!(c.image, "microsoft/iis");
    assert_eq!(c.resources.requests.cpu, 1.0);
    assert_eq!(c.resources.requests.memory_in_gb, 1.0);
    let ip = p.ip_address.as_ref().unwrap();
    assert_eq!(ip.address_type, Some(IpAddressType::Public));
    assert_eq!(ip.ports.len(), 1);
    assert_eq!(ip.ports[0].port, 80);
    assert_eq!(ip.ports[0].protocol, Some(Protocol::Tcp));
    assert_eq!(c.ports.as_ref().unwrap()[0].port, 80);
    assert_eq!(group.location.as_deref(), Some("westeurope"));
    assert_eq!(p.restart_policy, Some(RestartPolicy::Always));
    assert_eq!(p.sku, Some(ContainerGroupSku::Standard));
}

#[test]
fn cpu_request_two_gives_two_cpus() {
    let pod = pod(one(json!({
        "name": "iis", "image": "microsoft/iis",
        "resources": {"requests": {"memory": "1G", "cpu": "2"}}
    })));
    let (group, _) = translate(&pod, &ResolvedRefs::default());
    assert_eq!(
        group.properties.containers[0]
            .properties
            .resources
            .requests
            .cpu,
        2.0
    );
}

#[test]
fn too_many_cpus_fail_naming_the_limit() {
    let pod = pod(one(
        json!({"name": "c", "image": "i", "resources": {"requests": {"cpu": "64"}}}),
    ));
    let e = err(&pod, &ResolvedRefs::default()).to_provider_error();
    assert_eq!(e.kind, vk_pods::ErrorKind::InvalidSpec);
    assert_eq!(e.reason, "ExceedsGroupMaximum");
    assert!(
        e.message.contains("64") && e.message.contains("31"),
        "{}",
        e.message
    );
}

// ---- Secrets never in plain text -----------------------------------------

#[test]
fn secret_env_is_only_a_secure_value() {
    let pod = pod(one(json!({
        "name": "c", "image": "busybox",
        "env": [
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "DSN", "value": "user:$(PASSWORD)@db"}
        ]
    })));
    let refs = ResolvedRefs::default().with_secret("db", None, [("password", "hunter2-s3cret")]);
    let (group, _) = translate(&pod, &refs);
    let env = env_of(&group);
    assert_eq!(
        env[0],
        json!({"name": "PASSWORD", "secureValue": "hunter2-s3cret"})
    );
    assert_eq!(
        env[1],
        json!({"name": "DSN", "secureValue": "user:hunter2-s3cret@db"})
    );
    let body = serde_json::to_value(&group).unwrap();
    let text = body.to_string();
    assert_eq!(text.matches("hunter2-s3cret").count(), 2);
    for e in body["properties"]["containers"][0]["properties"]["environmentVariables"]
        .as_array()
        .unwrap()
    {
        assert!(e.get("value").is_none(), "{e}");
    }
    assert!(
        !serde_json::to_string(&group.tags)
            .unwrap()
            .contains("hunter2")
    );
    assert!(!format!("{group:?}").contains("hunter2"));
    assert!(!format!("{refs:?}").contains("hunter2"));
}

#[test]
fn secret_in_command_is_refused() {
    let pod = pod(one(json!({
        "name": "c", "image": "busybox",
        "command": ["app", "--password=$(PASSWORD)"],
        "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
    })));
    let refs = ResolvedRefs::default().with_secret("db", None, [("password", "x")]);
    let e = err(&pod, &refs);
    assert!(
        matches!(e, Error::SecretInCommand { ref variable, .. } if variable == "PASSWORD"),
        "{e}"
    );
}

// ---- Command and args ----------------------------------------------------

#[test]
fn command_and_args_are_concatenated_and_expanded() {
    let pod = pod(one(json!({
        "name": "c", "image": "busybox",
        "command": ["sh", "-c"], "args": ["echo $(GREETING) $$(HOME) $(UNKNOWN)"],
        "env": [{"name": "GREETING", "value": "hi"}]
    })));
    let (group, _) = translate(&pod, &ResolvedRefs::default());
    assert_eq!(
        group.properties.containers[0].properties.command,
        Some(vec![
            "sh".into(),
            "-c".into(),
            "echo hi $(HOME) $(UNKNOWN)".into()
        ])
    );
}

#[test]
fn no_command_keeps_the_image_defaults() {
    let (group, _) = translate(
        &pod(one(json!({"name": "c", "image": "nginx"}))),
        &ResolvedRefs::default(),
    );
    assert_eq!(group.properties.containers[0].properties.command, None);
}

#[test]
fn args_without_command_need_the_entrypoint_annotation() {
    let c = json!({"name": "c", "image": "nginx", "args": ["-g", "daemon off;"]});
    let e = err(&pod(one(c.clone())), &ResolvedRefs::default());
    assert_eq!(e.reason(), "ArgsWithoutCommand");
    assert!(e.to_string().contains(ENTRYPOINT_ANNOTATION), "{e}");

    let with_array = pod_with(
        json!({ENTRYPOINT_ANNOTATION: "[\"nginx\"]"}),
        one(c.clone()),
    );
    let (group, _) = translate(&with_array, &ResolvedRefs::default());
    assert_eq!(
        group.properties.containers[0].properties.command,
        Some(vec!["nginx".into(), "-g".into(), "daemon off;".into()])
    );

    let with_map = pod_with(
        json!({ENTRYPOINT_ANNOTATION: "{\"c\": [\"/docker-entrypoint.sh\", \"nginx\"]}"}),
        one(c.clone()),
    );
    let (group, _) = translate(&with_map, &ResolvedRefs::default());
    assert_eq!(
        group.properties.containers[0]
            .properties
            .command
            .as_ref()
            .unwrap()[0],
        "/docker-entrypoint.sh"
    );

    let other_container = pod_with(
        json!({ENTRYPOINT_ANNOTATION: "{\"x\": [\"a\"]}"}),
        one(c.clone()),
    );
    assert_eq!(
        err(&other_container, &ResolvedRefs::default()).reason(),
        "ArgsWithoutCommand"
    );

    let bad = pod_with(json!({ENTRYPOINT_ANNOTATION: "nginx"}), one(c));
    assert_eq!(
        err(&bad, &ResolvedRefs::default()).reason(),
        "InvalidAnnotation"
    );
}

// ---- Environment ---------------------------------------------------------

#[test]
fn env_sources_and_downward_api() {
    let pod = pod(json!({
        "serviceAccountName": "sa", "nodeName": "vk-node",
        "containers": [{
            "name": "c", "image": "busybox",
            "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
            "envFrom": [
                {"configMapRef": {"name": "settings"}, "prefix": "CFG_"},
                {"secretRef": {"name": "creds"}},
                {"configMapRef": {"name": "absent", "optional": true}}
            ],
            "env": [
                {"name": "PLAIN", "value": "v"},
                {"name": "EMPTY", "value": ""},
                {"name": "CFG_MODE", "value": "override-$(PLAIN)"},
                {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
                {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "nope", "optional": true}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "MEM_LIMIT_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                {"name": "CPU_REQ_M", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
                {"name": "CPU_REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}},
                {"name": "CPU_LIMIT_M", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}}
            ]
        }]
    }));
    let refs = ResolvedRefs::default()
        .with_config_map("settings", [("mode", "fast"), ("level", "3")])
        .with_secret("creds", None, [("TOKEN", "tok")]);
    let (group, warnings) = translate(&pod, &refs);
    let env = env_of(&group);
    let get = |name: &str| {
        env.as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
    };
    assert_eq!(get("CFG_level").unwrap()["value"], "3");
    assert_eq!(get("CFG_MODE").unwrap()["value"], "override-v");
    assert_eq!(
        get("TOKEN").unwrap(),
        json!({"name": "TOKEN", "secureValue": "tok"})
    );
    assert_eq!(get("EMPTY").unwrap()["value"], "");
    assert_eq!(get("FROM_CM").unwrap()["value"], "fast");
    assert!(get("OPT").is_none());
    assert_eq!(get("POD_NAME").unwrap()["value"], "web");
    assert_eq!(get("POD_NS").unwrap()["value"], "prod");
    assert_eq!(get("POD_UID").unwrap()["value"], "uid-1");
    assert_eq!(get("APP").unwrap()["value"], "web");
    assert_eq!(get("NODE").unwrap()["value"], "vk-node");
    assert_eq!(get("SA").unwrap()["value"], "sa");
    assert_eq!(get("HOST_IP").unwrap()["value"], "10.1.0.4");
    assert!(
        get("POD_IP").is_none(),
        "the pod IP is unknown before creation"
    );
    assert!(
        warnings.iter().any(|w| w.contains("POD_IP")),
        "{warnings:?}"
    );
    assert_eq!(get("MEM_LIMIT_MI").unwrap()["value"], "128");
    assert_eq!(get("CPU_REQ_M").unwrap()["value"], "250");
    assert_eq!(
        get("CPU_REQ").unwrap()["value"],
        "1",
        "cpu rounds up to whole cores"
    );
    // No Kubernetes CPU limit: the value ACI gives (the request, 0.25 CPU).
    assert_eq!(get("CPU_LIMIT_M").unwrap()["value"], "250");
    // envFrom keys come first, env entries after, in order.
    let names: Vec<&str> = env
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(&names[..4], &["CFG_level", "CFG_mode", "TOKEN", "PLAIN"]);
}

#[test]
fn missing_required_refs_are_config_errors() {
    let secret_env = pod(one(json!({"name": "c", "image": "i",
        "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k"}}}]})));
    let e = err(&secret_env, &ResolvedRefs::default()).to_provider_error();
    assert_eq!(e.reason, "MandatorySecretNotFound");
    assert_eq!(e.kind, vk_pods::ErrorKind::ConfigUnavailable);
    assert!(
        e.message.contains("secret \"gone\" not found"),
        "{}",
        e.message
    );

    let missing_key = ResolvedRefs::default().with_secret("gone", None, [("other", "x")]);
    let e = err(&secret_env, &missing_key).to_provider_error();
    assert_eq!(e.reason, "MandatorySecretKeyNotFound");
    assert_eq!(e.kind, vk_pods::ErrorKind::ConfigUnavailable);
    assert!(e.message.contains("couldn't find key k"), "{}", e.message);

    let cm_env = pod(one(json!({"name": "c", "image": "i",
        "envFrom": [{"configMapRef": {"name": "cfg"}}]})));
    let e = err(&cm_env, &ResolvedRefs::default()).to_provider_error();
    assert_eq!(e.reason, "MandatoryConfigMapNotFound");
    assert!(
        e.message.contains("configmap \"cfg\" not found"),
        "{}",
        e.message
    );

    let optional = pod(one(json!({"name": "c", "image": "i",
        "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": true}}}],
        "envFrom": [{"secretRef": {"name": "gone2", "optional": true}}]})));
    let (group, _) = translate(&optional, &ResolvedRefs::default());
    assert_eq!(
        group.properties.containers[0]
            .properties
            .environment_variables,
        None
    );
}

#[test]
fn unsupported_field_ref_is_an_error() {
    let pod = pod(one(json!({"name": "c", "image": "i",
        "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels"}}}]})));
    let e = err(&pod, &ResolvedRefs::default()).to_provider_error();
    assert_eq!(e.reason, "UnsupportedEnv");
    assert_eq!(
        e.kind,
        vk_pods::ErrorKind::InvalidSpec,
        "never succeeds: held"
    );
    assert_eq!(e.container.as_deref(), Some("c"));
}

// ---- Volumes -------------------------------------------------------------

#[test]
fn secret_and_config_map_volumes_honour_items() {
    let pod = pod(json!({
        "containers": [{"name": "c", "image": "i", "volumeMounts": [
            {"name": "certs", "mountPath": "/certs", "readOnly": true},
            {"name": "config", "mountPath": "/etc/app"},
            {"name": "all", "mountPath": "/all"},
            {"name": "scratch", "mountPath": "/tmp"}
        ]}],
        "volumes": [
            {"name": "certs", "secret": {"secretName": "tls", "items": [{"key": "tls.crt", "path": "server.crt"}]}},
            {"name": "config", "configMap": {"name": "app", "defaultMode": 420}},
            {"name": "all", "secret": {"secretName": "tls"}},
            {"name": "scratch", "emptyDir": {}}
        ]
    }));
    let refs = ResolvedRefs::default()
        .with_secret("tls", None, [("tls.crt", "CERT"), ("tls.key", "KEY")])
        .with_config_map("app", [("app.yaml", "a: 1")]);
    let (group, warnings) = translate(&pod, &refs);
    assert_eq!(
        secret_files(&group, "certs"),
        json!({"server.crt": b64("CERT")})
    );
    assert_eq!(
        secret_files(&group, "config"),
        json!({"app.yaml": b64("a: 1")})
    );
    assert_eq!(
        secret_files(&group, "all"),
        json!({"tls.crt": b64("CERT"), "tls.key": b64("KEY")})
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("config") && w.contains("mode")),
        "{warnings:?}"
    );
    let vols = group.properties.volumes.as_ref().unwrap();
    assert!(
        vols.iter()
            .any(|v| v.name == "scratch" && v.empty_dir.is_some())
    );
    let mounts = group.properties.containers[0]
        .properties
        .volume_mounts
        .as_ref()
        .unwrap();
    assert_eq!(mounts[0].mount_path, "/certs");
    assert_eq!(mounts[0].read_only, Some(true));
    assert!(!format!("{group:?}").contains(&b64("KEY")));
}

#[test]
fn missing_optional_secret_volume_is_an_empty_dir_and_missing_required_fails() {
    let spec = |optional: bool| {
        json!({
            "containers": [{"name": "c", "image": "i", "volumeMounts": [{"name": "s", "mountPath": "/s"}]}],
            "volumes": [{"name": "s", "secret": {"secretName": "nope", "optional": optional}}]
        })
    };
    let (group, _) = translate(&pod(spec(true)), &ResolvedRefs::default());
    assert!(
        group.properties.volumes.as_ref().unwrap()[0]
            .empty_dir
            .is_some()
    );
    let e = err(&pod(spec(false)), &ResolvedRefs::default());
    assert!(
        matches!(e, Error::MissingSecret { ref name, .. } if name == "nope"),
        "{e}"
    );
}

#[test]
fn missing_item_key_fails_unless_optional() {
    let pod = pod(json!({
        "containers": [{"name": "c", "image": "i"}],
        "volumes": [{"name": "s", "configMap": {"name": "app", "items": [{"key": "missing", "path": "m"}]}}]
    }));
    let refs = ResolvedRefs::default().with_config_map("app", [("k", "v")]);
    assert_eq!(err(&pod, &refs).reason(), "MandatoryConfigMapKeyNotFound");
}

#[test]
fn projected_volume_is_one_secret_volume_with_token_ca_and_downward_files() {
    let pod = pod(json!({
        "containers": [{"name": "c", "image": "i", "resources": {"limits": {"memory": "256Mi"}},
            "volumeMounts": [{"name": "kube-api-access-x1", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]}],
        "volumes": [{"name": "kube-api-access-x1", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [
                {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}},
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}}
            ]}},
            {"secret": {"name": "extra", "items": [{"key": "k", "path": "extra/k"}]}}
        ]}}]
    }));
    let refs = ResolvedRefs::default()
        .with_token(None, 3607, "jwt-token")
        .with_config_map("kube-root-ca.crt", [("ca.crt", "CA PEM")])
        .with_secret("extra", None, [("k", "v")]);
    let (group, warnings) = translate(&pod, &refs);
    assert_eq!(
        secret_files(&group, "kube-api-access-x1"),
        json!({
            "token": b64("jwt-token"),
            "ca.crt": b64("CA PEM"),
            "namespace": b64("prod"),
            "labels": b64("app=\"web\"\ntier=\"front\""),
            "mem": b64("256"),
            "extra/k": b64("v"),
        })
    );
    assert!(warnings.iter().any(|w| w.contains("mode")), "{warnings:?}");
    assert!(!format!("{group:?}").contains(&b64("jwt-token")));

    // A token the resolver did not mint is an error, not an empty file.
    let e = err(
        &pod,
        &ResolvedRefs::default()
            .with_config_map("kube-root-ca.crt", [("ca.crt", "x")])
            .with_secret("extra", None, [("k", "v")]),
    );
    assert_eq!(e.reason(), "InvalidVolume");
}

#[test]
fn downward_api_volume_renders_files() {
    let pod = pod_with(
        json!({"team": "a\"b"}),
        json!({
            "containers": [{"name": "c", "image": "i"}],
            "volumes": [{"name": "info", "downwardAPI": {"items": [
                {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
                {"path": "team", "fieldRef": {"fieldPath": "metadata.annotations['team']"}}
            ]}}]
        }),
    );
    let (group, _) = translate(&pod, &ResolvedRefs::default());
    assert_eq!(
        secret_files(&group, "info"),
        json!({"name": b64("web"), "annotations": b64("team=\"a\\\"b\""), "team": b64("a\"b")})
    );
}

#[test]
fn azure_file_takes_the_storage_account_from_the_secret() {
    let pod = pod(json!({
        "containers": [{"name": "c", "image": "i", "volumeMounts": [{"name": "share", "mountPath": "/data"}]}],
        "volumes": [{"name": "share", "azureFile": {"secretName": "storage", "shareName": "files", "readOnly": true}}]
    }));
    let refs = ResolvedRefs::default().with_secret(
        "storage",
        None,
        [
            ("azurestorageaccountname", "acct"),
            ("azurestorageaccountkey", "KEY=="),
        ],
    );
    let (group, _) = translate(&pod, &refs);
    let v = serde_json::to_value(&group.properties.volumes.as_ref().unwrap()[0]).unwrap();
    assert_eq!(
        v,
        json!({"name": "share", "azureFile": {"shareName": "files", "readOnly": true,
            "storageAccountName": "acct", "storageAccountKey": "KEY=="}})
    );
    assert!(!format!("{group:?}").contains("KEY=="));
    let e = err(
        &pod,
        &ResolvedRefs::default().with_secret(
            "storage",
            None,
            [("azurestorageaccountname", "acct")],
        ),
    );
    assert!(e.to_string().contains("azurestorageaccountkey"), "{e}");
}

#[test]
fn git_repo_volume() {
    let pod = pod(json!({
        "containers": [{"name": "c", "image": "i"}],
        "volumes": [{"name": "src", "gitRepo": {"repository": "https://github.com/x/y", "revision": "abc", "directory": "."}}]
    }));
    let (group, _) = translate(&pod, &ResolvedRefs::default());
    let g = group.properties.volumes.as_ref().unwrap()[0]
        .git_repo
        .clone()
        .unwrap();
    assert_eq!(g.repository, "https://github.com/x/y");
    assert_eq!(g.revision.as_deref(), Some("abc"));
}

#[test]
fn unsupported_volumes_are_named() {
    for (volume, kind) in [
        (
            json!({"name": "h", "hostPath": {"path": "/var"}}),
            "hostPath",
        ),
        (
            json!({"name": "p", "persistentVolumeClaim": {"claimName": "c"}}),
            "persistentVolumeClaim",
        ),
        (
            json!({"name": "n", "nfs": {"server": "s", "path": "/"}}),
            "nfs",
        ),
    ] {
        let pod = pod(json!({"containers": [{"name": "c", "image": "i"}], "volumes": [volume]}));
        match err(&pod, &ResolvedRefs::default()) {
            Error::UnsupportedVolume { kind: k, .. } => assert_eq!(k, kind),
            other => panic!("{other}"),
        }
    }
}

#[test]
fn bad_mounts_are_errors() {
    let mount = |m: Value| {
        pod(json!({
            "containers": [{"name": "c", "image": "i", "volumeMounts": [m]}],
            "volumes": [{"name": "v", "emptyDir": {}}]
        }))
    };
    assert_eq!(
        err(
            &mount(json!({"name": "x", "mountPath": "/x"})),
            &ResolvedRefs::default()
        )
        .reason(),
        "UnknownVolumeMount"
    );
    assert_eq!(
        err(
            &mount(json!({"name": "v", "mountPath": "/x", "subPath": "a"})),
            &ResolvedRefs::default()
        )
        .reason(),
        "SubPathUnsupported"
    );
    assert_eq!(
        err(
            &mount(json!({"name": "v", "mountPath": "C:\\data"})),
            &ResolvedRefs::default()
        )
        .reason(),
        "InvalidMountPath"
    );
}

#[test]
fn volume_names_invalid_for_aci_are_mapped_consistently() {
    let pod = pod(json!({
        "containers": [{"name": "c", "image": "i", "volumeMounts": [{"name": "my--vol", "mountPath": "/v"}]}],
        "volumes": [{"name": "my--vol", "emptyDir": {}}]
    }));
    let (group, _) = translate(&pod, &ResolvedRefs::default());
    let name = &group.properties.volumes.as_ref().unwrap()[0].name;
    assert!(crate::naming::is_valid_name(name), "{name}");
    assert_eq!(
        &group.properties.containers[0]
            .properties
            .volume_mounts
            .as_ref()
            .unwrap()[0]
            .name,
        name
    );
}

// ---- Registries ----------------------------------------------------------

#[test]
fn pull_secrets_become_credentials_for_used_registries() {
    let config_json = json!({"auths": {
        "myacr.azurecr.io": {"username": "acr-user", "password": "acr-pass"},
        "https://index.docker.io/v1/": {"auth": b64("hub-user:hub-pass")},
        "unused.example.com": {"username": "u", "password": "p"}
    }})
    .to_string();
    let pod = pod(json!({
        "imagePullSecrets": [{"name": "regcred"}, {"name": "missing"}],
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [{"name": "c", "image": "myacr.azurecr.io/app:v1"}]
    }));
    let refs = ResolvedRefs::default().with_secret(
        "regcred",
        Some("kubernetes.io/dockerconfigjson"),
        [(".dockerconfigjson", config_json.as_str())],
    );
    let (group, warnings) = translate(&pod, &refs);
    let creds = serde_json::to_value(&group.properties.image_registry_credentials).unwrap();
    assert_eq!(
        creds,
        json!([
            {"server": "index.docker.io", "username": "hub-user", "password": "hub-pass"},
            {"server": "myacr.azurecr.io", "username": "acr-user", "password": "acr-pass"}
        ])
    );
    assert!(
        warnings.iter().any(|w| w.contains("\"missing\"")),
        "{warnings:?}"
    );
    assert!(!format!("{group:?}").contains("acr-pass"));
}

#[test]
fn legacy_dockercfg_secrets_work() {
    let cfg = json!({"myacr.azurecr.io": {"username": "u", "password": "p"}}).to_string();
    let pod = pod(json!({"imagePullSecrets": [{"name": "old"}],
        "containers": [{"name": "c", "image": "myacr.azurecr.io/app"}]}));
    let refs = ResolvedRefs::default().with_secret(
        "old",
        Some("kubernetes.io/dockercfg"),
        [(".dockercfg", cfg.as_str())],
    );
    let (group, _) = translate(&pod, &refs);
    assert_eq!(
        group.properties.image_registry_credentials.unwrap()[0].server,
        "myacr.azurecr.io"
    );
}

// ---- Ports, IP, DNS ------------------------------------------------------

#[test]
fn ports_from_every_container_on_a_public_ip_with_dns_label() {
    let pod = pod_with(
        json!({DNS_NAME_LABEL_ANNOTATION: "my-web-app"}),
        json!({"containers": [
            {"name": "a", "image": "i", "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]},
            {"name": "b", "image": "i", "ports": [{"containerPort": 8080, "hostPort": 9090}]}
        ]}),
    );
    let (group, warnings) = translate(&pod, &ResolvedRefs::default());
    let ip = group.properties.ip_address.unwrap();
    assert_eq!(ip.dns_name_label.as_deref(), Some("my-web-app"));
    let ports: Vec<(u16, Protocol)> = ip
        .ports
        .iter()
        .map(|p| (p.port, p.protocol.clone().unwrap()))
        .collect();
    assert_eq!(
        ports,
        vec![
            (80, Protocol::Tcp),
            (53, Protocol::Udp),
            (8080, Protocol::Tcp)
        ]
    );
    assert!(
        warnings.iter().any(|w| w.contains("hostPort")),
        "{warnings:?}"
    );
}

#[test]
fn port_errors() {
    let dup = pod(json!({"containers": [
        {"name": "a", "image": "i", "ports": [{"containerPort": 80}]},
        {"name": "b", "image": "i", "ports": [{"containerPort": 80}]}
    ]}));
    assert_eq!(
        err(&dup, &ResolvedRefs::default()).reason(),
        "DuplicatePort"
    );
    let sctp = pod(one(
        json!({"name": "a", "image": "i", "ports": [{"containerPort": 80, "protocol": "SCTP"}]}),
    ));
    assert_eq!(err(&sctp, &ResolvedRefs::default()).reason(), "InvalidPort");
    let many: Vec<Value> = (1..=6).map(|p| json!({"containerPort": p})).collect();
    let many = pod(one(json!({"name": "a", "image": "i", "ports": many})));
    assert_eq!(
        err(&many, &ResolvedRefs::default()).reason(),
        "TooManyPorts"
    );
    let bad_label = pod_with(
        json!({DNS_NAME_LABEL_ANNOTATION: "-no"}),
        one(json!({"name": "a", "image": "i", "ports": [{"containerPort": 80}]})),
    );
    assert_eq!(
        err(&bad_label, &ResolvedRefs::default()).reason(),
        "InvalidAnnotation"
    );
}

#[test]
fn no_ports_no_ip_address() {
    let (group, _) = translate(
        &pod(one(json!({"name": "a", "image": "i"}))),
        &ResolvedRefs::default(),
    );
    assert!(group.properties.ip_address.is_none());
    assert!(group.properties.subnet_ids.is_none());
    assert!(group.properties.dns_config.is_none());
}

#[test]
fn vnet_mode_gives_a_private_ip_subnets_and_cluster_dns() {
    let mut config = config();
    config.subnet_ids = vec!["/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/aci".into()];
    config.cluster_dns = Some(ClusterDns {
        nameserver: "10.0.0.10".into(),
        cluster_domain: "cluster.local".into(),
    });
    let pod = pod_with(
        json!({DNS_NAME_LABEL_ANNOTATION: "ignored-label"}),
        json!({
            "containers": [{"name": "a", "image": "i"}],
            "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["example.com"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}
        }),
    );
    let (group, warnings) = pod_to_group(&pod, &ResolvedRefs::default(), &config).unwrap();
    let p = &group.properties;
    // No ports: no ipAddress block (ACI refuses one without ports); the group
    // still gets its private address in the subnet.
    assert!(p.ip_address.is_none());
    assert!(
        warnings.iter().any(|w| w.message.contains("dnsnamelabel")),
        "{warnings:?}"
    );
    assert!(
        !warnings.iter().any(|w| w.reason == "NoPodIP"),
        "a VNet group has an IP: {warnings:?}"
    );
    let with_port = pod_with(
        json!({DNS_NAME_LABEL_ANNOTATION: "ignored-label"}),
        json!({"containers": [{"name": "a", "image": "i", "ports": [{"containerPort": 8080}]}]}),
    );
    let (ported, _) = pod_to_group(&with_port, &ResolvedRefs::default(), &config).unwrap();
    let ip = ported.properties.ip_address.as_ref().unwrap();
    assert_eq!(ip.address_type, Some(IpAddressType::Private));
    assert_eq!(ip.ports.len(), 1);
    assert!(ip.dns_name_label.is_none());
    assert_eq!(p.subnet_ids.as_ref().unwrap()[0].id, config.subnet_ids[0]);
    let dns = p.dns_config.as_ref().unwrap();
    assert_eq!(
        dns.name_servers,
        vec!["10.0.0.10".to_owned(), "1.1.1.1".into()]
    );
    assert_eq!(
        dns.search_domains.as_deref(),
        Some("prod.svc.cluster.local svc.cluster.local cluster.local example.com")
    );
    assert_eq!(dns.options.as_deref(), Some("ndots:2 edns0"));

    // dnsPolicy None: only the pod's settings.
    let none = pod_with(
        json!({}),
        json!({"containers": [{"name": "a", "image": "i"}], "dnsPolicy": "None",
        "dnsConfig": {"nameservers": ["8.8.8.8"]}}),
    );
    let (group, _) = pod_to_group(&none, &ResolvedRefs::default(), &config).unwrap();
    assert_eq!(
        group.properties.dns_config.unwrap().name_servers,
        vec!["8.8.8.8".to_owned()]
    );
}

#[test]
fn dns_config_outside_vnet_is_a_warning() {
    let pod = pod(
        json!({"containers": [{"name": "a", "image": "i"}], "dnsConfig": {"nameservers": ["8.8.8.8"]}}),
    );
    let (group, warnings) = translate(&pod, &ResolvedRefs::default());
    assert!(group.properties.dns_config.is_none());
    assert!(
        warnings.iter().any(|w| w.contains("dnsConfig")),
        "{warnings:?}"
    );
}

// ---- Probes --------------------------------------------------------------

#[test]
fn exec_and_http_probes_map_tcp_and_grpc_are_dropped() {
    let pod = pod(json!({"containers": [{
        "name": "a", "image": "i",
        "ports": [{"name": "http", "containerPort": 8080}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTPS",
            "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
            "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3, "successThreshold": 1, "timeoutSeconds": 2},
        "readinessProbe": {"exec": {"command": ["cat", "/ready"]}, "periodSeconds": 4}
    }, {
        "name": "b", "image": "i",
        "livenessProbe": {"tcpSocket": {"port": 80}},
        "readinessProbe": {"grpc": {"port": 9000}}
    }]}));
    let (group, warnings) = translate(&pod, &ResolvedRefs::default());
    let a = serde_json::to_value(&group.properties.containers[0].properties).unwrap();
    assert_eq!(
        a["livenessProbe"],
        json!({"httpGet": {"path": "/healthz", "port": 8080, "scheme": "https",
            "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
            "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3, "successThreshold": 1, "timeoutSeconds": 2})
    );
    assert_eq!(
        a["readinessProbe"],
        json!({"exec": {"command": ["cat", "/ready"]}, "periodSeconds": 4})
    );
    let b = &group.properties.containers[1].properties;
    assert!(b.liveness_probe.is_none() && b.readiness_probe.is_none());
    assert!(
        warnings.iter().any(|w| w.contains("tcpSocket")),
        "{warnings:?}"
    );
    assert!(warnings.iter().any(|w| w.contains("grpc")), "{warnings:?}");

    let unknown = pod_with(
        json!({}),
        one(json!({"name": "a", "image": "i",
        "livenessProbe": {"httpGet": {"port": "nope"}}})),
    );
    assert_eq!(
        err(&unknown, &ResolvedRefs::default()).reason(),
        "InvalidProbe"
    );
}

// ---- Init containers and sidecars ---------------------------------------

#[test]
fn init_containers_keep_image_command_env_and_mounts() {
    let pod = pod(json!({
        "restartPolicy": "OnFailure",
        "initContainers": [
            {"name": "migrate", "image": "tool", "command": ["migrate"], "args": ["--to=$(V)"],
             "env": [{"name": "V", "value": "7"}],
             "ports": [{"containerPort": 1}],
             "resources": {"requests": {"cpu": "100m"}},
             "volumeMounts": [{"name": "w", "mountPath": "/w"}]},
            {"name": "proxy", "image": "envoy", "restartPolicy": "Always", "ports": [{"containerPort": 15001}]}
        ],
        "containers": [{"name": "app", "image": "app", "volumeMounts": [{"name": "w", "mountPath": "/w"}]}],
        "volumes": [{"name": "w", "emptyDir": {}}]
    }));
    let (group, warnings) = translate(&pod, &ResolvedRefs::default());
    let p = &group.properties;
    assert_eq!(p.restart_policy, Some(RestartPolicy::OnFailure));
    let init = serde_json::to_value(p.init_containers.as_ref().unwrap()).unwrap();
    assert_eq!(
        init,
        json!([{"name": "migrate", "properties": {"image": "tool", "command": ["migrate", "--to=7"],
            "environmentVariables": [{"name": "V", "value": "7"}],
            "volumeMounts": [{"name": "w", "mountPath": "/w"}]}}])
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("migrate") && w.contains("ports")),
        "{warnings:?}"
    );
    let names: Vec<&str> = p.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["proxy", "app"],
        "native sidecars run as containers, first"
    );
    assert_eq!(p.ip_address.as_ref().unwrap().ports[0].port, 15001);
}

// ---- Group-level settings ------------------------------------------------

#[test]
fn tags_link_the_group_to_its_pod() {
    let pod = pod(one(json!({"name": "a", "image": "i"})));
    let (group, _) = translate(&pod, &ResolvedRefs::default());
    let owner = crate::tags::parse_tags(group.tags.as_ref().unwrap()).unwrap();
    assert_eq!(owner.key, vk_pods::PodKey::of(&pod));
    assert!(owner.is_owned_by("vk-node", "cluster-1"));
}

#[test]
fn sku_priority_and_confidential_policy_from_annotations() {
    let spot = pod_with(
        json!({PRIORITY_ANNOTATION: "spot"}),
        one(json!({"name": "a", "image": "i"})),
    );
    let (group, _) = translate(&spot, &ResolvedRefs::default());
    assert_eq!(group.properties.priority, Some(Priority::Spot));

    let spot_public = pod_with(
        json!({PRIORITY_ANNOTATION: "Spot"}),
        one(json!({"name": "a", "image": "i", "ports": [{"containerPort": 80}]})),
    );
    assert_eq!(
        err(&spot_public, &ResolvedRefs::default()).reason(),
        "SpotNotSupported"
    );

    let bad = pod_with(
        json!({PRIORITY_ANNOTATION: "Cheap"}),
        one(json!({"name": "a", "image": "i"})),
    );
    assert_eq!(
        err(&bad, &ResolvedRefs::default()).reason(),
        "InvalidAnnotation"
    );

    let cc = pod_with(
        json!({CCE_POLICY_ANNOTATION: "cG9saWN5"}),
        one(json!({"name": "a", "image": "i"})),
    );
    let (group, _) = translate(&cc, &ResolvedRefs::default());
    assert_eq!(group.properties.sku, Some(ContainerGroupSku::Confidential));
    assert_eq!(
        group
            .properties
            .confidential_compute_properties
            .unwrap()
            .cce_policy
            .as_deref(),
        Some("cG9saWN5")
    );

    let sku = pod_with(
        json!({SKU_ANNOTATION: "confidential"}),
        one(json!({"name": "a", "image": "i"})),
    );
    let (group, _) = translate(&sku, &ResolvedRefs::default());
    assert_eq!(group.properties.sku, Some(ContainerGroupSku::Confidential));
}

#[test]
fn security_context_maps_on_linux_and_warns_on_windows() {
    let spec = json!({
        "securityContext": {"runAsUser": 1000, "fsGroup": 2000},
        "containers": [{"name": "a", "image": "i", "securityContext": {
            "allowPrivilegeEscalation": false, "runAsGroup": 3000, "readOnlyRootFilesystem": true,
            "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}}]
    });
    let (group, warnings) = translate(&pod(spec.clone()), &ResolvedRefs::default());
    let sc =
        serde_json::to_value(&group.properties.containers[0].properties.security_context).unwrap();
    assert_eq!(
        sc,
        json!({"allowPrivilegeEscalation": false, "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}, "runAsGroup": 3000, "runAsUser": 1000})
    );
    assert!(
        warnings.iter().any(|w| w.contains("fsGroup")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("readOnlyRootFilesystem")),
        "{warnings:?}"
    );

    let mut config = config();
    config.os = OsType::Windows;
    let (group, warnings) = pod_to_group(&pod(spec), &ResolvedRefs::default(), &config).unwrap();
    assert!(
        group.properties.containers[0]
            .properties
            .security_context
            .is_none()
    );
    assert!(
        warnings.iter().any(|w| w.message.contains("Linux")),
        "{warnings:?}"
    );
}

#[test]
fn gpu_requests_use_the_configured_skus() {
    let pod = pod(one(
        json!({"name": "a", "image": "i", "resources": {"limits": {"nvidia.com/gpu": "1"}}}),
    ));
    let e = err(&pod, &ResolvedRefs::default());
    assert_eq!(e.reason(), "GpuUnavailable", "{e}");
    let mut config = config();
    let mut limits = vk_resources::GroupLimits::default();
    limits.upsert(vk_resources::LimitRow {
        os: OsType::Linux,
        sku: vk_resources::GroupSku::Standard,
        gpu: Some(vk_resources::GpuSku::V100),
        max_cpu: vk_resources::Cpu::cores(6),
        max_memory: vk_resources::MemoryGb::gb(112),
        max_gpu_count: 1,
    });
    config.sizer = vk_resources::Sizer::new(vk_resources::SizingConfig::default(), limits);
    let (group, _) = pod_to_group(&pod, &ResolvedRefs::default(), &config).unwrap();
    let gpu = group.properties.containers[0]
        .properties
        .resources
        .requests
        .gpu
        .clone()
        .unwrap();
    assert_eq!(gpu.count, 1);
    assert_eq!(gpu.sku, vk_aci::models::GpuSku::V100);
}

#[test]
fn pod_without_spec_is_an_error() {
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
    assert_eq!(
        err(&pod, &ResolvedRefs::default()).reason(),
        "InvalidPodSpec"
    );
}

// ---- Property: secrets never leave secureValue / secret volumes ----------

fn plain_values(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "secureValue"
                    || k == "secret"
                    || k == "password"
                    || k == "storageAccountKey"
                {
                    continue;
                }
                plain_values(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| plain_values(v, out)),
        Value::String(s) => out.push(s.clone()),
        _ => {}
    }
}

proptest::proptest! {
    #[test]
    fn secrets_only_travel_in_secret_fields(secret in "[A-Za-z0-9]{12,24}", prefix in "[A-Z]{0,3}") {
        let secret = format!("S3CR3T{secret}");
        let pod = pod(json!({
            "containers": [{
                "name": "c", "image": "i",
                "envFrom": [{"secretRef": {"name": "s"}, "prefix": prefix}],
                "env": [
                    {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                    {"name": "B", "value": "x-$(A)-y"},
                    {"name": "C", "value": "plain"}
                ],
                "volumeMounts": [{"name": "v", "mountPath": "/v"}]
            }],
            "volumes": [{"name": "v", "secret": {"secretName": "s"}}]
        }));
        let refs = ResolvedRefs::default().with_secret("s", None, [("k", secret.as_str())]);
        let (group, warnings) = translate(&pod, &refs);
        let body = serde_json::to_value(&group).unwrap();
        let mut plain = Vec::new();
        plain_values(&body, &mut plain);
        proptest::prop_assert!(plain.iter().all(|s| !s.contains(&secret)), "{:?}", plain);
        let debug = format!("{group:?}");
        proptest::prop_assert!(!debug.contains(&secret));
        proptest::prop_assert!(!warnings.iter().any(|w| w.contains(&secret)));
        proptest::prop_assert!(body.to_string().contains(&secret), "the secret is still sent");
    }
}

#[test]
fn a_public_pod_without_ports_is_told_it_gets_no_ip() {
    let p = pod(one(json!({"name": "worker", "image": "busybox"})));
    let (group, adjustments) = pod_to_group(&p, &ResolvedRefs::default(), &config()).unwrap();
    assert!(group.properties.ip_address.is_none());
    let no_ip = adjustments
        .iter()
        .find(|a| a.reason == "NoPodIP")
        .expect("NoPodIP adjustment");
    assert!(
        no_ip.warning && no_ip.message.contains("containerPort"),
        "{no_ip:?}"
    );
}

#[test]
fn windows_groups_refuse_volumes_init_containers_and_several_containers() {
    let mut config = config();
    config.os = OsType::Windows;
    let refused = |spec: serde_json::Value| {
        pod_to_group(&pod(spec), &ResolvedRefs::default(), &config).unwrap_err()
    };
    let e = refused(json!({
        "containers": [{"name": "iis", "image": "i", "volumeMounts": [{"name": "scratch", "mountPath": "C:/scratch"}]}],
        "volumes": [{"name": "scratch", "emptyDir": {}}]
    }));
    assert_eq!(e.reason(), "WindowsUnsupported");
    let text = e.to_string();
    assert!(
        text.contains("\"scratch\" (emptyDir)") && text.contains("no volumes of any kind"),
        "{text}"
    );
    assert_eq!(e.to_provider_error().kind, vk_pods::ErrorKind::InvalidSpec);

    let e = refused(json!({
        "initContainers": [{"name": "setup", "image": "i"}],
        "containers": [{"name": "iis", "image": "i"}]
    }));
    assert!(e.to_string().contains("init container \"setup\""), "{e}");
    assert_eq!(e.container(), Some("setup"));

    let e =
        refused(json!({"containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}]}));
    assert!(e.to_string().contains("2 containers (a, b)"), "{e}");

    // The same pods are fine on Linux.
    pod_to_group(
        &pod(json!({"containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}]})),
        &ResolvedRefs::default(),
        &super::tests::config(),
    )
    .unwrap();
}

#[test]
fn the_automatic_service_account_token_is_left_out_for_windows() {
    // As a 1.20 API server's ServiceAccount admission writes it, and as 1.21+ does.
    for (volume, mount_name) in [
        (
            json!({"name": "default-token-x7k2p", "secret": {"secretName": "default-token-x7k2p"}}),
            "default-token-x7k2p",
        ),
        (
            json!({"name": "kube-api-access-abcde", "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}
            ]}}),
            "kube-api-access-abcde",
        ),
    ] {
        let p = pod(json!({
            "containers": [{"name": "iis", "image": "i", "volumeMounts": [
                {"name": mount_name, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}
            ]}],
            "volumes": [volume]
        }));
        let (without, adjustment) = strip_service_account_token(&p).expect("token volume found");
        let spec = without.spec.as_ref().unwrap();
        assert!(spec.volumes.as_ref().unwrap().is_empty());
        assert!(
            spec.containers[0]
                .volume_mounts
                .as_ref()
                .unwrap()
                .is_empty()
        );
        assert_eq!(adjustment.reason, "ServiceAccountTokenNotMounted");
        assert!(!adjustment.warning, "a Normal event");
        assert!(adjustment.message.contains(mount_name));
        let mut config = config();
        config.os = OsType::Windows;
        pod_to_group(&without, &ResolvedRefs::default(), &config).unwrap();
    }
    // A user's own secret volume is not the token, even at another path.
    let own = pod(json!({
        "containers": [{"name": "iis", "image": "i", "volumeMounts": [{"name": "certs", "mountPath": "C:/certs"}]}],
        "volumes": [{"name": "certs", "secret": {"secretName": "default-token-lookalike"}}]
    }));
    assert!(strip_service_account_token(&own).is_none());
}

#[test]
fn privileged_containers_are_refused() {
    let p = pod(json!({
        "initContainers": [{"name": "sysctl", "image": "i", "securityContext": {"privileged": true}}],
        "containers": [{"name": "a", "image": "i"}]
    }));
    let e = err(&p, &ResolvedRefs::default());
    assert_eq!(e.reason(), "PrivilegedNotSupported");
    assert_eq!(e.container(), Some("sysctl"));
    assert!(e.to_string().contains("no privileged containers"), "{e}");
    let off = pod(one(
        json!({"name": "a", "image": "i", "securityContext": {"privileged": false}}),
    ));
    let (group, _) = translate(&off, &ResolvedRefs::default());
    assert!(
        group.properties.containers[0]
            .properties
            .security_context
            .is_none()
    );
    // The Confidential SKU takes the flag.
    let confidential = pod_with(
        json!({SKU_ANNOTATION: "Confidential"}),
        json!({"containers": [{"name": "a", "image": "i", "securityContext": {"privileged": true}}]}),
    );
    let (group, _) = translate(&confidential, &ResolvedRefs::default());
    let sc = group.properties.containers[0]
        .properties
        .security_context
        .as_ref()
        .unwrap();
    assert_eq!(sc.privileged, Some(true));
}

#[test]
fn spot_rules_are_checked_before_anything_is_sent() {
    let spot = |resources: serde_json::Value| {
        pod_with(
            json!({PRIORITY_ANNOTATION: "Spot"}),
            json!({"containers": [{"name": "a", "image": "i", "resources": resources}]}),
        )
    };
    let small = spot(json!({"requests": {"cpu": "2", "memory": "4G"}}));
    let (group, _) = translate(&small, &ResolvedRefs::default());
    assert_eq!(group.properties.priority, Some(Priority::Spot));

    let big = spot(json!({"requests": {"cpu": "5", "memory": "4G"}}));
    let e = err(&big, &ResolvedRefs::default());
    assert_eq!(e.reason(), "SpotNotSupported");
    assert!(e.to_string().contains("at most 4 CPU and 16 GB"), "{e}");

    let mut elsewhere = config();
    elsewhere.location = "North Europe".into();
    let e = pod_to_group(&small, &ResolvedRefs::default(), &elsewhere).unwrap_err();
    assert!(e.to_string().contains("not in northeurope"), "{e}");

    let mut vnet = config();
    vnet.subnet_ids = vec!["/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/aci".into()];
    let e = pod_to_group(&small, &ResolvedRefs::default(), &vnet).unwrap_err();
    assert!(e.to_string().contains("virtual network"), "{e}");
}

#[test]
fn adjustments_carry_reasons() {
    let p = pod(json!({
        "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["db"]}],
        "containers": [{"name": "a", "image": "i", "ports": [{"containerPort": 80}],
            "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "2"}},
            "readinessProbe": {"tcpSocket": {"port": 80}}}]
    }));
    let (_, adjustments) = pod_to_group(&p, &ResolvedRefs::default(), &config()).unwrap();
    let reasons: Vec<&str> = adjustments.iter().map(|a| a.reason.as_str()).collect();
    assert!(reasons.contains(&"LimitLowered"), "{adjustments:?}");
    assert!(reasons.contains(&"FieldIgnored"), "{adjustments:?}");
    assert!(
        adjustments
            .iter()
            .any(|a| a.message.contains("hostAliases")),
        "{adjustments:?}"
    );
    assert!(
        adjustments.iter().any(|a| a.message.contains("tcpSocket")),
        "{adjustments:?}"
    );
}

#[test]
fn an_image_that_is_not_a_reference_is_refused_before_anything_is_sent() {
    for (init, main) in [("busybox", "Nginx:latest"), ("busy box", "nginx")] {
        let p = pod(json!({
            "initContainers": [{"name": "setup", "image": init}],
            "containers": [{"name": "web", "image": main}]
        }));
        let e = err(&p, &ResolvedRefs::default());
        assert_eq!(e.reason(), "InvalidImageName");
        let at_fault = if init.contains(' ') { "setup" } else { "web" };
        assert_eq!(e.container(), Some(at_fault), "{e}");
        assert!(
            e.to_string().contains("couldn't parse image reference"),
            "{e}"
        );
        assert_eq!(e.to_provider_error().kind, vk_pods::ErrorKind::InvalidSpec);
    }
}

// ---- Per-pod ACI options (issue #21) ------------------------------------

const MI: &str = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-id";
const SUBNET_A: &str =
    "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a";
const SUBNET_B: &str =
    "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/b";

fn vnet_config() -> TranslateConfig {
    let mut c = config();
    c.subnet_ids = vec![SUBNET_A.into()];
    c.cluster_dns = Some(ClusterDns {
        nameserver: "10.0.0.10".into(),
        cluster_domain: "cluster.local".into(),
    });
    c
}

fn plain() -> Value {
    one(json!({"name": "app", "image": "nginx"}))
}

fn invalid_annotation_key(e: &Error) -> &str {
    match e {
        Error::InvalidAnnotation { annotation, .. } => annotation,
        other => panic!("expected InvalidAnnotation, got {other:?}"),
    }
}

#[test]
fn aks_cce_policy_annotation_makes_a_confidential_group() {
    let policy = b64("package policy\napi_version := \"0.10.0\"\n");
    let p = pod_with(json!({AKS_CCE_POLICY_ANNOTATION: policy}), plain());
    let (group, _) = translate(&p, &ResolvedRefs::default());
    assert_eq!(group.properties.sku, Some(ContainerGroupSku::Confidential));
    assert_eq!(
        group
            .properties
            .confidential_compute_properties
            .and_then(|c| c.cce_policy),
        Some(policy.clone())
    );
    // Both names, different values: refused naming the second.
    let both = pod_with(
        json!({CCE_POLICY_ANNOTATION: policy, AKS_CCE_POLICY_ANNOTATION: b64("other")}),
        plain(),
    );
    let e = err(&both, &ResolvedRefs::default());
    assert_eq!(invalid_annotation_key(&e), AKS_CCE_POLICY_ANNOTATION);
    assert!(e.to_string().contains(CCE_POLICY_ANNOTATION), "{e}");
    // Not base64.
    let bad = pod_with(json!({CCE_POLICY_ANNOTATION: "package policy"}), plain());
    assert!(
        err(&bad, &ResolvedRefs::default())
            .to_string()
            .contains("not base64")
    );
    // A policy with an explicit Standard SKU.
    let standard = pod_with(
        json!({CCE_POLICY_ANNOTATION: policy, SKU_ANNOTATION: "Standard"}),
        plain(),
    );
    assert_eq!(
        invalid_annotation_key(&err(&standard, &ResolvedRefs::default())),
        SKU_ANNOTATION
    );
}

#[test]
fn zone_annotations_pin_one_zone() {
    for key in [ZONE_ANNOTATION, AKS_ZONES_ANNOTATION] {
        let p = pod_with(json!({key: " 2 "}), plain());
        let (group, _) = translate(&p, &ResolvedRefs::default());
        assert_eq!(group.zones, Some(vec!["2".to_owned()]), "{key}");
    }
    let two = pod_with(json!({AKS_ZONES_ANNOTATION: "1;2"}), plain());
    let e = err(&two, &ResolvedRefs::default());
    assert_eq!(invalid_annotation_key(&e), AKS_ZONES_ANNOTATION);
    assert!(
        e.to_string().contains("exactly one availability zone"),
        "{e}"
    );
    let four = pod_with(json!({ZONE_ANNOTATION: "4"}), plain());
    assert!(
        err(&four, &ResolvedRefs::default())
            .to_string()
            .contains("\"4\" is not one of 1, 2, 3")
    );
    let (none, _) = translate(&pod(plain()), &ResolvedRefs::default());
    assert_eq!(none.zones, None);
}

#[test]
fn identity_annotations_give_the_group_a_user_assigned_identity() {
    for key in [IDENTITY_ANNOTATION, AKS_IDENTITY_ANNOTATION] {
        let p = pod_with(json!({key: MI}), plain());
        let (group, _) = translate(&p, &ResolvedRefs::default());
        let id = group.identity.clone().expect("identity");
        assert_eq!(
            id.identity_type,
            Some(vk_aci::models::ResourceIdentityType::UserAssigned)
        );
        let ids: Vec<&String> = id
            .user_assigned_identities
            .iter()
            .flatten()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(ids, vec![MI]);
        // The wire form ARM expects.
        let wire = serde_json::to_value(&group).unwrap();
        assert_eq!(wire["identity"]["type"], "UserAssigned");
        assert_eq!(wire["identity"]["userAssignedIdentities"][MI], json!({}));
    }
    let bad = pod_with(
        json!({AKS_IDENTITY_ANNOTATION: "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x"}),
        plain(),
    );
    let e = err(&bad, &ResolvedRefs::default());
    assert_eq!(invalid_annotation_key(&e), AKS_IDENTITY_ANNOTATION);
    assert_eq!(e.reason(), "InvalidAnnotation");
    let mut windows = config();
    windows.os = OsType::Windows;
    let p = pod_with(json!({IDENTITY_ANNOTATION: MI}), plain());
    let e = pod_to_group(&p, &ResolvedRefs::default(), &windows).unwrap_err();
    assert!(e.to_string().contains("only for Linux"), "{e}");
}

#[test]
fn subnet_override_replaces_the_node_subnets_in_vnet_mode_only() {
    let spec = one(json!({"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}));
    for key in [SUBNET_ANNOTATION, AKS_SUBNET_ANNOTATION] {
        let p = pod_with(json!({key: SUBNET_B}), spec.clone());
        let (group, _) = pod_to_group(&p, &ResolvedRefs::default(), &vnet_config()).unwrap();
        let ids: Vec<&str> = group
            .properties
            .subnet_ids
            .iter()
            .flatten()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(ids, vec![SUBNET_B], "{key}");
        let ip = group.properties.ip_address.unwrap();
        assert_eq!(ip.address_type, Some(IpAddressType::Private));
    }
    // Without an override: the node's subnet.
    let (group, _) =
        pod_to_group(&pod(spec.clone()), &ResolvedRefs::default(), &vnet_config()).unwrap();
    assert_eq!(group.properties.subnet_ids.unwrap()[0].id, SUBNET_A);
    // A public node cannot take one.
    let p = pod_with(json!({AKS_SUBNET_ANNOTATION: SUBNET_B}), spec.clone());
    let e = err(&p, &ResolvedRefs::default());
    assert!(e.to_string().contains("virtual network"), "{e}");
    // Not a subnet id.
    let p = pod_with(json!({SUBNET_ANNOTATION: "subnet-b"}), spec);
    let e = pod_to_group(&p, &ResolvedRefs::default(), &vnet_config()).unwrap_err();
    assert_eq!(invalid_annotation_key(&e), SUBNET_ANNOTATION);
}

#[test]
fn inject_dns_false_gives_aci_default_dns() {
    let spec = one(json!({"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}));
    let (group, _) =
        pod_to_group(&pod(spec.clone()), &ResolvedRefs::default(), &vnet_config()).unwrap();
    assert_eq!(
        group.properties.dns_config.unwrap().name_servers,
        vec!["10.0.0.10"]
    );
    for key in [INJECT_DNS_ANNOTATION, AKS_INJECT_DNS_ANNOTATION] {
        let p = pod_with(json!({key: "false"}), spec.clone());
        let (group, _) = pod_to_group(&p, &ResolvedRefs::default(), &vnet_config()).unwrap();
        assert!(group.properties.dns_config.is_none(), "{key}");
    }
    let p = pod_with(json!({AKS_INJECT_DNS_ANNOTATION: "no"}), spec);
    let e = pod_to_group(&p, &ResolvedRefs::default(), &vnet_config()).unwrap_err();
    assert!(
        e.to_string().contains("is not \"true\" or \"false\""),
        "{e}"
    );
}

#[test]
fn inject_kube_proxy_true_is_refused_false_is_accepted() {
    let off = pod_with(json!({AKS_INJECT_KUBE_PROXY_ANNOTATION: "false"}), plain());
    pod_to_group(&off, &ResolvedRefs::default(), &config()).unwrap();
    let on = pod_with(json!({AKS_INJECT_KUBE_PROXY_ANNOTATION: "true"}), plain());
    let e = err(&on, &ResolvedRefs::default());
    assert_eq!(invalid_annotation_key(&e), AKS_INJECT_KUBE_PROXY_ANNOTATION);
    assert!(e.to_string().contains("no kube-proxy"), "{e}");
}

#[test]
fn spot_refuses_zones_confidential_and_subnet_overrides() {
    let zone = pod_with(
        json!({PRIORITY_ANNOTATION: "Spot", ZONE_ANNOTATION: "1"}),
        plain(),
    );
    let e = err(&zone, &ResolvedRefs::default());
    assert_eq!(e.reason(), "SpotNotSupported");
    assert!(e.to_string().contains("availability zone"), "{e}");
    let confidential = pod_with(
        json!({PRIORITY_ANNOTATION: "Spot", SKU_ANNOTATION: "Confidential"}),
        plain(),
    );
    let e = err(&confidential, &ResolvedRefs::default());
    assert_eq!(e.reason(), "SpotNotSupported");
    assert!(e.to_string().contains("Confidential"), "{e}");
    let subnet = pod_with(
        json!({PRIORITY_ANNOTATION: "Spot", SUBNET_ANNOTATION: SUBNET_B}),
        plain(),
    );
    let e = pod_to_group(&subnet, &ResolvedRefs::default(), &vnet_config()).unwrap_err();
    assert_eq!(e.reason(), "SpotNotSupported");
    assert!(e.to_string().contains("virtual network"), "{e}");
    // A plain Spot pod with a zone-less, portless spec is accepted.
    let ok = pod_with(json!({PRIORITY_ANNOTATION: "Spot"}), plain());
    let (group, _) = translate(&ok, &ResolvedRefs::default());
    assert_eq!(group.properties.priority, Some(Priority::Spot));
}

// ---- The 1.28–1.34 pod API, as a 1.33 API server sends it ---------------

#[test]
fn host_namespaces_and_shared_process_namespace_are_refused() {
    for (field, reason) in [
        ("hostNetwork", "HostNamespaceNotSupported"),
        ("hostPID", "HostNamespaceNotSupported"),
        ("hostIPC", "HostNamespaceNotSupported"),
        ("shareProcessNamespace", "ShareProcessNamespaceNotSupported"),
    ] {
        let mut spec = plain();
        spec[field] = json!(true);
        let e = err(&pod(spec.clone()), &ResolvedRefs::default());
        assert_eq!(e.reason(), reason, "{field}");
        assert!(e.to_string().contains(field), "{e}");
        let pe = e.to_provider_error();
        assert_eq!(pe.kind, vk_pods::ErrorKind::InvalidSpec);
        // false is the default and translates.
        spec[field] = json!(false);
        translate(&pod(spec), &ResolvedRefs::default());
    }
    let host_path = json!({
        "containers": [{"name": "app", "image": "nginx", "volumeMounts": [{"name": "h", "mountPath": "/h"}]}],
        "volumes": [{"name": "h", "hostPath": {"path": "/var/log"}}]
    });
    let e = err(&pod(host_path), &ResolvedRefs::default());
    assert_eq!(e.reason(), "UnsupportedVolume");
    assert!(e.to_string().contains("hostPath"), "{e}");
}

#[test]
fn resource_claims_are_refused_and_hostnames_are_adjustments() {
    let mut spec = plain();
    spec["resourceClaims"] = json!([{"name": "gpu", "resourceClaimName": "gpu-claim"}]);
    spec["containers"][0]["resources"] = json!({"claims": [{"name": "gpu"}]});
    let e = err(&pod(spec), &ResolvedRefs::default());
    assert_eq!(e.reason(), "ResourceClaimsNotSupported");
    let mut spec = plain();
    spec["hostname"] = json!("db-0");
    spec["subdomain"] = json!("db");
    spec["runtimeClassName"] = json!("kata");
    let (_, warnings) = translate(&pod(spec), &ResolvedRefs::default());
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("runtimeClassName \"kata\" is ignored")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("hostname, subdomain ignored")),
        "{warnings:?}"
    );
}

#[test]
fn user_namespaces_are_an_adjustment() {
    let mut spec = plain();
    spec["hostUsers"] = json!(false);
    let (_, adjustments) = pod_to_group(&pod(spec), &ResolvedRefs::default(), &config()).unwrap();
    assert!(
        adjustments
            .iter()
            .any(|a| a.reason == "UserNamespaceNotSupported" && a.message.contains("hostUsers")),
        "{adjustments:?}"
    );
}

#[test]
fn startup_probe_holds_back_liveness_and_readiness() {
    let p = pod(one(json!({
        "name": "app", "image": "nginx", "ports": [{"containerPort": 80}],
        "startupProbe": {"httpGet": {"path": "/up", "port": 80}, "periodSeconds": 5, "failureThreshold": 12, "initialDelaySeconds": 3},
        "livenessProbe": {"httpGet": {"path": "/live", "port": 80}, "initialDelaySeconds": 2},
        "readinessProbe": {"exec": {"command": ["true"]}}
    })));
    let (group, adjustments) = pod_to_group(&p, &ResolvedRefs::default(), &config()).unwrap();
    let c = &group.properties.containers[0].properties;
    // 3 + 5 × 12 = 63 s of startup window.
    assert_eq!(
        c.liveness_probe.as_ref().unwrap().initial_delay_seconds,
        Some(65)
    );
    assert_eq!(
        c.readiness_probe.as_ref().unwrap().initial_delay_seconds,
        Some(63)
    );
    assert!(
        adjustments
            .iter()
            .any(|a| a.reason == "StartupProbeApproximated" && a.message.contains("63s")),
        "{adjustments:?}"
    );
    // Defaults: 10 s × 3; no other probe: dropped, and said so.
    let alone = pod(one(json!({
        "name": "app", "image": "nginx",
        "startupProbe": {"exec": {"command": ["true"]}}
    })));
    let (group, adjustments) = pod_to_group(&alone, &ResolvedRefs::default(), &config()).unwrap();
    assert!(
        group.properties.containers[0]
            .properties
            .liveness_probe
            .is_none()
    );
    assert!(
        adjustments
            .iter()
            .any(|a| a.message.contains("startupProbe is dropped")),
        "{adjustments:?}"
    );
    let defaults = pod(one(json!({
        "name": "app", "image": "nginx",
        "startupProbe": {"exec": {"command": ["true"]}},
        "livenessProbe": {"exec": {"command": ["true"]}}
    })));
    let (group, _) = pod_to_group(&defaults, &ResolvedRefs::default(), &config()).unwrap();
    assert_eq!(
        group.properties.containers[0]
            .properties
            .liveness_probe
            .as_ref()
            .unwrap()
            .initial_delay_seconds,
        Some(30)
    );
}

#[test]
fn pod_level_resources_need_container_requests() {
    let covered = pod(json!({
        "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
        "containers": [
            {"name": "a", "image": "nginx", "resources": {"requests": {"cpu": "1", "memory": "1G"}}},
            {"name": "b", "image": "nginx", "resources": {"requests": {"cpu": "500m", "memory": "1G"}}}
        ]
    }));
    let (group, adjustments) = pod_to_group(&covered, &ResolvedRefs::default(), &config()).unwrap();
    let cpus: Vec<f64> = group
        .properties
        .containers
        .iter()
        .map(|c| c.properties.resources.requests.cpu)
        .collect();
    assert_eq!(cpus, vec![1.0, 0.5]);
    assert!(
        adjustments
            .iter()
            .any(|a| a.reason == "PodLevelResourcesNotEnforced" && a.message.contains("1.5 CPU")),
        "{adjustments:?}"
    );
    let uncovered = pod(json!({
        "resources": {"requests": {"cpu": "2", "memory": "4Gi"}},
        "containers": [
            {"name": "a", "image": "nginx", "resources": {"requests": {"cpu": "1", "memory": "1G"}}},
            {"name": "b", "image": "nginx"}
        ]
    }));
    let e = err(&uncovered, &ResolvedRefs::default());
    assert_eq!(e.reason(), "PodLevelResourcesNotSupported");
    assert!(e.to_string().contains("container(s) b"), "{e}");
}

#[test]
fn native_sidecar_from_a_133_fixture_runs_beside_the_app_with_its_probes() {
    let p: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "prod", "uid": "uid-1"},
        "spec": {
            "initContainers": [
                {"name": "migrate", "image": "migrate:1"},
                {"name": "proxy", "image": "envoy", "restartPolicy": "Always",
                 "startupProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1, "failureThreshold": 5},
                 "readinessProbe": {"exec": {"command": ["true"]}},
                 "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}
            ],
            "containers": [{"name": "app", "image": "app:1", "resources": {"requests": {"cpu": "1", "memory": "1G"}}}],
            "resources": {"limits": {"cpu": "2", "memory": "2Gi"}},
            "hostUsers": false
        }
    }))
    .unwrap();
    let (group, adjustments) = pod_to_group(&p, &ResolvedRefs::default(), &config()).unwrap();
    let names: Vec<&str> = group
        .properties
        .containers
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, vec!["proxy", "app"]);
    let init: Vec<&str> = group
        .properties
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(init, vec!["migrate"]);
    assert_eq!(
        group.properties.containers[0]
            .properties
            .readiness_probe
            .as_ref()
            .unwrap()
            .initial_delay_seconds,
        Some(5)
    );
    let reasons: Vec<&str> = adjustments.iter().map(|a| a.reason.as_str()).collect();
    for r in [
        "StartupProbeApproximated",
        "PodLevelResourcesNotEnforced",
        "UserNamespaceNotSupported",
    ] {
        assert!(reasons.contains(&r), "{r} in {reasons:?}");
    }
}

/// A pod exactly as a 1.33 API server returns it (defaults filled in), with
/// the fields a 1.20 test server would drop: a native sidecar, startup
/// probes, pod-level resources, `hostUsers: false`, `resizePolicy` and an
/// ephemeral container added by `kubectl debug`.
const POD_1_33: &str = include_str!("fixtures/pod-v1.33-new-fields.json");

#[test]
fn a_133_pod_with_the_new_fields_translates_with_every_change_said() {
    let p: Pod = serde_json::from_str(POD_1_33).unwrap();
    let refs = ResolvedRefs::default()
        .with_token(None, 3607, "jwt-token")
        .with_config_map("kube-root-ca.crt", [("ca.crt", "CA PEM")]);
    let (group, adjustments) = pod_to_group(&p, &refs, &config()).unwrap();
    let props = &group.properties;
    let names: Vec<&str> = props.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["proxy", "app"],
        "the sidecar runs beside the app"
    );
    let inits: Vec<&str> = props
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(inits, vec!["migrate"]);
    assert_eq!(group.zones, Some(vec!["1".to_owned()]));
    // Startup windows: proxy 0 + 2 × 10 = 20 s; app 5 + 5 × 24 = 125 s.
    let proxy = &props.containers[0].properties;
    assert_eq!(
        proxy
            .readiness_probe
            .as_ref()
            .unwrap()
            .initial_delay_seconds,
        Some(20)
    );
    let app = &props.containers[1].properties;
    assert_eq!(
        app.liveness_probe.as_ref().unwrap().initial_delay_seconds,
        Some(125)
    );
    // Ports of the sidecar and the app on the group's IP.
    let ports: Vec<u16> = props
        .ip_address
        .as_ref()
        .unwrap()
        .ports
        .iter()
        .map(|p| p.port)
        .collect();
    assert_eq!(ports, vec![9901, 8080]);
    let reasons: Vec<&str> = adjustments.iter().map(|a| a.reason.as_str()).collect();
    for r in [
        "StartupProbeApproximated",
        "PodLevelResourcesNotEnforced",
        "UserNamespaceNotSupported",
    ] {
        assert!(reasons.contains(&r), "{r} in {reasons:?}");
    }
    // Two startup probes, each said once.
    assert_eq!(
        reasons
            .iter()
            .filter(|r| **r == "StartupProbeApproximated")
            .count(),
        2
    );
    // The ephemeral container is not part of the group.
    assert!(!names.contains(&"debugger-9wz7d"));
}
