//! In-process server tests with a fake backend.

use std::sync::Mutex;

use bytes::Bytes;
use k8s_openapi::api::core::v1::Pod;

use crate::Error;
use crate::backend::{ContainerRef, ExecIo, ExecRequest, ExitStatus, KubeletBackend, LogRequest};
use crate::stats::{ContainerStats, PodStats};

/// A backend whose logs are a mutable list of lines and whose exec interprets `echo X` and
/// `sh -c "echo err >&2; exit 3"`-style scripts.
#[derive(Default)]
pub(crate) struct FakeBackend {
    pub(crate) lines: Mutex<Vec<String>>,
    pub(crate) pods: Vec<Pod>,
    pub(crate) finished: std::sync::atomic::AtomicBool,
}

/// Runs a tiny script: `;`-separated `echo WORDS [>&2]` and `exit N`.
pub(crate) async fn run_script(script: &str, io: &ExecIo) -> ExitStatus {
    for part in script.split(';') {
        let words: Vec<&str> = part.split_whitespace().collect();
        match words.as_slice() {
            ["echo", rest @ ..] => {
                let (to_err, rest): (bool, Vec<&str>) = if rest.last() == Some(&">&2") {
                    (true, rest[..rest.len() - 1].to_vec())
                } else {
                    (false, rest.to_vec())
                };
                let line = Bytes::from(format!("{}\n", rest.join(" ")));
                let _ = if to_err {
                    io.stderr.send(line).await
                } else {
                    io.stdout.send(line).await
                };
            }
            ["exit", n] => return ExitStatus::Code(n.parse().unwrap_or(1)),
            _ => {}
        }
    }
    ExitStatus::Code(0)
}

impl KubeletBackend for FakeBackend {
    async fn logs(&self, c: &ContainerRef, request: &LogRequest) -> Result<String, Error> {
        if c.pod == "missing" {
            return Err(Error::NotFound(format!(
                "pod {}/{} not found",
                c.namespace, c.pod
            )));
        }
        let lines = self.lines.lock().unwrap().clone();
        let start = request
            .tail_lines
            .map_or(0, |n| lines.len().saturating_sub(n as usize));
        Ok(lines[start..]
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let i = i + start;
                if request.timestamps {
                    format!("2024-01-01T00:00:{:02}.{:09}Z {l}\n", i / 1000, i % 1000)
                } else {
                    format!("{l}\n")
                }
            })
            .collect())
    }

    async fn container_finished(&self, _c: &ContainerRef) -> bool {
        self.finished.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn exec(
        &self,
        _c: &ContainerRef,
        request: ExecRequest,
        mut io: ExecIo,
    ) -> Result<ExitStatus, Error> {
        match request
            .command
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["sh", "-c", script] => Ok(run_script(script, &io).await),
            ["cat"] => {
                while let Some(data) = io.stdin.recv().await {
                    let _ = io.stdout.send(data).await;
                }
                Ok(ExitStatus::Code(0))
            }
            ["fail"] => Err(Error::backend("boom", std::io::Error::other("exec failed"))),
            _ => Ok(run_script(&request.command.join(" "), &io).await),
        }
    }

    async fn pods(&self) -> Result<Vec<Pod>, Error> {
        Ok(self.pods.clone())
    }

    async fn pod_stats(&self, pod: &Pod) -> Result<Option<PodStats>, Error> {
        if pod.metadata.name.as_deref() == Some("broken") {
            return Err(Error::backend("no stats", std::io::Error::other("nope")));
        }
        Ok(Some(PodStats {
            start_time: None,
            containers: vec![ContainerStats {
                name: "app".into(),
                usage_core_nano_seconds: Some(1_000_000_000),
                working_set_bytes: Some(1024),
                ..Default::default()
            }],
        }))
    }
}

mod server {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use futures::StreamExt as _;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

