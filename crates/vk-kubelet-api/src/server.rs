//! The HTTPS server: TLS accept loop, routes, authentication middleware.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use http::{StatusCode, header};
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt as _;

use crate::auth::{Auth, AuthConfig, Denied, PeerIdentity, identity_from_cert};
use crate::backend::{ContainerRef, DynBackend, KubeletBackend};
use crate::stats::PodSample;
use crate::tls::TlsSource;
use crate::{Error, exec, logs, stats};

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections get to finish after shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A kubelet API server for one virtual node. Build it with [`KubeletServer::builder`].
pub struct KubeletServer {
    state: Arc<AppState>,
    tls: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for KubeletServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletServer")
            .field("node", &self.state.node)
            .finish_non_exhaustive()
    }
}

/// Configures a [`KubeletServer`].
#[must_use]
pub struct KubeletServerBuilder {
    backend: Arc<dyn DynBackend>,
    node: String,
    tls: TlsSource,
    auth: AuthConfig,
    log_poll: Duration,
}

impl std::fmt::Debug for KubeletServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletServerBuilder")
            .field("node", &self.node)
            .field("tls", &self.tls)
            .field("auth", &self.auth)
            .field("log_poll", &self.log_poll)
            .finish_non_exhaustive()
    }
}

pub(crate) struct AppState {
    pub(crate) backend: Arc<dyn DynBackend>,
    pub(crate) auth: Arc<Auth>,
    pub(crate) node: String,
    pub(crate) log_poll: Duration,
    pub(crate) started: Timestamp,
}

impl KubeletServer {
    /// A builder for the node `node_name`, serving `backend`. Defaults: a self-signed
    /// certificate for `localhost` and `127.0.0.1`, [`AuthConfig::default`] (no anonymous
    /// access), logs polled every second when following.
    pub fn builder(
        backend: impl KubeletBackend,
        node_name: impl Into<String>,
    ) -> KubeletServerBuilder {
        KubeletServerBuilder {
            backend: Arc::new(backend),
            node: node_name.into(),
            tls: TlsSource::SelfSigned {
                sans: vec!["localhost".into(), "127.0.0.1".into()],
            },
            auth: AuthConfig::default(),
            log_poll: Duration::from_secs(1),
        }
    }

    /// Serves HTTPS on `listener` until `shutdown` completes; open connections then get a few
    /// seconds to finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), Error> {
        let acceptor = tokio_rustls::TlsAcceptor::from(self.tls.clone());
        let app = router(self.state.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            let mut stop = stop_rx.clone();
            connections.spawn(async move {
                let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
                let identity = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .and_then(|cert| identity_from_cert(cert));
                let peer_identity = PeerIdentity(identity);
                let service =
                    app.map_request(move |mut req: http::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(peer_identity.clone());
                        req
                    });
                let service = hyper_util::service::TowerToHyperService::new(service);
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .with_upgrades();
                tokio::pin!(conn);
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    }
                    _ = stop.changed() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(DRAIN_TIMEOUT, conn).await;
                    }
                }
            });
        }
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(DRAIN_TIMEOUT + Duration::from_secs(1), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        connections.abort_all();
        Ok(())
    }
}

impl KubeletServerBuilder {
    /// Where the serving certificate comes from.
    pub fn tls(mut self, tls: TlsSource) -> Self {
        self.tls = tls;
        self
    }

    /// Authentication and authorization.
    pub fn auth(mut self, auth: AuthConfig) -> Self {
        self.auth = auth;
        self
    }

    /// How often a followed log is polled (default 1 s).
    pub fn log_poll_interval(mut self, every: Duration) -> Self {
        self.log_poll = every.max(Duration::from_millis(10));
        self
    }

    /// Validates the configuration and prepares TLS.
    pub fn build(self) -> Result<KubeletServer, Error> {
        let tls = crate::tls::server_config(&self.tls, self.auth.client_ca.as_deref())?;
        let auth = Auth::new(self.auth, self.node.clone());
        Ok(KubeletServer {
            state: Arc::new(AppState {
                backend: self.backend,
                auth,
                node: self.node,
                log_poll: self.log_poll,
                started: Timestamp::now(),
            }),
            tls,
        })
    }

    /// [`build`](Self::build) then [`KubeletServer::serve`].
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), Error> {
        self.build()?.serve(listener, shutdown).await
    }
}

