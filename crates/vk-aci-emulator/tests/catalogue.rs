//! Conformance tests of the behaviour catalogue (docs/aci-emulator.md): one
//! test per creation rule, each sending raw JSON over HTTP as any ARM client
//! would, at the emulator's defaults (realistic delays, throttling and
//! quotas; tests that wait for a group to run do so on a paused clock).
#![allow(missing_docs)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use vk_aci_emulator::Emulator;

/// Longest (paused-clock) wait for a group to run at the defaults: 30 s
/// provisioning, a pull of up to 4 minutes, the start.
const RUN: Duration = Duration::from_secs(600);

/// PUTs `body` as group `name` and returns (status, error code, message).
async fn refused(env: &Env, name: &str, body: &Value) -> (u16, String, String) {
    let r = env.put(name, body).await;
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (
        status,
        v["error"]["code"].as_str().unwrap_or_default().to_owned(),
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

async fn accepted(env: &Env, name: &str, body: &Value) {
    let r = env.put(name, body).await;
    let status = r.status().as_u16();
    assert!(
        status == 200 || status == 201,
        "{name}: {status} {}",
        r.text().await.unwrap_or_default()
    );
}

fn windows(image: &str) -> Value {
    let mut body = group_body(&[], "Always");
    body["properties"]["osType"] = json!("Windows");
    body["properties"]["containers"][0]["properties"]["image"] = json!(image);
    body
}

const LTSC2019_IIS: &str = "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2019";

#[tokio::test]
async fn windows_groups_mount_no_volume_of_any_kind() {
    let env = start_realistic().await;
    for (i, volume) in [
        json!({"name": "v", "emptyDir": {}}),
        json!({"name": "v", "secret": {"token": "dG9rZW4="}}),
        json!({"name": "v", "azureFile": {"shareName": "s", "storageAccountName": "a", "storageAccountKey": "k"}}),
        json!({"name": "v", "gitRepo": {"repository": "https://example.com/r.git"}}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = windows(LTSC2019_IIS);
        body["properties"]["volumes"] = json!([volume]);
        body["properties"]["containers"][0]["properties"]["volumeMounts"] =
            json!([{"name": "v", "mountPath": "C:\\v"}]);
        let (status, code, message) = refused(&env, &format!("win-vol-{i}"), &body).await;
        assert_eq!((status, code.as_str()), (400, "UnsupportedFeatureForOsType"));
        assert!(message.contains("volumes"), "{message}");
    }
    // The same group without the volume runs.
    accepted(&env, "win-plain", &windows(LTSC2019_IIS)).await;
}

#[tokio::test]
async fn windows_groups_hold_one_container_and_no_init_container() {
    let env = start_realistic().await;
    let mut two = windows(LTSC2019_IIS);
    let second = two["properties"]["containers"][0].clone();
    let mut second = second;
    second["name"] = json!("second");
    two["properties"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(second);
    let (status, code, _) = refused(&env, "win-two", &two).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "UnsupportedFeatureForOsType")
    );
    let mut init = windows(LTSC2019_IIS);
    init["properties"]["initContainers"] =
        json!([{"name": "setup", "properties": {"image": LTSC2019_IIS}}]);
    let (status, code, _) = refused(&env, "win-init", &init).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "UnsupportedFeatureForOsType")
    );
}

#[tokio::test]
async fn windows_server_2016_images_are_refused() {
    let env = start_realistic().await;
    for (i, image) in [
        "microsoft/iis",
        "microsoft/iis:latest",
        "mcr.microsoft.com/windows/servercore:ltsc2016",
        "mcr.microsoft.com/windows/nanoserver:10.0.14393.2485",
    ]
    .into_iter()
    .enumerate()
    {
        let (status, code, message) = refused(&env, &format!("win2016-{i}"), &windows(image)).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "OsVersionNotSupported"),
            "{image}"
        );
        assert!(message.contains(image), "{message}");
    }
    accepted(&env, "win2019", &windows(LTSC2019_IIS)).await;
    accepted(
        &env,
        "win2022",
        &windows("mcr.microsoft.com/windows/servercore:ltsc2022"),
    )
    .await;
    // A Linux image named like one is not Windows.
    let mut linux = group_body(&[], "Always");
    linux["properties"]["containers"][0]["properties"]["image"] = json!("example/ltsc2016-tools");
    accepted(&env, "linux-named", &linux).await;
}

fn with_port(mut body: Value, ip: Value) -> Value {
    body["properties"]["containers"][0]["properties"]["ports"] = json!([{"port": 80}]);
    body["properties"]["ipAddress"] = ip;
    body
}

