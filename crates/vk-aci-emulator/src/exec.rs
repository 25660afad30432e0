//! Exec / attach websockets.
//!
//! Protocol (like ACI): the client's first frame is the password (text or
//! binary). Then, for exec, the command runs: standard output arrives as text
//! frames and standard error as binary frames, one line (with its `\n`) per
//! frame. When the command ends the server sends a close frame with code 1000
//! and reason `exit code N`. Interactive shells (`/bin/sh`, `bash`, `cmd`,
//! `powershell` without a command) read stdin frames and run each line as a
//! script until `exit`. For attach, the container's log lines are sent as text
//! frames, then the socket is closed. Instead of the first frame, the password
//! may be sent as the `Authorization` header of the upgrade request.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use tokio::sync::mpsc;

use crate::apierror::ApiError;
use crate::cmdlang::{self, ExecProgram, Program, Stream};
use crate::server::Shared;
use crate::state::{ExecSession, now_unix};

/// `GET /_emulator/exec/{id}`: the websocket of an exec or attach session.
pub(crate) async fn ws_handler(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let session = shared
        .lock()
        .exec_sessions
        .remove(&id)
        .filter(|s| s.expires > now_unix());
    let Some(session) = session else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "ExecSessionNotFound",
            "The exec session does not exist or has expired.",
        )
        .into_response();
    };
    // ACI documents the attach password as an Authorization header value; accept
    // that as an alternative to the first frame.
    let pre_authenticated = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == session.password);
    ws.on_upgrade(move |socket| async move {
        let span =
            tracing::info_span!("exec", container = %session.container, group = %session.key.name);
        let _ = tracing::Instrument::instrument(
            run_session(shared, session, socket, pre_authenticated),
            span,
        )
        .await;
    })
}

fn frame(stream: Stream, line: String) -> Message {
    let mut line = line;
    line.push('\n');
    match stream {
        Stream::Stdout => Message::Text(line.into()),
        Stream::Stderr => Message::Binary(line.into_bytes().into()),
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: String) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

async fn run_session(
    shared: Arc<Shared>,
    session: ExecSession,
    mut socket: WebSocket,
    pre_authenticated: bool,
) {
    let mut stop = shared.shutdown.subscribe();
    let ok = pre_authenticated || {
        let first = tokio::time::timeout(Duration::from_secs(30), socket.recv()).await;
        match first {
            Ok(Some(Ok(Message::Text(t)))) => t.as_str() == session.password,
            Ok(Some(Ok(Message::Binary(b)))) => b.as_ref() == session.password.as_bytes(),
            _ => false,
        }
    };
    if !ok {
        close(&mut socket, 1008, "invalid password".to_owned()).await;
        return;
    }
    if session.attach {
        let lines: Vec<String> = {
            let st = shared.lock();
            st.groups
                .get(&session.key)
                .and_then(|g| g.containers.iter().find(|c| c.name == session.container))
                .map(|c| c.logs.iter().map(|l| l.text.clone()).collect())
                .unwrap_or_default()
        };
        for l in lines {
            if socket.send(frame(Stream::Stdout, l)).await.is_err() {
                return;
            }
        }
        close(&mut socket, 1000, "attach ended".to_owned()).await;
        return;
    }
    match cmdlang::exec_program(&session.command) {
        ExecProgram::Program(p) => {
            let mut ignored = String::new();
            if let Some(code) = run_program(&p, &mut socket, &mut stop, &mut ignored).await {
                close(&mut socket, 1000, format!("exit code {code}")).await;
            }
        }
        ExecProgram::Interactive => {
            let mut buf = String::new();
            loop {
                let msg = tokio::select! {
                    m = socket.recv() => m,
                    _ = stop.changed() => return,
                };
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
                    Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    _ => return,
                };
                if text.contains('\u{3}') {
                    close(&mut socket, 1000, "exit code 130".to_owned()).await;
                    return;
                }
                buf.push_str(&text.replace('\r', "\n"));
                while let Some(pos) = buf.find('\n') {
                    let line: String = buf.drain(..=pos).collect();
                    let line = line.trim();
                    if line.is_empty() {
                        continue;
                    }
                    let program = cmdlang::parse_script(line);
                    let mut more = String::new();
                    let code = run_program(&program, &mut socket, &mut stop, &mut more).await;
                    buf.push_str(&more.replace('\r', "\n"));
                    let Some(code) = code else {
                        return;
                    };
                    let first = line.split_whitespace().next().unwrap_or_default();
                    if first == "exit" || line.contains("; exit") || line.contains("&& exit") {
                        close(&mut socket, 1000, format!("exit code {code}")).await;
                        return;
                    }
                }
            }
        }
    }
}

/// Runs a program, streaming its output; `None` if the client went away.
/// Input received meanwhile is appended to `stdin`.
async fn run_program(
    program: &Program,
    socket: &mut WebSocket,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    stdin: &mut String,
) -> Option<i32> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Stream, String)>();
    let fut = async move {
        let mut out = move |s: Stream, l: String| {
            let _ = tx.send((s, l));
        };
        program.run(&mut out).await
    };
    tokio::pin!(fut);
    let code = loop {
        tokio::select! {
            code = &mut fut => break code,
            Some((s, l)) = rx.recv() => {
                if socket.send(frame(s, l)).await.is_err() {
                    return None;
                }
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) if t.as_str().contains('\u{3}') => break 130,
                Some(Ok(Message::Binary(b))) if b.contains(&3u8) => break 130,
                Some(Ok(Message::Text(t))) => stdin.push_str(t.as_str()),
                Some(Ok(Message::Binary(b))) => stdin.push_str(&String::from_utf8_lossy(&b)),
                Some(Ok(_)) => {}
                _ => return None,
            },
            _ = stop.changed() => return None,
        }
    };
    while let Ok((s, l)) = rx.try_recv() {
        if socket.send(frame(s, l)).await.is_err() {
            return None;
        }
    }
    Some(code)
}
