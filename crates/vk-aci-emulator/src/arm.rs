// Over 800 lines: the ARM routes of the emulated API and their shared request/response plumbing, one handler per operation.
//! The ARM API: container group operations, LRO endpoints, location endpoints.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use serde_json::{Value, json};

use crate::apierror::ApiError;
use crate::route::{self, ContainerAction, GroupAction, Route, encode, parse_query};
use crate::runtime;
use crate::server::Shared;
use crate::state::{
    CState, ErrorInfo, ExecSession, Group, GroupKey, OpKind, Operation, RecordedRequest,
    normalize_location, now, now_unix, quota_cores, random_hex, random_uuid,
};
use crate::throttle::{Action, ArmKind};

/// Entry point of every ARM request (the router's fallback): authentication,
/// ARM's throttling (one token bucket per subscription, principal and kind of
/// request), then the operation. Every answer past authentication carries
/// the live `x-ms-ratelimit-remaining-{subscription|tenant}-{reads|writes|deletes}`
/// header.
pub(crate) async fn dispatch(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let route = route::parse(uri.path());
    let principal = match crate::auth::check(&shared, &headers) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let kind = ArmKind::of(&method);
    let scope = route_subscription(&route).map_or_else(
        || crate::throttle::TENANT_SCOPE.to_owned(),
        str::to_ascii_lowercase,
    );
    let (result, remaining) = match shared.throttle.arm(&shared.cfg, &scope, &principal, kind) {
        Ok(remaining) => (handle(&shared, route, &method, &uri, &body), remaining),
        Err(e) => (Err(e), 0),
    };
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(code = %e.code, message = %e.message, "ARM error");
            e.into_response()
        }
    };
    let level = if scope == crate::throttle::TENANT_SCOPE {
        "tenant"
    } else {
        "subscription"
    };
    if let Ok(name) = http::HeaderName::try_from(format!(
        "x-ms-ratelimit-remaining-{level}-{}",
        kind.plural()
    )) {
        resp.headers_mut()
            .insert(name, HeaderValue::from(remaining));
    }
    resp
}

/// The subscription of a route (`None` for tenant-level requests).
fn route_subscription(route: &Route) -> Option<&str> {
    match route {
        Route::ListSub { sub }
        | Route::ListRg { sub, .. }
        | Route::Group { sub, .. }
        | Route::GroupAction { sub, .. }
        | Route::Container { sub, .. }
        | Route::Usages { sub, .. }
        | Route::Capabilities { sub, .. }
        | Route::CachedImages { sub, .. }
        | Route::OpStatus { sub, .. }
        | Route::OpResult { sub, .. }
        | Route::SalDelete { sub } => Some(sub),
        Route::OperationsList | Route::Unknown => None,
    }
}

fn valid_api_version(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
        && (b.len() == 10 || &b[10..] == b"-preview")
}

struct Ctx<'a> {
    shared: &'a Arc<Shared>,
    api_version: String,
    query: Vec<(String, String)>,
    path: String,
}

impl Ctx<'_> {
    fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn op_url(&self, sub: &str, location: &str, kind: &str, id: &str) -> String {
        format!(
            "{}/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/{location}/{kind}/{id}?api-version={}",
            self.shared.base_url,
            encode(&self.api_version)
        )
    }

    /// Adds the LRO headers of operation `id`.
    fn lro(&self, resp: &mut Response, sub: &str, location: &str, id: &str) {
        let lro = self.shared.cfg.lro;
        let h = resp.headers_mut();
        if lro.azure_async_operation
            && let Ok(v) = HeaderValue::from_str(&self.op_url(sub, location, "operations", id))
        {
            h.insert("azure-asyncoperation", v);
        }
        if lro.location
            && let Ok(v) =
                HeaderValue::from_str(&self.op_url(sub, location, "operationResults", id))
        {
            h.insert(http::header::LOCATION, v);
        }
        h.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from(lro.retry_after_secs),
        );
    }
}

fn not_found(name: &str, rg: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!(
            "The Resource 'Microsoft.ContainerInstance/containerGroups/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        ),
    )
}

fn transitioning(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "ContainerGroupTransitioning",
        format!("The container group '{name}' is still transitioning, please retry later."),
    )
}

fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'The request body is empty.'",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{e}'."),
        )
    })
}

