// Over 800 lines: the SPDY/3.1 session (framing, flow control, stream table) and its tests are one protocol unit.
//! A SPDY/3.1 connection and the exec session on top of it.
//!
//! **Flow control.** SPDY/3.1 gives every stream and the session a 64 KiB window. The Go
//! implementation kubectl and the kubelet use (moby/spdystream) neither sends WINDOW_UPDATE nor
//! enforces windows, so a server that waited for window updates would stall after 64 KiB of
//! output. This session therefore treats flow control as *negotiated by use*: once the peer
//! sends a WINDOW_UPDATE or a SETTINGS frame with an initial window size, windows are tracked
//! and honoured in both directions (output waits for window; received data is acknowledged with
//! WINDOW_UPDATE for the stream and the session); before that, it behaves like spdystream.
//!
//! **Errors.** A malformed frame or header block ends the connection with GOAWAY
//! (PROTOCOL_ERROR) and an [`Error::Spdy`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::mpsc;

use super::compress::{HeaderCompressor, HeaderDecompressor, HeaderList, header};
use super::frame::{FLAG_FIN, Frame, SETTINGS_INITIAL_WINDOW_SIZE, goaway, rst};
use crate::Error;
use crate::backend::{ContainerRef, DynBackend, ExecRequest};
use crate::exec::{ResizeDecoder, Running, StdinPipe, status_json};

/// The initial window of SPDY/3.1 streams and sessions.
pub(crate) const DEFAULT_WINDOW: i64 = 64 * 1024;
/// How long the client has to open the streams it asked for.
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest DATA frame sent.
const MAX_DATA_FRAME: usize = 32 * 1024;
/// How long to wait for the client to hang up after the final status.
const LINGER: Duration = Duration::from_secs(5);

/// A frame as received, with its header block decompressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// SYN_STREAM.
    SynStream {
        stream_id: u32,
        flags: u8,
        headers: HeaderList,
    },
    /// SYN_REPLY.
    SynReply {
        stream_id: u32,
        flags: u8,
        headers: HeaderList,
    },
    /// HEADERS.
    Headers {
        stream_id: u32,
        flags: u8,
        headers: HeaderList,
    },
    /// Any other frame.
    Frame(Frame),
}

/// Reads frames and decompresses header blocks. [`next`](Self::next) is cancel-safe.
pub(crate) struct FrameReader<R> {
    reader: R,
    buf: BytesMut,
    headers: HeaderDecompressor,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub(crate) fn new(reader: R) -> Self {
        Self {
            reader,
            buf: BytesMut::with_capacity(16 * 1024),
            headers: HeaderDecompressor::new(),
        }
    }

    /// The next frame; `Ok(None)` at a clean end of the connection.
    pub(crate) async fn next(&mut self) -> Result<Option<Event>, Error> {
        loop {
            if let Some(frame) = Frame::decode(&mut self.buf)? {
                return Ok(Some(match frame {
                    Frame::SynStream {
                        stream_id,
                        flags,
                        header_block,
                        ..
                    } => Event::SynStream {
                        stream_id,
                        flags,
                        headers: self.headers.decompress(&header_block)?,
                    },
                    Frame::SynReply {
                        stream_id,
                        flags,
                        header_block,
                    } => Event::SynReply {
                        stream_id,
                        flags,
                        headers: self.headers.decompress(&header_block)?,
                    },
                    Frame::Headers {
                        stream_id,
                        flags,
                        header_block,
                    } => Event::Headers {
                        stream_id,
                        flags,
                        headers: self.headers.decompress(&header_block)?,
                    },
                    other => Event::Frame(other),
                }));
            }
            let n = self
                .reader
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| Error::Stream(format!("reading SPDY connection: {e}")))?;
            if n == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(Error::Spdy("connection closed inside a frame".into()));
            }
        }
    }
}

/// What to write: frames, with header blocks given uncompressed.
#[derive(Clone, Debug)]
pub(crate) enum Out {
    /// Opens a stream (clients only: used by the tests' client).
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "only the tests' client opens streams")
    )]
    SynStream {
        stream_id: u32,
        flags: u8,
        headers: HeaderList,
    },
    SynReply {
        stream_id: u32,
        flags: u8,
        headers: HeaderList,
    },
    Frame(Frame),
}

/// Compresses header blocks and writes frames.
pub(crate) struct FrameWriter<W> {
    writer: W,
    headers: HeaderCompressor,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    pub(crate) fn new(writer: W) -> Result<Self, Error> {
        Ok(Self {
            writer,
            headers: HeaderCompressor::new()?,
        })
    }

