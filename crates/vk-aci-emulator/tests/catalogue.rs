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
    let cases = [
        (
            json!({"name": "v", "emptyDir": {}}),
            "WindowsContainersVolumeNotSupported",
        ),
        (
            json!({"name": "v", "secret": {"token": "dG9rZW4="}}),
            "SecretVolumesNotSupportedOnWindows",
        ),
        (
            json!({"name": "v", "azureFile": {"shareName": "s", "storageAccountName": "a", "storageAccountKey": "k"}}),
            "WindowsContainersVolumeNotSupported",
        ),
        (
            json!({"name": "v", "gitRepo": {"repository": "https://example.com/r.git"}}),
            "WindowsContainersVolumeNotSupported",
        ),
    ];
    for (i, (volume, expected)) in cases.into_iter().enumerate() {
        let mut body = windows(LTSC2019_IIS);
        body["properties"]["volumes"] = json!([volume]);
        body["properties"]["containers"][0]["properties"]["volumeMounts"] =
            json!([{"name": "v", "mountPath": "C:\\v"}]);
        let (status, code, message) = refused(&env, &format!("win-vol-{i}"), &body).await;
        assert_eq!((status, code.as_str()), (400, expected));
        assert!(
            message.ends_with("volumes are not supported for Windows containers."),
            "{message}"
        );
    }
    // The same group without the volume runs.
    accepted(&env, "win-plain", &windows(LTSC2019_IIS)).await;
}

#[tokio::test]
async fn windows_groups_hold_one_container_and_no_init_container() {
    let env = start_realistic().await;
    let mut two = windows(LTSC2019_IIS);
    let mut second = two["properties"]["containers"][0].clone();
    second["name"] = json!("second");
    two["properties"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(second);
    let (status, code, message) = refused(&env, "win-two", &two).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "MultipleWindowsContainersNotSupported")
    );
    assert_eq!(
        message,
        "Multiple containers are defined in the Windows container group 'win-two'. A Windows container group can only have one container."
    );
    let mut init = windows(LTSC2019_IIS);
    init["properties"]["initContainers"] =
        json!([{"name": "setup", "properties": {"image": LTSC2019_IIS}}]);
    let (status, code, _) = refused(&env, "win-init", &init).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "UnsupportedFeatureForOsType")
    );
    let mut identity = windows(LTSC2019_IIS);
    identity["identity"] = json!({"type": "None"});
    let (status, code, _) = refused(&env, "win-identity", &identity).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "IdentityNotSupportedOnWindows")
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
    let (status, code, message) = refused(&env, "unexposed", &unexposed).await;
    assert_eq!((status, code.as_str()), (400, "UnreferencedIpAddressPorts"));
    assert_eq!(
        message,
        "Following ports '81' in the 'ipAddress' are not used by any container in container group 'unexposed'."
    );
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
    assert_eq!(
        (status, code.as_str()),
        (400, "PrivateIpWithoutSubnetNotSupported")
    );
    assert!(
        message.ends_with("only supported when a subnet ID is defined."),
        "{message}"
    );
    let public = in_vnet(with_port(
        group_body(&[], "Always"),
        json!({"type": "Public", "ports": [{"port": 80}]}),
    ));
    let (status, code, message) = refused(&env, "public-in-vnet", &public).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidIpAddressTypeForNetworkProfile")
    );
    assert_eq!(
        message,
        "IP Address type can't be public when network profile is set."
    );
    let label = in_vnet(with_port(
        group_body(&[], "Always"),
        json!({"type": "Private", "ports": [{"port": 80}], "dnsNameLabel": "mylabel1"}),
    ));
    let (status, code, message) = refused(&env, "label-in-vnet", &label).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "DnsNameLabelNotSupportedInVirtualNetwork")
    );
    assert!(message.contains("only supported when IP Address type is public"));
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
    // The Confidential SKU takes the flag.
    let mut confidential = body.clone();
    confidential["properties"]["sku"] = json!("Confidential");
    accepted(&env, "privileged-confidential", &confidential).await;
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
    assert_eq!((status, code.as_str()), (409, "ServiceUnavailable"));
    let (status, code, _) = refused(&env, "spot-vnet", &in_vnet(spot("westus", 1.0))).await;
    assert_eq!(
        (status, code.as_str()),
        (
            400,
            "SpotPriorityContainerGroupNotSupportedForInboundConnectivity"
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

#[tokio::test(start_paused = true)]
async fn gpus_are_retired() {
    let env = start_paused_with(Emulator::builder()).await;
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
    let vnet = in_vnet(base.clone());
    let mut zone = base.clone();
    zone["zones"] = json!(["1"]);
    for (what, body) in [
        ("resources", cpu),
        ("restart policy", restart),
        ("os type", os),
        ("network", vnet),
        ("zone", zone),
    ] {
        let (status, code, message) = refused(&env, "immutable", &body).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "InvalidContainerGroupUpdate"),
            "{what}"
        );
        assert!(
            message.ends_with("you must delete it first and then create a new one."),
            "{what}: {message}"
        );
    }
    // What may change does: ports, then an image (containers are recreated).
    let ports = with_port(
        base.clone(),
        json!({"type": "Public", "ports": [{"port": 80}]}),
    );
    accepted(&env, "immutable", &ports).await;
    env.wait_group_within("immutable", RUN, |v| {
        v["properties"]["provisioningState"] == "Succeeded"
    })
    .await;
    let mut image = ports.clone();
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

const MI: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-id";

#[tokio::test]
async fn a_group_is_pinned_to_one_zone_of_three_and_spot_groups_to_none() {
    let env = start_realistic().await;
    let zoned = |zones: Value| {
        let mut body = group_body(&[], "Always");
        body["zones"] = zones;
        body
    };
    accepted(&env, "zone-2", &zoned(json!(["2"]))).await;
    assert_eq!(env.group("zone-2").await["zones"], json!(["2"]));
    let (status, code, message) = refused(&env, "zones-2", &zoned(json!(["1", "2"]))).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "MultipleAvailabilityZonesNotSupported")
    );
    assert!(message.contains("only one"), "{message}");
    let (status, code, _) = refused(&env, "zone-4", &zoned(json!(["4"]))).await;
    assert_eq!((status, code.as_str()), (400, "InvalidAvailabilityZone"));
    let mut spot_zone = spot("westus", 1.0);
    spot_zone["zones"] = json!(["1"]);
    let (status, code, _) = refused(&env, "spot-zone", &spot_zone).await;
    assert_eq!(
        (status, code.as_str()),
        (
            400,
            "SpotPriorityContainerGroupNotSupportedWithAvailabilityZone"
        )
    );
}

