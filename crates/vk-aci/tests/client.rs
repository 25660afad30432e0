//! Client operations against a scripted server on 127.0.0.1: retries, Retry-After, deadlines,
//! long-running operations, paging, query parameters and token refresh.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{GROUP_PATH, Server, group_json, reply};
use vk_aci::credentials::StaticTokenCredential;
use vk_aci::models::{ContainerGroup, GroupState, ProvisioningState};
use vk_aci::{
    AzureCloud, ContainerInstances, Error, FailureKind, LogOptions, LroOptions, Operation,
    RateLimits, RetryPolicy, Target,
};

fn client(server: &Server) -> ContainerInstances {
    client_with(
        server,
        RetryPolicy::default()
            .with_max_attempts(3)
            .with_backoff(Duration::from_millis(10), Duration::from_millis(50)),
    )
}

fn client_with(server: &Server, retry: RetryPolicy) -> ContainerInstances {
    ContainerInstances::builder(
        "sub",
        "rg",
        Arc::new(StaticTokenCredential::new("test-token")),
    )
    .cloud(AzureCloud::custom(&server.base, &server.base))
    .retry(retry)
    .lro(
        LroOptions::default().with_poll_interval(Duration::from_millis(20), Duration::from_secs(3)),
    )
    .rate_limits(RateLimits::unlimited())
    .build()
    .unwrap()
}

fn sample_group() -> ContainerGroup {
    serde_json::from_str(&group_json("Succeeded")).unwrap()
}

#[tokio::test]
async fn throttled_429_waits_retry_after_then_succeeds() {
    let server = Server::start(|_, n, _| {
        if n == 0 {
            reply(
                429,
                &[("retry-after", "2".into())],
                r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
            )
        } else {
            reply(200, &[], group_json("Succeeded"))
        }
    })
    .await;
    let client = client(&server);
    let start = Instant::now();
    let group = client.get("g1").await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "waited only {:?}",
        start.elapsed()
    );
    assert_eq!(group.name.as_deref(), Some("g1"));
    assert_eq!(group.state(), Some(&GroupState::Running));
    let m = client.metrics();
    assert_eq!((m.attempts, m.retries, m.throttled), (2, 1, 1));
}

#[tokio::test]
async fn server_error_forever_gives_a_typed_error_after_max_attempts() {
    let server = Server::start(|_, _, _| {
        reply(
            503,
            &[("x-ms-request-id", "req-503".into())],
            r#"{"error":{"code":"ServiceUnavailable","message":"try later"}}"#,
        )
    })
    .await;
    let err = client(&server).get("g1").await.unwrap_err();
    assert!(
        err.operation() == Some(Operation::Get)
            && err.target() == Some(&Target::Group("g1".into())),
        "{err:?}"
    );
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(err.code(), Some("ServiceUnavailable"));
    assert_eq!(err.request_id(), Some("req-503"));
    assert!(err.is_transient());
    assert_eq!(err.failure().unwrap().attempts, 3);
    assert_eq!(server.count("GET", GROUP_PATH), 3);
    // Retries of one call share its client request id.
    let ids: std::collections::BTreeSet<_> = server
        .requests()
        .iter()
        .map(|r| r.headers["x-ms-client-request-id"].clone())
        .collect();
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn retries_stop_at_the_deadline() {
    let server = Server::start(|_, _, _| reply(500, &[("retry-after", "1".into())], "oops")).await;
    let policy = RetryPolicy::default()
        .with_max_attempts(100)
        .with_deadline(Duration::from_millis(2500));
    let start = Instant::now();
    let err = client_with(&server, policy).get("g1").await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_millis(2600),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    let attempts = server.count("GET", GROUP_PATH);
    assert!((2..=3).contains(&attempts), "{attempts} attempts");
}

/// Fuzz crash `arm_failure/crash-d2c0b3dd380dc457c44508490fc2a2e0408dac05` end to end: a
/// throttled response asking to wait ~forever (`Retry-After` beyond `u64` seconds, or exactly
/// `u64::MAX` seconds) panicked the client; now the call gives up at once with the 429.
#[tokio::test]
async fn absurd_retry_after_gives_up_instead_of_panicking() {
    for value in ["1111111111111111111111", "18446744073709551615"] {
        let server = Server::start(move |_, _, _| {
            reply(
                429,
                &[("retry-after", value.into())],
                r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
            )
        })
        .await;
        let err = client(&server).get("g1").await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(429), "{value}");
        assert!(err.failure().unwrap().retry_after.is_some());
        assert_eq!(server.count("GET", GROUP_PATH), 1, "{value}");
    }
}