    pub(crate) async fn send(&mut self, out: Out) -> Result<(), Error> {
        let frame = match out {
            Out::SynStream {
                stream_id,
                flags,
                headers,
            } => Frame::SynStream {
                stream_id,
                associated_to: 0,
                priority: 0,
                flags,
                header_block: Bytes::from(self.headers.compress(&headers)?),
            },
            Out::SynReply {
                stream_id,
                flags,
                headers,
            } => Frame::SynReply {
                stream_id,
                flags,
                header_block: Bytes::from(self.headers.compress(&headers)?),
            },
            Out::Frame(frame) => frame,
        };
        let mut buf = BytesMut::new();
        frame.encode(&mut buf)?;
        self.writer
            .write_all(&buf)
            .await
            .map_err(|e| Error::Stream(format!("writing SPDY connection: {e}")))?;
        self.writer
            .flush()
            .await
            .map_err(|e| Error::Stream(format!("writing SPDY connection: {e}")))
    }

    pub(crate) async fn shutdown(&mut self) {
        let _ = self.writer.shutdown().await;
    }
}

/// Flow-control windows of one direction.
#[derive(Debug)]
pub(crate) struct Windows {
    /// Whether the peer uses flow control (see the module documentation).
    pub(crate) active: bool,
    initial: i64,
    session: i64,
    streams: HashMap<u32, i64>,
}

impl Default for Windows {
    fn default() -> Self {
        Self {
            active: false,
            initial: DEFAULT_WINDOW,
            session: DEFAULT_WINDOW,
            streams: HashMap::new(),
        }
    }
}

impl Windows {
    /// Applies a WINDOW_UPDATE.
    pub(crate) fn update(&mut self, stream_id: u32, delta: u32) {
        self.active = true;
        if stream_id == 0 {
            self.session = self.session.saturating_add(i64::from(delta));
        } else {
            let initial = self.initial;
            let w = self.streams.entry(stream_id).or_insert(initial);
            *w = w.saturating_add(i64::from(delta));
        }
    }

    /// Applies SETTINGS_INITIAL_WINDOW_SIZE (adjusting open streams by the difference).
    pub(crate) fn set_initial(&mut self, value: u32) {
        self.active = true;
        let diff = i64::from(value) - self.initial;
        self.initial = i64::from(value);
        for w in self.streams.values_mut() {
            *w += diff;
        }
    }

    /// How many bytes may be sent on `stream_id` now (`usize::MAX` when inactive).
    pub(crate) fn available(&self, stream_id: u32) -> usize {
        if !self.active {
            return usize::MAX;
        }
        let stream = self
            .streams
            .get(&stream_id)
            .copied()
            .unwrap_or(self.initial);
        usize::try_from(stream.min(self.session).max(0)).unwrap_or(0)
    }

    /// Records `n` bytes sent on `stream_id`.
    pub(crate) fn consume(&mut self, stream_id: u32, n: usize) {
        let n = n as i64;
        self.session -= n;
        let initial = self.initial;
        *self.streams.entry(stream_id).or_insert(initial) -= n;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Error,
    Stdin,
    Stdout,
    Stderr,
    Resize,
}

impl Kind {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "error" => Some(Kind::Error),
            "stdin" => Some(Kind::Stdin),
            "stdout" => Some(Kind::Stdout),
            "stderr" => Some(Kind::Stderr),
            "resize" => Some(Kind::Resize),
            _ => None,
        }
    }
}

/// The streams the client must open for `request` (v4).
fn expected(request: &ExecRequest) -> Vec<Kind> {
    let mut kinds = vec![Kind::Error];
    if request.stdin {
        kinds.push(Kind::Stdin);
    }
    if request.stdout {
        kinds.push(Kind::Stdout);
    }
    if request.stderr && !request.tty {
        kinds.push(Kind::Stderr);
    }
    if request.tty {
        kinds.push(Kind::Resize);
    }
    kinds
}

struct Session<R, W> {
    reader: FrameReader<R>,
    out: mpsc::Sender<Out>,
    writer: tokio::task::JoinHandle<FrameWriter<W>>,
    send_windows: Windows,
    /// Highest stream id the client opened.
    last_stream: u32,
}

