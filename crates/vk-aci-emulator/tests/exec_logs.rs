//! Conformance of exec and logs to real ACI, over raw HTTP and WebSocket (see
//! the "Exec and logs" rows of the behaviour catalogue in docs/aci-emulator.md).
#![allow(missing_docs)]

mod common;

use common::*;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Starts `command` in container `main` of `group` and sends the password.
async fn exec(env: &Env, group: &str, command: &str) -> Socket {
    let url = format!(
        "{}/{group}/containers/main/exec?api-version={API}",
        env.rg_path(RG)
    );
    let body = json!({"command": command, "terminalSize": {"rows": 24, "cols": 80}});
    let r = env.post(&url, Some(&body)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    let uri = v["webSocketUri"].as_str().expect("uri");
    let (mut ws, _) = tokio_tungstenite::connect_async(uri)
        .await
        .expect("connect");
    ws.send(Message::text(v["password"].as_str().expect("pw")))
        .await
        .expect("send");
    ws
}

/// Everything the session outputs (text and binary frames alike) until
/// `until` has been seen, or the close frame; and that frame's code and reason.
async fn read(ws: &mut Socket, until: Option<&str>) -> (String, Option<(u16, String)>) {
    let mut out = Vec::new();
    while let Some(Ok(m)) = ws.next().await {
        match m {
            Message::Text(t) => out.extend_from_slice(t.as_bytes()),
            Message::Binary(b) => out.extend_from_slice(&b),
            Message::Close(frame) => {
                let frame = frame.map_or((1005, String::new()), |f| {
                    (f.code.into(), f.reason.to_string())
                });
                return (String::from_utf8_lossy(&out).into_owned(), Some(frame));
            }
            _ => {}
        }
        if let Some(marker) = until
            && String::from_utf8_lossy(&out).contains(marker)
        {
            break;
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), None)
}

#[tokio::test]
async fn exec_runs_one_executable_and_takes_no_arguments() {
    let env = start().await;
    env.create_running("one", &group_body(&[], "Always")).await;
    // `ls /` and `echo FOO` are no executables (container-instances-exec.md:
    // "you can't pass command arguments"; azure-cli #10039).
    for command in ["ls /", "echo FOO", "sh -c 'echo FOO && echo BAR'"] {
        let mut ws = exec(&env, "one", command).await;
        let (out, close) = read(&mut ws, None).await;
        assert!(
            out.contains("executable file not found in $PATH") && out.contains(command),
            "{command}: {out:?}"
        );
        // No exit status: a normal close without a reason.
        assert_eq!(close, Some((1000, String::new())), "{command}");
    }
    // A single executable runs, in a terminal (CRLF line ends).
    let mut ws = exec(&env, "one", "ls").await;
    let (out, close) = read(&mut ws, None).await;
    assert!(
        out.contains("bin  dev  etc") && out.ends_with("\r\n"),
        "{out:?}"
    );
    assert_eq!(close, Some((1000, String::new())));
    // An image without a shell has no /bin/sh.
    let mut body = group_body(&[], "Always");
    body["properties"]["containers"][0]["properties"]["image"] = json!("gcr.io/distroless/base");
    env.create_running("bare", &body).await;
    let mut ws = exec(&env, "bare", "/bin/sh").await;
    let (out, _) = read(&mut ws, None).await;
    assert!(out.contains("executable file not found"), "{out:?}");
}

#[tokio::test]
async fn an_interactive_shell_is_a_terminal_without_exit_status() {
    let env = start().await;
    env.create_running("tty", &group_body(&[], "Always")).await;
    let mut ws = exec(&env, "tty", "/bin/sh").await;
    let (prompt, _) = read(&mut ws, Some("# ")).await;
    assert_eq!(prompt, "# ");
    // Typed keys are echoed, Enter is \r, output ends lines with \r\n, and
    // stderr is merged into the one stream.
    ws.send(Message::binary(b"echo out; echo err >&2\r".to_vec()))
        .await
        .expect("send");
    let (out, _) = read(&mut ws, Some("err\r\n# ")).await;
    assert_eq!(out, "echo out; echo err >&2\r\nout\r\nerr\r\n# ");
    // The working state (files) persists across sessions of the container.
    ws.send(Message::binary(b"echo saved > /tmp/f; exit 3\r".to_vec()))
        .await
        .expect("send");
    let (_, close) = read(&mut ws, None).await;
    assert_eq!(close, Some((1000, String::new())), "no `exit code N`");
    let mut ws = exec(&env, "tty", "cat").await;
    ws.send(Message::text("typed\r")).await.expect("send");
    let (out, _) = read(&mut ws, Some("typed\r\ntyped\r\n")).await;
    assert_eq!(out, "typed\r\ntyped\r\n", "echo, then cat's copy");
    ws.send(Message::binary(vec![4])).await.expect("send ^D");
    let (_, close) = read(&mut ws, None).await;
    assert_eq!(close, Some((1000, String::new())));
    let mut ws = exec(&env, "tty", "/bin/sh").await;
    ws.send(Message::text("cat /tmp/f\rexit\r"))
        .await
        .expect("send");
    let (out, close) = read(&mut ws, None).await;
    assert!(out.contains("\r\nsaved\r\n"), "{out:?}");
    assert!(close.is_some());
    // busybox has no bash; other Linux images have.
    let mut ws = exec(&env, "tty", "/bin/bash").await;
    let (out, _) = read(&mut ws, None).await;
    assert!(out.contains("executable file not found"), "{out:?}");
    let mut body = group_body(&[], "Always");
    body["properties"]["containers"][0]["properties"]["image"] = json!("debian:12");
    env.create_running("deb", &body).await;
    let mut ws = exec(&env, "deb", "/bin/bash").await;
    ws.send(Message::text("exit\r")).await.expect("send");
    let (out, _) = read(&mut ws, None).await;
    assert!(out.contains("root@localhost:/# "), "{out:?}");
}

#[tokio::test]
async fn cmd_exe_in_a_windows_container() {
    let env = start().await;
    let mut body = group_body(&[], "Always");
    body["properties"]["osType"] = json!("Windows");
    body["properties"]["containers"][0]["properties"]["image"] =
        json!("mcr.microsoft.com/windows/servercore:ltsc2019");
    env.create_running("win", &body).await;
    let mut ws = exec(&env, "win", "cmd.exe").await;
    let (banner, _) = read(&mut ws, Some("C:\\>")).await;
    assert!(banner.starts_with("Microsoft Windows"), "{banner:?}");
    ws.send(Message::text("cmd /c exit 4\r"))
        .await
        .expect("send");
    let (_, _) = read(&mut ws, Some("C:\\>")).await;
    ws.send(Message::text("echo %errorlevel%\r"))
        .await
        .expect("send");
    let (out, _) = read(&mut ws, Some("C:\\>")).await;
    assert!(out.contains("\r\n4\r\n"), "{out:?}");
    ws.send(Message::text("exit\r")).await.expect("send");
    let (_, close) = read(&mut ws, None).await;
    assert_eq!(close, Some((1000, String::new())));
    // /bin/sh is no Windows executable.
    let mut ws = exec(&env, "win", "/bin/sh").await;
    let (out, _) = read(&mut ws, None).await;
    assert!(out.contains("executable file not found"), "{out:?}");
}

fn logs_url(env: &Env, group: &str) -> String {
    format!(
        "{}/{group}/containers/main/logs?api-version={API}",
        env.rg_path(RG)
    )
}

#[tokio::test]
async fn a_stopped_instance_keeps_16_kb_or_1000_lines() {
    let env = start().await;
    // 1500 short lines: the 1,000-line limit applies.
    let script: Vec<String> = (0..1500).map(|i| format!("echo line-{i}")).collect();
    env.put(
        "many",
        &group_body(&["sh", "-c", &script.join("; ")], "Never"),
    )
    .await;
    env.wait_group("many", |v| state(v) == "Succeeded").await;
    let (status, v) = env.get_json(&logs_url(&env, "many")).await;
    assert_eq!(status, 200);
    let content = v["content"].as_str().expect("content");
    let lines: Vec<&str> = content.lines().collect();
    assert_eq!(lines.len(), 1000);
    assert_eq!(lines[0], "line-500");
    assert_eq!(lines[999], "line-1499");
    // tail and timestamps still apply to what is kept.
    let (_, v) = env
        .get_json(&format!(
            "{}&tail=2&timestamps=true",
            logs_url(&env, "many")
        ))
        .await;
    let content = v["content"].as_str().expect("content");
    let tail: Vec<&str> = content.lines().collect();
    assert_eq!(tail.len(), 2);
    assert!(tail[1].ends_with(" line-1499") && tail[1].as_bytes()[4] == b'-');

    // 300 lines of 100 bytes: the 16 KB limit applies.
    let long = "x".repeat(95);
    let script: Vec<String> = (0..300).map(|i| format!("echo {i:04}{long}")).collect();
    env.put(
        "wide",
        &group_body(&["sh", "-c", &script.join("; ")], "Never"),
    )
    .await;
    env.wait_group("wide", |v| state(v) == "Succeeded").await;
    let (_, v) = env.get_json(&logs_url(&env, "wide")).await;
    let content = v["content"].as_str().expect("content");
    assert!(content.len() <= 16 * 1024, "{}", content.len());
    assert!(content.len() > 16 * 1024 - 101, "{}", content.len());
    assert!(content.ends_with(&format!("0299{long}\n")));
    assert!(content.starts_with(&format!("0{}", 300 - content.lines().count())));
}
