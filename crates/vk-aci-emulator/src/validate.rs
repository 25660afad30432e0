// Over 800 lines: ACI's validation and canonicalisation of a container group PUT body, one function per rule; splitting them would scatter the order ARM applies them in.
//! Validation and canonicalisation of container group PUT bodies, as ACI does.

use std::collections::HashSet;

use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::apierror::ApiError;
use crate::config::{EmulatorConfig, GroupMaxima};
use crate::state::normalize_location;

const NAME_REGEX: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";

/// Whether `name` is a valid DNS-label-like name (1–`max` chars).
fn dns_label(name: &str, max: usize, allow_double_hyphen: bool) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && (allow_double_hyphen || !name.contains("--"))
}

/// Validates a container group name.
pub(crate) fn group_name(name: &str) -> Result<(), ApiError> {
    if dns_label(name, 63, false) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "InvalidContainerGroupName",
            format!(
                "The container group name '{name}' is invalid. The container group name must contain no more than 63 characters and must match the regex '{NAME_REGEX}' (e.g. 'my-name'); consecutive hyphens are not allowed."
            ),
        ))
    }
}

/// Canonical form of an enum value, matched case-insensitively.
fn canon_enum(
    obj: &mut Map<String, Value>,
    key: &str,
    allowed: &[&str],
    path: &str,
    required: bool,
) -> Result<Option<String>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => {
            if required {
                Err(ApiError::content(
                    &format!("{path}.{key}"),
                    format!("Required property '{key}' not found in JSON"),
                ))
            } else {
                Ok(None)
            }
        }
        Some(Value::String(s)) => match allowed.iter().find(|a| a.eq_ignore_ascii_case(s)) {
            Some(c) => {
                obj.insert(key.to_owned(), json!(c));
                Ok(Some((*c).to_owned()))
            }
            None => Err(ApiError::content(
                &format!("{path}.{key}"),
                format!(
                    "Error converting value \"{s}\" to type '{key}'; allowed values are {}",
                    allowed.join(", ")
                ),
            )),
        },
        Some(_) => Err(ApiError::content(
            &format!("{path}.{key}"),
            format!("Property '{key}' must be a string"),
        )),
    }
}

fn obj_mut<'a>(v: &'a mut Value, path: &str) -> Result<&'a mut Map<String, Value>, ApiError> {
    v.as_object_mut()
        .ok_or_else(|| ApiError::content(path, "Expected a JSON object"))
}

fn string_array(v: Option<&Value>, path: &str) -> Result<Vec<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::content(&format!("{path}[{i}]"), "Expected a string"))
            })
            .collect(),
        Some(_) => Err(ApiError::content(path, "Expected an array of strings")),
    }
}

fn array<'a>(v: Option<&'a mut Value>, path: &str) -> Result<Vec<&'a mut Value>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter_mut().collect()),
        Some(_) => Err(ApiError::content(path, "Expected an array")),
    }
}

fn multiple_of(x: f64, step: f64) -> bool {
    let q = x / step;
    (q - q.round()).abs() < 1e-6
}

fn number(v: Option<&Value>, path: &str, required: bool) -> Result<Option<f64>, ApiError> {
    match v {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(ApiError::content(
            path,
            format!(
                "Required property '{}' not found in JSON",
                path.rsplit('.').next().unwrap_or(path)
            ),
        )),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(ApiError::content(path, "Expected a number")),
    }
}

fn integer(v: Option<&Value>, path: &str) -> Result<Option<i64>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::content(path, "Expected an integer")),
        Some(_) => Err(ApiError::content(path, "Expected an integer")),
    }
}

/// Optional (cpu, memory) limits of a container.
type Limits = (Option<f64>, Option<f64>);

struct Requests {
    cpu: f64,
    memory: f64,
    gpu: u32,
}

fn resources(
    res: Option<&mut Value>,
    path: &str,
    gpu_skus: &[String],
) -> Result<(Requests, Option<Limits>), ApiError> {
    let Some(res) = res.filter(|r| !r.is_null()) else {
        return Err(ApiError::content(
            &format!("{path}.resources"),
            "Required property 'resources' not found in JSON",
        ));
    };
    let res = obj_mut(res, &format!("{path}.resources"))?;
    let rp = format!("{path}.resources.requests");
    let Some(req) = res.get_mut("requests").filter(|r| !r.is_null()) else {
        return Err(ApiError::content(
            &rp,
            "Required property 'requests' not found in JSON",
        ));
    };
    let req = obj_mut(req, &rp)?;
    let cpu = number(req.get("cpu"), &format!("{rp}.cpu"), true)?.unwrap_or(0.0);
    let memory = number(req.get("memoryInGB"), &format!("{rp}.memoryInGB"), true)?.unwrap_or(0.0);
    if cpu <= 0.0 || !multiple_of(cpu, 0.01) {
        return Err(ApiError::bad_request(
            "InvalidContainerResourceRequests",
            format!("The CPU request '{cpu}' of '{path}' is invalid: it must be a positive multiple of 0.01."),
        )
        .with_target(format!("{rp}.cpu")));
    }
    if memory <= 0.0 || !multiple_of(memory, 0.1) {
        return Err(ApiError::bad_request(
            "InvalidContainerResourceRequests",
            format!("The memory request '{memory}' GB of '{path}' is invalid: it must be a positive multiple of 0.1 GB."),
        )
        .with_target(format!("{rp}.memoryInGB")));
    }
    let gpu = gpu_resource(req.get_mut("gpu"), &format!("{rp}.gpu"), gpu_skus)?;
    let limits = match res.get_mut("limits").filter(|l| !l.is_null()) {
        None => None,
        Some(l) => {
            let lp = format!("{path}.resources.limits");
            let l = obj_mut(l, &lp)?;
            let lc = number(l.get("cpu"), &format!("{lp}.cpu"), false)?;
            let lm = number(l.get("memoryInGB"), &format!("{lp}.memoryInGB"), false)?;
            gpu_resource(l.get_mut("gpu"), &format!("{lp}.gpu"), gpu_skus)?;
            if lc.is_some_and(|c| c < cpu - 1e-9) || lm.is_some_and(|m| m < memory - 1e-9) {
                return Err(ApiError::bad_request(
                    "ResourceLimitsLessThanRequests",
                    format!("The resource limits of '{path}' must not be lower than its requests."),
                )
                .with_target(lp));
            }
            Some((lc, lm))
        }
    };
    Ok((Requests { cpu, memory, gpu }, limits))
}

