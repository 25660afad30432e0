//! Azure Monitor's metrics data plane for container groups:
//! `POST /subscriptions/{sub}/metrics:getBatch` (api-version 2023-10-01), the
//! batch API of `{region}.metrics.monitor.azure.com`.
//!
//! ACI's platform metrics (`monitor-azure-container-instances-reference.md`):
//! `CpuUsage` (millicores, unit `Count`), `MemoryUsage` (bytes),
//! `NetworkBytesReceivedPerSecond`, `NetworkBytesTransmittedPerSecond`; the
//! aggregations `average`, `minimum`, `maximum`; the `containerName`
//! dimension; grains PT1M to PT12H. Only Linux groups have metrics
//! (`monitor-azure-container-instances.md`): a Windows group's series are
//! empty. A running container uses what its `consume` builtin says (see
//! [`crate::cmdlang`]), else nothing but [`IDLE_MEMORY_BYTES`]; the data point
//! of a minute is served [`crate::Timings::metrics_latency`] after the minute
//! starts. Batch rules (`migrate-to-batch-api.md`): at most 50 resource ids,
//! one subscription, region and resource type per call, the body key
//! `resourceids` in lower case, a token for `https://metrics.monitor.azure.com`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::apierror::ApiError;
use crate::route::parse_query;
use crate::server::Shared;
use crate::state::{ContainerRt, GroupKey};

/// At most this many resources per `metrics:getBatch` call.
pub(crate) const MAX_RESOURCES: usize = 50;

/// Memory a running container without a `consume` builtin reports (a choice:
/// a small process's working set).
pub const IDLE_MEMORY_BYTES: u64 = 8 << 20;

const NAMESPACE: &str = "Microsoft.ContainerInstance/containerGroups";

/// ACI's metrics: name, display name, unit.
const METRICS: &[(&str, &str, &str)] = &[
    ("CpuUsage", "CPU Usage", "Count"),
    ("MemoryUsage", "Memory Usage", "Bytes"),
    (
        "NetworkBytesReceivedPerSecond",
        "Network Bytes Received Per Second",
        "Bytes",
    ),
    (
        "NetworkBytesTransmittedPerSecond",
        "Network Bytes Transmitted Per Second",
        "Bytes",
    ),
];

const AGGREGATIONS: &[&str] = &["average", "minimum", "maximum"];

/// Time grains ACI's metrics have.
const GRAINS: &[(&str, i64)] = &[
    ("PT1M", 60),
    ("PT5M", 300),
    ("PT15M", 900),
    ("PT30M", 1800),
    ("PT1H", 3600),
    ("PT6H", 21600),
    ("PT12H", 43200),
];

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("BadRequest", message)
}

fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn now() -> Timestamp {
    crate::state::now()
        .parse()
        .unwrap_or_else(|_| Timestamp::now())
}

/// A parsed container group resource id.
struct ResourceId {
    sub: String,
    rg: String,
    name: String,
}

fn parse_resource_id(id: &str) -> Option<ResourceId> {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["subscriptions", sub, rgs, rg, "providers", rp, cg, name]
            if rgs.eq_ignore_ascii_case("resourceGroups")
                && rp.eq_ignore_ascii_case("Microsoft.ContainerInstance")
                && cg.eq_ignore_ascii_case("containerGroups") =>
        {
            Some(ResourceId {
                sub: (*sub).to_owned(),
                rg: (*rg).to_owned(),
                name: (*name).to_owned(),
            })
        }
        _ => None,
    }
}

/// What one running container uses now: `(cpu millicores, memory bytes)`.
fn usage(c: &ContainerRt) -> Option<(u64, u64)> {
    if c.current.state != "Running" {
        return None;
    }
    Some(
        crate::cmdlang::from_argv(&c.command)
            .usage()
            .unwrap_or((0, IDLE_MEMORY_BYTES)),
    )
}

fn metric_value(metric: &str, (cpu, memory): (u64, u64)) -> f64 {
    match metric {
        "CpuUsage" => cpu as f64,
        "MemoryUsage" => memory as f64,
        _ => 0.0,
    }
}

/// The request's window, grain, metrics, aggregations and whether series are
/// split by container.
struct Query {
    start: Timestamp,
    end: Timestamp,
    grain: (String, i64),
    metrics: Vec<&'static (&'static str, &'static str, &'static str)>,
    aggregations: Vec<String>,
    by_container: bool,
}

