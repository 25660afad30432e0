//! In-memory state of one emulator instance.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::Quota;
use crate::faults::{FaultRule, ProvisioningFailure};

/// Current time as an RFC 3339 string: tokio's clock mapped to wall-clock
/// time. Outside a paused clock it is the wall-clock time; under a paused
/// test clock timestamps advance with it, so the time between two events is
/// exactly the (virtual) time the runtime waited.
pub(crate) fn now() -> String {
    static ANCHOR: std::sync::OnceLock<(jiff::Timestamp, std::time::Instant)> =
        std::sync::OnceLock::new();
    let (wall, at) = *ANCHOR.get_or_init(|| (jiff::Timestamp::now(), std::time::Instant::now()));
    let now = tokio::time::Instant::now().into_std();
    // A paused clock of a runtime started before the anchor lies before it.
    let offset = if now >= at {
        jiff::SignedDuration::try_from(now - at).ok()
    } else {
        jiff::SignedDuration::try_from(at - now).ok().map(|d| -d)
    };
    offset
        .and_then(|d| wall.checked_add(d).ok())
        .unwrap_or(wall)
        .to_string()
}

/// Current wall-clock time in Unix seconds.
pub(crate) fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A hard-to-guess hex string (not cryptographically strong; fine for an emulator).
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes * 2);
    while out.len() < bytes * 2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(out.len());
        h.write_i128(jiff::Timestamp::now().as_nanosecond());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(bytes * 2);
    out
}

/// A UUID-shaped random id.
pub(crate) fn random_uuid() -> String {
    let h = random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Identifies a container group: subscription, resource group and name, lower-cased
/// (ARM names are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct GroupKey {
    pub(crate) sub: String,
    pub(crate) rg: String,
    pub(crate) name: String,
}

impl GroupKey {
    pub(crate) fn new(sub: &str, rg: &str, name: &str) -> Self {
        Self {
            sub: sub.to_ascii_lowercase(),
            rg: rg.to_ascii_lowercase(),
            name: name.to_ascii_lowercase(),
        }
    }
}

/// An ACI event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Event {
    pub(crate) count: u32,
    pub(crate) first: String,
    pub(crate) last: String,
    pub(crate) name: String,
    pub(crate) message: String,
    pub(crate) kind: String,
}

impl Event {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "count": self.count,
            "firstTimestamp": self.first,
            "lastTimestamp": self.last,
            "name": self.name,
            "message": self.message,
            "type": self.kind,
        })
    }
}

/// Adds an event, aggregating with an identical one.
pub(crate) fn push_event(events: &mut Vec<Event>, name: &str, message: String, warning: bool) {
    let ts = now();
    if let Some(e) = events
        .iter_mut()
        .find(|e| e.name == name && e.message == message)
    {
        e.count += 1;
        e.last = ts;
        return;
    }
    events.push(Event {
        count: 1,
        first: ts.clone(),
        last: ts,
        name: name.to_owned(),
        message,
        kind: if warning { "Warning" } else { "Normal" }.to_owned(),
    });
}

/// A container state (`currentState` / `previousState`).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub(crate) struct CState {
    pub(crate) state: String,
    pub(crate) start_time: Option<String>,
    pub(crate) finish_time: Option<String>,
    pub(crate) exit_code: Option<i32>,
    pub(crate) detail_status: String,
}

impl CState {
    pub(crate) fn waiting(detail: &str) -> Self {
        Self {
            state: "Waiting".to_owned(),
            detail_status: detail.to_owned(),
            ..Self::default()
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({"state": self.state, "detailStatus": self.detail_status});
        if let Some(t) = &self.start_time {
            v["startTime"] = json!(t);
        }
        if let Some(t) = &self.finish_time {
            v["finishTime"] = json!(t);
        }
        if let Some(c) = self.exit_code {
            v["exitCode"] = json!(c);
        }
        v
    }
}

/// One log line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LogLine {
    pub(crate) ts: String,
    pub(crate) text: String,
}

