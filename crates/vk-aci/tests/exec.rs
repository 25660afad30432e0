//! The exec helper against a WebSocket server on 127.0.0.1: the password goes first, stdin is
//! sent as binary frames, output is bridged to stdout until the server closes.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::routing::{any, post};
use vk_aci::credentials::StaticTokenCredential;
use vk_aci::models::ContainerExecRequest;
use vk_aci::{AzureCloud, ContainerInstances, RateLimits};

async fn session(mut socket: WebSocket, seen: Arc<Mutex<Vec<String>>>) {
    // First frame: the password.
    match socket.recv().await {
        Some(Ok(Message::Text(text))) => seen
            .lock()
            .unwrap()
            .push(format!("password:{}", text.as_str())),
        other => {
            seen.lock()
                .unwrap()
                .push(format!("unexpected first frame {other:?}"));
            return;
        }
    }
    socket.send(Message::Text("$ ".into())).await.unwrap();
    while let Some(Ok(msg)) = socket.recv().await {
        if let Message::Binary(bytes) = msg {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            seen.lock().unwrap().push(format!("stdin:{text}"));
            socket
                .send(Message::Binary(format!("echo: {text}").into_bytes().into()))
                .await
                .unwrap();
            if text.contains("exit") {
                break;
            }
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

#[tokio::test]
async fn exec_session_sends_password_first_and_bridges() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let app = {
        let seen = seen.clone();
        axum::Router::new()
            .route(
                "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{g}/containers/{c}/exec",
                post(move || async move {
                    axum::Json(serde_json::json!({"webSocketUri": format!("ws://{addr}/ws"), "password": "pw-123"}))
                }),
            )
            .route(
                "/ws",
                any(move |ws: WebSocketUpgrade| {
                    let seen = seen.clone();
                    async move { ws.on_upgrade(move |socket| session(socket, seen)) }
                }),
            )
    };
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let base = format!("http://{addr}/");
    let client =
        ContainerInstances::builder("sub", "rg", Arc::new(StaticTokenCredential::new("t")))
            .cloud(AzureCloud::custom(&base, &base))
            .rate_limits(RateLimits::unlimited())
            .build()
            .unwrap();
    let session = client
        .exec_session("g1", "c1", &ContainerExecRequest::new("/bin/sh", 24, 80))
        .await
        .unwrap();
    let mut stdout = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        session.bridge(&b"exit\n"[..], &mut stdout),
    )
    .await
    .expect("bridge ends when the server closes")
    .unwrap();
    assert_eq!(String::from_utf8(stdout).unwrap(), "$ echo: exit\n");
    assert_eq!(*seen.lock().unwrap(), ["password:pw-123", "stdin:exit\n"]);
}
