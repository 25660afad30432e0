//! `cargo xtask bench --backend realistic`: the emulator at ACI's real limits
//! and timings (ARM token buckets, the create/delete rate quotas, provisioning,
//! pull, start and delete delays), optionally faster by a time scale, with a
//! raised create/delete quota ("a quota increase") that vk is configured with
//! too; vk's own ARM client limits stay at their defaults.
//!
//! The figures are measured against an **ideal**: the earliest time any client
//! could have every pod Running under the emulator's configured limits and
//! delays — the N creates spent as fast as ARM's write bucket and ACI's quota
//! windows allow, plus one group's provisioning, pull and start time.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

use super::probe;

/// The emulator's realistic defaults (docs/aci-emulator.md, "Rates, quotas
/// and timings"). The harness passes each of them to the emulator as a flag,
/// so what it computes the ideal from is what the emulator runs.
pub(crate) mod aci {
    /// New deployment `Pending` before it gets a host (ms).
    pub(crate) const PROVISIONING_MS: u64 = 30_000;
    /// Pull time range of a Linux image outside the cached-images list (ms).
    pub(crate) const PULL_LINUX_MS: (u64, u64) = (15_000, 30_000);
    /// `Created` → `Started` of a Linux container (ms).
    pub(crate) const START_LINUX_MS: u64 = 1_000;
    /// A deleted group stays `Deleting` this long (ms).
    pub(crate) const DELETE_MS: u64 = 10_000;
    /// ARM buckets per subscription and principal: (capacity, refill per second).
    pub(crate) const ARM_READS: (u32, u32) = (250, 25);
    pub(crate) const ARM_WRITES: (u32, u32) = (200, 10);
    pub(crate) const ARM_DELETES: (u32, u32) = (200, 10);
    /// ACI's default create (and delete) quota: per 5 minutes, per hour.
    pub(crate) const QUOTA: (u32, u32) = (100, 300);
}

/// The benchmark's image (busybox, not in the emulator's cached-images list)
/// as the emulator names it for its per-image pull time.
pub(crate) const IMAGE_CANONICAL: &str = "busybox:latest";

/// The emulator's pull time for `image` in `min..=max` ms: a stable point of
/// the range per image name (FNV-1a of the canonical name), exactly as
/// `vk_aci_emulator::DelayRange::pick` (a test checks both agree).
pub(crate) fn pull_pick_ms(image: &str, (min, max): (u64, u64)) -> u64 {
    let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
    if hi == lo {
        return lo;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in image.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    lo + h % (hi - lo).saturating_add(1)
}

/// One token bucket: `capacity` tokens, `refill` back every `period` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Bucket {
    pub(crate) capacity: u32,
    pub(crate) refill: u32,
    pub(crate) period_secs: f64,
}

/// A sliding window: at most `limit` operations in any `secs`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Window {
    pub(crate) limit: u32,
    pub(crate) secs: f64,
}

/// The earliest time (seconds from the first operation) of each of `n`
/// operations under `bucket` (full at 0; the emulator refills per whole
/// period) and every window. A client that never waits more than it must
/// achieves exactly these times.
pub(crate) fn earliest_times(n: usize, bucket: Bucket, windows: &[Window]) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::with_capacity(n);
    let mut tokens = u64::from(bucket.capacity);
    // Start of the current refill period (periods count from 0).
    let mut period_index: u64 = 0;
    let mut t = 0.0_f64;
    for k in 0..n {
        // Windows: the k-th op waits until the (k - limit)-th left each window.
        for w in windows.iter().filter(|w| w.limit > 0) {
            let limit = w.limit as usize;
            if k >= limit {
                t = t.max(out[k - limit] + w.secs);
            }
        }
        // The bucket: refill up to `t`, then wait for the next period if empty.
        loop {
            let now_index = (t / bucket.period_secs).floor() as u64;
            if now_index > period_index {
                let added = (now_index - period_index).saturating_mul(u64::from(bucket.refill));
                tokens = (tokens + added).min(u64::from(bucket.capacity));
                period_index = now_index;
            }
            if tokens > 0 {
                tokens -= 1;
                break;
            }
            if bucket.refill == 0 {
                return out;
            }
            t = (period_index + 1) as f64 * bucket.period_secs;
        }
        out.push(t);
    }
    out
}

