//! `securityContext` → ACI's container security context (Linux only):
//! privileged, allowPrivilegeEscalation, capabilities, runAsUser, runAsGroup
//! (container values override the pod's). Everything else gives a warning.

use k8s_openapi::api::core::v1::Container;
use vk_aci::models::{SecurityContext, SecurityContextCapabilities};
use vk_resources::OsType;

use super::Ctx;

/// The ACI security context of `c`.
pub(crate) fn security_context(ctx: &mut Ctx<'_>, c: &Container) -> Option<SecurityContext> {
    let pod_sc = ctx.spec.security_context.as_ref();
    let sc = c.security_context.as_ref();
    let run_as_user = sc
        .and_then(|s| s.run_as_user)
        .or_else(|| pod_sc.and_then(|s| s.run_as_user));
    let run_as_group = sc
        .and_then(|s| s.run_as_group)
        .or_else(|| pod_sc.and_then(|s| s.run_as_group));
    let caps = sc.and_then(|s| s.capabilities.as_ref());
    let out = SecurityContext {
        // Elsewhere privileged containers are refused before translation.
        privileged: (ctx.sku_confidential && sc.and_then(|s| s.privileged) == Some(true))
            .then_some(true),
        allow_privilege_escalation: sc.and_then(|s| s.allow_privilege_escalation),
        capabilities: caps
            .filter(|c| {
                c.add.as_ref().is_some_and(|a| !a.is_empty())
                    || c.drop.as_ref().is_some_and(|d| !d.is_empty())
            })
            .map(|c| SecurityContextCapabilities {
                add: c.add.clone().filter(|a| !a.is_empty()),
                drop: c.drop.clone().filter(|d| !d.is_empty()),
            }),
        run_as_user: id(ctx, c, "runAsUser", run_as_user),
        run_as_group: id(ctx, c, "runAsGroup", run_as_group),
        seccomp_profile: None,
    };
    let mut ignored: Vec<&str> = Vec::new();
    if let Some(s) = sc {
        if s.read_only_root_filesystem == Some(true) {
            ignored.push("readOnlyRootFilesystem");
        }
        if s.se_linux_options.is_some() {
            ignored.push("seLinuxOptions");
        }
        if s.proc_mount.as_deref().is_some_and(|p| p != "Default") {
            ignored.push("procMount");
        }
        if s.seccomp_profile
            .as_ref()
            .is_some_and(|p| p.type_ == "Localhost")
        {
            ignored.push("seccompProfile Localhost");
        }
        if s.app_armor_profile
            .as_ref()
            .is_some_and(|p| p.type_ == "Localhost")
        {
            ignored.push("appArmorProfile Localhost");
        }
    }
    if !ignored.is_empty() {
        ctx.warn(format!(
            "container {:?}: securityContext {} ignored (not supported by ACI)",
            c.name,
            ignored.join(", ")
        ));
    }
    if out == SecurityContext::default() {
        return None;
    }
    if ctx.config.os == OsType::Windows {
        ctx.warn(format!(
            "container {:?}: securityContext is ignored: ACI supports it only for Linux groups",
            c.name
        ));
        return None;
    }
    Some(out)
}

fn id(ctx: &mut Ctx<'_>, c: &Container, field: &str, value: Option<i64>) -> Option<i32> {
    let v = value?;
    match i32::try_from(v) {
        Ok(v) => Some(v),
        Err(_) => {
            ctx.warn(format!(
                "container {:?}: {field} {v} does not fit ACI's 32-bit field; ignored",
                c.name
            ));
            None
        }
    }
}

/// Warnings for pod-level security settings ACI cannot express.
pub(crate) fn pod_security_warnings(ctx: &mut Ctx<'_>) {
    let Some(sc) = ctx.spec.security_context.as_ref() else {
        return;
    };
    let mut ignored = Vec::new();
    if sc.fs_group.is_some() {
        ignored.push("fsGroup");
    }
    if sc
        .supplemental_groups
        .as_ref()
        .is_some_and(|g| !g.is_empty())
    {
        ignored.push("supplementalGroups");
    }
    if sc.sysctls.as_ref().is_some_and(|s| !s.is_empty()) {
        ignored.push("sysctls");
    }
    if sc.se_linux_options.is_some() {
        ignored.push("seLinuxOptions");
    }
    if !ignored.is_empty() {
        ctx.warn(format!(
            "pod securityContext {} ignored (not supported by ACI)",
            ignored.join(", ")
        ));
    }
}