fn parse_request(query: &[(String, String)]) -> Result<Query, ApiError> {
    let Some(api_version) = query_value(query, "api-version") else {
        return Err(ApiError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    if !matches!(
        api_version,
        "2023-10-01" | "2024-02-01" | "2023-05-01-preview" | "2023-03-01-preview"
    ) {
        return Err(ApiError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{api_version}' is invalid. The supported versions are '2023-10-01', '2024-02-01', '2023-05-01-preview', '2023-03-01-preview'."
            ),
        ));
    }
    match query_value(query, "metricnamespace") {
        Some(ns) if ns.eq_ignore_ascii_case(NAMESPACE) => {}
        Some(ns) => {
            return Err(bad(format!(
                "Metric namespace '{ns}' is not valid for resource type '{NAMESPACE}'."
            )));
        }
        None => return Err(bad("The 'metricnamespace' query parameter is required.")),
    }
    let names = query_value(query, "metricnames")
        .ok_or_else(|| bad("The 'metricnames' query parameter is required."))?;
    let mut metrics = Vec::new();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let Some(m) = METRICS.iter().find(|m| m.0.eq_ignore_ascii_case(name)) else {
            let valid: Vec<&str> = METRICS.iter().map(|m| m.0).collect();
            return Err(bad(format!(
                "Failed to find metric configuration for provider: Microsoft.ContainerInstance, resource Type: containerGroups, metric: {name}, Valid metrics: {}",
                valid.join(",")
            )));
        };
        metrics.push(m);
    }
    if metrics.is_empty() {
        return Err(bad("The 'metricnames' query parameter is required."));
    }
    let aggregations: Vec<String> = query_value(query, "aggregation")
        .unwrap_or("average")
        .split(',')
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| !a.is_empty())
        .collect();
    if let Some(a) = aggregations
        .iter()
        .find(|a| !AGGREGATIONS.contains(&a.as_str()))
    {
        return Err(bad(format!(
            "Aggregation '{a}' is not supported for these metrics; supported: Average, Minimum, Maximum."
        )));
    }
    let grain_text = query_value(query, "interval").unwrap_or("PT1M");
    let grain = GRAINS
        .iter()
        .find(|(g, _)| g.eq_ignore_ascii_case(grain_text))
        .map(|(g, s)| ((*g).to_owned(), *s))
        .ok_or_else(|| {
            bad(format!(
                "Invalid time grain '{grain_text}'; supported: PT1M, PT5M, PT15M, PT30M, PT1H, PT6H, PT12H."
            ))
        })?;
    let time = |name: &str| -> Result<Option<Timestamp>, ApiError> {
        query_value(query, name)
            .map(|v| {
                v.parse::<Timestamp>().map_err(|_| {
                    bad(format!(
                        "Invalid '{name}' '{v}': expected yyyy-MM-ddTHH:mm:ss.fffZ."
                    ))
                })
            })
            .transpose()
    };
    let end = time("endtime")?.unwrap_or_else(now);
    let start = time("starttime")?.unwrap_or_else(|| end - SignedDuration::from_hours(1));
    if start >= end {
        return Err(bad("The 'starttime' must be before the 'endtime'."));
    }
    let by_container = query_value(query, "filter").is_some_and(|f| {
        let f = f.to_ascii_lowercase().replace(['"', '‘', '’'], "'");
        f.contains("containername eq '*'")
    });
    Ok(Query {
        start,
        end,
        grain,
        metrics,
        aggregations,
        by_container,
    })
}

