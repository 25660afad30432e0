//! `AciBackend` exec against the ACI emulator (one executable, no arguments,
//! a terminal, no exit status), without an API server in between.
#![allow(missing_docs, clippy::unwrap_used)]

use std::io::Read as _;
use std::sync::Arc;

use bytes::Bytes;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use tokio::sync::mpsc;
use vk_kubelet_aci::AciBackend;
use vk_kubelet_api::{ContainerRef, ExecIo, ExecRequest, ExitStatus, KubeletBackend};

struct World {
    backend: AciBackend,
    aci: vk_aci::ContainerInstances,
    _emulator: vk_aci_emulator::RunningEmulator,
}

fn pod(name: &str, windows: bool) -> Arc<Pod> {
    let mut spec = json!({"containers": [{"name": "main", "image": "x"}]});
    if windows {
        spec["nodeSelector"] = json!({"kubernetes.io/os": "windows"});
    }
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns"},
            "spec": spec,
        }))
        .unwrap(),
    )
}

async fn world() -> World {
    let emulator = vk_aci_emulator::Emulator::builder()
        .fast()
        .static_token("t")
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = emulator.base_url().to_owned();
    let aci = vk_aci::ContainerInstances::builder(
        "00000000-0000-0000-0000-000000000001",
        "rg",
        Arc::new(vk_aci::credentials::StaticTokenCredential::new("t")),
    )
    .cloud(vk_aci::AzureCloud::custom(&base, &base))
    .build()
    .unwrap();
    let groups = [
        ("linux", "Linux", "busybox"),
        ("bare", "Linux", "gcr.io/distroless/static"),
        (
            "win",
            "Windows",
            "mcr.microsoft.com/windows/servercore:ltsc2019",
        ),
        ("done", "Linux", "busybox"),
    ];
    for (name, os, image) in groups {
        let command = if name == "done" {
            json!(["sh", "-c", "echo one; echo two"])
        } else {
            json!([])
        };
        let spec: vk_aci::models::ContainerGroup = serde_json::from_value(json!({
            "location": "westeurope",
            "properties": {
                "osType": os,
                "restartPolicy": "Never",
                "containers": [{"name": "main", "properties": {
                    "image": image,
                    "command": command,
                    "resources": {"requests": {"cpu": 1.0, "memoryInGB": 1.0}},
                }}],
            },
        }))
        .unwrap();
        aci.create_or_update(name, &spec).await.unwrap();
    }
    let mut done = Pod::clone(&pod("done", false));
    done.metadata.uid = Some("uid-done".into());
    done.status = Some(
        serde_json::from_value(json!({"phase": "Succeeded", "containerStatuses": [{
            "name": "main", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0}},
        }]}))
        .unwrap(),
    );
    let pods = vec![
        pod("linux", false),
        pod("bare", false),
        pod("win", true),
        Arc::new(done),
    ];
    let backend = AciBackend::new(
        aci.clone(),
        move || pods.clone(),
        |p: &Pod| p.metadata.name.clone().unwrap_or_default(),
    );
    World {
        backend,
        aci,
        _emulator: emulator,
    }
}

