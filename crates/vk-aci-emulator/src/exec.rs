//! Exec / attach websockets.
//!
//! Protocol (like ACI): the client's first frame is the password (text or
//! binary; or the upgrade request's `Authorization` header). For exec, the
//! command string names **one executable, run without arguments** (ACI
//! "cannot pass command arguments"): `ls /` is an unknown executable, and
//! gets ACI's runtime error as output before the socket closes. The
//! executable runs in a terminal ([`Tty`]): input frames are typed keys
//! (echoed, line-edited, `\r` as Enter), output is one merged stream with
//! `\r\n` line ends, and there is no exit status: the socket just closes
//! (code 1000) when the program ends. Shells (`/bin/sh`, `bash`, `cmd.exe`)
//! print a prompt and run the lines typed into them. For attach, the
//! container's log lines are sent as text frames, then the socket is closed.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use tokio::sync::mpsc;

use crate::apierror::ApiError;
use crate::fs::Files;
use crate::server::Shared;
use crate::shell::cmdexe::Cmd;
use crate::shell::{FsAccess, Image, Io, Shell, Sys, utils};
use crate::state::{ExecSession, now_unix};
use crate::tty::Tty;

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

fn log_frame(mut line: String) -> Message {
    line.push('\n');
    Message::Text(line.into())
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
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
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
            if socket.send(log_frame(l)).await.is_err() {
                return;
            }
        }
        close(&mut socket, 1000, "attach ended".to_owned()).await;
        return;
    }
    let Some(sys) = session_sys(&shared, &session, out_tx) else {
        close(&mut socket, 1000, String::new()).await;
        return;
    };
    let tty = sys.tty.clone();
    let program = run_command(sys, session.command.clone());
    tokio::pin!(program);
    loop {
        tokio::select! {
            () = &mut program => break,
            Some(bytes) = out_rx.recv() => {
                if socket.send(output_frame(bytes)).await.is_err() {
                    return;
                }
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => tty.input(t.as_bytes()),
                Some(Ok(Message::Binary(b))) => tty.input(&b),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                _ => return,
            },
            _ = stop.changed() => return,
        }
    }
    while let Ok(bytes) = out_rx.try_recv() {
        if socket.send(output_frame(bytes)).await.is_err() {
            return;
        }
    }
    close(&mut socket, 1000, String::new()).await;
}

/// Output as ACI sends it: one merged stream; text frames when the bytes are
/// UTF-8, binary frames otherwise.
fn output_frame(bytes: Vec<u8>) -> Message {
    match String::from_utf8(bytes) {
        Ok(text) => Message::Text(text.into()),
        Err(e) => Message::Binary(e.into_bytes().into()),
    }
}

/// The shell environment of a session: its terminal, the container's files,
/// image and environment.
fn session_sys(
    shared: &Arc<Shared>,
    session: &ExecSession,
    out: mpsc::UnboundedSender<Vec<u8>>,
) -> Option<Arc<Sys>> {
    let (image, env) = {
        let st = shared.lock();
        let g = st.groups.get(&session.key)?;
        let os = g.resource["properties"]["osType"]
            .as_str()
            .unwrap_or("Linux")
            .to_owned();
        let spec = g.resource["properties"]["containers"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == session.container.as_str())?;
        let image = Image::of(
            spec["properties"]["image"].as_str().unwrap_or_default(),
            &os,
        );
        let env = spec["properties"]["environmentVariables"]
            .as_array()
            .map(|vars| {
                vars.iter()
                    .filter_map(|v| {
                        Some((
                            v["name"].as_str()?.to_owned(),
                            v["value"].as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        (image, env)
    };
    let fs_shared = shared.clone();
    let key = session.key.clone();
    let container = session.container.clone();
    let fs: FsAccess = Arc::new(move |f: &mut dyn FnMut(&mut Files)| {
        let found = {
            let mut st = fs_shared.lock();
            match st
                .groups
                .get_mut(&key)
                .and_then(|g| g.containers.iter_mut().find(|c| c.name == container))
            {
                Some(c) => {
                    f(&mut c.files);
                    true
                }
                None => false,
            }
        };
        if found {
            fs_shared.changed();
        }
        found
    });
    Some(Arc::new(Sys {
        tty: Arc::new(Tty::new(out)),
        fs,
        image,
        hostname: session.key.name.clone(),
        env,
    }))
}

/// What ACI answers when the command string names no executable (the whole
/// string is the executable's name: no arguments are passed).
pub(crate) fn not_found_message(command: &str) -> String {
    let quoted = command.replace('"', "\\\"");
    format!(
        "rpc error: code = 2 desc = oci runtime error: exec failed: container_linux.go:247: starting container process caused \"exec: \\\"{quoted}\\\": executable file not found in $PATH\"\n"
    )
}

/// Runs the exec command: the one executable it names, without arguments.
async fn run_command(sys: Arc<Sys>, command: String) {
    let tty = sys.tty.clone();
    let Some(util) = utils::executable(sys.image, &command) else {
        tty.write(not_found_message(&command).as_bytes());
        return;
    };
    match util {
        "sh" | "ash" => {
            Shell::new(sys, "sh").interactive("# ").await;
        }
        "bash" => {
            Shell::new(sys, "bash")
                .interactive("root@localhost:/# ")
                .await;
        }
        "cmd" => {
            Cmd::new(sys).interactive().await;
        }
        _ => {
            let io = Io::tty(&tty);
            let mut shell = Shell::new(sys, "sh");
            let seen = tty.interrupts();
            let argv = [command];
            tokio::select! {
                _ = shell.run_argv(&argv, &io) => {}
                () = tty.interrupted_after(seen) => {}
            }
        }
    }
}
