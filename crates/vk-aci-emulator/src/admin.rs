//! Admin API (`/_emulator/...`) and its in-process twin, [`AdminHandle`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::apierror::ApiError;
use crate::config::Quota;
use crate::error::EmulatorError;
use crate::faults::{FaultRule, ProvisioningFailure};
use crate::route::parse_query;
use crate::server::Shared;
use crate::state::RecordedRequest;
use crate::throttle::ThrottleState;

/// Summary of one container group, for inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// Subscription id.
    pub subscription: String,
    /// Resource group name.
    pub resource_group: String,
    /// Container group name.
    pub name: String,
    /// Normalised location.
    pub location: String,
    /// `properties.provisioningState`.
    pub provisioning_state: String,
    /// `properties.instanceView.state`.
    pub state: String,
    /// Assigned IP address, if any.
    pub ip: Option<String>,
    /// Container names with their current state and restart count.
    pub containers: Vec<ContainerSummary>,
}

/// Summary of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSummary {
    /// Container name.
    pub name: String,
    /// `Waiting`, `Running` or `Terminated`.
    pub state: String,
    /// Exit code of the last termination.
    pub exit_code: Option<i32>,
    /// Restart count.
    pub restart_count: u32,
}

/// In-process admin handle: fault injection, counters, inspection. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AdminHandle {
    shared: Arc<Shared>,
}

