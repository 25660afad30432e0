//! Conformance tests of the "Rates, quotas and timings" part of the behaviour
//! catalogue (docs/aci-emulator.md), over raw HTTP: ARM's token buckets and
//! their headers, ACI's create and delete rate quotas, fast mode, the time
//! scale and the realistic delays.
//!
//! Every test runs on a paused tokio clock, so nothing depends on how fast
//! the machine is: with zero delays no timer is pending and the clock stands
//! still between requests (the emulator's buckets and windows run on tokio
//! time); with realistic delays the assertions read the event timestamps,
//! which follow the same clock, so a 20 s pull is 20 s apart exactly.
#![allow(missing_docs)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use vk_aci_emulator::{
    ArmThrottling, Emulator, EmulatorBuilder, Quota, Timings, TokenBucket, WindowLimit,
};

const READS: &str = "x-ms-ratelimit-remaining-subscription-reads";
const WRITES: &str = "x-ms-ratelimit-remaining-subscription-writes";
const DELETES: &str = "x-ms-ratelimit-remaining-subscription-deletes";

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn remaining(r: &reqwest::Response, name: &str) -> u32 {
    header(r, name)
        .unwrap_or_else(|| panic!("no {name} header: {:?}", r.headers()))
        .parse()
        .expect("a number")
}

fn retry_after(r: &reqwest::Response) -> u64 {
    header(r, "retry-after")
        .expect("a Retry-After header")
        .parse()
        .expect("seconds")
}

