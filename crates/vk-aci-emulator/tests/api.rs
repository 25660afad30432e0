// Over 800 lines: the emulator's API conformance cases, one test per documented behaviour.
//! Integration tests driving the emulator over real HTTP.
#![allow(missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use vk_aci_emulator::{Emulator, FaultRule, ProvisioningFailure, Quota};

#[tokio::test]
async fn auth_required_and_token_flows() {
    let env = start().await;
    let url = env.cg_url("g1");
    // No token.
    let r = env.http.get(&url).send().await.expect("send");
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("x-ms-request-id"));
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "AuthenticationFailed");
    // Unknown token.
    let r = env
        .http
        .get(&url)
        .bearer_auth("nope")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "InvalidAuthenticationToken");
    // Issued token works (404: group missing).
    let (status, v) = env.get_json(&url).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["code"], "ResourceNotFound");
    // Client assertion (workload identity) works too.
    let r = env
        .http
        .post(format!("{}/t/oauth2/v2.0/token", env.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", "eyJ.fake.jwt"),
            ("scope", "https://management.azure.com/.default"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    // Bad scope.
    let r = env
        .http
        .post(format!("{}/t/oauth2/v2.0/token", env.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", "x"),
            ("scope", "https://management.azure.com/"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "invalid_scope");
    // IMDS needs the Metadata header.
    let imds = format!(
        "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/",
        env.base
    );
    let r = env.http.get(&imds).send().await.expect("send");
    assert_eq!(r.status(), 400);
    let r = env
        .http
        .get(&imds)
        .header("Metadata", "true")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert!(v["expires_on"].is_string());
    let token = v["access_token"].as_str().expect("token");
    let r = env
        .http
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn unknown_subscription_and_resource_group() {
    let env = start_with(
        Emulator::builder()
            .fast()
            .subscriptions([SUB])
            .resource_groups([RG]),
    )
    .await;
    let r = env.put("g", &group_body(&[], "Always")).await;
    assert_eq!(r.status(), 201);
    let (status, v) = env
        .get_json(&format!("{}/g?api-version={API}", env.rg_path("nope")))
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("ResourceGroupNotFound"))
    );
    let url = format!(
        "{}/subscriptions/other/resourceGroups/{RG}/providers/Microsoft.ContainerInstance/containerGroups/g?api-version={API}",
        env.base
    );
    let (status, v) = env.get_json(&url).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("SubscriptionNotFound"))
    );
    // The IMDS endpoint helper.
    let r = env
        .http
        .get(format!(
            "{}?api-version=2019-08-01&resource=https://management.azure.com/",
            env.emu.imds_endpoint()
        ))
        .header("metadata", "true")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn static_token_and_api_version() {
    let env = start_with(Emulator::builder().fast().static_token("fixed")).await;
    let url = format!("{}/g1", env.rg_path(RG));
    let r = env
        .http
        .get(&url)
        .bearer_auth("fixed")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "MissingApiVersionParameter");
    let r = env
        .http
        .get(format!("{url}?api-version=latest"))
        .bearer_auth("fixed")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let r = env
        .http
        .get(format!("{url}?api-version=2024-10-01-preview"))
        .bearer_auth("fixed")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn create_lro_and_running_group() {
    let env = start_with(
        Emulator::builder()
            .fast()
            .pull_delay(Duration::from_millis(100)),
    )
    .await;
    let mut body = group_body(&[], "Always");
    body["properties"]["ipAddress"] = json!({"type": "Private", "ports": [{"port": 80}]});
    body["properties"]["subnetIds"] = json!([{"id": SUBNET}]);
    body["properties"]["containers"][0]["properties"]["ports"] = json!([{"port": 80}]);
    body["properties"]["containers"][0]["properties"]["environmentVariables"] =
        json!([{"name": "A", "value": "1"}, {"name": "S", "secureValue": "hidden"}]);
    let r = env.put("web-1", &body).await;
    assert_eq!(r.status(), 201);
    let h = r.headers().clone();
    let async_url = h["azure-asyncoperation"].to_str().expect("hdr").to_owned();
    let location = h["location"].to_str().expect("hdr").to_owned();
    assert_eq!(h["retry-after"], "1");
    assert!(async_url.starts_with(&env.base) && async_url.contains("/operations/"));
    assert!(location.contains("/operationResults/"));
    let v: Value = r.json().await.expect("json");
    assert!(matches!(
        v["properties"]["provisioningState"].as_str(),
        Some("Pending" | "Creating")
    ));
    assert!(!v.to_string().contains("hidden"), "secret leaked: {v}");
    // While pulling, the Location URL answers 202.
    let r = env.get(&location).await;
    assert_eq!(r.status(), 202);
    // Poll the operation status.
    let mut status = String::new();
    for _ in 0..200 {
        let (code, op) = env.get_json(&async_url).await;
        assert_eq!(code, 200);
        status = op["status"].as_str().expect("status").to_owned();
        if status != "InProgress" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, "Succeeded");
    let r = env.get(&location).await;
    assert_eq!(r.status(), 200);
    let v = env.wait_group("web-1", |v| state(v) == "Running").await;
    assert_eq!(v["properties"]["provisioningState"], "Succeeded");
    let ip = v["properties"]["ipAddress"]["ip"].as_str().expect("ip");
    assert!(ip.starts_with("10."), "{ip}");
    assert_eq!(v["properties"]["ipAddress"]["ports"][0]["protocol"], "TCP");
    assert_eq!(v["type"], "Microsoft.ContainerInstance/containerGroups");
    assert_eq!(v["tags"], json!({}));
    let cv = container_view(&v, 0);
    assert_eq!(cv["currentState"]["state"], "Running");
    assert_eq!(cv["restartCount"], 0);
    let events: Vec<&str> = cv["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(events, vec!["Pulling", "Pulled", "Created", "Started"]);
    assert!(!v.to_string().contains("hidden"));
    // Same body again: update in place, 200.
    let r = env.put("web-1", &body).await;
    assert_eq!(r.status(), 200);
    // A second group gets another IP; a public group a public-style IP.
    body["properties"]
        .as_object_mut()
        .expect("o")
        .remove("subnetIds");
    body["properties"]["ipAddress"]["type"] = json!("public");
    body["properties"]["ipAddress"]["dnsNameLabel"] = json!("myweb1");
    let v = env.create_running("web-2", &body).await;
    let ip2 = v["properties"]["ipAddress"]["ip"].as_str().expect("ip");
    assert_ne!(ip, ip2);
    assert!(!ip2.starts_with("10."));
    assert_eq!(v["properties"]["ipAddress"]["type"], "Public");
    assert_eq!(
        v["properties"]["ipAddress"]["fqdn"],
        "myweb1.westus.azurecontainer.io"
    );
}

async fn expect_error(env: &Env, name: &str, body: &Value, status: u16, code: &str) {
    let r = env.put(name, body).await;
    let got = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(
        (got, v["error"]["code"].as_str().unwrap_or("")),
        (status, code),
        "{name}: {v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[tokio::test]
async fn validation_errors() {
    let env = start().await;
    let ok = group_body(&[], "Always");
    // Names.
    for bad in ["-a", "a-", "a--b", "UPPER", &"x".repeat(64)] {
        expect_error(&env, bad, &ok, 400, "InvalidContainerGroupName").await;
    }
    // Malformed JSON.
    let r = env
        .http
        .put(env.cg_url("g"))
        .bearer_auth(&env.token)
        .header("content-type", "application/json")
        .body("{\"location\": ")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "InvalidRequestContent");

    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation, u16, &str)> = vec![
        (
            "no-location",
            Box::new(|v| {
                v.as_object_mut().expect("o").remove("location");
            }),
            400,
            "LocationRequired",
        ),
        (
            "no-containers",
            Box::new(|v| {
                v["properties"]
                    .as_object_mut()
                    .expect("o")
                    .remove("containers");
            }),
            400,
            "InvalidRequestContent",
        ),
        (
            "no-image",
            Box::new(|v| {
                v["properties"]["containers"][0]["properties"]
                    .as_object_mut()
                    .expect("o")
                    .remove("image");
            }),
            400,
            "InvalidRequestContent",
        ),
        (
            "no-ostype",
            Box::new(|v| {
                v["properties"].as_object_mut().expect("o").remove("osType");
            }),
            400,
            "InvalidRequestContent",
        ),
        (
            "bad-ostype",
            Box::new(|v| v["properties"]["osType"] = json!("Plan9")),
            400,
            "InvalidRequestContent",
        ),
        (
            "no-requests",
            Box::new(|v| v["properties"]["containers"][0]["properties"]["resources"] = json!({})),
            400,
            "InvalidRequestContent",
        ),
        (
            "too-much-cpu",
            Box::new(|v| {
                v["properties"]["containers"][0]["properties"]["resources"]["requests"]["cpu"] =
                    json!(5)
            }),
            409,
            "ServiceUnavailable",
        ),
        (
            "too-much-mem",
            Box::new(|v| {
                v["properties"]["containers"][0]["properties"]["resources"]["requests"]["memoryInGB"] =
                    json!(16.5)
            }),
            409,
            "ServiceUnavailable",
        ),
        (
            "cpu-granularity",
            Box::new(|v| {
                v["properties"]["containers"][0]["properties"]["resources"]["requests"]["cpu"] =
                    json!(0.005)
            }),
            400,
            "InvalidContainerResourceRequests",
        ),
        (
            "mem-granularity",
            Box::new(|v| {
                v["properties"]["containers"][0]["properties"]["resources"]["requests"]["memoryInGB"] =
                    json!(1.55)
            }),
            400,
            "InvalidContainerResourceRequests",
        ),
        (
            "limit-above-total",
            Box::new(|v| {
                v["properties"]["containers"][0]["properties"]["resources"]["limits"] =
                    json!({"cpu": 2})
            }),
            400,
            "ContainerLimitGreaterThanContainerGroupTotalRequest",
        ),
        (
            "limit-below-request",
            Box::new(|v| {
                v["properties"]["containers"][0]["properties"]["resources"]["limits"] =
                    json!({"memoryInGB": 1.0})
            }),
            400,
            "ResourceLimitsLessThanRequests",
        ),
        (
            "dup-ports",
            Box::new(|v| {
                v["properties"]["containers"][0]["properties"]["ports"] =
                    json!([{"port": 80}, {"port": 80}])
            }),
            400,
            "DuplicateContainerPorts",
        ),
        (
            "ip-port-not-exposed",
            Box::new(|v| {
                v["properties"]["ipAddress"] = json!({"type": "Public", "ports": [{"port": 443}]})
            }),
            400,
            "UnreferencedIpAddressPorts",
        ),
        (
            "unknown-volume",
            Box::new(|v| {
                v["properties"]["containers"][0]["properties"]["volumeMounts"] =
                    json!([{"name": "data", "mountPath": "/data"}])
            }),
            400,
            "InvalidVolumeMount",
        ),
        (
            "bad-container-name",
            Box::new(|v| v["properties"]["containers"][0]["name"] = json!("Main")),
            400,
            "InvalidContainerName",
        ),
        (
            "empty-image",
            Box::new(|v| v["properties"]["containers"][0]["properties"]["image"] = json!("")),
            400,
            "InvalidImage",
        ),
        (
            "unpullable",
            Box::new(|v| {
                v["properties"]["containers"][0]["properties"]["image"] =
                    json!("example.com/unpullable:1")
            }),
            400,
            "InaccessibleImage",
        ),
        (
            "win-init",
            Box::new(|v| {
                v["properties"]["osType"] = json!("Windows");
                v["properties"]["initContainers"] =
                    json!([{"name": "init", "properties": {"image": "busybox"}}]);
            }),
            400,
            "UnsupportedFeatureForOsType",
        ),
        (
            "win-multi",
            Box::new(|v| {
                v["properties"]["osType"] = json!("Windows");
                let c = v["properties"]["containers"][0].clone();
                let mut c2 = c.clone();
                c2["name"] = json!("second");
                v["properties"]["containers"] = json!([c, c2]);
            }),
            400,
            "MultipleWindowsContainersNotSupported",
        ),
        (
            "win-azurefile",
            Box::new(|v| {
                v["properties"]["osType"] = json!("Windows");
                v["properties"]["volumes"] = json!([{"name": "share", "azureFile": {"shareName": "s", "storageAccountName": "a"}}]);
            }),
            400,
            "WindowsContainersVolumeNotSupported",
        ),
        (
            "bad-priority",
            Box::new(|v| v["properties"]["priority"] = json!("Low")),
            400,
            "PriorityNotSpecified",
        ),
        (
            "bad-gpu",
            Box::new(|v| {
                v["properties"]["containers"][0]["properties"]["resources"]["requests"]["gpu"] =
                    json!({"count": 1, "sku": "H100"})
            }),
            400,
            "UnsupportedGpuSku",
        ),
    ];
    for (name, mutate, status, code) in cases {
        let mut body = ok.clone();
        mutate(&mut body);
        expect_error(&env, name, &body, status, code).await;
    }
    // None of them was created.
    assert!(env.emu.admin().groups().is_empty());
    // Windows limits are configurable separately, and a valid Windows group is accepted.
    let mut win = ok.clone();
    win["properties"]["osType"] = json!("windows");
    let r = env.put("win-ok", &win).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["properties"]["osType"], "Windows");
}

#[tokio::test]
async fn paging_with_next_link() {
    let env = start_with(Emulator::builder().fast().page_size(2)).await;
    for i in 0..5 {
        let r = env.put(&format!("g{i}"), &group_body(&[], "Always")).await;
        assert_eq!(r.status(), 201);
    }
    // Another resource group.
    let r = env
        .http
        .put(format!("{}/other?api-version={API}", env.rg_path("rg2")))
        .bearer_auth(&env.token)
        .json(&group_body(&[], "Always"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let mut url = format!("{}?api-version={API}", env.rg_path(RG));
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let (status, v) = env.get_json(&url).await;
        assert_eq!(status, 200);
        pages += 1;
        for item in v["value"].as_array().expect("value") {
            assert!(item["properties"].get("instanceView").is_none());
            names.push(item["name"].as_str().expect("name").to_owned());
        }
        match v["nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with("http://") && next.contains("$skiptoken="));
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, vec!["g0", "g1", "g2", "g3", "g4"]);
    // By subscription: 6 groups.
    let mut url = format!(
        "{}/subscriptions/{SUB}/providers/Microsoft.ContainerInstance/containerGroups?api-version={API}",
        env.base
    );
    let mut total = 0;
    loop {
        let (_, v) = env.get_json(&url).await;
        total += v["value"].as_array().expect("value").len();
        match v["nextLink"].as_str() {
            Some(n) => url = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(total, 6);
}

#[tokio::test]
async fn logs_of_echo_and_exit_codes() {
    let env = start().await;
    let v = env
        .create_running(
            "echo",
            &group_body(
                &["/bin/sh", "-c", "echo hello; echo world && true"],
                "Never",
            ),
        )
        .await;
    let v = if state(&v) == "Succeeded" {
        v
    } else {
        env.wait_group("echo", |v| state(v) == "Succeeded").await
    };
    let cs = &container_view(&v, 0)["currentState"];
    assert_eq!(cs["state"], "Terminated");
    assert_eq!(cs["exitCode"], 0);
    assert_eq!(cs["detailStatus"], "Completed");
    assert!(cs["finishTime"].is_string());
    let logs = format!(
        "{}/echo/containers/main/logs?api-version={API}",
        env.rg_path(RG)
    );
    let (status, v) = env.get_json(&logs).await;
    assert_eq!(status, 200);
    assert_eq!(v["content"], "hello\nworld\n");
    let (_, v) = env.get_json(&format!("{logs}&tail=1")).await;
    assert_eq!(v["content"], "world\n");
    let (_, v) = env.get_json(&format!("{logs}&timestamps=true")).await;
    let content = v["content"].as_str().expect("content");
    assert!(
        content
            .lines()
            .all(|l| l.len() > 20 && l.as_bytes()[4] == b'-' && l.ends_with(['o', 'd'])),
        "{content}"
    );
    // Unknown container.
    let (status, _) = env
        .get_json(&format!(
            "{}/echo/containers/nope/logs?api-version={API}",
            env.rg_path(RG)
        ))
        .await;
    assert_eq!(status, 404);

    // exit 3 with Never: Failed, exit code 3.
    env.put(
        "fail",
        &group_body(&["sh", "-c", "echo bye >&2; exit 3"], "Never"),
    )
    .await;
    let v = env.wait_group("fail", |v| state(v) == "Failed").await;
    let cs = &container_view(&v, 0)["currentState"];
    assert_eq!(cs["exitCode"], 3);
    assert_eq!(cs["detailStatus"], "Error");
    assert_eq!(container_view(&v, 0)["restartCount"], 0);
}

#[tokio::test]
async fn restart_policies_and_init_containers() {
    let env = start_with(
        Emulator::builder()
            .fast()
            .restart_backoff(Duration::from_millis(20)),
    )
    .await;
    env.put("onfail", &group_body(&["false"], "OnFailure"))
        .await;
    let v = env
        .wait_group("onfail", |v| {
            container_view(v, 0)["restartCount"].as_u64() >= Some(2)
        })
        .await;
    assert_eq!(state(&v), "Running");
    assert_eq!(container_view(&v, 0)["previousState"]["exitCode"], 1);
    env.put("always", &group_body(&["true"], "Always")).await;
    env.wait_group("always", |v| {
        container_view(v, 0)["restartCount"].as_u64() >= Some(1)
    })
    .await;
    env.put("onfail-ok", &group_body(&["exit", "0"], "OnFailure"))
        .await;
    env.wait_group("onfail-ok", |v| state(v) == "Succeeded")
        .await;

    // Init containers run first, in order.
    let mut body = group_body(&["sh", "-c", "echo main"], "Never");
    body["properties"]["initContainers"] = json!([
        {"name": "init-1", "properties": {"image": "busybox", "command": ["sh", "-c", "echo one"]}},
        {"name": "init-2", "properties": {"image": "busybox", "command": ["sh", "-c", "sleep 0.05; echo two"]}}
    ]);
    env.put("inits", &body).await;
    let v = env.wait_group("inits", |v| state(v) == "Succeeded").await;
    let init = &v["properties"]["initContainers"];
    assert_eq!(
        init[0]["properties"]["instanceView"]["currentState"]["exitCode"],
        0
    );
    assert_eq!(
        init[1]["properties"]["instanceView"]["currentState"]["state"],
        "Terminated"
    );
    let t1 = init[0]["properties"]["instanceView"]["currentState"]["finishTime"]
        .as_str()
        .expect("t");
    let t2 = init[1]["properties"]["instanceView"]["currentState"]["startTime"]
        .as_str()
        .expect("t");
    let main_start = container_view(&v, 0)["currentState"]["startTime"]
        .as_str()
        .expect("t");
    assert!(t1 <= t2 && t2 <= main_start);
    // A failing init container with Never fails the group; main never starts.
    body["properties"]["initContainers"][1]["properties"]["command"] = json!(["exit", "7"]);
    env.put("inits-bad", &body).await;
    let v = env.wait_group("inits-bad", |v| state(v) == "Failed").await;
    assert_eq!(container_view(&v, 0)["currentState"]["state"], "Waiting");
}

#[tokio::test]
async fn exec_sessions_check_the_password_and_are_recorded() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let env = start().await;
    env.create_running("shell", &group_body(&[], "Always"))
        .await;
    let exec_url = format!(
        "{}/shell/containers/main/exec?api-version={API}",
        env.rg_path(RG)
    );
    let body = json!({"command": "/bin/sh", "terminalSize": {"rows": 24, "cols": 80}});
    let r = env.post(&exec_url, Some(&body)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    let uri = v["webSocketUri"].as_str().expect("uri");
    assert!(uri.starts_with("ws://"));
    // Wrong password.
    let (mut ws, _) = tokio_tungstenite::connect_async(uri)
        .await
        .expect("connect");
    ws.send(Message::text("wrong")).await.expect("send");
    let mut code = 0u16;
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Close(Some(f)) = m {
            code = f.code.into();
            break;
        }
    }
    assert_eq!(code, 1008);
    // The request body was recorded.
    let last = env.emu.admin().last_request("shell").expect("recorded");
    assert_eq!(last.op, "exec");
    assert_eq!(last.body["command"], "/bin/sh");
}

#[tokio::test]
async fn fault_injection_and_counters() {
    let env = start().await;
    let admin = env.emu.admin();
    admin.inject_fault(
        FaultRule::new("create")
            .with_status(429)
            .with_retry_after(2)
            .times(1),
    );
    let body = group_body(&[], "Always");
    let r = env.put("g1", &body).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "TooManyRequests");
    let r = env.put("g1", &body).await;
    assert_eq!(r.status(), 201);
    assert_eq!(admin.count_status("create", 429), 1);
    assert_eq!(admin.count_status("create", 201), 1);
    assert_eq!(admin.count_status("token", 200), 1);

    // 503 through the admin API, limited to one group.
    let r = env
        .http
        .post(format!("{}/_emulator/faults", env.base))
        .json(&json!({"op": "get", "group": "g1", "status": 503, "count": 2}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    assert_eq!(env.get(&env.cg_url("other")).await.status(), 404);
    assert_eq!(env.get(&env.cg_url("g1")).await.status(), 503);
    assert_eq!(env.get(&env.cg_url("g1")).await.status(), 503);
    assert_eq!(env.get(&env.cg_url("g1")).await.status(), 200);

    // Latency.
    admin.inject_fault(
        FaultRule::new("get")
            .with_latency(Duration::from_millis(300))
            .times(1),
    );
    let t = Instant::now();
    assert_eq!(env.get(&env.cg_url("g1")).await.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));

    // Dropped connection.
    admin.inject_fault(FaultRule::new("any").dropping_connection().times(1));
    let err = env
        .http
        .get(env.cg_url("g1"))
        .bearer_auth(&env.token)
        .send()
        .await;
    assert!(err.is_err(), "expected a transport error");
    assert_eq!(admin.count_status("get", 0), 1);

    // Counters over HTTP.
    let counters: Value = env
        .http
        .get(format!("{}/_emulator/counters", env.base))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(counters["get"]["503"], 2);
    assert_eq!(counters["get"]["404"], 1);

    // Request bodies recorded exactly.
    let recorded = admin.requests("g1");
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[1].body, body);
    let via_http: Value = env
        .http
        .get(format!("{}/_emulator/requests?group=g1", env.base))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(via_http[1]["body"], body);

    // Reset.
    admin.reset();
    assert!(admin.groups().is_empty());
    assert_eq!(admin.count("create"), 0);
}

#[tokio::test]
async fn provisioning_failure_and_transitions() {
    let env = start_with(
        Emulator::builder()
            .fast()
            .pull_delay(Duration::from_millis(300)),
    )
    .await;
    let admin = env.emu.admin();
    admin.fail_provisioning(ProvisioningFailure::new("bad-*"));
    let r = env.put("bad-1", &group_body(&[], "Always")).await;
    assert_eq!(r.status(), 201);
    let op_url = r.headers()["azure-asyncoperation"]
        .to_str()
        .expect("h")
        .to_owned();
    let v = env
        .wait_group("bad-1", |v| {
            v["properties"]["provisioningState"] == "Failed"
        })
        .await;
    assert_eq!(state(&v), "Failed");
    let (_, op) = env.get_json(&op_url).await;
    assert_eq!(op["status"], "Failed");
    assert_eq!(op["error"]["code"], "ServiceUnavailable");

    // Transitioning: a second PUT while pulling (slow on purpose) is refused.
    let slow_env = start_with(
        Emulator::builder()
            .fast()
            .pull_delay(Duration::from_secs(30)),
    )
    .await;
    let body = group_body(&[], "Always");
    assert_eq!(slow_env.put("slow", &body).await.status(), 201);
    let mut changed = body.clone();
    changed["properties"]["containers"][0]["properties"]["image"] = json!("nginx");
    for attempt in [
        slow_env.put("slow", &changed).await,
        slow_env
            .post(&slow_env.action_url("slow", "stop"), None)
            .await,
    ] {
        assert_eq!(attempt.status(), 409);
        let v: Value = attempt.json().await.expect("json");
        assert_eq!(v["error"]["code"], "ContainerGroupTransitioning");
    }
    // Deleting is allowed mid-transition.
    assert_eq!(slow_env.delete("slow").await.status(), 202);
    assert_eq!(env.put("slow", &body).await.status(), 201);
    env.wait_group("slow", |v| state(v) == "Running").await;

    // Stop, start, restart.
    let r = env.post(&env.action_url("slow", "stop"), None).await;
    assert_eq!(r.status(), 204);
    let v = env.group("slow").await;
    assert_eq!(state(&v), "Stopped");
    assert_eq!(container_view(&v, 0)["currentState"]["state"], "Terminated");
    let r = env.post(&env.action_url("slow", "start"), None).await;
    assert_eq!(r.status(), 202);
    assert!(r.headers().contains_key("azure-asyncoperation"));
    env.wait_group("slow", |v| state(v) == "Running").await;
    let r = env.post(&env.action_url("slow", "start"), None).await;
    assert_eq!(r.status(), 204);
    let r = env.post(&env.action_url("slow", "restart"), None).await;
    assert_eq!(r.status(), 204);
    assert!(r.headers().contains_key("location"));
    let v = env.wait_group("slow", |v| state(v) == "Running").await;
    assert_eq!(container_view(&v, 0)["restartCount"], 1);

    // An update redeploys.
    let r = env.put("slow", &changed).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["properties"]["provisioningState"], "Updating");
    env.wait_group("slow", |v| state(v) == "Running").await;
}

#[tokio::test]
async fn delete_patch_quota_usages() {
    let env = start_with(Emulator::builder().fast().quota(Quota {
        container_groups: 2,
        cores: 3,
    }))
    .await;
    let body = group_body(&[], "Always");
    assert_eq!(env.put("a", &body).await.status(), 201);
    let mut big = body.clone();
    big["properties"]["containers"][0]["properties"]["resources"]["requests"]["cpu"] = json!(2.5);
    let r = env.put("b", &big).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "ContainerGroupQuotaReached");
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("m")
            .contains("StandardCores")
    );
    assert_eq!(env.put("b", &body).await.status(), 201);
    let r = env.put("c", &body).await;
    let v: Value = r.json().await.expect("json");
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("m")
            .contains("'ContainerGroups'")
    );
    let usages = format!(
        "{}/subscriptions/{SUB}/providers/Microsoft.ContainerInstance/locations/westus/usages?api-version={API}",
        env.base
    );
    let (_, v) = env.get_json(&usages).await;
    assert_eq!(v["value"][0]["name"]["value"], "ContainerGroups");
    assert_eq!(v["value"][0]["currentValue"], 2);
    assert_eq!(v["value"][1]["currentValue"], 2);

    // PATCH tags.
    let r = env
        .http
        .patch(env.cg_url("a"))
        .bearer_auth(&env.token)
        .json(&json!({"tags": {"team": "x"}}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(env.group("a").await["tags"]["team"], "x");

    // Delete: 202 + LRO headers, then 404, then 204.
    let r = env.delete("a").await;
    assert_eq!(r.status(), 202);
    let op = r.headers()["azure-asyncoperation"]
        .to_str()
        .expect("h")
        .to_owned();
    let (_, v) = env.get_json(&op).await;
    assert_eq!(v["status"], "Succeeded");
    assert_eq!(env.get(&env.cg_url("a")).await.status(), 404);
    assert_eq!(env.delete("a").await.status(), 204);
    let (_, v) = env.get_json(&usages).await;
    assert_eq!(v["value"][0]["currentValue"], 1);
}

#[tokio::test]
async fn delayed_delete_is_transitioning() {
    let env = start_with(
        Emulator::builder()
            .fast()
            .delete_delay(Duration::from_millis(800)),
    )
    .await;
    env.create_running("d", &group_body(&[], "Always")).await;
    let r = env.delete("d").await;
    assert_eq!(r.status(), 202);
    let loc = r.headers()["location"].to_str().expect("h").to_owned();
    let v = env.group("d").await;
    assert_eq!(v["properties"]["provisioningState"], "Deleting");
    assert_eq!(env.put("d", &group_body(&[], "Always")).await.status(), 409);
    assert_eq!(env.get(&loc).await.status(), 202);
    let mut status = 202;
    for _ in 0..200 {
        status = env.get(&loc).await.status().as_u16();
        if status != 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 204);
    assert_eq!(env.get(&env.cg_url("d")).await.status(), 404);
}

#[tokio::test]
async fn state_survives_restart() {
    let path = temp_path("persist");
    let builder = || {
        Emulator::builder()
            .fast()
            .state_file(&path)
            .persist_debounce(Duration::from_millis(10))
    };
    let env = start_with(builder()).await;
    let mut body = group_body(&[], "Always");
    body["properties"]["containers"][0]["properties"]["resources"]["requests"]["cpu"] = json!(2.5);
    env.create_running("keep", &body).await;
    let token = env.token.clone();
    env.emu.shutdown().await.expect("shutdown");
    assert!(path.exists());
    let emu2 = builder()
        .start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("start");
    let http = client();
    let url = format!(
        "{}/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerInstance/containerGroups/keep?api-version={API}",
        emu2.base_url()
    );
    let r = http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(state(&v), "Running");
    // The reloaded group still counts its cores against the quota (2.5 CPU: 3 cores).
    let usages = format!(
        "{}/subscriptions/{SUB}/providers/Microsoft.ContainerInstance/locations/westus/usages?api-version={API}",
        emu2.base_url()
    );
    let v: Value = http
        .get(&usages)
        .bearer_auth(&token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["value"][0]["currentValue"], 1, "{v}");
    assert_eq!(v["value"][1]["name"]["value"], "StandardCores", "{v}");
    assert_eq!(v["value"][1]["currentValue"], 3, "{v}");
    emu2.shutdown().await.expect("shutdown");
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn location_endpoints() {
    let env = start().await;
    let base = format!(
        "{}/subscriptions/{SUB}/providers/Microsoft.ContainerInstance/locations/westus",
        env.base
    );
    let (status, v) = env
        .get_json(&format!("{base}/capabilities?api-version={API}"))
        .await;
    assert_eq!(status, 200);
    let rows = v["value"].as_array().expect("value");
    // ACI's GPU SKUs are retired: no GPU rows at the defaults.
    assert!(rows.iter().all(|r| r["gpu"] == "None"), "{rows:?}");
    assert!(rows.iter().all(|r| r["capabilities"]["maxCpu"] == 4.0));
    let (status, v) = env
        .get_json(&format!("{base}/cachedImages?api-version={API}"))
        .await;
    assert_eq!(status, 200);
    assert!(!v["value"].as_array().expect("v").is_empty());
    let (status, v) = env
        .get_json(&format!(
            "{}/providers/Microsoft.ContainerInstance/operations?api-version={API}",
            env.base
        ))
        .await;
    assert_eq!(status, 200);
    assert!(v["value"].as_array().expect("v").len() > 3);
}

#[tokio::test]
async fn binary_starts_and_prints_url() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_aci-emulator"))
        .arg("--fast")
        .arg("--pull-delay-ms")
        .arg("0")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let t = Instant::now();
    let url = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("timeout")
        .expect("read")
        .expect("line");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(t.elapsed() < Duration::from_secs(5));
    let r = client()
        .get(format!("{url}/_emulator/health"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    child.kill().await.expect("kill");
}

#[tokio::test]
async fn expired_tokens_are_rejected() {
    let emu = Emulator::builder()
        .fast()
        .token_lifetime(Duration::ZERO)
        .start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("start");
    let token = emu.admin().issue_token();
    let url = format!(
        "{}/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerInstance/containerGroups/x?api-version={API}",
        emu.base_url()
    );
    let r = client()
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "ExpiredAuthenticationToken");
}

#[tokio::test]
async fn admin_http_api() {
    let env = start().await;
    let admin_url = |p: &str| format!("{}/_emulator/{p}", env.base);
    let r = env
        .http
        .put(admin_url("quota"))
        .json(&json!({"container_groups": 1, "cores": 10}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-ms-request-id"));
    let r = env
        .http
        .post(admin_url("images/unpullable"))
        .json(&json!({"pattern": "private.io/"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let mut body = group_body(&[], "Always");
    body["properties"]["containers"][0]["properties"]["image"] = json!("private.io/app:1");
    let r = env.put("img", &body).await;
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "InaccessibleImage");
    let r = env
        .http
        .post(admin_url("provisioning-failures"))
        .json(&json!({"group": "pf", "code": "InsufficientCapacity", "message": "no room"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    assert_eq!(
        env.put("pf", &group_body(&[], "Always")).await.status(),
        201
    );
    let v = env
        .wait_group("pf", |v| v["properties"]["provisioningState"] == "Failed")
        .await;
    let events = v["properties"]["instanceView"]["events"].to_string();
    assert!(events.contains("no room"), "{events}");
    // Quota of one group reached.
    let r = env.put("second", &group_body(&[], "Always")).await;
    assert_eq!(r.status(), 400);
    let groups: Value = env
        .http
        .get(admin_url("groups"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(groups[0]["name"], "pf");
    assert_eq!(groups[0]["provisioning_state"], "Failed");
    let r = env
        .http
        .post(admin_url("reset"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 204);
    assert_eq!(
        env.put("second", &group_body(&[], "Always")).await.status(),
        201
    );
}

/// The runtime runs on tokio time: with a paused clock an hour-long image pull
/// completes at once (tokio auto-advances the clock while everything is idle).
#[tokio::test(start_paused = true)]
async fn runtime_follows_paused_tokio_time() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emu = Emulator::builder()
        .fast()
        .pull_delay(Duration::from_secs(3600))
        .start_delay(Duration::from_secs(600))
        .start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("start");
    let http = reqwest::Client::builder().build().expect("client");
    let token = emu.admin().issue_token();
    let url = format!(
        "{}/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerInstance/containerGroups/slow?api-version={API}",
        emu.base_url()
    );
    let r = http
        .put(&url)
        .bearer_auth(&token)
        .json(&group_body(
            &["sh", "-c", "sleep 86400; echo done"],
            "Never",
        ))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 201);
    let started = tokio::time::Instant::now();
    loop {
        let v: Value = http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        if state(&v) == "Succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
    // A day and more of virtual time went by.
    assert!(started.elapsed() >= Duration::from_secs(86400));
    assert_eq!(emu.admin().groups()[0].containers[0].exit_code, Some(0));
}

#[tokio::test]
async fn attach_replays_logs_with_header_auth() {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let env = start().await;
    env.create_running(
        "att",
        &group_body(&["sh", "-c", "echo hello; sleep 1000"], "Always"),
    )
    .await;
    let r = env
        .post(
            &format!(
                "{}/att/containers/main/attach?api-version={API}",
                env.rg_path(RG)
            ),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    let mut req = v["webSocketUri"]
        .as_str()
        .expect("uri")
        .into_client_request()
        .expect("req");
    req.headers_mut().insert(
        "authorization",
        v["password"].as_str().expect("pw").parse().expect("header"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connect");
    let mut out = String::new();
    while let Some(Ok(m)) = ws.next().await {
        match m {
            Message::Text(t) => out.push_str(t.as_str()),
            Message::Close(_) => break,
            _ => {}
        }
    }
    assert_eq!(out, "hello\n");
    // Debug output of the handle never shows the state.
    let dbg = format!("{:?}", env.emu);
    assert!(dbg.contains("base_url") && !dbg.contains("hello"));
}