fn gpu_resource(v: Option<&mut Value>, path: &str, skus: &[String]) -> Result<u32, ApiError> {
    let Some(v) = v.filter(|g| !g.is_null()) else {
        return Ok(0);
    };
    let g = obj_mut(v, path)?;
    let count = integer(g.get("count"), &format!("{path}.count"))?.ok_or_else(|| {
        ApiError::content(
            &format!("{path}.count"),
            "Required property 'count' not found in JSON",
        )
    })?;
    if skus.is_empty() {
        return Err(ApiError::bad_request(
            "UnsupportedGpuSku",
            format!("The GPU resource of '{path}' is not supported: no GPU SKU is offered in this region (Azure Container Instances retired its GPU SKUs on 14 July 2025)."),
        )
        .with_target(path.to_owned()));
    }
    let allowed: Vec<&str> = skus.iter().map(String::as_str).collect();
    canon_enum(g, "sku", &allowed, path, true).map_err(|_| {
        ApiError::bad_request(
            "UnsupportedGpuSku",
            format!(
                "The GPU SKU of '{path}' is not supported in this region; supported SKUs: {}.",
                skus.join(", ")
            ),
        )
        .with_target(format!("{path}.sku"))
    })?;
    if count < 1 {
        return Err(ApiError::bad_request(
            "InvalidContainerResourceRequests",
            format!("The GPU count of '{path}' must be at least 1."),
        )
        .with_target(format!("{path}.count")));
    }
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

fn volume_mounts(
    mounts: Option<&mut Value>,
    path: &str,
    volumes: &HashSet<String>,
) -> Result<(), ApiError> {
    let mut paths = HashSet::new();
    for (i, m) in array(mounts, &format!("{path}.volumeMounts"))?
        .into_iter()
        .enumerate()
    {
        let mp = format!("{path}.volumeMounts[{i}]");
        let m = obj_mut(m, &mp)?;
        let name = m.get("name").and_then(Value::as_str).ok_or_else(|| {
            ApiError::content(
                &format!("{mp}.name"),
                "Required property 'name' not found in JSON",
            )
        })?;
        let mount_path = m.get("mountPath").and_then(Value::as_str).ok_or_else(|| {
            ApiError::content(
                &format!("{mp}.mountPath"),
                "Required property 'mountPath' not found in JSON",
            )
        })?;
        if !volumes.contains(name) {
            return Err(ApiError::bad_request(
                "InvalidVolumeMount",
                format!("The volume mount '{name}' of '{path}' does not name a volume of the container group."),
            )
            .with_target(format!("{mp}.name")));
        }
        if mount_path.is_empty() || mount_path.contains(':') || !paths.insert(mount_path.to_owned())
        {
            return Err(ApiError::bad_request(
                "InvalidVolumeMount",
                format!("The mount path '{mount_path}' of '{path}' is invalid: it must be non-empty, unique and must not contain ':'."),
            )
            .with_target(format!("{mp}.mountPath")));
        }
    }
    Ok(())
}

fn env_vars(v: Option<&mut Value>, path: &str) -> Result<(), ApiError> {
    for (i, e) in array(v, &format!("{path}.environmentVariables"))?
        .into_iter()
        .enumerate()
    {
        let ep = format!("{path}.environmentVariables[{i}]");
        let e = obj_mut(e, &ep)?;
        match e.get("name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => {}
            _ => {
                return Err(ApiError::content(
                    &format!("{ep}.name"),
                    "Required property 'name' not found in JSON",
                ));
            }
        }
    }
    Ok(())
}

fn strip_instance_view(props: &mut Map<String, Value>) {
    props.remove("instanceView");
}

/// What validation found out about a group, for the caller's further checks.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The canonicalised resource.
    pub(crate) resource: Value,
    /// Normalised location.
    pub(crate) location: String,
    /// Total CPU requests.
    pub(crate) cpu: f64,
    /// All images (init and main containers).
    pub(crate) images: Vec<String>,
}

