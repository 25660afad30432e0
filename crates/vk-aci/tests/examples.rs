//! The spec's examples: every response body parses into the models and serializes back to the
//! same JSON; every request body the client builds serializes to the same JSON.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use vk_aci::models::*;

fn spec_dir() -> PathBuf {
    vk_aci_emulator::spec::published_spec_dir().unwrap_or_else(|e| panic!("{e}"))
}

/// Numbers compared as f64 (the spec writes `1` where we write `1.0`).
fn normalize(value: &Value) -> Value {
    match value {
        Value::Number(n) => serde_json::json!(n.as_f64()),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(body: &Value, what: &str) {
    let parsed: T = serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let back = serde_json::to_value(&parsed).unwrap();
    assert_eq!(
        normalize(&back),
        normalize(body),
        "{what}: JSON differs after a round trip"
    );
}

/// The parser for the response bodies of each operation.
fn check_response(operation: &str, body: &Value, what: &str) -> bool {
    match operation {
        "ContainerGroups_CreateOrUpdate"
        | "ContainerGroups_Get"
        | "ContainerGroups_Delete"
        | "ContainerGroups_Update" => round_trip::<ContainerGroup>(body, what),
        "ContainerGroups_List" | "ContainerGroups_ListByResourceGroup" => {
            round_trip::<ContainerGroupListResult>(body, what)
        }
        "Location_ListUsage" => round_trip::<UsageListResult>(body, what),
        "Location_ListCapabilities" => round_trip::<CapabilitiesListResult>(body, what),
        "Location_ListCachedImages" => round_trip::<CachedImagesListResult>(body, what),
        "Containers_ListLogs" => round_trip::<Logs>(body, what),
        "Containers_ExecuteCommand" => round_trip::<ContainerExecResponse>(body, what),
        "Containers_Attach" => round_trip::<ContainerAttachResponse>(body, what),
        // Operations_List and the subnet link are not container instance models.
        _ => return false,
    }
    true
}

#[test]
fn every_example_response_parses_and_round_trips() {
    let dir = spec_dir();
    let spec: Value =
        serde_json::from_slice(&std::fs::read(dir.join("containerInstance.json")).unwrap())
            .unwrap();
    let mut seen = BTreeSet::new();
    let mut checked = 0;
    for (_path, item) in spec["paths"].as_object().unwrap() {
        for (_method, op) in item.as_object().unwrap() {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            let Some(examples) = op.get("x-ms-examples").and_then(Value::as_object) else {
                continue;
            };
            for example in examples.values() {
                let file = example["$ref"].as_str().unwrap().trim_start_matches("./");
                let path = dir.join(file);
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                }; // a few refs are not shipped
                seen.insert(file.to_owned());
                let doc: Value = serde_json::from_slice(&bytes).unwrap();
                for (code, response) in doc["responses"].as_object().unwrap() {
                    if let Some(body) = response.get("body")
                        && check_response(id, body, &format!("{file} {code}"))
                    {
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} bodies checked");
    // Every file in the folder is referenced by the spec.
    for entry in std::fs::read_dir(dir.join("examples")).unwrap() {
        let name = format!("examples/{}", entry.unwrap().file_name().to_string_lossy());
        assert!(
            seen.contains(&name),
            "{name} not referenced by any operation"
        );
    }
}

#[test]
fn example_requests_serialize_to_the_same_json() {
    let dir = spec_dir().join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(group) = doc["parameters"].get("containerGroup") {
            round_trip::<ContainerGroup>(group, &name);
            checked += 1;
        }
        if let Some(request) = doc["parameters"].get("containerExecRequest") {
            round_trip::<ContainerExecRequest>(request, &name);
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} requests checked");
}

#[test]
fn built_request_matches_the_example() {
    // The request of ContainerGroupsCreatePriority.json, built with the typed API.
    let group = ContainerGroup {
        location: Some("eastus".into()),
        properties: ContainerGroupProperties {
            sku: Some(ContainerGroupSku::Standard),
            containers: vec![Container {
                name: "test-container-001".into(),
                properties: ContainerProperties {
                    image: "alpine:latest".into(),
                    command: Some(vec!["/bin/sh".into(), "-c".into(), "sleep 10".into()]),
                    resources: ResourceRequirements {
                        requests: ResourceRequests {
                            memory_in_gb: 1.0,
                            cpu: 1.0,
                            gpu: None,
                        },
                        limits: None,
                    },
                    ..Default::default()
                },
            }],
            restart_policy: Some(RestartPolicy::Never),
            os_type: Some(OperatingSystemType::Linux),
            priority: Some(Priority::Spot),
            ..Default::default()
        },
        ..Default::default()
    };
    let doc: Value = serde_json::from_slice(
        &std::fs::read(spec_dir().join("examples/ContainerGroupsCreatePriority.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        normalize(&serde_json::to_value(&group).unwrap()),
        normalize(&doc["parameters"]["containerGroup"])
    );
}

#[test]
fn debug_output_shows_no_secret() {
    let doc: Value = serde_json::from_slice(
        &std::fs::read(spec_dir().join("examples/ContainerGroupsCreateOrUpdate.json")).unwrap(),
    )
    .unwrap();
    let mut group: ContainerGroup =
        serde_json::from_value(doc["parameters"]["containerGroup"].clone()).unwrap();
    let props = &mut group.properties;
    props.containers[0]
        .properties
        .environment_variables
        .get_or_insert_with(Vec::new)
        .push(EnvironmentVariable::secure(
            "DB_PASSWORD",
            "sup3r-s3cret-env",
        ));
    props.image_registry_credentials = Some(vec![ImageRegistryCredential {
        server: "myregistry.azurecr.io".into(),
        username: Some("user".into()),
        password: Some("registry-pa55word".into()),
        ..Default::default()
    }]);
    props
        .volumes
        .get_or_insert_with(Vec::new)
        .push(Volume::secret_from_bytes(
            "s",
            [("key.pem", b"PRIVATE-KEY-BYTES")],
        ));
    props.extensions = Some(vec![DeploymentExtension {
        name: "kube-proxy".into(),
        properties: Some(DeploymentExtensionProperties {
            extension_type: "kube-proxy".into(),
            version: "1.0".into(),
            settings: None,
            protected_settings: Some(vk_aci::Secret::new(
                serde_json::json!({"kubeConfig": "kubeconfig-secret"}),
            )),
        }),
    }]);
    let debug = format!("{group:?} {group:#?}");
    let b64 = base64_of(b"PRIVATE-KEY-BYTES");
    for secret in [
        "accountKey",
        "workspaceKey",
        "SecretValue1InBase64",
        "SecretValue2InBase64",
        "sup3r-s3cret-env",
        "registry-pa55word",
        b64.as_str(),
        "kubeconfig-secret",
        "microsoft.operationalinsights/workspaces/workspace",
    ] {
        assert!(!debug.contains(secret), "Debug output leaks {secret}");
    }
    assert!(debug.contains("<redacted>"));
    // ...but the JSON sent to the service carries them.
    let json = serde_json::to_string(&group).unwrap();
    assert!(
        json.contains("sup3r-s3cret-env")
            && json.contains("registry-pa55word")
            && json.contains(&b64)
    );
}

fn base64_of(bytes: &[u8]) -> String {
    let vol = Volume::secret_from_bytes("x", [("k", bytes)]);
    vol.secret.unwrap()["k"].expose().clone()
}
