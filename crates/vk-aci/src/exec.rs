//! Exec sessions: open the WebSocket returned by an exec call, send the password as the first
//! (text) frame, then stream stdin as binary frames and receive the output.
//!
//! ```no_run
//! # async fn demo(
//! #     client: vk_aci::ContainerInstances,
//! #     stdin: impl tokio::io::AsyncRead + Unpin,
//! #     stdout: impl tokio::io::AsyncWrite + Unpin,
//! # ) -> Result<(), vk_aci::Error> {
//! use vk_aci::models::ContainerExecRequest;
//! let answer = client.exec("my-group", "app", &ContainerExecRequest::new("/bin/sh", 24, 80)).await?;
//! let session = vk_aci::exec::connect(&answer).await?;
//! session.bridge(stdin, stdout).await?;
//! # Ok(()) }
//! ```

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{SplitSink, SplitStream};
use futures::{Sink, SinkExt as _, Stream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::error::{Failure, FailureKind, Operation, Target};
use crate::models::ContainerExecResponse;
use crate::{Error, Secret};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// How long connecting (TCP, TLS and the WebSocket handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// An open exec session. Split it into [`ExecWriter`] (a `Sink` of stdin bytes) and
/// [`ExecReader`] (a `Stream` of output bytes), or [`bridge`](Self::bridge) it to byte streams.
#[derive(Debug)]
pub struct ExecSession {
    writer: ExecWriter,
    reader: ExecReader,
}

/// Sends stdin to the container: each item becomes one binary frame.
#[derive(Debug)]
pub struct ExecWriter {
    sink: SplitSink<Socket, Message>,
    host: String,
}

/// Output of the session (one merged terminal stream, as the service sends it); ends when the
/// server closes the socket.
#[derive(Debug)]
pub struct ExecReader {
    stream: SplitStream<Socket>,
    host: String,
}

/// Connects to the session described by an exec answer, using [`tls_config`](crate::tls_config)
/// for `wss://` URIs (`ws://` works too).
pub async fn connect(answer: &ContainerExecResponse) -> Result<ExecSession, Error> {
    let mut tls = crate::http::tls_config()?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    connect_with(answer, Arc::new(tls)).await
}

/// Like [`connect`], with a caller-supplied TLS configuration.
pub async fn connect_with(
    answer: &ContainerExecResponse,
    tls: Arc<rustls::ClientConfig>,
) -> Result<ExecSession, Error> {
    let uri = answer.web_socket_uri.as_deref().unwrap_or_default();
    let host = crate::url::Url::parse(uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let fail = |failure: Failure| session_error(&host, failure);
    if uri.is_empty() {
        return Err(fail(Failure::new(
            FailureKind::InvalidResponse,
            "exec answer has no webSocketUri",
        )));
    }
    let password = answer
        .password
        .clone()
        .unwrap_or_else(|| Secret::new(String::new()));
    let connecting = tokio_tungstenite::connect_async_tls_with_config(
        uri,
        None,
        true,
        Some(Connector::Rustls(tls)),
    );
    let (mut socket, _response) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| {
            fail(Failure::new(
                FailureKind::Timeout,
                "WebSocket connect timed out",
            ))
        })?
        .map_err(|e| fail(ws_failure("WebSocket connect failed", e)))?;
    // The service expects the password before the terminal becomes active.
    socket
        .send(Message::Text(password.into_inner().into()))
        .await
        .map_err(|e| fail(ws_failure("sending the exec password failed", e)))?;
    tracing::debug!(host = %host, "exec session open");
    let (sink, stream) = socket.split();
    Ok(ExecSession {
        writer: ExecWriter {
            sink,
            host: host.clone(),
        },
        reader: ExecReader { stream, host },
    })
}

/// The exec session with `host` failed.
fn session_error(host: &str, failure: Failure) -> Error {
    Error::failed(
        Operation::ExecSession,
        Target::Host(host.to_owned()),
        failure,
    )
}

fn ws_failure(message: &str, err: tokio_tungstenite::tungstenite::Error) -> Failure {
    let mut failure = Failure::new(FailureKind::Transport, message);
    if let tokio_tungstenite::tungstenite::Error::Http(response) = &err {
        failure.status = Some(response.status());
    }
    failure.with_source(err)
}

impl ExecSession {
    /// The two halves.
    pub fn split(self) -> (ExecWriter, ExecReader) {
        (self.writer, self.reader)
    }

    /// Copies `stdin` to the container and its output to `stdout` until the server closes the
    /// session. The end of `stdin` does not end the session (output may still follow).
    pub async fn bridge<R, W>(self, mut stdin: R, mut stdout: W) -> Result<(), Error>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let (mut writer, mut reader) = self.split();
        let host = reader.host.clone();
        let io_error = |what: &str, e: std::io::Error| {
            session_error(&host, Failure::new(FailureKind::Io, what).with_source(e))
        };
        let upload = async {
            let mut buf = vec![0u8; 8192];
            loop {
                let n = stdin
                    .read(&mut buf)
                    .await
                    .map_err(|e| io_error("reading stdin failed", e))?;
                if n == 0 {
                    return Ok::<(), Error>(());
                }
                writer.send(buf[..n].to_vec()).await?;
            }
        };
        let download = async {
            while let Some(chunk) = reader.next().await {
                stdout
                    .write_all(&chunk?)
                    .await
                    .map_err(|e| io_error("writing stdout failed", e))?;
                stdout
                    .flush()
                    .await
                    .map_err(|e| io_error("writing stdout failed", e))?;
            }
            Ok::<(), Error>(())
        };
        tokio::pin!(upload, download);
        let mut uploading = true;
        loop {
            tokio::select! {
                done = &mut download => return done,
                sent = &mut upload, if uploading => {
                    sent?;
                    uploading = false;
                }
            }
        }
    }
}

impl ExecWriter {
    fn error(&self, err: tokio_tungstenite::tungstenite::Error) -> Error {
        session_error(
            &self.host,
            ws_failure("sending to the exec session failed", err),
        )
    }
}

impl Sink<Vec<u8>> for ExecWriter {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.sink)
            .poll_ready(cx)
            .map_err(|e| self.error(e))
    }

    fn start_send(mut self: Pin<&mut Self>, item: Vec<u8>) -> Result<(), Error> {
        Pin::new(&mut self.sink)
            .start_send(Message::Binary(item.into()))
            .map_err(|e| self.error(e))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.sink)
            .poll_flush(cx)
            .map_err(|e| self.error(e))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.sink)
            .poll_close(cx)
            .map_err(|e| self.error(e))
    }
}

impl Stream for ExecReader {
    type Item = Result<Vec<u8>, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let next = match Pin::new(&mut self.stream).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(next) => next,
            };
            return Poll::Ready(match next {
                None | Some(Ok(Message::Close(_))) => None,
                Some(Ok(Message::Binary(bytes))) => Some(Ok(bytes.to_vec())),
                Some(Ok(Message::Text(text))) => Some(Ok(text.as_bytes().to_vec())),
                Some(Ok(_)) => continue, // ping, pong, raw frames
                Some(Err(tokio_tungstenite::tungstenite::Error::ConnectionClosed)) => None,
                Some(Err(err)) => Some(Err(session_error(
                    &self.host,
                    ws_failure("receiving from the exec session failed", err),
                ))),
            });
        }
    }
}
