//! Downward API values: `fieldRef` and `resourceFieldRef`, for env and volumes.

use k8s_openapi::api::core::v1::{ObjectFieldSelector, ResourceFieldSelector};
use vk_resources::ExactQuantity;

use super::Ctx;

/// ACI's fixed storage per container group, used for an unset
/// `ephemeral-storage` (the kubelet would use the node's allocatable).
const GROUP_STORAGE_BYTES: i64 = 50_000_000_000;

/// The value of a `fieldRef`.
pub(crate) enum FieldValue {
    /// Known now.
    Known(String),
    /// Not known before the group exists (`status.podIP`).
    Unknown,
}

/// Resolves `fieldRef`. `volume` allows the whole-map fields
/// (`metadata.labels`, `metadata.annotations`), which only volumes may use.
/// Errors are messages naming the field.
pub(crate) fn field_value(
    ctx: &Ctx<'_>,
    field: &ObjectFieldSelector,
    volume: bool,
) -> Result<FieldValue, String> {
    let meta = &ctx.pod.metadata;
    let path = field.field_path.as_str();
    let known = |v: Option<&String>| Ok(FieldValue::Known(v.cloned().unwrap_or_default()));
    if let Some(key) = subscript(path, "metadata.labels") {
        return known(meta.labels.as_ref().and_then(|l| l.get(key)));
    }
    if let Some(key) = subscript(path, "metadata.annotations") {
        return known(meta.annotations.as_ref().and_then(|a| a.get(key)));
    }
    match path {
        "metadata.name" => known(meta.name.as_ref()),
        "metadata.namespace" => Ok(FieldValue::Known(ctx.namespace().to_owned())),
        "metadata.uid" => known(meta.uid.as_ref()),
        "metadata.labels" if volume => Ok(FieldValue::Known(render_map(meta.labels.as_ref()))),
        "metadata.annotations" if volume => {
            Ok(FieldValue::Known(render_map(meta.annotations.as_ref())))
        }
        "spec.nodeName" => Ok(FieldValue::Known(
            ctx.spec
                .node_name
                .clone()
                .unwrap_or_else(|| ctx.config.node_name.clone()),
        )),
        "spec.serviceAccountName" => known(ctx.spec.service_account_name.as_ref()),
        "status.hostIP" | "status.hostIPs" => match &ctx.config.node_ip {
            Some(ip) => Ok(FieldValue::Known(ip.clone())),
            None => Ok(FieldValue::Unknown),
        },
        "status.podIP" | "status.podIPs" => Ok(FieldValue::Unknown),
        other => Err(format!("fieldRef {other:?} is not supported")),
    }
}

/// `metadata.labels['key']` → `key`.
fn subscript<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(prefix)?.strip_prefix("['")?;
    rest.strip_suffix("']")
}

/// The kubelet's rendering of a label or annotation map in a downward API
/// file: sorted `key="value"` lines.
fn render_map(map: Option<&std::collections::BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(k, v)| {
            let quoted = serde_json::to_string(v).unwrap_or_else(|_| format!("{v:?}"));
            format!("{k}={quoted}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Resolves `resourceFieldRef` for `default_container` (env) or the
/// selector's container (volumes). The Kubernetes value is used when the pod
/// sets it; otherwise the value ACI really gives the container (its sized
/// request, which is also its limit when no limit is set).
pub(crate) fn resource_value(
    ctx: &Ctx<'_>,
    selector: &ResourceFieldSelector,
    default_container: Option<&str>,
) -> Result<String, String> {
    let name = selector
        .container_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .or(default_container)
        .ok_or_else(|| "resourceFieldRef needs a containerName".to_owned())?;
    let container = ctx
        .spec
        .containers
        .iter()
        .chain(ctx.spec.init_containers.iter().flatten())
        .find(|c| c.name == name)
        .ok_or_else(|| format!("resourceFieldRef names unknown container {name:?}"))?;
    let (kind, resource) = selector
        .resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported resource {:?}", selector.resource))?;
    let res = container.resources.as_ref();
    let requests = res.and_then(|r| r.requests.as_ref());
    let limits = res.and_then(|r| r.limits.as_ref());
    let from_pod = match kind {
        "requests" => requests
            .and_then(|r| r.get(resource))
            .or_else(|| limits.and_then(|l| l.get(resource))),
        "limits" => limits.and_then(|l| l.get(resource)),
        _ => return Err(format!("unsupported resource {:?}", selector.resource)),
    };
    let quantity = match from_pod {
        Some(q) => ExactQuantity::from_k8s(q).map_err(|e| e.to_string())?,
        None => aci_value(ctx, name, kind, resource)?,
    };
    let divisor = match &selector.divisor {
        Some(d) => ExactQuantity::from_k8s(d).map_err(|e| e.to_string())?,
        None => ExactQuantity::from_units(1),
    };
    if divisor.nanos() <= 0 {
        return Err(format!("divisor {divisor} must be positive"));
    }
    let n = quantity.nanos();
    let d = divisor.nanos();
    let value = n / d + i128::from(n % d != 0 && n > 0);
    Ok(value.to_string())
}

/// What ACI gives container `name` for `resource`, as a quantity.
fn aci_value(
    ctx: &Ctx<'_>,
    name: &str,
    kind: &str,
    resource: &str,
) -> Result<ExactQuantity, String> {
    let sized = ctx.sizing.containers.iter().find(|c| c.name == name);
    let totals = &ctx.sizing.totals;
    match resource {
        "cpu" => {
            let cpu = sized
                .map(|c| match kind {
                    "limits" => c.limits.cpu.unwrap_or(c.requests.cpu),
                    _ => c.requests.cpu,
                })
                .unwrap_or(totals.cpu);
            Ok(ExactQuantity::from_millis(
                i64::try_from(cpu.millicores()).unwrap_or(i64::MAX),
            ))
        }
        "memory" => {
            let memory = sized
                .map(|c| match kind {
                    "limits" => c.limits.memory.unwrap_or(c.requests.memory),
                    _ => c.requests.memory,
                })
                .unwrap_or(totals.memory);
            Ok(ExactQuantity::from_units(
                i64::try_from(memory.bytes()).unwrap_or(i64::MAX),
            ))
        }
        "ephemeral-storage" => Ok(ExactQuantity::from_units(GROUP_STORAGE_BYTES)),
        other => Err(format!("unsupported resource {kind}.{other}")),
    }
}