/// Status, error code and message of an answer.
async fn error(r: reqwest::Response) -> (u16, String, String) {
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

/// No delays (so no timer runs and the paused clock stands still), but
/// throttling and rate quotas at their defaults.
fn zero_delays() -> EmulatorBuilder {
    Emulator::builder().timings(Timings::zero()).quota(Quota {
        container_groups: 1000,
        cores: 1000,
    })
}

fn bucket(capacity: u32, refill_per_sec: u32) -> TokenBucket {
    TokenBucket {
        capacity,
        refill_per_sec,
    }
}

fn body_in(location: &str) -> Value {
    let mut b = group_body(&[], "Always");
    b["location"] = json!(location);
    b
}

#[tokio::test(start_paused = true)]
async fn remaining_request_headers_count_down_per_subscription_principal_and_kind() {
    let env = start_paused_with(zero_delays()).await;
    let missing = env.cg_url("missing");
    for expected in [249, 248, 247] {
        let r = env.get(&missing).await;
        assert_eq!(r.status(), 404);
        assert_eq!(remaining(&r, READS), expected);
        assert!(header(&r, WRITES).is_none() && header(&r, DELETES).is_none());
    }
    let r = env.put("g", &group_body(&[], "Always")).await;
    assert_eq!(r.status(), 201);
    assert_eq!(remaining(&r, WRITES), 199);
    let r = env.delete("g").await;
    assert_eq!(r.status(), 202);
    assert_eq!(remaining(&r, DELETES), 199);
    // Reads kept their own count.
    assert_eq!(remaining(&env.get(&missing).await, READS), 246);

    // Another principal (client id) has its own buckets...
    let other = get_token_for(&env, "other-app").await;
    let r = env
        .http
        .get(&missing)
        .bearer_auth(&other)
        .send()
        .await
        .expect("get");
    assert_eq!(remaining(&r, READS), 249);
    // ... and so has another subscription.
    let elsewhere = format!(
        "{}/subscriptions/00000000-0000-0000-0000-000000000002/resourceGroups/{RG}/providers/Microsoft.ContainerInstance/containerGroups/missing?api-version={API}",
        env.base
    );
    assert_eq!(remaining(&env.get(&elsewhere).await, READS), 249);
    // A request without a subscription counts against the tenant.
    let ops = format!(
        "{}/providers/Microsoft.ContainerInstance/operations?api-version={API}",
        env.base
    );
    let r = env.get(&ops).await;
    assert_eq!(r.status(), 200);
    assert_eq!(remaining(&r, "x-ms-ratelimit-remaining-tenant-reads"), 249);

    // Token and admin endpoints are not ARM: not throttled, no header, no token taken.
    let r = env
        .http
        .get(format!("{}/_emulator/groups", env.base))
        .send()
        .await
        .expect("admin");
    assert!(header(&r, READS).is_none());
    let _ = get_token(&env.http, &env.base).await;
    // Nor are unauthenticated requests (refused before ARM throttles).
    let r = env.http.get(&missing).send().await.expect("get");
    assert_eq!(r.status(), 401);
    assert!(header(&r, READS).is_none());
    assert_eq!(remaining(&env.get(&missing).await, READS), 245);

    // The admin API shows the buckets.
    let (status, state) = env
        .get_json(&format!("{}/_emulator/throttle", env.base))
        .await;
    assert_eq!(status, 200);
    let find = |principal: &str, kind: &str| {
        state["buckets"]
            .as_array()
            .expect("buckets")
            .iter()
            .find(|b| b["principal"] == principal && b["kind"] == kind && b["scope"] == SUB)
            .cloned()
            .unwrap_or_else(|| panic!("no {principal} {kind} bucket: {state}"))
    };
    assert_eq!(find("app", "reads")["remaining"], 245);
    assert_eq!(find("app", "reads")["capacity"], 250);
    assert_eq!(find("app", "reads")["refill_per_sec"], 25);
    assert_eq!(find("app", "writes")["remaining"], 199);
    assert_eq!(find("app", "deletes")["remaining"], 199);
    assert_eq!(find("other-app", "reads")["remaining"], 249);
    assert_eq!(state["arm_throttling"], true);
}

async fn get_token_for(env: &Env, client_id: &str) -> String {
    let r = env
        .http
        .post(format!("{}/t/oauth2/v2.0/token", env.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", "s"),
            ("scope", "https://management.azure.com/.default"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    v["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test(start_paused = true)]
async fn the_default_read_bucket_holds_250_requests() {
    let env = start_paused_with(zero_delays()).await;
    let missing = env.cg_url("missing");
    for expected in (0..250).rev() {
        let r = env.get(&missing).await;
        assert_eq!(r.status(), 404);
        assert_eq!(remaining(&r, READS), expected);
    }
    let r = env.get(&missing).await;
    assert_eq!(r.status(), 429);
    // 25 tokens a second: the next one is back within the second.
    assert_eq!(retry_after(&r), 1);
    // A second later 25 reads pass, the 26th does not.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for expected in (0..25).rev() {
        assert_eq!(remaining(&env.get(&missing).await, READS), expected);
    }
    assert_eq!(env.get(&missing).await.status(), 429);
}

#[tokio::test(start_paused = true)]
async fn an_empty_bucket_answers_429_with_retry_after_until_a_token_is_back() {
    let env = start_paused_with(zero_delays().arm_throttling(ArmThrottling {
        reads: bucket(3, 1),
        writes: bucket(1, 1),
        ..ArmThrottling::default()
    }))
    .await;
    let missing = env.cg_url("missing");
    for expected in [2, 1, 0] {
        assert_eq!(remaining(&env.get(&missing).await, READS), expected);
    }
    let r = env.get(&missing).await;
    assert_eq!(r.status(), 429);
    assert_eq!(retry_after(&r), 1);
    assert_eq!(remaining(&r, READS), 0);
    let (_, code, message) = error(r).await;
    assert_eq!(code, "SubscriptionRequestsThrottled");
    assert_eq!(
        message,
        format!(
            "Number of 'read' requests for subscription '{SUB}' actor 'app' exceeded. Please try again after '1' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information."
        )
    );
    // Writes have their own bucket; a throttled write never reaches ACI.
    assert_eq!(env.put("a", &group_body(&[], "Always")).await.status(), 201);
    let r = env.put("b", &group_body(&[], "Always")).await;
    assert_eq!(r.status(), 429);
    let (_, code, message) = error(r).await;
    assert_eq!(code, "SubscriptionRequestsThrottled");
    assert!(
        message.starts_with("Number of 'write' requests"),
        "{message}"
    );
    let names: Vec<String> = env
        .emu
        .admin()
        .groups()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["a"]);

    // One second later one read token is back, and only one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let r = env.get(&missing).await;
    assert_eq!(r.status(), 404);
    assert_eq!(remaining(&r, READS), 0);
    assert_eq!(env.get(&missing).await.status(), 429);

    // Counters: per operation and status, and per limit.
    let admin = env.emu.admin();
    assert_eq!(admin.count_status("get", 429), 2);
    assert_eq!(admin.count_status("create", 429), 1);
    let t = admin.throttle();
    assert_eq!((t.throttled.arm_reads, t.throttled.arm_writes), (2, 1));
    // Resetting refills the buckets.
    admin.reset_throttle();
    assert_eq!(remaining(&env.get(&missing).await, READS), 2);
    assert_eq!(admin.throttle().throttled.arm_reads, 0);
}

#[tokio::test(start_paused = true)]
async fn creates_beyond_the_rate_quota_are_refused_until_the_oldest_leaves_the_window() {
    let env = start_paused_with(
        Emulator::builder()
            .fast()
            .create_limits([WindowLimit::new(3, Duration::from_secs(2))]),
    )
    .await;
    for name in ["g1", "g2", "g3"] {
        assert_eq!(
            env.put(name, &group_body(&[], "Always")).await.status(),
            201
        );
    }
    let r = env.put("g4", &group_body(&[], "Always")).await;
    assert_eq!(r.status(), 429);
    assert_eq!(retry_after(&r), 2);
    let (_, code, message) = error(r).await;
    assert_eq!(code, "ResourceRequestsThrottled");
    assert_eq!(
        message,
        "Number of requests for action 'Microsoft.ContainerInstance/containerGroups/write' exceeded the limit of '3' for time interval '00:00:02'. Please try again after '2' seconds."
    );
    // The refused PUT created nothing, and counted nothing.
    assert_eq!(env.get(&env.cg_url("g4")).await.status(), 404);
    let (_, state) = env
        .get_json(&format!("{}/_emulator/throttle", env.base))
        .await;
    assert_eq!(state["actions"][0]["action"], "create");
    assert_eq!(state["actions"][0]["windows"][0]["used"], 3);
    assert_eq!(state["actions"][0]["windows"][0]["window_ms"], 2000);
    assert_eq!(state["throttled"]["aci_creates"], 1);
    // Updating an existing group is not a create.
    assert_eq!(
        env.put("g1", &group_body(&[], "Always")).await.status(),
        200
    );
    // Another region has its own window.
    assert_eq!(env.put("east", &body_in("eastus")).await.status(), 201);

    tokio::time::sleep(Duration::from_secs(1)).await;
    let r = env.put("g4", &group_body(&[], "Always")).await;
    assert_eq!(r.status(), 429);
    assert_eq!(retry_after(&r), 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        env.put("g4", &group_body(&[], "Always")).await.status(),
        201
    );
    assert_eq!(env.emu.admin().throttle().throttled.aci_creates, 2);
}

#[tokio::test(start_paused = true)]
async fn deletes_beyond_the_rate_quota_are_refused_and_the_group_stays() {
    let env = start_paused_with(
        Emulator::builder()
            .fast()
            .delete_limits([WindowLimit::new(2, Duration::from_secs(2))]),
    )
    .await;
    for name in ["d1", "d2", "d3"] {
        assert_eq!(
            env.put(name, &group_body(&[], "Always")).await.status(),
            201
        );
    }
    assert_eq!(env.delete("d1").await.status(), 202);
    assert_eq!(env.delete("d2").await.status(), 202);
    let r = env.delete("d3").await;
    assert_eq!(r.status(), 429);
    assert_eq!(retry_after(&r), 2);
    let (_, code, message) = error(r).await;
    assert_eq!(code, "ResourceRequestsThrottled");
    assert_eq!(
        message,
        "Number of requests for action 'Microsoft.ContainerInstance/containerGroups/delete' exceeded the limit of '2' for time interval '00:00:02'. Please try again after '2' seconds."
    );
    assert_eq!(env.get(&env.cg_url("d3")).await.status(), 200);
    // Deleting a group that does not exist deletes nothing: 204, not counted.
    assert_eq!(env.delete("never-was").await.status(), 204);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(env.delete("d3").await.status(), 202);
    assert_eq!(env.get(&env.cg_url("d3")).await.status(), 404);
    assert_eq!(env.emu.admin().throttle().throttled.aci_deletes, 1);
}

#[tokio::test(start_paused = true)]
async fn the_default_create_quota_is_100_per_5_minutes_and_300_per_hour() {
    let env = start_paused_with(zero_delays()).await;
    let mut n = 0;
    let mut create = async || {
        n += 1;
        env.put(&format!("q{n}"), &group_body(&[], "Always")).await
    };
    for _ in 0..100 {
        assert_eq!(create().await.status(), 201);
    }
    let r = create().await;
    assert_eq!(r.status(), 429);
    assert_eq!(retry_after(&r), 300);
    let (_, _, message) = error(r).await;
    assert!(
        message.contains("the limit of '100' for time interval '00:05:00'"),
        "{message}"
    );
    // Two more 5-minute batches fill the hour.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_secs(300)).await;
        for _ in 0..100 {
            assert_eq!(create().await.status(), 201);
        }
    }
    tokio::time::sleep(Duration::from_secs(300)).await;
    let r = create().await;
    assert_eq!(r.status(), 429);
    // The first batch leaves the hour 15 minutes after it came.
    assert_eq!(retry_after(&r), 3600 - 900);
    let (_, _, message) = error(r).await;
    assert!(
        message.contains("the limit of '300' for time interval '01:00:00'"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn fast_mode_never_throttles() {
    let env = start_paused_with(Emulator::builder().fast().quota(Quota {
        container_groups: 1000,
        cores: 1000,
    }))
    .await;
    let missing = env.cg_url("missing");
    for _ in 0..300 {
        let r = env.get(&missing).await;
        assert_eq!(r.status(), 404);
        // The headers show a full bucket.
        assert_eq!(remaining(&r, READS), 250);
    }
    for i in 0..150 {
        let r = env.put(&format!("f{i}"), &group_body(&[], "Always")).await;
        assert_eq!(r.status(), 201);
    }
    for i in 0..150 {
        assert_eq!(env.delete(&format!("f{i}")).await.status(), 202);
    }
    let t = env.emu.admin().throttle();
    assert!(!t.arm_throttling && !t.rate_quotas);
    assert_eq!(t.throttled, Default::default());
    assert!(env.emu.admin().groups().is_empty(), "deleted at once");
}

/// Seconds between two RFC 3339 timestamps.
fn secs_between(from: &Value, to: &Value) -> f64 {
    let parse = |v: &Value| -> jiff::Timestamp {
        v.as_str()
            .unwrap_or_else(|| panic!("not a timestamp: {v}"))
            .parse()
            .expect("RFC 3339")
    };
    (parse(to) - parse(from))
        .total(jiff::Unit::Second)
        .expect("seconds")
}

/// The first timestamp of the container's event `name`.
fn event_time<'a>(group: &'a Value, name: &str) -> &'a Value {
    container_view(group, 0)["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["name"] == name)
        .map(|e| &e["firstTimestamp"])
        .unwrap_or_else(|| panic!("no {name} event: {group}"))
}

/// Creates a one-container group of `image` and waits (paused clock) until it
/// runs; returns the group and the start time of its create operation.
async fn run_image(env: &Env, name: &str, os: &str, image: &str) -> (Value, Value) {
    let mut body = group_body(&[], "Always");
    body["properties"]["osType"] = json!(os);
    body["properties"]["containers"][0]["properties"]["image"] = json!(image);
    let r = env.put(name, &body).await;
    assert_eq!(r.status(), 201);
    let op_url = header(&r, "azure-asyncoperation").expect("operation URL");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["properties"]["provisioningState"], "Pending");
    let group = env
        .wait_group_within(name, Duration::from_secs(600), |v| state(v) == "Running")
        .await;
    let (_, op) = env.get_json(&op_url).await;
    assert_eq!(op["status"], "Succeeded", "{op}");
    (group, op["startTime"].clone())
}

struct Observed {
    provisioning: f64,
    pull: f64,
    start: f64,
}

async fn observe(env: &Env, name: &str, os: &str, image: &str) -> Observed {
    let (g, created_at) = run_image(env, name, os, image).await;
    Observed {
        provisioning: secs_between(&created_at, event_time(&g, "Pulling")),
        pull: secs_between(event_time(&g, "Pulling"), event_time(&g, "Pulled")),
        start: secs_between(event_time(&g, "Created"), event_time(&g, "Started")),
    }
}

fn within(what: &str, value: f64, min: f64, max: f64) {
    // Timer granularity is a millisecond.
    assert!(
        value >= min - 0.002 && value <= max + 0.002,
        "{what}: {value} s is not within {min}..={max} s"
    );
}

#[tokio::test(start_paused = true)]
async fn realistic_delays_depend_on_the_image_and_the_os() {
    let env = start_paused_with(Emulator::builder()).await;
    let cached = observe(&env, "cached", "Linux", "alpine:3.20").await;
    within("provisioning", cached.provisioning, 30.0, 30.0);
    within("cached image pull", cached.pull, 2.0, 5.0);
    within("Linux start", cached.start, 1.0, 1.0);
    // The list's names match however the reference is spelled.
    let spelled = observe(&env, "spelled", "Linux", "docker.io/library/alpine:3.20").await;
    within("cached image pull", spelled.pull, 2.0, 5.0);

    let linux = observe(&env, "linux", "Linux", "busybox:1.36").await;
    within("Linux image pull", linux.pull, 15.0, 30.0);
    // The same image always takes the same time.
    let again = observe(&env, "linux-again", "Linux", "busybox:1.36").await;
    assert!(
        (again.pull - linux.pull).abs() < 0.002,
        "{} vs {}",
        again.pull,
        linux.pull
    );

    let windows = observe(
        &env,
        "windows",
        "Windows",
        "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2019",
    )
    .await;
    within("Windows image pull", windows.pull, 120.0, 240.0);
    within("Windows start", windows.start, 15.0, 15.0);
    let cached_windows = observe(
        &env,
        "windows-cached",
        "Windows",
        "mcr.microsoft.com/windows/servercore:ltsc2022",
    )
    .await;
    within("cached Windows image pull", cached_windows.pull, 2.0, 5.0);
}

#[tokio::test(start_paused = true)]
async fn a_deleted_group_stays_deleting_then_goes_away_asynchronously() {
    let env = start_paused_with(Emulator::builder()).await;
    run_image(&env, "bye", "Linux", "alpine:3.20").await;
    let r = env.delete("bye").await;
    assert_eq!(r.status(), 202);
    let op_url = header(&r, "azure-asyncoperation").expect("operation URL");
    // In-process, without a request the paused clock could advance over.
    let groups = env.emu.admin().groups();
    assert_eq!(groups[0].provisioning_state, "Deleting");
    let mut op = Value::Null;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        op = env.get_json(&op_url).await.1;
        if op["status"] != "InProgress" {
            break;
        }
    }
    assert_eq!(op["status"], "Succeeded", "{op}");
    within(
        "delete",
        secs_between(&op["startTime"], &op["endTime"]),
        10.0,
        10.0,
    );
    assert_eq!(env.get(&env.cg_url("bye")).await.status(), 404);
}

#[tokio::test(start_paused = true)]
async fn the_time_scale_divides_delays_windows_and_refills() {
    let env = start_paused_with(Emulator::builder().time_scale(10.0)).await;
    let linux = observe(&env, "scaled", "Linux", "busybox:1.36").await;
    within("provisioning", linux.provisioning, 3.0, 3.0);
    within("Linux image pull", linux.pull, 1.5, 3.0);
    within("Linux start", linux.start, 0.1, 0.1);

    // Windows and refills, without delays so the clock stands still.
    let env = start_paused_with(
        zero_delays()
            .time_scale(10.0)
            .create_limits([WindowLimit::new(1, Duration::from_secs(20))])
            .arm_throttling(ArmThrottling {
                reads: bucket(1, 1),
                ..ArmThrottling::default()
            }),
    )
    .await;
    assert_eq!(
        env.put("w1", &group_body(&[], "Always")).await.status(),
        201
    );
    let r = env.put("w2", &group_body(&[], "Always")).await;
    assert_eq!(r.status(), 429);
    assert_eq!(retry_after(&r), 2);
    let (_, _, message) = error(r).await;
    assert!(message.contains("time interval '00:00:02'"), "{message}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        env.put("w2", &group_body(&[], "Always")).await.status(),
        201
    );

    let missing = env.cg_url("missing");
    assert_eq!(env.get(&missing).await.status(), 404);
    let r = env.get(&missing).await;
    assert_eq!(r.status(), 429);
    // A tenth of a second, rounded up to the header's whole seconds.
    assert_eq!(retry_after(&r), 1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(env.get(&missing).await.status(), 404);
}

#[tokio::test]
async fn a_time_scale_must_be_positive() {
    for bad in [0.0, -1.0, f64::NAN] {
        let err = Emulator::builder()
            .time_scale(bad)
            .start("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("time_scale"), "{err}");
    }
}

/// The binary's flags reach the limits (a time scale of 0.01 makes a refill
/// take 100 s, so nothing refills during the test).
#[tokio::test]
async fn binary_flags_set_the_limits() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_aci-emulator"))
        .args([
            "--time-scale=0.01",
            "--arm-read-bucket=2",
            "--creates-per-5-minutes=1",
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
    let url = |name: &str| {
        format!(
            "{base}/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerInstance/containerGroups/{name}?api-version={API}"
        )
    };
    for expected in [1, 0] {
        let r = http
            .get(url("missing"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get");
        assert_eq!(remaining(&r, READS), expected);
    }
    let r = http
        .get(url("missing"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 429);
    let put = |name: &'static str| {
        http.put(url(name))
            .bearer_auth(&token)
            .json(&group_body(&[], "Always"))
            .send()
    };
    assert_eq!(put("a").await.expect("put").status(), 201);
    let (status, code, message) = error(put("b").await.expect("put")).await;
    assert_eq!((status, code.as_str()), (429, "ResourceRequestsThrottled"));
    // Five minutes at a time scale of 0.01.
    assert!(
        message.contains("the limit of '1' for time interval '08:20:00'"),
        "{message}"
    );
    child.kill().await.expect("kill");
}