fn handle(
    shared: &Arc<Shared>,
    route: Route,
    method: &Method,
    uri: &Uri,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let query = parse_query(uri.query());
    let api_version = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
        .map(|(_, v)| v.clone());
    let Some(api_version) = api_version else {
        return Err(ApiError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    if !valid_api_version(&api_version) {
        return Err(ApiError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{api_version}' is invalid. The supported versions are '2023-05-01' and any other 'YYYY-MM-DD' or 'YYYY-MM-DD-preview' version."
            ),
        ));
    }
    let sub = route_subscription(&route).map(str::to_owned);
    if let (Some(sub), Some(allowed)) = (&sub, &shared.cfg.subscriptions)
        && !allowed.iter().any(|a| a.eq_ignore_ascii_case(sub))
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!("The subscription '{sub}' could not be found."),
        ));
    }
    let rg = match &route {
        Route::ListRg { rg, .. }
        | Route::Group { rg, .. }
        | Route::GroupAction { rg, .. }
        | Route::Container { rg, .. } => Some(rg.as_str()),
        _ => None,
    };
    if let (Some(rg), Some(allowed)) = (rg, &shared.cfg.resource_groups)
        && !allowed.iter().any(|a| a.eq_ignore_ascii_case(rg))
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
            format!("Resource group '{rg}' could not be found."),
        ));
    }
    let ctx = Ctx {
        shared,
        api_version,
        query,
        path: uri.path().to_owned(),
    };
    let m = method.as_str();
    match (route, m) {
        (Route::Group { sub, rg, name }, "PUT") => put_group(&ctx, &sub, &rg, &name, body),
        (Route::Group { sub, rg, name }, "GET") => get_group(&ctx, &sub, &rg, &name),
        (Route::Group { sub, rg, name }, "PATCH") => patch_group(&ctx, &sub, &rg, &name, body),
        (Route::Group { sub, rg, name }, "DELETE") => delete_group(&ctx, &sub, &rg, &name),
        (Route::ListSub { sub }, "GET") => list(&ctx, &sub, None),
        (Route::ListRg { sub, rg }, "GET") => list(&ctx, &sub, Some(&rg)),
        (
            Route::GroupAction {
                sub,
                rg,
                name,
                action,
            },
            "POST",
        ) => match action {
            GroupAction::Start => start_group(&ctx, &sub, &rg, &name),
            GroupAction::Stop => stop_group(&ctx, &sub, &rg, &name),
            GroupAction::Restart => restart_group(&ctx, &sub, &rg, &name),
            GroupAction::OutboundDeps => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "Use GET for outboundNetworkDependenciesEndpoints.",
            )),
        },
        (
            Route::GroupAction {
                sub,
                rg,
                name,
                action: GroupAction::OutboundDeps,
            },
            "GET",
        ) => {
            let key = GroupKey::new(&sub, &rg, &name);
            if !shared.lock().groups.contains_key(&key) {
                return Err(not_found(&name, &rg));
            }
            Ok(Json(json!([])).into_response())
        }
        (
            Route::Container {
                sub,
                rg,
                name,
                container,
                action,
            },
            m,
        ) => match (action, m) {
            (ContainerAction::Logs, "GET") => logs(&ctx, &sub, &rg, &name, &container),
            (ContainerAction::Exec, "POST") => exec(&ctx, &sub, &rg, &name, &container, body),
            (ContainerAction::Attach, "POST") => attach(&ctx, &sub, &rg, &name, &container),
            _ => Err(method_not_allowed(m)),
        },
        (Route::Usages { sub, loc }, "GET") => Ok(usages(&ctx, &sub, &loc)),
        (Route::Capabilities { loc, .. }, "GET") => Ok(capabilities(&ctx, &loc)),
        (Route::CachedImages { .. }, "GET") => {
            let value: Vec<Value> = shared
                .cfg
                .cached_images
                .iter()
                .map(|c| json!({"osType": c.os_type, "image": c.image}))
                .collect();
            Ok(Json(json!({ "value": value })).into_response())
        }
        (Route::OperationsList, "GET") => Ok(Json(operations_list()).into_response()),
        (Route::OpStatus { sub, id }, "GET") => op_status(&ctx, &sub, &id),
        (Route::OpResult { sub, id }, "GET") => op_result(&ctx, &sub, &id),
        (Route::SalDelete { .. }, "DELETE") => Ok(StatusCode::OK.into_response()),
        (Route::Unknown, _) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "InvalidResourceType",
            format!(
                "The resource type could not be found for path '{}'.",
                uri.path()
            ),
        )),
        (_, m) => Err(method_not_allowed(m)),
    }
}

fn method_not_allowed(m: &str) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("The HTTP method '{m}' is not supported for this resource."),
    )
}

