//! What the harness reads from the processes it measures: CPU time and peak
//! RSS from `/proc`, vk's Prometheus `/metrics`, the emulator's counters.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// One sample of a Prometheus text exposition: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetricSample {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

/// Parses Prometheus / OpenMetrics text (comments and malformed lines are skipped).
pub(crate) fn parse_metrics(text: &str) -> Vec<MetricSample> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, labels, rest) = match line.find('{') {
            Some(open) => {
                let Some(close) = line.rfind('}') else {
                    continue;
                };
                if close < open {
                    continue;
                }
                (
                    &line[..open],
                    parse_labels(&line[open + 1..close]),
                    &line[close + 1..],
                )
            }
            None => match line.split_once(char::is_whitespace) {
                Some((n, r)) => (n, BTreeMap::new(), r),
                None => continue,
            },
        };
        let Some(value) = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        else {
            continue;
        };
        out.push(MetricSample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    out
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('"') {
            break;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(key.trim().to_owned(), value);
    }
    labels
}

/// Sums the samples named `name` by the value of `label` (all under "" when
/// `label` is `None`).
pub(crate) fn sum_by(
    samples: &[MetricSample],
    name: &str,
    label: Option<&str>,
) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for s in samples.iter().filter(|s| s.name == name) {
        let key = label
            .and_then(|l| s.labels.get(l).cloned())
            .unwrap_or_default();
        *out.entry(key).or_insert(0.0) += s.value;
    }
    out
}

/// `after - before` per key (keys of either side; missing counts as 0).
pub(crate) fn diff(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for k in before.keys().chain(after.keys()) {
        let d = after.get(k).copied().unwrap_or(0.0) - before.get(k).copied().unwrap_or(0.0);
        out.insert(k.clone(), d);
    }
    out
}

/// Every value divided by `by` (unchanged when `by` is 0).
pub(crate) fn scale(m: &BTreeMap<String, f64>, by: f64) -> BTreeMap<String, f64> {
    m.iter()
        .map(|(k, v)| (k.clone(), if by == 0.0 { *v } else { v / by }))
        .collect()
}

/// The emulator's `GET /_emulator/counters`: operation → HTTP status → count.
pub(crate) type Counters = BTreeMap<String, BTreeMap<String, f64>>;

pub(crate) fn parse_counters(json: &str) -> anyhow::Result<Counters> {
    let v: BTreeMap<String, BTreeMap<String, serde_json::Value>> =
        serde_json::from_str(json).context("the emulator's counters are not JSON")?;
    Ok(v.into_iter()
        .map(|(op, by_status)| {
            let by_status = by_status
                .into_iter()
                .map(|(st, n)| (st, n.as_f64().unwrap_or(0.0)))
                .collect();
            (op, by_status)
        })
        .collect())
}

/// Calls per operation (all statuses).
pub(crate) fn counters_by_op(c: &Counters) -> BTreeMap<String, f64> {
    c.iter()
        .map(|(op, by)| (op.clone(), by.values().sum()))
        .collect()
}

/// Calls per `op/status` for statuses outside 2xx.
pub(crate) fn counters_errors(c: &Counters) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (op, by) in c {
        for (st, n) in by {
            if !st.starts_with('2') {
                out.insert(format!("{op}/{st}"), *n);
            }
        }
    }
    out
}

/// A plain HTTP/1.0 GET on loopback (the emulator's admin API and vk's
/// admin port are plain HTTP). Returns the body of a 2xx answer.
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("GET http://{addr}{path}: malformed answer");
    };
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    if !status.starts_with('2') {
        bail!("GET http://{addr}{path}: HTTP {status}");
    }
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    Ok(if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    })
}

/// An HTTP answer of [`http_call`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Answer {
    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A plain HTTP/1.0 request without a body on loopback; any status.