/// Runtime status of one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ContainerRt {
    pub(crate) name: String,
    pub(crate) image: String,
    pub(crate) command: Vec<String>,
    pub(crate) restart_count: u32,
    pub(crate) current: CState,
    pub(crate) previous: Option<CState>,
    pub(crate) events: Vec<Event>,
    pub(crate) logs: VecDeque<LogLine>,
    /// Bytes of log text held (each line counts its `\n`).
    #[serde(default)]
    pub(crate) log_bytes: usize,
    pub(crate) started_once: bool,
    pub(crate) finished: bool,
    /// The simulated file system exec sessions see.
    #[serde(default)]
    pub(crate) files: crate::fs::Files,
}

/// Log bytes ACI keeps for a running container instance.
pub(crate) const RUNNING_LOG_BYTES: usize = 4 << 20;
/// Log bytes ACI keeps for a stopped container instance.
pub(crate) const STOPPED_LOG_BYTES: usize = 16 << 10;
/// Log lines ACI keeps for a stopped container instance.
pub(crate) const STOPPED_LOG_LINES: usize = 1000;

impl ContainerRt {
    pub(crate) fn new(name: String, image: String, command: Vec<String>) -> Self {
        Self {
            name,
            image,
            command,
            restart_count: 0,
            current: CState::waiting("Pending"),
            previous: None,
            events: Vec::new(),
            logs: VecDeque::new(),
            log_bytes: 0,
            started_once: false,
            finished: false,
            files: crate::fs::Files::new(),
        }
    }

    /// Whether the container completed successfully and is left alone by
    /// later (platform) restarts.
    pub(crate) fn done(&self) -> bool {
        self.finished && self.current.exit_code == Some(0)
    }

    pub(crate) fn instance_view(&self) -> Value {
        let mut v = json!({
            "restartCount": self.restart_count,
            "currentState": self.current.to_json(),
            "events": self.events.iter().map(Event::to_json).collect::<Vec<_>>(),
        });
        if let Some(p) = &self.previous {
            v["previousState"] = p.to_json();
        }
        v
    }

    /// Appends a log line, dropping the oldest beyond what ACI keeps of a
    /// running instance ([`RUNNING_LOG_BYTES`]).
    pub(crate) fn log(&mut self, text: String) {
        self.log_bytes += text.len() + 1;
        self.logs.push_back(LogLine { ts: now(), text });
        self.trim_logs(RUNNING_LOG_BYTES, usize::MAX);
    }

    /// Keeps only what ACI keeps of a stopped instance: the last
    /// [`STOPPED_LOG_BYTES`] or [`STOPPED_LOG_LINES`], whichever is smaller.
    pub(crate) fn stopped_logs(&mut self) {
        self.trim_logs(STOPPED_LOG_BYTES, STOPPED_LOG_LINES);
    }

    fn trim_logs(&mut self, bytes: usize, lines: usize) {
        if self.log_bytes == 0 && !self.logs.is_empty() {
            // Loaded from a state file written before sizes were kept.
            self.log_bytes = self.logs.iter().map(|l| l.text.len() + 1).sum();
        }
        while self.log_bytes > bytes || self.logs.len() > lines {
            let Some(old) = self.logs.pop_front() else {
                self.log_bytes = 0;
                break;
            };
            self.log_bytes = self.log_bytes.saturating_sub(old.text.len() + 1);
        }
    }

    /// Forgets the logs (a new instance of the container).
    pub(crate) fn clear_logs(&mut self) {
        self.logs.clear();
        self.log_bytes = 0;
    }
}

/// An ARM error body (`{"error": {...}}` inner part).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ErrorInfo {
    pub(crate) code: String,
    pub(crate) message: String,
}