struct Run {
    result: Result<ExitStatus, vk_kubelet_api::Error>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Run {
    fn status(&self) -> ExitStatus {
        match &self.result {
            Ok(s) => *s,
            Err(e) => panic!("exec failed: {e}; output {:?}", self.out()),
        }
    }

    fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

async fn exec(w: &World, pod: &str, argv: &[&str], stdin: Option<Vec<Vec<u8>>>, tty: bool) -> Run {
    let (stdin_tx, stdin_rx) = mpsc::channel(16);
    let (stdout_tx, mut stdout_rx) = mpsc::channel(16);
    let (stderr_tx, mut stderr_rx) = mpsc::channel(16);
    let (resize_tx, resize_rx) = mpsc::channel(4);
    drop(resize_tx);
    let request = ExecRequest {
        command: argv.iter().map(|a| (*a).to_owned()).collect(),
        stdin: stdin.is_some(),
        stdout: true,
        stderr: !tty,
        tty,
    };
    let io = ExecIo {
        stdin: stdin_rx,
        stdout: stdout_tx,
        stderr: stderr_tx,
        resize: resize_rx,
    };
    let container = ContainerRef {
        namespace: "ns".into(),
        pod: pod.into(),
        container: "main".into(),
    };
    let feed = async move {
        for chunk in stdin.into_iter().flatten() {
            if stdin_tx.send(Bytes::from(chunk)).await.is_err() {
                break;
            }
        }
    };
    let collect_out = async {
        let mut v = Vec::new();
        while let Some(b) = stdout_rx.recv().await {
            v.extend_from_slice(&b);
        }
        v
    };
    let collect_err = async {
        let mut v = Vec::new();
        while let Some(b) = stderr_rx.recv().await {
            v.extend_from_slice(&b);
        }
        v
    };
    let running = w.backend.exec(&container, request, io);
    let (result, (), stdout, stderr) = tokio::join!(running, feed, collect_out, collect_err);
    Run {
        result,
        stdout,
        stderr,
    }
}

#[tokio::test]
async fn commands_with_arguments_run_through_the_shell_with_their_exit_code() {
    let w = world().await;
    let r = exec(&w, "linux", &["echo", "hi", "there"], None, false).await;
    assert_eq!(r.status(), ExitStatus::Code(0));
    assert_eq!(r.out(), "hi there\n");
    let r = exec(
        &w,
        "linux",
        &["sh", "-c", "echo out; echo err >&2; exit 3"],
        None,
        false,
    )
    .await;
    assert_eq!(r.status(), ExitStatus::Code(3));
    assert_eq!(r.out(), "out\nerr\n", "stderr arrives merged on stdout");
    let r = exec(&w, "linux", &["printf", "a\tb\\n%s", "it's"], None, false).await;
    assert_eq!(r.out(), "a\tb\nit's");
    let long = "x".repeat(3000);
    let r = exec(&w, "linux", &["echo", &long], None, false).await;
    assert_eq!(r.out(), format!("{long}\n"));
    let r = exec(&w, "linux", &["nosuch", "arg"], None, false).await;
    assert_eq!(r.status(), ExitStatus::Code(127));
    assert!(r.out().contains("nosuch: not found"), "{}", r.out());
}

#[tokio::test]
async fn one_word_commands_run_directly_without_exit_status() {
    let w = world().await;
    let r = exec(&w, "linux", &["ls"], None, false).await;
    assert_eq!(r.status(), ExitStatus::Unknown);
    assert_eq!(r.out(), "bin  dev  etc  home  proc  root  tmp  usr  var\n");
    let r = exec(&w, "linux", &["nosuch"], None, false).await;
    let err = r.result.unwrap_err().to_string();
    assert!(err.contains("executable file not found"), "{err}");
    assert!(r.stdout.is_empty());
}

#[tokio::test]
async fn stdin_passes_every_byte_and_ends() {
    let w = world().await;
    let data: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let chunks: Vec<Vec<u8>> = data.chunks(333).map(<[u8]>::to_vec).collect();
    let r = exec(&w, "linux", &["cat"], Some(chunks), false).await;
    assert_eq!(r.status(), ExitStatus::Code(0));
    assert_eq!(r.stdout, data);
    let r = exec(
        &w,
        "linux",
        &["sh", "-c", "read x; exit $x"],
        Some(vec![b"7\n".to_vec()]),
        false,
    )
    .await;
    assert_eq!(r.status(), ExitStatus::Code(7));
}

#[tokio::test]
async fn a_tty_session_types_keys_into_the_command() {
    let w = world().await;
    let keys = vec![b"echo hi\r".to_vec(), b"exit 5\r".to_vec()];
    let r = exec(&w, "linux", &["sh"], Some(keys), true).await;
    assert_eq!(r.status(), ExitStatus::Code(5));
    let out = r.out();
    assert!(out.contains("hi\r\n"), "{out:?}");
    assert!(!out.contains("__VK_"), "markers are stripped: {out:?}");
}

#[tokio::test]
async fn kubectl_cp_round_trips_through_tar_and_base64() {
    let w = world().await;
    let mut builder = tar::Builder::new(Vec::new());
    let content: Vec<u8> = (0..=255u8).rev().cycle().take(70_000).collect();
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, "dir/data.bin", content.as_slice())
        .unwrap();
    let archive = builder.into_inner().unwrap();
    // kubectl cp local → pod: `test -d`, then `tar -xmf - -C DIR` with stdin.
    let r = exec(&w, "linux", &["test", "-d", "/tmp"], None, false).await;
    assert_eq!(r.status(), ExitStatus::Code(0));
    let r = exec(&w, "linux", &["test", "-d", "/tmp/nope"], None, false).await;
    assert_eq!(r.status(), ExitStatus::Code(1));
    let chunks = archive.chunks(4096).map(<[u8]>::to_vec).collect();
    let r = exec(
        &w,
        "linux",
        &["tar", "-xmf", "-", "-C", "/tmp"],
        Some(chunks),
        false,
    )
    .await;
    assert_eq!(r.status(), ExitStatus::Code(0), "{}", r.out());
    // pod → local: `tar cf - PATH`, read back through base64.
    let r = exec(&w, "linux", &["tar", "cf", "-", "/tmp/dir"], None, false).await;
    assert_eq!(r.status(), ExitStatus::Code(0));
    assert!(String::from_utf8_lossy(&r.stderr).contains("Removing leading"));
    let mut got = tar::Archive::new(r.stdout.as_slice());
    let mut names = Vec::new();
    for entry in got.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        if name == "tmp/dir/data.bin" {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            assert_eq!(data, content);
        }
        names.push(name);
    }
    assert_eq!(names, ["tmp/dir/", "tmp/dir/data.bin"]);
    // A missing path: tar's message and exit code.
    let r = exec(&w, "linux", &["tar", "cf", "-", "/nope"], None, false).await;
    assert_eq!(r.status(), ExitStatus::Code(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("/nope: Cannot stat"));
}

#[tokio::test]
async fn without_a_shell_only_one_word_commands_run() {
    let w = world().await;
    let r = exec(&w, "bare", &["ls"], None, false).await;
    assert_eq!(r.status(), ExitStatus::Unknown);
    let r = exec(&w, "bare", &["ls", "/"], None, false).await;
    let err = r.result.unwrap_err().to_string();
    assert!(
        err.contains("no /bin/sh") && err.contains("one-word commands still run"),
        "{err}"
    );
    // One word with stdin: tried through the shell, then run directly.
    let r = exec(&w, "bare", &["cat"], Some(vec![b"abc\n".to_vec()]), false).await;
    assert_eq!(r.status(), ExitStatus::Unknown);
    assert!(r.out().contains("abc\n"), "{}", r.out());
}

#[tokio::test]
async fn windows_commands_run_through_cmd_exe() {
    let w = world().await;
    let r = exec(&w, "win", &["cmd", "/c", "exit 3"], None, false).await;
    assert_eq!(r.status(), ExitStatus::Code(3));
    let r = exec(&w, "win", &["cmd", "/c", "echo a&echo b"], None, false).await;
    assert_eq!(r.status(), ExitStatus::Code(0));
    assert_eq!(r.out(), "a\nb\n");
    let r = exec(&w, "win", &["hostname"], None, false).await;
    assert_eq!(r.out(), "win\n");
    let r = exec(&w, "win", &["tar", "cf", "-", "x"], None, false).await;
    assert!(r.result.unwrap_err().to_string().contains("Windows"));
}

#[tokio::test]
async fn logs_of_a_terminated_container_outlive_its_group() {
    let w = world().await;
    let container = ContainerRef {
        namespace: "ns".into(),
        pod: "done".into(),
        container: "main".into(),
    };
    let all = vk_kubelet_api::LogRequest {
        tail_lines: None,
        timestamps: true,
        previous: false,
    };
    // Read once the container has ended (the pod's status says so already).
    let log = vk_testkit::wait::until("the whole log", 30, || async {
        w.backend
            .logs(&container, &all)
            .await
            .ok()
            .filter(|l| l.contains(" two\n"))
    })
    .await;
    w.aci.delete("done").await.unwrap();
    vk_testkit::wait::until("the group to be gone", 30, || async {
        matches!(w.aci.get("done").await, Err(e) if e.is_not_found()).then_some(())
    })
    .await;
    assert_eq!(w.backend.logs(&container, &all).await.unwrap(), log);
    let last = vk_kubelet_api::LogRequest {
        tail_lines: Some(1),
        ..all
    };
    let tail = w.backend.logs(&container, &last).await.unwrap();
    assert!(
        tail.ends_with(" two\n") && tail.lines().count() == 1,
        "{tail}"
    );
}