/// Serves one exec over an upgraded SPDY/3.1 connection.
pub(crate) async fn serve_exec<IO>(
    io: IO,
    backend: Arc<dyn DynBackend>,
    container: ContainerRef,
    request: ExecRequest,
) -> Result<(), Error>
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (read_half, write_half) = tokio::io::split(io);
    let mut writer = FrameWriter::new(write_half)?;
    let (out_tx, mut out_rx) = mpsc::channel::<Out>(64);
    let writer_task = tokio::spawn(async move {
        while let Some(out) = out_rx.recv().await {
            if let Err(e) = writer.send(out).await {
                tracing::debug!(error = %e, "SPDY write failed");
                break;
            }
        }
        writer
    });
    let mut session = Session {
        reader: FrameReader::new(read_half),
        out: out_tx,
        writer: writer_task,
        send_windows: Windows::default(),
        last_stream: 0,
    };
    let result = session.run(backend, container, request).await;
    if let Err(Error::Spdy(_)) = &result {
        let _ = session
            .out
            .send(Out::Frame(Frame::GoAway {
                last_good_stream_id: session.last_stream,
                status: goaway::PROTOCOL_ERROR,
            }))
            .await;
    }
    let Session { out, writer, .. } = session;
    drop(out);
    if let Ok(mut writer) = writer.await {
        writer.shutdown().await;
    }
    result
}