/// Records a request body for inspection (called by the server middleware
/// for `create`, `update` and `exec`, before faults are applied).
pub(crate) fn record_request(shared: &Shared, op: &str, method: &str, path: &str, body: &[u8]) {
    let (sub, rg, name) = match route::parse(path) {
        Route::Group { sub, rg, name }
        | Route::GroupAction { sub, rg, name, .. }
        | Route::Container { sub, rg, name, .. } => (sub, rg, name),
        _ => return,
    };
    let parsed = serde_json::from_slice::<Value>(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    let rec = RecordedRequest {
        op: op.to_owned(),
        method: method.to_owned(),
        path: path.to_owned(),
        subscription: sub,
        resource_group: rg,
        body: parsed,
        at: now(),
    };
    shared
        .lock()
        .record(&name, rec, shared.cfg.recorded_requests);
}

fn new_op(kind: OpKind, key: &GroupKey, g: &Group) -> Operation {
    Operation {
        id: random_uuid(),
        kind,
        key: key.clone(),
        resource_id: crate::render::group_id(g),
        generation: g.generation,
        start: now(),
        end: None,
        status: "InProgress".to_owned(),
        error: None,
    }
}

fn quota_error(quota: &str, location: &str, limit: u32, usage: u32, requested: u32) -> ApiError {
    ApiError::bad_request(
        "ContainerGroupQuotaReached",
        format!(
            "Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota '{quota}' exceeded in region '{location}'. Limit: '{limit}', Usage: '{usage}' Requested: '{requested}'."
        ),
    )
}

fn put_group(
    ctx: &Ctx<'_>,
    sub: &str,
    rg: &str,
    name: &str,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let value = parse_json(body)?;
    let checked = crate::validate::container_group(name, &value, &ctx.shared.cfg)?;
    let key = GroupKey::new(sub, rg, name);
    let shared = ctx.shared;
    let (resp_body, created, op, redeploy, location, was_stopped) = {
        let mut st = shared.lock();
        if let Some(image) = checked.images.iter().find(|i| st.image_unpullable(i)) {
            return Err(ApiError::bad_request(
                "InaccessibleImage",
                format!(
                    "The image '{image}' in container group '{name}' is not accessible. Please check the image and registry credential."
                ),
            ));
        }
        let existing = st.groups.get(&key).cloned();
        let was_stopped = existing.as_ref().is_some_and(|g| g.stopped);
        if let Some(g) = &existing {
            if g.transitioning() {
                return Err(transitioning(name));
            }
            if g.location != checked.location {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "InvalidResourceLocation",
                    format!(
                        "The resource '{name}' already exists in location '{}' in resource group '{rg}'. A resource with the same name cannot be created in location '{}'. Please select a new resource name.",
                        g.location, checked.location
                    ),
                ));
            }
        }
        // ACI's create rate quota (100 per 5 minutes, 300 per hour): only a PUT
        // creating a new group counts, and only once it is accepted.
        if existing.is_none() {
            shared
                .throttle
                .check_action(&shared.cfg, Action::Create, sub, &checked.location)?;
        }
        let (groups, cores) = st.usage(sub, &checked.location);
        let quota = st.quota;
        let new_cores = quota_cores(checked.cpu);
        let old_cores = existing
            .as_ref()
            .filter(|g| !g.stopped)
            .map_or(0, Group::quota_cores);
        if existing.is_none() && groups >= quota.container_groups {
            return Err(quota_error(
                "ContainerGroups",
                &checked.location,
                quota.container_groups,
                groups,
                1,
            ));
        }
        if cores.saturating_sub(old_cores).saturating_add(new_cores) > quota.cores {
            return Err(quota_error(
                "StandardCores",
                &checked.location,
                quota.cores,
                cores,
                new_cores,
            ));
        }
        let generation = st.next_seq();
        // ARM's reads may not see a new group for a while (off by default).
        let hidden_until = Some(st.not_found_after_put)
            .filter(|d| !d.is_zero())
            .map(|d| tokio::time::Instant::now() + d);
        let (op, created, redeploy) = match existing {
            None => {
                let (init, containers) = runtime::fresh_containers(&checked.resource);
                let g = Group {
                    key: key.clone(),
                    subscription: sub.to_owned(),
                    resource_group: rg.to_owned(),
                    name: name.to_owned(),
                    location: checked.location.clone(),
                    resource: checked.resource,
                    provisioning_state: "Pending".to_owned(),
                    stopped: false,
                    init_failed: false,
                    ip: None,
                    init,
                    containers,
                    events: Vec::new(),
                    generation,
                    error: None,
                    created_seq: generation,
                    principal_id: random_uuid(),
                    hidden_until,
                    cores: new_cores,
                };
                let op = new_op(OpKind::Create, &key, &g);
                shared
                    .throttle
                    .record_action(&shared.cfg, Action::Create, sub, &g.location);
                st.groups.insert(key.clone(), g);
                (op, true, true)
            }
            Some(old) => {
                let strip = |v: &Value| {
                    let mut v = v.clone();
                    if let Some(o) = v.as_object_mut() {
                        o.remove("tags");
                    }
                    v
                };
                let same_spec = strip(&old.resource) == strip(&checked.resource);
                // A terminated group is deployed as new; a live one keeps
                // what ACI sets only at creation (container-instances-update.md).
                if !old.stopped
                    && let Some(what) =
                        crate::validate::immutable_change(&old.resource, &checked.resource)
                {
                    tracing::debug!(group = %name, changed = what, "update refused");
                    return Err(ApiError::bad_request(
                        crate::validate::codes::IMMUTABLE_UPDATE,
                        // ACI's message (MicrosoftDocs/azure-docs #37604); `what` only in the log.
                        format!(
                            "The updates on container group '{name}' are invalid. If you are going to update the os type, restart policy, network profile, CPU, memory or GPU resources for a container group, you must delete it first and then create a new one."
                        ),
                    ));
                }
                let g = st.groups.get_mut(&key).ok_or_else(|| not_found(name, rg))?;
                g.cores = new_cores;
                if same_spec && !g.stopped && g.provisioning_state == "Succeeded" {
                    g.resource = checked.resource;
                    let mut op = new_op(OpKind::Update, &key, g);
                    op.status = "Succeeded".to_owned();
                    op.end = Some(now());
                    (op, false, false)
                } else {
                    let old_type = g.resource["properties"]["ipAddress"]["type"].clone();
                    let new_type = checked.resource["properties"]["ipAddress"]["type"].clone();
                    if old_type != new_type || g.stopped {
                        g.ip = None;
                    }
                    let (init, containers) = runtime::fresh_containers(&checked.resource);
                    g.resource = checked.resource;
                    g.init = init;
                    g.containers = containers;
                    g.generation = generation;
                    g.provisioning_state = "Updating".to_owned();
                    g.stopped = false;
                    g.init_failed = false;
                    g.error = None;
                    crate::state::push_event(
                        &mut g.events,
                        "Updating",
                        format!("Updating container group {name}"),
                        false,
                    );
                    let op = new_op(OpKind::Update, &key, g);
                    (op, false, true)
                }
            }
        };
        if redeploy {
            st.cancel_stale_ops(&key, generation);
        }
        let g = st.groups.get(&key).ok_or_else(|| not_found(name, rg))?;
        let body = crate::render::group(g, true);
        let location = g.location.clone();
        st.operations.insert(op.id.clone(), op.clone());
        (body, created, op, redeploy, location, was_stopped)
    };
    shared.changed();
    if redeploy {
        // A new group, or a stopped one deployed as new, waits for a host;
        // an update of a live group is redeployed in place.
        runtime::deploy(shared, key, op.generation, created || was_stopped);
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut resp = (status, Json(resp_body)).into_response();
    ctx.lro(&mut resp, sub, &location, &op.id);
    Ok(resp)
}

