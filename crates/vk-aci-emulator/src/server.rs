//! The HTTP server: accept loop, request middleware (faults, counters, request ids).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::{AbortHandle, JoinSet};
use tower::ServiceExt;
use tracing::Instrument;

use crate::admin::AdminHandle;
use crate::apierror::{ApiError, default_code};
use crate::config::EmulatorConfig;
use crate::error::EmulatorError;
use crate::state::{GroupKey, State, random_uuid};

/// State shared by every handler and background task of one emulator.
pub(crate) struct Shared {
    pub(crate) cfg: EmulatorConfig,
    pub(crate) base_url: String,
    state: Mutex<State>,
    pub(crate) dirty: Notify,
    /// ARM throttling and ACI rate quotas.
    pub(crate) throttle: crate::throttle::Throttle,
    group_tasks: Mutex<HashMap<GroupKey, (u64, AbortHandle)>>,
    bg_tasks: Mutex<Vec<AbortHandle>>,
    pub(crate) shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Shared {
    // The state holds secrets (secure environment values, registry passwords):
    // never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Locks the state.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        relock(&self.state)
    }

    /// Signals that persisted state changed.
    pub(crate) fn changed(&self) {
        if self.cfg.state_file.is_some() {
            self.dirty.notify_one();
        }
    }

    /// Spawns the runtime task of a group at `generation`, replacing (aborting)
    /// the task of an older generation.
    pub(crate) fn spawn_group<F>(&self, key: GroupKey, generation: u64, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if *self.shutdown.borrow() {
            return;
        }
        let mut tasks = relock(&self.group_tasks);
        if tasks.get(&key).is_some_and(|(g, _)| *g > generation) {
            // A newer deployment already runs; this one is stale.
            return;
        }
        let handle = tokio::spawn(fut).abort_handle();
        if let Some((_, old)) = tasks.insert(key, (generation, handle)) {
            old.abort();
        }
    }

    /// Aborts the runtime task of a group if it is older than `generation`.
    pub(crate) fn abort_group(&self, key: &GroupKey, generation: u64) {
        let mut tasks = relock(&self.group_tasks);
        if tasks.get(key).is_some_and(|(g, _)| *g < generation)
            && let Some((_, old)) = tasks.remove(key)
        {
            old.abort();
        }
    }

    /// Spawns a background task tied to this emulator.
    pub(crate) fn spawn_bg<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if *self.shutdown.borrow() {
            return;
        }
        let handle = tokio::spawn(fut).abort_handle();
        let mut tasks = relock(&self.bg_tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    fn abort_all(&self) {
        for (_, (_, t)) in relock(&self.group_tasks).drain() {
            t.abort();
        }
        for t in relock(&self.bg_tasks).drain(..) {
            t.abort();
        }
    }
}

/// A running emulator. Dropping it stops the server and all background work
/// (without the final state-file flush that [`RunningEmulator::shutdown`] does).
#[derive(Debug)]
pub struct RunningEmulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl RunningEmulator {
    /// Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). It serves
    /// ARM, the token endpoints and the admin API.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The IMDS token endpoint (`{base}/metadata/identity/oauth2/token`), for
    /// managed-identity credentials whose endpoint is configurable.
    pub fn imds_endpoint(&self) -> String {
        format!("{}/metadata/identity/oauth2/token", self.shared.base_url)
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// In-process admin handle (fault injection, counters, inspection).
    pub fn admin(&self) -> AdminHandle {
        AdminHandle::new(self.shared.clone())
    }

    /// Stops serving, stops all background work and flushes the state file.
    pub async fn shutdown(mut self) -> Result<(), EmulatorError> {
        let _ = self.shared.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.shared.abort_all();
        crate::persist::flush(&self.shared).await
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.shared.shutdown.send(true);
        if let Some(server) = self.server.take() {
            server.abort();
        }
        self.shared.abort_all();
    }
}

/// Error that makes hyper close the connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
struct DropConnection;

pub(crate) async fn start(
    cfg: EmulatorConfig,
    addr: SocketAddr,
) -> Result<RunningEmulator, EmulatorError> {
    cfg.validate()?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| EmulatorError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    let mut state = State {
        quota: cfg.quota,
        unpullable: cfg.unpullable_images.clone(),
        not_found_after_put: cfg.transient_not_found_after_put,
        ..State::default()
    };
    if let Some(path) = &cfg.state_file {
        crate::persist::load(path, &mut state).await?;
    }
    let (shutdown, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        base_url: format!("http://{local}"),
        cfg,
        state: Mutex::new(state),
        dirty: Notify::new(),
        throttle: crate::throttle::Throttle::default(),
        group_tasks: Mutex::new(HashMap::new()),
        bg_tasks: Mutex::new(Vec::new()),
        shutdown,
    });
    crate::runtime::resume_all(&shared);
    if shared.cfg.state_file.is_some() {
        let s = shared.clone();
        shared.spawn_bg(crate::persist::writer(s));
    }
    let router = router(shared.clone());
    let mut stop = shared.shutdown.subscribe();
    let s2 = shared.clone();
    let server = tokio::spawn(
        async move {
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _peer)) => {
                            let shared = s2.clone();
                            let router = router.clone();
                            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                                handle(shared.clone(), router.clone(), req)
                            });
                            conns.spawn(async move {
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), svc)
                                    .with_upgrades()
                                    .await;
                            });
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    },
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
            conns.abort_all();
        }
        .instrument(tracing::info_span!("aci_emulator", addr = %local)),
    );
    tracing::info!(url = %shared.base_url, "ACI emulator listening");
    Ok(RunningEmulator {
        shared,
        addr: local,
        server: Some(server),
    })
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(crate::auth::token_v2))
        .route("/{tenant}/oauth2/token", post(crate::auth::token_v1))
        .route("/metadata/identity/oauth2/token", get(crate::auth::imds))
        .route("/_emulator/exec/{id}", get(crate::exec::ws_handler))
        .route(
            "/subscriptions/{sub}/metrics:getBatch",
            post(crate::metrics::get_batch),
        )
        .merge(crate::admin::routes())
        .fallback(crate::arm::dispatch)
        .with_state(shared)
}

