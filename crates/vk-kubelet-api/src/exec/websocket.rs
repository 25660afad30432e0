//! The remote-command protocol over WebSocket (`channel.k8s.io`).
//!
//! Every message carries one stream: binary protocols prefix the payload with the channel byte
//! (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize, 255 close); base64 protocols send text
//! messages whose first character is `'0' + channel` followed by the base64 payload. In
//! `v5.channel.k8s.io` the client half-closes stdin with a close message `[255, 0]`. The
//! server writes the final `metav1.Status` on the error channel (v4 and v5; earlier versions get
//! the error text only on failure) and then closes the socket normally.

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use base64::Engine as _;
use bytes::Bytes;
use futures::{Sink, SinkExt as _, Stream, StreamExt as _};

use super::{ResizeDecoder, Running, StdinPipe, status_json};
use crate::Error;
use crate::backend::{ExecRequest, ExitStatus};

/// Subprotocols in order of preference.
pub(crate) const PROTOCOLS: &[&str] = &[
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v4.base64.channel.k8s.io",
    "channel.k8s.io",
    "base64.channel.k8s.io",
];

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// The negotiated subprotocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Protocol {
    pub(crate) name: &'static str,
    /// 1 for `channel.k8s.io`, else the `vN` number.
    pub(crate) version: u8,
    pub(crate) base64: bool,
}

/// The server's preferred protocol among those the client offered.
pub(crate) fn negotiate(offered: &[String]) -> Option<Protocol> {
    let name = PROTOCOLS
        .iter()
        .find(|p| offered.iter().any(|o| o.eq_ignore_ascii_case(p)))?;
    let version = if name.starts_with("v5") {
        5
    } else if name.starts_with("v4") {
        4
    } else {
        1
    };
    Some(Protocol {
        name,
        version,
        base64: name.contains("base64"),
    })
}

fn encode(protocol: Protocol, channel: u8, data: &[u8]) -> Message {
    if protocol.base64 {
        let mut text = String::with_capacity(1 + data.len() * 4 / 3 + 4);
        text.push(char::from(b'0' + channel));
        text.push_str(&base64::engine::general_purpose::STANDARD.encode(data));
        Message::Text(text.into())
    } else {
        let mut bytes = Vec::with_capacity(1 + data.len());
        bytes.push(channel);
        bytes.extend_from_slice(data);
        Message::Binary(bytes.into())
    }
}