/// Validates a PUT body and returns its canonical form.
pub(crate) fn container_group(
    name: &str,
    body: &Value,
    cfg: &EmulatorConfig,
) -> Result<Checked, ApiError> {
    group_name(name)?;
    let mut resource = body.clone();
    let root = obj_mut(&mut resource, "$")?;
    for ro in ["id", "name", "type", "systemData"] {
        root.remove(ro);
    }
    let location = match root.get("location") {
        Some(Value::String(l)) if !l.trim().is_empty() => normalize_location(l),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(ApiError::bad_request(
                "LocationRequired",
                "The location property is required for this definition.",
            ));
        }
        Some(_) => return Err(ApiError::content("location", "Expected a string")),
    };
    root.insert("location".to_owned(), json!(location));
    match root.get("tags") {
        None | Some(Value::Null) => {
            root.insert("tags".to_owned(), json!({}));
        }
        Some(Value::Object(t)) => {
            if t.values().any(|v| !v.is_string()) {
                return Err(ApiError::content("tags", "Tag values must be strings"));
            }
        }
        Some(_) => return Err(ApiError::content("tags", "Expected a JSON object")),
    }
    let zones = match root.get("zones") {
        None | Some(Value::Null) => Vec::new(),
        Some(z) => string_array(Some(z), "zones")?,
    };
    availability_zones(&zones)?;
    if let Some(id) = root.get_mut("identity").filter(|i| !i.is_null()) {
        let id = obj_mut(id, "identity")?;
        canon_enum(
            id,
            "type",
            &[
                "SystemAssigned",
                "UserAssigned",
                "SystemAssigned, UserAssigned",
                "None",
            ],
            "identity",
            false,
        )?;
        id.remove("principalId");
        id.remove("tenantId");
        user_assigned_identities(id)?;
    }
    let Some(props) = root.get_mut("properties").filter(|p| !p.is_null()) else {
        return Err(ApiError::content(
            "properties",
            "Required property 'properties' not found in JSON",
        ));
    };
    let props = obj_mut(props, "properties")?;
    props.remove("provisioningState");
    strip_instance_view(props);
    let os =
        canon_enum(props, "osType", &["Linux", "Windows"], "properties", true)?.unwrap_or_default();
    let windows = os == "Windows";
    if windows && body.get("identity").is_some_and(|i| !i.is_null()) {
        // ACI's answer, even for `type: None` (Azure/azure-rest-api-specs #18122).
        return Err(ApiError::bad_request(
            "IdentityNotSupportedOnWindows",
            "Managed service identity is not supported for Windows container groups.",
        ));
    }
    let restart = canon_enum(
        props,
        "restartPolicy",
        &["Always", "OnFailure", "Never"],
        "properties",
        false,
    )?;
    props.insert(
        "restartPolicy".to_owned(),
        json!(restart.unwrap_or_else(|| "Always".to_owned())),
    );
    let sku = canon_enum(
        props,
        "sku",
        &["Standard", "Dedicated", "Confidential"],
        "properties",
        false,
    )?
    .unwrap_or_else(|| "Standard".to_owned());
    props.insert("sku".to_owned(), json!(sku));
    let priority = match props.get("priority") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => match ["Regular", "Spot"]
            .iter()
            .find(|a| a.eq_ignore_ascii_case(p))
        {
            Some(c) => {
                props.insert("priority".to_owned(), json!(c));
                Some(*c)
            }
            None => {
                return Err(ApiError::bad_request(
                    "PriorityNotSpecified",
                    format!(
                        "The 'Priority' must be one of 'Regular,Spot' for container group '{name}'."
                    ),
                ));
            }
        },
        Some(_) => {
            return Err(ApiError::content(
                "properties.priority",
                "Expected a string",
            ));
        }
    };

    // Volumes.
    let mut volume_names = HashSet::new();
    let vols = array(props.get_mut("volumes"), "properties.volumes")?;
    if vols.len() > 20 {
        return Err(ApiError::bad_request(
            "TooManyVolumes",
            format!(
                "The container group '{name}' has {} volumes; at most 20 are allowed.",
                vols.len()
            ),
        ));
    }
    for (i, v) in vols.into_iter().enumerate() {
        let vp = format!("properties.volumes[{i}]");
        let v = obj_mut(v, &vp)?;
        let vname = v.get("name").and_then(Value::as_str).ok_or_else(|| {
            ApiError::content(
                &format!("{vp}.name"),
                "Required property 'name' not found in JSON",
            )
        })?;
        if !dns_label(vname, 63, false) {
            return Err(ApiError::bad_request(
                "InvalidVolumeName",
                format!("The volume name '{vname}' is invalid. The volume name must contain no more than 63 characters and must match the regex '{NAME_REGEX}' (e.g. 'my-name')."),
            )
            .with_target(format!("{vp}.name")));
        }
        if !volume_names.insert(vname.to_owned()) {
            return Err(ApiError::bad_request(
                "DuplicateVolumeName",
                format!(
                    "The volume name '{vname}' is used more than once in container group '{name}'."
                ),
            ));
        }
        let sources: Vec<&str> = ["azureFile", "emptyDir", "secret", "gitRepo"]
            .into_iter()
            .filter(|k| v.get(*k).is_some_and(|x| !x.is_null()))
            .collect();
        if sources.len() != 1 {
            return Err(ApiError::bad_request(
                "InvalidVolume",
                format!("The volume '{vname}' must specify exactly one of azureFile, emptyDir, secret, gitRepo."),
            )
            .with_target(vp));
        }
        if windows {
            // ACI's codes: `SecretVolumesNotSupportedOnWindows` (virtual-kubelet
            // #540) and `WindowsContainersVolumeNotSupported` "Azure file volumes
            // are not supported for Windows containers." (virtual-kubelet #367);
            // the same code is used for emptyDir and gitRepo (unpublished).
            let (code, kind) = match sources[0] {
                "secret" => ("SecretVolumesNotSupportedOnWindows", "Secret"),
                "azureFile" => ("WindowsContainersVolumeNotSupported", "Azure file"),
                "gitRepo" => ("WindowsContainersVolumeNotSupported", "Git repo"),
                _ => ("WindowsContainersVolumeNotSupported", "Empty directory"),
            };
            return Err(ApiError::bad_request(
                code,
                format!("{kind} volumes are not supported for Windows containers."),
            )
            .with_target(vp));
        }
        if let Some(af) = v.get("azureFile") {
            for k in ["shareName", "storageAccountName"] {
                if af.get(k).and_then(Value::as_str).is_none() {
                    return Err(ApiError::content(
                        &format!("{vp}.azureFile.{k}"),
                        format!("Required property '{k}' not found in JSON"),
                    ));
                }
            }
        }
        if let Some(gr) = v.get("gitRepo") {
            if gr.get("repository").and_then(Value::as_str).is_none() {
                return Err(ApiError::content(
                    &format!("{vp}.gitRepo.repository"),
                    "Required property 'repository' not found in JSON",
                ));
            }
            if gr
                .get("directory")
                .and_then(Value::as_str)
                .is_some_and(|d| d.contains(".."))
            {
                return Err(ApiError::bad_request(
                    "InvalidVolume",
                    format!("The gitRepo directory of volume '{vname}' must not contain '..'."),
                ));
            }
        }
    }

    // Containers.
    let mut names = HashSet::new();
    let mut ports: HashSet<(i64, String)> = HashSet::new();
    let mut images = Vec::new();
    let mut cpu = 0.0;
    let mut memory = 0.0;
    let mut gpus = 0u32;
    let mut limits = Vec::new();
    let containers = match props.get_mut("containers") {
        Some(Value::Array(cs)) if !cs.is_empty() => cs,
        Some(Value::Array(_)) => {
            return Err(ApiError::content(
                "properties.containers",
                "The container group must contain at least one container",
            ));
        }
        None | Some(Value::Null) => {
            return Err(ApiError::content(
                "properties.containers",
                "Required property 'containers' not found in JSON",
            ));
        }
        Some(_) => {
            return Err(ApiError::content(
                "properties.containers",
                "Expected an array",
            ));
        }
    };
    if containers.len() > 60 {
        return Err(ApiError::bad_request(
            "TooManyContainers",
            format!(
                "The container group '{name}' has {} containers; at most 60 are allowed.",
                containers.len()
            ),
        ));
    }
    if windows && containers.len() > 1 {
        return Err(ApiError::bad_request(
            "MultipleWindowsContainersNotSupported",
            format!(
                "Multiple containers are defined in the Windows container group '{name}'. A Windows container group can only have one container."
            ),
        ));
    }
    for (i, c) in containers.iter_mut().enumerate() {
        let cp = format!("properties.containers[{i}]");
        let c = obj_mut(c, &cp)?;
        let cname = container_name(c, &cp, name, &mut names)?;
        let Some(p) = c.get_mut("properties").filter(|p| !p.is_null()) else {
            return Err(ApiError::content(
                &format!("{cp}.properties"),
                "Required property 'properties' not found in JSON",
            ));
        };
        let pp = format!("{cp}.properties");
        let p = obj_mut(p, &pp)?;
        strip_instance_view(p);
        let img = image(p, &pp, &cname, name)?;
        if windows && windows_2016_image(&img) {
            return Err(ApiError::bad_request(
                "OsVersionNotSupported",
                format!("The OS version of image '{img}' is not supported."),
            )
            .with_target(format!("{pp}.image")));
        }
        images.push(img);
        string_array(p.get("command"), &format!("{pp}.command"))?;
        let (req, lim) = resources(p.get_mut("resources"), &pp, &cfg.gpu_skus)?;
        cpu += req.cpu;
        memory += req.memory;
        gpus += req.gpu;
        if let Some(l) = lim {
            limits.push((pp.clone(), cname.clone(), l));
        }
        for (j, port) in array(p.get_mut("ports"), &format!("{pp}.ports"))?
            .into_iter()
            .enumerate()
        {
            let portp = format!("{pp}.ports[{j}]");
            let po = obj_mut(port, &portp)?;
            let (n, proto) = port_value(po, &portp)?;
            if !ports.insert((n, proto.clone())) {
                return Err(ApiError::bad_request(
                    "DuplicateContainerPorts",
                    format!("Port '{n}' ({proto}) is exposed by more than one container, or more than once, in container group '{name}'."),
                )
                .with_target(portp));
            }
        }
        env_vars(p.get_mut("environmentVariables"), &pp)?;
        volume_mounts(p.get_mut("volumeMounts"), &pp, &volume_names)?;
        if sku != "Confidential" {
            no_privileged(p, &pp, &cname, name)?;
        }
        for probe in ["livenessProbe", "readinessProbe"] {
            if let Some(pr) = p.get(probe).filter(|x| !x.is_null())
                && !pr.is_object()
            {
                return Err(ApiError::content(
                    &format!("{pp}.{probe}"),
                    "Expected a JSON object",
                ));
            }
        }
    }
    if windows && gpus > 0 {
        return Err(windows_err("GPU resources"));
    }
    for (path, container, (lc, lm)) in limits {
        // ACI's message, as reported in Azure/AKS #2373.
        let over = match (lc, lm) {
            (Some(c), _) if c > cpu + 1e-9 => Some(("Cpu", c, cpu)),
            (_, Some(m)) if m > memory + 1e-9 => Some(("MemoryInGB", m, memory)),
            _ => None,
        };
        if let Some((what, limit, total)) = over {
            return Err(ApiError::bad_request(
                codes::LIMIT_ABOVE_GROUP_REQUEST,
                format!("The '{what}' limit '{limit}' in container '{container}' is greater than the total request '{total}' of container group '{name}'."),
            )
            .with_target(format!("{path}.resources.limits")));
        }
    }

    // Init containers.
    let inits = array(props.get_mut("initContainers"), "properties.initContainers")?;
    if windows && !inits.is_empty() {
        return Err(windows_err("init containers"));
    }
    for (i, c) in inits.into_iter().enumerate() {
        let cp = format!("properties.initContainers[{i}]");
        let c = obj_mut(c, &cp)?;
        let cname = container_name(c, &cp, name, &mut names)?;
        let Some(p) = c.get_mut("properties").filter(|p| !p.is_null()) else {
            return Err(ApiError::content(
                &format!("{cp}.properties"),
                "Required property 'properties' not found in JSON",
            ));
        };
        let pp = format!("{cp}.properties");
        let p = obj_mut(p, &pp)?;
        strip_instance_view(p);
        images.push(image(p, &pp, &cname, name)?);
        string_array(p.get("command"), &format!("{pp}.command"))?;
        env_vars(p.get_mut("environmentVariables"), &pp)?;
        volume_mounts(p.get_mut("volumeMounts"), &pp, &volume_names)?;
        if sku != "Confidential" {
            no_privileged(p, &pp, &cname, name)?;
        }
    }

    // Registry credentials.
    for (i, r) in array(
        props.get_mut("imageRegistryCredentials"),
        "properties.imageRegistryCredentials",
    )?
    .into_iter()
    .enumerate()
    {
        let rp = format!("properties.imageRegistryCredentials[{i}]");
        let r = obj_mut(r, &rp)?;
        match r.get("server").and_then(Value::as_str) {
            Some(s) if !s.is_empty() && !s.contains("://") => {}
            Some(s) if s.contains("://") => {
                return Err(ApiError::bad_request(
                    "InvalidImageRegistryServer",
                    format!("The image registry server '{s}' must not contain a scheme."),
                )
                .with_target(format!("{rp}.server")));
            }
            _ => {
                return Err(ApiError::content(
                    &format!("{rp}.server"),
                    "Required property 'server' not found in JSON",
                ));
            }
        }
    }

    // Virtual network.
    let subnets = array(props.get_mut("subnetIds"), "properties.subnetIds")?;
    for (i, sn) in subnets.iter().enumerate() {
        if sn
            .get("id")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(ApiError::content(
                &format!("properties.subnetIds[{i}].id"),
                "Required property 'id' not found in JSON",
            ));
        }
    }
    let vnet = !subnets.is_empty();

    // IP address.
    let mut public = false;
    if let Some(ip) = props.get_mut("ipAddress").filter(|i| !i.is_null()) {
        let ip = obj_mut(ip, "properties.ipAddress")?;
        ip.remove("fqdn");
        ip.remove("ip");
        let t = canon_enum(
            ip,
            "type",
            &["Public", "Private"],
            "properties.ipAddress",
            true,
        )?;
        public = t.as_deref() == Some("Public");
        if public && vnet {
            return Err(ApiError::bad_request(
                codes::PUBLIC_IP_IN_VNET,
                "IP Address type can't be public when network profile is set.".to_owned(),
            )
            .with_target("properties.ipAddress.type"));
        }
        if !public && !vnet {
            return Err(ApiError::bad_request(
                codes::PRIVATE_IP_WITHOUT_SUBNET,
                format!("IP Address type in container group '{name}' is invalid. Private IP address is only supported when a subnet ID is defined."),
            )
            .with_target("properties.ipAddress.type"));
        }
        canon_enum(
            ip,
            "autoGeneratedDomainNameLabelScope",
            &[
                "Unsecure",
                "TenantReuse",
                "SubscriptionReuse",
                "ResourceGroupReuse",
                "Noreuse",
            ],
            "properties.ipAddress",
            false,
        )?;
        let ip_ports = match ip.get_mut("ports") {
            Some(Value::Array(ps)) if !ps.is_empty() => ps,
            Some(Value::Array(_)) => {
                return Err(ApiError::bad_request(
                    "MissingIpAddressPorts",
                    format!(
                        "The ports in the 'ipAddress' of container group '{name}' cannot be empty."
                    ),
                ));
            }
            _ => {
                return Err(ApiError::content(
                    "properties.ipAddress.ports",
                    "Required property 'ports' not found in JSON",
                ));
            }
        };
        if ip_ports.len() > 5 {
            return Err(ApiError::bad_request(
                "TooManyIpAddressPorts",
                format!(
                    "The IP address of container group '{name}' has {} ports; at most 5 are allowed.",
                    ip_ports.len()
                ),
            ));
        }
        let mut seen = HashSet::new();
        let mut unreferenced = Vec::new();
        for (j, port) in ip_ports.iter_mut().enumerate() {
            let portp = format!("properties.ipAddress.ports[{j}]");
            let po = obj_mut(port, &portp)?;
            let (n, proto) = port_value(po, &portp)?;
            po.insert("protocol".to_owned(), json!(proto));
            if !seen.insert((n, proto.clone())) {
                return Err(ApiError::bad_request(
                    "DuplicateIpAddressPorts",
                    format!("Port '{n}' ({proto}) appears more than once in the IP address of container group '{name}'."),
                )
                .with_target(portp));
            }
            if !ports.contains(&(n, proto.clone())) {
                unreferenced.push(n.to_string());
            }
        }
        if !unreferenced.is_empty() {
            // ACI's message (terraform-provider-azurerm PR #5091).
            return Err(ApiError::bad_request(
                "UnreferencedIpAddressPorts",
                format!(
                    "Following ports '{}' in the 'ipAddress' are not used by any container in container group '{name}'.",
                    unreferenced.join(",")
                ),
            ));
        }
        if vnet && ip.get("dnsNameLabel").is_some_and(|l| !l.is_null()) {
            return Err(ApiError::bad_request(
                codes::DNS_LABEL_IN_VNET,
                "DNS name label for container group is only supported when IP Address type is public.".to_owned(),
            )
            .with_target("properties.ipAddress.dnsNameLabel"));
        }
        if let Some(label) = ip.get("dnsNameLabel").filter(|l| !l.is_null()) {
            let ok = label.as_str().is_some_and(|l| {
                let l = l.to_ascii_lowercase();
                l.len() >= 5 && dns_label(&l, 63, true)
            });
            if !ok {
                return Err(ApiError::bad_request(
                    "InvalidDnsNameLabel",
                    format!("The DNS name label {label} is invalid. It must be 5 to 63 characters of letters, digits and hyphens, not starting or ending with a hyphen."),
                )
                .with_target("properties.ipAddress.dnsNameLabel"));
            }
        }
    }
    if let Some(d) = props.get("dnsConfig").filter(|d| !d.is_null())
        && d.get("nameServers").is_none_or(|n| !n.is_array())
    {
        return Err(ApiError::content(
            "properties.dnsConfig.nameServers",
            "Required property 'nameServers' not found in JSON",
        ));
    }

    // Spot priority rules (documented ACI errors).
    if priority == Some("Spot") {
        if public {
            return Err(ApiError::bad_request(
                "SpotPriorityContainerGroupNotSupportedForInboundConnectivity",
                "Spot Priority is not supported for container groups with inbound connectivity.",
            ));
        }
        if sku != "Standard" {
            return Err(ApiError::bad_request(
                "SpotPriorityContainerGroupNotSupportedInSku",
                format!("Spot Priority Container Group is not supported in '{sku}' Sku."),
            ));
        }
        if gpus > 0 {
            return Err(ApiError::bad_request(
                "SpotPriorityContainerGroupWithGPUResourcesNotSupported",
                "Spot Priority Container Groups that include containers requesting GPU resources are not supported.",
            ));
        }
        if vnet {
            return Err(ApiError::bad_request(
                codes::SPOT_IN_VNET,
                "Spot Priority is not supported for container groups with inbound connectivity.",
            ));
        }
        if !cfg.spot_regions.contains(&location) {
            // A feature the region does not offer: ACI's capacity answer
            // (SupportArticles "service-unavailable-requested-resource-is-not-available").
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "ServiceUnavailable",
                format!(
                    "The requested resource is not available in the location '{location}' at this moment. Please retry with a different resource request or in another location. Resource requested: '{cpu}' CPU '{memory}' GB memory '{os}' OS Spot"
                ),
            ));
        }
    }
    if priority == Some("Spot") && !zones.is_empty() {
        return Err(ApiError::bad_request(
            codes::SPOT_WITH_ZONE,
            format!(
                "Spot Priority Container Group '{name}' cannot be pinned to an availability zone."
            ),
        )
        .with_target("zones"));
    }
    if windows && sku == "Confidential" {
        return Err(windows_err("the Confidential SKU"));
    }
    confidential_compute(props, &sku, name)?;

    // Per-group maxima.
    let max: GroupMaxima = if priority == Some("Spot") {
        cfg.limits.spot
    } else if sku == "Confidential" {
        cfg.limits.confidential
    } else if windows {
        cfg.limits.windows_standard
    } else {
        cfg.limits.linux_standard
    };
    if cpu > max.cpu + 1e-9 || memory > max.memory_gb + 1e-9 {
        let vnet = if props
            .get("subnetIds")
            .is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty()))
        {
            " virtual network"
        } else {
            ""
        };
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "ServiceUnavailable",
            format!(
                "The requested resource is not available in the location '{location}' at this moment. Please retry with a different resource request or in another location. Resource requested: '{cpu}' CPU '{memory}' GB memory '{os}' OS{vnet}"
            ),
        ));
    }
    Ok(Checked {
        resource,
        location,
        cpu,
        images,
    })
}

