//! The benchmark's results: data model, percentiles, and the markdown/JSON
//! renderings (the markdown table is also what is printed to stdout).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// The `q`-th percentile (0–100) of `values` by the nearest-rank method;
/// `None` for an empty slice. `values` need not be sorted.
pub(crate) fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let q = q.clamp(0.0, 100.0);
    // Nearest rank: the smallest value with at least q% of the values at or below it.
    let rank = ((q / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

/// p50, p90, p99 and max of a set of latencies, in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Latency {
    pub(crate) samples: usize,
    pub(crate) p50: Option<f64>,
    pub(crate) p90: Option<f64>,
    pub(crate) p99: Option<f64>,
    pub(crate) max: Option<f64>,
}

impl Latency {
    pub(crate) fn of(values: &[f64]) -> Self {
        Self {
            samples: values.len(),
            p50: percentile(values, 50.0),
            p90: percentile(values, 90.0),
            p99: percentile(values, 99.0),
            max: percentile(values, 100.0),
        }
    }
}

/// `complete` pods over `took` (0 when no time passed).
pub(crate) fn pods_per_sec(complete: usize, took: std::time::Duration) -> f64 {
    let secs = took.as_secs_f64();
    if secs > 0.0 {
        complete as f64 / secs
    } else {
        0.0
    }
}

/// The control experiment: a plain client writing the same statuses.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct ControlReport {
    pub(crate) pods: usize,
    /// From the first create request until every pod was seen Running+Ready.
    pub(crate) running_secs: f64,
    pub(crate) running_complete: usize,
    pub(crate) pods_per_sec: f64,
    pub(crate) latency_watch: Latency,
    /// From the first delete request (grace 0) until every pod was gone.
    pub(crate) delete_secs: f64,
    pub(crate) deleted_complete: usize,
    pub(crate) status_writes: usize,
}

/// One mode (pods with nodeName, or a Deployment) against vk.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct ModeReport {
    pub(crate) mode: String,
    pub(crate) pods: usize,
    /// From the first create request until every pod was seen Running+Ready.
    pub(crate) running_secs: f64,
    /// Pods that reached Running+Ready within the time limit.
    pub(crate) running_complete: usize,
    pub(crate) pods_per_sec: f64,
    /// Creation (create answer or first watch event, whichever is first) →
    /// first watch event showing Running+Ready.
    pub(crate) latency_watch: Latency,
    /// `metadata.creationTimestamp` (whole seconds, so up to 1 s longer) →
    /// wall clock of that watch event.
    pub(crate) latency_creation_ts: Latency,
    pub(crate) running_ratio_to_control: Option<f64>,
    /// From the first delete request (or scale to 0) until every pod was gone.
    pub(crate) delete_secs: f64,
    pub(crate) deleted_complete: usize,
    pub(crate) delete_ratio_to_control: Option<f64>,
    pub(crate) cpu_create_secs: f64,
    pub(crate) cpu_delete_secs: f64,
    /// VmHWM over the mode (reset before it through `/proc/<pid>/clear_refs`
    /// when the kernel allows it).
    pub(crate) peak_rss_mb: f64,
    pub(crate) peak_rss_reset: bool,
    /// `vk_kube_requests_total` by verb per pod, creation phase.
    pub(crate) api_per_pod_create: BTreeMap<String, f64>,
    /// `vk_kube_requests_total` by verb per pod, deletion phase.
    pub(crate) api_per_pod_delete: BTreeMap<String, f64>,
    /// create+update+patch+delete per pod, creation phase.
    pub(crate) api_writes_per_pod_create: f64,
    pub(crate) api_writes_per_pod_delete: f64,
    pub(crate) kube_throttled: f64,
    /// ARM requests delayed by vk's own ACI client limiter (`vk_aci_rate_limited`),
    /// creation and deletion phases.
    pub(crate) aci_delayed_create: f64,
    pub(crate) aci_delayed_delete: f64,
    /// Emulator counters by operation per pod, creation phase.
    pub(crate) aci_per_pod_create: BTreeMap<String, f64>,
    pub(crate) aci_per_pod_delete: BTreeMap<String, f64>,
    /// Emulator calls that were not 2xx (op/status → count) over the mode.
    pub(crate) aci_errors: BTreeMap<String, f64>,
    /// Steady state with every pod idle: ACI calls per minute by operation.
    pub(crate) steady_secs: u64,
    pub(crate) steady_aci_per_min: BTreeMap<String, f64>,
    pub(crate) steady_api_per_min: BTreeMap<String, f64>,
    /// vk's own pod counters (`vk_pod_*_total`) over the mode (creation + deletion).
    pub(crate) vk_pod_counters: BTreeMap<String, f64>,
    /// The realistic backend's figures against the ideal.
    pub(crate) realistic: Option<super::realistic::RealisticReport>,
}