async fn handle(
    shared: Arc<Shared>,
    router: Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let req = req.map(Body::new);
    let request_id = random_uuid();
    let classified = crate::route::classify(req.method(), req.uri().path());
    let client_request_id = req.headers().get("x-ms-client-request-id").cloned();
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        op = classified.as_ref().map_or("admin", |c| c.0),
        request_id = %request_id,
    );
    async move {
        let req = match &classified {
            Some((op, Some(_))) if matches!(*op, "create" | "update" | "exec") => {
                let (parts, body) = req.into_parts();
                let bytes = axum::body::to_bytes(body, 8 << 20)
                    .await
                    .unwrap_or_default();
                crate::arm::record_request(
                    &shared,
                    op,
                    parts.method.as_str(),
                    parts.uri.path(),
                    &bytes,
                );
                Request::from_parts(parts, Body::from(bytes))
            }
            _ => req,
        };
        let mut resp = match &classified {
            Some((op, group)) => {
                let fault = {
                    let mut st = shared.lock();
                    crate::faults::take_fault(&mut st.faults, op, group.as_deref())
                };
                match fault {
                    Some(f) => {
                        tracing::info!(?f, "injecting fault");
                        if let Some(ms) = f.latency_ms {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                        }
                        if f.drop_connection {
                            shared.lock().count(op, 0);
                            return Err(DropConnection);
                        }
                        match f.status.and_then(|s| StatusCode::from_u16(s).ok()) {
                            Some(status) => {
                                let code = f
                                    .code
                                    .clone()
                                    .unwrap_or_else(|| default_code(status).to_owned());
                                let message = f.message.clone().unwrap_or_else(|| {
                                    format!(
                                        "Injected fault: HTTP {} for operation '{op}'.",
                                        status.as_u16()
                                    )
                                });
                                let mut e = ApiError::new(status, &code, message);
                                e.retry_after = f.retry_after_secs;
                                axum::response::IntoResponse::into_response(e)
                            }
                            None => router.oneshot(req).await.unwrap_or_else(|e| match e {}),
                        }
                    }
                    None => router.oneshot(req).await.unwrap_or_else(|e| match e {}),
                }
            }
            None => router.oneshot(req).await.unwrap_or_else(|e| match e {}),
        };
        let headers = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert("x-ms-request-id", v.clone());
            headers.insert("x-ms-correlation-request-id", v.clone());
            headers.insert("x-ms-routing-request-id", v);
        }
        if let Some(v) = client_request_id {
            headers.insert("x-ms-client-request-id", v);
        }
        if let Some((op, _)) = &classified {
            shared.lock().count(op, resp.status().as_u16());
            tracing::debug!(status = resp.status().as_u16(), "answered");
        }
        Ok(resp)
    }
    .instrument(span)
    .await
}