/// Error codes of rules whose exact ACI code is not published (see the
/// behaviour catalogue in docs/aci-emulator.md): emulator choices, in one
/// place so each can follow a real answer once one is known.
pub(crate) mod codes {
    /// A container limit above the group's total request.
    pub(crate) const LIMIT_ABOVE_GROUP_REQUEST: &str =
        "ContainerLimitGreaterThanContainerGroupTotalRequest";
    /// A `Private` IP address without `subnetIds` (seen in 2023 deployments).
    pub(crate) const PRIVATE_IP_WITHOUT_SUBNET: &str = "PrivateIpWithoutSubnetNotSupported";
    /// A `Public` IP address on a group in a virtual network (seen in deployments).
    pub(crate) const PUBLIC_IP_IN_VNET: &str = "InvalidIpAddressTypeForNetworkProfile";
    /// A DNS name label on a group in a virtual network.
    pub(crate) const DNS_LABEL_IN_VNET: &str = "DnsNameLabelNotSupportedInVirtualNetwork";
    /// A privileged container.
    pub(crate) const PRIVILEGED: &str = "PrivilegedContainerNotSupported";
    /// Spot in a virtual network: the support article's remedy for this code is
    /// to remove "network-related properties".
    pub(crate) const SPOT_IN_VNET: &str =
        "SpotPriorityContainerGroupNotSupportedForInboundConnectivity";
    /// A Windows feature ACI lacks (volumes, init containers, several containers...).
    pub(crate) const WINDOWS_FEATURE: &str = "UnsupportedFeatureForOsType";
    /// More than one availability zone (AKS virtual nodes: "you should get an
    /// informative error effectively saying you can only provide one").
    pub(crate) const MULTIPLE_ZONES: &str = "MultipleAvailabilityZonesNotSupported";
    /// A zone other than 1, 2, 3.
    pub(crate) const INVALID_ZONE: &str = "InvalidAvailabilityZone";
    /// Spot with a zone (Spot overview: no "Availability Zone Pinning").
    pub(crate) const SPOT_WITH_ZONE: &str =
        "SpotPriorityContainerGroupNotSupportedWithAvailabilityZone";
    /// A malformed or inconsistent `identity`.
    pub(crate) const INVALID_IDENTITY: &str = "InvalidIdentity";
    /// A CCE policy that is not base64, or outside the Confidential SKU.
    pub(crate) const INVALID_CCE_POLICY: &str = "InvalidConfidentialComputePolicy";
    /// An update that changes a property ACI only sets at creation (code and
    /// message seen in deployments; MicrosoftDocs/azure-docs #37604, #65195).
    pub(crate) const IMMUTABLE_UPDATE: &str = "InvalidContainerGroupUpdate";
}

