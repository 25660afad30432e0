//! `/exec/{ns}/{pod}/{container}`: the Kubernetes remote-command protocol over WebSocket
//! ([`websocket`]: `v5.channel.k8s.io`, `v4.channel.k8s.io`, `channel.k8s.io` and their
//! base64 forms) and SPDY/3.1 ([`spdy`]: `v4.channel.k8s.io`), bridged to
//! [`KubeletBackend::exec`](crate::KubeletBackend::exec).
//!
//! The command's end is reported as the kubelet does, on the error stream: a `metav1.Status`
//! with `status: Success`, or `status: Failure, reason: NonZeroExitCode` and
//! `details.causes[{reason: ExitCode, message: "<code>"}]`, or an `InternalError` status when the
//! backend failed.

pub(crate) mod spdy;
pub(crate) mod websocket;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::FromRequestParts as _;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Error;
use crate::backend::{ContainerRef, DynBackend, ExecIo, ExecRequest, ExitStatus, TerminalSize};
use crate::logs::parse_bool;

/// Parses the kubelet's exec query: repeated `command`, and the `stdin`, `stdout`, `stderr`
/// and `tty` flags.
pub(crate) fn parse_request(pairs: &[(String, String)]) -> Result<ExecRequest, Error> {
    let mut request = ExecRequest::default();
    for (name, value) in pairs {
        match name.as_str() {
            "command" => request.command.push(value.clone()),
            "input" | "stdin" => request.stdin = parse_bool(name, value)?,
            "output" | "stdout" => request.stdout = parse_bool(name, value)?,
            "error" | "stderr" => request.stderr = parse_bool(name, value)?,
            "tty" => request.tty = parse_bool(name, value)?,
            _ => {}
        }
    }
    if request.command.is_empty() {
        return Err(Error::BadRequest("no command specified".into()));
    }
    if !(request.stdin || request.stdout || request.stderr) {
        return Err(Error::BadRequest(
            "you must specify at least 1 of stdin, stdout, stderr".into(),
        ));
    }
    if request.tty {
        // The kubelet never opens a stderr stream with a TTY.
        request.stderr = false;
    }
    Ok(request)
}