/// One container group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Group {
    pub(crate) key: GroupKey,
    pub(crate) subscription: String,
    pub(crate) resource_group: String,
    pub(crate) name: String,
    pub(crate) location: String,
    /// The canonicalised resource as accepted (secrets included, read-only fields removed).
    pub(crate) resource: Value,
    pub(crate) provisioning_state: String,
    pub(crate) stopped: bool,
    pub(crate) init_failed: bool,
    pub(crate) ip: Option<String>,
    pub(crate) init: Vec<ContainerRt>,
    pub(crate) containers: Vec<ContainerRt>,
    pub(crate) events: Vec<Event>,
    pub(crate) generation: u64,
    pub(crate) error: Option<ErrorInfo>,
    pub(crate) created_seq: u64,
    pub(crate) principal_id: String,
    /// Cores counted against the quota, from the containers' CPU requests
    /// (fixed for the group's life: ACI refuses a CPU change on update).
    /// Kept beside `resource` because the quota check sums it over every
    /// group on each create; reading it from the JSON each time made the
    /// emulator's creates quadratic in the number of groups. Recomputed on
    /// load, not persisted.
    #[serde(skip)]
    pub(crate) cores: u32,
    /// Reads of the group answer 404 until then (ARM's eventual consistency
    /// right after a create; not persisted).
    #[serde(skip)]
    pub(crate) hidden_until: Option<tokio::time::Instant>,
}

impl Group {
    pub(crate) fn restart_policy(&self) -> &str {
        self.resource["properties"]["restartPolicy"]
            .as_str()
            .unwrap_or("Always")
    }

    /// Whether the group is in a transition during which changes are refused.
    pub(crate) fn transitioning(&self) -> bool {
        matches!(
            self.provisioning_state.as_str(),
            "Pending" | "Creating" | "Updating" | "Deleting" | "Repairing" | "Unhealthy"
        )
    }

    /// Whether ARM reads do not see the group yet (see `hidden_until`).
    pub(crate) fn hidden(&self) -> bool {
        self.hidden_until
            .is_some_and(|t| t > tokio::time::Instant::now())
    }

    /// `instanceView.state` derived from the container states.
    pub(crate) fn instance_state(&self) -> &'static str {
        if self.stopped {
            return "Stopped";
        }
        if self.provisioning_state == "Failed" || self.init_failed {
            return "Failed";
        }
        if !self.containers.iter().all(|c| c.started_once) {
            return "Pending";
        }
        if self.containers.iter().all(|c| c.finished) {
            if self
                .containers
                .iter()
                .all(|c| c.current.exit_code == Some(0))
            {
                return "Succeeded";
            }
            return "Failed";
        }
        "Running"
    }

    /// Total CPU requested by the containers.
    pub(crate) fn requested_cpu(&self) -> f64 {
        total_requests(&self.resource).0
    }

    /// Cores counted against quota: at least one per group, rounded up.
    pub(crate) fn quota_cores(&self) -> u32 {
        self.cores
    }

    /// Computes [`Self::cores`] from the resource (after loading it).
    pub(crate) fn count_cores(&mut self) {
        self.cores = quota_cores(self.requested_cpu());
    }
}

/// Cores accounted for a group requesting `cpu`.
pub(crate) fn quota_cores(cpu: f64) -> u32 {
    let c = cpu.max(1.0).ceil();
    if c.is_finite() && c < f64::from(u32::MAX) {
        // Truncation is exact: c is a small non-negative integer.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let v = c as u32;
        v
    } else {
        u32::MAX
    }
}

/// Sum of `(cpu, memoryInGB)` requests of the containers of a resource.
pub(crate) fn total_requests(resource: &Value) -> (f64, f64) {
    let mut cpu = 0.0;
    let mut mem = 0.0;
    if let Some(cs) = resource["properties"]["containers"].as_array() {
        for c in cs {
            let r = &c["properties"]["resources"]["requests"];
            cpu += r["cpu"].as_f64().unwrap_or(0.0);
            mem += r["memoryInGB"].as_f64().unwrap_or(0.0);
        }
    }
    (cpu, mem)
}

/// Kinds of long-running operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OpKind {
    Create,
    Update,
    Delete,
    Start,
    Restart,
}