#[tokio::test]
async fn connection_errors_are_retried_then_reported() {
    // A port with nothing listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let client =
        ContainerInstances::builder("sub", "rg", Arc::new(StaticTokenCredential::new("t")))
            .cloud(AzureCloud::custom(&base, &base))
            .retry(
                RetryPolicy::default()
                    .with_max_attempts(2)
                    .with_backoff(Duration::from_millis(5), Duration::from_millis(5)),
            )
            .build()
            .unwrap();
    let err = client.get("g1").await.unwrap_err();
    assert_eq!(err.failure().unwrap().kind, FailureKind::Transport);
    assert!(err.is_transient());
    assert_eq!(client.metrics().transport_errors, 2);
}

#[tokio::test]
async fn not_found_is_typed_and_not_retried() {
    let server = Server::start(|_, _, _| {
        reply(404, &[], r#"{"error":{"code":"ResourceNotFound","message":"The Resource 'Microsoft.ContainerInstance/containerGroups/g1' under resource group 'rg' was not found."}}"#)
    })
    .await;
    let client = client(&server);
    let err = client.get("g1").await.unwrap_err();
    assert!(err.is_not_found() && !err.is_transient());
    assert!(err.to_string().contains("g1"));
    assert_eq!(server.count("GET", GROUP_PATH), 1);
    assert!(client.try_get("g1").await.unwrap().is_none());
}

#[tokio::test]
async fn create_tracks_azure_async_operation() {
    let server = Server::start(|req, n, base| match (req.method.as_str(), req.path.as_str()) {
        ("PUT", GROUP_PATH) => reply(
            201,
            &[
                ("azure-asyncoperation", format!("{base}subscriptions/sub/providers/Microsoft.ContainerInstance/locations/westus/operations/op1?api-version=2023-05-01")),
                ("location", format!("{base}never-polled")),
                ("retry-after", "0".into()),
            ],
            group_json("Pending"),
        ),
        ("GET", "/subscriptions/sub/providers/Microsoft.ContainerInstance/locations/westus/operations/op1") => {
            let status = if n < 2 { "InProgress" } else { "Succeeded" };
            reply(200, &[], format!(r#"{{"id":"x","status":"{status}"}}"#))
        }
        ("GET", GROUP_PATH) => reply(200, &[], group_json("Succeeded")),
        _ => reply(500, &[], "unexpected"),
    })
    .await;
    let group = client(&server)
        .create_or_update("g1", &sample_group())
        .await
        .unwrap();
    assert_eq!(
        group.provisioning_state(),
        Some(&ProvisioningState::Succeeded)
    );
    let methods: Vec<String> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(methods.len(), 5, "{methods:?}");
    assert_eq!(server.count("GET", "/never-polled"), 0);
    // Every call carries the API version and the bearer token; the PUT carries the group.
    for r in server.requests() {
        assert!(r.query.contains("api-version=2023-05-01"), "{r:?}");
        assert_eq!(r.headers["authorization"], "Bearer test-token");
        assert_eq!(r.headers["x-ms-client-request-id"].len(), 36);
    }
    let put = &server.requests()[0];
    assert_eq!(put.headers["content-type"], "application/json");
    let sent: serde_json::Value = serde_json::from_slice(&put.body).unwrap();
    assert_eq!(
        sent["properties"]["containers"][0]["properties"]["image"],
        "nginx"
    );
}

#[tokio::test]
async fn create_failure_carries_the_arm_error() {
    let server = Server::start(|req, _, base| match req.method.as_str() {
        "PUT" => reply(201, &[("azure-asyncoperation", format!("{base}op"))], group_json("Pending")),
        _ => reply(
            200,
            &[("x-ms-request-id", "poll-req".into())],
            r#"{"status":"Failed","error":{"code":"InaccessibleImage","message":"The image 'nope' in container group 'g1' is not accessible."}}"#,
        ),
    })
    .await;
    let err = client(&server)
        .create_or_update("g1", &sample_group())
        .await
        .unwrap_err();
    assert_eq!(err.operation(), Some(Operation::CreateOrUpdate));
    assert_eq!(err.code(), Some("InaccessibleImage"));
    assert_eq!(err.failure().unwrap().kind, FailureKind::OperationFailed);
    assert_eq!(err.request_id(), Some("poll-req"));
}

#[tokio::test]
async fn create_tracks_provisioning_state_without_headers() {
    let server = Server::start(|req, n, _| match req.method.as_str() {
        "PUT" => reply(201, &[], group_json("Creating")),
        _ if n < 2 => reply(200, &[], group_json("Creating")),
        _ => reply(200, &[], group_json("Failed")),
    })
    .await;
    let err = client(&server)
        .create_or_update("g1", &sample_group())
        .await
        .unwrap_err();
    assert_eq!(err.failure().unwrap().kind, FailureKind::OperationFailed);
    assert_eq!(server.count("GET", GROUP_PATH), 3);
}

#[tokio::test]
async fn delete_tracks_location_and_treats_missing_as_done() {
    let server = Server::start(
        |req, n, base| match (req.method.as_str(), req.path.as_str()) {
            ("DELETE", _) => reply(
                202,
                &[(
                    "location",
                    format!("{base}operationResults/op2?api-version=2023-05-01"),
                )],
                "",
            ),
            ("GET", "/operationResults/op2") if n < 2 => {
                reply(202, &[("retry-after", "0".into())], "")
            }
            ("GET", "/operationResults/op2") => reply(204, &[], ""),
            _ => reply(500, &[], ""),
        },
    )
    .await;
    client(&server).delete("g1").await.unwrap();
    assert_eq!(server.count("GET", "/operationResults/op2"), 3);

    let gone = Server::start(|_, n, _| reply(if n == 0 { 204 } else { 404 }, &[], "")).await;
    let c = client(&gone);
    c.delete("g1").await.unwrap();
    c.delete("g1").await.unwrap();
}

#[tokio::test]
async fn start_stop_restart() {
    let server = Server::start(
        |req, _, base| match req.path.rsplit('/').next().unwrap_or("") {
            "start" => reply(
                202,
                &[("azure-asyncoperation", format!("{base}op-start"))],
                "",
            ),
            "stop" => reply(204, &[], ""),
            "restart" => reply(204, &[], ""),
            "op-start" => reply(200, &[], r#"{"status":"Succeeded"}"#),
            _ => reply(500, &[], ""),
        },
    )
    .await;
    let c = client(&server);
    c.start("g1").await.unwrap();
    c.stop("g1").await.unwrap();
    c.restart("g1").await.unwrap();
    assert_eq!(server.count("GET", "/op-start"), 1);
    assert_eq!(server.count("POST", &format!("{GROUP_PATH}/stop")), 1);
}

#[tokio::test]
async fn list_follows_next_link() {
    let list_path = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups";
    let server = Server::start(move |req, _, base| {
        let item = |name: &str| serde_json::json!({"name": name, "properties": {"containers": []}});
        if req.query.contains("page=2") {
            reply(
                200,
                &[],
                serde_json::json!({"value": [item("c")]}).to_string(),
            )
        } else if req.path == list_path {
            let next = format!("{base}{}?api-version=2023-05-01&page=2", &list_path[1..]);
            reply(
                200,
                &[],
                serde_json::json!({"value": [item("a"), item("b")], "nextLink": next}).to_string(),
            )
        } else {
            reply(500, &[], "")
        }
    })
    .await;
    let groups = client(&server).list().await.unwrap();
    let names: Vec<_> = groups.iter().filter_map(|g| g.name.clone()).collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[tokio::test]
async fn logs_exec_capabilities_usages() {
    let server = Server::start(|req, _, _| match req.path.rsplit('/').next().unwrap_or("") {
        "logs" => reply(200, &[], r#"{"content":"hello\n"}"#),
        "exec" => reply(200, &[], r#"{"webSocketUri":"wss://example/ws","password":"pw"}"#),
        "capabilities" => reply(200, &[], r#"{"value":[{"osType":"Linux","gpu":"V100","capabilities":{"maxCpu":4,"maxMemoryInGB":16,"maxGpuCount":4}}]}"#),
        "usages" => reply(200, &[], r#"{"value":[{"unit":"Count","currentValue":1,"limit":100,"name":{"value":"ContainerGroups"}}]}"#),
        _ => reply(500, &[], ""),
    })
    .await;
    let c = client(&server);
    let logs = c
        .logs(
            "g1",
            "c1",
            LogOptions {
                tail: Some(10),
                timestamps: Some(true),
            },
        )
        .await
        .unwrap();
    assert_eq!(logs, "hello\n");
    let req = &server.requests()[0];
    assert!(req.path.ends_with("/containerGroups/g1/containers/c1/logs"));
    let q = req.query_pairs();
    assert!(
        q.contains(&("tail".into(), "10".into()))
            && q.contains(&("timestamps".into(), "true".into()))
    );

    let exec = c
        .exec(
            "g1",
            "c1",
            &vk_aci::models::ContainerExecRequest::new("/bin/sh", 24, 80),
        )
        .await
        .unwrap();
    assert_eq!(exec.password.as_ref().unwrap().expose(), "pw");
    assert!(!format!("{exec:?}").contains("pw\""));
    let sent: serde_json::Value = serde_json::from_slice(&server.requests()[1].body).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"command": "/bin/sh", "terminalSize": {"rows": 24, "cols": 80}})
    );

    let caps = c.capabilities("westus").await.unwrap();
    assert_eq!(caps[0].gpu.as_deref(), Some("V100"));
    assert_eq!(
        server.requests()[2].path,
        "/subscriptions/sub/providers/Microsoft.ContainerInstance/locations/westus/capabilities"
    );
    let usages = c.usages("westus").await.unwrap();
    assert_eq!(usages[0].limit, Some(100));
}

/// The per-region lists share one paging helper: pages are followed, and failures name the
/// operation and the location.
#[tokio::test]
async fn region_lists_page_and_name_the_location_in_errors() {
    let server = Server::start(|req, _, base| {
        let last = req.path.rsplit('/').next().unwrap_or("");
        match (last, req.query.contains("page=2")) {
            ("cachedImages", false) => {
                let next = format!("{base}{}?api-version=2023-05-01&page=2", &req.path[1..]);
                let body = serde_json::json!({
                    "value": [{"osType": "Linux", "image": "nginx"}],
                    "nextLink": next,
                });
                reply(200, &[], body.to_string())
            }
            ("cachedImages", true) => reply(
                200,
                &[],
                r#"{"value":[{"osType":"Windows","image":"mcr.microsoft.com/windows/servercore"}]}"#,
            ),
            ("usages", _) => reply(
                404,
                &[("x-ms-request-id", "req-404".into())],
                r#"{"error":{"code":"NoRegisteredProviderFound","message":"no such location"}}"#,
            ),
            _ => reply(403, &[], r#"{"error":{"code":"AuthorizationFailed","message":"denied"}}"#),
        }
    })
    .await;
    let c = client(&server);
    let images = c.cached_images("westus").await.unwrap();
    let names: Vec<_> = images.iter().map(|i| i.image.as_str()).collect();
    assert_eq!(names, ["nginx", "mcr.microsoft.com/windows/servercore"]);
    let err = c.usages("nowhere").await.unwrap_err();
    assert!(
        err.operation() == Some(Operation::Usages)
            && err.target() == Some(&Target::Location("nowhere".into())),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("NoRegisteredProviderFound"));
    assert_eq!(err.request_id(), Some("req-404"));
    let err = c.capabilities("westus").await.unwrap_err();
    assert!(
        matches!(&err, Error::Operation { operation: Operation::Capabilities, target: Target::Location(l), .. } if l == "westus")
    );
    assert!(err.is_auth());
    let err = c.cached_images("").await.unwrap_err();
    assert!(
        matches!(&err, Error::Operation { operation: Operation::CachedImages, target: Target::Location(l), .. } if l.is_empty())
    );
    assert_eq!(err.failure().unwrap().kind, FailureKind::InvalidArgument);
}

#[tokio::test]
async fn conflict_transitioning_is_retried_after_the_minimum_delay() {
    let server = Server::start(|_, n, _| {
        if n == 0 {
            reply(409, &[], r#"{"error":{"code":"ContainerGroupTransitioning","message":"The container group 'g1' is still transitioning, please retry later."}}"#)
        } else {
            reply(204, &[], "")
        }
    })
    .await;
    let policy = RetryPolicy::default()
        .with_backoff(Duration::from_millis(1), Duration::from_millis(1))
        .with_transitioning_delay(Some(Duration::from_millis(300)));
    let start = Instant::now();
    client_with(&server, policy).stop("g1").await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn rate_limiter_spaces_writes() {
    let server = Server::start(|_, _, _| reply(204, &[], "")).await;
    let c = ContainerInstances::builder("sub", "rg", Arc::new(StaticTokenCredential::new("t")))
        .cloud(AzureCloud::custom(&server.base, &server.base))
        .rate_limits(RateLimits {
            reads: None,
            writes: Some(vk_aci::BucketConfig::new(2.0, 10.0)),
        })
        .build()
        .unwrap();
    let start = Instant::now();
    for _ in 0..5 {
        c.stop("g1").await.unwrap();
    }
    // 2 immediate, 3 more at 10/s.
    assert!(
        start.elapsed() >= Duration::from_millis(290),
        "{:?}",
        start.elapsed()
    );
    assert!(c.metrics().rate_limited >= 3);
}
