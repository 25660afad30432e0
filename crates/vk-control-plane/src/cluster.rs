//! Starting, inspecting and stopping one named local cluster.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::{Api, Client};
use serde::{Deserialize, Serialize};

use crate::process::{self, Recorded};
use crate::{Binaries, ClusterCerts, Error, KUBERNETES_VERSION, kubeconfig};

const STATE_FILE: &str = "cluster.json";

/// The audit policy: metadata of every request made by a service account in
/// `vk-system` (vk's own namespace), nothing else.
const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n\
- level: Metadata\n  userGroups: [\"system:serviceaccounts:vk-system\"]\n\
- level: None\n";

/// A control-plane component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    /// etcd.
    Etcd,
    /// kube-apiserver.
    Apiserver,
    /// kube-scheduler.
    Scheduler,
    /// kube-controller-manager.
    ControllerManager,
}

impl Component {
    /// All components in start order.
    pub const ALL: [Self; 4] = [
        Self::Etcd,
        Self::Apiserver,
        Self::Scheduler,
        Self::ControllerManager,
    ];

    /// The component's name, as used for its log and pid files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Etcd => "etcd",
            Self::Apiserver => "kube-apiserver",
            Self::Scheduler => "kube-scheduler",
            Self::ControllerManager => "kube-controller-manager",
        }
    }
}

/// The loopback ports of one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ports {
    /// etcd client port.
    pub etcd_client: u16,
    /// etcd peer port.
    pub etcd_peer: u16,
    /// kube-apiserver secure port.
    pub apiserver: u16,
    /// kube-scheduler secure (health) port.
    pub scheduler: u16,
    /// kube-controller-manager secure (health) port.
    pub controller_manager: u16,
}

impl Ports {
    /// Picks five distinct free ports on 127.0.0.1 (all held open at once
    /// while choosing, so they differ).
    pub fn free() -> Result<Self, Error> {
        let listeners = (0..5)
            .map(|_| TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::Port)?;
        let p = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::Port)?;
        Ok(Self {
            etcd_client: p[0],
            etcd_peer: p[1],
            apiserver: p[2],
            scheduler: p[3],
            controller_manager: p[4],
        })
    }
}

/// What a running cluster looks like from outside; saved as `cluster.json` in its state directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// The cluster's name.
    pub name: String,
    /// Its state directory.
    pub state_dir: PathBuf,
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// The API server URL.
    pub server: String,
    /// The ports in use.
    pub ports: Ports,
    /// The Kubernetes version.
    pub kubernetes_version: String,
}

impl ClusterInfo {
    /// Reads `cluster.json` from a state directory.
    pub fn load(state_dir: &Path) -> Result<Self, Error> {
        let path = state_dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound {
                    state_dir: state_dir.to_owned(),
                }
            } else {
                Error::Io {
                    action: "reading",
                    path: path.clone(),
                    source: e,
                }
            }
        })?;
        serde_json::from_str(&text).map_err(|source| Error::State { path, source })
    }

    /// Shell lines that point kubectl and the test kit at this cluster.
    pub fn env_lines(&self) -> String {
        format!(
            "export KUBECONFIG={}\nexport VK_TEST_CLUSTER={}\n",
            self.kubeconfig.display(),
            self.state_dir.display()
        )
    }
}

/// The running state of one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentStatus {
    /// The component.
    pub component: Component,
    /// Its recorded pid, if any.
    pub pid: Option<i32>,
    /// Whether that pid is alive and runs the component's binary.
    pub running: bool,
}

/// The directory holding all named clusters' state directories:
/// `$VK_CLUSTERS_DIR`, or `$XDG_STATE_HOME/vk/clusters`, or `~/.local/state/vk/clusters`.
pub fn clusters_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("VK_CLUSTERS_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("vk").join("clusters")
}

/// Where and under which name to run a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    /// The cluster's name (also its kubeconfig context).
    pub name: String,
    /// Its state directory.
    pub state_dir: PathBuf,
    /// The scheduler's and controller-manager's client-side API limit
    /// (`--kube-api-qps`, `--kube-api-burst`); `None` keeps Kubernetes'
    /// defaults (scheduler 50/100, controller-manager 20/30), which bound a
    /// Deployment of 1000 pods to about 20 pod creations per second.
    pub controller_client_limit: Option<(u32, u32)>,
}

