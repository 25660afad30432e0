//! Entry points for fuzzing (`fuzz/`) and hostile-input tests (`crates/vk-hostile-tests`).
//!
//! **Not a stable API**: hidden from the documentation, exempt from semver, and changed
//! whenever the code it reaches changes. It exists so that fuzz targets and hostile-input tests
//! run the crate's *private* decoders as they are, rather than copies of their source or the
//! whole HTTPS server:
//!
//! - SPDY/3.1 (`exec::spdy`): [`spdy_stream`] decodes a byte stream into frames and header
//!   blocks as an exec connection does; [`spdy_decode_headers`], [`spdy_decompress_headers`]
//!   and [`spdy_compress_headers`] reach the header-block codec;
//! - WebSocket (`exec::websocket`): [`websocket_decode`] decodes one client message into its
//!   channel and payload; [`resize_decode`] parses terminal sizes; [`websocket_session`] runs a
//!   whole exec session through the real session loop, in memory, against an echo backend;
//! - [`spdy_frames`] and [`websocket_channel`] take one fuzzer input each, and panic when an
//!   invariant breaks (they are the `fuzz/` targets of the same names).
//!
//! The functions panic on broken invariants *of the code under test* (a frame that does not
//! re-encode to itself, a server message on an unknown channel, a session that hangs), never
//! on hostile input as such. The module is compiled in every build (no cargo feature): it adds
//! no dependency, unused functions are not linked, and the crate's tests and lints cover it.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::Message;
use bytes::BytesMut;
use futures::{Stream, StreamExt as _};
use k8s_openapi::api::core::v1::Pod;
use tokio::sync::{mpsc, oneshot};

use crate::Error;
use crate::backend::{
    ContainerRef, ExecIo, ExecRequest, ExitStatus, KubeletBackend, LogRequest, TerminalSize,
};
use crate::exec::spdy::compress::{self, HeaderCompressor, HeaderDecompressor};
use crate::exec::spdy::frame::{self, Frame};
use crate::exec::{ResizeDecoder, Running, websocket};

/// A header list: lowercase names and values (NUL-separated when several).
pub type Headers = Vec<(String, String)>;

/// Largest SPDY frame payload an exec connection accepts.
pub const SPDY_MAX_FRAME_LEN: usize = frame::MAX_FRAME_LEN;

/// Size of a SPDY frame header.
pub const SPDY_HEADER_LEN: usize = frame::HEADER_LEN;

/// What [`spdy_stream`] decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpdyStream {
    /// Frames decoded (unknown control frames, which are skipped, not counted).
    pub frames: usize,
    /// Payload bytes of DATA frames.
    pub data_bytes: usize,
    /// Decompressed header blocks of SYN_STREAM, SYN_REPLY and HEADERS frames, in order.
    pub headers: Vec<Headers>,
    /// Bytes left buffered at the end (an incomplete frame).
    pub buffered: usize,
}