/// What the realistic backend runs, from the command line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Setting {
    pub(crate) time_scale: f64,
    /// Creates (and deletes) per 5 minutes, for the emulator and vk alike.
    pub(crate) quota_per_5_minutes: u32,
    /// Creates (and deletes) per hour.
    pub(crate) quota_per_hour: u32,
}

impl Setting {
    /// The quota raised to `pods` per 5 minutes (and 3× per hour, ACI's
    /// ratio) unless given; never below ACI's default.
    pub(crate) fn new(
        pods: usize,
        time_scale: f64,
        per_5: Option<u32>,
        per_hour: Option<u32>,
    ) -> Self {
        let pods = u32::try_from(pods).unwrap_or(u32::MAX);
        let per_5 = per_5.unwrap_or_else(|| pods.max(aci::QUOTA.0));
        let per_hour = per_hour.unwrap_or_else(|| per_5.saturating_mul(3).max(aci::QUOTA.1));
        Self {
            time_scale,
            quota_per_5_minutes: per_5,
            quota_per_hour: per_hour,
        }
    }

    fn ms(&self, ms: u64) -> f64 {
        ms as f64 / 1000.0 / self.time_scale
    }

    fn bucket(&self, (capacity, refill): (u32, u32)) -> Bucket {
        Bucket {
            capacity,
            refill,
            period_secs: 1.0 / self.time_scale,
        }
    }

    fn windows(&self) -> Vec<Window> {
        vec![
            Window {
                limit: self.quota_per_5_minutes,
                secs: 300.0 / self.time_scale,
            },
            Window {
                limit: self.quota_per_hour,
                secs: 3600.0 / self.time_scale,
            },
        ]
    }

    /// The emulator's flags: every limit and delay the ideal is computed from.
    pub(crate) fn emulator_flags(&self) -> Vec<String> {
        let (r, w, d) = (aci::ARM_READS, aci::ARM_WRITES, aci::ARM_DELETES);
        vec![
            format!("--time-scale={}", self.time_scale),
            format!("--provisioning-delay-ms={}", aci::PROVISIONING_MS),
            format!(
                "--pull-linux-ms={}-{}",
                aci::PULL_LINUX_MS.0,
                aci::PULL_LINUX_MS.1
            ),
            format!("--start-linux-ms={}", aci::START_LINUX_MS),
            format!("--delete-delay-ms={}", aci::DELETE_MS),
            format!("--arm-read-bucket={}", r.0),
            format!("--arm-read-refill={}", r.1),
            format!("--arm-write-bucket={}", w.0),
            format!("--arm-write-refill={}", w.1),
            format!("--arm-delete-bucket={}", d.0),
            format!("--arm-delete-refill={}", d.1),
            format!("--creates-per-5-minutes={}", self.quota_per_5_minutes),
            format!("--creates-per-hour={}", self.quota_per_hour),
            format!("--deletes-per-5-minutes={}", self.quota_per_5_minutes),
            format!("--deletes-per-hour={}", self.quota_per_hour),
        ]
    }

    /// vk's `[aci.quotas]`: the same raised quota (vk's ARM client limits
    /// stay at their defaults).
    pub(crate) fn vk_quotas(&self) -> String {
        format!(
            "# The raised ACI quota, as the emulator's.\n\
             [aci.quotas]\n\
             creates_per_5_minutes = {q5}\n\
             creates_per_hour = {qh}\n\
             deletes_per_5_minutes = {q5}\n\
             deletes_per_hour = {qh}\n",
            q5 = self.quota_per_5_minutes,
            qh = self.quota_per_hour
        )
    }