/// A long-running operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Operation {
    pub(crate) id: String,
    pub(crate) kind: OpKind,
    pub(crate) key: GroupKey,
    pub(crate) resource_id: String,
    pub(crate) generation: u64,
    pub(crate) start: String,
    pub(crate) end: Option<String>,
    pub(crate) status: String,
    pub(crate) error: Option<ErrorInfo>,
}

/// An exec session waiting for its websocket.
#[derive(Debug, Clone)]
pub(crate) struct ExecSession {
    pub(crate) password: String,
    pub(crate) key: GroupKey,
    pub(crate) container: String,
    pub(crate) command: String,
    pub(crate) attach: bool,
    pub(crate) expires: i64,
}

/// A request body recorded for inspection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedRequest {
    /// Operation name (`create`, `update`, `exec`...).
    pub op: String,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Subscription id.
    pub subscription: String,
    /// Resource group name.
    pub resource_group: String,
    /// The body as received (JSON, or a string when it was not JSON).
    pub body: Value,
    /// When it was received (RFC 3339).
    pub at: String,
}

/// Persisted part of the state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Persisted {
    pub(crate) groups: Vec<Group>,
    pub(crate) tokens: HashMap<String, i64>,
    /// The client id each token was issued to (absent in older files).
    #[serde(default)]
    pub(crate) token_principals: HashMap<String, String>,
    pub(crate) operations: Vec<Operation>,
    pub(crate) next_ip: u32,
    pub(crate) seq: u64,
    pub(crate) quota: Option<Quota>,
    pub(crate) unpullable: Vec<String>,
}

/// The mutable state.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) groups: BTreeMap<GroupKey, Group>,
    pub(crate) operations: HashMap<String, Operation>,
    pub(crate) tokens: HashMap<String, i64>,
    /// Token → client id (the principal ARM throttles by).
    pub(crate) token_principals: HashMap<String, String>,
    /// Token → the audience it was issued for, when that is not Resource
    /// Manager (e.g. Azure Monitor's); not persisted.
    pub(crate) token_audiences: HashMap<String, String>,
    pub(crate) exec_sessions: HashMap<String, ExecSession>,
    pub(crate) faults: Vec<FaultRule>,
    pub(crate) provisioning_failures: Vec<ProvisioningFailure>,
    pub(crate) counters: BTreeMap<String, BTreeMap<u16, u64>>,
    pub(crate) requests: HashMap<String, VecDeque<RecordedRequest>>,
    pub(crate) unpullable: Vec<String>,
    /// Image patterns whose pulls fail at run time (the PUT is accepted).
    pub(crate) failing_pulls: Vec<String>,
    /// How long a created group stays invisible to reads (zero: off).
    pub(crate) not_found_after_put: std::time::Duration,
    pub(crate) quota: Quota,
    pub(crate) next_ip: u32,
    pub(crate) seq: u64,
}

impl State {
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Allocates an IP address; private ones are 10.x.y.z, public ones 20.x.y.z.
    pub(crate) fn alloc_ip(&mut self, public: bool) -> String {
        self.next_ip += 1;
        let n = self.next_ip + 3;
        let a = (n >> 16) & 0xff;
        let b = (n >> 8) & 0xff;
        let c = n & 0xff;
        if public {
            format!("20.{}.{b}.{c}", 40 + (a % 200))
        } else {
            format!("10.{a}.{b}.{c}")
        }
    }

    /// Marks every unfinished operation of `key` at `generation` as finished.
    pub(crate) fn complete_ops(
        &mut self,
        key: &GroupKey,
        generation: u64,
        kinds: &[OpKind],
        error: Option<&ErrorInfo>,
    ) {
        let ts = now();
        for op in self.operations.values_mut() {
            if &op.key == key
                && op.generation == generation
                && op.end.is_none()
                && kinds.contains(&op.kind)
            {
                op.end = Some(ts.clone());
                match error {
                    Some(e) => {
                        op.status = "Failed".to_owned();
                        op.error = Some(e.clone());
                    }
                    None => op.status = "Succeeded".to_owned(),
                }
            }
        }
    }

