//! `kubectl exec` on ACI's terms.
//!
//! ACI's exec runs **one executable without arguments** in a terminal, sends
//! one merged output stream and reports no exit status. So:
//!
//! - a one-word command without stdin (`kubectl exec pod -- ls`) runs
//!   directly; its exit status is unknown (reported as success), and ACI's
//!   "executable file not found" answer becomes an error, as the kubelet's
//!   runtime error would be;
//! - anything else runs through the container's shell (`/bin/sh`, or
//!   `cmd.exe` for Windows pods): vk starts the shell as the one executable,
//!   types the quoted command line into it ([`crate::script`]) and recovers
//!   the command's output and exit code from markers ([`crate::marker`]),
//!   dropping the echo and prompts;
//! - without a shell, one-word commands still run directly; others fail with
//!   a message saying why.
//!
//! Without a TTY the command gets pipes (as under a kubelet) and stdin is
//! typed base64-encoded into `base64 -d`, so any bytes pass; `kubectl cp`
//! from the pod (`tar cf - …`) is read back through `base64`. stderr is
//! merged into stdout: a terminal has one output stream.

use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures::{SinkExt as _, StreamExt as _};
use vk_aci::ContainerInstances;
use vk_aci::exec::{ExecReader, ExecWriter};
use vk_aci::models::ContainerExecRequest;
use vk_kubelet_api::{ExecIo, ExecRequest, ExitStatus};

use crate::Error;
use crate::marker::{Event, Scanner};
use crate::script::{self, Mode};

/// How long a TTY exec waits for the client's first terminal size.
const FIRST_RESIZE_WAIT: Duration = Duration::from_secs(2);
/// How long the shell may take to answer the setup line.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Output kept to explain a shell that did not start.
const DIAGNOSTIC_BYTES: usize = 2048;
/// Output held back while it may still be ACI's "cannot start" answer.
const HOLD_BYTES: usize = 4096;
/// How ACI's runtime errors begin.
const RUNTIME_ERROR_PREFIXES: &[&str] = &["rpc error:", "OCI runtime", "oci runtime"];

/// Where an exec runs.
pub(crate) struct Target<'a> {
    pub(crate) client: &'a ContainerInstances,
    pub(crate) group: String,
    pub(crate) container: String,
    pub(crate) windows: bool,
}

/// A fresh nonce for the markers of one session (random per process and call).
fn nonce() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", h.finish())
}

fn is_runtime_error(text: &[u8]) -> bool {
    let text = String::from_utf8_lossy(text).to_ascii_lowercase();
    text.contains("executable file not found")
        || text.contains("no such file or directory")
        || text.contains("cannot find the file")
}

fn could_be_runtime_error(held: &[u8]) -> bool {
    held.len() < HOLD_BYTES
        && RUNTIME_ERROR_PREFIXES.iter().any(|p| {
            let p = p.as_bytes();
            p.starts_with(held) || held.starts_with(p)
        })
}

fn first_line(text: &[u8]) -> String {
    String::from_utf8_lossy(text)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_owned()
}

/// `\r\n` → `\n` for clients without a TTY (a lone `\r` at a piece's end waits).
#[derive(Debug, Default)]
struct Crlf {
    on: bool,
    cr: bool,
}

impl Crlf {
    fn push(&mut self, data: &[u8]) -> Vec<u8> {
        if !self.on {
            return data.to_vec();
        }
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            if self.cr {
                self.cr = false;
                if b != b'\n' {
                    out.push(b'\r');
                }
            }
            if b == b'\r' {
                self.cr = true;
            } else {
                out.push(b);
            }
        }
        out
    }

    fn finish(&mut self) -> Vec<u8> {
        if std::mem::take(&mut self.cr) {
            vec![b'\r']
        } else {
            Vec::new()
        }
    }
}

/// Output of `base64` read back: lines of the alphabet are data, any other
/// line is a message (tar's warnings) for stderr.
#[derive(Debug, Default)]
struct Base64Output {
    line: Vec<u8>,
    pending: Vec<u8>,
}