/// Everything one `cargo xtask bench` run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct BenchReport {
    pub(crate) date: String,
    pub(crate) command: String,
    pub(crate) machine: String,
    pub(crate) pods: usize,
    /// `zero-delay` or `realistic (…, time scale X)`.
    pub(crate) backend: String,
    pub(crate) vk_config: String,
    /// The control for pods created with `nodeName` set.
    pub(crate) control: ControlReport,
    /// The control for the deployment mode (through the scheduler and the
    /// ReplicaSet controller to a fake node), when that mode ran.
    pub(crate) control_deployment: Option<ControlReport>,
    pub(crate) modes: Vec<ModeReport>,
    pub(crate) notes: Vec<String>,
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"))
}

fn ratio(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}x"))
}

fn map_line(m: &BTreeMap<String, f64>) -> String {
    let parts: Vec<String> = m
        .iter()
        .filter(|(_, v)| v.abs() > 1e-9)
        .map(|(k, v)| format!("{k} {}", trim_num(*v)))
        .collect();
    if parts.is_empty() {
        "–".into()
    } else {
        parts.join(", ")
    }
}

fn trim_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn complete(done: usize, of: usize) -> String {
    if done == of {
        String::new()
    } else {
        format!(" (only {done}/{of})")
    }
}

impl BenchReport {
    /// The markdown report: a header, one table with a column per run, notes.
    pub(crate) fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# vk benchmark — {} pods\n", self.pods);
        let _ = writeln!(out, "- date: {}", self.date);
        let _ = writeln!(out, "- command: `{}`", self.command);
        let _ = writeln!(out, "- machine: {}", self.machine);
        if !self.backend.is_empty() {
            let _ = writeln!(out, "- backend: {}", self.backend);
        }
        let _ = writeln!(out, "- vk: {}\n", self.vk_config);