/// A container group is pinned to **one** zone of `1`, `2`, `3`
/// (reliability-containers.md: zonal deployments only; AKS virtual nodes'
/// PodCustomizations.md: "ACI only supports providing a single zone"). The
/// allowed values are Azure's logical zones: a choice, as no source gives
/// ACI's answer to another value.
fn availability_zones(zones: &[String]) -> Result<(), ApiError> {
    if zones.len() > 1 {
        return Err(ApiError::bad_request(
            codes::MULTIPLE_ZONES,
            format!(
                "Multiple availability zones ({}) were requested; a container group supports only one.",
                zones.join(", ")
            ),
        )
        .with_target("zones"));
    }
    if let Some(z) = zones.first()
        && !["1", "2", "3"].contains(&z.as_str())
    {
        return Err(ApiError::bad_request(
            codes::INVALID_ZONE,
            format!("The availability zone '{z}' is invalid. Valid zones are '1', '2' and '3'."),
        )
        .with_target("zones"));
    }
    Ok(())
}

/// User-assigned identities: a type naming them needs at least one, a type
/// without them takes none, and each key is the ARM id of a
/// `Microsoft.ManagedIdentity/userAssignedIdentities` resource
/// (container-instances-managed-identity.md gives that form). The codes are
/// choices.
fn user_assigned_identities(id: &mut Map<String, Value>) -> Result<(), ApiError> {
    let kind = id
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("None")
        .to_owned();
    let wants_user = kind.contains("UserAssigned");
    let ids: Vec<String> = match id.get("userAssignedIdentities") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => m.keys().cloned().collect(),
        Some(_) => {
            return Err(ApiError::content(
                "identity.userAssignedIdentities",
                "Expected a JSON object",
            ));
        }
    };
    if wants_user && ids.is_empty() {
        return Err(ApiError::bad_request(
            codes::INVALID_IDENTITY,
            format!("The identity type '{kind}' requires at least one user-assigned identity in 'userAssignedIdentities'."),
        )
        .with_target("identity.userAssignedIdentities"));
    }
    if !wants_user && !ids.is_empty() {
        return Err(ApiError::bad_request(
            codes::INVALID_IDENTITY,
            format!("User-assigned identities cannot be given with identity type '{kind}'."),
        )
        .with_target("identity.userAssignedIdentities"));
    }
    for key in &ids {
        let parts: Vec<&str> = key.split('/').collect();
        let ok = parts.len() == 9
            && parts[0].is_empty()
            && parts[1].eq_ignore_ascii_case("subscriptions")
            && parts[3].eq_ignore_ascii_case("resourceGroups")
            && parts[5].eq_ignore_ascii_case("providers")
            && parts[6].eq_ignore_ascii_case("Microsoft.ManagedIdentity")
            && parts[7].eq_ignore_ascii_case("userAssignedIdentities")
            && [2, 4, 8].iter().all(|&i| !parts[i].is_empty());
        if !ok {
            return Err(ApiError::bad_request(
                codes::INVALID_IDENTITY,
                format!("The user-assigned identity '{key}' is not a valid resource id of the form '/subscriptions/{{subscriptionId}}/resourceGroups/{{resourceGroupName}}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{{identityName}}'."),
            )
            .with_target("identity.userAssignedIdentities"));
        }
    }
    Ok(())
}

