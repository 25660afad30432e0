//! `/stats/summary` (the kubelet's `stats/v1alpha1` Summary) and `/metrics/resource`
//! (Prometheus text, as metrics-server reads it), built from what the backend reports.

use std::fmt::Write as _;

use jiff::Timestamp;
use serde::Serialize;

/// Resource usage of a pod, as a backend reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodStats {
    /// When the pod started.
    pub start_time: Option<Timestamp>,
    /// Per container.
    pub containers: Vec<ContainerStats>,
}

/// Resource usage of one container.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerStats {
    /// Container name.
    pub name: String,
    /// When the container started.
    pub start_time: Option<Timestamp>,
    /// When the sample was taken.
    pub time: Option<Timestamp>,
    /// Average CPU usage over the sample interval, in nanocores.
    pub usage_nano_cores: Option<u64>,
    /// Cumulative CPU time, in core-nanoseconds.
    pub usage_core_nano_seconds: Option<u64>,
    /// Memory working set, in bytes.
    pub working_set_bytes: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Summary {
    node: NodeSummary,
    pods: Vec<PodSummary>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeSummary {
    node_name: String,
    start_time: String,
    cpu: Cpu,
    memory: Memory,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSummary {
    pod_ref: PodRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<String>,
    containers: Vec<ContainerSummary>,
    cpu: Cpu,
    memory: Memory,
}

#[derive(Serialize)]
struct PodRef {
    name: String,
    namespace: String,
    uid: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerSummary {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<String>,
    cpu: Cpu,
    memory: Memory,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Cpu {
    time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_nano_cores: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_core_nano_seconds: Option<u64>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Memory {
    time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    working_set_bytes: Option<u64>,
}

/// A pod's containers with no usage (nothing sampled).
pub(crate) fn without_usage(pod: &k8s_openapi::api::core::v1::Pod) -> PodStats {
    PodStats {
        start_time: pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.0),
        containers: pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .map(|c| ContainerStats {
                name: c.name.clone(),
                ..ContainerStats::default()
            })
            .collect(),
    }
}

/// One pod and its stats, as collected.
#[derive(Clone, Debug)]
pub(crate) struct PodSample {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) uid: String,
    pub(crate) stats: PodStats,
}

fn sum(values: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    let mut total = None;
    for v in values.flatten() {
        total = Some(total.unwrap_or(0u64).saturating_add(v));
    }
    total
}

fn cpu_of(time: &str, containers: &[ContainerStats]) -> Cpu {
    Cpu {
        time: time.to_owned(),
        usage_nano_cores: sum(containers.iter().map(|c| c.usage_nano_cores)),
        usage_core_nano_seconds: sum(containers.iter().map(|c| c.usage_core_nano_seconds)),
    }
}

fn memory_of(time: &str, containers: &[ContainerStats]) -> Memory {
    Memory {
        time: time.to_owned(),
        working_set_bytes: sum(containers.iter().map(|c| c.working_set_bytes)),
    }
}

/// Builds the Summary; the node's usage is the sum of its pods'.
pub(crate) fn summary(node: &str, node_start: Timestamp, samples: &[PodSample]) -> Summary {
    let now = Timestamp::now().to_string();
    let all: Vec<ContainerStats> = samples
        .iter()
        .flat_map(|s| s.stats.containers.iter().cloned())
        .collect();
    Summary {
        node: NodeSummary {
            node_name: node.to_owned(),
            start_time: node_start.to_string(),
            cpu: cpu_of(&now, &all),
            memory: memory_of(&now, &all),
        },
        pods: samples
            .iter()
            .map(|s| PodSummary {
                pod_ref: PodRef {
                    name: s.name.clone(),
                    namespace: s.namespace.clone(),
                    uid: s.uid.clone(),
                },
                start_time: s.stats.start_time.map(|t| t.to_string()),
                containers: s
                    .stats
                    .containers
                    .iter()
                    .map(|c| {
                        let time = c.time.map(|t| t.to_string()).unwrap_or_else(|| now.clone());
                        ContainerSummary {
                            name: c.name.clone(),
                            start_time: c.start_time.map(|t| t.to_string()),
                            cpu: cpu_of(&time, std::slice::from_ref(c)),
                            memory: memory_of(&time, std::slice::from_ref(c)),
                        }
                    })
                    .collect(),
                cpu: cpu_of(&now, &s.stats.containers),
                memory: memory_of(&now, &s.stats.containers),
            })
            .collect(),
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus text exposition of `/metrics/resource` (the kubelet's metric names).
/// `errors` is the number of pods whose stats could not be collected (`scrape_error` is 1
/// when any failed).
pub(crate) fn resource_metrics(samples: &[PodSample], errors: usize) -> String {
    let mut out = String::new();
    let now_ms = Timestamp::now().as_millisecond();
    let all: Vec<&ContainerStats> = samples.iter().flat_map(|s| &s.stats.containers).collect();
    let ms = |c: &ContainerStats| c.time.map_or(now_ms, |t| t.as_millisecond());

    let _ = writeln!(
        out,
        "# HELP node_cpu_usage_seconds_total [ALPHA] Cumulative cpu time consumed by the node in core-seconds\n# TYPE node_cpu_usage_seconds_total counter"
    );
    if let Some(ns) = sum(all.iter().map(|c| c.usage_core_nano_seconds)) {
        let _ = writeln!(
            out,
            "node_cpu_usage_seconds_total {} {now_ms}",
            ns as f64 / 1e9
        );
    }
    let _ = writeln!(
        out,
        "# HELP node_memory_working_set_bytes [ALPHA] Current working set of the node in bytes\n# TYPE node_memory_working_set_bytes gauge"
    );
    if let Some(b) = sum(all.iter().map(|c| c.working_set_bytes)) {
        let _ = writeln!(out, "node_memory_working_set_bytes {b} {now_ms}");
    }
    let _ = writeln!(
        out,
        "# HELP pod_cpu_usage_seconds_total [ALPHA] Cumulative cpu time consumed by the pod in core-seconds\n# TYPE pod_cpu_usage_seconds_total counter"
    );
    for s in samples {
        if let Some(ns) = sum(s.stats.containers.iter().map(|c| c.usage_core_nano_seconds)) {
            let _ = writeln!(
                out,
                "pod_cpu_usage_seconds_total{{namespace=\"{}\",pod=\"{}\"}} {} {now_ms}",
                escape(&s.namespace),
                escape(&s.name),
                ns as f64 / 1e9
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP pod_memory_working_set_bytes [ALPHA] Current working set of the pod in bytes\n# TYPE pod_memory_working_set_bytes gauge"
    );
    for s in samples {
        if let Some(b) = sum(s.stats.containers.iter().map(|c| c.working_set_bytes)) {
            let _ = writeln!(
                out,
                "pod_memory_working_set_bytes{{namespace=\"{}\",pod=\"{}\"}} {b} {now_ms}",
                escape(&s.namespace),
                escape(&s.name)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP container_cpu_usage_seconds_total [ALPHA] Cumulative cpu time consumed by the container in core-seconds\n# TYPE container_cpu_usage_seconds_total counter"
    );
    for s in samples {
        for c in &s.stats.containers {
            if let Some(ns) = c.usage_core_nano_seconds {
                let _ = writeln!(
                    out,
                    "container_cpu_usage_seconds_total{{container=\"{}\",namespace=\"{}\",pod=\"{}\"}} {} {}",
                    escape(&c.name),
                    escape(&s.namespace),
                    escape(&s.name),
                    ns as f64 / 1e9,
                    ms(c)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP container_memory_working_set_bytes [ALPHA] Current working set of the container in bytes\n# TYPE container_memory_working_set_bytes gauge"
    );
    for s in samples {
        for c in &s.stats.containers {
            if let Some(b) = c.working_set_bytes {
                let _ = writeln!(
                    out,
                    "container_memory_working_set_bytes{{container=\"{}\",namespace=\"{}\",pod=\"{}\"}} {b} {}",
                    escape(&c.name),
                    escape(&s.namespace),
                    escape(&s.name),
                    ms(c)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP container_start_time_seconds [ALPHA] Start time of the container since unix epoch in seconds\n# TYPE container_start_time_seconds gauge"
    );
    for s in samples {
        for c in &s.stats.containers {
            if let Some(t) = c.start_time {
                let _ = writeln!(
                    out,
                    "container_start_time_seconds{{container=\"{}\",namespace=\"{}\",pod=\"{}\"}} {} {}",
                    escape(&c.name),
                    escape(&s.namespace),
                    escape(&s.name),
                    t.as_second(),
                    ms(c)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP scrape_error [ALPHA] 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE scrape_error gauge\nscrape_error {}",
        u8::from(errors > 0)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PodSample {
        PodSample {
            namespace: "ns".into(),
            name: "web".into(),
            uid: "u1".into(),
            stats: PodStats {
                start_time: None,
                containers: vec![
                    ContainerStats {
                        name: "a".into(),
                        usage_core_nano_seconds: Some(2_000_000_000),
                        working_set_bytes: Some(100),
                        ..Default::default()
                    },
                    ContainerStats {
                        name: "b".into(),
                        usage_core_nano_seconds: Some(500_000_000),
                        working_set_bytes: Some(50),
                        ..Default::default()
                    },
                ],
            },
        }
    }

    #[test]
    fn summary_sums_containers_into_pods_and_node() {
        let s = serde_json::to_value(summary("vk", Timestamp::UNIX_EPOCH, &[sample()])).unwrap();
        assert_eq!(s["node"]["nodeName"], "vk");
        assert_eq!(s["node"]["memory"]["workingSetBytes"], 150);
        assert_eq!(s["pods"][0]["podRef"]["name"], "web");
        assert_eq!(
            s["pods"][0]["cpu"]["usageCoreNanoSeconds"],
            2_500_000_000u64
        );
        assert_eq!(
            s["pods"][0]["containers"][1]["memory"]["workingSetBytes"],
            50
        );
    }

    #[test]
    fn metrics_use_kubelet_names() {
        let text = resource_metrics(&[sample()], 1);
        assert!(text.contains(
            "container_cpu_usage_seconds_total{container=\"a\",namespace=\"ns\",pod=\"web\"} 2 "
        ));
        assert!(text.contains("pod_memory_working_set_bytes{namespace=\"ns\",pod=\"web\"} 150 "));
        assert!(text.contains("node_memory_working_set_bytes 150 "));
        assert!(text.ends_with("scrape_error 1\n"));
    }
}
