//! Emulator responses validate against the 2023-05-01 OpenAPI definitions, and
//! the spec's example requests are accepted.
#![allow(missing_docs)]

mod common;

use common::schema::{Spec, spec_dir};
use common::*;
use serde_json::{Value, json};
use vk_aci_emulator::Emulator;

fn assert_valid(spec: &Spec, def: &str, v: &Value) {
    let errs = spec.validate(def, v);
    assert!(
        errs.is_empty(),
        "{def} invalid:\n{}\n{v:#}",
        errs.join("\n")
    );
}

fn example(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/examples/{name}", spec_dir())).expect("example");
    serde_json::from_str(&text).expect("example json")
}

#[test]
fn validator_accepts_spec_examples() {
    let spec = Spec::load();
    let get = example("ContainerGroupsGet_Succeeded.json");
    assert_valid(&spec, "ContainerGroup", &get["responses"]["200"]["body"]);
    let list = example("ContainerGroupsList.json");
    assert_valid(
        &spec,
        "ContainerGroupListResult",
        &list["responses"]["200"]["body"],
    );
    // And it catches mistakes.
    let mut bad = get["responses"]["200"]["body"].clone();
    bad["properties"]["osType"] = json!(3);
    bad["properties"]["containers"][0]["properties"]["bogus"] = json!(1);
    assert_eq!(spec.validate("ContainerGroup", &bad).len(), 2);
}

#[tokio::test]
async fn responses_match_the_schema() {
    let spec = Spec::load();
    let env = start_with(Emulator::builder().fast().page_size(1)).await;
    let mut body = group_body(&["sh", "-c", "echo hello; sleep 1000"], "OnFailure");
    body["properties"]["ipAddress"] =
        json!({"type": "Public", "ports": [{"port": 80}], "dnsNameLabel": "schema-test"});
    body["properties"]["containers"][0]["properties"]["ports"] = json!([{"port": 80}]);
    body["properties"]["containers"][0]["properties"]["environmentVariables"] =
        json!([{"name": "A", "value": "1"}, {"name": "S", "secureValue": "x"}]);
    body["properties"]["initContainers"] =
        json!([{"name": "init", "properties": {"image": "busybox", "command": ["true"]}}]);
    body["properties"]["volumes"] = json!([{"name": "scratch", "emptyDir": {}}, {"name": "secrets", "secret": {"k": "dmFsdWU="}}]);
    body["properties"]["containers"][0]["properties"]["volumeMounts"] = json!([{"name": "scratch", "mountPath": "/scratch"}, {"name": "secrets", "mountPath": "/secrets", "readOnly": true}]);
    body["identity"] = json!({"type": "SystemAssigned"});
    body["tags"] = json!({"a": "b"});
    let r = env.put("schema-1", &body).await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.expect("json");
    assert_valid(&spec, "ContainerGroup", &created);
    let v = env
        .create_running("schema-2", &group_body(&[], "Always"))
        .await;
    assert_valid(&spec, "ContainerGroup", &v);
    let v = env.wait_group("schema-1", |v| state(v) == "Running").await;
    assert_valid(&spec, "ContainerGroup", &v);
    assert_eq!(v["properties"]["volumes"][1]["secret"], json!({}));

    let (_, list) = env
        .get_json(&format!("{}?api-version={API}", env.rg_path(RG)))
        .await;
    assert!(list["nextLink"].is_string());
    assert_valid(&spec, "ContainerGroupListResult", &list);

    let (_, logs) = env
        .get_json(&format!(
            "{}/schema-1/containers/main/logs?api-version={API}",
            env.rg_path(RG)
        ))
        .await;
    assert_eq!(logs["content"], "hello\n");
    assert_valid(&spec, "Logs", &logs);

    let loc = format!(
        "{}/subscriptions/{SUB}/providers/Microsoft.ContainerInstance/locations/westus",
        env.base
    );
    let (_, caps) = env
        .get_json(&format!("{loc}/capabilities?api-version={API}"))
        .await;
    assert_valid(&spec, "CapabilitiesListResult", &caps);
    let (_, usages) = env
        .get_json(&format!("{loc}/usages?api-version={API}"))
        .await;
    assert_valid(&spec, "UsageListResult", &usages);
    let (_, images) = env
        .get_json(&format!("{loc}/cachedImages?api-version={API}"))
        .await;
    assert_valid(&spec, "CachedImagesListResult", &images);
    let (_, ops) = env
        .get_json(&format!(
            "{}/providers/Microsoft.ContainerInstance/operations?api-version={API}",
            env.base
        ))
        .await;
    assert_valid(&spec, "OperationListResult", &ops);

    let r = env
        .post(
            &format!(
                "{}/schema-1/containers/main/exec?api-version={API}",
                env.rg_path(RG)
            ),
            Some(&json!({"command": "echo hi", "terminalSize": {"rows": 1, "cols": 1}})),
        )
        .await;
    let exec: Value = r.json().await.expect("json");
    assert_valid(&spec, "ContainerExecResponse", &exec);
    let r = env
        .post(
            &format!(
                "{}/schema-1/containers/main/attach?api-version={API}",
                env.rg_path(RG)
            ),
            None,
        )
        .await;
    let attach: Value = r.json().await.expect("json");
    assert_valid(&spec, "ContainerAttachResponse", &attach);

    let (status, err) = env.get_json(&env.cg_url("missing")).await;
    assert_eq!(status, 404);
    assert_valid(&spec, "CloudError", &err);
    let r = env.put("Bad_Name", &group_body(&[], "Always")).await;
    let err: Value = r.json().await.expect("json");
    assert_valid(&spec, "CloudError", &err);
}