impl ClusterSpec {
    /// A cluster named `name` whose state lives under [`clusters_root`].
    pub fn named(name: &str) -> Result<Self, Error> {
        let valid = !name.is_empty()
            && name.len() <= 40
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(Error::InvalidName { name: name.into() });
        }
        Ok(Self {
            name: name.to_owned(),
            state_dir: clusters_root().join(name),
            controller_client_limit: None,
        })
    }

    /// Sets [`Self::controller_client_limit`].
    #[must_use]
    pub fn with_controller_client_limit(mut self, qps: u32, burst: u32) -> Self {
        self.controller_client_limit = Some((qps, burst));
        self
    }

    /// `--kube-api-qps`/`--kube-api-burst` flags for the scheduler and controller-manager.
    fn client_limit_flags(&self) -> Vec<String> {
        self.controller_client_limit
            .map(|(qps, burst)| {
                vec![
                    format!("--kube-api-qps={qps}"),
                    format!("--kube-api-burst={burst}"),
                ]
            })
            .unwrap_or_default()
    }

    /// Starts the cluster and waits until it is usable: `/readyz` is ok and
    /// the `default` ServiceAccount has its token. On failure, everything
    /// started is stopped again, the logs stay in the state directory, and
    /// the error carries their tails.
    pub async fn up(&self, bins: &Binaries) -> Result<ClusterInfo, Error> {
        if self.state_dir.exists() {
            if status(&self.state_dir).iter().any(|s| s.running) {
                return Err(Error::AlreadyRunning {
                    name: self.name.clone(),
                    state_dir: self.state_dir.clone(),
                });
            }
            std::fs::remove_dir_all(&self.state_dir)
                .map_err(Error::io("removing stale state", &self.state_dir))?;
        }
        let logs = self.state_dir.join("logs");
        std::fs::create_dir_all(&logs).map_err(Error::io("creating", &logs))?;
        match self.start(bins).await {
            Ok(info) => Ok(info),
            Err(e) => {
                stop_all(&self.state_dir);
                Err(e)
            }
        }
    }

    async fn start(&self, bins: &Binaries) -> Result<ClusterInfo, Error> {
        let dir = &self.state_dir;
        let certs = ClusterCerts::generate()?;
        certs.write_to(dir)?;
        let ports = Ports::free()?;
        let server = format!("https://127.0.0.1:{}", ports.apiserver);
        let kubeconfig = dir.join("admin.kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig::render(&self.name, &server, &certs))
            .map_err(Error::io("writing", &kubeconfig))?;
        let p = |name: &str| dir.join(name).display().to_string();
        let kc = kubeconfig.display().to_string();

        tracing::info!(cluster = %self.name, ?ports, "starting etcd");
        let mut etcd = process::spawn(
            dir,
            Component::Etcd.name(),
            &bins.etcd,
            &[
                "--name=default".into(),
                format!("--data-dir={}", p("etcd")),
                format!(
                    "--listen-client-urls=http://127.0.0.1:{}",
                    ports.etcd_client
                ),
                format!(
                    "--advertise-client-urls=http://127.0.0.1:{}",
                    ports.etcd_client
                ),
                format!("--listen-peer-urls=http://127.0.0.1:{}", ports.etcd_peer),
                format!(
                    "--initial-advertise-peer-urls=http://127.0.0.1:{}",
                    ports.etcd_peer
                ),
                format!(
                    "--initial-cluster=default=http://127.0.0.1:{}",
                    ports.etcd_peer
                ),
            ],
        )?;
        wait_tcp(dir, &mut etcd, Component::Etcd, ports.etcd_client).await?;

        // Audit what service accounts in vk's namespace do: the RBAC tests
        // compare it with what vk's roles grant.
        let audit_policy = dir.join("audit-policy.yaml");
        std::fs::write(&audit_policy, AUDIT_POLICY).map_err(Error::io("writing", &audit_policy))?;
        tracing::info!(cluster = %self.name, "starting kube-apiserver");
        let mut apiserver = process::spawn(
            dir,
            Component::Apiserver.name(),
            &bins.apiserver,
            &[
                format!("--etcd-servers=http://127.0.0.1:{}", ports.etcd_client),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                format!("--secure-port={}", ports.apiserver),
                format!("--cert-dir={}", p("apiserver-certs")),
                format!("--tls-cert-file={}", p("apiserver.crt")),
                format!("--tls-private-key-file={}", p("apiserver.key")),
                format!("--client-ca-file={}", p("ca.crt")),
                format!(
                    "--kubelet-client-certificate={}",
                    p("apiserver-kubelet-client.crt")
                ),
                format!("--kubelet-client-key={}", p("apiserver-kubelet-client.key")),
                "--kubelet-preferred-address-types=InternalIP,Hostname".into(),
                format!("--service-account-key-file={}", p("sa.pub")),
                format!("--service-account-signing-key-file={}", p("sa.key")),
                "--service-account-issuer=https://kubernetes.default.svc".into(),
                "--authorization-mode=Node,RBAC".into(),
                "--service-cluster-ip-range=10.0.0.0/24".into(),
                "--allow-privileged=true".into(),
                "--profiling=false".into(),
                format!("--audit-policy-file={}", audit_policy.display()),
                format!("--audit-log-path={}", p("audit.log")),
                "--audit-log-format=json".into(),
            ],
        )?;
        let client = kube_client(&kubeconfig).await?;
        wait_ready(dir, &mut apiserver, &client).await?;

        tracing::info!(cluster = %self.name, "starting kube-scheduler and kube-controller-manager");
        let limit = self.client_limit_flags();
        let mut scheduler = process::spawn(
            dir,
            Component::Scheduler.name(),
            &bins.scheduler,
            &[
                format!("--kubeconfig={kc}"),
                format!("--authentication-kubeconfig={kc}"),
                format!("--authorization-kubeconfig={kc}"),
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={}", ports.scheduler),
                "--port=0".into(),
                format!("--cert-dir={}", p("scheduler-certs")),
                "--leader-elect=false".into(),
                "--profiling=false".into(),
            ]
            .into_iter()
            .chain(limit.iter().cloned())
            .collect::<Vec<_>>(),
        )?;
        let mut cm = process::spawn(
            dir,
            Component::ControllerManager.name(),
            &bins.controller_manager,
            &[
                format!("--kubeconfig={kc}"),
                format!("--authentication-kubeconfig={kc}"),
                format!("--authorization-kubeconfig={kc}"),
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={}", ports.controller_manager),
                "--port=0".into(),
                format!("--cert-dir={}", p("controller-manager-certs")),
                "--leader-elect=false".into(),
                format!("--service-account-private-key-file={}", p("sa.key")),
                format!("--root-ca-file={}", p("ca.crt")),
                format!("--cluster-signing-cert-file={}", p("ca.crt")),
                format!("--cluster-signing-key-file={}", p("ca.key")),
                "--use-service-account-credentials=true".into(),
                "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service,-route".into(),
                "--profiling=false".into(),
            ]
            .into_iter()
            .chain(limit)
            .collect::<Vec<_>>(),
        )?;
        wait_default_service_account(
            dir,
            &mut [
                (Component::Scheduler, &mut scheduler),
                (Component::ControllerManager, &mut cm),
            ],
            &client,
        )
        .await?;

        let info = ClusterInfo {
            name: self.name.clone(),
            state_dir: dir.clone(),
            kubeconfig,
            server,
            ports,
            kubernetes_version: KUBERNETES_VERSION.into(),
        };
        let state = dir.join(STATE_FILE);
        let json = serde_json::to_string_pretty(&info).map_err(|source| Error::State {
            path: state.clone(),
            source,
        })?;
        std::fs::write(&state, json).map_err(Error::io("writing", &state))?;
        Ok(info)
    }
}

