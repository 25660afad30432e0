//! Container usage from Azure Monitor: a [`UsageSampler`] reads the
//! `CpuUsage` and `MemoryUsage` of every running pod's container group in
//! `metrics:getBatch` calls of up to 50 groups, once per
//! [`UsageConfig::interval`], into a [`UsageCache`] the kubelet API's stats
//! are served from.
//!
//! Cost: `ceil(running pods / 50)` calls per interval on the metrics data
//! plane (not ARM's read budget), whatever the number of scrapes. Freshness:
//! Azure Monitor's own delay (its one-minute points appear minutes later) plus
//! at most one interval. Windows groups have no Azure Monitor metrics: their
//! pods are listed without usage, like pods a kubelet has not sampled yet.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Pod;
use vk_aci::monitor::{CPU_USAGE, MAX_BATCH, MEMORY_USAGE, MetricsQuery, ResourceMetrics};
use vk_aci::{ContainerInstances, UsageConfig};

use crate::Error;
use crate::backend::{GroupNamer, PodSource};

/// The usage of one container, as last sampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContainerUsage {
    /// End of the newest one-minute point (the time the figures stand for).
    pub time: Timestamp,
    /// Average CPU over that minute, in nanocores.
    pub nano_cores: u64,
    /// CPU time since sampling began, in core-nanoseconds (a counter).
    pub core_nano_seconds: u64,
    /// Memory in use, in bytes.
    pub working_set_bytes: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Counter {
    /// CPU time of the complete minutes integrated so far.
    committed: u64,
    /// Start of the first minute not committed yet.
    next: Option<Timestamp>,
}

/// Per group: per container, the figures served and the CPU counter behind them.
type Groups = HashMap<String, HashMap<String, (ContainerUsage, Counter)>>;

/// The usage of the sampled containers, by group and container name.
#[derive(Debug, Default)]
pub struct UsageCache {
    groups: Mutex<Groups>,
}