impl AdminHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Base URL of the emulator.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// Adds a fault rule.
    pub fn inject_fault(&self, mut rule: FaultRule) {
        tracing::info!(?rule, "fault added");
        rule.activate();
        self.shared.lock().faults.push(rule);
    }

    /// Active fault rules.
    pub fn faults(&self) -> Vec<FaultRule> {
        self.shared.lock().faults.clone()
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Makes matching groups fail to provision.
    pub fn fail_provisioning(&self, rule: ProvisioningFailure) {
        self.shared.lock().provisioning_failures.push(rule);
    }

    /// Active provisioning failures.
    pub fn provisioning_failures(&self) -> Vec<ProvisioningFailure> {
        self.shared.lock().provisioning_failures.clone()
    }

    /// Removes every provisioning failure.
    pub fn clear_provisioning_failures(&self) {
        self.shared.lock().provisioning_failures.clear();
    }

    /// Call counters: operation name → HTTP status → count (status 0 = dropped connection).
    pub fn counters(&self) -> BTreeMap<String, BTreeMap<u16, u64>> {
        self.shared.lock().counters.clone()
    }

    /// Number of calls of operation `op`, all statuses.
    pub fn count(&self, op: &str) -> u64 {
        self.shared
            .lock()
            .counters
            .get(op)
            .map_or(0, |m| m.values().sum())
    }

    /// Number of calls of operation `op` answered with `status`.
    pub fn count_status(&self, op: &str, status: u16) -> u64 {
        self.shared
            .lock()
            .counters
            .get(op)
            .and_then(|m| m.get(&status).copied())
            .unwrap_or(0)
    }

    /// Resets the call counters.
    pub fn reset_counters(&self) {
        self.shared.lock().counters.clear();
    }

    /// Last request bodies received for group `name` (PUT, PATCH, exec), oldest first.
    pub fn requests(&self, name: &str) -> Vec<RecordedRequest> {
        self.shared
            .lock()
            .requests
            .get(&name.to_ascii_lowercase())
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The last request body received for group `name`.
    pub fn last_request(&self, name: &str) -> Option<RecordedRequest> {
        self.requests(name).pop()
    }

    /// All container groups.
    pub fn groups(&self) -> Vec<GroupSummary> {
        let st = self.shared.lock();
        st.groups
            .values()
            .map(|g| GroupSummary {
                subscription: g.subscription.clone(),
                resource_group: g.resource_group.clone(),
                name: g.name.clone(),
                location: g.location.clone(),
                provisioning_state: g.provisioning_state.clone(),
                state: g.instance_state().to_owned(),
                ip: g.ip.clone(),
                containers: g
                    .containers
                    .iter()
                    .map(|c| ContainerSummary {
                        name: c.name.clone(),
                        state: c.current.state.clone(),
                        exit_code: c.current.exit_code,
                        restart_count: c.restart_count,
                    })
                    .collect(),
            })
            .collect()
    }

    /// Marks images containing `pattern` as unpullable.
    pub fn mark_image_unpullable(&self, pattern: impl Into<String>) {
        self.shared.lock().unpullable.push(pattern.into());
    }

    /// Current unpullable image patterns.
    pub fn unpullable_images(&self) -> Vec<String> {
        self.shared.lock().unpullable.clone()
    }

    /// Clears the unpullable image patterns.
    pub fn clear_unpullable_images(&self) {
        self.shared.lock().unpullable.clear();
    }

    /// Makes pulls of images containing `pattern` fail at run time: the PUT
    /// is accepted (unlike [`AdminHandle::mark_image_unpullable`]), every
    /// pull attempt fails with ACI's `Failed` / `BackOff` events, and after
    /// the configured number of attempts the deployment fails with
    /// `InaccessibleImage` while the pulls go on.
    pub fn fail_image_pulls(&self, pattern: impl Into<String>) {
        self.shared.lock().failing_pulls.push(pattern.into());
    }

    /// Current patterns of [`AdminHandle::fail_image_pulls`].
    pub fn failing_image_pulls(&self) -> Vec<String> {
        self.shared.lock().failing_pulls.clone()
    }

    /// Removes every pattern of [`AdminHandle::fail_image_pulls`].
    pub fn clear_failing_image_pulls(&self) {
        self.shared.lock().failing_pulls.clear();
    }

    /// Makes images containing `pattern` pullable again: removes `pattern`
    /// from the unpullable and the failing-pull patterns (exact pattern
    /// match). Groups still retrying pull the image at their next attempt.
    /// Returns whether a pattern was removed.
    pub fn mark_image_pullable(&self, pattern: &str) -> bool {
        let mut st = self.shared.lock();
        let before = st.unpullable.len() + st.failing_pulls.len();
        st.unpullable.retain(|p| p != pattern);
        st.failing_pulls.retain(|p| p != pattern);
        before != st.unpullable.len() + st.failing_pulls.len()
    }

    /// A maintenance restart by the platform of every group named `group`:
    /// each container that has not completed with exit code 0 restarts
    /// (`Killing`, then `Pulling` … `Started`; `restartCount` + 1, a new
    /// start time), including restart policy `Never` containers that exited
    /// non-zero; the group's provisioning state is `Repairing` until they
    /// run again, then `Succeeded`. With `new_ip` a group with an IP address
    /// gets a new one (private in a virtual network, else public).
    ///
    /// # Errors
    /// [`EmulatorError::NoSuchGroup`]; [`EmulatorError::GroupBusy`] when
    /// the group is stopped or in a transition.
    pub fn platform_restart(&self, group: &str, new_ip: bool) -> Result<(), EmulatorError> {
        crate::runtime::platform_restart(&self.shared, group, new_ip)
    }

    /// A repair of every group named `group` (its node went down): its
    /// provisioning state is `Unhealthy` for the first half of `duration`
    /// and `Repairing` for the second (the containers wait to start on a new
    /// host), then the containers start again as after
    /// [`AdminHandle::platform_restart`] (same IP) and the group is
    /// `Succeeded`. `duration` is not scaled by the time scale.
    ///
    /// # Errors
    /// As [`AdminHandle::platform_restart`].
    pub fn repair(&self, group: &str, duration: Duration) -> Result<(), EmulatorError> {
        crate::runtime::repair(&self.shared, group, duration)
    }

    /// A Spot eviction of every group named `group`: Azure reclaims the
    /// capacity and ACI restarts the group (Spot overview: "automatically
    /// restarted"), shown as a [`AdminHandle::repair`] of `duration`.
    ///
    /// # Errors
    /// As [`AdminHandle::platform_restart`], and
    /// [`EmulatorError::NotSpot`] for a group whose priority is not Spot.
    pub fn spot_evict(&self, group: &str, duration: Duration) -> Result<(), EmulatorError> {
        crate::runtime::spot_evict(&self.shared, group, duration)
    }

    /// For `duration` after each PUT that creates a group, GETs of it answer
    /// 404 `ResourceNotFound` and lists omit it (ARM's eventual consistency:
    /// virtual-kubelet #704). Zero turns it off (the default). Applies to
    /// groups created from now on; not scaled by the time scale.
    pub fn transient_not_found_after_put(&self, duration: Duration) {
        self.shared.lock().not_found_after_put = duration;
    }

    /// The current [`AdminHandle::transient_not_found_after_put`] duration.
    pub fn not_found_after_put(&self) -> Duration {
        self.shared.lock().not_found_after_put
    }

    /// Sets the regional quota.
    pub fn set_quota(&self, quota: Quota) {
        self.shared.lock().quota = quota;
    }

    /// Current regional quota.
    pub fn quota(&self) -> Quota {
        self.shared.lock().quota
    }

    /// Issues a bearer token directly (no token endpoint call); ARM throttles
    /// its requests as principal `emulator-admin`.
    pub fn issue_token(&self) -> String {
        crate::auth::issue_token(&self.shared, crate::auth::ADMIN_PRINCIPAL).0
    }

    /// Issues a bearer token for `client_id` (the principal ARM throttles by).
    pub fn issue_token_for(&self, client_id: &str) -> String {
        crate::auth::issue_token(&self.shared, client_id).0
    }

    /// ARM token buckets, create/delete rate windows and counts of 429s.
    pub fn throttle(&self) -> ThrottleState {
        self.shared.throttle.snapshot(&self.shared.cfg)
    }

    /// Refills every token bucket, empties every rate window and zeroes the
    /// counts of 429s.
    pub fn reset_throttle(&self) {
        self.shared.throttle.reset();
    }

    /// Forgets every group, operation, fault, counter, recorded request and
    /// failing-pull pattern, resets throttling
    /// ([`AdminHandle::reset_throttle`]) and restores the configured quota,
    /// unpullable images and transient-not-found duration. Tokens stay valid.
    pub fn reset(&self) {
        let keys: Vec<_> = {
            let mut st = self.shared.lock();
            let keys = st.groups.keys().cloned().collect();
            st.groups.clear();
            st.operations.clear();
            st.exec_sessions.clear();
            st.faults.clear();
            st.provisioning_failures.clear();
            st.counters.clear();
            st.requests.clear();
            st.quota = self.shared.cfg.quota;
            st.unpullable = self.shared.cfg.unpullable_images.clone();
            st.failing_pulls.clear();
            st.not_found_after_put = self.shared.cfg.transient_not_found_after_put;
            keys
        };
        self.shared.throttle.reset();
        for k in &keys {
            self.shared.abort_group(k, u64::MAX);
        }
        self.shared.changed();
    }
}

type S = State<Arc<Shared>>;

fn handle(s: Arc<Shared>) -> AdminHandle {
    AdminHandle::new(s)
}

fn bad(e: impl std::fmt::Display) -> Response {
    ApiError::bad_request(
        "InvalidRequestContent",
        format!("Invalid admin request: {e}"),
    )
    .into_response()
}

/// The answer to a platform event request: 204, or the error.
fn platform_answer(r: Result<(), EmulatorError>) -> Response {
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e @ EmulatorError::NoSuchGroup(_)) => {
            ApiError::new(StatusCode::NOT_FOUND, "GroupNotFound", e.to_string()).into_response()
        }
        Err(e @ EmulatorError::NotSpot(_)) => {
            ApiError::new(StatusCode::CONFLICT, "NotSpot", e.to_string()).into_response()
        }
        Err(e) => ApiError::new(StatusCode::CONFLICT, "GroupBusy", e.to_string()).into_response(),
    }
}

