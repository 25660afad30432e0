//! Conformance tests of the runtime rows of the behaviour catalogue
//! (docs/aci-emulator.md, "Image pulls and platform events"): image pull
//! retries, failed groups that keep trying, platform restarts, repairs, ARM's
//! eventual consistency and deletes in progress. Raw ARM JSON over HTTP; the
//! faults through the admin HTTP API or the in-process handle. Tests that
//! wait use a paused tokio clock and state polling, never wall-clock limits.
#![allow(missing_docs)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use vk_aci_emulator::{Emulator, EmulatorError};

/// Longest (paused-clock) wait for a group to settle.
const BUDGET: Duration = Duration::from_secs(600);

fn admin_url(env: &Env, path: &str) -> String {
    format!("{}/_emulator/{path}", env.base)
}

async fn admin_post(env: &Env, path: &str, body: &Value) -> reqwest::Response {
    env.http
        .post(admin_url(env, path))
        .json(body)
        .send()
        .await
        .expect("admin request")
}

/// The event `name` of container `idx`.
fn event<'a>(v: &'a Value, idx: usize, name: &str) -> &'a Value {
    container_view(v, idx)["events"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["name"] == name))
        .unwrap_or(&Value::Null)
}

fn count(v: &Value, idx: usize, name: &str) -> u64 {
    event(v, idx, name)["count"].as_u64().unwrap_or(0)
}

fn prov(v: &Value) -> &str {
    v["properties"]["provisioningState"].as_str().unwrap_or("")
}