/// Builds a Kubernetes client from a kubeconfig file (its current context).
pub async fn kube_client(kubeconfig: &Path) -> Result<Client, Error> {
    let err = |e: &dyn std::fmt::Display| Error::Client {
        path: kubeconfig.to_owned(),
        detail: e.to_string(),
    };
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| err(&e))?;
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| err(&e))?;
    Client::try_from(config).map_err(|e| err(&e))
}

/// Reports each component's recorded pid and whether it runs.
pub fn status(state_dir: &Path) -> Vec<ComponentStatus> {
    Component::ALL
        .iter()
        .map(|&component| {
            let rec = process::read_pid_file(state_dir, component.name());
            ComponentStatus {
                component,
                pid: rec.as_ref().map(|r| r.pid),
                running: rec.as_ref().is_some_and(process::is_ours),
            }
        })
        .collect()
}

fn stop_all(state_dir: &Path) {
    for component in Component::ALL.iter().rev() {
        if let Some(rec) = process::read_pid_file(state_dir, component.name()) {
            process::stop(&rec, Duration::from_secs(10));
        }
    }
}

/// Stops exactly the processes this cluster started (by their recorded pids,
/// checking each still runs the recorded binary) and removes the state directory.
pub fn down(state_dir: &Path) -> Result<(), Error> {
    if !state_dir.exists() {
        return Err(Error::NotFound {
            state_dir: state_dir.to_owned(),
        });
    }
    stop_all(state_dir);
    let still: Vec<Recorded> = Component::ALL
        .iter()
        .filter_map(|c| process::read_pid_file(state_dir, c.name()))
        .filter(process::is_ours)
        .collect();
    if let Some(rec) = still.first() {
        return Err(Error::Io {
            action: "stopping",
            path: rec.binary.clone(),
            source: std::io::Error::other(format!("pid {} still running", rec.pid)),
        });
    }
    std::fs::remove_dir_all(state_dir).map_err(Error::io("removing", state_dir))
}