#[tokio::test]
async fn user_assigned_identities_are_well_formed_arm_ids() {
    let env = start_realistic().await;
    let with = |identity: Value| {
        let mut body = group_body(&[], "Always");
        body["identity"] = identity;
        body
    };
    accepted(
        &env,
        "mi-ok",
        &with(json!({"type": "UserAssigned", "userAssignedIdentities": {MI: {}}})),
    )
    .await;
    let v = env.group("mi-ok").await;
    assert_eq!(v["identity"]["type"], "UserAssigned");
    assert!(
        v["identity"]["userAssignedIdentities"][MI]["clientId"].is_string(),
        "{v}"
    );
    for (name, identity) in [
        ("mi-none", json!({"type": "UserAssigned"})),
        (
            "mi-empty",
            json!({"type": "UserAssigned", "userAssignedIdentities": {}}),
        ),
        (
            "mi-system",
            json!({"type": "SystemAssigned", "userAssignedIdentities": {MI: {}}}),
        ),
        (
            "mi-bad",
            json!({"type": "UserAssigned", "userAssignedIdentities": {"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x": {}}}),
        ),
    ] {
        let (status, code, _) = refused(&env, name, &with(identity)).await;
        assert_eq!((status, code.as_str()), (400, "InvalidIdentity"), "{name}");
    }
}

#[tokio::test]
async fn a_cce_policy_is_base64_and_only_in_the_confidential_sku() {
    let env = start_realistic().await;
    let with = |sku: &str, policy: &str| {
        let mut body = group_body(&[], "Always");
        body["properties"]["sku"] = json!(sku);
        body["properties"]["confidentialComputeProperties"] = json!({"ccePolicy": policy});
        body
    };
    // "package policy" in base64.
    accepted(
        &env,
        "cce-ok",
        &with("Confidential", "cGFja2FnZSBwb2xpY3k="),
    )
    .await;
    let (status, code, _) =
        refused(&env, "cce-text", &with("Confidential", "package policy")).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidConfidentialComputePolicy")
    );
    let (status, code, message) = refused(
        &env,
        "cce-standard",
        &with("Standard", "cGFja2FnZSBwb2xpY3k="),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidConfidentialComputePolicy")
    );
    assert!(message.contains("Confidential"), "{message}");
}
