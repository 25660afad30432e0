//! Token flows against a fake token endpoint on 127.0.0.1, caching, and refresh after a 401.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{GROUP_PATH, Server, group_json, reply};
use vk_aci::credentials::{
    CachingCredential, ClientSecretCredential, ManagedIdentityCredential, TokenCredential,
    WorkloadIdentityConfig, WorkloadIdentityCredential,
};
use vk_aci::{AzureCloud, ContainerInstances, Error, RateLimits, Secret, http_client};

const SCOPE: &str = "https://management.azure.com/.default";

fn token_server_reply(n: usize) -> axum::response::Response {
    reply(
        200,
        &[],
        format!(
            r#"{{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"tok-{n}"}}"#
        ),
    )
}

#[tokio::test]
async fn client_secret_posts_the_v2_form_and_is_cached() {
    let server = Server::start(|_, n, _| token_server_reply(n)).await;
    let cred = ClientSecretCredential::new(
        http_client().unwrap(),
        &server.base,
        "tenant1",
        "app1",
        Secret::from("s3cret!&="),
    )
    .unwrap();
    let cached = CachingCredential::new(cred);
    assert_eq!(
        cached.get_token(SCOPE).await.unwrap().token.expose(),
        "tok-0"
    );
    assert_eq!(
        cached.get_token(SCOPE).await.unwrap().token.expose(),
        "tok-0"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/tenant1/oauth2/v2.0/token")
    );
    assert_eq!(
        req.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let form = req.form();
    for pair in [
        ("grant_type", "client_credentials"),
        ("client_id", "app1"),
        ("client_secret", "s3cret!&="),
        ("scope", SCOPE),
    ] {
        assert!(
            form.contains(&(pair.0.into(), pair.1.into())),
            "{form:?} lacks {pair:?}"
        );
    }
    assert!(!format!("{cached:?}").contains("s3cret"));
}

#[tokio::test]
async fn token_errors_are_typed_and_do_not_leak_the_secret() {
    let server = Server::start(|_, _, _| {
        reply(400, &[], r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#)
    })
    .await;
    let cred = ClientSecretCredential::new(
        http_client().unwrap(),
        &server.base,
        "t",
        "app1",
        Secret::from("wrong-secret"),
    )
    .unwrap();
    let err = cred.get_token(SCOPE).await.unwrap_err();
    assert!(matches!(err, Error::Token { .. }));
    assert_eq!(err.code(), Some("invalid_client"));
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("app1") && !text.contains("wrong-secret"),
        "{text}"
    );
    assert_eq!(server.requests().len(), 1, "4xx is not retried");
}

#[tokio::test]
async fn managed_identity_uses_imds_query_and_header_and_retries_410() {
    let server = Server::start(|req, n, _| {
        if req.headers.get("metadata").map(|v| v.as_bytes()) != Some(b"true") {
            return reply(400, &[], r#"{"error":"bad_request_102","error_description":"Required metadata header not specified"}"#);
        }
        if n == 0 {
            return reply(410, &[], "");
        }
        reply(200, &[], r#"{"access_token":"mi-tok","expires_in":"3599","expires_on":"4102444800","resource":"https://management.azure.com/","token_type":"Bearer"}"#)
    })
    .await;
    let endpoint = format!("{}metadata/identity/oauth2/token", server.base);
    let cred = ManagedIdentityCredential::new(http_client().unwrap())
        .with_client_id("uami-client")
        .with_endpoint(&endpoint)
        .unwrap();
    let token = cred.get_token(SCOPE).await.unwrap();
    assert_eq!(token.token.expose(), "mi-tok");
    assert_eq!(token.expires_on.as_second(), 4_102_444_800);
    let req = &server.requests()[1];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("GET", "/metadata/identity/oauth2/token")
    );
    let q = req.query_pairs();
    for pair in [
        ("api-version", "2018-02-01"),
        ("resource", "https://management.azure.com/"),
        ("client_id", "uami-client"),
    ] {
        assert!(
            q.contains(&(pair.0.into(), pair.1.into())),
            "{q:?} lacks {pair:?}"
        );
    }
}

#[tokio::test]
async fn workload_identity_rereads_the_token_file() {
    let server = Server::start(|_, n, _| token_server_reply(n)).await;
    let file = std::env::temp_dir().join(format!("vk-aci-wi-{}", std::process::id()));
    std::fs::write(&file, "assertion-1\n").unwrap();
    let base = server.base.clone();
    let file_str = file.to_string_lossy().into_owned();
    let config = WorkloadIdentityConfig::from_env_vars(|k| match k {
        "AZURE_CLIENT_ID" => Some("wi-client".into()),
        "AZURE_TENANT_ID" => Some("wi-tenant".into()),
        "AZURE_FEDERATED_TOKEN_FILE" => Some(file_str.clone()),
        "AZURE_AUTHORITY_HOST" => Some(base.trim_end_matches('/').to_owned()),
        _ => None,
    })
    .unwrap();
    let cred = WorkloadIdentityCredential::new(http_client().unwrap(), config).unwrap();
    assert_eq!(cred.get_token(SCOPE).await.unwrap().token.expose(), "tok-0");
    std::fs::write(&file, "assertion-2").unwrap();
    assert_eq!(cred.get_token(SCOPE).await.unwrap().token.expose(), "tok-1");
    std::fs::remove_file(&file).unwrap();
    let requests = server.requests();
    assert_eq!(requests[0].path, "/wi-tenant/oauth2/v2.0/token");
    for (req, assertion) in requests.iter().zip(["assertion-1", "assertion-2"]) {
        let form = req.form();
        for pair in [
            ("client_id", "wi-client"),
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
            ("scope", SCOPE),
        ] {
            assert!(
                form.contains(&(pair.0.into(), pair.1.into())),
                "{form:?} lacks {pair:?}"
            );
        }
    }
    // A missing file is a typed error.
    assert!(matches!(
        cred.get_token(SCOPE).await,
        Err(Error::Token { .. })
    ));
}

#[tokio::test]
async fn arm_401_refreshes_the_token_once() {
    // One server plays both the token endpoint and ARM; ARM rejects the first token.
    let server = Server::start(|req, n, _| {
        if req.path.ends_with("/oauth2/v2.0/token") {
            return token_server_reply(n);
        }
        if req.path == GROUP_PATH && req.headers["authorization"] == "Bearer tok-1" {
            return reply(200, &[], group_json("Succeeded"));
        }
        reply(
            401,
            &[],
            r#"{"error":{"code":"ExpiredAuthenticationToken","message":"expired"}}"#,
        )
    })
    .await;
    let cred = ClientSecretCredential::new(
        http_client().unwrap(),
        &server.base,
        "t",
        "app",
        Secret::from("s"),
    )
    .unwrap();
    let client = ContainerInstances::builder("sub", "rg", Arc::new(cred))
        .cloud(AzureCloud::custom(&server.base, &server.base))
        .rate_limits(RateLimits::unlimited())
        .call_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    client.get("g1").await.unwrap();
    assert_eq!(server.count("POST", "/t/oauth2/v2.0/token"), 2);
    // A credential that keeps failing ARM's check gives a typed 401, without looping.
    let other = client.with_resource_group("rg2");
    let err = other.get("g1").await.unwrap_err();
    assert!(err.is_auth(), "{err:?}");
}