fn get_group(ctx: &Ctx<'_>, sub: &str, rg: &str, name: &str) -> Result<Response, ApiError> {
    let key = GroupKey::new(sub, rg, name);
    let st = ctx.shared.lock();
    let g = st
        .groups
        .get(&key)
        .filter(|g| !g.hidden())
        .ok_or_else(|| not_found(name, rg))?;
    Ok(Json(crate::render::group(g, true)).into_response())
}

fn patch_group(
    ctx: &Ctx<'_>,
    sub: &str,
    rg: &str,
    name: &str,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let value = parse_json(body)?;
    let tags = crate::validate::patch_body(&value)?;
    let key = GroupKey::new(sub, rg, name);
    let out = {
        let mut st = ctx.shared.lock();
        let g = st.groups.get_mut(&key).ok_or_else(|| not_found(name, rg))?;
        if let Some(tags) = tags {
            g.resource["tags"] = Value::Object(tags);
        }
        crate::render::group(g, true)
    };
    ctx.shared.changed();
    Ok(Json(out).into_response())
}

fn delete_group(ctx: &Ctx<'_>, sub: &str, rg: &str, name: &str) -> Result<Response, ApiError> {
    let key = GroupKey::new(sub, rg, name);
    let shared = ctx.shared;
    let delay = shared.cfg.scaled(shared.cfg.timings.delete);
    let (op, location) = {
        let mut st = shared.lock();
        let Some(location) = st.groups.get(&key).map(|g| g.location.clone()) else {
            return Ok(StatusCode::NO_CONTENT.into_response());
        };
        // ACI's delete rate quota counts deletes of existing groups.
        shared
            .throttle
            .check_action(&shared.cfg, Action::Delete, sub, &location)?;
        shared
            .throttle
            .record_action(&shared.cfg, Action::Delete, sub, &location);
        let generation = st.next_seq();
        let Some(g) = st.groups.get_mut(&key) else {
            return Ok(StatusCode::NO_CONTENT.into_response());
        };
        g.generation = generation;
        runtime::kill_containers(g, 137, "Killed");
        let mut op = new_op(OpKind::Delete, &key, g);
        if delay.is_zero() {
            st.groups.remove(&key);
            op.status = "Succeeded".to_owned();
            op.end = Some(now());
        } else {
            g.provisioning_state = "Deleting".to_owned();
        }
        st.cancel_stale_ops(&key, generation);
        st.operations.insert(op.id.clone(), op.clone());
        (op, location)
    };
    shared.abort_group(&key, op.generation);
    shared.changed();
    if !delay.is_zero() {
        let s = shared.clone();
        let k = key.clone();
        let generation = op.generation;
        shared.spawn_bg(async move {
            tokio::time::sleep(delay).await;
            {
                let mut st = s.lock();
                if st
                    .groups
                    .get(&k)
                    .is_some_and(|g| g.generation == generation)
                {
                    st.groups.remove(&k);
                }
                st.complete_ops(&k, generation, &[OpKind::Delete], None);
            }
            s.changed();
        });
    }
    let mut resp = StatusCode::ACCEPTED.into_response();
    ctx.lro(&mut resp, sub, &location, &op.id);
    Ok(resp)
}