/// Decodes a SPDY/3.1 byte stream as an exec connection's frame reader does: `data` arrives
/// `chunk` bytes at a time (0: all at once), frames are decoded as soon as they are complete,
/// and header blocks go through one connection-wide decompressor. Stops at the first error,
/// as the connection would (GOAWAY).
///
/// # Panics
///
/// If a decoded frame does not re-encode to bytes that decode to the same frame, if more than
/// one maximal frame is ever buffered, if a header block over the 256 KiB limit is accepted,
/// or if a decompressed header block does not survive compression and decompression (names
/// lowercased).
pub fn spdy_stream(data: &[u8], chunk: usize) -> Result<SpdyStream, Error> {
    let chunk = if chunk == 0 { data.len().max(1) } else { chunk };
    let mut out = SpdyStream::default();
    let mut buf = BytesMut::new();
    let mut rx = HeaderDecompressor::new();
    // A peer answering with the same headers: checks the compressor on whatever decodes.
    let mut echo_tx = HeaderCompressor::new()?;
    let mut echo_rx = HeaderDecompressor::new();
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            let before = buf.len();
            let Some(frame) = Frame::decode(&mut buf)? else {
                if buf.len() == before {
                    assert!(
                        buf.len() <= SPDY_MAX_FRAME_LEN + SPDY_HEADER_LEN,
                        "{} bytes buffered",
                        buf.len()
                    );
                    break;
                }
                continue; // an unknown control frame was skipped
            };
            let mut encoded = BytesMut::new();
            frame.encode(&mut encoded).expect("a decoded frame encodes");
            let again = Frame::decode(&mut encoded)
                .expect("a re-encoded frame decodes")
                .expect("a re-encoded frame is complete");
            assert_eq!(again, frame, "frame does not survive re-encoding");
            assert!(encoded.is_empty(), "re-encoding left bytes over");
            out.frames += 1;
            match &frame {
                Frame::SynStream { header_block, .. }
                | Frame::SynReply { header_block, .. }
                | Frame::Headers { header_block, .. } => {
                    let headers = rx.decompress(header_block)?;
                    check_block_limit(&headers);
                    let lower: Headers = headers
                        .iter()
                        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                        .collect();
                    let block = echo_tx.compress(&headers)?;
                    assert_eq!(
                        echo_rx.decompress(&block).expect("own block decompresses"),
                        lower,
                        "headers do not survive compression"
                    );
                    out.headers.push(headers);
                }
                Frame::Data { data, .. } => out.data_bytes += data.len(),
                _ => {}
            }
        }
    }
    out.buffered = buf.len();
    Ok(out)
}

/// A decompressed header block never exceeds the decompressor's limit.
fn check_block_limit(headers: &Headers) {
    let len = compress::encode_headers(headers).len();
    assert!(
        len <= compress::MAX_HEADER_BLOCK,
        "a {len} byte header block was accepted"
    );
}

/// Parses an uncompressed header block.
pub fn spdy_decode_headers(block: &[u8]) -> Result<Headers, Error> {
    compress::decode_headers(block)
}

/// Decompresses header blocks in order through one decompressor (one direction of one
/// connection); stops at the first error.
///
/// # Panics
///
/// If a block larger than the decompressor's limit (256 KiB) is accepted.
pub fn spdy_decompress_headers(blocks: &[&[u8]]) -> Result<Vec<Headers>, Error> {
    let mut rx = HeaderDecompressor::new();
    blocks
        .iter()
        .map(|block| {
            let headers = rx.decompress(block)?;
            check_block_limit(&headers);
            Ok(headers)
        })
        .collect()
}

/// Compresses header lists in order through one compressor, as a peer would send them.
pub fn spdy_compress_headers(blocks: &[Headers]) -> Result<Vec<Vec<u8>>, Error> {
    let mut tx = HeaderCompressor::new()?;
    blocks.iter().map(|headers| tx.compress(headers)).collect()
}

/// The SPDY/3 zlib dictionary.
pub fn spdy_dictionary() -> &'static [u8] {
    &compress::DICTIONARY
}

/// One fuzzer input through the SPDY decoders.
///
/// The first byte chooses the mode. Odd: the rest is parsed as one uncompressed header block,
/// and as a sequence of compressed blocks (each prefixed by a one-byte length) on one
/// connection. Even: the rest is a connection's byte stream for [`spdy_stream`], delivered in
/// pieces of `7 * max(1, byte >> 1)` bytes.
///
/// # Panics
///
/// When [`spdy_stream`] does.
pub fn spdy_frames(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        let _ = spdy_decode_headers(rest);
        let mut blocks = Vec::new();
        let mut input = rest;
        while let Some((&n, tail)) = input.split_first() {
            let (block, tail) = tail.split_at(usize::from(n).min(tail.len()));
            blocks.push(block);
            input = tail;
        }
        let _ = spdy_decompress_headers(&blocks);
        return;
    }
    let _ = spdy_stream(rest, usize::from(mode >> 1).max(1) * 7);
}

