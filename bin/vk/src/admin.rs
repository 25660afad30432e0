//! The admin HTTP port: `/healthz`, `/readyz` and `/metrics`.
//!
//! - `/healthz`: 200 `ok` while the process serves HTTP at all (liveness).
//! - `/readyz`: 200 `ok` when [`Readiness`] says so, else 503 listing what is not ready.
//! - `/metrics`: the [`Metrics`] registry as OpenMetrics text.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::metrics::{CONTENT_TYPE, Metrics};

/// Whether the process is ready, shared by everyone who has a say in it. Cheap to clone.
///
/// Ready means: the process flag is set ([`Readiness::set_ready`], set by `run` once everything
/// is wired) and every registered component ([`Readiness::component`]) reports ready.
#[derive(Clone, Debug, Default)]
pub(crate) struct Readiness {
    inner: Arc<Mutex<ReadinessState>>,
}

#[derive(Debug, Default)]
struct ReadinessState {
    ready: bool,
    /// Component → `None` when ready, else why not.
    components: BTreeMap<String, Option<String>>,
}

/// The readiness of one component (e.g. `node/virtual-kubelet-aci-linux`, `aci`). Cheap to
/// clone; starts not ready.
#[derive(Clone, Debug)]
pub(crate) struct ComponentReadiness {
    readiness: Readiness,
    name: String,
}

impl Readiness {
    /// A process that is not ready yet, without components.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReadinessState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the process-wide flag.
    pub(crate) fn set_ready(&self, ready: bool) {
        self.lock().ready = ready;
    }

    /// Registers a component (not ready, reason "starting") and returns its handle. Registering
    /// an existing name returns a handle to the same entry and resets it to not ready.
    pub(crate) fn component(&self, name: impl Into<String>) -> ComponentReadiness {
        let name = name.into();
        self.lock()
            .components
            .insert(name.clone(), Some("starting".into()));
        ComponentReadiness {
            readiness: self.clone(),
            name,
        }
    }

    /// `Ok` when ready, else the `(component, reason)` pairs that are not (`process` for the
    /// flag).
    pub(crate) fn check(&self) -> Result<(), Vec<(String, String)>> {
        let state = self.lock();
        let mut not_ready = Vec::new();
        if !state.ready {
            not_ready.push(("process".to_string(), "starting".to_string()));
        }
        for (name, reason) in &state.components {
            if let Some(reason) = reason {
                not_ready.push((name.clone(), reason.clone()));
            }
        }
        if not_ready.is_empty() {
            Ok(())
        } else {
            Err(not_ready)
        }
    }
}

impl ComponentReadiness {
    /// Marks the component ready.
    pub(crate) fn set_ready(&self) {
        self.set(None);
    }

    /// Marks the component not ready, with the reason `/readyz` shows.
    pub(crate) fn set_not_ready(&self, reason: impl Into<String>) {
        self.set(Some(reason.into()));
    }

    fn set(&self, state: Option<String>) {
        self.readiness
            .lock()
            .components
            .insert(self.name.clone(), state);
    }
}

/// What the admin handlers share.
#[derive(Clone, Debug)]
pub(crate) struct AdminState {
    /// Readiness of the process.
    pub(crate) readiness: Readiness,
    /// The metrics registry.
    pub(crate) metrics: Arc<Metrics>,
}

/// The admin routes.
pub(crate) fn router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AdminState>) -> Response {
    match state.readiness.check() {
        Ok(()) => "ok\n".into_response(),
        Err(not_ready) => {
            let mut body = String::from("not ready:\n");
            for (name, reason) in not_ready {
                body.push_str(&format!("- {name}: {reason}\n"));
            }
            (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
        }
    }
}

async fn metrics(State(state): State<AdminState>) -> Response {
    match state.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed to encode metrics\n",
        )
            .into_response(),
    }
}

/// Binds the admin address.
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves the admin routes on `listener` until `shutdown` completes.
pub(crate) async fn serve(
    listener: TcpListener,
    state: AdminState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Server {
        base: String,
        client: reqwest::Client,
        stop: tokio_util::sync::CancellationToken,
        task: tokio::task::JoinHandle<std::io::Result<()>>,
    }

    async fn start(state: AdminState) -> Server {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("binds");
        let base = format!("http://{}", listener.local_addr().expect("has an address"));
        let stop = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(serve(listener, state, stop.clone().cancelled_owned()));
        Server {
            base,
            client: reqwest::Client::new(),
            stop,
            task,
        }
    }

    impl Server {
        async fn get(&self, path: &str) -> (u16, Option<String>, String) {
            let resp = self
                .client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .expect("request succeeds");
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            (status, content_type, resp.text().await.expect("body"))
        }

        async fn stop(self) {
            self.stop.cancel();
            self.task
                .await
                .expect("server task joins")
                .expect("server stops cleanly");
        }
    }

    #[tokio::test]
    async fn healthz_readyz_and_metrics() {
        let readiness = Readiness::new();
        let metrics = Arc::new(Metrics::new());
        let server = start(AdminState {
            readiness: readiness.clone(),
            metrics: Arc::clone(&metrics),
        })
        .await;

        let (status, _, body) = server.get("/healthz").await;
        assert_eq!((status, body.as_str()), (200, "ok\n"));

        // Not ready until the process flag is set and every component is ready.
        let (status, _, body) = server.get("/readyz").await;
        assert_eq!(status, 503);
        assert!(body.contains("- process: starting"), "{body}");

        let node = readiness.component("node/vk-linux");
        readiness.set_ready(true);
        let (status, _, body) = server.get("/readyz").await;
        assert_eq!(status, 503);
        assert!(body.contains("- node/vk-linux: starting"), "{body}");
        assert!(!body.contains("process"), "{body}");

        node.set_not_ready("lease not acquired");
        let (_, _, body) = server.get("/readyz").await;
        assert!(
            body.contains("- node/vk-linux: lease not acquired"),
            "{body}"
        );

        node.set_ready();
        let (status, _, body) = server.get("/readyz").await;
        assert_eq!((status, body.as_str()), (200, "ok\n"));

        // A request of a limited client shows in /metrics (nothing listens on port 1: the
        // request fails, but it went through the limit and was counted).
        let requests = vk_kube::RequestMetrics::default();
        metrics.register(|r| requests.register_metrics(r));
        let layer = vk_kube::LimitLayer::new(10.0, 10, requests.clone());
        let config = kube::Config::new("https://127.0.0.1:1".parse().expect("uri"));
        let client = kube::client::ClientBuilder::try_from(config)
            .expect("a client")
            .with_layer(&layer)
            .build();
        let _ = client.apiserver_version().await;
        let (status, content_type, body) = server.get("/metrics").await;
        assert_eq!(status, 200);
        assert_eq!(content_type.as_deref(), Some(CONTENT_TYPE));
        assert!(
            body.contains("vk_kube_requests_total{verb=\"get\"} 1"),
            "{body}"
        );
        assert!(body.ends_with("# EOF\n"), "{body}");

        let (status, _, _) = server.get("/nope").await;
        assert_eq!(status, 404);

        server.stop().await;
    }
}