impl UsageCache {
    /// The usage of `container` in group `group`, if sampled.
    pub fn get(&self, group: &str, container: &str) -> Option<ContainerUsage> {
        self.lock().get(group)?.get(container).map(|(u, _)| *u)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Groups> {
        self.groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Folds one group's answer in; `now` bounds the newest point's window.
    fn update(
        &self,
        group: &str,
        metrics: &ResourceMetrics,
        grain: SignedDuration,
        now: Timestamp,
    ) {
        let series = |name: &str| {
            metrics
                .metrics
                .iter()
                .find(|m| m.name.value.eq_ignore_ascii_case(name))
                .map(|m| m.timeseries.as_slice())
                .unwrap_or_default()
        };
        let mut all = self.lock();
        let entry = all.entry(group.to_owned()).or_default();
        let mut seen = Vec::new();
        for cpu in series(CPU_USAGE) {
            let Some(container) = cpu.dimension("containerName") else {
                continue;
            };
            let points: Vec<(Timestamp, f64)> = cpu
                .data
                .iter()
                .filter_map(|d| Some((d.time_stamp, d.average?)))
                .collect();
            let Some(&(latest_at, latest_mc)) = points.last() else {
                continue;
            };
            let memory = series(MEMORY_USAGE)
                .iter()
                .find(|s| s.dimension("containerName") == Some(container))
                .and_then(|s| s.latest())
                .and_then(|d| d.average)
                .unwrap_or(0.0);
            let (_, mut counter) = entry.get(container).copied().unwrap_or((
                ContainerUsage {
                    time: latest_at,
                    nano_cores: 0,
                    core_nano_seconds: 0,
                    working_set_bytes: 0,
                },
                Counter::default(),
            ));
            // Complete minutes (all but the newest) are added once each.
            for &(at, mc) in &points[..points.len() - 1] {
                if counter.next.is_none_or(|n| at >= n) {
                    counter.committed = counter.committed.saturating_add(core_ns(mc, grain));
                    counter.next = Some(at + grain);
                }
            }
            // The newest counts for the part of its minute that has passed.
            let end = (latest_at + grain).min(now.max(latest_at));
            let partial = if counter.next.is_none_or(|n| latest_at >= n) {
                core_ns(mc_clamp(latest_mc), end.duration_since(latest_at))
            } else {
                0
            };
            let usage = ContainerUsage {
                time: end,
                nano_cores: (mc_clamp(latest_mc) * 1e6) as u64,
                core_nano_seconds: counter.committed.saturating_add(partial),
                working_set_bytes: memory.max(0.0) as u64,
            };
            entry.insert(container.to_owned(), (usage, counter));
            seen.push(container.to_owned());
        }
        entry.retain(|name, _| seen.iter().any(|s| s == name));
    }

    fn retain_groups(&self, live: &[String]) {
        self.lock().retain(|g, _| live.iter().any(|l| l == g));
    }
}

fn mc_clamp(mc: f64) -> f64 {
    if mc.is_finite() { mc.max(0.0) } else { 0.0 }
}

/// CPU time of `millicores` for `span`, in core-nanoseconds.
fn core_ns(millicores: f64, span: SignedDuration) -> u64 {
    let secs = span.as_secs_f64().max(0.0);
    (mc_clamp(millicores) * 1e6 * secs) as u64
}

/// Samples the usage of the running pods' groups (see the module docs).
pub struct UsageSampler {
    metrics: ContainerInstances,
    pods: PodSource,
    group_of: GroupNamer,
    cache: Arc<UsageCache>,
    config: UsageConfig,
}

impl std::fmt::Debug for UsageSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageSampler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        && pod.metadata.deletion_timestamp.is_none()
}

impl UsageSampler {
    /// The sampler `config` asks for in `region`: `None` when usage is off;
    /// otherwise one reading Azure Monitor's metrics plane
    /// ([`UsageConfig::endpoint_for`]) with `aci`'s credential, for the pods of
    /// `pods`, whose groups `group_of` names.
    ///
    /// ```
    /// # fn demo(aci: vk_aci::ContainerInstances) -> Result<(), vk_kubelet_aci::Error> {
    /// use vk_kubelet_aci::{UsageConfig, UsageSampler};
    ///
    /// let sampler = UsageSampler::for_region(&aci, "westeurope", Vec::new, |_| String::new(), UsageConfig::default())?;
    /// # Ok(()) }
    /// ```
    pub fn for_region(
        aci: &ContainerInstances,
        region: &str,
        pods: impl Fn() -> Vec<Arc<Pod>> + Send + Sync + 'static,
        group_of: impl Fn(&Pod) -> String + Send + Sync + 'static,
        config: UsageConfig,
    ) -> Result<Option<Self>, Error> {
        if !config.enabled {
            return Ok(None);
        }
        let metrics = aci
            .metrics_client(&config.endpoint_for(region))
            .map_err(|source| Error::Aci {
                what: "building the Azure Monitor metrics client (aci.usage.endpoint)".into(),
                source,
            })?;
        Ok(Some(Self::new(metrics, pods, group_of, config)))
    }

    /// A sampler calling `metrics` (a client of the metrics plane, see
    /// [`ContainerInstances::metrics_client`]) for the pods of `pods`, whose
    /// groups `group_of` names.
    pub fn new(
        metrics: ContainerInstances,
        pods: impl Fn() -> Vec<Arc<Pod>> + Send + Sync + 'static,
        group_of: impl Fn(&Pod) -> String + Send + Sync + 'static,
        config: UsageConfig,
    ) -> Self {
        Self {
            metrics,
            pods: Arc::new(pods),
            group_of: Arc::new(group_of),
            cache: Arc::default(),
            config,
        }
    }

    /// The cache this sampler fills (give it to
    /// [`AciBackend::with_usage`](crate::AciBackend::with_usage)).
    pub fn cache(&self) -> Arc<UsageCache> {
        Arc::clone(&self.cache)
    }