/// A `metav1.Status` error response.
fn status_response(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    });
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.to_string(),
        )
            .into_response()
    }
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let authenticated = Router::new()
        .route("/pods", get(pods))
        .route("/pods/", get(pods))
        .route("/runningpods/", get(running_pods))
        .route("/runningpods", get(running_pods))
        .route("/containerLogs/{ns}/{pod}/{container}", get(container_logs))
        .route("/exec/{ns}/{pod}/{container}", any(exec_handler))
        .route("/exec/{ns}/{pod}/{uid}/{container}", any(exec_with_uid))
        .route("/attach/{ns}/{pod}/{container}", any(attach))
        .route("/attach/{ns}/{pod}/{uid}/{container}", any(attach))
        .route("/portForward/{ns}/{pod}", any(port_forward))
        .route("/portForward/{ns}/{pod}/{uid}", any(port_forward))
        .route("/stats/summary", get(stats_summary))
        .route("/stats/summary/", get(stats_summary))
        .route("/metrics/resource", get(metrics_resource))
        .route("/metrics/resource/", get(metrics_resource))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(authenticated)
        .with_state(state)
}

async fn authenticate(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<PeerIdentity>()
        .and_then(|p| p.0.clone());
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let checked = state
        .auth
        .check(
            peer.as_ref(),
            authorization.as_deref(),
            req.method(),
            req.uri().path(),
        )
        .await;
    match checked {
        Ok(identity) => {
            tracing::debug!(user = %identity.user, path = %req.uri().path(), "authorized");
            next.run(req).await
        }
        Err(Denied::Unauthorized(message)) => (StatusCode::UNAUTHORIZED, message).into_response(),
        Err(Denied::Forbidden(message)) => (StatusCode::FORBIDDEN, message).into_response(),
    }
}

fn pod_list(items: Vec<Pod>) -> Response {
    let body = json!({
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {},
        "items": items,
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn pods(State(state): State<Arc<AppState>>) -> Result<Response, Error> {
    Ok(pod_list(state.backend.pods().await?))
}

async fn running_pods(State(state): State<Arc<AppState>>) -> Result<Response, Error> {
    let pods = state
        .backend
        .pods()
        .await?
        .into_iter()
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .is_some_and(|phase| phase == "Running")
        })
        .collect();
    Ok(pod_list(pods))
}

async fn container_logs(
    State(state): State<Arc<AppState>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Error> {
    let params = logs::LogParams::parse(&query, Timestamp::now())?;
    logs::serve(
        state.backend.clone(),
        ContainerRef {
            namespace,
            pod,
            container,
        },
        params,
        state.log_poll,
    )
    .await
}

async fn exec_handler(
    State(state): State<Arc<AppState>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    req: Request,
) -> Response {
    run_exec(state, namespace, pod, container, &query, req).await
}

async fn exec_with_uid(
    State(state): State<Arc<AppState>>,
    Path((namespace, pod, _uid, container)): Path<(String, String, String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    req: Request,
) -> Response {
    run_exec(state, namespace, pod, container, &query, req).await
}

async fn run_exec(
    state: Arc<AppState>,
    namespace: String,
    pod: String,
    container: String,
    query: &[(String, String)],
    req: Request,
) -> Response {
    let request = match exec::parse_request(query) {
        Ok(r) => r,
        Err(e) => return status_response(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
    };
    let container = ContainerRef {
        namespace,
        pod,
        container,
    };
    exec::handle(state.backend.clone(), container, request, req).await
}

async fn attach() -> Response {
    status_response(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        "attach is not supported by Azure Container Instances: containers have no attachable \
         stdin/stdout session (use kubectl logs -f, or kubectl exec)",
    )
}

async fn port_forward() -> Response {
    status_response(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        "port-forward is not supported by Azure Container Instances: the node cannot open \
         connections into container groups (expose the port through a Service or the group's \
         IP address instead)",
    )
}

async fn collect_stats(state: &AppState) -> Result<(Vec<PodSample>, usize), Error> {
    let pods = state.backend.pods().await?;
    let results = futures::future::join_all(pods.iter().map(|pod| async move {
        let result = state.backend.pod_stats(pod).await;
        (pod, result)
    }))
    .await;
    let mut samples = Vec::new();
    let mut errors = 0usize;
    for (pod, result) in results {
        let meta = &pod.metadata;
        // Every pod is listed; one without figures (not sampled yet, a backend
        // without usage, a failed read) has its containers without usage,
        // like a pod a kubelet has not sampled yet.
        let stats = match result {
            Ok(Some(stats)) => stats,
            Ok(None) => stats::without_usage(pod),
            Err(e) => {
                errors += 1;
                tracing::warn!(
                    pod = ?meta.name, namespace = ?meta.namespace, error = %e,
                    "stats of a pod are unavailable"
                );
                stats::without_usage(pod)
            }
        };
        samples.push(PodSample {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            stats,
        });
    }
    Ok((samples, errors))
}

async fn stats_summary(State(state): State<Arc<AppState>>) -> Result<Response, Error> {
    let (samples, _errors) = collect_stats(&state).await?;
    let summary = stats::summary(&state.node, state.started, &samples);
    Ok(axum::Json(summary).into_response())
}

async fn metrics_resource(State(state): State<Arc<AppState>>) -> Result<Response, Error> {
    let (samples, errors) = collect_stats(&state).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        stats::resource_metrics(&samples, errors),
    )
        .into_response())
}