#[tokio::test]
async fn an_ip_address_lists_between_one_and_five_exposed_ports() {
    let env = start_realistic().await;
    let empty = with_port(
        group_body(&[], "Always"),
        json!({"type": "Public", "ports": []}),
    );
    let (status, code, message) = refused(&env, "no-ports", &empty).await;
    assert_eq!((status, code.as_str()), (400, "MissingIpAddressPorts"));
    assert_eq!(
        message,
        "The ports in the 'ipAddress' of container group 'no-ports' cannot be empty."
    );
    let unexposed = with_port(
        group_body(&[], "Always"),
        json!({"type": "Public", "ports": [{"port": 81}]}),
    );
    let (status, code, _) = refused(&env, "unexposed", &unexposed).await;
    assert_eq!((status, code.as_str()), (400, "UnreferencedIpAddressPorts"));
    let mut six = group_body(&[], "Always");
    let ports: Vec<Value> = (1..=6).map(|p| json!({"port": 8000 + p})).collect();
    six["properties"]["containers"][0]["properties"]["ports"] = json!(ports);
    six["properties"]["ipAddress"] = json!({"type": "Public", "ports": ports});
    let (status, code, _) = refused(&env, "six-ports", &six).await;
    assert_eq!((status, code.as_str()), (400, "TooManyIpAddressPorts"));
    accepted(
        &env,
        "one-port",
        &with_port(
            group_body(&[], "Always"),
            json!({"type": "Public", "ports": [{"port": 80}]}),
        ),
    )
    .await;
}

fn in_vnet(mut body: Value) -> Value {
    body["properties"]["subnetIds"] = json!([{"id": SUBNET}]);
    body
}

#[tokio::test]
async fn private_addresses_need_a_subnet_and_vnet_groups_get_no_public_address_or_dns_label() {
    let env = start_realistic().await;
    let private = with_port(
        group_body(&[], "Always"),
        json!({"type": "Private", "ports": [{"port": 80}]}),
    );
    let (status, code, message) = refused(&env, "private-no-subnet", &private).await;
    assert_eq!((status, code.as_str()), (400, "InvalidIpAddressType"));
    assert!(message.contains("network profile"), "{message}");
    let public = in_vnet(with_port(
        group_body(&[], "Always"),
        json!({"type": "Public", "ports": [{"port": 80}]}),
    ));
    let (status, code, _) = refused(&env, "public-in-vnet", &public).await;
    assert_eq!((status, code.as_str()), (400, "InvalidIpAddressType"));
    let label = in_vnet(with_port(
        group_body(&[], "Always"),
        json!({"type": "Private", "ports": [{"port": 80}], "dnsNameLabel": "mylabel1"}),
    ));
    let (status, code, _) = refused(&env, "label-in-vnet", &label).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "DnsNameLabelNotSupportedInVirtualNetwork")
    );
    accepted(&env, "private-in-vnet", &in_vnet(private)).await;
}

#[tokio::test(start_paused = true)]
async fn a_vnet_group_gets_a_private_address_with_or_without_ports() {
    let env = start_paused_with(Emulator::builder()).await;
    let v = env
        .create_running_within("portless-vnet", &in_vnet(group_body(&[], "Always")), RUN)
        .await;
    let ip = &v["properties"]["ipAddress"];
    assert_eq!(ip["type"], "Private", "{v}");
    assert!(
        ip["ip"].as_str().is_some_and(|a| a.starts_with("10.")),
        "{v}"
    );
    // A public group without ports gets no address at all.
    let v = env
        .create_running_within("portless-public", &group_body(&[], "Always"), RUN)
        .await;
    assert!(v["properties"]["ipAddress"].is_null(), "{v}");
}

#[tokio::test]
async fn container_limits_stay_within_the_group_requests() {
    let env = start_realistic().await;
    let mut body = group_body(&[], "Always");
    body["properties"]["containers"][0]["properties"]["resources"]["limits"] =
        json!({"cpu": 2.0, "memoryInGB": 1.5});
    let (status, code, message) = refused(&env, "limit-above", &body).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "ContainerLimitGreaterThanContainerGroupTotalRequest")
    );
    assert_eq!(
        message,
        "The 'Cpu' limit '2' in container 'main' is greater than the total request '1' of container group 'limit-above'."
    );
}

#[tokio::test]
async fn no_privileged_containers() {
    let env = start_realistic().await;
    let mut body = group_body(&[], "Always");
    body["properties"]["containers"][0]["properties"]["securityContext"] =
        json!({"privileged": true});
    let (status, code, message) = refused(&env, "privileged", &body).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "PrivilegedContainerNotSupported")
    );
    assert!(message.contains("'main'"), "{message}");
    body["properties"]["containers"][0]["properties"]["securityContext"] =
        json!({"privileged": false, "capabilities": {"drop": ["ALL"]}});
    accepted(&env, "unprivileged", &body).await;
}