    /// One round: every running pod's group, [`MAX_BATCH`] per call. Returns
    /// how many groups answered; a failed call is logged and its groups keep
    /// their last figures.
    pub async fn sample_once(&self) -> usize {
        let groups: Vec<String> = (self.pods)()
            .iter()
            .filter(|p| running(p))
            .map(|p| (self.group_of)(p))
            .collect();
        self.cache.retain_groups(&groups);
        let now = Timestamp::now();
        let window =
            SignedDuration::try_from(self.config.window()).unwrap_or(SignedDuration::from_mins(10));
        let query = MetricsQuery::usage(now - window, now);
        let grain = SignedDuration::from_mins(1);
        let mut answered = 0;
        for chunk in groups.chunks(MAX_BATCH) {
            let ids: Vec<String> = chunk.iter().map(|g| self.metrics.group_id(g)).collect();
            match self.metrics.metrics_batch(&ids, &query).await {
                Ok(resources) => {
                    for r in &resources {
                        let Some(group) = chunk.iter().zip(&ids).find_map(|(g, id)| {
                            id.eq_ignore_ascii_case(&r.resource_id).then_some(g)
                        }) else {
                            continue;
                        };
                        self.cache.update(group, r, grain, now);
                        answered += 1;
                    }
                }
                Err(e) => {
                    tracing::warn!(groups = chunk.len(), error = %e, "usage metrics not read; pods keep their last figures")
                }
            }
        }
        tracing::debug!(groups = groups.len(), answered, "usage sampled");
        answered
    }

    /// Samples every [`UsageConfig::interval`] until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(self.config.interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = tick.tick() => {
                    self.sample_once().await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vk_aci::monitor::ResourceMetrics;

    fn answer(points: &[(&str, Option<f64>)], memory: f64) -> ResourceMetrics {
        let data: Vec<serde_json::Value> = points
            .iter()
            .map(|(t, v)| match v {
                Some(v) => serde_json::json!({"timeStamp": t, "average": v}),
                None => serde_json::json!({"timeStamp": t}),
            })
            .collect();
        let dim = serde_json::json!([{"name": {"value": "containername"}, "value": "web"}]);
        serde_json::from_value(serde_json::json!({
            "resourceid": "g",
            "value": [
                {"name": {"value": "CpuUsage"}, "timeseries": [{"metadatavalues": dim, "data": data}]},
                {"name": {"value": "MemoryUsage"}, "timeseries": [{"metadatavalues": dim,
                    "data": [{"timeStamp": "2026-01-01T00:00:00Z", "average": memory}]}]}
            ]
        }))
        .unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn cpu_time_counts_each_minute_once_and_the_newest_as_far_as_it_went() {
        let cache = UsageCache::default();
        let grain = SignedDuration::from_mins(1);
        // 250 m for two complete minutes, 500 m in the third (30 s in).
        cache.update(
            "g",
            &answer(
                &[
                    ("2026-01-01T00:00:00Z", Some(250.0)),
                    ("2026-01-01T00:01:00Z", Some(250.0)),
                    ("2026-01-01T00:02:00Z", Some(500.0)),
                    ("2026-01-01T00:03:00Z", None),
                ],
                1e8,
            ),
            grain,
            at("2026-01-01T00:02:30Z"),
        );
        let u = cache.get("g", "web").unwrap();
        assert_eq!(u.nano_cores, 500_000_000);
        assert_eq!(u.working_set_bytes, 100_000_000);
        // 2 × 0.25 core × 60 s + 0.5 core × 30 s = 45 core-seconds.
        assert_eq!(u.core_nano_seconds, 45_000_000_000);
        assert_eq!(u.time, at("2026-01-01T00:02:30Z"));
        // A minute later the third minute is complete and the fourth began.
        cache.update(
            "g",
            &answer(
                &[
                    ("2026-01-01T00:01:00Z", Some(250.0)),
                    ("2026-01-01T00:02:00Z", Some(500.0)),
                    ("2026-01-01T00:03:00Z", Some(1000.0)),
                ],
                1e8,
            ),
            grain,
            at("2026-01-01T00:03:15Z"),
        );
        let u = cache.get("g", "web").unwrap();
        // 30 + 30 (the third minute) + 1 core × 15 s = 75 core-seconds: never counted twice.
        assert_eq!(u.core_nano_seconds, 75_000_000_000);
        assert_eq!(u.nano_cores, 1_000_000_000);
        // A container gone from the answer is dropped.
        cache.update(
            "g",
            &serde_json::from_value(serde_json::json!({"resourceid": "g", "value": []})).unwrap(),
            grain,
            at("2026-01-01T00:04:00Z"),
        );
        assert!(cache.get("g", "web").is_none());
    }
}