fn ip(v: &Value) -> String {
    v["properties"]["ipAddress"]["ip"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Seconds between two RFC 3339 timestamps.
fn secs_between(from: &Value, to: &Value) -> f64 {
    let parse = |v: &Value| -> jiff::Timestamp {
        v.as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a timestamp: {v}"))
    };
    (parse(to) - parse(from))
        .total(jiff::Unit::Second)
        .expect("span")
}

fn with_image(image: &str) -> Value {
    let mut body = group_body(&[], "Always");
    body["properties"]["containers"][0]["properties"]["image"] = json!(image);
    body
}

fn public(mut body: Value) -> Value {
    body["properties"]["containers"][0]["properties"]["ports"] = json!([{"port": 80}]);
    body["properties"]["ipAddress"] = json!({"type": "Public", "ports": [{"port": 80}]});
    body
}

async fn expect_transitioning(env: &Env, name: &str, body: &Value) {
    let r = env.put(name, body).await;
    assert_eq!(r.status(), 409);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "ContainerGroupTransitioning", "{v}");
    assert_eq!(
        v["error"]["message"],
        format!("The container group '{name}' is still transitioning, please retry later.")
    );
}

#[tokio::test(start_paused = true)]
async fn an_image_that_cannot_be_pulled_is_retried_three_times_before_the_deployment_fails() {
    // ACI's defaults, with every pull taking 5 s.
    let env = start_paused_with(Emulator::builder().pull_delay(Duration::from_secs(5))).await;
    let r = admin_post(
        &env,
        "images/failing-pulls",
        &json!({"pattern": "registry.example/app"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let image = "registry.example/app:1";
    // The PUT is accepted: the image fails when it is pulled.
    let r = env.put("no-pull", &with_image(image)).await;
    assert_eq!(r.status(), 201);
    let op_url = r.headers()["azure-asyncoperation"]
        .to_str()
        .expect("header")
        .to_owned();
    let v = env
        .wait_group_within("no-pull", BUDGET, |v| prov(v) == "Failed")
        .await;
    assert_eq!(state(&v), "Failed");
    assert_eq!(container_view(&v, 0)["currentState"]["state"], "Waiting");
    let pulling = event(&v, 0, "Pulling");
    assert_eq!(pulling["count"], 3, "{v}");
    assert_eq!(pulling["type"], "Normal");
    assert_eq!(pulling["message"], format!("pulling image \"{image}\""));
    let failed = event(&v, 0, "Failed");
    assert_eq!(failed["count"], 3, "{v}");
    assert_eq!(failed["type"], "Warning");
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!("Failed to pull image \"{image}\": ")),
        "{message}"
    );
    let backoff = event(&v, 0, "BackOff");
    assert_eq!(backoff["count"], 3, "{v}");
    assert_eq!(
        backoff["message"],
        format!("Back-off pulling image \"{image}\"")
    );
    // Attempts 5 s each, 10 s then 20 s of back-off between them.
    assert_eq!(
        secs_between(&failed["firstTimestamp"], &failed["lastTimestamp"]),
        40.0
    );
    let (_, op) = env.get_json(&op_url).await;
    assert_eq!(op["status"], "Failed");
    assert_eq!(op["error"]["code"], "InaccessibleImage");
    assert_eq!(
        op["error"]["message"],
        format!(
            "The image '{image}' in container group 'no-pull' is not accessible. Please check the image and registry credential."
        )
    );
}

#[tokio::test(start_paused = true)]
async fn pull_attempts_and_back_off_are_configurable() {
    let env = start_paused_with(
        Emulator::builder()
            .fast()
            .pull_attempts(1)
            .pull_backoff(Duration::from_secs(2)),
    )
    .await;
    env.emu.admin().fail_image_pulls("registry.example/");
    let r = env
        .put("one-try", &with_image("registry.example/app:1"))
        .await;
    assert_eq!(r.status(), 201);
    let v = env
        .wait_group_within("one-try", BUDGET, |v| prov(v) == "Failed")
        .await;
    assert_eq!(count(&v, 0, "Failed"), 1, "{v}");
    // Later attempts back off 2 s, then 4 s.
    let v = env
        .wait_group_within("one-try", BUDGET, |v| count(v, 0, "Failed") >= 3)
        .await;
    let failed = event(&v, 0, "Failed");
    assert_eq!(
        secs_between(&failed["firstTimestamp"], &failed["lastTimestamp"]),
        6.0
    );
}

#[tokio::test]
async fn binary_flags_set_pull_retries_and_transient_not_found() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_aci-emulator"))
        .args([
            "--fast",
            "--pull-attempts=1",
            // With three attempts the deployment would take ten minutes to fail.
            "--pull-backoff-ms=600000",
            "--transient-not-found-after-put-ms=600000",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let base = tokio::io::BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .expect("read")
        .expect("a URL line");
    let http = client();
    let token = get_token(&http, &base).await;
    let r = http
        .post(format!("{base}/_emulator/images/failing-pulls"))
        .json(&json!({"pattern": "registry.example/"}))
        .send()
        .await
        .expect("admin");
    assert_eq!(r.status(), 201);
    let url = format!(
        "{base}/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerInstance/containerGroups/flags?api-version={API}"
    );
    let r = http
        .put(&url)
        .bearer_auth(&token)
        .json(&with_image("registry.example/app:1"))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 201);
    // ARM does not show it yet.
    let r = http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 404);
    let mut last = Value::Null;
    for _ in 0..500 {
        last = http
            .get(format!("{base}/_emulator/groups"))
            .send()
            .await
            .expect("groups")
            .json()
            .await
            .expect("json");
        if last[0]["provisioning_state"] == "Failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(last[0]["provisioning_state"], "Failed", "{last}");
    child.kill().await.expect("kill");
}

#[tokio::test(start_paused = true)]
async fn a_failed_group_keeps_pulling_and_runs_once_the_image_is_pullable() {
    let env = start_paused_with(Emulator::builder().pull_delay(Duration::from_secs(5))).await;
    let admin = env.emu.admin();
    admin.fail_image_pulls("registry.example/app");
    let image = "registry.example/app:1";
    assert_eq!(
        env.put("keeps-trying", &with_image(image)).await.status(),
        201
    );
    env.wait_group_within("keeps-trying", BUDGET, |v| prov(v) == "Failed")
        .await;
    // The pulls go on, backing off 40 s, then 80 s.
    let v = env
        .wait_group_within("keeps-trying", BUDGET, |v| count(v, 0, "Failed") >= 5)
        .await;
    assert_eq!(prov(&v), "Failed");
    assert_eq!(count(&v, 0, "Pulling"), 5);
    let failed = event(&v, 0, "Failed");
    assert_eq!(
        secs_between(&failed["firstTimestamp"], &failed["lastTimestamp"]),
        10.0 + 5.0 + 20.0 + 5.0 + 40.0 + 5.0 + 80.0 + 5.0
    );
    // The registry recovers: the next attempt pulls and the group runs.
    let r = admin_post(
        &env,
        "images/pullable",
        &json!({"pattern": "registry.example/app"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["removed"], true);
    let v = env
        .wait_group_within("keeps-trying", BUDGET, |v| {
            prov(v) == "Succeeded" && state(v) == "Running"
        })
        .await;
    let c = container_view(&v, 0);
    assert_eq!(c["currentState"]["state"], "Running");
    assert_eq!(c["restartCount"], 0);
    assert_eq!(count(&v, 0, "Pulled"), 1);
}

#[tokio::test(start_paused = true)]
async fn stopping_a_failed_group_ends_its_pull_retries() {
    let env = start_paused_with(Emulator::builder().pull_delay(Duration::from_secs(5))).await;
    env.emu.admin().fail_image_pulls("registry.example/");
    assert_eq!(
        env.put("stop-me", &with_image("registry.example/app:1"))
            .await
            .status(),
        201
    );
    env.wait_group_within("stop-me", BUDGET, |v| prov(v) == "Failed")
        .await;
    let r = env.post(&env.action_url("stop-me", "stop"), None).await;
    assert_eq!(r.status(), 204);
    let before = env.group("stop-me").await;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let after = env.group("stop-me").await;
    assert_eq!(state(&after), "Stopped");
    assert_eq!(
        count(&after, 0, "Pulling"),
        count(&before, 0, "Pulling"),
        "{after}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_platform_restart_restarts_every_container_and_may_change_the_ip() {
    let env = start_paused_with(
        Emulator::builder()
            .fast()
            .start_delay(Duration::from_secs(2)),
    )
    .await;
    let before = env
        .create_running_within("web", &public(group_body(&[], "Always")), BUDGET)
        .await;
    let old_ip = ip(&before);
    let old_start = container_view(&before, 0)["currentState"]["startTime"].clone();
    let r = admin_post(
        &env,
        "groups/web/platform-restart",
        &json!({"new_ip": true}),
    )
    .await;
    assert_eq!(r.status(), 204);
    let v = env.group("web").await;
    assert_eq!(prov(&v), "Repairing");
    expect_transitioning(&env, "web", &public(group_body(&[], "Always"))).await;
    let v = env
        .wait_group_within("web", BUDGET, |v| {
            prov(v) == "Succeeded" && state(v) == "Running"
        })
        .await;
    let c = container_view(&v, 0);
    assert_eq!(c["restartCount"], 1);
    assert_eq!(c["previousState"]["state"], "Terminated");
    assert!(secs_between(&old_start, &c["currentState"]["startTime"]) > 0.0);
    assert_eq!(count(&v, 0, "Killing"), 1);
    assert_eq!(count(&v, 0, "Started"), 2);
    let new_ip = ip(&v);
    assert!(
        new_ip.starts_with("20.") && new_ip != old_ip,
        "{old_ip} → {new_ip}"
    );
    // Without a new IP, through the handle.
    let admin = env.emu.admin();
    admin.platform_restart("web", false).expect("restart");
    let v = env
        .wait_group_within("web", BUDGET, |v| {
            prov(v) == "Succeeded" && container_view(v, 0)["restartCount"] == 2
        })
        .await;
    assert_eq!(ip(&v), new_ip);
    // A group in a virtual network gets a new private address.
    let mut inside = group_body(&[], "Always");
    inside["properties"]["subnetIds"] = json!([{"id": SUBNET}]);
    let v = env.create_running_within("inside", &inside, BUDGET).await;
    let private = ip(&v);
    admin.platform_restart("inside", true).expect("restart");
    let v = env
        .wait_group_within("inside", BUDGET, |v| {
            prov(v) == "Succeeded" && container_view(v, 0)["restartCount"] == 1
        })
        .await;
    assert!(ip(&v).starts_with("10.") && ip(&v) != private, "{v}");
    // Unknown groups.
    assert!(matches!(
        admin.platform_restart("missing", true),
        Err(EmulatorError::NoSuchGroup(_))
    ));
    let r = admin_post(&env, "groups/missing/platform-restart", &json!({})).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test(start_paused = true)]
async fn a_platform_restart_reruns_never_containers_that_failed_but_not_those_that_succeeded() {
    let env = start_paused_with(Emulator::builder().fast()).await;
    let mut body = group_body(&["exit", "1"], "Never");
    body["properties"]["containers"][0]["name"] = json!("bad");
    let mut good = body["properties"]["containers"][0].clone();
    good["name"] = json!("good");
    good["properties"]["command"] = json!(["true"]);
    body["properties"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(good);
    assert_eq!(env.put("once", &body).await.status(), 201);
    let before = env
        .wait_group_within("once", BUDGET, |v| state(v) == "Failed")
        .await;
    let good_finish = container_view(&before, 1)["currentState"]["finishTime"].clone();
    env.emu
        .admin()
        .platform_restart("once", false)
        .expect("restart");
    let v = env
        .wait_group_within("once", BUDGET, |v| {
            prov(v) == "Succeeded"
                && container_view(v, 0)["restartCount"] == 1
                && container_view(v, 0)["currentState"]["state"] == "Terminated"
        })
        .await;
    assert_eq!(state(&v), "Failed");
    let bad = container_view(&v, 0);
    assert_eq!(bad["currentState"]["exitCode"], 1);
    assert_eq!(count(&v, 0, "Started"), 2);
    let good = container_view(&v, 1);
    assert_eq!(good["restartCount"], 0);
    assert_eq!(good["currentState"]["exitCode"], 0);
    assert_eq!(good["currentState"]["finishTime"], good_finish);
    assert_eq!(count(&v, 1, "Started"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_repaired_group_is_unhealthy_then_repairing_then_runs_again() {
    let env = start_paused_with(Emulator::builder().fast()).await;
    let before = env
        .create_running_within("moved", &public(group_body(&[], "Always")), BUDGET)
        .await;
    let r = admin_post(&env, "groups/moved/repair", &json!({"duration_secs": -1})).await;
    assert_eq!(r.status(), 400);
    let r = admin_post(&env, "groups/moved/repair", &json!({"duration_secs": 60})).await;
    assert_eq!(r.status(), 204);
    let v = env.group("moved").await;
    assert_eq!(prov(&v), "Unhealthy");
    assert_eq!(state(&v), "Running", "the last known state");
    expect_transitioning(&env, "moved", &public(group_body(&[], "Always"))).await;
    tokio::time::sleep(Duration::from_secs(31)).await;
    let v = env.group("moved").await;
    assert_eq!(prov(&v), "Repairing");
    assert_eq!(state(&v), "Pending");
    assert_eq!(container_view(&v, 0)["currentState"]["state"], "Waiting");
    let v = env
        .wait_group_within("moved", BUDGET, |v| {
            prov(v) == "Succeeded" && state(v) == "Running"
        })
        .await;
    assert_eq!(container_view(&v, 0)["restartCount"], 1);
    assert_eq!(ip(&v), ip(&before));
    // A group in a transition is not repaired again.
    env.emu
        .admin()
        .repair("moved", Duration::from_secs(10))
        .expect("repair");
    assert!(matches!(
        env.emu.admin().repair("moved", Duration::from_secs(10)),
        Err(EmulatorError::GroupBusy { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn reads_may_miss_a_new_group_for_a_while_when_turned_on() {
    let env = start_paused_with(Emulator::builder().fast()).await;
    let body = group_body(&[], "Always");
    // Off by default.
    assert_eq!(env.put("seen", &body).await.status(), 201);
    assert_eq!(env.get(&env.cg_url("seen")).await.status(), 200);
    let r = env
        .http
        .put(admin_url(&env, "transient-not-found"))
        .json(&json!({"duration_secs": 5}))
        .send()
        .await
        .expect("admin");
    assert_eq!(r.status(), 200);
    assert_eq!(env.put("unseen", &body).await.status(), 201);
    let (status, v) = env.get_json(&env.cg_url("unseen")).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["code"], "ResourceNotFound");
    let list_url = format!("{}?api-version={API}", env.rg_path(RG));
    let names = |v: &Value| -> Vec<String> {
        v["value"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|g| g["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (_, list) = env.get_json(&list_url).await;
    assert_eq!(names(&list), ["seen"]);
    // An update of an existing group stays visible.
    assert_eq!(env.put("seen", &body).await.status(), 200);
    assert_eq!(env.get(&env.cg_url("seen")).await.status(), 200);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(env.get(&env.cg_url("unseen")).await.status(), 200);
    let (_, list) = env.get_json(&list_url).await;
    assert_eq!(names(&list), ["seen", "unseen"]);
    let r = env
        .http
        .delete(admin_url(&env, "transient-not-found"))
        .send()
        .await
        .expect("admin");
    assert_eq!(r.status(), 204);
    assert_eq!(env.put("later", &body).await.status(), 201);
    assert_eq!(env.get(&env.cg_url("later")).await.status(), 200);
}

#[tokio::test(start_paused = true)]
async fn a_put_on_a_group_that_is_still_deleting_is_refused() {
    let env = start_paused_with(Emulator::builder()).await;
    let body = group_body(&[], "Always");
    env.create_running_within("going", &body, BUDGET).await;
    assert_eq!(env.delete("going").await.status(), 202);
    assert_eq!(prov(&env.group("going").await), "Deleting");
    expect_transitioning(&env, "going", &body).await;
    let r = env.post(&env.action_url("going", "restart"), None).await;
    assert_eq!(r.status(), 409);
    // Gone after the 10 s delete: a PUT creates it anew.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(env.get(&env.cg_url("going")).await.status(), 404);
    assert_eq!(env.put("going", &body).await.status(), 201);
}

#[tokio::test(start_paused = true)]
async fn a_spot_eviction_restarts_a_spot_group_and_is_refused_for_regular_ones() {
    let env = start_paused_with(Emulator::builder().fast()).await;
    let mut spot = group_body(&[], "Always");
    spot["properties"]["priority"] = json!("Spot");
    env.create_running_within("cheap", &spot, BUDGET).await;
    env.create_running_within("regular", &group_body(&[], "Always"), BUDGET)
        .await;
    let r = admin_post(
        &env,
        "groups/regular/spot-evict",
        &json!({"duration_secs": 10}),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert!(matches!(
        env.emu
            .admin()
            .spot_evict("regular", Duration::from_secs(10)),
        Err(EmulatorError::NotSpot(_))
    ));
    let r = admin_post(
        &env,
        "groups/nope/spot-evict",
        &json!({"duration_secs": 10}),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = admin_post(
        &env,
        "groups/cheap/spot-evict",
        &json!({"duration_secs": 20}),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(prov(&env.group("cheap").await), "Unhealthy");
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(prov(&env.group("cheap").await), "Repairing");
    let v = env
        .wait_group_within("cheap", BUDGET, |v| {
            prov(v) == "Succeeded" && state(v) == "Running"
        })
        .await;
    assert_eq!(container_view(&v, 0)["restartCount"], 1);
    assert_eq!(v["properties"]["priority"], "Spot");
}