/// An optional JSON object body (empty: `{}`).
fn object_body(body: &Bytes) -> Result<Value, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(bad("expected a JSON object")),
        Err(e) => Err(bad(e)),
    }
}

/// `duration_secs` of a body: a finite, non-negative number of seconds.
fn duration_secs(v: &Value) -> Result<Duration, Response> {
    v.get("duration_secs")
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(1e9)))
        .ok_or_else(|| bad("expected {\"duration_secs\": N} (seconds, N >= 0)"))
}

/// The `pattern` (or `image`) of an image admin request.
fn pattern(body: &Bytes) -> Result<String, Response> {
    let v: Value = serde_json::from_slice(body).map_err(bad)?;
    v.get("pattern")
        .or_else(|| v.get("image"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| bad("expected {\"pattern\": \"...\"}"))
}

/// Admin routes of the platform events and image pulls.
fn platform_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/_emulator/groups/{name}/platform-restart",
            post(
                |State(s): S, Path(name): Path<String>, body: Bytes| async move {
                    let v = match object_body(&body) {
                        Ok(v) => v,
                        Err(r) => return r,
                    };
                    let new_ip = v.get("new_ip").and_then(Value::as_bool).unwrap_or(false);
                    platform_answer(handle(s).platform_restart(&name, new_ip))
                },
            ),
        )
        .route(
            "/_emulator/groups/{name}/repair",
            post(
                |State(s): S, Path(name): Path<String>, body: Bytes| async move {
                    let d = match object_body(&body).and_then(|v| duration_secs(&v)) {
                        Ok(d) => d,
                        Err(r) => return r,
                    };
                    platform_answer(handle(s).repair(&name, d))
                },
            ),
        )
        .route(
            "/_emulator/groups/{name}/spot-evict",
            post(
                |State(s): S, Path(name): Path<String>, body: Bytes| async move {
                    let d = match object_body(&body).and_then(|v| duration_secs(&v)) {
                        Ok(d) => d,
                        Err(r) => return r,
                    };
                    platform_answer(handle(s).spot_evict(&name, d))
                },
            ),
        )
        .route(
            "/_emulator/transient-not-found",
            get(|State(s): S| async move {
                Json(json!({"duration_secs": handle(s).not_found_after_put().as_secs_f64()}))
            })
            .put(|State(s): S, body: Bytes| async move {
                let d = match object_body(&body).and_then(|v| duration_secs(&v)) {
                    Ok(d) => d,
                    Err(r) => return r,
                };
                let h = handle(s);
                h.transient_not_found_after_put(d);
                Json(json!({"duration_secs": h.not_found_after_put().as_secs_f64()}))
                    .into_response()
            })
            .delete(|State(s): S| async move {
                handle(s).transient_not_found_after_put(Duration::ZERO);
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/_emulator/images/failing-pulls",
            get(|State(s): S| async move { Json(handle(s).failing_image_pulls()) })
                .post(|State(s): S, body: Bytes| async move {
                    let p = match pattern(&body) {
                        Ok(p) => p,
                        Err(r) => return r,
                    };
                    let h = handle(s);
                    h.fail_image_pulls(p);
                    (StatusCode::CREATED, Json(h.failing_image_pulls())).into_response()
                })
                .delete(|State(s): S| async move {
                    handle(s).clear_failing_image_pulls();
                    StatusCode::NO_CONTENT
                }),
        )
        .route(
            "/_emulator/images/pullable",
            post(|State(s): S, body: Bytes| async move {
                match pattern(&body) {
                    Ok(p) => {
                        Json(json!({"removed": handle(s).mark_image_pullable(&p)})).into_response()
                    }
                    Err(r) => r,
                }
            }),
        )
}

/// Admin routes.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .merge(platform_routes())
        .route(
            "/_emulator/health",
            get(|| async { Json(json!({"status": "ok"})) }),
        )
        .route(
            "/_emulator/reset",
            post(|State(s): S| async move {
                handle(s).reset();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/_emulator/groups",
            get(|State(s): S| async move { Json(handle(s).groups()) }),
        )
        .route(
            "/_emulator/faults",
            get(|State(s): S| async move { Json(handle(s).faults()) })
                .post(|State(s): S, body: Bytes| async move {
                    let rules: Vec<FaultRule> = match serde_json::from_slice::<Value>(&body) {
                        Ok(Value::Array(a)) => match serde_json::from_value(Value::Array(a)) {
                            Ok(r) => r,
                            Err(e) => return bad(e),
                        },
                        Ok(v) => match serde_json::from_value(v) {
                            Ok(r) => vec![r],
                            Err(e) => return bad(e),
                        },
                        Err(e) => return bad(e),
                    };
                    let h = handle(s);
                    for r in rules {
                        h.inject_fault(r);
                    }
                    (StatusCode::CREATED, Json(h.faults())).into_response()
                })
                .delete(|State(s): S| async move {
                    handle(s).clear_faults();
                    StatusCode::NO_CONTENT
                }),
        )
        .route(
            "/_emulator/provisioning-failures",
            get(|State(s): S| async move { Json(handle(s).provisioning_failures()) })
                .post(|State(s): S, body: Bytes| async move {
                    match serde_json::from_slice::<ProvisioningFailure>(&body) {
                        Ok(r) => {
                            let h = handle(s);
                            h.fail_provisioning(r);
                            (StatusCode::CREATED, Json(h.provisioning_failures())).into_response()
                        }
                        Err(e) => bad(e),
                    }
                })
                .delete(|State(s): S| async move {
                    handle(s).clear_provisioning_failures();
                    StatusCode::NO_CONTENT
                }),
        )
        .route(
            "/_emulator/counters",
            get(|State(s): S| async move { Json(handle(s).counters()) }).delete(
                |State(s): S| async move {
                    handle(s).reset_counters();
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/_emulator/requests",
            get(|State(s): S, RawQuery(q): RawQuery| async move {
                let q = parse_query(q.as_deref());
                match q.iter().find(|(k, _)| k == "group") {
                    Some((_, g)) => Json(handle(s).requests(g)).into_response(),
                    None => {
                        let st = s.lock();
                        let all: BTreeMap<String, Vec<RecordedRequest>> = st
                            .requests
                            .iter()
                            .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
                            .collect();
                        Json(all).into_response()
                    }
                }
            }),
        )
        .route(
            "/_emulator/images/unpullable",
            get(|State(s): S| async move { Json(handle(s).unpullable_images()) })
                .post(|State(s): S, body: Bytes| async move {
                    let v: Value = match serde_json::from_slice(&body) {
                        Ok(v) => v,
                        Err(e) => return bad(e),
                    };
                    let Some(p) = v
                        .get("pattern")
                        .or_else(|| v.get("image"))
                        .and_then(Value::as_str)
                    else {
                        return bad("expected {\"pattern\": \"...\"}");
                    };
                    let h = handle(s);
                    h.mark_image_unpullable(p);
                    (StatusCode::CREATED, Json(h.unpullable_images())).into_response()
                })
                .delete(|State(s): S| async move {
                    handle(s).clear_unpullable_images();
                    StatusCode::NO_CONTENT
                }),
        )
        .route(
            "/_emulator/quota",
            get(|State(s): S| async move { Json(handle(s).quota()) }).put(
                |State(s): S, body: Bytes| async move {
                    match serde_json::from_slice::<Quota>(&body) {
                        Ok(q) => {
                            let h = handle(s);
                            h.set_quota(q);
                            Json(h.quota()).into_response()
                        }
                        Err(e) => bad(e),
                    }
                },
            ),
        )
        .route(
            "/_emulator/throttle",
            get(|State(s): S| async move { Json(handle(s).throttle()) }).delete(
                |State(s): S| async move {
                    handle(s).reset_throttle();
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/_emulator/token",
            post(|State(s): S| async move {
                let token = handle(s).issue_token();
                Json(json!({"access_token": token, "token_type": "Bearer"}))
            }),
        )
}