/// `confidentialComputeProperties.ccePolicy`: base64 (the ARM spec: "The
/// base64 encoded confidential compute enforcement policy"; the confidential
/// overview: the confcom extension outputs "a base 64 string policy"), and
/// only in the Confidential SKU (a choice: no source says what ACI does with
/// a policy on another SKU, so the emulator refuses it).
fn confidential_compute(
    props: &Map<String, Value>,
    sku: &str,
    group: &str,
) -> Result<(), ApiError> {
    let Some(policy) = props
        .get("confidentialComputeProperties")
        .filter(|c| !c.is_null())
        .and_then(|c| c.get("ccePolicy"))
        .filter(|p| !p.is_null())
    else {
        return Ok(());
    };
    let Some(policy) = policy.as_str() else {
        return Err(ApiError::content(
            "properties.confidentialComputeProperties.ccePolicy",
            "Expected a string",
        ));
    };
    use base64::Engine as _;
    if base64::engine::general_purpose::STANDARD
        .decode(policy)
        .is_err()
    {
        return Err(ApiError::bad_request(
            codes::INVALID_CCE_POLICY,
            format!("The confidential compute enforcement policy of container group '{group}' is not a valid base64 string."),
        )
        .with_target("properties.confidentialComputeProperties.ccePolicy"));
    }
    if sku != "Confidential" {
        return Err(ApiError::bad_request(
            codes::INVALID_CCE_POLICY,
            format!("A confidential compute enforcement policy was given for container group '{group}' with SKU '{sku}'; it requires the 'Confidential' SKU."),
        )
        .with_target("properties.confidentialComputeProperties.ccePolicy"));
    }
    Ok(())
}