/// Subprotocols of exec over WebSocket, in the server's order of preference.
pub const WEBSOCKET_PROTOCOLS: &[&str] = websocket::PROTOCOLS;

/// A WebSocket message from the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsMessage {
    /// A binary message.
    Binary(Vec<u8>),
    /// A text message.
    Text(String),
    /// A ping.
    Ping(Vec<u8>),
    /// A close message.
    Close,
}

impl From<WsMessage> for Message {
    fn from(message: WsMessage) -> Self {
        match message {
            WsMessage::Binary(data) => Message::Binary(data.into()),
            WsMessage::Text(text) => Message::Text(text.into()),
            WsMessage::Ping(data) => Message::Ping(data.into()),
            WsMessage::Close => Message::Close(None),
        }
    }
}

fn protocol(name: &str) -> Result<websocket::Protocol, Error> {
    websocket::negotiate(&[name.to_owned()])
        .ok_or_else(|| Error::BadRequest(format!("unsupported WebSocket protocol {name:?}")))
}

/// Decodes one client message of an exec session under `protocol` (one of
/// [`WEBSOCKET_PROTOCOLS`]) as the server does: `Ok(Some((channel, payload)))` for a channel
/// message, `Ok(None)` for messages the server ignores.
pub fn websocket_decode(
    protocol_name: &str,
    message: WsMessage,
) -> Result<Option<(u8, Vec<u8>)>, Error> {
    websocket::decode(protocol(protocol_name)?, message.into())
}

/// Terminal sizes parsed from resize-channel payloads, in order, with one decoder (a JSON
/// object may be split across messages).
pub fn resize_decode(payloads: &[&[u8]]) -> Vec<TerminalSize> {
    let mut decoder = ResizeDecoder::default();
    payloads.iter().flat_map(|p| decoder.push(p)).collect()
}

/// How the echo backend of [`websocket_session`] ends its command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EchoEnd {
    /// It exits with this code.
    Exit(i32),
    /// It fails (a backend error).
    Fail,
}

/// An in-memory exec session over WebSocket.
#[derive(Clone, Debug)]
pub struct WsSession {
    /// The negotiated subprotocol, one of [`WEBSOCKET_PROTOCOLS`].
    pub protocol: String,
    /// The exec request (`stdout` is what the server streams; see [`ExecRequest`]).
    pub request: ExecRequest,
    /// How the command ends once the server has handled every client message.
    pub end: EchoEnd,
    /// What the client sends, in order.
    pub messages: Vec<WsMessage>,
    /// After its messages the client goes away (end of stream) instead of waiting for the end.
    pub hang_up: bool,
}

/// What the server did in a [`websocket_session`].
#[derive(Debug)]
pub struct WsTranscript {
    /// The server's channel messages, decoded: `(channel, payload)`.
    pub frames: Vec<(u8, Vec<u8>)>,
    /// The server closed the socket (after the final status).
    pub closed: bool,
    /// What the session loop returned.
    pub result: Result<(), Error>,
}

impl WsTranscript {
    /// Everything the server sent on `channel`, concatenated.
    pub fn channel(&self, channel: u8) -> Vec<u8> {
        self.frames
            .iter()
            .filter(|(c, _)| *c == channel)
            .flat_map(|(_, data)| data.iter().copied())
            .collect()
    }
}

/// The backend of [`websocket_session`]: copies stdin to stdout and terminal sizes to stderr
/// (`"{width}x{height}\n"`) until the client's messages are all handled, then ends as told.
struct Echo {
    end: EchoEnd,
    handled: Mutex<Option<oneshot::Receiver<()>>>,
}

impl KubeletBackend for Echo {
    async fn logs(&self, _: &ContainerRef, _: &LogRequest) -> Result<String, Error> {
        Ok(String::new())
    }

