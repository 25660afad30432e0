//! `vk`: a virtual kubelet for Azure Container Instances.
//!
//! The binary is thin: it loads the configuration ([`config`], [`cli`]), sets up logging
//! ([`telemetry`]) and the admin port ([`admin`], [`metrics`]), and composes the library crates
//! under `crates/` in [`run`].
//!
//! Exit codes: 0 after a clean shutdown (SIGTERM or SIGINT), 1 on a runtime error, 64
//! (`EX_USAGE`) on an invalid command line or configuration.

mod admin;
mod cli;
mod config;
mod leader;
mod metrics;
mod telemetry;
mod wiring;

use std::collections::HashMap;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser as _;
use futures::future::BoxFuture;
use futures::{FutureExt as _, TryFutureExt as _};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::admin::{AdminState, Readiness};
use crate::cli::{Cli, Command, ConfigArgs, ConfigCommand};
use crate::config::{Config, ConfigError, HostContext, NodeSpec, PrintFormat};
use crate::metrics::Metrics;

/// Exit code for an invalid command line or configuration (sysexits' `EX_USAGE`).
const EX_USAGE: u8 = 64;

/// How long the tasks get to stop after SIGTERM before vk gives up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    // One TLS stack for kube and reqwest: rustls with ring. Installed before anything builds a
    // TLS client; fails only if a provider is already installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // --help and --version go to stdout and are not errors.
            return if err.use_stderr() {
                ExitCode::from(EX_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let host = HostContext::from_process();
    match cli.command {
        None => start(&cli.config, &host),
        Some(Command::Config(ConfigCommand::Print { format })) => {
            config_print(&cli.config, &host, format)
        }
        Some(Command::Config(ConfigCommand::Validate)) => config_validate(&cli.config, &host),
        Some(Command::Install(args)) => install_command(&cli.config, args, true),
        Some(Command::Uninstall(args)) => install_command(&cli.config, args, false),
    }
}

/// `vk install` / `vk uninstall`: exit 64 on invalid options, 1 when the API server refuses.
fn install_command(
    config: &ConfigArgs,
    mut args: vk_install::InstallArgs,
    installing: bool,
) -> ExitCode {
    if let Some(id) = &config.cluster_id {
        args.cluster_id.clone_from(id);
    }
    if let Err(err) = args.validate(installing) {
        eprintln!("error: {err:#}");
        return ExitCode::from(EX_USAGE);
    }
    if installing && args.dry_run {
        return match vk_install::render(&args).and_then(|o| vk_install::to_yaml(&o)) {
            Ok(yaml) => {
                use std::io::Write as _;
                // A closed pipe (`vk install --dry-run | head`) is not an error.
                let _ = std::io::stdout().write_all(yaml.as_bytes());
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let client = install_client(config.kubeconfig.as_deref()).await?;
        if installing {
            vk_install::install(&client, &args)
                .await
                .map_err(anyhow::Error::from)
        } else {
            vk_install::uninstall(&client, &args)
                .await
                .map_err(anyhow::Error::from)
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// A client for `--kubeconfig`, else the usual inference (KUBECONFIG, ~/.kube/config, in-cluster).
async fn install_client(kubeconfig: Option<&std::path::Path>) -> anyhow::Result<kube::Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("--kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .with_context(|| format!("--kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no Kubernetes configuration (give --kubeconfig or set KUBECONFIG)")?,
    };
    kube::Client::try_from(config).context("building the Kubernetes client")
}

/// Reports a configuration error on stderr, one line per problem, and returns exit code 64.
fn config_error(err: &ConfigError) -> ExitCode {
    for message in err.messages() {
        eprintln!("config error: {message}");
    }
    ExitCode::from(EX_USAGE)
}

/// `vk config print`: the effective configuration, secrets redacted; exits 64 after printing
/// when it does not validate.
fn config_print(args: &ConfigArgs, host: &HostContext, format: PrintFormat) -> ExitCode {
    let config = match config::load_unvalidated(args, host) {
        Ok(config) => config,
        Err(err) => return config_error(&err),
    };
    match config.render(format) {
        Ok(text) => print!("{text}"),
        Err(err) => {
            eprintln!("error: cannot render the configuration: {err:#}");
            return ExitCode::FAILURE;
        }
    }
    match config.validate() {
        Ok(()) => ExitCode::SUCCESS,
        Err(errors) => config_error(&ConfigError::Invalid(errors)),
    }
}

/// `vk config validate`.
fn config_validate(args: &ConfigArgs, host: &HostContext) -> ExitCode {
    match config::load(args, host) {
        Ok(config) => {
            for warning in config::legacy::warnings() {
                eprintln!("warning: {warning}");
            }
            println!(
                "configuration is valid: {} node(s), ACI region {}, credentials {}",
                config.nodes.len(),
                config.aci.region,
                config.aci.credentials.kind()
            );
            ExitCode::SUCCESS
        }
        Err(err) => config_error(&err),
    }
}

/// Runs the virtual kubelet: loads the configuration, starts logging and the runtime, and
/// maps the outcome of [`run`] to an exit code.
fn start(args: &ConfigArgs, host: &HostContext) -> ExitCode {
    let config = match config::load(args, host) {
        Ok(config) => config,
        Err(err) => return config_error(&err),
    };
    let rust_log = std::env::var("RUST_LOG").ok();
    if let Err(err) = telemetry::init(&config.log, rust_log.as_deref()) {
        eprintln!("config error: {err}");
        return ExitCode::from(EX_USAGE);
    }
    for warning in config::legacy::warnings() {
        tracing::warn!(deprecated = true, "{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vk")
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        // Watch the signals before anything else, so a SIGTERM during start-up is a clean stop
        // too rather than the default (immediate) death.
        let shutdown = shutdown_signal().context("cannot watch SIGTERM/SIGINT")?;
        run(config, shutdown).await
    });
    match outcome {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "vk failed");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// What every controller shares; built by [`run`] before the controllers are wired.
#[derive(Clone, Debug)]
pub(crate) struct Services {
    /// The validated, resolved configuration.
    pub(crate) config: Arc<Config>,
    /// The metrics registry served on `/metrics`.
    pub(crate) metrics: Arc<Metrics>,
    /// Readiness served on `/readyz`: register a component per node / dependency.
    pub(crate) readiness: Readiness,
    /// Cancelled on SIGTERM/SIGINT or when a task fails: every task stops when it fires.
    pub(crate) shutdown: CancellationToken,
}

/// The virtual kubelet: serves the admin port and runs the controllers until `shutdown`
/// completes (SIGTERM/SIGINT in `main`) or a task fails.
pub(crate) async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %serde_json::to_string(&*config).unwrap_or_default(),
        "starting vk (secrets redacted)"
    );
    let services = Services {
        config: Arc::clone(&config),
        metrics: Arc::new(Metrics::new()),
        readiness: Readiness::new(),
        shutdown: CancellationToken::new(),
    };
    let mut tasks = Tasks::new();

    let listener = admin::bind(config.admin.listen)
        .await
        .with_context(|| format!("cannot listen on admin.listen {}", config.admin.listen))?;
    tracing::info!(
        addr = %listener.local_addr().unwrap_or(config.admin.listen),
        "admin port serving /healthz, /readyz, /metrics"
    );
    let admin_state = AdminState {
        readiness: services.readiness.clone(),
        metrics: Arc::clone(&services.metrics),
    };
    let admin_stop = services.shutdown.clone().cancelled_owned();
    tasks.spawn("admin", async move {
        admin::serve(listener, admin_state, admin_stop)
            .await
            .context("admin server failed")
    });

    // Wiring may wait on the API server or ARM; a signal meanwhile still stops vk cleanly.
    tokio::pin!(shutdown);
    let drain;
    tokio::select! {
        wired = wire_controllers(&services, &mut tasks) => {
            drain = wired.context("cannot start the controllers")?;
        }
        () = &mut shutdown => {
            tracing::info!("shutdown requested while starting");
            return tasks
                .run_until(async {}, &services.shutdown, SHUTDOWN_GRACE)
                .await;
        }
    }

    // Components registered by the controllers still gate /readyz until they report ready.
    services.readiness.set_ready(true);
    // With --drain-on-shutdown the nodes are drained after the signal, while the
    // controllers still run (they delete the evicted pods' container groups).
    let shutdown = async move {
        shutdown.await;
        if let Some(drain) = drain {
            drain.await;
        }
    };
    tasks
        .run_until(shutdown, &services.shutdown, SHUTDOWN_GRACE)
        .await
}

/// A named controller future, spawned directly or once this replica leads.
type Controller = (String, BoxFuture<'static, anyhow::Result<()>>);

/// Builds the clients and spawns the controllers onto `tasks`. Each task must return when
/// `services.shutdown` is cancelled. Returns the drain to run on shutdown, if configured.
async fn wire_controllers(
    services: &Services,
    tasks: &mut Tasks,
) -> anyhow::Result<Option<BoxFuture<'static, ()>>> {
    let config = &services.config;
    let requests = vk_kube::RequestMetrics::default();
    services.metrics.register(|r| requests.register_metrics(r));
    let kube = (config.kube)
        .client(config.kubeconfig.as_deref(), &requests)
        .await?;
    // The one ACI client all nodes share.
    let aci = config.aci.client()?;
    services.metrics.register(|r| aci.register_metrics(r));
    // ACI's create/delete quotas are per subscription and region: every node
    // of this process spends the same two budgets.
    let budgets = config.aci.quotas.budgets();
    services.metrics.register(|r| budgets.register_metrics(r));
    let mut controllers = Vec::new();
    for node in &config.nodes {
        controllers.extend(wire_node(services, node, &kube, &aci, &budgets)?);
    }
    if config.ha.enabled {
        let leader = (vk_kube::Leadership::elect(kube.clone(), &config.ha).await).context("ha")?;
        let stop = services.shutdown.clone();
        tasks.spawn("leader", leader::run_when_leader(leader, controllers, stop));
    } else {
        for (name, controller) in controllers {
            tasks.spawn(name, controller);
        }
    }
    // HA replicas hand their nodes over instead: a standby takes over the pods.
    let drain = (config.drain_on_shutdown && !config.ha.enabled).then(|| {
        let nodes = config.nodes.iter().map(|n| n.name.clone()).collect();
        let drain: BoxFuture<'static, ()> =
            Box::pin(vk_node::drain(kube.clone(), nodes, SHUTDOWN_GRACE / 2));
        drain
    });
    Ok(drain)
}

/// One virtual node: its Node and Lease, its pod reconciler, its usage sampler and its
/// kubelet API, with their metric families labelled `node`.
fn wire_node(
    services: &Services,
    node: &NodeSpec,
    kube: &kube::Client,
    aci: &vk_aci::ContainerInstances,
    budgets: &vk_provider_aci::OperationBudgets,
) -> anyhow::Result<Vec<Controller>> {
    let config = &services.config;
    let node_config = (node.node_config(config.lease.clone(), config.status.clone()))
        .with_context(|| format!("nodes[{}]", node.name))?;
    let probe = vk_provider_aci::AciHealth::new(aci.clone(), config.aci.region.clone());
    let hook = vk_node::OwnTaints::new(kube.clone(), node.name.clone(), node.taint_config());
    let virtual_node = vk_node::VirtualNode::new(kube.clone(), node_config, Arc::new(probe))
        .with_taint_hook(Arc::new(hook));
    let provider = Arc::new(wiring::aci_provider(config, node, aci, kube));
    let names = provider.group_names();
    let reconciler = vk_pods::PodReconciler::new(
        kube.clone(),
        provider,
        wiring::reconciler_config(config, node),
    )
    .with_budgets(Arc::clone(&budgets.creates), Arc::clone(&budgets.deletes));
    services.metrics.register(|r| {
        let r = r.sub_registry_with_label(("node".into(), node.name.clone().into()));
        virtual_node.register_metrics(r);
        reconciler.register_metrics(r);
    });
    if !config.ha.enabled {
        // /readyz waits for each node's registration (create or adopt). An
        // HA standby never registers its nodes: it is ready once wired.
        let component = services.readiness.component(format!("node/{}", node.name));
        spawn_registration_gate(component, virtual_node.metrics(), services.shutdown.clone());
    }
    let sampler = if node.os == config::Os::Windows {
        if config.aci.usage.enabled {
            tracing::info!(node = %node.name, "no usage figures for this node's pods: Azure Monitor has no metrics of Windows container groups");
        }
        None
    } else {
        let pods = reconciler.pods();
        let usage = config.aci.usage.clone();
        let namer = Arc::clone(&names).namer();
        let region = &config.aci.region;
        vk_kubelet_aci::UsageSampler::for_region(aci, region, move || pods.state(), namer, usage)?
    };
    let usage = sampler.as_ref().map(vk_kubelet_aci::UsageSampler::cache);
    let stop = services.shutdown.clone();
    let pods = reconciler.pods();
    let kubelet =
        wiring::kubelet_server(config, node, aci, kube, pods, names, usage, stop.clone())?;
    let name = |task: &str| format!("{task}/{}", node.name);
    let mut controllers: Vec<Controller> = vec![(
        name("node"),
        Box::pin(virtual_node.run(stop.clone()).map_err(anyhow::Error::from)),
    )];
    if let Some(sampler) = sampler {
        let run = sampler.run(stop.clone().cancelled_owned()).map(Ok);
        controllers.push((name("usage"), Box::pin(run)));
    }
    controllers.push((name("kubelet"), Box::pin(kubelet)));
    controllers.push((name("pods"), Box::pin(reconciler.run(stop).map(Ok))));
    Ok(controllers)
}

/// Keeps `component` not ready until the node behind `metrics` registered once.
fn spawn_registration_gate(
    component: admin::ComponentReadiness,
    metrics: Arc<vk_node::NodeMetrics>,
    stop: CancellationToken,
) {
    component.set_not_ready("not registered with the API server yet");
    tokio::spawn(async move {
        while metrics.snapshot().registrations == 0 {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        component.set_ready();
    });
}

/// The process's long-running tasks, by name.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    set: JoinSet<anyhow::Result<()>>,
    names: HashMap<tokio::task::Id, String>,
}

impl Tasks {
    /// No tasks.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Spawns a named task. A task that returns `Ok` early is simply done; one that returns
    /// `Err` or panics stops the process (exit code 1).
    pub(crate) fn spawn<F>(&mut self, name: impl Into<String>, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let handle = self.set.spawn(task);
        self.names.insert(handle.id(), name.into());
    }

    fn name(&mut self, id: tokio::task::Id) -> String {
        self.names
            .remove(&id)
            .unwrap_or_else(|| "unnamed task".into())
    }

    /// Waits for `shutdown` or for a task to fail, then cancels `token` and gives the tasks
    /// `grace` to finish (a second `shutdown`-style signal is not awaited: SIGKILL follows).
    /// Returns the first task failure, if any, or an error if tasks outlived the grace period.
    pub(crate) async fn run_until(
        mut self,
        shutdown: impl Future<Output = ()> + Send,
        token: &CancellationToken,
        grace: Duration,
    ) -> anyhow::Result<()> {
        let mut failure: Option<anyhow::Error> = None;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => {
                    tracing::info!("shutdown requested; stopping");
                    break;
                }
                () = token.cancelled() => break,
                joined = self.set.join_next_with_id(), if !self.set.is_empty() => {
                    let Some(joined) = joined else { continue };
                    if let Err(err) = self.record(joined) {
                        tracing::error!(error = %format!("{err:#}"), "task failed; stopping");
                        failure = Some(err);
                        break;
                    }
                }
            }
        }
        token.cancel();

        let drain = async {
            while let Some(joined) = self.set.join_next_with_id().await {
                if let Err(err) = self.record(joined) {
                    tracing::error!(error = %format!("{err:#}"), "task failed while stopping");
                    failure.get_or_insert(err);
                }
            }
        };
        if tokio::time::timeout(grace, drain).await.is_err() {
            let stuck: Vec<String> = self.names.values().cloned().collect();
            self.set.abort_all();
            let err = anyhow::anyhow!(
                "tasks did not stop within {}s: {}",
                grace.as_secs(),
                stuck.join(", ")
            );
            return Err(match failure {
                Some(first) => first.context(err.to_string()),
                None => err,
            });
        }
        match failure {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    fn record(
        &mut self,
        joined: Result<(tokio::task::Id, anyhow::Result<()>), tokio::task::JoinError>,
    ) -> anyhow::Result<()> {
        match joined {
            Ok((id, Ok(()))) => {
                let name = self.name(id);
                tracing::debug!(task = %name, "task finished");
                Ok(())
            }
            Ok((id, Err(err))) => {
                let name = self.name(id);
                Err(err.context(format!("task {name} failed")))
            }
            Err(err) => {
                let name = self.name(err.id());
                if err.is_cancelled() {
                    Ok(())
                } else {
                    Err(anyhow::anyhow!("task {name} panicked"))
                }
            }
        }
    }
}

/// Starts watching SIGTERM and SIGINT (call inside the runtime, before start-up work) and
/// returns a future that completes on the first of them.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("received SIGTERM"),
                _ = int.recv() => tracing::info!("received SIGINT"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_config() -> Config {
        // An API server that never answers: the controllers keep retrying and must still stop.
        let kubeconfig =
            std::env::temp_dir().join(format!("vk-main-test-{}.kubeconfig", std::process::id()));
        std::fs::write(
            &kubeconfig,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n\
             users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n\
             current-context: c\n",
        )
        .expect("kubeconfig written");
        let mut config = Config {
            kubeconfig: Some(kubeconfig),
            ..Config::default()
        };
        config.admin.listen = "127.0.0.1:0".parse().expect("address");
        config.aci.subscription_id = Some("00000000-0000-0000-0000-000000000000".into());
        config.aci.resource_group = Some("rg".into());
        config
    }

    #[tokio::test]
    async fn run_stops_cleanly_on_shutdown() {
        let shutdown = tokio::time::sleep(Duration::from_millis(50));
        run(test_config(), shutdown).await.expect("clean shutdown");
    }

    #[tokio::test]
    async fn run_fails_when_the_admin_port_is_taken() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let mut config = test_config();
        config.admin.listen = taken.local_addr().expect("address");
        let err = run(config, std::future::pending())
            .await
            .expect_err("port in use");
        assert!(format!("{err:#}").contains("admin.listen"), "{err:#}");
    }

    #[tokio::test]
    async fn a_failing_task_stops_the_others() {
        let token = CancellationToken::new();
        let mut tasks = Tasks::new();
        let stop = token.clone();
        tasks.spawn("waits", async move {
            stop.cancelled().await;
            Ok(())
        });
        tasks.spawn("done", async { Ok(()) });
        tasks.spawn("fails", async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            anyhow::bail!("boom")
        });
        let err = tasks
            .run_until(std::future::pending(), &token, Duration::from_secs(5))
            .await
            .expect_err("a task failed");
        assert_eq!(format!("{err:#}"), "task fails failed: boom");
        assert!(token.is_cancelled());
    }

    #[tokio::test]
    async fn a_panicking_task_is_an_error() {
        let token = CancellationToken::new();
        let mut tasks = Tasks::new();
        tasks.spawn("panics", async { panic!("oops") });
        let err = tasks
            .run_until(std::future::pending(), &token, Duration::from_secs(5))
            .await
            .expect_err("a task panicked");
        assert_eq!(err.to_string(), "task panics panicked");
    }

    #[tokio::test(start_paused = true)]
    async fn stuck_tasks_are_reported_after_the_grace_period() {
        let token = CancellationToken::new();
        let mut tasks = Tasks::new();
        tasks.spawn("stuck", std::future::pending());
        let err = tasks
            .run_until(async {}, &token, Duration::from_secs(30))
            .await
            .expect_err("stuck task");
        assert_eq!(err.to_string(), "tasks did not stop within 30s: stuck");
    }
}