pub(crate) fn http_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<Answer> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: */*\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_answer(&String::from_utf8_lossy(&raw))
        .with_context(|| format!("{method} http://{addr}{path}: malformed answer"))
}

/// Status line, headers and (de-chunked) body of a raw HTTP/1.x answer.
pub(crate) fn parse_answer(text: &str) -> Option<Answer> {
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    Some(Answer {
        status,
        body: if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
        headers,
    })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// CPU time (user + system) of `pid`, in seconds.
pub(crate) fn cpu_secs(pid: i32, ticks_per_sec: f64) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat)
        .map(|t| t as f64 / ticks_per_sec)
        .context("malformed /proc/<pid>/stat")
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line.
pub(crate) fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command may contain spaces and parentheses: fields start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts with field 3 (state): utime is field 14 → index 11.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A `kB` field of `/proc/<pid>/status` (`VmHWM`, `VmRSS`), in MB (10^6 bytes).
pub(crate) fn status_mb(pid: i32, field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    parse_status_kb(&status, field)
        .map(|kb| kb as f64 * 1024.0 / 1e6)
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

pub(crate) fn parse_status_kb(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == field).then(|| v.split_whitespace().next()?.parse().ok())?
    })
}

/// Resets the peak RSS (VmHWM) of `pid` (`echo 5 > /proc/<pid>/clear_refs`).
pub(crate) fn reset_peak_rss(pid: i32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// Clock ticks per second (`getconf CLK_TCK`, else 100).
pub(crate) fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// CPU model and count, for the report.
pub(crate) fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| parse_status_kb(&t, "MemTotal"))
        .map_or(String::new(), |kb| {
            format!(", {:.1} GB RAM", kb as f64 / 1024.0 / 1024.0)
        });
    format!("{cpus} cores ({model}){mem}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_status_headers_and_chunks() {
        let a = parse_answer(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nx-ms-ratelimit-remaining-subscription-reads: 0\r\n\r\n{}",
        )
        .expect("parses");
        assert_eq!(a.status, 429);
        assert_eq!(a.header("retry-after"), Some("1"));
        assert_eq!(
            a.header("X-MS-RATELIMIT-REMAINING-SUBSCRIPTION-READS"),
            Some("0")
        );
        assert_eq!(a.body, "{}");
        let c = parse_answer(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
        )
        .expect("parses");
        assert_eq!(c.body, "ab");
        assert!(parse_answer("garbage").is_none());
    }

    const METRICS: &str = r#"# HELP vk_kube_requests Kubernetes API requests by verb
# TYPE vk_kube_requests counter
vk_kube_requests_total{verb="patch"} 1000
vk_kube_requests_total{verb="get"} 12
vk_kube_requests_total{verb="watch"} 3.0
vk_kube_throttled_total 0
vk_pod_creates_total{node="n1"} 1000
vk_pod_creates_total{node="n2"} 5
vk_weird{a="x\"y",b="1,2"} 7 1700000000
vk_reconcile_duration_seconds_bucket{node="n1",le="+Inf"} 4
# EOF
"#;

    #[test]
    fn parses_metrics_text() {
        let s = parse_metrics(METRICS);
        let verbs = sum_by(&s, "vk_kube_requests_total", Some("verb"));
        assert_eq!(verbs["patch"], 1000.0);
        assert_eq!(verbs["watch"], 3.0);
        assert_eq!(sum_by(&s, "vk_kube_throttled_total", None)[""], 0.0);
        assert_eq!(sum_by(&s, "vk_pod_creates_total", None)[""], 1005.0);
        let weird = s.iter().find(|s| s.name == "vk_weird").expect("parsed");
        assert_eq!(weird.labels["a"], "x\"y");
        assert_eq!(weird.labels["b"], "1,2");
        assert_eq!(weird.value, 7.0);
        let bucket = s
            .iter()
            .find(|s| s.name == "vk_reconcile_duration_seconds_bucket")
            .expect("parsed");
        assert_eq!(bucket.labels["le"], "+Inf");
    }

    #[test]
    fn diffs_and_scales() {
        let before = BTreeMap::from([("get".to_owned(), 10.0), ("patch".to_owned(), 5.0)]);
        let after = BTreeMap::from([("patch".to_owned(), 25.0), ("create".to_owned(), 4.0)]);
        let d = diff(&before, &after);
        assert_eq!(d["get"], -10.0);
        assert_eq!(d["patch"], 20.0);
        assert_eq!(d["create"], 4.0);
        assert_eq!(scale(&d, 4.0)["patch"], 5.0);
        assert_eq!(scale(&d, 0.0)["patch"], 20.0);
    }

    #[test]
    fn parses_emulator_counters() {
        let c = parse_counters(r#"{"create":{"201":10,"429":2},"list":{"200":3},"get":{"0":1}}"#)
            .expect("parses");
        let by_op = counters_by_op(&c);
        assert_eq!(by_op["create"], 12.0);
        assert_eq!(by_op["list"], 3.0);
        let errors = counters_errors(&c);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors["create/429"], 2.0);
        assert_eq!(errors["get/0"], 1.0);
        assert!(parse_counters("nope").is_err());
    }

    #[test]
    fn parses_proc_files() {
        let stat = "1234 (vk (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 1 2 3";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("garbage"), None);
        let status = "Name:\tvk\nVmHWM:\t   51200 kB\nVmRSS:\t   40000 kB\n";
        assert_eq!(parse_status_kb(status, "VmHWM"), Some(51200));
        assert_eq!(parse_status_kb(status, "VmRSS"), Some(40000));
        assert_eq!(parse_status_kb(status, "VmPeak"), None);
    }

    #[test]
    fn dechunks() {
        assert_eq!(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "abcde");
    }
}