/// No privileged containers: ACI runs none (overview, troubleshooting) except
/// in the Confidential SKU, where `privileged` is the one security-context
/// flag it takes (MicrosoftDocs/azure-docs #123837; terraform-provider-azurerm
/// PR #23034 runs one).
fn no_privileged(
    p: &Map<String, Value>,
    path: &str,
    container: &str,
    group: &str,
) -> Result<(), ApiError> {
    let privileged = p
        .get("securityContext")
        .and_then(|s| s.get("privileged"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if privileged {
        return Err(ApiError::bad_request(
            codes::PRIVILEGED,
            format!("The container '{container}' in container group '{group}' requests a privileged security context, which is not supported."),
        )
        .with_target(format!("{path}.securityContext.privileged")));
    }
    Ok(())
}

/// The properties an update may not change (container-instances-update.md,
/// "Properties that require container delete": OS type, CPU, memory or GPU
/// resources, restart policy, network profile, availability zone), by name,
/// when `old` and `new` differ in one. Ports, images, environment and the
/// DNS label may change in place.
pub(crate) fn immutable_change(old: &Value, new: &Value) -> Option<&'static str> {
    let p = |v: &Value, k: &str| v["properties"][k].clone();
    let resources = |v: &Value| -> Vec<(Value, Value)> {
        v["properties"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| (c["name"].clone(), c["properties"]["resources"].clone()))
            .collect()
    };
    if p(old, "osType") != p(new, "osType") {
        Some("os type")
    } else if p(old, "restartPolicy") != p(new, "restartPolicy") {
        Some("restart policy")
    } else if resources(old) != resources(new) {
        Some("CPU, memory or GPU resources")
    } else if p(old, "subnetIds") != p(new, "subnetIds") {
        Some("network profile")
    } else if old["zones"] != new["zones"] {
        Some("availability zone")
    } else {
        None
    }
}

/// Windows Server 2016 base images: not accepted since 31 December 2022
/// (container-instances-faq). The emulator knows an image only by its
/// reference, so it recognises the 2016 tags (`ltsc2016`, `sac2016`, `1607`,
/// `10.0.14393.*`) and the retired Docker Hub repositories built on it
/// (`microsoft/iis`, `microsoft/windowsservercore`, `microsoft/nanoserver`,
/// `microsoft/aspnet`, `microsoft/dotnet-framework`) unless their tag names
/// a newer release (`ltsc2019`, `ltsc2022`, `1809`...).
pub(crate) fn windows_2016_image(image: &str) -> bool {
    let lower = image.to_ascii_lowercase();
    let (repo, tag) = match lower.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r.to_owned(), t.to_owned()),
        _ => (lower.clone(), "latest".to_owned()),
    };
    let tag_2016 = ["ltsc2016", "sac2016", "1607", "10.0.14393"]
        .iter()
        .any(|m| tag.contains(m));
    let newer = [
        "ltsc2019", "ltsc2022", "ltsc2025", "1809", "1903", "1909", "2004", "20h2",
    ]
    .iter()
    .any(|m| tag.contains(m));
    let legacy_repo = [
        "microsoft/iis",
        "microsoft/windowsservercore",
        "microsoft/nanoserver",
        "microsoft/aspnet",
        "microsoft/dotnet-framework",
    ]
    .iter()
    .any(|r| {
        repo == *r || repo == format!("docker.io/{r}") || repo == format!("index.docker.io/{r}")
    });
    tag_2016 || (legacy_repo && !newer)
}