#[tokio::test]
async fn spec_example_requests_are_accepted() {
    let spec = Spec::load();
    // The 2023-05-01 examples still request GPUs, which ACI retired on 14 July
    // 2025: they are accepted by an emulator that offers the old GPU SKUs, and
    // refused at the defaults (`gpu_examples_are_refused_now_that_gpus_are_retired`).
    let env = start_with(
        vk_aci_emulator::Emulator::builder()
            .fast()
            .gpu_skus(["K80", "P100", "V100"]),
    )
    .await;
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(format!("{}/examples", spec_dir()))
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    for file in entries {
        let ex = example(&file);
        let Some(group) = ex["parameters"].get("containerGroup") else {
            continue;
        };
        let name = ex["parameters"]["containerGroupName"]
            .as_str()
            .expect("name");
        // Distinct names: several examples reuse "demo1".
        let name = format!("{name}-{n}");
        n += 1;
        let mut group = group.clone();
        let props = &group["properties"];
        if props["subnetIds"].as_array().is_some_and(|s| !s.is_empty())
            && props["ipAddress"]["type"] == "Public"
        {
            // Microsoft's kitchen-sink example joins a subnet with a public IP
            // and a DNS label; container-instances-virtual-network-concepts.md
            // says a VNet group gets neither, so ACI's rule refuses it...
            let r = env.put(&name, &group).await;
            assert_eq!(r.status().as_u16(), 400, "{file}");
            let v: Value = r.json().await.expect("json");
            assert_eq!(
                v["error"]["code"], "InvalidIpAddressTypeForNetworkProfile",
                "{file}: {v}"
            );
            // ...and the same group with a private address is accepted.
            let ip = group["properties"]["ipAddress"]
                .as_object_mut()
                .expect("ipAddress");
            ip.insert("type".into(), json!("Private"));
            ip.remove("dnsNameLabel");
            ip.remove("autoGeneratedDomainNameLabelScope");
        }
        let spot_region = ["eastus2", "westeurope", "westus"];
        if group["properties"]["priority"] == "Spot"
            && !group["location"].as_str().is_some_and(|l| {
                spot_region.contains(&l.to_ascii_lowercase().replace(' ', "").as_str())
            })
        {
            // The Spot example is in a region that offers no Spot groups
            // (container-instances-spot-containers-overview.md): refused
            // there, accepted in one that does.
            let r = env.put(&name, &group).await;
            assert_eq!(r.status().as_u16(), 409, "{file}");
            group["location"] = json!("westus");
        }
        let r = env.put(&name, &group).await;
        let status = r.status().as_u16();
        let v: Value = r.json().await.expect("json");
        assert_eq!(status, 201, "{file} rejected: {v}");
        assert_valid(&spec, "ContainerGroup", &v);
        let v = env
            .wait_group(&name, |v| {
                v["properties"]["provisioningState"] == "Succeeded"
            })
            .await;
        assert_valid(&spec, "ContainerGroup", &v);
        // Example responses must also parse under our validator.
        for code in ["200", "201"] {
            if let Some(body) = ex["responses"][code].get("body") {
                assert_valid(&spec, "ContainerGroup", body);
            }
        }
    }
    assert!(n >= 5, "only {n} examples with a containerGroup");
}

#[tokio::test]
async fn gpu_examples_are_refused_now_that_gpus_are_retired() {
    let env = start().await;
    let ex = example("ContainerGroupsCreateOrUpdate.json");
    let group = &ex["parameters"]["containerGroup"];
    assert!(
        group.to_string().contains("\"gpu\""),
        "the example requests a GPU"
    );
    let r = env.put("gpu-example", group).await;
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "UnsupportedGpuSku", "{v}");
}