/// The error-stream `metav1.Status` for how the command ended.
pub(crate) fn status_json(result: &Result<ExitStatus, Error>) -> Vec<u8> {
    let value = match result {
        Ok(ExitStatus::Code(0) | ExitStatus::Unknown) => json!({
            "metadata": {},
            "status": "Success",
        }),
        Ok(ExitStatus::Code(code)) => {
            // Clients parse the code as an 8-bit unsigned integer.
            let code = code.rem_euclid(256);
            json!({
                "metadata": {},
                "status": "Failure",
                "message": format!("command terminated with non-zero exit code: exit status {code}"),
                "reason": "NonZeroExitCode",
                "details": { "causes": [ { "reason": "ExitCode", "message": code.to_string() } ] },
            })
        }
        Err(e) => {
            let message = format!("error executing command in container: {e}");
            json!({
                "metadata": {},
                "status": "Failure",
                "message": format!("Internal error occurred: {message}"),
                "reason": "InternalError",
                "details": { "causes": [ { "message": message } ] },
                "code": 500,
            })
        }
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

/// The server's ends of a running exec.
pub(crate) struct Running {
    /// Stdin to the backend; `None` once closed.
    pub(crate) stdin: Option<mpsc::Sender<Bytes>>,
    pub(crate) stdout: mpsc::Receiver<Bytes>,
    pub(crate) stderr: mpsc::Receiver<Bytes>,
    pub(crate) resize: mpsc::Sender<TerminalSize>,
    /// The backend's task; aborted if the session is dropped before it ends.
    done: Option<JoinHandle<Result<ExitStatus, Error>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = self.done.take() {
            task.abort();
        }
    }
}

impl Running {
    /// Starts the backend's exec.
    pub(crate) fn start(
        backend: Arc<dyn DynBackend>,
        container: ContainerRef,
        request: ExecRequest,
    ) -> Self {
        let (stdin_tx, stdin_rx) = mpsc::channel(16);
        let (stdout_tx, stdout_rx) = mpsc::channel(16);
        let (stderr_tx, stderr_rx) = mpsc::channel(16);
        let (resize_tx, resize_rx) = mpsc::channel(4);
        let wants_stdin = request.stdin;
        let io = ExecIo {
            stdin: stdin_rx,
            stdout: stdout_tx,
            stderr: stderr_tx,
            resize: resize_rx,
        };
        let done = tokio::spawn(async move { backend.exec(&container, request, io).await });
        Self {
            stdin: wants_stdin.then_some(stdin_tx),
            stdout: stdout_rx,
            stderr: stderr_rx,
            resize: resize_tx,
            done: Some(done),
        }
    }

    /// The backend's result once its task ended.
    pub(crate) async fn finish(mut self) -> Result<ExitStatus, Error> {
        let Some(task) = self.done.take() else {
            return Err(Error::Stream("exec already finished".into()));
        };
        match task.await {
            Ok(result) => result,
            Err(e) => Err(Error::Stream(format!("exec task failed: {e}"))),
        }
    }

    /// Stops the backend's command (the client went away).
    pub(crate) fn abort(&mut self) {
        if let Some(task) = self.done.take() {
            task.abort();
        }
    }
}

/// Stdin on its way from the client to the backend.
///
/// The session loops must not await the backend's stdin channel inside the loop: a backend
/// that writes its output before it reads more input (`cat`, the ACI bridge) blocks on a full
/// stdout channel while the loop blocks on a full stdin channel, and the session hangs. So
/// received stdin is queued here and delivered by [`flush`](Self::flush), one branch of the
/// loop's `select!`, while output keeps flowing; the loop reads nothing more from the client
/// until the queue is empty ([`is_idle`](Self::is_idle)), which keeps back-pressure on the
/// client.
#[derive(Debug)]
pub(crate) struct StdinPipe {
    tx: Option<mpsc::Sender<Bytes>>,
    queue: std::collections::VecDeque<Bytes>,
    close_when_flushed: bool,
}

impl StdinPipe {
    /// A pipe to the backend's stdin; `None` when the command takes no stdin.
    pub(crate) fn new(tx: Option<mpsc::Sender<Bytes>>) -> Self {
        Self {
            tx,
            queue: std::collections::VecDeque::new(),
            close_when_flushed: false,
        }
    }

    /// Nothing waits to be delivered: the loop may read from the client.
    pub(crate) fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues data for the backend (dropped if stdin is closed).
    pub(crate) fn push(&mut self, data: Bytes) {
        if self.tx.is_some() && !self.close_when_flushed {
            self.queue.push_back(data);
        }
    }

    /// Closes stdin once the queued data is delivered.
    pub(crate) fn close(&mut self) {
        if self.queue.is_empty() {
            self.tx = None;
        } else {
            self.close_when_flushed = true;
        }
    }

    /// Delivers the queued data, waiting for room in the backend's channel. Cancel-safe: what
    /// is not delivered stays queued. If the backend dropped its stdin, the data is discarded.
    pub(crate) async fn flush(&mut self) {
        while !self.queue.is_empty() {
            let Some(tx) = &self.tx else {
                self.queue.clear();
                break;
            };
            let Ok(permit) = tx.reserve().await else {
                // The backend no longer reads stdin.
                self.tx = None;
                self.queue.clear();
                break;
            };
            if let Some(data) = self.queue.pop_front() {
                permit.send(data);
            }
        }
        if self.close_when_flushed {
            self.tx = None;
        }
    }
}

/// Parses resize messages: a stream of `{"Width":…,"Height":…}` JSON objects.
#[derive(Debug, Default)]
pub(crate) struct ResizeDecoder {
    buf: Vec<u8>,
}

impl ResizeDecoder {
    pub(crate) fn push(&mut self, data: &[u8]) -> Vec<TerminalSize> {
        self.buf.extend_from_slice(data);
        let mut sizes = Vec::new();
        let mut consumed = 0;
        {
            let mut stream =
                serde_json::Deserializer::from_slice(&self.buf).into_iter::<TerminalSize>();
            while let Some(Ok(size)) = stream.next() {
                sizes.push(size);
                consumed = stream.byte_offset();
            }
        }
        self.buf.drain(..consumed);
        if self.buf.len() > 4096 {
            self.buf.clear();
        }
        sizes
    }
}

fn header_values(req: &Request<Body>, name: &str) -> Vec<String> {
    req.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

fn error_response(status: StatusCode, message: String) -> Response {
    (status, message).into_response()
}

/// Handles an exec request: upgrades to WebSocket or SPDY/3.1 and runs the session.
pub(crate) async fn handle(
    backend: Arc<dyn DynBackend>,
    container: ContainerRef,
    request: ExecRequest,
    req: Request<Body>,
) -> Response {
    let upgrade = header_values(&req, "upgrade")
        .into_iter()
        .map(|v| v.to_ascii_lowercase())
        .collect::<Vec<_>>();
    if upgrade.iter().any(|u| u == "websocket") {
        let offered = header_values(&req, "sec-websocket-protocol");
        let Some(protocol) = websocket::negotiate(&offered) else {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!(
                    "unable to upgrade: none of the WebSocket subprotocols {offered:?} is \
                     supported (want {})",
                    websocket::PROTOCOLS.join(", ")
                ),
            );
        };
        let (mut parts, _body) = req.into_parts();
        let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(ws) => ws,
            Err(rejection) => return rejection.into_response(),
        };
        return ws
            .protocols([protocol.name])
            .on_upgrade(move |socket| async move {
                let running = Running::start(backend, container.clone(), request.clone());
                if let Err(e) = websocket::serve(socket, protocol, request, running).await {
                    tracing::debug!(%container, error = %e, "exec WebSocket session ended");
                }
            });
    }
    if upgrade.iter().any(|u| u == "spdy/3.1") {
        let offered = header_values(&req, "x-stream-protocol-version");
        let Some(protocol) = spdy::negotiate(&offered) else {
            return error_response(
                StatusCode::FORBIDDEN,
                format!(
                    "unable to upgrade: unable to negotiate protocol: client supports {offered:?}, \
                     server supports [{}]",
                    spdy::PROTOCOLS.join(", ")
                ),
            );
        };
        let on_upgrade = hyper::upgrade::on(req);
        tokio::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(u) => u,
                Err(e) => {
                    tracing::debug!(error = %e, "SPDY upgrade failed");
                    return;
                }
            };
            let io = hyper_util::rt::TokioIo::new(upgraded);
            if let Err(e) = spdy::session::serve_exec(io, backend, container.clone(), request).await
            {
                tracing::debug!(%container, error = %e, "exec SPDY session ended");
            }
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        headers.insert(
            "x-stream-protocol-version",
            HeaderValue::from_static(protocol),
        );
        return response;
    }
    error_response(
        StatusCode::BAD_REQUEST,
        "unable to upgrade: missing upgrade headers in request (exec needs a WebSocket or \
         SPDY/3.1 upgrade)"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn parses_the_kubelet_query() {
        let r = parse_request(&pairs(&[
            ("command", "sh"),
            ("command", "-c"),
            ("command", "echo hi"),
            ("stdout", "true"),
            ("stderr", "1"),
        ]))
        .unwrap();
        assert_eq!(r.command, ["sh", "-c", "echo hi"]);
        assert!(r.stdout && r.stderr && !r.stdin && !r.tty);
        assert!(parse_request(&pairs(&[("stdout", "true")])).is_err());
        assert!(parse_request(&pairs(&[("command", "x")])).is_err());
        let tty = parse_request(&pairs(&[
            ("command", "x"),
            ("tty", "true"),
            ("stderr", "true"),
        ]))
        .unwrap();
        assert!(!tty.stderr);
    }

    #[test]
    fn statuses_match_the_kubelet() {
        let ok: serde_json::Value =
            serde_json::from_slice(&status_json(&Ok(ExitStatus::Code(0)))).unwrap();
        assert_eq!(ok["status"], "Success");
        let unknown: serde_json::Value =
            serde_json::from_slice(&status_json(&Ok(ExitStatus::Unknown))).unwrap();
        assert_eq!(unknown["status"], "Success");
        let three: serde_json::Value =
            serde_json::from_slice(&status_json(&Ok(ExitStatus::Code(3)))).unwrap();
        assert_eq!(three["status"], "Failure");
        assert_eq!(three["reason"], "NonZeroExitCode");
        assert_eq!(three["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(three["details"]["causes"][0]["message"], "3");
        let neg: serde_json::Value =
            serde_json::from_slice(&status_json(&Ok(ExitStatus::Code(-1)))).unwrap();
        assert_eq!(neg["details"]["causes"][0]["message"], "255");
        let err: serde_json::Value =
            serde_json::from_slice(&status_json(&Err(Error::NotFound("gone".into())))).unwrap();
        assert_eq!(err["reason"], "InternalError");
    }

    #[test]
    fn resize_messages_may_be_split() {
        let mut d = ResizeDecoder::default();
        assert!(d.push(br#"{"Width":80,"#).is_empty());
        assert_eq!(
            d.push(br#""Height":24}{"Width":100,"Height":30}"#),
            [
                TerminalSize {
                    width: 80,
                    height: 24
                },
                TerminalSize {
                    width: 100,
                    height: 30
                }
            ]
        );
    }
}