fn windows_err(what: &str) -> ApiError {
    ApiError::bad_request(
        codes::WINDOWS_FEATURE,
        format!("Windows container groups do not support {what}."),
    )
}

fn container_name(
    c: &Map<String, Value>,
    path: &str,
    group: &str,
    names: &mut HashSet<String>,
) -> Result<String, ApiError> {
    let Some(cname) = c.get("name").and_then(Value::as_str) else {
        return Err(ApiError::content(
            &format!("{path}.name"),
            "Required property 'name' not found in JSON",
        ));
    };
    if !dns_label(cname, 63, true) {
        return Err(ApiError::bad_request(
            "InvalidContainerName",
            format!(
                "The container name '{cname}' in container group '{group}' is invalid. The container name must contain no more than 63 characters and must match the regex '{NAME_REGEX}' (e.g. 'my-name')."
            ),
        )
        .with_target(format!("{path}.name")));
    }
    if !names.insert(cname.to_owned()) {
        return Err(ApiError::bad_request(
            "DuplicateContainerName",
            format!(
                "The container name '{cname}' is used more than once in container group '{group}'."
            ),
        )
        .with_target(format!("{path}.name")));
    }
    Ok(cname.to_owned())
}

fn image(p: &Map<String, Value>, path: &str, cname: &str, group: &str) -> Result<String, ApiError> {
    match p.get("image") {
        Some(Value::String(i)) if !i.trim().is_empty() => Ok(i.clone()),
        Some(Value::String(_)) => Err(ApiError::bad_request(
            "InvalidImage",
            format!(
                "The image of container '{cname}' in container group '{group}' must not be empty."
            ),
        )
        .with_target(format!("{path}.image"))),
        _ => Err(ApiError::content(
            &format!("{path}.image"),
            "Required property 'image' not found in JSON",
        )),
    }
}

fn port_value(po: &mut Map<String, Value>, path: &str) -> Result<(i64, String), ApiError> {
    let n = integer(po.get("port"), &format!("{path}.port"))?.ok_or_else(|| {
        ApiError::content(
            &format!("{path}.port"),
            "Required property 'port' not found in JSON",
        )
    })?;
    if !(1..=65535).contains(&n) {
        return Err(ApiError::bad_request(
            "InvalidPort",
            format!("The port '{n}' is invalid; ports must be between 1 and 65535."),
        )
        .with_target(format!("{path}.port")));
    }
    let proto = canon_enum(po, "protocol", &["TCP", "UDP"], path, false)?
        .unwrap_or_else(|| "TCP".to_owned());
    Ok((n, proto))
}

/// Validates a PATCH body (`Resource`: only tags are applied).
pub(crate) fn patch_body(body: &Value) -> Result<Option<Map<String, Value>>, ApiError> {
    let Some(o) = body.as_object() else {
        return Err(ApiError::content("$", "Expected a JSON object"));
    };
    match o.get("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(t)) if t.values().all(Value::is_string) => Ok(Some(t.clone())),
        Some(_) => Err(ApiError::content("tags", "Tag values must be strings")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(group_name("a").is_ok());
        assert!(group_name("web-1").is_ok());
        assert!(group_name("-a").is_err());
        assert!(group_name("a-").is_err());
        assert!(group_name("a--b").is_err());
        assert!(group_name("Abc").is_err());
        assert!(group_name(&"a".repeat(64)).is_err());
        assert!(group_name(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn granularity() {
        assert!(multiple_of(0.01, 0.01));
        assert!(multiple_of(1.5, 0.1));
        assert!(!multiple_of(1.55, 0.1));
        assert!(!multiple_of(0.005, 0.01));
    }
}