/// Data points of one series: every grain-aligned window in the query whose
/// start is at least the latency old; a value when the container runs.
fn points(q: &Query, latency: SignedDuration, value: Option<f64>) -> Vec<Value> {
    let grain = q.grain.1;
    let available = now() - latency;
    let mut t = q.start.as_second().div_euclid(grain) * grain;
    let mut out = Vec::new();
    while t < q.end.as_second() {
        let Ok(ts) = Timestamp::from_second(t) else {
            break;
        };
        if ts > available {
            break;
        }
        let mut p = json!({"timeStamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()});
        if let Some(v) = value {
            for a in &q.aggregations {
                p[a.as_str()] = json!(v);
            }
        }
        out.push(p);
        t += grain;
    }
    out
}

fn container_series(
    q: &Query,
    latency: SignedDuration,
    metric: &str,
    name: &str,
    usage: Option<(u64, u64)>,
) -> Value {
    json!({
        "metadatavalues": [{"name": {"value": "containername", "localizedValue": "containername"}, "value": name}],
        "data": points(q, latency, usage.map(|u| metric_value(metric, u))),
    })
}

pub(crate) async fn get_batch(
    State(shared): State<Arc<Shared>>,
    Path(sub): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    match batch(&shared, &sub, &headers, raw.as_deref(), &body) {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn batch(
    shared: &Shared,
    sub: &str,
    headers: &HeaderMap,
    raw: Option<&str>,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let principal = crate::auth::check_metrics(shared, headers)?;
    // No published limit for the batch API: each call spends a read of the
    // caller's ARM read bucket (250 + 25/s), at least as strict as Azure.
    shared.throttle.arm(
        &shared.cfg,
        &sub.to_ascii_lowercase(),
        &principal,
        crate::throttle::ArmKind::Read,
    )?;
    let query = parse_query(raw);
    let q = parse_request(&query)?;
    let body: Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("The request body is not valid JSON: {e}")))?;
    let Some(ids) = body.get("resourceids").and_then(Value::as_array) else {
        return Err(bad(
            "The request body must have a 'resourceids' array (the property name in lower case).",
        ));
    };
    if ids.is_empty() {
        return Err(bad("The 'resourceids' array is empty."));
    }
    if ids.len() > MAX_RESOURCES {
        return Err(bad(format!(
            "The number of resource ids ({}) exceeds the maximum of {MAX_RESOURCES} per batch.",
            ids.len()
        )));
    }
    let latency = SignedDuration::try_from(shared.cfg.scaled(shared.cfg.timings.metrics_latency))
        .unwrap_or(SignedDuration::ZERO);
    let st = shared.lock();
    let mut region: Option<String> = None;
    let mut values = Vec::new();
    for id in ids {
        let id = id
            .as_str()
            .ok_or_else(|| bad("Every resource id must be a string."))?;
        let r = parse_resource_id(id).ok_or_else(|| {
            bad(format!(
                "'{id}' is not a resource id of type '{NAMESPACE}': all resources in a batch must be of the same type."
            ))
        })?;
        if !r.sub.eq_ignore_ascii_case(sub) {
            return Err(bad(format!(
                "'{id}' is not in subscription '{sub}': all resources in a batch must be in the same subscription."
            )));
        }
        let group = st.groups.get(&GroupKey::new(&r.sub, &r.rg, &r.name));
        let location = group.map_or_else(
            || shared.cfg.default_location.clone(),
            |g| g.location.clone(),
        );
        match &region {
            Some(first) if !first.eq_ignore_ascii_case(&location) => {
                return Err(bad(format!(
                    "'{id}' is in region '{location}', not '{first}': all resources in a batch must be in the same region."
                )));
            }
            Some(_) => {}
            None => region = Some(location.clone()),
        }
        let windows = group.is_some_and(|g| {
            g.resource["properties"]["osType"]
                .as_str()
                .is_some_and(|os| os.eq_ignore_ascii_case("Windows"))
        });
        let metrics: Vec<Value> = q
            .metrics
            .iter()
            .map(|(name, display, unit)| {
                let timeseries: Vec<Value> = match group {
                    // No metrics for Windows groups (or groups that do not exist).
                    None => Vec::new(),
                    Some(_) if windows => Vec::new(),
                    Some(g) if q.by_container => g
                        .containers
                        .iter()
                        .map(|c| container_series(&q, latency, name, &c.name, usage(c)))
                        .collect(),
                    Some(g) => {
                        let running: Vec<(u64, u64)> =
                            g.containers.iter().filter_map(usage).collect();
                        let total = (!running.is_empty()).then(|| {
                            running
                                .iter()
                                .fold((0, 0), |(c, m), (uc, um)| (c + uc, m + um))
                        });
                        vec![json!({
                            "metadatavalues": [],
                            "data": points(&q, latency, total.map(|u| metric_value(name, u))),
                        })]
                    }
                };
                json!({
                    "id": format!("{id}/providers/Microsoft.Insights/metrics/{name}"),
                    "type": "Microsoft.Insights/metrics",
                    "name": {"value": name, "localizedValue": display},
                    "unit": unit,
                    "timeseries": timeseries,
                    "errorCode": "Success",
                })
            })
            .collect();
        values.push(json!({
            "starttime": q.start.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "endtime": q.end.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "interval": q.grain.0,
            "value": metrics,
            "namespace": NAMESPACE.to_ascii_lowercase(),
            "resourceregion": location,
            "resourceid": id,
        }));
    }
    Ok(json!({ "values": values }))
}