fn is_base64_line(line: &[u8]) -> bool {
    !line.is_empty()
        && line
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

impl Base64Output {
    /// Returns (data, messages).
    fn push(&mut self, data: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut out = Vec::new();
        let mut messages = Vec::new();
        for &b in data {
            if b != b'\n' {
                self.line.push(b);
                continue;
            }
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.take_line(line, &mut out, &mut messages);
        }
        (out, messages)
    }

    fn take_line(&mut self, line: Vec<u8>, out: &mut Vec<u8>, messages: &mut Vec<u8>) {
        if line.is_empty() {
            return;
        }
        if !is_base64_line(&line) {
            messages.extend_from_slice(&line);
            messages.push(b'\n');
            return;
        }
        self.pending.extend_from_slice(&line);
        let whole = self.pending.len() / 4 * 4;
        let chunk: Vec<u8> = self.pending.drain(..whole).collect();
        match base64::engine::general_purpose::STANDARD.decode(&chunk) {
            Ok(bytes) => out.extend(bytes),
            Err(_) => {
                messages.extend_from_slice(b"vk: the copied data was damaged in transit\n");
            }
        }
    }

    fn finish(&mut self) -> (Vec<u8>, Vec<u8>) {
        let mut out = Vec::new();
        let mut messages = Vec::new();
        let line = std::mem::take(&mut self.line);
        self.take_line(line, &mut out, &mut messages);
        if !self.pending.is_empty() {
            messages.extend_from_slice(b"vk: the copied data ended early\n");
        }
        (out, messages)
    }
}

/// What stdin becomes when typed into the terminal.
#[derive(Debug)]
enum Typing {
    /// As it is (a TTY client types keys).
    Keys,
    /// Base64 lines for `base64 -d`, then `^D`.
    Base64 { carry: Vec<u8> },
    /// Text lines ending with `^D` (Linux) or `^Z` (Windows).
    Lines { windows: bool, last: Option<u8> },
}

impl Typing {
    fn push(&mut self, data: &[u8]) -> Vec<u8> {
        match self {
            Typing::Keys => data.to_vec(),
            Typing::Base64 { carry } => {
                carry.extend_from_slice(data);
                let whole = carry.len() / 3 * 3;
                let chunk: Vec<u8> = carry.drain(..whole).collect();
                wrap(&base64::engine::general_purpose::STANDARD.encode(chunk))
            }
            Typing::Lines { windows, last } => {
                *last = data.last().copied().or(*last);
                if *windows {
                    data.iter()
                        .map(|&b| if b == b'\n' { b'\r' } else { b })
                        .collect()
                } else {
                    data.to_vec()
                }
            }
        }
    }

    /// What ends the input.
    fn finish(&mut self) -> Vec<u8> {
        match self {
            Typing::Keys => Vec::new(),
            Typing::Base64 { carry } => {
                let mut out =
                    wrap(&base64::engine::general_purpose::STANDARD.encode(std::mem::take(carry)));
                out.push(4);
                out
            }
            Typing::Lines {
                windows: false,
                last,
            } => {
                if matches!(last, None | Some(b'\n')) {
                    vec![4]
                } else {
                    vec![4, 4]
                }
            }
            Typing::Lines {
                windows: true,
                last,
            } => {
                if matches!(last, None | Some(b'\n')) {
                    b"\x1a\r".to_vec()
                } else {
                    b"\r\x1a\r".to_vec()
                }
            }
        }
    }
}

fn wrap(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 76 + 1);
    for line in text.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

async fn terminal_size(request: &ExecRequest, io: &mut ExecIo) -> (i32, i32) {
    if request.tty
        && let Ok(Some(size)) = tokio::time::timeout(FIRST_RESIZE_WAIT, io.resize.recv()).await
    {
        return (i32::from(size.height), i32::from(size.width));
    }
    (24, 80)
}

async fn open(
    target: &Target<'_>,
    command: &str,
    rows: i32,
    cols: i32,
) -> Result<(ExecWriter, ExecReader), Error> {
    let session = target
        .client
        .exec_session(
            &target.group,
            &target.container,
            &ContainerExecRequest::new(command, rows, cols),
        )
        .await
        .map_err(|source| Error::Aci {
            what: format!("exec in container {}", target.container),
            source,
        })?;
    Ok(session.split())
}

async fn send(writer: &mut ExecWriter, bytes: Vec<u8>) -> Result<(), Error> {
    if bytes.is_empty() {
        return Ok(());
    }
    writer.send(bytes).await.map_err(|source| Error::Aci {
        what: "typing into the exec session".into(),
        source,
    })
}

fn session_error(source: vk_aci::Error) -> Error {
    Error::Aci {
        what: "the exec session".into(),
        source,
    }
}

/// Runs `request` in the target container, streaming through `io`.
pub(crate) async fn exec(
    target: &Target<'_>,
    request: &ExecRequest,
    mut io: ExecIo,
) -> Result<ExitStatus, Error> {
    let (rows, cols) = terminal_size(request, &mut io).await;
    let one_word = request.command.len() == 1;
    if one_word && !request.stdin {
        tracing::debug!("running the one-word command directly");
        return direct(target, request, io, rows, cols).await;
    }
    if target.windows && request.command.first().is_some_and(|c| c == "tar") {
        return Err(Error::Unsupported(
            "kubectl cp is not supported for Windows containers on Azure Container Instances: \
             binary data cannot pass through cmd.exe's console"
                .into(),
        ));
    }
    match through_shell(target, request, &mut io, rows, cols).await {
        Err(Error::NoShell { answer, .. }) if one_word => {
            tracing::debug!(%answer, "no shell: running the one-word command directly");
            direct(target, request, io, rows, cols).await
        }
        other => other,
    }
}

/// Runs the single executable `command[0]` as ACI's exec does.
async fn direct(
    target: &Target<'_>,
    request: &ExecRequest,
    mut io: ExecIo,
    rows: i32,
    cols: i32,
) -> Result<ExitStatus, Error> {
    let command = request.command.first().cloned().unwrap_or_default();
    let (mut writer, mut reader) = open(target, &command, rows, cols).await?;
    let mut crlf = Crlf {
        on: !request.tty,
        cr: false,
    };
    let mut held = Vec::new();
    let mut passing = false;
    let mut stdin_open = request.stdin;
    let mut resize_open = true;
    let mut typing = if request.tty {
        Typing::Keys
    } else {
        Typing::Lines {
            windows: target.windows,
            last: None,
        }
    };
    loop {
        tokio::select! {
            chunk = reader.next() => match chunk {
                None => break,
                Some(Err(e)) => return Err(session_error(e)),
                Some(Ok(data)) => {
                    if !passing {
                        held.extend_from_slice(&data);
                        if could_be_runtime_error(&held) {
                            continue;
                        }
                        passing = true;
                        let data = crlf.push(&std::mem::take(&mut held));
                        let _ = io.stdout.send(Bytes::from(data)).await;
                    } else {
                        let _ = io.stdout.send(Bytes::from(crlf.push(&data))).await;
                    }
                }
            },
            input = io.stdin.recv(), if stdin_open => match input {
                Some(data) => send(&mut writer, typing.push(&data)).await?,
                None => {
                    stdin_open = false;
                    send(&mut writer, typing.finish()).await?;
                }
            },
            size = io.resize.recv(), if resize_open => {
                // ACI takes the terminal size only when the session starts.
                resize_open = size.is_some();
            }
        }
    }
    if !passing && is_runtime_error(&held) {
        return Err(Error::NoExecutable {
            command,
            container: target.container.clone(),
            answer: first_line(&held),
        });
    }
    let mut rest = crlf.push(&held);
    rest.extend(crlf.finish());
    if !rest.is_empty() {
        let _ = io.stdout.send(Bytes::from(rest)).await;
    }
    Ok(ExitStatus::Unknown)
}

/// What the setup line told.
struct Answers {
    /// Output keeps its `\n` (stty worked).
    raw_output: bool,
    cat: bool,
    base64: bool,
}

async fn setup(
    target: &Target<'_>,
    request: &ExecRequest,
    reader: &mut ExecReader,
    scanner: &mut Scanner,
    probe_base64: bool,
) -> Result<Answers, Error> {
    let mut wanted: Vec<u8> = vec![b'R'];
    if !target.windows && !request.tty {
        wanted.push(b'C');
        if probe_base64 {
            wanted.push(b'S');
        }
    }
    let mut answers = std::collections::BTreeMap::new();
    let mut seen = Vec::new();
    let waiting = async {
        while let Some(chunk) = reader.next().await {
            let data = chunk.map_err(session_error)?;
            for event in scanner.push(&data) {
                match event {
                    Event::Text(t) => {
                        let room = DIAGNOSTIC_BYTES.saturating_sub(seen.len());
                        seen.extend(t.into_iter().take(room));
                    }
                    Event::Marker(tag, value) => {
                        answers.insert(tag, value.unwrap_or(0));
                    }
                }
            }
            if wanted.iter().all(|t| answers.contains_key(t)) {
                return Ok(true);
            }
        }
        Ok::<bool, Error>(false)
    };
    let answered = tokio::time::timeout(SETUP_TIMEOUT, waiting)
        .await
        .map_err(|_| {
            Error::Session(format!(
                "the shell of container {} did not answer within {}s",
                target.container,
                SETUP_TIMEOUT.as_secs()
            ))
        })??;
    if !answered {
        let shell = if target.windows { "cmd.exe" } else { "/bin/sh" };
        if is_runtime_error(&seen) {
            return Err(Error::NoShell {
                container: target.container.clone(),
                command: request.command.first().cloned().unwrap_or_default(),
                shell,
                answer: first_line(&seen),
            });
        }
        return Err(Error::Session(format!(
            "the {shell} of container {} ended before it answered: {}",
            target.container,
            first_line(&seen)
        )));
    }
    Ok(Answers {
        raw_output: request.tty || (!target.windows && answers.get(&b'R') == Some(&0)),
        cat: answers.get(&b'C') == Some(&0),
        base64: answers.get(&b'S') == Some(&0),
    })
}

/// Runs the command line through the container's shell.
async fn through_shell(
    target: &Target<'_>,
    request: &ExecRequest,
    io: &mut ExecIo,
    rows: i32,
    cols: i32,
) -> Result<ExitStatus, Error> {
    let nonce = nonce();
    let mut scanner = Scanner::new(&nonce);
    let shell = if target.windows { "cmd.exe" } else { "/bin/sh" };
    let copy_out = !target.windows && !request.tty && script::is_tar_create(&request.command);
    let probe_base64 = !target.windows && !request.tty && (request.stdin || copy_out);
    let (mut writer, mut reader) = open(target, shell, rows, cols).await?;

    let (assignments, command) = if target.windows {
        (Vec::new(), String::new())
    } else {
        script::posix_command(&request.command)
    };
    let setup_line = if target.windows {
        script::windows_setup(&nonce)
    } else {
        script::linux_setup(&nonce, &assignments, request.tty, probe_base64)
    };
    send(&mut writer, setup_line.into_bytes()).await?;
    let answers = setup(target, request, &mut reader, &mut scanner, probe_base64).await?;
    let mode = Mode {
        tty: request.tty,
        stdin: request.stdin,
        stdin_base64: answers.base64,
        output_base64: copy_out && answers.base64,
        cat: answers.cat,
    };
    tracing::debug!(
        raw_output = answers.raw_output,
        cat = answers.cat,
        base64 = answers.base64,
        "the shell answered"
    );
    let run_line = if target.windows {
        script::windows_run(&nonce, &request.command, request.stdin)
    } else {
        script::linux_run(&nonce, &command, mode)
    };
    send(&mut writer, run_line.into_bytes()).await?;

    let mut typing = if request.tty {
        Typing::Keys
    } else if mode.stdin_base64 {
        Typing::Base64 { carry: Vec::new() }
    } else {
        Typing::Lines {
            windows: target.windows,
            last: None,
        }
    };
    let mut crlf = Crlf {
        on: !answers.raw_output,
        cr: false,
    };
    let mut decoder = mode.output_base64.then(Base64Output::default);
    let mut started = false;
    let mut own_code: Option<i64> = None;
    let mut stdin_open = request.stdin;
    let mut resize_open = true;
    loop {
        tokio::select! {
            chunk = reader.next() => {
                let (events, ended) = match chunk {
                    None => (scanner.finish(), true),
                    Some(Err(e)) => return Err(session_error(e)),
                    Some(Ok(data)) => (scanner.push(&data), false),
                };
                for event in events {
                    match event {
                        Event::Marker(b'B', _) => started = true,
                        _ if !started => {}
                        Event::Text(text) => {
                            let text = crlf.push(&text);
                            emit(io, decoder.as_mut(), &text).await;
                        }
                        Event::Marker(b'T', value) => own_code = value,
                        Event::Marker(b'E', value) => {
                            let tail = crlf.finish();
                            emit(io, decoder.as_mut(), &tail).await;
                            if let Some(d) = decoder.as_mut() {
                                let (data, messages) = d.finish();
                                forward(io, data, messages).await;
                            }
                            let code = own_code.or(value).unwrap_or(0);
                            let code = i32::try_from(code).unwrap_or(i32::MAX);
                            return Ok(ExitStatus::Code(code));
                        }
                        Event::Marker(..) => {}
                    }
                }
                if ended {
                    if !started {
                        return Err(Error::Session(format!(
                            "the shell of container {} ended before running the command",
                            target.container
                        )));
                    }
                    // The command ended the shell itself (e.g. `exec`, `exit`).
                    tracing::debug!("the session ended without the exit marker");
                    return Ok(ExitStatus::Unknown);
                }
            },
            input = io.stdin.recv(), if started && stdin_open => match input {
                Some(data) => send(&mut writer, typing.push(&data)).await?,
                None => {
                    stdin_open = false;
                    send(&mut writer, typing.finish()).await?;
                }
            },
            size = io.resize.recv(), if resize_open => {
                // ACI takes the terminal size only when the session starts.
                resize_open = size.is_some();
            }
        }
    }
}

async fn emit(io: &ExecIo, decoder: Option<&mut Base64Output>, text: &[u8]) {
    if text.is_empty() {
        return;
    }
    match decoder {
        None => {
            let _ = io.stdout.send(Bytes::copy_from_slice(text)).await;
        }
        Some(d) => {
            let (data, messages) = d.push(text);
            forward(io, data, messages).await;
        }
    }
}

async fn forward(io: &ExecIo, data: Vec<u8>, messages: Vec<u8>) {
    if !data.is_empty() {
        let _ = io.stdout.send(Bytes::from(data)).await;
    }
    if !messages.is_empty() {
        let _ = io.stderr.send(Bytes::from(messages)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_becomes_lf_across_pieces() {
        let mut c = Crlf {
            on: true,
            cr: false,
        };
        let mut out = c.push(b"a\r");
        out.extend(c.push(b"\nb\rc\r"));
        out.extend(c.finish());
        assert_eq!(out, b"a\nb\rc\r");
    }

    #[test]
    fn base64_output_separates_messages() {
        let data: Vec<u8> = (0..=255).collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&data);
        let mut text = b"tar: Removing leading `/' from member names\r\n".to_vec();
        text.extend(wrap(&encoded));
        let mut d = Base64Output::default();
        let mut out = Vec::new();
        let mut messages = Vec::new();
        for piece in text.chunks(7) {
            let (o, m) = d.push(piece);
            out.extend(o);
            messages.extend(m);
        }
        let (o, m) = d.finish();
        out.extend(o);
        messages.extend(m);
        assert_eq!(out, data);
        assert_eq!(messages, b"tar: Removing leading `/' from member names\n");
    }

    #[test]
    fn stdin_typed_as_base64_lines() {
        let mut t = Typing::Base64 { carry: Vec::new() };
        let mut typed = t.push(b"he");
        typed.extend(t.push(b"llo\x03\x04"));
        typed.extend(t.finish());
        assert_eq!(typed.last(), Some(&4));
        let text: Vec<u8> = typed[..typed.len() - 1]
            .iter()
            .copied()
            .filter(|b| *b != b'\n')
            .collect();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_default();
        assert_eq!(decoded, b"hello\x03\x04");
        assert!(
            typed
                .iter()
                .all(|b| *b == 4 || *b == b'\n' || b.is_ascii_graphic())
        );
    }

    #[test]
    fn runtime_errors_are_recognised() {
        let answer = b"rpc error: code = 2 desc = oci runtime error: exec failed: container_linux.go:247: starting container process caused \"exec: \\\"ls /\\\": executable file not found in $PATH\"\r\n";
        assert!(could_be_runtime_error(b"rpc"));
        assert!(could_be_runtime_error(&answer[..40]));
        assert!(is_runtime_error(answer));
        assert!(!could_be_runtime_error(b"hello"));
        assert!(!could_be_runtime_error(b"r\n"));
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(nonce(), nonce());
        assert_eq!(nonce().len(), 16);
    }
}