    async fn exec(
        &self,
        _: &ContainerRef,
        _: ExecRequest,
        mut io: ExecIo,
    ) -> Result<ExitStatus, Error> {
        let handled = self.handled.lock().ok().and_then(|mut h| h.take());
        if let Some(mut handled) = handled {
            let mut stdin_open = true;
            loop {
                tokio::select! {
                    biased;
                    data = io.stdin.recv(), if stdin_open => match data {
                        Some(data) => {
                            let _ = io.stdout.send(data).await;
                        }
                        None => stdin_open = false,
                    },
                    Some(size) = io.resize.recv() => {
                        let line = format!("{}x{}\n", size.width, size.height);
                        let _ = io.stderr.send(line.into()).await;
                    }
                    _ = &mut handled => break,
                }
            }
        }
        // The server has handed over all stdin the client sent: copy what is left.
        while let Ok(data) = io.stdin.try_recv() {
            let _ = io.stdout.send(data).await;
        }
        match self.end {
            EchoEnd::Exit(code) => Ok(ExitStatus::Code(code)),
            EchoEnd::Fail => Err(Error::Backend {
                message: "backend failed".into(),
                source: None,
            }),
        }
    }

    async fn pods(&self) -> Result<Vec<Pod>, Error> {
        Ok(Vec::new())
    }
}

/// The client's side of the socket as the server reads it: the scripted messages; then, once
/// the server asks for more (so it has handled them all), it tells the backend and either ends
/// (hang-up) or waits for the server's close and answers it.
struct Script {
    messages: VecDeque<Message>,
    hang_up: bool,
    handled: Option<oneshot::Sender<()>>,
    close_reply: mpsc::UnboundedReceiver<Message>,
}

impl Stream for Script {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(message) = self.messages.pop_front() {
            return Poll::Ready(Some(Ok(message)));
        }
        if self.hang_up {
            return Poll::Ready(None);
        }
        if let Some(handled) = self.handled.take() {
            let _ = handled.send(());
        }
        self.close_reply.poll_recv(cx).map(|m| m.map(Ok))
    }
}

/// How long an in-memory session may take before it counts as hung.
const SESSION_LIMIT: Duration = Duration::from_secs(10);

/// Runs one exec session through the server's WebSocket session loop, in memory (no TLS, no
/// HTTP upgrade), against an echo backend.
///
/// # Panics
///
/// If the protocol is not one of [`WEBSOCKET_PROTOCOLS`], if the server sends a message that is
/// not a channel message of the negotiated kind (binary, or base64 text) on channel 1, 2 or 3,
/// or if the session does not end within 10 seconds.
pub fn websocket_session(session: &WsSession) -> WsTranscript {
    let protocol = protocol(&session.protocol).expect("a supported protocol");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(async {
        let (handled_tx, handled_rx) = oneshot::channel();
        let backend = Arc::new(Echo {
            end: session.end,
            handled: Mutex::new(Some(handled_rx)),
        });
        let container = ContainerRef {
            namespace: "ns".into(),
            pod: "pod".into(),
            container: "app".into(),
        };
        let running = Running::start(backend, container, session.request.clone());
        let (reply_tx, reply_rx) = mpsc::unbounded_channel();
        let script = Script {
            messages: session
                .messages
                .iter()
                .cloned()
                .map(Message::from)
                .collect(),
            hang_up: session.hang_up,
            handled: Some(handled_tx),
            close_reply: reply_rx,
        };
        let (out_tx, mut out_rx) = futures::channel::mpsc::unbounded::<Message>();
        let server =
            websocket::serve_messages(out_tx, script, protocol, session.request.clone(), running);
        let client = async move {
            let (mut frames, mut closed) = (Vec::new(), false);
            while let Some(message) = out_rx.next().await {
                match &message {
                    Message::Close(_) => {
                        closed = true;
                        let _ = reply_tx.send(Message::Close(None));
                        continue;
                    }
                    Message::Binary(_) => assert!(!protocol.base64, "binary on {protocol:?}"),
                    Message::Text(_) => assert!(protocol.base64, "text on {protocol:?}"),
                    other => panic!("server sent {other:?}"),
                }
                assert!(!closed, "a message after the close");
                let frame = websocket::decode(protocol, message)
                    .expect("server messages decode")
                    .expect("server messages carry a channel");
                assert!(matches!(frame.0, 1..=3), "server wrote channel {}", frame.0);
                frames.push(frame);
            }
            (frames, closed)
        };
        let run = async { tokio::join!(server, client) };
        let (result, (frames, closed)) = tokio::time::timeout(SESSION_LIMIT, run)
            .await
            .expect("the exec session hung");
        WsTranscript {
            frames,
            closed,
            result,
        }
    })
}