fn list(ctx: &Ctx<'_>, sub: &str, rg: Option<&str>) -> Result<Response, ApiError> {
    let skip: usize = match ctx.q("$skiptoken") {
        None => 0,
        Some(t) => t.parse().map_err(|_| {
            ApiError::bad_request(
                "InvalidSkipToken",
                format!("The skip token '{t}' is invalid."),
            )
        })?,
    };
    let page = ctx.shared.cfg.page_size.max(1);
    let sub_l = sub.to_ascii_lowercase();
    let rg_l = rg.map(str::to_ascii_lowercase);
    let (items, more) = {
        let st = ctx.shared.lock();
        let mut it = st
            .groups
            .values()
            .filter(|g| {
                g.key.sub == sub_l && rg_l.as_ref().is_none_or(|r| &g.key.rg == r) && !g.hidden()
            })
            .skip(skip);
        let items: Vec<Value> = it
            .by_ref()
            .take(page)
            .map(|g| crate::render::group(g, false))
            .collect();
        (items, it.next().is_some())
    };
    let mut out = json!({ "value": items });
    if more {
        out["nextLink"] = json!(format!(
            "{}{}?api-version={}&$skiptoken={}",
            ctx.shared.base_url,
            ctx.path,
            encode(&ctx.api_version),
            skip + page
        ));
    }
    Ok(Json(out).into_response())
}

fn start_group(ctx: &Ctx<'_>, sub: &str, rg: &str, name: &str) -> Result<Response, ApiError> {
    let key = GroupKey::new(sub, rg, name);
    let shared = ctx.shared;
    let (op, location) = {
        let mut st = shared.lock();
        let generation = st.next_seq();
        let cores_used = {
            let g = st.groups.get(&key).ok_or_else(|| not_found(name, rg))?;
            if g.transitioning() {
                return Err(transitioning(name));
            }
            if !g.stopped {
                return Ok(StatusCode::NO_CONTENT.into_response());
            }
            st.usage(sub, &g.location).1
        };
        let quota = st.quota;
        let g = st.groups.get_mut(&key).ok_or_else(|| not_found(name, rg))?;
        let need = g.quota_cores();
        if cores_used.saturating_add(need) > quota.cores {
            return Err(quota_error(
                "StandardCores",
                &g.location,
                quota.cores,
                cores_used,
                need,
            ));
        }
        let (init, containers) = runtime::fresh_containers(&g.resource);
        g.init = init;
        g.containers = containers;
        g.generation = generation;
        g.stopped = false;
        g.init_failed = false;
        g.error = None;
        g.provisioning_state = "Pending".to_owned();
        let op = new_op(OpKind::Start, &key, g);
        let location = g.location.clone();
        st.operations.insert(op.id.clone(), op.clone());
        (op, location)
    };
    shared.changed();
    // Starting a stopped group is a new deployment: it waits for a host.
    runtime::deploy(shared, key, op.generation, true);
    let mut resp = StatusCode::ACCEPTED.into_response();
    ctx.lro(&mut resp, sub, &location, &op.id);
    Ok(resp)
}