fn exited(dir: &Path, child: &mut Child, component: Component) -> Result<(), Error> {
    match child.try_wait() {
        Ok(Some(status)) => Err(Error::Exited {
            component: component.name(),
            status: status.to_string(),
            logs: process::log_tails(dir, 25),
        }),
        _ => Ok(()),
    }
}

const POLL: Duration = Duration::from_millis(200);

async fn wait_tcp(
    dir: &Path,
    child: &mut Child,
    component: Component,
    port: u16,
) -> Result<(), Error> {
    let secs = 30;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        exited(dir, child, component)?;
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(POLL).await;
    }
    Err(Error::NotReady {
        what: format!("{} on port {port}", component.name()),
        secs,
        last,
        logs: process::log_tails(dir, 25),
    })
}

async fn wait_ready(dir: &Path, apiserver: &mut Child, client: &Client) -> Result<(), Error> {
    let secs = 120;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        exited(dir, apiserver, Component::Apiserver)?;
        let req = http::Request::get("/readyz").body(Vec::new());
        match req {
            Ok(req) => match client.request_text(req).await {
                Ok(body) if body.trim() == "ok" => return Ok(()),
                Ok(body) => last = body,
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(POLL).await;
    }
    Err(Error::NotReady {
        what: "kube-apiserver /readyz".into(),
        secs,
        last,
        logs: process::log_tails(dir, 25),
    })
}

async fn wait_default_service_account(
    dir: &Path,
    children: &mut [(Component, &mut Child)],
    client: &Client,
) -> Result<(), Error> {
    let secs = 120;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    let mut last = String::from("ServiceAccount default/default not created yet");
    while tokio::time::Instant::now() < deadline {
        for (component, child) in children.iter_mut() {
            exited(dir, child, *component)?;
        }
        match sas.get_opt("default").await {
            // Kubernetes 1.20: pods need the token secret, not only the account.
            Ok(Some(sa)) if sa.secrets.as_ref().is_some_and(|s| !s.is_empty()) => return Ok(()),
            Ok(_) => {}
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(POLL).await;
    }
    Err(Error::NotReady {
        what: "ServiceAccount default/default with its token".into(),
        secs,
        last,
        logs: process::log_tails(dir, 25),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(ClusterSpec::named("a-1").is_ok());
        for bad in ["", "A", "a/b", "../x", &"x".repeat(41)] {
            let err = ClusterSpec::named(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidName { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn free_ports_are_distinct() {
        let p = Ports::free().unwrap();
        let mut all = vec![
            p.etcd_client,
            p.etcd_peer,
            p.apiserver,
            p.scheduler,
            p.controller_manager,
        ];
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 5);
    }

    #[test]
    fn down_of_unknown_cluster_is_not_found() {
        let dir = std::env::temp_dir().join(format!("vk-cp-none-{}", std::process::id()));
        assert!(matches!(down(&dir), Err(Error::NotFound { .. })));
    }
}