/// Reads a [`WsSession`] from a fuzzer input.
///
/// Byte 0: protocol (`% 5`, see [`WEBSOCKET_PROTOCOLS`]), command end from bits 3–4 (exit 0,
/// exit 3, fail, exit 0), tty (`0x20`), stdin (`0x40`), hang-up (`0x80`). Then client messages
/// `[kind][len][payload]`: kind `% 6` is binary (0, 1), text (2), resize (3: binary on channel
/// 4), ping (4), or a v5 close (5: `[255, payload[0]]`).
pub fn websocket_input(data: &[u8]) -> Option<WsSession> {
    let (&flags, mut rest) = data.split_first()?;
    let protocol = WEBSOCKET_PROTOCOLS[usize::from(flags) % WEBSOCKET_PROTOCOLS.len()];
    let end = match (flags >> 3) & 3 {
        1 => EchoEnd::Exit(3),
        2 => EchoEnd::Fail,
        _ => EchoEnd::Exit(0),
    };
    let tty = flags & 0x20 != 0;
    let request = ExecRequest {
        command: vec!["cat".into()],
        stdin: flags & 0x40 != 0,
        stdout: true,
        // As the kubelet's query parsing does: no stderr with a TTY.
        stderr: !tty,
        tty,
    };
    let mut messages = Vec::new();
    while let [kind, len, tail @ ..] = rest {
        let (payload, tail) = tail.split_at(usize::from(*len).min(tail.len()));
        rest = tail;
        messages.push(match kind % 6 {
            0 | 1 => WsMessage::Binary(payload.to_vec()),
            2 => WsMessage::Text(String::from_utf8_lossy(payload).into_owned()),
            3 => WsMessage::Binary([&[4u8][..], payload].concat()),
            4 => WsMessage::Ping(payload.to_vec()),
            _ => WsMessage::Binary(vec![255, payload.first().copied().unwrap_or(0)]),
        });
    }
    Some(WsSession {
        protocol: protocol.to_owned(),
        request,
        end,
        messages,
        hang_up: flags & 0x80 != 0,
    })
}

