//! Pod-level fields of the Kubernetes 1.28–1.34 pod API that ACI cannot
//! express: refused when running without them would change what the pod
//! means (host namespaces, a shared process namespace, pod-level resources
//! the containers do not cover), adjustments when the pod runs as written
//! minus a detail it is told about (hostAliases, user namespaces, readiness
//! gates). Container-level fields are in `containers.rs` and `probes.rs`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use vk_resources::ContainerKind;

use super::Ctx;
use crate::Error;

fn refuse(ctx: &Ctx<'_>, field: &str, reason: &'static str, message: impl Into<String>) -> Error {
    Error::UnsupportedField {
        pod: ctx.pod_id.clone(),
        field: field.to_owned(),
        reason,
        message: message.into(),
    }
}

/// Checks the pod-level fields; records adjustments for what is dropped.
pub(crate) fn pod_level(ctx: &mut Ctx<'_>) -> Result<(), Error> {
    let spec = ctx.spec;
    for (set, field) in [
        (spec.host_network, "hostNetwork"),
        (spec.host_pid, "hostPID"),
        (spec.host_ipc, "hostIPC"),
    ] {
        if set == Some(true) {
            return Err(refuse(
                ctx,
                field,
                "HostNamespaceNotSupported",
                "Azure Container Instances runs each container group in its own sandbox: \
                 there is no host namespace to join",
            ));
        }
    }
    if spec.share_process_namespace == Some(true) {
        return Err(refuse(
            ctx,
            "shareProcessNamespace",
            "ShareProcessNamespaceNotSupported",
            "the containers of an Azure Container Instances group do not share a process \
             namespace: they cannot see or signal each other's processes",
        ));
    }
    let claims = spec.resource_claims.as_ref().is_some_and(|c| !c.is_empty())
        || spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .any(|c| {
                c.resources
                    .as_ref()
                    .and_then(|r| r.claims.as_ref())
                    .is_some_and(|c| !c.is_empty())
            });
    if claims {
        return Err(refuse(
            ctx,
            "resourceClaims",
            "ResourceClaimsNotSupported",
            "Azure Container Instances has no devices to claim (dynamic resource allocation)",
        ));
    }
    if let Some(r) = &spec.resources {
        let set =
            |m: &Option<BTreeMap<String, Quantity>>| m.as_ref().is_some_and(|m| !m.is_empty());
        if set(&r.requests) || set(&r.limits) {
            pod_resources(ctx)?;
        }
    }
    if spec.host_users == Some(false) {
        ctx.adjust(
            "UserNamespaceNotSupported",
            "hostUsers: false is not applied: Azure Container Instances sets up no user \
             namespace (user ids are not remapped); each group runs in its own hypervisor-isolated \
             sandbox instead",
        );
    }
    let naming: Vec<&str> = [
        (
            spec.hostname.as_deref().is_some_and(|h| !h.is_empty()),
            "hostname",
        ),
        (
            spec.subdomain.as_deref().is_some_and(|h| !h.is_empty()),
            "subdomain",
        ),
        (spec.set_hostname_as_fqdn == Some(true), "setHostnameAsFQDN"),
    ]
    .into_iter()
    .filter_map(|(set, field)| set.then_some(field))
    .collect();
    if !naming.is_empty() {
        ctx.warn(format!(
            "{} ignored: Azure Container Instances names the group's host itself",
            naming.join(", ")
        ));
    }
    if let Some(class) = spec.runtime_class_name.as_deref().filter(|c| !c.is_empty()) {
        ctx.warn(format!(
            "runtimeClassName {class:?} is ignored: Azure Container Instances runs every group \
             in its own hypervisor-isolated sandbox"
        ));
    }
    if spec.host_aliases.as_ref().is_some_and(|h| !h.is_empty()) {
        ctx.warn("hostAliases are ignored: ACI has no /etc/hosts entries");
    }
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        ctx.warn("ephemeral containers are ignored: ACI cannot add containers to a running group");
    }
    if spec.readiness_gates.as_ref().is_some_and(|g| !g.is_empty()) {
        ctx.warn("readinessGates are not evaluated: Ready follows the containers only");
    }
    Ok(())
}

/// Pod-level `resources` (Kubernetes 1.32 alpha, 1.34 beta): a budget the
/// containers share. ACI sizes each container, so it can be honoured only
/// when every long-running container states its own requests (the group gets
/// their sum, within the budget); otherwise the pod is refused.
fn pod_resources(ctx: &mut Ctx<'_>) -> Result<(), Error> {
    let spec = ctx.spec;
    let without: Vec<&str> = spec
        .containers
        .iter()
        .chain(
            spec.init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always")),
        )
        .filter(|c| {
            !c.resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .is_some_and(|r| r.contains_key("cpu") && r.contains_key("memory"))
        })
        .map(|c| c.name.as_str())
        .collect();
    if !without.is_empty() {
        return Err(refuse(
            ctx,
            "resources",
            "PodLevelResourcesNotSupported",
            format!(
                "pod-level resources are a budget the containers share, and Azure Container \
                 Instances sizes each container: give cpu and memory requests to container(s) {}",
                without.join(", ")
            ),
        ));
    }
    let totals = ctx.sizing.totals;
    let apps = ctx
        .sizing
        .containers
        .iter()
        .filter(|c| c.kind == ContainerKind::App)
        .count();
    ctx.adjust(
        "PodLevelResourcesNotEnforced",
        format!(
            "pod-level resources are not applied as a shared budget: each of the {} container(s) \
             gets its own requests ({} CPU and {} GB for the group)",
            apps.max(1),
            totals.cpu.as_f64(),
            totals.memory.as_f64()
        ),
    );
    Ok(())
}
