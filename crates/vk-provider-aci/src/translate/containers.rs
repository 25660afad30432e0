//! Containers and init containers.
//!
//! ACI runs the containers in the order the sizing gives them: native
//! sidecars (init containers with `restartPolicy: Always`) first, then the app
//! containers. The other init containers become ACI init containers, which
//! have only an image, a command, environment variables, volume mounts and a
//! security context.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container as K8sContainer;
use vk_aci::models::{
    Container, ContainerProbe, ContainerProperties, GpuResource, GpuSku, InitContainer,
    InitContainerProperties, ResourceLimits, ResourceRequests, ResourceRequirements,
};
use vk_resources::{ContainerKind, ContainerSizing};

use super::Ctx;
use super::command::command;
use super::env::container_env;
use super::network::container_ports;
use super::probes::probe;
use super::security::{pod_security_warnings, security_context};
use super::volumes::mounts;
use crate::Error;

fn is_sidecar(c: &K8sContainer) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// The ACI containers and init containers of the pod.
pub(crate) fn containers(
    ctx: &mut Ctx<'_>,
    volume_names: &BTreeMap<String, String>,
) -> Result<(Vec<Container>, Vec<InitContainer>), Error> {
    pod_security_warnings(ctx);
    let spec = ctx.spec;
    let inits = spec.init_containers.as_deref().unwrap_or_default();
    let sized: Vec<ContainerSizing> = ctx.sizing.containers.clone();
    let mut out = Vec::with_capacity(sized.len());
    for s in &sized {
        let source = match s.kind {
            ContainerKind::Sidecar => inits.iter().find(|c| c.name == s.name && is_sidecar(c)),
            ContainerKind::App => spec.containers.iter().find(|c| c.name == s.name),
        };
        let Some(c) = source else { continue };
        out.push(container(ctx, c, s, volume_names)?);
    }
    if inits.iter().any(is_sidecar) && inits.iter().any(|c| !is_sidecar(c)) {
        ctx.warn(
            "native sidecars start with the app containers: ACI runs every init container before any sidecar",
        );
    }
    let mut init_out = Vec::new();
    for c in inits.iter().filter(|c| !is_sidecar(c)) {
        init_out.push(init_container(ctx, c, volume_names)?);
    }
    Ok((out, init_out))
}

/// The container's image, refused (`InvalidImageName`) when it is not a
/// valid image reference, before anything reaches ACI.
fn checked_image(ctx: &Ctx<'_>, c: &K8sContainer) -> Result<String, Error> {
    let image = c.image.clone().unwrap_or_default();
    match super::reference::check(&image) {
        Ok(()) => Ok(image),
        Err(problem) => Err(Error::InvalidImageName {
            pod: ctx.pod_id.clone(),
            container: c.name.clone(),
            image,
            problem,
        }),
    }
}

fn container(
    ctx: &mut Ctx<'_>,
    c: &K8sContainer,
    sizing: &ContainerSizing,
    volume_names: &BTreeMap<String, String>,
) -> Result<Container, Error> {
    let image = checked_image(ctx, c)?;
    container_warnings(ctx, c);
    let startup = startup_window(ctx, c);
    let env = container_env(ctx, c)?;
    let command = command(ctx, c, &env)?;
    let gpu = |g: Option<vk_resources::GpuResource>| {
        g.map(|g| GpuResource {
            count: i32::try_from(g.count).unwrap_or(i32::MAX),
            sku: GpuSku::from(g.sku.as_str()),
        })
    };
    let limits = &sizing.limits;
    let resources = ResourceRequirements {
        requests: ResourceRequests {
            cpu: sizing.requests.cpu.as_f64(),
            memory_in_gb: sizing.requests.memory.as_f64(),
            gpu: gpu(sizing.requests.gpu),
        },
        limits: (!limits.is_empty()).then(|| ResourceLimits {
            cpu: limits.cpu.map(vk_resources::Cpu::as_f64),
            memory_in_gb: limits.memory.map(vk_resources::MemoryGb::as_f64),
            gpu: gpu(limits.gpu),
        }),
    };
    Ok(Container {
        name: c.name.clone(),
        properties: ContainerProperties {
            image,
            command,
            ports: container_ports(ctx, c)?,
            environment_variables: env.to_aci(),
            instance_view: None,
            resources,
            volume_mounts: mounts(ctx, c, volume_names)?,
            liveness_probe: delayed(
                probe(ctx, c, c.liveness_probe.as_ref(), "liveness")?,
                startup,
            ),
            readiness_probe: delayed(
                probe(ctx, c, c.readiness_probe.as_ref(), "readiness")?,
                startup,
            ),
            security_context: security_context(ctx, c),
        },
    })
}