    use super::FakeBackend;
    use crate::exec::spdy::frame::{FLAG_FIN, Frame};
    use crate::exec::spdy::session::{Event, FrameReader, FrameWriter, Out};
    use crate::{AuthConfig, KubeletServer, TlsSource};

    #[derive(Debug)]
    struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

    impl ServerCertVerifier for AnyServer {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    /// A CA and a client certificate it signed.
    pub(crate) struct Pki {
        pub(crate) ca_pem: String,
        pub(crate) client_cert: String,
        pub(crate) client_key: String,
    }

    pub(crate) fn pki(cn: &str, org: &str) -> Pki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test-ca");
        let ca = params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::from_ca_cert_pem(&ca.pem(), ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, org);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &issuer).unwrap();
        Pki {
            ca_pem: ca.pem(),
            client_cert: cert.pem(),
            client_key: key.serialize_pem(),
        }
    }

    fn client_config(identity: Option<&Pki>) -> rustls::ClientConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer(provider)));
        let mut config = match identity {
            Some(pki) => {
                use rustls_pki_types::pem::PemObject as _;
                let chain = crate::tls::certs_from_pem(pki.client_cert.as_bytes()).unwrap();
                let key = PrivateKeyDer::from_pem_slice(pki.client_key.as_bytes()).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }

    pub(crate) struct Running {
        pub(crate) addr: SocketAddr,
        pub(crate) backend: Arc<FakeBackend>,
        pub(crate) pki: Pki,
        _stop: tokio::sync::oneshot::Sender<()>,
    }

    impl Running {
        fn http(&self, with_cert: bool) -> reqwest::Client {
            reqwest::Client::builder()
                .tls_backend_preconfigured(client_config(with_cert.then_some(&self.pki)))
                .build()
                .unwrap()
        }
        fn url(&self, path: &str) -> String {
            format!("https://{}{path}", self.addr)
        }
    }

    async fn start(backend: FakeBackend, anonymous: bool) -> Running {
        let pki = pki("kube-apiserver-kubelet-client", "system:masters");
        let backend = Arc::new(backend);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = KubeletServer::builder(backend.clone(), "vk-test")
            .tls(TlsSource::SelfSigned {
                sans: vec!["127.0.0.1".into()],
            })
            .auth(AuthConfig {
                client_ca: Some(pki.ca_pem.clone()),
                anonymous,
                kube: None,
                cache_ttl: Duration::from_secs(10),
            })
            .log_poll_interval(Duration::from_millis(20))
            .build()
            .unwrap();
        tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        Running {
            addr,
            backend,
            pki,
            _stop: stop,
        }
    }

    fn pod(name: &str, phase: &str) -> k8s_openapi::api::core::v1::Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}")},
            "spec": {"containers": [{"name": "app", "image": "x"}]},
            "status": {"phase": phase}
        }))
        .unwrap()
    }

    fn lines(n: usize) -> std::sync::Mutex<Vec<String>> {
        std::sync::Mutex::new((1..=n).map(|i| format!("line {i}")).collect())
    }

    #[tokio::test]
    async fn authentication() {
        let s = start(FakeBackend::default(), false).await;
        let r = s.http(false).get(s.url("/pods")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = s
            .http(false)
            .get(s.url("/pods"))
            .bearer_auth("some-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = s.http(true).get(s.url("/pods")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = s.http(false).get(s.url("/healthz")).send().await.unwrap();
        assert_eq!(r.text().await.unwrap(), "ok");
        // A certificate from another CA fails the handshake.
        let other = pki("mallory", "system:masters");
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(client_config(Some(&other)))
            .build()
            .unwrap();
        assert!(client.get(s.url("/pods")).send().await.is_err());
        let anon = start(FakeBackend::default(), true).await;
        let r = anon
            .http(false)
            .get(anon.url("/pods"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    #[tokio::test]
    async fn logs_parameters() {
        let s = start(
            FakeBackend {
                lines: lines(3),
                ..Default::default()
            },
            false,
        )
        .await;
        let http = s.http(true);
        let get = |q: &'static str| {
            let http = http.clone();
            let url = s.url(&format!("/containerLogs/ns/p/app{q}"));
            async move {
                let r = http.get(url).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        assert_eq!(get("").await, (200, "line 1\nline 2\nline 3\n".into()));
        assert_eq!(get("?tailLines=1").await, (200, "line 3\n".into()));
        let (_, ts) = get("?timestamps=true&tailLines=1").await;
        assert_eq!(ts, "2024-01-01T00:00:00.000000002Z line 3\n");
        assert_eq!(get("?limitBytes=8").await, (200, "line 1\nl".into()));
        assert_eq!(
            get("?sinceTime=2024-01-01T00:00:00.000000001Z").await,
            (200, "line 2\nline 3\n".into())
        );
        let (code, text) = get("?previous=true").await;
        assert_eq!(code, 400);
        assert!(text.contains("keeps no logs"), "{text}");
        let r = http
            .get(s.url("/containerLogs/ns/missing/app"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(get("?follow=maybe").await.0, 400);
    }

    #[tokio::test]
    async fn follow_emits_new_lines_once() {
        let s = start(
            FakeBackend {
                lines: lines(2),
                ..Default::default()
            },
            false,
        )
        .await;
        let r = s
            .http(true)
            .get(s.url("/containerLogs/ns/p/app?follow=true&tailLines=1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let mut body = r.bytes_stream();
        let mut seen = String::new();
        let backend = s.backend.clone();
        let writer = tokio::spawn(async move {
            for i in 3..=6 {
                tokio::time::sleep(Duration::from_millis(30)).await;
                backend.lines.lock().unwrap().push(format!("line {i}"));
            }
        });
        while !seen.contains("line 6\n") {
            let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            seen.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        writer.await.unwrap();
        assert_eq!(seen, "line 2\nline 3\nline 4\nline 5\nline 6\n");
        // The container ends: its last line arrives, then the stream ends.
        s.backend.lines.lock().unwrap().push("last".into());
        s.backend
            .finished
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let mut rest = String::new();
        while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .unwrap()
        {
            rest.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
        assert_eq!(rest, "last\n");
    }

    async fn ws_exec(
        s: &Running,
        protocol: &str,
        command: &str,
    ) -> (String, String, serde_json::Value) {
        let url = format!(
            "wss://{}/exec/ns/p/app?{command}&stdout=true&stderr=true",
            s.addr
        );
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().unwrap());
        let (mut socket, response) = tokio_tungstenite::connect_async_tls_with_config(
            request,
            None,
            false,
            Some(tokio_tungstenite::Connector::Rustls(Arc::new(
                client_config(Some(&s.pki)),
            ))),
        )
        .await
        .unwrap();
        assert_eq!(
            response.headers()["sec-websocket-protocol"]
                .to_str()
                .unwrap(),
            protocol
        );
        let (mut out, mut err, mut status) = (String::new(), String::new(), Vec::new());
        while let Some(message) = socket.next().await {
            match message.unwrap() {
                Message::Binary(data) => {
                    let text = String::from_utf8_lossy(&data[1..]).into_owned();
                    match data[0] {
                        1 => out.push_str(&text),
                        2 => err.push_str(&text),
                        3 => status.extend_from_slice(&data[1..]),
                        c => panic!("unexpected channel {c}"),
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = socket.close(None).await;
        (out, err, serde_json::from_slice(&status).unwrap())
    }

    const ECHO: &str = "command=echo&command=hi";
    const FAIL: &str = "command=sh&command=-c&command=echo%20err%20%3E%262%3B%20exit%203";

    #[tokio::test]
    async fn exec_over_websocket() {
        let s = start(FakeBackend::default(), false).await;
        for protocol in ["v4.channel.k8s.io", "v5.channel.k8s.io"] {
            let (out, err, status) = ws_exec(&s, protocol, ECHO).await;
            assert_eq!((out.as_str(), err.as_str()), ("hi\n", ""));
            assert_eq!(status["status"], "Success");
            let (out, err, status) = ws_exec(&s, protocol, FAIL).await;
            assert_eq!((out.as_str(), err.as_str()), ("", "err\n"));
            assert_eq!(status["reason"], "NonZeroExitCode");
            assert_eq!(status["details"]["causes"][0]["reason"], "ExitCode");
            assert_eq!(status["details"]["causes"][0]["message"], "3");
        }
    }

    #[tokio::test]
    async fn websocket_v5_stdin_and_half_close() {
        let s = start(FakeBackend::default(), false).await;
        let url = format!(
            "wss://{}/exec/ns/p/app?command=cat&stdin=true&stdout=true",
            s.addr
        );
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "v5.channel.k8s.io".parse().unwrap(),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async_tls_with_config(
            request,
            None,
            false,
            Some(tokio_tungstenite::Connector::Rustls(Arc::new(
                client_config(Some(&s.pki)),
            ))),
        )
        .await
        .unwrap();
        use futures::SinkExt as _;
        socket
            .send(Message::Binary(b"\x00typed\n".to_vec().into()))
            .await
            .unwrap();
        socket
            .send(Message::Binary(vec![255, 0].into()))
            .await
            .unwrap();
        let (mut out, mut status) = (Vec::new(), Vec::new());
        while let Some(Ok(message)) = socket.next().await {
            match message {
                Message::Binary(data) if data[0] == 1 => out.extend_from_slice(&data[1..]),
                Message::Binary(data) if data[0] == 3 => status.extend_from_slice(&data[1..]),
                Message::Close(_) => break,
                _ => {}
            }
        }
        assert_eq!(out, b"typed\n");
        let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
        assert_eq!(status["status"], "Success");
    }

    /// A minimal SPDY/3.1 remote-command client.
    async fn spdy_exec(
        s: &Running,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> (String, String, serde_json::Value) {
        let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(Some(&s.pki))));
        let mut tls = connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let stdin_flag = if stdin.is_some() { "&stdin=true" } else { "" };
        let request = format!(
            "POST /exec/ns/p/app?{command}&stdout=true&stderr=true{stdin_flag} HTTP/1.1\r\n\
             Host: localhost\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\
             X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\
             X-Stream-Protocol-Version: v3.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"
        );
        tls.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("x-stream-protocol-version: v4.channel.k8s.io")
        );
        let (r, w) = tokio::io::split(tls);
        let mut reader = FrameReader::new(r);
        let mut writer = FrameWriter::new(w).unwrap();
        let mut kinds = vec!["error", "stdout", "stderr"];
        if stdin.is_some() {
            kinds.push("stdin");
        }
        let mut ids = std::collections::HashMap::new();
        for (i, kind) in kinds.iter().enumerate() {
            let id = 1 + 2 * i as u32;
            ids.insert(id, *kind);
            writer
                .send(Out::SynStream {
                    stream_id: id,
                    flags: 0,
                    headers: vec![("streamtype".into(), (*kind).into())],
                })
                .await
                .unwrap();
        }
        // a ping must be echoed
        writer
            .send(Out::Frame(Frame::Ping { id: 1 }))
            .await
            .unwrap();
        if let Some(input) = stdin {
            writer
                .send(Out::Frame(Frame::Data {
                    stream_id: 7,
                    flags: FLAG_FIN,
                    data: bytes::Bytes::copy_from_slice(input),
                }))
                .await
                .unwrap();
        }
        let (mut out, mut err, mut status) = (String::new(), String::new(), Vec::new());
        let mut replies = 0;
        let mut pong = false;
        loop {
            match reader.next().await.unwrap().unwrap() {
                Event::SynReply { .. } => replies += 1,
                Event::Frame(Frame::Ping { id: 1 }) => pong = true,
                Event::Frame(Frame::Data {
                    stream_id,
                    flags,
                    data,
                }) => {
                    let text = String::from_utf8_lossy(&data);
                    match ids[&stream_id] {
                        "stdout" => out.push_str(&text),
                        "stderr" => err.push_str(&text),
                        "error" => {
                            status.extend_from_slice(&data);
                            if flags & FLAG_FIN != 0 {
                                break;
                            }
                        }
                        other => panic!("data on {other}"),
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(replies, kinds.len());
        assert!(pong);
        writer
            .send(Out::Frame(Frame::GoAway {
                last_good_stream_id: 0,
                status: crate::exec::spdy::frame::goaway::OK,
            }))
            .await
            .unwrap();
        (out, err, serde_json::from_slice(&status).unwrap())
    }

    #[tokio::test]
    async fn exec_over_spdy() {
        let s = start(FakeBackend::default(), false).await;
        let (out, err, status) = spdy_exec(&s, ECHO, None).await;
        assert_eq!((out.as_str(), err.as_str()), ("hi\n", ""));
        assert_eq!(status["status"], "Success");
        let (out, err, status) = spdy_exec(&s, FAIL, None).await;
        assert_eq!((out.as_str(), err.as_str()), ("", "err\n"));
        assert_eq!(status["reason"], "NonZeroExitCode");
        assert_eq!(status["details"]["causes"][0]["message"], "3");
        let (out, _, status) = spdy_exec(&s, "command=cat", Some(b"typed\n")).await;
        assert_eq!(out, "typed\n");
        assert_eq!(status["status"], "Success");
        let (_, _, status) = spdy_exec(&s, "command=fail", None).await;
        assert_eq!(status["reason"], "InternalError");
    }

    #[tokio::test]
    async fn unsupported_and_invalid_requests() {
        let s = start(FakeBackend::default(), false).await;
        let http = s.http(true);
        for path in ["/attach/ns/p/app?stdout=true", "/portForward/ns/p"] {
            let r = http.post(s.url(path)).send().await.unwrap();
            assert_eq!(r.status(), 501);
            let body: serde_json::Value = r.json().await.unwrap();
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .contains("not supported by Azure Container Instances")
            );
        }
        let r = http
            .post(s.url("/exec/ns/p/app?command=ls&stdout=true"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "exec without an upgrade");
        let r = http
            .post(s.url("/exec/ns/p/app?command=ls"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "exec without streams");
    }

    #[tokio::test]
    async fn pods_and_stats() {
        let s = start(
            FakeBackend {
                pods: vec![
                    pod("web", "Running"),
                    pod("broken", "Running"),
                    pod("done", "Succeeded"),
                ],
                ..Default::default()
            },
            false,
        )
        .await;
        let http = s.http(true);
        let list: serde_json::Value = http
            .get(s.url("/pods"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list["kind"], "PodList");
        assert_eq!(list["items"].as_array().unwrap().len(), 3);
        let running: serde_json::Value = http
            .get(s.url("/runningpods/"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(running["items"].as_array().unwrap().len(), 2);
        let summary: serde_json::Value = http
            .get(s.url("/stats/summary"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let names: Vec<&str> = summary["pods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["podRef"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["web", "broken", "done"],
            "every pod is listed; the one whose stats failed without usage"
        );
        let broken = &summary["pods"][1];
        assert!(broken["cpu"].get("usageNanoCores").is_none(), "{broken}");
        assert!(
            broken["memory"].get("workingSetBytes").is_none(),
            "{broken}"
        );
        let metrics = http
            .get(s.url("/metrics/resource"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("pod_memory_working_set_bytes{namespace=\"ns\",pod=\"web\"} 1024")
        );
        assert!(metrics.contains("scrape_error 1"));
    }
}