fn spot(location: &str, cpu: f64) -> Value {
    let mut body = group_body(&[], "Always");
    body["location"] = json!(location);
    body["properties"]["priority"] = json!("Spot");
    body["properties"]["containers"][0]["properties"]["resources"]["requests"]["cpu"] = json!(cpu);
    body
}

#[tokio::test]
async fn spot_groups_keep_to_their_regions_size_and_network() {
    let env = start_realistic().await;
    for (i, region) in ["eastus2", "West Europe", "westus"].into_iter().enumerate() {
        accepted(&env, &format!("spot-ok-{i}"), &spot(region, 1.0)).await;
    }
    let (status, code, _) = refused(&env, "spot-region", &spot("northeurope", 1.0)).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "SpotPriorityContainerGroupNotSupportedInLocation")
    );
    let (status, code, _) = refused(&env, "spot-vnet", &in_vnet(spot("westus", 1.0))).await;
    assert_eq!(
        (status, code.as_str()),
        (
            400,
            "SpotPriorityContainerGroupNotSupportedWithVirtualNetwork"
        )
    );
    let public = with_port(
        spot("westus", 1.0),
        json!({"type": "Public", "ports": [{"port": 80}]}),
    );
    let (status, code, _) = refused(&env, "spot-public", &public).await;
    assert_eq!(
        (status, code.as_str()),
        (
            400,
            "SpotPriorityContainerGroupNotSupportedForInboundConnectivity"
        )
    );
    // Above the Spot maximum of 4 CPU: ACI's capacity answer.
    let (status, code, _) = refused(&env, "spot-big", &spot("westus", 5.0)).await;
    assert_eq!((status, code.as_str()), (409, "ServiceUnavailable"));
}

#[tokio::test]
async fn gpus_are_retired() {
    let env = start_realistic().await;
    let mut body = group_body(&[], "Always");
    body["properties"]["containers"][0]["properties"]["resources"]["requests"]["gpu"] =
        json!({"count": 1, "sku": "V100"});
    let (status, code, message) = refused(&env, "gpu", &body).await;
    assert_eq!((status, code.as_str()), (400, "UnsupportedGpuSku"));
    assert!(message.contains("retired"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn updates_cannot_change_what_aci_sets_only_at_creation() {
    let env = start_paused_with(Emulator::builder()).await;
    let base = group_body(&[], "Always");
    env.create_running_within("immutable", &base, RUN).await;
    let mut cpu = base.clone();
    cpu["properties"]["containers"][0]["properties"]["resources"]["requests"]["cpu"] = json!(2.0);
    let mut restart = base.clone();
    restart["properties"]["restartPolicy"] = json!("Never");
    let mut os = base.clone();
    os["properties"]["osType"] = json!("Windows");
    os["properties"]["containers"][0]["properties"]["image"] = json!(LTSC2019_IIS);
    let ports = with_port(
        base.clone(),
        json!({"type": "Public", "ports": [{"port": 80}]}),
    );
    for (what, body) in [
        ("resources", cpu),
        ("restartPolicy", restart),
        ("osType", os),
        ("ports", ports),
    ] {
        let (status, code, message) = refused(&env, "immutable", &body).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "ContainerGroupUpdateNotSupported"),
            "{what}"
        );
        assert!(message.contains(what), "{what}: {message}");
    }
    // What may change does: an image (containers are recreated).
    let mut image = base.clone();
    image["properties"]["containers"][0]["properties"]["image"] = json!("busybox:1.36");
    accepted(&env, "immutable", &image).await;
}

#[tokio::test]
async fn hard_limits_of_a_group() {
    let env = start_realistic().await;
    let mut many = group_body(&[], "Always");
    let containers: Vec<Value> = (0..61)
        .map(|i| {
            json!({"name": format!("c{i}"), "properties": {"image": "busybox",
                "resources": {"requests": {"cpu": 0.01, "memoryInGB": 0.1}}}})
        })
        .collect();
    many["properties"]["containers"] = json!(containers);
    let (status, code, _) = refused(&env, "sixty-one", &many).await;
    assert_eq!((status, code.as_str()), (400, "TooManyContainers"));
    let mut volumes = group_body(&[], "Always");
    let vs: Vec<Value> = (0..21)
        .map(|i| json!({"name": format!("v{i}"), "emptyDir": {}}))
        .collect();
    volumes["properties"]["volumes"] = json!(vs);
    let (status, code, _) = refused(&env, "twenty-one", &volumes).await;
    assert_eq!((status, code.as_str()), (400, "TooManyVolumes"));
}

#[tokio::test]
async fn reserved_ports_are_advice_not_a_refusal() {
    let env = start_realistic().await;
    let mut body = group_body(&[], "Always");
    body["properties"]["containers"][0]["properties"]["ports"] = json!([{"port": 22}]);
    body["properties"]["ipAddress"] = json!({"type": "Public", "ports": [{"port": 22}]});
    accepted(&env, "port-22", &body).await;
}