        let mut controls = vec![&self.control];
        let mut header = vec!["metric".to_owned(), "control".to_owned()];
        if let Some(cd) = &self.control_deployment {
            controls.push(cd);
            header.push("control (deployment)".to_owned());
        }
        header.extend(self.modes.iter().map(|m| format!("vk {}", m.mode)));
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut row = |name: &str,
                       cf: &dyn Fn(&ControlReport) -> String,
                       f: &dyn Fn(&ModeReport) -> String| {
            let mut r = vec![name.to_owned()];
            r.extend(controls.iter().map(|c| cf(c)));
            r.extend(self.modes.iter().map(f));
            rows.push(r);
        };
        row(
            "time to all Running+Ready (s)",
            &|c| {
                format!(
                    "{:.2}{}",
                    c.running_secs,
                    complete(c.running_complete, c.pods)
                )
            },
            &|m| {
                format!(
                    "{:.2}{}",
                    m.running_secs,
                    complete(m.running_complete, m.pods)
                )
            },
        );
        row("ratio to control", &|_| "1.00x".into(), &|m| {
            ratio(m.running_ratio_to_control)
        });
        row("pods/s", &|c| format!("{:.1}", c.pods_per_sec), &|m| {
            format!("{:.1}", m.pods_per_sec)
        });
        row(
            "latency p50 (s, watch)",
            &|c| secs(c.latency_watch.p50),
            &|m| secs(m.latency_watch.p50),
        );
        row(
            "latency p90 (s, watch)",
            &|c| secs(c.latency_watch.p90),
            &|m| secs(m.latency_watch.p90),
        );
        row(
            "latency p99 (s, watch)",
            &|c| secs(c.latency_watch.p99),
            &|m| secs(m.latency_watch.p99),
        );
        row(
            "latency p50/p99 (s, creationTimestamp)",
            &|_| "–".into(),
            &|m| {
                format!(
                    "{} / {}",
                    secs(m.latency_creation_ts.p50),
                    secs(m.latency_creation_ts.p99)
                )
            },
        );
        row(
            "time to delete all (s)",
            &|c| {
                format!(
                    "{:.2}{}",
                    c.delete_secs,
                    complete(c.deleted_complete, c.pods)
                )
            },
            &|m| {
                format!(
                    "{:.2}{}",
                    m.delete_secs,
                    complete(m.deleted_complete, m.pods)
                )
            },
        );
        row("delete ratio to control", &|_| "1.00x".into(), &|m| {
            ratio(m.delete_ratio_to_control)
        });
        row("vk CPU create / delete (s)", &|_| "–".into(), &|m| {
            format!("{:.2} / {:.2}", m.cpu_create_secs, m.cpu_delete_secs)
        });
        row("vk CPU total (s)", &|_| "–".into(), &|m| {
            format!("{:.2}", m.cpu_create_secs + m.cpu_delete_secs)
        });
        row("vk peak RSS (MB)", &|_| "–".into(), &|m| {
            format!(
                "{:.1}{}",
                m.peak_rss_mb,
                if m.peak_rss_reset {
                    ""
                } else {
                    " (process peak)"
                }
            )
        });
        row(
            "API writes/pod, create",
            &|c| {
                format!(
                    "{:.2}",
                    if c.pods == 0 {
                        0.0
                    } else {
                        c.status_writes as f64 / c.pods as f64
                    }
                )
            },
            &|m| format!("{:.2}", m.api_writes_per_pod_create),
        );
        row(
            "API requests/pod by verb, create",
            &|_| "–".into(),
            &|m| map_line(&m.api_per_pod_create),
        );
        row("API writes/pod, delete", &|_| "–".into(), &|m| {
            format!("{:.2}", m.api_writes_per_pod_delete)
        });
        row(
            "API requests/pod by verb, delete",
            &|_| "–".into(),
            &|m| map_line(&m.api_per_pod_delete),
        );
        row("API throttled (client-side)", &|_| "–".into(), &|m| {
            trim_num(m.kube_throttled)
        });
        row(
            "ACI requests delayed by vk's client limiter, create / delete",
            &|_| "–".into(),
            &|m| {
                format!(
                    "{} / {}",
                    trim_num(m.aci_delayed_create),
                    trim_num(m.aci_delayed_delete)
                )
            },
        );
        row("ACI calls/pod by op, create", &|_| "–".into(), &|m| {
            map_line(&m.aci_per_pod_create)
        });
        row("ACI calls/pod by op, delete", &|_| "–".into(), &|m| {
            map_line(&m.aci_per_pod_delete)
        });
        row("ACI non-2xx (op/status: count)", &|_| "–".into(), &|m| {
            map_line(&m.aci_errors)
        });
        row(
            "steady ACI calls/min (pods idle)",
            &|_| "–".into(),
            &|m| format!("{} ({} s)", map_line(&m.steady_aci_per_min), m.steady_secs),
        );
        row(
            "steady API requests/min (pods idle)",
            &|_| "–".into(),
            &|m| map_line(&m.steady_api_per_min),
        );
        row("vk pod counters (whole mode)", &|_| "–".into(), &|m| {
            map_line(&m.vk_pod_counters)
        });
        if self.modes.iter().any(|m| m.realistic.is_some()) {
            realistic_rows(&mut row);
        }
        out.push_str(&markdown_table(&header, &rows));
        if !self.notes.is_empty() {
            out.push_str("\nNotes:\n\n");
            for n in &self.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }
}

