//! Shared helpers of the integration tests.
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod schema;

use std::time::Duration;

use serde_json::{Value, json};
use vk_aci_emulator::{Emulator, EmulatorBuilder, RunningEmulator};

pub const SUB: &str = "00000000-0000-0000-0000-000000000001";
pub const RG: &str = "rg1";
pub const API: &str = "2023-05-01";
/// A delegated subnet, for groups in a virtual network.
pub const SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vnet/subnets/aci";

pub struct Env {
    pub emu: RunningEmulator,
    pub http: reqwest::Client,
    pub token: String,
    pub base: String,
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A client for tests on a paused tokio clock: no timeout and no idle-pool
/// timer, so the clock only advances to the emulator's own timers (a timeout
/// would fire while a request waits on the loopback socket, since a paused
/// clock auto-advances whenever the runtime is idle).
pub fn paused_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .expect("client")
}

/// An emulator in fast mode (no delays, no throttling), for ordinary tests.
pub async fn start() -> Env {
    start_with(Emulator::builder().fast()).await
}

/// An emulator at its defaults: realistic delays, throttling and quotas.
/// Tests that wait for a group to run use a paused clock
/// ([`start_paused_with`]).
pub async fn start_realistic() -> Env {
    start_with(Emulator::builder()).await
}

pub async fn start_with(builder: EmulatorBuilder) -> Env {
    start_with_client(builder, client()).await
}

/// For `#[tokio::test(start_paused = true)]` tests.
pub async fn start_paused_with(builder: EmulatorBuilder) -> Env {
    start_with_client(builder, paused_client()).await
}

async fn start_with_client(builder: EmulatorBuilder, http: reqwest::Client) -> Env {
    let emu = builder
        .start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("start");
    let base = emu.base_url().to_owned();
    let token = get_token(&http, &base).await;
    Env {
        emu,
        http,
        token,
        base,
    }
}

pub async fn get_token(http: &reqwest::Client, base: &str) -> String {
    let resp = http
        .post(format!("{base}/my-tenant/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", "s3cret"),
            ("scope", "https://management.azure.com/.default"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("token json");
    assert!(v["expires_in"].as_i64().expect("expires_in") > 3000);
    v["access_token"].as_str().expect("token").to_owned()
}

impl Env {
    pub fn rg_path(&self, rg: &str) -> String {
        format!(
            "{}/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups",
            self.base
        )
    }

    pub fn cg_url(&self, name: &str) -> String {
        format!("{}/{name}?api-version={API}", self.rg_path(RG))
    }

    pub fn action_url(&self, name: &str, action: &str) -> String {
        format!("{}/{name}/{action}?api-version={API}", self.rg_path(RG))
    }

    pub async fn put(&self, name: &str, body: &Value) -> reqwest::Response {
        self.http
            .put(self.cg_url(name))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("put")
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("get")
    }

    pub async fn get_json(&self, url: &str) -> (u16, Value) {
        let r = self.get(url).await;
        let status = r.status().as_u16();
        let v = r.json().await.unwrap_or(Value::Null);
        (status, v)
    }

    pub async fn post(&self, url: &str, body: Option<&Value>) -> reqwest::Response {
        let mut r = self.http.post(url).bearer_auth(&self.token);
        r = match body {
            Some(b) => r.json(b),
            None => r.header("content-length", "0"),
        };
        r.send().await.expect("post")
    }

    pub async fn delete(&self, name: &str) -> reqwest::Response {
        self.http
            .delete(self.cg_url(name))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("delete")
    }

    pub async fn group(&self, name: &str) -> Value {
        let (status, v) = self.get_json(&self.cg_url(name)).await;
        assert_eq!(status, 200, "GET {name}: {v}");
        v
    }

    /// Polls GET until `pred` holds (10 s max).
    pub async fn wait_group(&self, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_group_within(name, Duration::from_secs(10), pred)
            .await
    }

    /// Polls GET until `pred` holds, for at most `budget` of tokio time
    /// (500 polls), e.g. minutes of a paused clock.
    pub async fn wait_group_within(
        &self,
        name: &str,
        budget: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + budget;
        while tokio::time::Instant::now() < deadline {
            let v = self.group(name).await;
            if pred(&v) {
                return v;
            }
            tokio::time::sleep(budget / 500).await;
        }
        panic!(
            "group {name} never reached the expected state: {}",
            self.group(name).await
        );
    }

    /// Like [`Env::create_running`], waiting up to `budget` of tokio time.
    pub async fn create_running_within(&self, name: &str, body: &Value, budget: Duration) -> Value {
        let r = self.put(name, body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
        self.wait_group_within(name, budget, |v| {
            v["properties"]["instanceView"]["state"] != "Pending"
                && v["properties"]["provisioningState"] == "Succeeded"
        })
        .await
    }

    /// Creates a group and waits until it is Running (or terminal).
    pub async fn create_running(&self, name: &str, body: &Value) -> Value {
        let r = self.put(name, body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
        self.wait_group(name, |v| {
            v["properties"]["instanceView"]["state"] != "Pending"
                && v["properties"]["provisioningState"] == "Succeeded"
        })
        .await
    }
}

/// A one-container Linux group running `command` (empty: forever).
pub fn group_body(command: &[&str], restart: &str) -> Value {
    json!({
        "location": "westus",
        "properties": {
            "osType": "Linux",
            "restartPolicy": restart,
            "containers": [{
                "name": "main",
                "properties": {
                    "image": "busybox",
                    "command": command,
                    "resources": {"requests": {"cpu": 1.0, "memoryInGB": 1.5}}
                }
            }]
        }
    })
}

pub fn state(v: &Value) -> &str {
    v["properties"]["instanceView"]["state"]
        .as_str()
        .unwrap_or("")
}

pub fn container_view(v: &Value, idx: usize) -> &Value {
    &v["properties"]["containers"][idx]["properties"]["instanceView"]
}

pub fn temp_path(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "aci-emu-{name}-{}-{nanos}.json",
        std::process::id()
    ))
}