pub(crate) fn decode(protocol: Protocol, message: Message) -> Result<Option<(u8, Vec<u8>)>, Error> {
    match message {
        Message::Binary(data) if !protocol.base64 => match data.split_first() {
            Some((channel, rest)) => Ok(Some((*channel, rest.to_vec()))),
            None => Ok(None),
        },
        Message::Text(text) if protocol.base64 => {
            let bytes = text.as_bytes();
            match bytes.split_first() {
                Some((channel, rest)) if channel.is_ascii_digit() => {
                    let data = base64::engine::general_purpose::STANDARD
                        .decode(rest)
                        .map_err(|e| Error::Stream(format!("bad base64 message: {e}")))?;
                    Ok(Some((channel - b'0', data)))
                }
                Some(_) => Err(Error::Stream("bad base64 channel".into())),
                None => Ok(None),
            }
        }
        Message::Binary(data) => match data.split_first() {
            Some((channel, rest)) => Ok(Some((*channel, rest.to_vec()))),
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

/// Runs one exec session on an upgraded socket.
pub(crate) async fn serve(
    socket: WebSocket,
    protocol: Protocol,
    request: ExecRequest,
    running: Running,
) -> Result<(), Error> {
    let (tx, rx) = socket.split();
    serve_messages(tx, rx, protocol, request, running).await
}

/// Runs one exec session on the two halves of a WebSocket (or, for tests and fuzzing, any
/// message sink and stream).
pub(crate) async fn serve_messages<Tx, Rx, E>(
    mut tx: Tx,
    mut rx: Rx,
    protocol: Protocol,
    request: ExecRequest,
    mut running: Running,
) -> Result<(), Error>
where
    Tx: Sink<Message> + Unpin,
    Tx::Error: std::fmt::Display,
    Rx: Stream<Item = Result<Message, E>> + Unpin,
{
    let ws_err = |e: Tx::Error| Error::Stream(format!("WebSocket: {e}"));
    let mut resize = ResizeDecoder::default();
    let mut stdout_open = true;
    let mut stderr_open = true;
    let mut stdin = StdinPipe::new(running.stdin.take());
    while stdout_open || stderr_open {
        tokio::select! {
            out = running.stdout.recv(), if stdout_open => match out {
                Some(data) => tx.send(encode(protocol, STDOUT, &data)).await.map_err(ws_err)?,
                None => stdout_open = false,
            },
            out = running.stderr.recv(), if stderr_open => match out {
                Some(data) => {
                    let channel = if request.tty { STDOUT } else { STDERR };
                    tx.send(encode(protocol, channel, &data)).await.map_err(ws_err)?;
                }
                None => stderr_open = false,
            },
            () = stdin.flush(), if !stdin.is_idle() => {}
            incoming = rx.next(), if stdin.is_idle() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => {
                    // The client went away: stop the command and drop its output.
                    running.abort();
                    return Ok(());
                }
                Some(Ok(message)) => {
                    let Some((channel, data)) = decode(protocol, message)? else { continue };
                    match channel {
                        STDIN => stdin.push(Bytes::from(data)),
                        RESIZE => {
                            for size in resize.push(&data) {
                                let _ = running.resize.try_send(size);
                            }
                        }
                        CLOSE if protocol.version >= 5 && data.first() == Some(&STDIN) => {
                            stdin.close();
                        }
                        _ => {}
                    }
                }
            },
        }
    }
    drop(stdin);
    let result = running.finish().await;
    if protocol.version >= 4 {
        tx.send(encode(protocol, ERROR, &status_json(&result)))
            .await
            .map_err(ws_err)?;
    } else if let Err(e) = &result {
        tx.send(encode(protocol, ERROR, e.to_string().as_bytes()))
            .await
            .map_err(ws_err)?;
    } else if let Ok(ExitStatus::Code(code)) = &result
        && *code != 0
    {
        let text = format!("command terminated with non-zero exit code: exit status {code}");
        tx.send(encode(protocol, ERROR, text.as_bytes()))
            .await
            .map_err(ws_err)?;
    }
    let _ = tx
        .send(Message::Close(Some(CloseFrame {
            code: close_code::NORMAL,
            reason: "".into(),
        })))
        .await;
    // Let the client's close reply arrive, briefly.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(Ok(message)) = rx.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
    result.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_v5() {
        let offer = |v: &[&str]| {
            negotiate(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).map(|p| p.name)
        };
        assert_eq!(
            offer(&["v4.channel.k8s.io", "v5.channel.k8s.io"]),
            Some("v5.channel.k8s.io")
        );
        assert_eq!(offer(&["v4.channel.k8s.io"]), Some("v4.channel.k8s.io"));
        assert_eq!(
            offer(&["base64.channel.k8s.io"]),
            Some("base64.channel.k8s.io")
        );
        assert_eq!(offer(&["v3.channel.k8s.io"]), None);
    }

    #[test]
    fn base64_framing_round_trips() {
        let p = negotiate(&["v4.base64.channel.k8s.io".to_owned()]).unwrap();
        let m = encode(p, STDOUT, b"hi\n");
        assert_eq!(m, Message::Text("1aGkK".into()));
        assert_eq!(decode(p, m).unwrap(), Some((STDOUT, b"hi\n".to_vec())));
        let b = negotiate(&["v5.channel.k8s.io".to_owned()]).unwrap();
        assert_eq!(
            decode(b, encode(b, STDERR, b"x")).unwrap(),
            Some((STDERR, b"x".to_vec()))
        );
    }
}