type Row<'a> =
    dyn FnMut(&str, &dyn Fn(&ControlReport) -> String, &dyn Fn(&ModeReport) -> String) + 'a;

fn opt_secs(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{:.0} %", v * 100.0))
}

/// The rows of the realistic backend (vk against the ideal).
fn realistic_rows(row: &mut Row<'_>) {
    let none = |_: &ControlReport| "–".to_owned();
    let r = |f: fn(&super::realistic::RealisticReport) -> String| {
        move |m: &ModeReport| m.realistic.as_ref().map_or_else(|| "–".to_owned(), f)
    };
    row(
        "ideal time to all Running (s): creates + group",
        &none,
        &r(|x| {
            format!(
                "{:.1} ({:.1} + {:.1})",
                x.ideal.running_secs, x.ideal.create_spend_secs, x.ideal.group_secs
            )
        }),
    );
    row(
        "ratio to ideal",
        &none,
        &r(|x| ratio(x.running_ratio_to_ideal)),
    );
    row(
        "creates spent, ideal / vk (s)",
        &none,
        &r(|x| {
            format!(
                "{:.1} / {}",
                x.ideal.create_spend_secs,
                opt_secs(x.create_spend_secs)
            )
        }),
    );
    row(
        "create rate, achieved / allowed",
        &none,
        &r(|x| pct(x.create_rate_ratio)),
    );
    row(
        "added latency p50 / p99 / max (s): Running seen − container start in ACI",
        &none,
        &r(|x| {
            format!(
                "{} / {} / {} ({} pods)",
                secs(x.added_latency.p50),
                secs(x.added_latency.p99),
                secs(x.added_latency.max),
                x.added_latency.samples
            )
        }),
    );
    row(
        "429s to vk, creation phase",
        &none,
        &r(|x| map_line(&x.throttled_create)),
    );
    row(
        "429s to vk, deletion phase",
        &none,
        &r(|x| map_line(&x.throttled_delete)),
    );
    row("failed pods", &none, &r(|x| x.failed_pods.to_string()));
    row(
        "steady ARM reads/min (share of the read budget)",
        &none,
        &r(|x| {
            format!(
                "{} of {} ({:.1} %)",
                trim_num(x.steady_reads_per_min),
                trim_num(x.ideal.read_budget_per_min),
                x.steady_reads_share * 100.0
            )
        }),
    );
    row(
        "deletes spent, ideal / vk (s)",
        &none,
        &r(|x| {
            format!(
                "{:.1} / {}",
                x.ideal.delete_spend_secs,
                opt_secs(x.delete_spend_secs)
            )
        }),
    );
    row(
        "delete rate, achieved / allowed",
        &none,
        &r(|x| pct(x.delete_rate_ratio)),
    );
    row(
        "time to delete all over the ideal",
        &none,
        &r(|x| ratio(x.delete_ratio_to_ideal)),
    );
}

