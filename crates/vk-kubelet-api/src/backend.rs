//! What a provider implements: [`KubeletBackend`].

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use k8s_openapi::api::core::v1::Pod;
use tokio::sync::mpsc;

use crate::Error;
use crate::stats::PodStats;

/// A container of a pod.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContainerRef {
    /// Namespace of the pod.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub container: String,
}

impl std::fmt::Display for ContainerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.namespace, self.pod, self.container)
    }
}

/// What the server asks a backend for when it needs logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogRequest {
    /// Only the last N lines.
    pub tail_lines: Option<u64>,
    /// Prefix each line with its RFC 3339 timestamp and a space (the server always asks for
    /// them: following and `sinceTime` rely on them; it strips them when the client did not
    /// ask).
    pub timestamps: bool,
    /// Logs of the previous instance of the container.
    pub previous: bool,
}

/// The command of an exec request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecRequest {
    /// argv.
    pub command: Vec<String>,
    /// The client sends stdin.
    pub stdin: bool,
    /// The client wants stdout.
    pub stdout: bool,
    /// The client wants stderr (never with a TTY: its output goes to stdout).
    pub stderr: bool,
    /// Allocate a terminal.
    pub tty: bool,
}

/// A terminal size sent by the client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub struct TerminalSize {
    /// Columns.
    #[serde(rename = "Width")]
    pub width: u16,
    /// Rows.
    #[serde(rename = "Height")]
    pub height: u16,
}

/// The streams of an exec session, as seen by the backend.
#[derive(Debug)]
pub struct ExecIo {
    /// Bytes the client typed; closed at the client's end of input (or when it sent none).
    pub stdin: mpsc::Receiver<Bytes>,
    /// Output for the client's stdout.
    pub stdout: mpsc::Sender<Bytes>,
    /// Output for the client's stderr (with a TTY, send everything to `stdout`).
    pub stderr: mpsc::Sender<Bytes>,
    /// Terminal size changes (TTY sessions).
    pub resize: mpsc::Receiver<TerminalSize>,
}

/// How an exec'd command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code (0 is success).
    Code(i32),
    /// The backend cannot tell (real ACI has no exit-status channel): reported as success.
    Unknown,
}

/// The provider side of the kubelet API. Implement it for a runtime; the server does the HTTP,
/// streaming protocols, authentication and authorization.
///
/// Errors map to HTTP statuses: [`Error::NotFound`] → 404, [`Error::BadRequest`] and
/// [`Error::Unsupported`] → 400, anything else → 500.
pub trait KubeletBackend: Send + Sync + 'static {
    /// The container's log, one line per `\n`, with timestamps when `request.timestamps`.
    fn logs(
        &self,
        container: &ContainerRef,
        request: &LogRequest,
    ) -> impl Future<Output = Result<String, Error>> + Send;

    /// Whether [`logs`](Self::logs) can serve `previous` (ACI cannot: a restarted container's
    /// earlier logs are gone).
    fn supports_previous_logs(&self) -> bool {
        false
    }

    /// Whether the container has ended for good, so that a followed log can end (as the
    /// kubelet's does when the container exits). Default: never.
    fn container_finished(&self, container: &ContainerRef) -> impl Future<Output = bool> + Send {
        let _ = container;
        async { false }
    }

    /// Runs a command in the container, streaming through `io`, until it ends.
    fn exec(
        &self,
        container: &ContainerRef,
        request: ExecRequest,
        io: ExecIo,
    ) -> impl Future<Output = Result<ExitStatus, Error>> + Send;

    /// The pods this node runs.
    fn pods(&self) -> impl Future<Output = Result<Vec<Pod>, Error>> + Send;

    /// Resource usage of one pod; `Ok(None)` when unknown.
    fn pod_stats(&self, pod: &Pod) -> impl Future<Output = Result<Option<PodStats>, Error>> + Send {
        let _ = pod;
        async { Ok(None) }
    }
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Object-safe form of [`KubeletBackend`], used inside the server.
pub(crate) trait DynBackend: Send + Sync + 'static {
    fn logs<'a>(
        &'a self,
        container: &'a ContainerRef,
        request: &'a LogRequest,
    ) -> BoxFuture<'a, Result<String, Error>>;
    fn supports_previous_logs(&self) -> bool;
    fn container_finished<'a>(&'a self, container: &'a ContainerRef) -> BoxFuture<'a, bool>;
    fn exec<'a>(
        &'a self,
        container: &'a ContainerRef,
        request: ExecRequest,
        io: ExecIo,
    ) -> BoxFuture<'a, Result<ExitStatus, Error>>;
    fn pods(&self) -> BoxFuture<'_, Result<Vec<Pod>, Error>>;
    fn pod_stats<'a>(&'a self, pod: &'a Pod) -> BoxFuture<'a, Result<Option<PodStats>, Error>>;
}

impl<B: KubeletBackend> DynBackend for B {
    fn logs<'a>(
        &'a self,
        container: &'a ContainerRef,
        request: &'a LogRequest,
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(KubeletBackend::logs(self, container, request))
    }
    fn supports_previous_logs(&self) -> bool {
        KubeletBackend::supports_previous_logs(self)
    }
    fn container_finished<'a>(&'a self, container: &'a ContainerRef) -> BoxFuture<'a, bool> {
        Box::pin(KubeletBackend::container_finished(self, container))
    }
    fn exec<'a>(
        &'a self,
        container: &'a ContainerRef,
        request: ExecRequest,
        io: ExecIo,
    ) -> BoxFuture<'a, Result<ExitStatus, Error>> {
        Box::pin(KubeletBackend::exec(self, container, request, io))
    }
    fn pods(&self) -> BoxFuture<'_, Result<Vec<Pod>, Error>> {
        Box::pin(KubeletBackend::pods(self))
    }
    fn pod_stats<'a>(&'a self, pod: &'a Pod) -> BoxFuture<'a, Result<Option<PodStats>, Error>> {
        Box::pin(KubeletBackend::pod_stats(self, pod))
    }
}

impl<B: KubeletBackend> KubeletBackend for std::sync::Arc<B> {
    fn logs(
        &self,
        container: &ContainerRef,
        request: &LogRequest,
    ) -> impl Future<Output = Result<String, Error>> + Send {
        B::logs(self, container, request)
    }
    fn supports_previous_logs(&self) -> bool {
        B::supports_previous_logs(self)
    }
    fn container_finished(&self, container: &ContainerRef) -> impl Future<Output = bool> + Send {
        B::container_finished(self, container)
    }
    fn exec(
        &self,
        container: &ContainerRef,
        request: ExecRequest,
        io: ExecIo,
    ) -> impl Future<Output = Result<ExitStatus, Error>> + Send {
        B::exec(self, container, request, io)
    }
    fn pods(&self) -> impl Future<Output = Result<Vec<Pod>, Error>> + Send {
        B::pods(self)
    }
    fn pod_stats(&self, pod: &Pod) -> impl Future<Output = Result<Option<PodStats>, Error>> + Send {
        B::pod_stats(self, pod)
    }
}