impl<R, W> Session<R, W>
where
    R: AsyncRead + Unpin,
{
    async fn send(&mut self, out: Out) -> Result<(), Error> {
        self.out
            .send(out)
            .await
            .map_err(|_| Error::Stream("SPDY connection closed".into()))
    }

    /// Handles connection-level frames; returns the frame when it is stream data the caller
    /// must handle, `Ok(None)` when handled.
    async fn connection_frame(&mut self, event: Event) -> Result<Option<Event>, Error> {
        match event {
            Event::Frame(Frame::Ping { id }) => {
                self.send(Out::Frame(Frame::Ping { id })).await?;
                Ok(None)
            }
            Event::Frame(Frame::WindowUpdate { stream_id, delta }) => {
                self.send_windows.update(stream_id, delta);
                Ok(None)
            }
            Event::Frame(Frame::Settings { entries, .. }) => {
                for (_, id, value) in entries {
                    if id == SETTINGS_INITIAL_WINDOW_SIZE {
                        self.send_windows.set_initial(value);
                    }
                }
                Ok(None)
            }
            Event::SynReply { .. } | Event::Headers { .. } => Ok(None),
            other => Ok(Some(other)),
        }
    }

    async fn acknowledge(&mut self, stream_id: u32, n: usize) -> Result<(), Error> {
        if !self.send_windows.active || n == 0 {
            return Ok(());
        }
        let delta = n as u32;
        self.send(Out::Frame(Frame::WindowUpdate { stream_id, delta }))
            .await?;
        self.send(Out::Frame(Frame::WindowUpdate {
            stream_id: 0,
            delta,
        }))
        .await
    }

    async fn run(
        &mut self,
        backend: Arc<dyn DynBackend>,
        container: ContainerRef,
        request: ExecRequest,
    ) -> Result<(), Error> {
        // Phase 1: the client opens its streams.
        let wanted = expected(&request);
        let mut streams: HashMap<Kind, u32> = HashMap::new();
        let mut early_stdin: Vec<Bytes> = Vec::new();
        let mut stdin_closed = false;
        let deadline = tokio::time::Instant::now() + STREAM_CREATION_TIMEOUT;
        while !wanted.iter().all(|k| streams.contains_key(k)) {
            let event = tokio::time::timeout_at(deadline, self.reader.next())
                .await
                .map_err(|_| {
                    Error::Stream("timed out waiting for the client to create streams".into())
                })??;
            let Some(event) = event else {
                return Err(Error::Stream(
                    "client closed before creating streams".into(),
                ));
            };
            match self.connection_frame(event).await? {
                Some(Event::SynStream {
                    stream_id,
                    flags,
                    headers,
                }) => {
                    self.accept_stream(stream_id, &headers, &wanted, &mut streams)
                        .await?;
                    if flags & FLAG_FIN != 0 && streams.get(&Kind::Stdin) == Some(&stream_id) {
                        stdin_closed = true;
                    }
                }
                Some(Event::Frame(Frame::Data {
                    stream_id,
                    flags,
                    data,
                })) => {
                    self.acknowledge(stream_id, data.len()).await?;
                    if streams.get(&Kind::Stdin) == Some(&stream_id) {
                        if !data.is_empty() {
                            early_stdin.push(data);
                        }
                        if flags & FLAG_FIN != 0 {
                            stdin_closed = true;
                        }
                    }
                }
                Some(Event::Frame(Frame::GoAway { .. })) => {
                    return Err(Error::Stream("client went away before the exec".into()));
                }
                _ => {}
            }
        }

        // Phase 2: run the command.
        let mut running = Running::start(backend, container, request.clone());
        let mut stdin = StdinPipe::new(running.stdin.take());
        for data in early_stdin {
            stdin.push(data);
        }
        if stdin_closed {
            stdin.close();
        }
        let stdout_id = streams.get(&Kind::Stdout).copied();
        let stderr_id = if request.tty {
            stdout_id
        } else {
            streams.get(&Kind::Stderr).copied()
        };
        let stdin_id = streams.get(&Kind::Stdin).copied();
        let resize_id = streams.get(&Kind::Resize).copied();
        let error_id = streams.get(&Kind::Error).copied().unwrap_or_default();
        let mut resize = ResizeDecoder::default();
        let mut stdout_open = true;
        let mut stderr_open = true;
        let mut pending: Option<(u32, Bytes)> = None;
        let mut client_gone = false;
        while stdout_open || stderr_open || pending.is_some() {
            // Flush output that waits for window.
            if let Some((id, data)) = pending.take() {
                let rest = self.send_data(id, data).await?;
                pending = rest.map(|r| (id, r));
            }
            let can_pull = pending.is_none();
            tokio::select! {
                out = running.stdout.recv(), if stdout_open && can_pull => match out {
                    Some(data) => if let Some(id) = stdout_id {
                        pending = self.send_data(id, data).await?.map(|r| (id, r));
                    },
                    None => stdout_open = false,
                },
                out = running.stderr.recv(), if stderr_open && can_pull => match out {
                    Some(data) => if let Some(id) = stderr_id {
                        pending = self.send_data(id, data).await?.map(|r| (id, r));
                    },
                    None => stderr_open = false,
                },
                () = stdin.flush(), if !stdin.is_idle() => {}
                event = self.reader.next(), if !client_gone && stdin.is_idle() => {
                    let event = match event? {
                        None => {
                            client_gone = true;
                            running.abort();
                            break;
                        }
                        Some(event) => event,
                    };
                    match self.connection_frame(event).await? {
                        Some(Event::Frame(Frame::Data { stream_id, flags, data })) => {
                            self.acknowledge(stream_id, data.len()).await?;
                            if Some(stream_id) == stdin_id {
                                if !data.is_empty() {
                                    stdin.push(data);
                                }
                                if flags & FLAG_FIN != 0 {
                                    stdin.close();
                                }
                            } else if Some(stream_id) == resize_id {
                                for size in resize.push(&data) {
                                    let _ = running.resize.try_send(size);
                                }
                            }
                        }
                        Some(Event::Frame(Frame::RstStream { stream_id, .. }))
                            if Some(stream_id) == stdin_id =>
                        {
                            stdin.close();
                        }
                        Some(Event::Frame(Frame::GoAway { .. })) => {
                            client_gone = true;
                            running.abort();
                            break;
                        }
                        Some(Event::SynStream { stream_id, .. }) => {
                            self.last_stream = self.last_stream.max(stream_id);
                            self.send(Out::Frame(Frame::RstStream { stream_id, status: rst::REFUSED_STREAM })).await?;
                        }
                        _ => {}
                    }
                }
            }
        }
        drop(stdin);
        if client_gone {
            return Ok(());
        }
        let result = running.finish().await;
        let mut fins: Vec<u32> = Vec::new();
        for id in [stdout_id, stderr_id].into_iter().flatten() {
            if !fins.contains(&id) {
                fins.push(id);
            }
        }
        for stream_id in fins {
            self.send(Out::Frame(Frame::Data {
                stream_id,
                flags: FLAG_FIN,
                data: Bytes::new(),
            }))
            .await?;
        }
        self.send(Out::Frame(Frame::Data {
            stream_id: error_id,
            flags: FLAG_FIN,
            data: Bytes::from(status_json(&result)),
        }))
        .await?;
        // Wait (briefly) for the client to hang up, answering pings meanwhile.
        let _ = tokio::time::timeout(LINGER, async {
            while let Ok(Some(event)) = self.reader.next().await {
                if let Event::Frame(Frame::GoAway { .. }) = event {
                    break;
                }
                let _ = self.connection_frame(event).await;
            }
        })
        .await;
        Ok(())
    }

    /// Sends as much of `data` as the window allows; returns the rest.
    async fn send_data(&mut self, stream_id: u32, mut data: Bytes) -> Result<Option<Bytes>, Error> {
        while !data.is_empty() {
            let room = self.send_windows.available(stream_id).min(MAX_DATA_FRAME);
            if room == 0 {
                return Ok(Some(data));
            }
            let chunk = data.split_to(room.min(data.len()));
            self.send_windows.consume(stream_id, chunk.len());
            self.send(Out::Frame(Frame::Data {
                stream_id,
                flags: 0,
                data: chunk,
            }))
            .await?;
        }
        Ok(None)
    }

    async fn accept_stream(
        &mut self,
        stream_id: u32,
        headers: &HeaderList,
        wanted: &[Kind],
        streams: &mut HashMap<Kind, u32>,
    ) -> Result<(), Error> {
        if stream_id == 0 || stream_id <= self.last_stream {
            return Err(Error::Spdy(format!("invalid new stream id {stream_id}")));
        }
        self.last_stream = stream_id;
        let kind = header(headers, "streamtype").and_then(Kind::parse);
        match kind {
            Some(kind) if wanted.contains(&kind) && !streams.contains_key(&kind) => {
                streams.insert(kind, stream_id);
                self.send(Out::SynReply {
                    stream_id,
                    flags: 0,
                    headers: Vec::new(),
                })
                .await
            }
            _ => {
                tracing::debug!(stream_id, ?headers, "refusing unexpected SPDY stream");
                self.send(Out::Frame(Frame::RstStream {
                    stream_id,
                    status: rst::REFUSED_STREAM,
                }))
                .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn windows_are_inactive_until_the_peer_uses_them() {
        let mut w = Windows::default();
        assert_eq!(w.available(1), usize::MAX);
        w.update(1, 10);
        assert_eq!(w.available(1), DEFAULT_WINDOW as usize); // session window limits
        w.consume(1, DEFAULT_WINDOW as usize);
        assert_eq!(w.available(1), 0);
        w.update(0, 5);
        assert_eq!(w.available(1), 5);
        w.set_initial(0);
        assert_eq!(w.available(3), 0);
    }

    /// Feeds bytes to a server session and returns how it ended.
    async fn feed(bytes: Vec<u8>) -> Result<(), Error> {
        let (client, server) = tokio::io::duplex(1 << 16);
        let backend: Arc<dyn DynBackend> = Arc::new(crate::tests::FakeBackend::default());
        let request = ExecRequest {
            command: vec!["echo".into(), "hi".into()],
            stdout: true,
            ..Default::default()
        };
        let task = tokio::spawn(serve_exec(
            server,
            backend,
            ContainerRef {
                namespace: "ns".into(),
                pod: "p".into(),
                container: "c".into(),
            },
            request,
        ));
        let (mut r, mut w) = tokio::io::split(client);
        let _ = w.write_all(&bytes).await;
        let _ = w.shutdown().await;
        let mut sink = Vec::new();
        let _ = r.read_to_end(&mut sink).await;
        task.await.unwrap()
    }

    #[tokio::test]
    async fn malformed_input_closes_with_an_error() {
        // wrong version
        let e = feed(
            b"\x80\x02\x00\x01\x00\x00\x00\x0a\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00".to_vec(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::Spdy(_)), "{e}");
        // SYN_STREAM with a garbage header block
        let e = feed(
            b"\x80\x03\x00\x01\x00\x00\x00\x0e\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00junk"
                .to_vec(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::Spdy(_)), "{e}");
        // truncated frame then EOF
        let e = feed(b"\x80\x03\x00\x06\x00\x00".to_vec())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Spdy(_) | Error::Stream(_)), "{e}");
    }

    #[tokio::test]
    async fn send_windows_are_honoured_once_the_peer_uses_flow_control() {
        let (client, server) = tokio::io::duplex(1 << 16);
        let backend: Arc<dyn DynBackend> = Arc::new(crate::tests::FakeBackend::default());
        let request = ExecRequest {
            command: vec!["echo".into(), "hello".into()],
            stdout: true,
            ..Default::default()
        };
        let container = ContainerRef {
            namespace: "ns".into(),
            pod: "p".into(),
            container: "c".into(),
        };
        let task = tokio::spawn(serve_exec(server, backend, container, request));
        let (r, w) = tokio::io::split(client);
        let mut reader = FrameReader::new(r);
        let mut writer = FrameWriter::new(w).unwrap();
        writer
            .send(Out::Frame(Frame::Settings {
                flags: 0,
                entries: vec![(0, SETTINGS_INITIAL_WINDOW_SIZE, 3)],
            }))
            .await
            .unwrap();
        for (id, kind) in [(1, "error"), (3, "stdout")] {
            writer
                .send(Out::SynStream {
                    stream_id: id,
                    flags: 0,
                    headers: vec![("streamtype".into(), kind.into())],
                })
                .await
                .unwrap();
        }
        let mut stdout = Vec::new();
        // Only 3 bytes fit the window.
        while stdout.len() < 3 {
            if let Event::Frame(Frame::Data {
                stream_id: 3, data, ..
            }) = reader.next().await.unwrap().unwrap()
            {
                stdout.extend_from_slice(&data);
            }
        }
        assert_eq!(stdout, b"hel");
        let more = tokio::time::timeout(Duration::from_millis(200), reader.next()).await;
        assert!(
            more.is_err(),
            "nothing more until the window opens: {more:?}"
        );
        writer
            .send(Out::Frame(Frame::WindowUpdate {
                stream_id: 3,
                delta: 100,
            }))
            .await
            .unwrap();
        let mut status = Vec::new();
        loop {
            match reader.next().await.unwrap().unwrap() {
                Event::Frame(Frame::Data {
                    stream_id: 3, data, ..
                }) => stdout.extend_from_slice(&data),
                Event::Frame(Frame::Data {
                    stream_id: 1,
                    data,
                    flags,
                }) => {
                    status.extend_from_slice(&data);
                    if flags & FLAG_FIN != 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
        assert_eq!(stdout, b"hello\n");
        assert!(String::from_utf8_lossy(&status).contains("Success"));
        writer
            .send(Out::Frame(Frame::GoAway {
                last_good_stream_id: 0,
                status: goaway::OK,
            }))
            .await
            .unwrap();
        task.await.unwrap().unwrap();
    }

    /// The deadlock the `websocket_channel` fuzz target found (see `crate::fuzzing` and
    /// `exec::StdinPipe`), on the SPDY side: the client streams stdin to `cat` faster than it
    /// is echoed. The session used to await the backend's full stdin channel while the backend
    /// awaited the session's full stdout channel, and hung.
    #[tokio::test]
    async fn stdin_flood_to_a_cat_does_not_deadlock() {
        let (client, server) = tokio::io::duplex(1 << 20);
        let backend: Arc<dyn DynBackend> = Arc::new(crate::tests::FakeBackend::default());
        let request = ExecRequest {
            command: vec!["cat".into()],
            stdin: true,
            stdout: true,
            ..Default::default()
        };
        let container = ContainerRef {
            namespace: "ns".into(),
            pod: "p".into(),
            container: "c".into(),
        };
        let task = tokio::spawn(serve_exec(server, backend, container, request));
        let (r, w) = tokio::io::split(client);
        let mut reader = FrameReader::new(r);
        let mut writer = FrameWriter::new(w).unwrap();
        for (id, kind) in [(1, "error"), (3, "stdin"), (5, "stdout")] {
            writer
                .send(Out::SynStream {
                    stream_id: id,
                    flags: 0,
                    headers: vec![("streamtype".into(), kind.into())],
                })
                .await
                .unwrap();
        }
        const CHUNKS: usize = 200;
        for i in 0..CHUNKS {
            writer
                .send(Out::Frame(Frame::Data {
                    stream_id: 3,
                    flags: if i + 1 == CHUNKS { FLAG_FIN } else { 0 },
                    data: Bytes::from(vec![b'x'; 10]),
                }))
                .await
                .unwrap();
        }
        let read = async {
            let mut stdout = 0;
            loop {
                match reader.next().await.unwrap().unwrap() {
                    Event::Frame(Frame::Data {
                        stream_id: 5, data, ..
                    }) => stdout += data.len(),
                    Event::Frame(Frame::Data {
                        stream_id: 1,
                        flags,
                        ..
                    }) if flags & FLAG_FIN != 0 => return stdout,
                    _ => {}
                }
            }
        };
        let stdout = tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("the session hung");
        assert_eq!(stdout, CHUNKS * 10);
        writer
            .send(Out::Frame(Frame::GoAway {
                last_good_stream_id: 0,
                status: goaway::OK,
            }))
            .await
            .unwrap();
        task.await.unwrap().unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn random_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
            // Either an error or a clean end; never a panic or a hang.
            let _ = rt.block_on(feed(bytes));
        }
    }
}