/// A GitHub-flavoured markdown table; `|` in cells is escaped.
pub(crate) fn markdown_table(header: &[String], rows: &[Vec<String>]) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| {} |",
        header
            .iter()
            .map(|h| esc(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        out,
        "|{}|",
        header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} |",
            r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 90.0), Some(90.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
        // Unsorted input, a single value, NaN ignored.
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[f64::NAN, 1.0, 2.0], 100.0), Some(2.0));
        let l = Latency::of(&[0.5, 0.1, 0.3]);
        assert_eq!(l.samples, 3);
        assert_eq!(l.p50, Some(0.3));
        assert_eq!(l.max, Some(0.5));
    }

    #[test]
    fn markdown_has_one_column_per_mode_and_escapes_pipes() {
        let mut m = ModeReport {
            mode: "nodename".into(),
            pods: 10,
            running_secs: 2.0,
            running_complete: 10,
            running_ratio_to_control: Some(1.25),
            deleted_complete: 8,
            ..ModeReport::default()
        };
        m.api_per_pod_create.insert("patch".into(), 1.0);
        m.api_per_pod_create.insert("get".into(), 0.0);
        m.aci_per_pod_create.insert("create".into(), 1.0);
        m.aci_per_pod_create.insert("get".into(), 0.5);
        let r = BenchReport {
            pods: 10,
            command: "cargo xtask bench --pods 10".into(),
            control: ControlReport {
                pods: 10,
                running_secs: 1.6,
                running_complete: 10,
                deleted_complete: 10,
                ..ControlReport::default()
            },
            modes: vec![m],
            notes: vec!["a|b".into()],
            ..BenchReport::default()
        };
        let md = r.to_markdown();
        assert!(md.contains("| metric | control | vk nodename |"), "{md}");
        assert!(md.contains("| ratio to control | 1.00x | 1.25x |"), "{md}");
        assert!(
            md.contains("| ACI calls/pod by op, create | – | create 1, get 0.500 |"),
            "{md}"
        );
        // Zero entries are left out.
        assert!(
            md.contains("| API requests/pod by verb, create | – | patch 1 |"),
            "{md}"
        );
        assert!(md.contains("(only 8/10)"), "{md}");
        assert!(md.contains("- a|b"), "{md}");
        let json = serde_json::to_value(&r).expect("serializes");
        assert_eq!(json["modes"][0]["running_ratio_to_control"], 1.25);
    }

    #[test]
    fn the_deployment_control_gets_its_own_column() {
        let r = BenchReport {
            pods: 10,
            control: ControlReport {
                pods: 10,
                running_secs: 1.0,
                running_complete: 10,
                ..ControlReport::default()
            },
            control_deployment: Some(ControlReport {
                pods: 10,
                running_secs: 2.5,
                running_complete: 9,
                ..ControlReport::default()
            }),
            modes: vec![ModeReport {
                mode: "deployment".into(),
                pods: 10,
                running_secs: 3.0,
                running_complete: 10,
                ..ModeReport::default()
            }],
            ..BenchReport::default()
        };
        let md = r.to_markdown();
        assert!(
            md.contains("| metric | control | control (deployment) | vk deployment |"),
            "{md}"
        );
        assert!(
            md.contains("| time to all Running+Ready (s) | 1.00 | 2.50 (only 9/10) | 3.00 |"),
            "{md}"
        );
    }

    #[test]
    fn realistic_rows_appear_with_a_realistic_mode() {
        let mut real = super::super::realistic::RealisticReport {
            running_ratio_to_ideal: Some(2.0),
            create_rate_ratio: Some(0.41),
            failed_pods: 0,
            ..Default::default()
        };
        real.ideal.running_secs = 130.0;
        real.ideal.create_spend_secs = 80.0;
        real.ideal.group_secs = 50.0;
        real.ideal.read_budget_per_min = 1500.0;
        real.steady_reads_per_min = 30.0;
        real.steady_reads_share = 0.02;
        real.throttled_create.insert("arm_writes".into(), 3.0);
        let r = BenchReport {
            pods: 10,
            backend: "realistic (time scale 1)".into(),
            modes: vec![ModeReport {
                mode: "nodename".into(),
                pods: 10,
                realistic: Some(real),
                ..ModeReport::default()
            }],
            ..BenchReport::default()
        };
        let md = r.to_markdown();
        assert!(md.contains("- backend: realistic (time scale 1)"), "{md}");
        assert!(
            md.contains(
                "| ideal time to all Running (s): creates + group | – | 130.0 (80.0 + 50.0) |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| create rate, achieved / allowed | – | 41 % |"),
            "{md}"
        );
        assert!(
            md.contains("| 429s to vk, creation phase | – | arm_writes 3 |"),
            "{md}"
        );
        assert!(md.contains("30 of 1500 (2.0 %)"), "{md}");
        // Without a realistic mode the rows are left out.
        let plain = BenchReport::default().to_markdown();
        assert!(!plain.contains("ideal"), "{plain}");
    }

    #[test]
    fn table_escapes_cells() {
        let t = markdown_table(&["a".into(), "b".into()], &[vec!["x|y".into(), "z".into()]]);
        assert_eq!(t, "| a | b |\n|---|---|\n| x\\|y | z |\n");
    }
}
