use std::sync::Arc;

use tokio::sync::mpsc;

use super::cmdexe::Cmd;
use super::{Image, Shell, Sys, memory_fs};
use crate::tty::Tty;

fn sys(image: Image) -> (Arc<Sys>, mpsc::UnboundedReceiver<Vec<u8>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let sys = Arc::new(Sys {
        tty: Arc::new(Tty::new(tx)),
        fs: memory_fs(),
        image,
        hostname: "host".into(),
        env: vec![("GREETING".into(), "hi".into())],
    });
    (sys, rx)
}

/// Types `input` into an interactive shell and returns everything it printed
/// and its exit status.
async fn session(image: Image, input: &[u8]) -> (String, i32) {
    let (sys, mut rx) = sys(image);
    let tty = sys.tty.clone();
    let run = async {
        if image == Image::Windows {
            Cmd::new(sys.clone()).interactive().await
        } else {
            Shell::new(sys.clone(), "sh").interactive("# ").await
        }
    };
    tty.input(input);
    let code = run.await;
    let mut out = Vec::new();
    while let Ok(chunk) = rx.try_recv() {
        out.extend(chunk);
    }
    (String::from_utf8_lossy(&out).into_owned(), code)
}

const LINUX: Image = Image::Linux { bash: true };

#[tokio::test]
async fn a_terminal_session_echoes_prompts_and_translates_newlines() {
    let (out, code) = session(LINUX, b"echo $GREETING\rexit 4\r").await;
    assert_eq!(code, 4);
    // Typed ahead: the terminal echoes at once, the shell answers after.
    assert_eq!(out, "echo $GREETING\r\nexit 4\r\n# hi\r\n# ");
}

#[tokio::test]
async fn stty_turns_off_echo_and_crlf() {
    let (out, _) = session(
        LINUX,
        b"stty -echo -onlcr 2>/dev/null; printf '__VK_%s_R_%s__\\n' n \"$?\"\nprintf 'a\\nb'; exit\n",
    )
    .await;
    assert!(out.ends_with("__VK_n_R_0__\n# a\nb"), "{out:?}");
}

#[tokio::test]
async fn exit_codes_reach_markers_through_pipes_and_fd3() {
    let line = "{ { sh -c 'echo err >&2; exit 3' </dev/null 2>&1; printf '[T%s]' \"$?\" >&3; } | cat; } 3>&1; printf '[E%s]' \"$?\"; exit\n";
    let (out, _) = session(LINUX, line.as_bytes()).await;
    let tail = out.rsplit("exit\r\n").next().unwrap_or_default();
    assert!(tail.contains("err\r\n"), "{out:?}");
    assert!(tail.contains("[T3]") && tail.ends_with("[E0]"), "{out:?}");
}

#[tokio::test]
async fn unknown_commands_and_syntax_errors() {
    let (out, code) = session(LINUX, b"nosuch; echo $?\nif\nfi\nexit\n").await;
    assert!(out.contains("sh: nosuch: not found\r\n127\r\n"), "{out:?}");
    assert!(out.contains("> "), "continuation prompt: {out:?}");
    assert!(out.contains("syntax error"), "{out:?}");
    assert_eq!(code, 2);
    let (out, _) = session(Image::LinuxNoShell, b"sh -c true; echo $?\nexit\n").await;
    assert!(out.contains("sh: sh: not found"), "{out:?}");
}

#[tokio::test]
async fn files_tar_and_base64_round_trip() {
    let script = "mkdir -p /tmp/d/sub; printf 'x\\001y' > /tmp/d/sub/f; \
        tar cf - /tmp/d | base64 > /tmp/a.b64; mkdir /out; \
        base64 -d /tmp/a.b64 | tar -xmf - -C /out; cat /out/tmp/d/sub/f; \
        test -d /out/tmp/d && echo dir; [ -f /nope ] || echo nofile; exit\n";
    let (out, code) = session(LINUX, script.as_bytes()).await;
    assert_eq!(code, 0);
    assert!(out.contains("Removing leading"), "{out:?}");
    assert!(out.contains("x\u{1}y"), "{out:?}");
    assert!(out.ends_with("dir\r\nnofile\r\n"), "{out:?}");
}

#[tokio::test]
async fn stdin_of_a_pipeline_comes_from_the_terminal_until_ctrl_d() {
    let (out, _) = session(LINUX, b"base64 -d | cat; echo [$?]; exit\naGVsbG8K\n\x04").await;
    assert!(out.contains("hello\r\n[0]"), "{out:?}");
}

#[tokio::test]
async fn cmd_exe_markers_with_call_and_errorlevel() {
    let (out, code) = session(
        Image::Windows,
        b"echo __VK_n^_B__& cmd /c \"exit 3\" <NUL & call echo __VK_n_E_%^errorlevel%__& exit\r",
    )
    .await;
    assert_eq!(code, 0);
    assert!(out.contains("\r\nMicrosoft Windows"), "{out:?}");
    assert!(out.starts_with("echo __VK_n^_B__& cmd"), "{out:?}");
    assert!(
        out.contains("C:\\>__VK_n_B__\r\n__VK_n_E_3__\r\n"),
        "{out:?}"
    );
}
