//! A scripted HTTP server on 127.0.0.1 that records every request.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    reason = "shared by several test binaries, each using part of it; test code"
)]

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// A request the server received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded(&self.query)
    }

    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded(std::str::from_utf8(&self.body).unwrap())
    }
}

mod url {
    pub fn form_urlencoded(text: &str) -> Vec<(String, String)> {
        let parsed = vk_aci::Url::parse(&format!("http://x/?{text}")).unwrap();
        parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

/// Handler: the request, how many earlier requests had the same method and path, the base URL.
pub type Handler = dyn Fn(&Recorded, usize, &str) -> Response + Send + Sync;

pub struct Server {
    pub base: String,
    pub log: Arc<Mutex<Vec<Recorded>>>,
}

impl Server {
    pub async fn start(
        handler: impl Fn(&Recorded, usize, &str) -> Response + Send + Sync + 'static,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let log: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let app = {
            let log = log.clone();
            let base = base.clone();
            axum::Router::new().fallback(move |req: Request| {
                let log = log.clone();
                let handler = handler.clone();
                let base = base.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body = axum::body::to_bytes(body, usize::MAX)
                        .await
                        .unwrap()
                        .to_vec();
                    let rec = Recorded {
                        method: parts.method.to_string(),
                        path: parts.uri.path().to_owned(),
                        query: parts.uri.query().unwrap_or("").to_owned(),
                        headers: parts.headers,
                        body,
                    };
                    let n = {
                        let mut log = log.lock().unwrap();
                        let n = log
                            .iter()
                            .filter(|r| r.method == rec.method && r.path == rec.path)
                            .count();
                        log.push(rec.clone());
                        n
                    };
                    handler(&rec, n, &base)
                }
            })
        };
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, log }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }
}

/// A response with a status, headers and a body.
pub fn reply(status: u16, headers: &[(&str, String)], body: impl Into<String>) -> Response {
    let mut response = Response::new(Body::from(body.into()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    for (k, v) in headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    response.into_response()
}

pub const GROUP_PATH: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g1";

/// A container group body in a given provisioning state.
pub fn group_json(state: &str) -> String {
    serde_json::json!({
        "id": GROUP_PATH,
        "name": "g1",
        "type": "Microsoft.ContainerInstance/containerGroups",
        "location": "westus",
        "properties": {
            "provisioningState": state,
            "osType": "Linux",
            "containers": [{"name": "c1", "properties": {"image": "nginx", "resources": {"requests": {"cpu": 1, "memoryInGB": 1.5}}}}],
            "instanceView": {"state": "Running", "events": []}
        }
    })
    .to_string()
}
