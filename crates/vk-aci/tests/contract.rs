//! The contract: every client operation against the ACI emulator over real
//! HTTP, authenticated through the emulator's token endpoint.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use vk_aci::credentials::{CachingCredential, ClientSecretCredential};
use vk_aci::models::{ContainerExecRequest, ContainerGroup};
use vk_aci::{
    AzureCloud, ContainerInstances, LogOptions, LroOptions, RateLimits, RetryPolicy, Secret,
};
use vk_aci_emulator::{Emulator, FaultRule, RunningEmulator};

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .fast()
        .page_size(2)
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client(emu: &RunningEmulator, retry: RetryPolicy) -> ContainerInstances {
    let http = vk_aci::http_client().unwrap();
    let cred = ClientSecretCredential::new(
        http.clone(),
        emu.base_url(),
        "tenant",
        "client",
        Secret::new("s3cret".to_owned()),
    )
    .unwrap();
    ContainerInstances::builder(
        "00000000-0000-0000-0000-000000000000",
        "rg",
        Arc::new(CachingCredential::new(cred)),
    )
    .cloud(AzureCloud::custom(emu.base_url(), emu.base_url()))
    .http_client(http)
    .retry(retry)
    .lro(
        LroOptions::default().with_poll_interval(Duration::from_millis(50), Duration::from_secs(1)),
    )
    .rate_limits(RateLimits::unlimited())
    .build()
    .unwrap()
}

fn group(command: &str) -> ContainerGroup {
    serde_json::from_value(serde_json::json!({
        "location": "westeurope",
        "tags": {"test": "contract"},
        "properties": {
            "osType": "Linux",
            "restartPolicy": "Never",
            "containers": [{"name": "c", "properties": {
                "image": "busybox",
                "command": ["sh", "-c", command],
                "resources": {"requests": {"cpu": 1.0, "memoryInGB": 1.5}}
            }}]
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn every_operation_against_the_emulator() {
    let emu = emulator().await;
    let aci = client(&emu, RetryPolicy::default());

    // Create (LRO to the end), get, list with paging.
    let created = aci
        .create_or_update("g0", &group("echo hello; sleep 1000"))
        .await
        .unwrap();
    assert_eq!(created.name.as_deref(), Some("g0"));
    for i in 1..5 {
        aci.create_or_update(&format!("g{i}"), &group("sleep 1000"))
            .await
            .unwrap();
    }
    let got = aci.get("g0").await.unwrap();
    assert_eq!(got.tags.as_ref().unwrap()["test"], "contract");
    let listed = aci.list().await.unwrap();
    assert_eq!(listed.len(), 5, "five groups over three pages of two");
    assert!(emu.admin().count("list") >= 3, "paged with nextLink");

    // Logs, with tail.
    let logs = aci.logs("g0", "c", LogOptions::default()).await.unwrap();
    assert!(logs.contains("hello"), "{logs}");
    let tail = aci
        .logs(
            "g0",
            "c",
            LogOptions {
                tail: Some(1),
                timestamps: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(tail.lines().count(), 1);

    // Exec: the helper sends the password first and streams output.
    let session = aci
        .exec_session("g0", "c", &ContainerExecRequest::new("echo hi", 24, 80))
        .await
        .unwrap();
    let (_writer, mut reader) = session.split();
    let mut out = Vec::new();
    while let Some(chunk) = reader.next().await {
        match chunk {
            Ok(bytes) => out.extend(bytes),
            Err(_) => break,
        }
    }
    assert!(
        String::from_utf8_lossy(&out).contains("hi"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );

    // Stop, start, restart.
    aci.stop("g1").await.unwrap();
    aci.start("g1").await.unwrap();
    aci.restart("g2").await.unwrap();

    // Location capabilities and usages.
    assert!(!aci.capabilities("westeurope").await.unwrap().is_empty());
    assert!(!aci.usages("westeurope").await.unwrap().is_empty());

    // Delete (LRO); gone afterwards; deleting again is fine (204).
    aci.delete("g0").await.unwrap();
    assert!(aci.try_get("g0").await.unwrap().is_none());
    assert!(aci.get("g0").await.unwrap_err().is_not_found());
    aci.delete("g0").await.unwrap();

    // Every request is counted by operation and status.
    let counts = aci.operation_counts();
    let count = |op: &str, status: u16| {
        counts
            .iter()
            .filter(|c| c.operation == op && c.status == status)
            .map(|c| c.count)
            .sum::<u64>()
    };
    assert_eq!(count("create", 201), 5, "{counts:?}");
    assert!(count("list", 200) >= 3, "{counts:?}");
    assert!(count("logs", 200) >= 2, "{counts:?}");
    assert!(count("delete", 204) >= 1, "{counts:?}");

    // Validation errors come back typed, with ARM's code.
    let mut bad = group("true");
    bad.location = None;
    let err = aci.create_or_update("Bad_Name", &bad).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400), "{err}");
    assert!(err.code().is_some(), "{err}");
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn retry_after_is_honoured_and_503_forever_is_a_typed_error_within_the_deadline() {
    let emu = emulator().await;
    let aci = client(
        &emu,
        RetryPolicy::default()
            .with_max_attempts(3)
            .with_backoff(Duration::from_millis(50), Duration::from_millis(200))
            .with_deadline(Duration::from_secs(10)),
    );
    aci.create_or_update("t", &group("sleep 1000"))
        .await
        .unwrap();

    emu.admin().inject_fault(
        FaultRule::new("get")
            .with_status(429)
            .with_retry_after(2)
            .times(1),
    );
    let start = Instant::now();
    aci.get("t").await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "waited {:?}",
        start.elapsed()
    );
    assert_eq!(emu.admin().count_status("get", 429), 1);

    emu.admin().inject_fault(
        FaultRule::new("list")
            .with_status(503)
            .for_duration(Duration::from_secs(600)),
    );
    let start = Instant::now();
    let err = aci.list().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(
        emu.admin().count_status("list", 503),
        3,
        "exactly the configured attempts"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    emu.shutdown().await.unwrap();
}