    /// The ideal for `n` pods of the benchmark's image.
    pub(crate) fn ideal(&self, n: usize) -> Ideal {
        let windows = self.windows();
        let creates = earliest_times(n, self.bucket(aci::ARM_WRITES), &windows);
        let deletes = earliest_times(n, self.bucket(aci::ARM_DELETES), &windows);
        let pull_ms = pull_pick_ms(IMAGE_CANONICAL, aci::PULL_LINUX_MS);
        let group_secs =
            self.ms(aci::PROVISIONING_MS) + self.ms(pull_ms) + self.ms(aci::START_LINUX_MS);
        let create_spend_secs = creates.last().copied().unwrap_or(0.0);
        let delete_spend_secs = deletes.last().copied().unwrap_or(0.0);
        Ideal {
            create_spend_secs,
            group_secs,
            pull_secs: self.ms(pull_ms),
            running_secs: create_spend_secs + group_secs,
            delete_spend_secs,
            delete_delay_secs: self.ms(aci::DELETE_MS),
            read_budget_per_min: f64::from(aci::ARM_READS.1) * 60.0 * self.time_scale,
        }
    }
}

/// The ideal of one run (seconds, at the time scale).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Ideal {
    /// Time of the N-th create under ARM's write bucket and the quota windows.
    pub(crate) create_spend_secs: f64,
    /// Provisioning + pull + start of one group.
    pub(crate) group_secs: f64,
    pub(crate) pull_secs: f64,
    /// `create_spend_secs + group_secs`.
    pub(crate) running_secs: f64,
    /// Time of the N-th delete under ARM's delete bucket and the quota windows.
    pub(crate) delete_spend_secs: f64,
    /// How long a deleted group stays `Deleting` (not waited for: a pod is
    /// gone once ACI accepted its group's DELETE).
    pub(crate) delete_delay_secs: f64,
    /// ARM's read refill per minute (the steady read budget).
    pub(crate) read_budget_per_min: f64,
}

/// The realistic figures of one mode.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct RealisticReport {
    pub(crate) ideal: Ideal,
    /// vk's time to all Running+Ready over the ideal.
    pub(crate) running_ratio_to_ideal: Option<f64>,
    /// Seconds until the emulator had answered N creates (201), from the
    /// first pod create request (sampled every 250 ms).
    pub(crate) create_spend_secs: Option<f64>,
    /// Achieved create rate over the allowed one (ideal spend / vk's spend);
    /// `None` when the ideal spend is under one refill period (no rate binds).
    pub(crate) create_rate_ratio: Option<f64>,
    /// Pod Running+Ready seen by the watch minus the container's `startTime`
    /// in ACI (the emulator's), seconds.
    pub(crate) added_latency: super::report::Latency,
    pub(crate) delete_spend_secs: Option<f64>,
    pub(crate) delete_rate_ratio: Option<f64>,
    pub(crate) delete_ratio_to_ideal: Option<f64>,
    /// 429s the emulator answered vk, by cause, creation and deletion phases.
    pub(crate) throttled_create: BTreeMap<String, f64>,
    pub(crate) throttled_delete: BTreeMap<String, f64>,
    /// ARM reads per minute with every pod idle, and their share of the budget.
    pub(crate) steady_reads_per_min: f64,
    pub(crate) steady_reads_share: f64,
    /// Pods ever seen with phase Failed.
    pub(crate) failed_pods: usize,
}

/// Emulator operations that are ARM reads (GET).
pub(crate) const READ_OPS: &[&str] = &[
    "get",
    "list",
    "usages",
    "capabilities",
    "cached_images",
    "operations",
    "operation_status",
    "logs",
    "outbound_dependencies",
];

/// ARM reads in a by-operation diff.
pub(crate) fn reads(by_op: &BTreeMap<String, f64>) -> f64 {
    by_op
        .iter()
        .filter(|(op, _)| READ_OPS.contains(&op.as_str()))
        .map(|(_, n)| n)
        .sum()
}

/// The emulator's 429 counts (`GET /_emulator/throttle`, `throttled`).
pub(crate) fn throttled(emulator: SocketAddr) -> anyhow::Result<BTreeMap<String, f64>> {
    let body = probe::http_get(emulator, "/_emulator/throttle").context("emulator throttle")?;
    let v: serde_json::Value = serde_json::from_str(&body).context("throttle JSON")?;
    Ok(parse_throttled(&v))
}