/// One fuzzer input (see [`websocket_input`]) through [`websocket_session`], checked against
/// a model of the session: what the client's messages mean, decoded with
/// [`websocket_decode`].
///
/// # Panics
///
/// When [`websocket_session`] does, or the session disagrees with the model: a client message
/// that does not decode must end the session with an error and no close; a session that the
/// client does not abandon must end with a close and the kubelet's final status (v4/v5:
/// `metav1.Status` JSON; `channel.k8s.io`: the error text, only on failure); without a TTY,
/// stdout must be exactly the stdin the client sent before closing it (a prefix when the
/// client hangs up).
pub fn websocket_channel(data: &[u8]) {
    let Some(session) = websocket_input(data) else {
        return;
    };
    let version = protocol(&session.protocol).expect("supported").version;
    // The model: stdin the server must pass on, and whether a message breaks the session.
    let mut stdin = Vec::new();
    let mut stdin_open = session.request.stdin;
    let mut broken = false;
    for message in &session.messages {
        match websocket_decode(&session.protocol, message.clone()) {
            Err(_) => {
                broken = true;
                break;
            }
            Ok(Some((0, data))) if stdin_open => stdin.extend_from_slice(&data),
            Ok(Some((255, data))) if version >= 5 && data.first() == Some(&0) => {
                stdin_open = false;
            }
            Ok(_) => {}
        }
    }
    let t = websocket_session(&session);
    let stdout = t.channel(1);
    if session.request.tty {
        assert!(t.channel(2).is_empty(), "stderr with a TTY");
    } else if broken || session.hang_up {
        assert!(
            stdin.starts_with(&stdout),
            "stdout is not a prefix of stdin"
        );
    } else {
        assert_eq!(stdout, stdin, "stdout is not the stdin sent");
    }
    if broken {
        assert!(
            t.result.is_err(),
            "an undecodable message must end the session"
        );
        assert!(!t.closed, "closed after a protocol error");
        return;
    }
    if session.hang_up {
        assert!(t.result.is_ok(), "{:?}", t.result);
        assert!(!t.closed, "closed after the client went away");
        return;
    }
    assert!(t.closed, "no close at the end");
    assert_eq!(
        t.result.is_err(),
        session.end == EchoEnd::Fail,
        "{:?}",
        t.result
    );
    let status = t.frames.last().filter(|(c, _)| *c == 3).map(|(_, s)| s);
    if version >= 4 {
        let status: serde_json::Value =
            serde_json::from_slice(status.expect("a final status")).expect("status JSON");
        let (want_status, want_reason) = match session.end {
            EchoEnd::Exit(0) => ("Success", None),
            EchoEnd::Exit(_) => ("Failure", Some("NonZeroExitCode")),
            EchoEnd::Fail => ("Failure", Some("InternalError")),
        };
        assert_eq!(status["status"], want_status, "{status}");
        assert_eq!(status["reason"].as_str(), want_reason, "{status}");
        assert_eq!(t.frames.iter().filter(|(c, _)| *c == 3).count(), 1);
    } else {
        assert_eq!(status.is_some(), session.end != EchoEnd::Exit(0));
    }
    // Terminal sizes come back as lines on stderr (stdout with a TTY).
    if !session.request.tty {
        let stderr = String::from_utf8(t.channel(2)).expect("resize lines");
        assert!(
            stderr.lines().all(|l| l
                .split_once('x')
                .is_some_and(|(w, h)| w.parse::<u16>().is_ok() && h.parse::<u16>().is_ok())),
            "{stderr:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn session(protocol: &str, messages: Vec<WsMessage>) -> WsSession {
        WsSession {
            protocol: protocol.into(),
            request: ExecRequest {
                command: vec!["cat".into()],
                stdin: true,
                stdout: true,
                stderr: true,
                tty: false,
            },
            end: EchoEnd::Exit(0),
            messages,
            hang_up: false,
        }
    }

    #[test]
    fn websocket_session_echoes_stdin_and_ends_with_a_status() {
        let t = websocket_session(&session(
            "v5.channel.k8s.io",
            vec![
                WsMessage::Binary(b"\x00typed\n".to_vec()),
                WsMessage::Binary(br#"{"Width":80,"Height":24}"#.to_vec()),
                WsMessage::Binary([&[4u8][..], br#"{"Width":80,"Height":24}"#].concat()),
                WsMessage::Binary(vec![255, 0]),
                WsMessage::Binary(b"\x00ignored after the close".to_vec()),
            ],
        ));
        assert_eq!(t.channel(1), b"typed\n");
        assert!(t.closed);
        assert!(t.result.is_ok());
        let status: serde_json::Value = serde_json::from_slice(&t.channel(3)).unwrap();
        assert_eq!(status["status"], "Success");
    }

    /// Fuzz crash `websocket_channel/crash-779cbb435fb797559f915f8eea5e71b512b5a0da` (kept in
    /// the corpus as `regression-…`; `v4.base64` with stdin, 119 binary stdin frames): the
    /// session loop awaited the backend's full
    /// stdin channel while the backend (a `cat`) awaited the loop's full stdout channel, and
    /// the session hung ("the exec session hung" after 10 s). Fixed by `exec::StdinPipe`.
    #[test]
    fn websocket_stdin_flood_does_not_deadlock() {
        for n in [40, 400] {
            let messages = (0..n).map(|_| WsMessage::Binary(vec![0, b'x'])).collect();
            let t = websocket_session(&session("v4.channel.k8s.io", messages));
            assert_eq!(t.channel(1).len(), n);
            assert!(t.closed && t.result.is_ok());
        }
        // The same as a fuzzer input: v5 (65 % 5 = 0), stdin (0x40), 200 x `[kind 0][len 2][0, 'x']`.
        let mut input = vec![0x41];
        for _ in 0..200 {
            input.extend_from_slice(&[0, 2, 0, b'x']);
        }
        websocket_channel(&input);
    }

    #[test]
    fn websocket_base64_session() {
        let mut s = session(
            "v4.base64.channel.k8s.io",
            vec![WsMessage::Text("0aGkK".into())],
        );
        s.end = EchoEnd::Exit(3);
        let t = websocket_session(&s);
        assert_eq!(t.channel(1), b"hi\n");
        let status: serde_json::Value = serde_json::from_slice(&t.channel(3)).unwrap();
        assert_eq!(status["reason"], "NonZeroExitCode");
        s.messages = vec![WsMessage::Text("0not base64!".into())];
        let t = websocket_session(&s);
        assert!(t.result.is_err() && !t.closed);
    }

    #[test]
    fn websocket_hang_up_aborts() {
        let mut s = session("channel.k8s.io", vec![WsMessage::Binary(b"\x00a".to_vec())]);
        s.hang_up = true;
        let t = websocket_session(&s);
        assert!(t.result.is_ok() && !t.closed);
    }

    #[test]
    fn websocket_decode_and_resize() {
        assert_eq!(
            websocket_decode("v4.base64.channel.k8s.io", WsMessage::Text("1aGkK".into())).unwrap(),
            Some((1, b"hi\n".to_vec()))
        );
        assert!(websocket_decode("v3.channel.k8s.io", WsMessage::Close).is_err());
        assert_eq!(
            resize_decode(&[br#"{"Width":1,"#, br#""Height":2}"#]),
            [TerminalSize {
                width: 1,
                height: 2
            }]
        );
    }

    #[test]
    fn spdy_stream_decodes_and_checks() {
        let blocks = spdy_compress_headers(&[vec![("streamtype".into(), "error".into())]]).unwrap();
        let mut wire = BytesMut::new();
        Frame::SynStream {
            stream_id: 1,
            associated_to: 0,
            priority: 0,
            flags: 0,
            header_block: Bytes::from(blocks[0].clone()),
        }
        .encode(&mut wire)
        .unwrap();
        Frame::Data {
            stream_id: 1,
            flags: frame::FLAG_FIN,
            data: Bytes::from_static(b"abc"),
        }
        .encode(&mut wire)
        .unwrap();
        wire.extend_from_slice(b"\x80\x03");
        for chunk in [0, 1, 7, 100] {
            let s = spdy_stream(&wire, chunk).unwrap();
            assert_eq!((s.frames, s.data_bytes, s.buffered), (2, 3, 2));
            assert_eq!(s.headers, [vec![("streamtype".into(), "error".into())]]);
        }
        assert!(spdy_decompress_headers(&[b"garbage"]).is_err());
        assert_eq!(spdy_dictionary().len(), 1423);
    }

    #[test]
    fn fuzz_inputs_never_panic_on_seeds() {
        spdy_frames(b"");
        spdy_frames(b"\x01\x00\x00\x00\x00");
        websocket_channel(b"");
        websocket_channel(b"\x40\x00\x03\x00abc\x05\x01\x00");
        websocket_channel(b"\xc2\x02\x05\x30YWJj");
    }
}