fn stop_group(ctx: &Ctx<'_>, sub: &str, rg: &str, name: &str) -> Result<Response, ApiError> {
    let key = GroupKey::new(sub, rg, name);
    let shared = ctx.shared;
    let generation = {
        let mut st = shared.lock();
        let generation = st.next_seq();
        let g = st.groups.get_mut(&key).ok_or_else(|| not_found(name, rg))?;
        if g.transitioning() {
            return Err(transitioning(name));
        }
        if g.stopped {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        g.generation = generation;
        runtime::kill_containers(g, 137, "Killed");
        g.stopped = true;
        g.ip = None;
        g.provisioning_state = "Succeeded".to_owned();
        crate::state::push_event(
            &mut g.events,
            "Stopped",
            format!("Stopped container group {name}"),
            false,
        );
        st.cancel_stale_ops(&key, generation);
        generation
    };
    shared.abort_group(&key, generation);
    shared.changed();
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn restart_group(ctx: &Ctx<'_>, sub: &str, rg: &str, name: &str) -> Result<Response, ApiError> {
    let key = GroupKey::new(sub, rg, name);
    let shared = ctx.shared;
    let (op, location) = {
        let mut st = shared.lock();
        let generation = st.next_seq();
        let g = st.groups.get_mut(&key).ok_or_else(|| not_found(name, rg))?;
        if g.transitioning() {
            return Err(transitioning(name));
        }
        runtime::kill_containers(g, 137, "Killed");
        for c in g.init.iter_mut().chain(g.containers.iter_mut()) {
            c.previous = Some(c.current.clone());
            c.current = CState::waiting("Restarting");
            if c.started_once && !g.stopped {
                c.restart_count += 1;
            }
            c.started_once = false;
            c.finished = false;
            c.clear_logs();
        }
        g.generation = generation;
        g.stopped = false;
        g.init_failed = false;
        g.error = None;
        g.provisioning_state = "Pending".to_owned();
        let op = new_op(OpKind::Restart, &key, g);
        let location = g.location.clone();
        st.cancel_stale_ops(&key, generation);
        st.operations.insert(op.id.clone(), op.clone());
        (op, location)
    };
    shared.changed();
    // A restart recreates the containers in place (no new host).
    runtime::deploy(shared, key, op.generation, false);
    let mut resp = StatusCode::NO_CONTENT.into_response();
    ctx.lro(&mut resp, sub, &location, &op.id);
    Ok(resp)
}

fn container_missing(container: &str, name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ContainerNotFound",
        format!("The container '{container}' does not exist in container group '{name}'."),
    )
}

fn logs(
    ctx: &Ctx<'_>,
    sub: &str,
    rg: &str,
    name: &str,
    container: &str,
) -> Result<Response, ApiError> {
    let tail = match ctx.q("tail") {
        None | Some("") => None,
        Some(t) => Some(t.parse::<i64>().map_err(|_| {
            ApiError::bad_request(
                "InvalidParameter",
                format!("The tail value '{t}' is not a valid integer."),
            )
        })?),
    };
    let timestamps = match ctx.q("timestamps") {
        None | Some("") => false,
        Some(t) if t.eq_ignore_ascii_case("true") => true,
        Some(t) if t.eq_ignore_ascii_case("false") => false,
        Some(t) => {
            return Err(ApiError::bad_request(
                "InvalidParameter",
                format!("The timestamps value '{t}' is not a valid boolean."),
            ));
        }
    };
    let key = GroupKey::new(sub, rg, name);
    let st = ctx.shared.lock();
    let g = st.groups.get(&key).ok_or_else(|| not_found(name, rg))?;
    let c = g
        .containers
        .iter()
        .chain(g.init.iter())
        .find(|c| c.name == container)
        .ok_or_else(|| container_missing(container, name))?;
    if !c.started_once && c.logs.is_empty() {
        return Err(ApiError::bad_request(
            "ContainerLogNotAvailable",
            format!(
                "The logs of container '{container}' in container group '{name}' are not available: the container has not started yet."
            ),
        ));
    }
    let lines = &c.logs;
    let start = match tail {
        Some(n) if n >= 0 => lines
            .len()
            .saturating_sub(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => 0,
    };
    let mut content = String::new();
    for l in lines.iter().skip(start) {
        if timestamps {
            content.push_str(&l.ts);
            content.push(' ');
        }
        content.push_str(&l.text);
        content.push('\n');
    }
    Ok(Json(json!({ "content": content })).into_response())
}

fn ws_base(shared: &Shared) -> String {
    shared.base_url.replacen("http://", "ws://", 1)
}

fn exec(
    ctx: &Ctx<'_>,
    sub: &str,
    rg: &str,
    name: &str,
    container: &str,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let value = parse_json(body)?;
    let command = match value.get("command") {
        Some(Value::String(c)) if !c.trim().is_empty() => c.clone(),
        _ => {
            return Err(ApiError::content(
                "command",
                "Required property 'command' not found in JSON",
            ));
        }
    };
    if let Some(ts) = value.get("terminalSize").filter(|t| !t.is_null())
        && !ts.is_object()
    {
        return Err(ApiError::content("terminalSize", "Expected a JSON object"));
    }
    open_session(ctx, sub, rg, name, container, Some(command))
}

fn attach(
    ctx: &Ctx<'_>,
    sub: &str,
    rg: &str,
    name: &str,
    container: &str,
) -> Result<Response, ApiError> {
    open_session(ctx, sub, rg, name, container, None)
}

fn open_session(
    ctx: &Ctx<'_>,
    sub: &str,
    rg: &str,
    name: &str,
    container: &str,
    command: Option<String>,
) -> Result<Response, ApiError> {
    let key = GroupKey::new(sub, rg, name);
    let mut st = ctx.shared.lock();
    let g = st.groups.get(&key).ok_or_else(|| not_found(name, rg))?;
    let c = g
        .containers
        .iter()
        .find(|c| c.name == container)
        .ok_or_else(|| container_missing(container, name))?;
    if c.current.state != "Running" {
        return Err(ApiError::bad_request(
            "ContainerNotRunning",
            format!(
                "The container '{container}' in container group '{name}' is not running (state '{}').",
                c.current.state
            ),
        ));
    }
    let id = random_hex(16);
    let password = random_hex(16);
    let attach = command.is_none();
    st.exec_sessions.retain(|_, s| s.expires > now_unix());
    st.exec_sessions.insert(
        id.clone(),
        ExecSession {
            password: password.clone(),
            key,
            container: container.to_owned(),
            command: command.unwrap_or_default(),
            attach,
            expires: now_unix() + 300,
        },
    );
    let uri = format!("{}/_emulator/exec/{id}", ws_base(ctx.shared));
    Ok(Json(json!({ "webSocketUri": uri, "password": password })).into_response())
}

fn usages(ctx: &Ctx<'_>, sub: &str, loc: &str) -> Response {
    let location = normalize_location(loc);
    let st = ctx.shared.lock();
    let (groups, cores) = st.usage(sub, &location);
    let q = st.quota;
    let base = format!(
        "/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/{location}/usages"
    );
    let usage = |value: &str, localized: &str, current: u32, limit: u32| {
        json!({
            "id": format!("{base}/{value}"),
            "unit": "Count",
            "currentValue": current,
            "limit": limit,
            "name": {"value": value, "localizedValue": localized},
        })
    };
    Json(json!({"value": [
        usage("ContainerGroups", "Container Groups", groups, q.container_groups),
        usage("StandardCores", "Standard Cores", cores, q.cores),
    ]}))
    .into_response()
}

fn capabilities(ctx: &Ctx<'_>, loc: &str) -> Response {
    let cfg = &ctx.shared.cfg;
    let mut value = Vec::new();
    for (os, max) in [
        ("Linux", cfg.limits.linux_standard),
        ("Windows", cfg.limits.windows_standard),
    ] {
        for ip in ["Public", "Private"] {
            let mut gpus = vec![("None", 0)];
            if os == "Linux" {
                gpus.extend(cfg.gpu_skus.iter().map(|s| (s.as_str(), 4)));
            }
            for (gpu, max_gpu) in gpus {
                value.push(json!({
                    "resourceType": "containerGroups",
                    "osType": os,
                    "location": loc,
                    "ipAddressType": ip,
                    "gpu": gpu,
                    "capabilities": {
                        "maxMemoryInGB": max.memory_gb,
                        "maxCpu": max.cpu,
                        "maxGpuCount": max_gpu,
                    },
                }));
            }
        }
    }
    Json(json!({ "value": value })).into_response()
}

fn operations_list() -> Value {
    let op = |name: &str, resource: &str, operation: &str, description: &str| {
        json!({
            "name": name,
            "display": {
                "provider": "Microsoft Container Instance",
                "resource": resource,
                "operation": operation,
                "description": description,
            },
            "origin": "User",
        })
    };
    json!({"value": [
        op("Microsoft.ContainerInstance/containerGroups/read", "Container Group", "Get Container Groups", "Get all container groups."),
        op("Microsoft.ContainerInstance/containerGroups/write", "Container Group", "Create or Update Container Group", "Create or update a specific container group."),
        op("Microsoft.ContainerInstance/containerGroups/delete", "Container Group", "Delete Container Group", "Delete the specific container group."),
        op("Microsoft.ContainerInstance/containerGroups/restart/action", "Container Group", "Restart Container Group", "Restarts a specific container group."),
        op("Microsoft.ContainerInstance/containerGroups/stop/action", "Container Group", "Stop Container Group", "Stops a specific container group."),
        op("Microsoft.ContainerInstance/containerGroups/start/action", "Container Group", "Start Container Group", "Starts a specific container group."),
        op("Microsoft.ContainerInstance/containerGroups/containers/logs/read", "Container", "Get Container Logs", "Get the logs for a specific container."),
        op("Microsoft.ContainerInstance/containerGroups/containers/exec/action", "Container", "Exec Into Container", "Exec into a specific container."),
    ]})
}

fn find_op(ctx: &Ctx<'_>, sub: &str, id: &str) -> Result<Operation, ApiError> {
    let st = ctx.shared.lock();
    st.operations
        .get(id)
        .filter(|o| o.key.sub == sub.to_ascii_lowercase())
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "OperationNotFound",
                format!("The operation '{id}' could not be found."),
            )
        })
}