pub(crate) fn parse_throttled(v: &serde_json::Value) -> BTreeMap<String, f64> {
    v["throttled"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, n)| (k.clone(), n.as_f64().unwrap_or(0.0)))
                .collect()
        })
        .unwrap_or_default()
}

/// How many `op` calls the emulator answered with `status` so far.
pub(crate) fn count(c: &probe::Counters, op: &str, status: &str) -> f64 {
    c.get(op)
        .and_then(|s| s.get(status))
        .copied()
        .unwrap_or(0.0)
}

/// `ideal / actual` when the ideal is long enough for a rate to bind.
pub(crate) fn rate_ratio(ideal: f64, actual: Option<f64>, period: f64) -> Option<f64> {
    let actual = actual?;
    (ideal >= period && actual > 0.0).then(|| ideal / actual)
}

/// Container start times in ACI of every group of `resource_group`, by pod
/// name (tags `vk-namespace`/`vk-pod`), read through ARM with an admin token
/// (principal `emulator-admin`: its own read bucket, not vk's), keeping to
/// that bucket so the reads are never throttled.
pub(crate) fn container_starts(
    emulator: SocketAddr,
    subscription: &str,
    resource_group: &str,
    namespace: &str,
) -> anyhow::Result<BTreeMap<String, k8s_openapi::jiff::Timestamp>> {
    let token: serde_json::Value =
        serde_json::from_str(&probe::http_call(emulator, "POST", "/_emulator/token", &[])?.body)?;
    let token = token["access_token"]
        .as_str()
        .context("no access_token")?
        .to_owned();
    let groups: serde_json::Value =
        serde_json::from_str(&probe::http_get(emulator, "/_emulator/groups")?)?;
    let mut out = BTreeMap::new();
    let auth = format!("Bearer {token}");
    for g in groups.as_array().into_iter().flatten() {
        if g["resource_group"].as_str() != Some(resource_group) {
            continue;
        }
        let Some(name) = g["name"].as_str() else {
            continue;
        };
        let path = format!(
            "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/\
             Microsoft.ContainerInstance/containerGroups/{name}?api-version=2023-05-01"
        );
        let answer = loop {
            let a = probe::http_call(emulator, "GET", &path, &[("Authorization", &auth)])?;
            if a.status == 429 {
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
            break a;
        };
        // Keep a margin in the bucket: wait for refills instead of a 429.
        if answer
            .header("x-ms-ratelimit-remaining-subscription-reads")
            .and_then(|v| v.parse::<u32>().ok())
            .is_some_and(|left| left < 5)
        {
            std::thread::sleep(Duration::from_millis(1000));
        }
        if answer.status != 200 {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&answer.body).unwrap_or_default();
        if let Some((pod, start)) = pod_start(&v, namespace) {
            out.insert(pod, start);
        }
    }
    Ok(out)
}

/// (pod name, latest container start) of a group of `namespace`'s pod.
pub(crate) fn pod_start(
    group: &serde_json::Value,
    namespace: &str,
) -> Option<(String, k8s_openapi::jiff::Timestamp)> {
    if group["tags"]["vk-namespace"].as_str() != Some(namespace) {
        return None;
    }
    let pod = group["tags"]["vk-pod"].as_str()?.to_owned();
    let start = group["properties"]["containers"]
        .as_array()?
        .iter()
        .filter_map(|c| {
            c["properties"]["instanceView"]["currentState"]["startTime"]
                .as_str()?
                .parse::<k8s_openapi::jiff::Timestamp>()
                .ok()
        })
        .max()?;
    Some((pod, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(capacity: u32, refill: u32) -> Bucket {
        Bucket {
            capacity,
            refill,
            period_secs: 1.0,
        }
    }

    #[test]
    fn the_bucket_allows_its_capacity_at_once_then_the_refill_per_period() {
        let t = earliest_times(1000, bucket(200, 10), &[]);
        assert_eq!(t.len(), 1000);
        assert_eq!(t[199], 0.0);
        assert_eq!(t[200], 1.0);
        assert_eq!(t[209], 1.0);
        assert_eq!(t[210], 2.0);
        assert_eq!(t[999], 80.0);
    }

    #[test]
    fn windows_hold_the_next_operations_until_the_oldest_leave() {
        // ACI's default quota: 100 per 5 minutes, 300 per hour.
        let w = [
            Window {
                limit: 100,
                secs: 300.0,
            },
            Window {
                limit: 300,
                secs: 3600.0,
            },
        ];
        let t = earliest_times(400, bucket(200, 10), &w);
        assert_eq!(t[99], 0.0);
        assert_eq!(t[100], 300.0);
        assert_eq!(t[199], 300.0);
        assert_eq!(t[200], 600.0);
        assert_eq!(t[300], 3600.0);
        // At a time scale of 10 everything is ten times shorter.
        let s = Setting::new(400, 10.0, Some(100), Some(300));
        let scaled = earliest_times(400, s.bucket(aci::ARM_WRITES), &s.windows());
        assert!((scaled[300] - 360.0).abs() < 1e-9, "{}", scaled[300]);
    }

    #[test]
    fn a_quota_matching_the_pods_leaves_arm_as_the_limit() {
        let s = Setting::new(1000, 1.0, None, None);
        assert_eq!((s.quota_per_5_minutes, s.quota_per_hour), (1000, 3000));
        let i = s.ideal(1000);
        assert_eq!(i.create_spend_secs, 80.0);
        assert!(i.group_secs > 46.0 && i.group_secs <= 61.0, "{i:?}");
        assert_eq!(i.read_budget_per_min, 1500.0);
        // Never below ACI's default.
        let small = Setting::new(10, 2.0, None, None);
        assert_eq!(
            (small.quota_per_5_minutes, small.quota_per_hour),
            (100, 300)
        );
        assert!((small.ideal(10).delete_delay_secs - 5.0).abs() < 1e-9);
        assert!(
            s.emulator_flags()
                .contains(&"--creates-per-5-minutes=1000".to_owned())
        );
        assert!(s.vk_quotas().contains("creates_per_hour = 3000"));
    }

    #[test]
    fn the_pull_time_is_the_emulators() {
        let range = vk_aci_emulator::DelayRange::new(
            Duration::from_millis(aci::PULL_LINUX_MS.0),
            Duration::from_millis(aci::PULL_LINUX_MS.1),
        );
        for image in [IMAGE_CANONICAL, "nginx:latest", "x"] {
            assert_eq!(
                Duration::from_millis(pull_pick_ms(image, aci::PULL_LINUX_MS)),
                range.pick(image),
                "{image}"
            );
        }
        let defaults = vk_aci_emulator::Timings::default();
        assert_eq!(
            defaults.provisioning,
            Duration::from_millis(aci::PROVISIONING_MS)
        );
        assert_eq!(defaults.pull_linux, range);
        assert_eq!(
            defaults.start_linux,
            Duration::from_millis(aci::START_LINUX_MS)
        );
        assert_eq!(defaults.delete, Duration::from_millis(aci::DELETE_MS));
    }

    #[test]
    fn reads_and_rates() {
        let m: BTreeMap<String, f64> = [("get", 20.0), ("list", 10.0), ("create", 3.0)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(reads(&m), 30.0);
        assert_eq!(rate_ratio(80.0, Some(160.0), 1.0), Some(0.5));
        assert_eq!(rate_ratio(0.0, Some(3.0), 1.0), None);
        assert_eq!(rate_ratio(80.0, None, 1.0), None);
        let v = serde_json::json!({"throttled": {"arm_reads": 0, "aci_creates": 2}});
        assert_eq!(parse_throttled(&v)["aci_creates"], 2.0);
    }

    #[test]
    fn a_groups_pod_and_start_come_from_its_tags_and_instance_view() {
        let g = serde_json::json!({
            "tags": {"vk-namespace": "ns", "vk-pod": "bench-00001"},
            "properties": {"containers": [{"properties": {"instanceView": {
                "currentState": {"state": "Running", "startTime": "2026-12-02T15:00:01.25Z"}
            }}}]}
        });
        let (pod, at) = pod_start(&g, "ns").expect("a start");
        assert_eq!(pod, "bench-00001");
        assert_eq!(at.to_string(), "2026-12-02T15:00:01.25Z");
        assert!(pod_start(&g, "other").is_none());
    }
}