    /// Cancels unfinished non-delete operations of `key` older than `generation`.
    pub(crate) fn cancel_stale_ops(&mut self, key: &GroupKey, generation: u64) {
        let ts = now();
        for op in self.operations.values_mut() {
            if &op.key == key && op.generation < generation && op.end.is_none() {
                op.end = Some(ts.clone());
                op.status = "Canceled".to_owned();
                op.error = Some(ErrorInfo {
                    code: "OperationCanceled".to_owned(),
                    message:
                        "The operation was canceled by a later operation on the container group."
                            .to_owned(),
                });
            }
        }
    }

    /// Usage of (groups, cores) in a subscription and region.
    pub(crate) fn usage(&self, sub: &str, location: &str) -> (u32, u32) {
        let sub = sub.to_ascii_lowercase();
        let mut groups = 0u32;
        let mut cores = 0u32;
        for g in self.groups.values() {
            if g.key.sub == sub && g.location == location {
                groups += 1;
                if !g.stopped {
                    cores = cores.saturating_add(g.quota_cores());
                }
            }
        }
        (groups, cores)
    }

    /// Increments a counter.
    pub(crate) fn count(&mut self, op: &str, status: u16) {
        *self
            .counters
            .entry(op.to_owned())
            .or_default()
            .entry(status)
            .or_default() += 1;
    }

    /// Records a request body for `group`.
    pub(crate) fn record(&mut self, group: &str, rec: RecordedRequest, keep: usize) {
        if keep == 0 {
            return;
        }
        let q = self.requests.entry(group.to_ascii_lowercase()).or_default();
        q.push_back(rec);
        while q.len() > keep {
            q.pop_front();
        }
    }

    pub(crate) fn image_unpullable(&self, image: &str) -> bool {
        matches_any(&self.unpullable, image)
    }

    /// Whether a pull of `image` fails now: it is unpullable or its pulls
    /// fail at run time.
    pub(crate) fn pull_fails(&self, image: &str) -> bool {
        self.image_unpullable(image) || matches_any(&self.failing_pulls, image)
    }

    pub(crate) fn to_persisted(&self) -> Persisted {
        Persisted {
            groups: self.groups.values().cloned().collect(),
            tokens: self.tokens.clone(),
            token_principals: self
                .token_principals
                .iter()
                .filter(|(t, _)| self.tokens.contains_key(*t))
                .map(|(t, p)| (t.clone(), p.clone()))
                .collect(),
            operations: self.operations.values().cloned().collect(),
            next_ip: self.next_ip,
            seq: self.seq,
            quota: Some(self.quota),
            unpullable: self.unpullable.clone(),
        }
    }
}

fn matches_any(patterns: &[String], image: &str) -> bool {
    patterns
        .iter()
        .any(|p| !p.is_empty() && image.contains(p.as_str()))
}

/// Normalises a location: lower case without spaces (`"West US"` → `"westus"`).
pub(crate) fn normalize_location(loc: &str) -> String {
    loc.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_keep_what_aci_keeps() {
        let mut c = ContainerRt::new("c".into(), "busybox".into(), Vec::new());
        let line = "y".repeat(1023); // 1 KiB with its newline
        for _ in 0..(5 * 1024) {
            c.log(line.clone());
        }
        assert_eq!(c.logs.len(), 4 * 1024, "a running instance keeps 4 MB");
        assert_eq!(c.log_bytes, RUNNING_LOG_BYTES);
        c.stopped_logs();
        assert_eq!(c.logs.len(), 16, "a stopped instance keeps 16 KB");
        for i in 0..2000 {
            c.log(format!("{i}"));
        }
        c.stopped_logs();
        assert_eq!(c.logs.len(), STOPPED_LOG_LINES, "or 1,000 lines");
        assert_eq!(c.logs.back().map(|l| l.text.as_str()), Some("1999"));
    }
}
