//! Azure Monitor's `metrics:getBatch` for container groups: usage from what the
//! containers do, per container, Linux only, batch rules, token audience.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Env, RG, SUB, group_body, start, start_with};
use serde_json::{Value, json};
use vk_aci_emulator::{Emulator, IDLE_MEMORY_BYTES};

async fn metrics_token(env: &Env) -> String {
    let resp = env
        .http
        .post(format!("{}/my-tenant/oauth2/v2.0/token", env.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", "s3cret"),
            ("scope", "https://metrics.monitor.azure.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

fn id(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerInstance/containerGroups/{name}"
    )
}

async fn batch(env: &Env, token: &str, query: &str, ids: &[String]) -> (u16, Value) {
    let resp = env
        .http
        .post(format!(
            "{}/subscriptions/{SUB}/metrics:getBatch?{query}",
            env.base
        ))
        .bearer_auth(token)
        .json(&json!({ "resourceids": ids }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

const QUERY: &str = "metricnamespace=Microsoft.ContainerInstance/containerGroups&metricnames=CpuUsage,MemoryUsage&aggregation=average,maximum&interval=PT1M&filter=containerName%20eq%20%27*%27&api-version=2023-10-01";

fn two_containers() -> Value {
    let mut body = group_body(
        &[
            "consume",
            "--cpu-millicores",
            "250",
            "--memory-bytes",
            "104857600",
        ],
        "Always",
    );
    let idle = json!({"name": "idle", "properties": {"image": "busybox",
        "resources": {"requests": {"cpu": 0.5, "memoryInGB": 0.5}}}});
    body["properties"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(idle);
    body
}

/// The latest value of `metric` for `container` in one resource's answer.
fn latest(resource: &Value, metric: &str, container: &str, aggregation: &str) -> Option<f64> {
    let m = resource["value"]
        .as_array()?
        .iter()
        .find(|m| m["name"]["value"] == metric)?;
    let series = m["timeseries"].as_array()?.iter().find(|s| {
        s["metadatavalues"][0]["value"] == container
            && s["metadatavalues"][0]["name"]["value"] == "containername"
    })?;
    series["data"].as_array()?.last()?[aggregation].as_f64()
}

#[tokio::test]
async fn usage_follows_what_each_container_does() {
    let env = start().await;
    env.create_running("busy", &two_containers()).await;
    let token = metrics_token(&env).await;
    let (status, v) = batch(&env, &token, QUERY, &[id("busy")]).await;
    assert_eq!(status, 200, "{v}");
    let r = &v["values"][0];
    assert_eq!(r["resourceid"], id("busy"));
    assert_eq!(
        r["namespace"],
        "microsoft.containerinstance/containergroups"
    );
    assert_eq!(r["resourceregion"], "westus");
    assert_eq!(r["interval"], "PT1M");
    assert_eq!(latest(r, "CpuUsage", "main", "average"), Some(250.0));
    assert_eq!(latest(r, "CpuUsage", "main", "maximum"), Some(250.0));
    assert_eq!(
        latest(r, "MemoryUsage", "main", "average"),
        Some(104_857_600.0)
    );
    assert_eq!(latest(r, "CpuUsage", "idle", "average"), Some(0.0));
    assert_eq!(
        latest(r, "MemoryUsage", "idle", "average"),
        Some(IDLE_MEMORY_BYTES as f64)
    );
    let cpu = &r["value"][0];
    assert_eq!(cpu["unit"], "Count");
    assert_eq!(cpu["errorCode"], "Success");
    // Without the containerName filter: one series, the group's total.
    let (_, v) = batch(
        &env,
        &token,
        "metricnamespace=Microsoft.ContainerInstance/containerGroups&metricnames=CpuUsage&api-version=2023-10-01",
        &[id("busy")],
    )
    .await;
    let series = v["values"][0]["value"][0]["timeseries"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(
        series[0]["data"].as_array().unwrap().last().unwrap()["average"],
        250.0
    );
    // Stopped: no more values.
    env.post(&env.action_url("busy", "stop"), None).await;
    let (_, v) = batch(&env, &token, QUERY, &[id("busy")]).await;
    assert_eq!(latest(&v["values"][0], "CpuUsage", "main", "average"), None);
}

#[tokio::test]
async fn windows_groups_have_no_metrics() {
    let env = start().await;
    let mut body = group_body(&[], "Always");
    body["properties"]["osType"] = json!("Windows");
    body["properties"]["containers"][0]["properties"]["image"] =
        json!("mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022");
    env.create_running("win", &body).await;
    env.create_running("lin", &two_containers()).await;
    let token = metrics_token(&env).await;
    let (status, v) = batch(&env, &token, QUERY, &[id("win"), id("lin")]).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["values"].as_array().unwrap().len(), 2);
    for m in v["values"][0]["value"].as_array().unwrap() {
        assert_eq!(m["timeseries"], json!([]), "{m}");
    }
    assert_eq!(
        latest(&v["values"][1], "CpuUsage", "main", "average"),
        Some(250.0)
    );
}

#[tokio::test]
async fn the_batch_rules_and_the_token_audience_are_enforced() {
    let env = start().await;
    env.create_running("busy", &two_containers()).await;
    let token = metrics_token(&env).await;
    // An ARM token is for another audience, and the metrics token is refused by ARM.
    let (status, v) = batch(&env, &env.token, QUERY, &[id("busy")]).await;
    assert_eq!(status, 401);
    assert_eq!(v["error"]["code"], "InvalidAuthenticationTokenAudience");
    let resp = env
        .http
        .get(format!("{}?api-version=2023-05-01", env.cg_url("busy")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // At most 50 resources, one subscription, known metrics, the lower-case key.
    let many: Vec<String> = (0..51).map(|i| id(&format!("g{i}"))).collect();
    let (status, v) = batch(&env, &token, QUERY, &many).await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("50"),
        "{v}"
    );
    let other = "/subscriptions/00000000-0000-0000-0000-000000000009/resourceGroups/rg1/providers/Microsoft.ContainerInstance/containerGroups/x".to_owned();
    let (status, v) = batch(&env, &token, QUERY, &[other]).await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("same subscription")
    );
    let (status, v) = batch(
        &env,
        &token,
        &QUERY.replace("CpuUsage,MemoryUsage", "CpuPercentage"),
        &[id("busy")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Valid metrics: CpuUsage")
    );
    let (status, _) = batch(&env, &token, &QUERY.replace("PT1M", "PT2M"), &[id("busy")]).await;
    assert_eq!(status, 400);
    let resp = env
        .http
        .post(format!(
            "{}/subscriptions/{SUB}/metrics:getBatch?{QUERY}",
            env.base
        ))
        .bearer_auth(&token)
        .json(&json!({ "resourceIds": [id("busy")] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(env.emu.admin().count_status("metrics_batch", 400), 5);
}

#[tokio::test]
async fn a_minute_is_served_only_after_the_latency() {
    let env = start_with(
        Emulator::builder()
            .fast()
            .metrics_latency(Duration::from_secs(600)),
    )
    .await;
    env.create_running("busy", &two_containers()).await;
    let token = metrics_token(&env).await;
    let now = jiff::Timestamp::now();
    let start = now - jiff::SignedDuration::from_mins(20);
    let query = format!(
        "{QUERY}&starttime={}&endtime={}",
        start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        now.strftime("%Y-%m-%dT%H:%M:%SZ")
    );
    let (status, v) = batch(&env, &token, &query, &[id("busy")]).await;
    assert_eq!(status, 200, "{v}");
    let series = &v["values"][0]["value"][0]["timeseries"][0]["data"];
    let points = series.as_array().unwrap();
    // 20 minutes asked, the last 10 not served yet.
    assert!((10..=11).contains(&points.len()), "{}", points.len());
    let last: jiff::Timestamp = points.last().unwrap()["timeStamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(last <= now - jiff::SignedDuration::from_mins(10));
}

#[tokio::test]
async fn the_batch_api_spends_the_read_bucket() {
    let env = start_with(Emulator::builder().fast().arm_throttling(
        vk_aci_emulator::ArmThrottling {
            enabled: true,
            reads: vk_aci_emulator::TokenBucket {
                capacity: 2,
                refill_per_sec: 0,
            },
            ..vk_aci_emulator::ArmThrottling::default()
        },
    ))
    .await;
    let token = metrics_token(&env).await;
    for _ in 0..2 {
        let (status, v) = batch(&env, &token, QUERY, &[id("nothing")]).await;
        assert_eq!(status, 200, "{v}");
    }
    let (status, v) = batch(&env, &token, QUERY, &[id("nothing")]).await;
    assert_eq!(status, 429, "{v}");
    assert_eq!(v["error"]["code"], "SubscriptionRequestsThrottled");
}
