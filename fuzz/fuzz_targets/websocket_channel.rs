//! The remote-command channel protocol over WebSocket (`v5`/`v4.channel.k8s.io`,
//! `channel.k8s.io` and the base64 forms), through the public API: a real
//! `KubeletServer` (TLS, anonymous access, no API server) runs in-process and
//! each input becomes one `kubectl exec`-style session whose client messages
//! (channel byte + payload, text or binary, resize JSON, v5 close) come from
//! the fuzzer. The channel decoder (`exec::websocket::decode`) and the resize
//! decoder are private, so this is the nearest public surface.
//!
//! Invariants: the server never panics (libFuzzer's panic hook aborts, also
//! from server tasks), and every server message is a well-formed frame of the
//! negotiated protocol on a known channel.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use k8s_openapi::api::core::v1::Pod;
use libfuzzer_sys::fuzz_target;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use vk_kubelet_api::{
    AuthConfig, ContainerRef, Error, ExecIo, ExecRequest, ExitStatus, KubeletBackend,
    KubeletServer, LogRequest, TlsSource,
};

const PROTOCOLS: [&str; 5] = [
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v4.base64.channel.k8s.io",
    "channel.k8s.io",
    "base64.channel.k8s.io",
];

/// Echoes stdin and terminal sizes to stdout, for a short while.
struct Echo;

impl KubeletBackend for Echo {
    async fn logs(&self, _: &ContainerRef, _: &LogRequest) -> Result<String, Error> {
        Ok(String::new())
    }

    async fn exec(
        &self,
        _: &ContainerRef,
        request: ExecRequest,
        mut io: ExecIo,
    ) -> Result<ExitStatus, Error> {
        let _ = io.stderr.send("started\n".into()).await;
        let run = async {
            let (mut stdin_open, mut resize_open) = (true, true);
            while stdin_open || resize_open {
                tokio::select! {
                    data = io.stdin.recv(), if stdin_open => match data {
                        Some(data) => { let _ = io.stdout.send(data).await; }
                        None => stdin_open = false,
                    },
                    size = io.resize.recv(), if resize_open => match size {
                        Some(s) => {
                            let _ = io.stdout.send(format!("{}x{}", s.width, s.height).into()).await;
                        }
                        None => resize_open = false,
                    },
                }
                if !stdin_open && !request.tty {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(20), run).await;
        match request.command.first().map(String::as_str) {
            Some("fail") => Err(Error::Backend {
                message: "backend failed".into(),
                source: None,
            }),
            Some("exit") => Ok(ExitStatus::Code(3)),
            _ => Ok(ExitStatus::Code(0)),
        }
    }

    async fn pods(&self) -> Result<Vec<Pod>, Error> {
        Ok(Vec::new())
    }
}

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

struct Harness {
    runtime: Runtime,
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    // libFuzzer's C `main` skips the Rust runtime's start-up, which ignores
    // SIGPIPE; without this a write to a socket the peer closed kills the
    // process (the vk binary, with a Rust `main`, is not affected).
    // SAFETY: setting a signal disposition to SIG_IGN before any threads use it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let addr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = KubeletServer::builder(Echo, "vk-fuzz")
            .tls(TlsSource::SelfSigned {
                sans: vec!["127.0.0.1".into()],
            })
            .auth(AuthConfig {
                client_ca: None,
                anonymous: true,
                kube: None,
                cache_ttl: Duration::from_secs(10),
            })
            .build()
            .expect("server");
        tokio::spawn(server.serve(listener, std::future::pending::<()>()));
        addr
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Harness {
        runtime,
        addr,
        tls: Arc::new(tls),
    }
});

/// Client messages from the input: `[kind][len][payload]...`.
fn messages(mut data: &[u8]) -> Vec<Message> {
    let mut out = Vec::new();
    while let [kind, len, rest @ ..] = data {
        let n = usize::from(*len).min(rest.len());
        let (payload, tail) = rest.split_at(n);
        data = tail;
        out.push(match kind % 6 {
            0 | 1 => Message::Binary(payload.to_vec().into()),
            2 => Message::Text(String::from_utf8_lossy(payload).into_owned().into()),
            // Resize JSON on channel 4, possibly split across messages.
            3 => {
                let mut m = vec![4u8];
                m.extend_from_slice(payload);
                Message::Binary(m.into())
            }
            4 => Message::Ping(payload.to_vec().into()),
            _ => Message::Binary(vec![255, payload.first().copied().unwrap_or(0)].into()),
        });
    }
    out
}

async fn session(h: &Harness, data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let protocol = PROTOCOLS[usize::from(flags) % PROTOCOLS.len()];
    let base64 = protocol.contains("base64");
    let command = match (flags >> 3) & 3 {
        0 => "cat",
        1 => "exit",
        2 => "fail",
        _ => "cat",
    };
    let tty = if flags & 0x20 != 0 { "&tty=true" } else { "" };
    let stdin = if flags & 0x40 != 0 { "&stdin=true" } else { "" };
    let url = format!(
        "wss://{}/exec/ns/p/app?command={command}&stdout=true&stderr=true{tty}{stdin}",
        h.addr
    );
    let mut request = url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().expect("header"));
    let Ok((socket, _)) = tokio_tungstenite::connect_async_tls_with_config(
        request,
        None,
        false,
        Some(tokio_tungstenite::Connector::Rustls(h.tls.clone())),
    )
    .await
    else {
        return;
    };
    let (mut tx, mut rx) = socket.split();
    let sender = async move {
        for m in messages(rest) {
            if tx.send(m).await.is_err() {
                break;
            }
        }
        tx
    };
    let reader = async move {
        while let Some(Ok(message)) = rx.next().await {
            match message {
                Message::Binary(data) => {
                    assert!(!base64, "binary message on a base64 protocol");
                    let channel = data.first().copied().expect("empty server message");
                    assert!(matches!(channel, 1..=3), "server wrote channel {channel}");
                }
                Message::Text(text) => {
                    assert!(base64, "text message on a binary protocol");
                    let first = text.as_bytes().first().copied().expect("empty text");
                    assert!(matches!(first, b'1'..=b'3'), "server wrote channel {first}");
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        rx
    };
    let done = tokio::time::timeout(Duration::from_millis(800), async {
        let (tx, rx) = tokio::join!(sender, reader);
        if let Ok(mut socket) = tx.reunite(rx) {
            let _ = socket.close(None).await;
        }
    })
    .await;
    let _ = done;
}

fuzz_target!(|data: &[u8]| {
    let h = &*HARNESS;
    h.runtime.block_on(session(h, data));
});