fn init_container(
    ctx: &mut Ctx<'_>,
    c: &K8sContainer,
    volume_names: &BTreeMap<String, String>,
) -> Result<InitContainer, Error> {
    let image = checked_image(ctx, c)?;
    container_warnings(ctx, c);
    let dropped: Vec<&str> = [
        (c.ports.as_ref().is_some_and(|p| !p.is_empty()), "ports"),
        (c.liveness_probe.is_some(), "livenessProbe"),
        (c.readiness_probe.is_some(), "readinessProbe"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    if !dropped.is_empty() {
        ctx.warn(format!(
            "init container {:?}: {} ignored (ACI init containers have none)",
            c.name,
            dropped.join(", ")
        ));
    }
    let env = container_env(ctx, c)?;
    let command = command(ctx, c, &env)?;
    Ok(InitContainer {
        name: c.name.clone(),
        properties: InitContainerProperties {
            image: Some(image),
            command,
            environment_variables: env.to_aci(),
            instance_view: None,
            volume_mounts: mounts(ctx, c, volume_names)?,
            security_context: security_context(ctx, c),
        },
    })
}

/// ACI has no startup probe. The kubelet runs no liveness or readiness probe
/// before the startup probe succeeds, which it must within
/// `initialDelaySeconds + periodSeconds × failureThreshold` (defaults 0, 10,
/// 3); so the container's liveness and readiness probes start after that
/// window: a slow start is never killed, and the container is not ready
/// before the window ends (a kubelet may call it ready sooner).
fn startup_window(ctx: &mut Ctx<'_>, c: &K8sContainer) -> Option<i32> {
    let p = c.startup_probe.as_ref()?;
    let window = p.initial_delay_seconds.unwrap_or(0).max(0).saturating_add(
        p.period_seconds
            .unwrap_or(10)
            .max(1)
            .saturating_mul(p.failure_threshold.unwrap_or(3).max(1)),
    );
    let probes: Vec<&str> = [
        (c.liveness_probe.is_some(), "liveness"),
        (c.readiness_probe.is_some(), "readiness"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    let message = if probes.is_empty() {
        format!(
            "container {:?}: startupProbe is dropped: ACI has no startup probe, and the container \
             has no liveness or readiness probe to hold back",
            c.name
        )
    } else {
        format!(
            "container {:?}: startupProbe is approximated: ACI has no startup probe, so the {} \
             probe(s) start {window}s later (the startup probe's longest window)",
            c.name,
            probes.join(" and ")
        )
    };
    ctx.adjust("StartupProbeApproximated", message);
    Some(window)
}

/// `probe` starting `delay` seconds later.
fn delayed(probe: Option<ContainerProbe>, delay: Option<i32>) -> Option<ContainerProbe> {
    let mut p = probe?;
    if let Some(d) = delay {
        p.initial_delay_seconds = Some(p.initial_delay_seconds.unwrap_or(0).saturating_add(d));
    }
    Some(p)
}

/// Warnings for container fields ACI ignores.
fn container_warnings(ctx: &mut Ctx<'_>, c: &K8sContainer) {
    let mut ignored: Vec<&str> = Vec::new();
    if c.working_dir.as_deref().is_some_and(|w| !w.is_empty()) {
        ignored.push("workingDir");
    }
    if c.lifecycle
        .as_ref()
        .is_some_and(|l| l.post_start.is_some() || l.pre_stop.is_some())
    {
        ignored.push("lifecycle hooks");
    }
    if c.stdin == Some(true) || c.tty == Some(true) {
        ignored.push("stdin/tty");
    }
    if !ignored.is_empty() {
        ctx.warn(format!(
            "container {:?}: {} ignored (not supported by ACI)",
            c.name,
            ignored.join(", ")
        ));
    }
}