fn error_json(e: &ErrorInfo) -> Value {
    json!({"code": e.code, "message": e.message})
}

fn op_status(ctx: &Ctx<'_>, sub: &str, id: &str) -> Result<Response, ApiError> {
    let op = find_op(ctx, sub, id)?;
    let mut body = json!({
        "id": op.resource_id,
        "name": op.id,
        "status": op.status,
        "startTime": op.start,
        "properties": {},
    });
    if let Some(end) = &op.end {
        body["endTime"] = json!(end);
        body["percentComplete"] = json!(100);
    }
    if let Some(e) = &op.error {
        body["error"] = error_json(e);
        let st = ctx.shared.lock();
        if let Some(g) = st.groups.get(&op.key) {
            body["properties"]["events"] = json!(
                g.events
                    .iter()
                    .map(crate::state::Event::to_json)
                    .collect::<Vec<_>>()
            );
        }
    }
    let mut resp = Json(body).into_response();
    if op.end.is_none() {
        resp.headers_mut().insert(
            http::header::RETRY_AFTER,
            HeaderValue::from(ctx.shared.cfg.lro.retry_after_secs),
        );
    }
    Ok(resp)
}

fn op_result(ctx: &Ctx<'_>, sub: &str, id: &str) -> Result<Response, ApiError> {
    let op = find_op(ctx, sub, id)?;
    if op.end.is_none() {
        let mut resp = Response::builder()
            .status(StatusCode::ACCEPTED)
            .body(Body::empty())
            .unwrap_or_default();
        let url = format!(
            "{}{}?api-version={}",
            ctx.shared.base_url,
            ctx.path,
            encode(&ctx.api_version)
        );
        if let Ok(v) = HeaderValue::from_str(&url) {
            resp.headers_mut().insert(http::header::LOCATION, v);
        }
        resp.headers_mut().insert(
            http::header::RETRY_AFTER,
            HeaderValue::from(ctx.shared.cfg.lro.retry_after_secs),
        );
        return Ok(resp);
    }
    if let Some(e) = &op.error {
        let status = if op.status == "Canceled" {
            StatusCode::CONFLICT
        } else {
            StatusCode::BAD_REQUEST
        };
        return Ok((status, Json(json!({ "error": error_json(e) }))).into_response());
    }
    match op.kind {
        OpKind::Create | OpKind::Update => {
            let st = ctx.shared.lock();
            match st.groups.get(&op.key) {
                Some(g) => Ok(Json(crate::render::group(g, true)).into_response()),
                None => Ok(StatusCode::NO_CONTENT.into_response()),
            }
        }
        OpKind::Delete | OpKind::Start | OpKind::Restart => {
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_api_version;

    #[test]
    fn api_versions() {
        assert!(valid_api_version("2023-05-01"));
        assert!(valid_api_version("2024-10-01-preview"));
        assert!(!valid_api_version("2023-05-1"));
        assert!(!valid_api_version("2023-05-01-beta"));
        assert!(!valid_api_version("2023-05-0é1"));
        assert!(!valid_api_version("ééééééééé"));
    }
}
