//! `/containerLogs/{ns}/{pod}/{container}`: the kubelet's log parameters over a backend that
//! can only return whole logs (ACI has no log stream).
//!
//! The server always asks the backend for timestamped lines and strips the timestamps unless
//! the client asked for them. `tailLines` is applied first, then `sinceSeconds`/`sinceTime`,
//! then `limitBytes` (which may cut a line, as the kubelet does).
//!
//! **Following** (`follow=true`) polls the backend and emits only what is new, tracked by a
//! [`LogCursor`]:
//!
//! - *timestamp mode* (every line starts with an RFC 3339 timestamp, as ACI's do): the cursor
//!   keeps the newest timestamp emitted and how many lines carrying exactly that timestamp were
//!   emitted. A new snapshot's lines older than it are skipped, the first `count` lines with that
//!   same timestamp are skipped, and everything after is emitted. Logs are append-only, so this
//!   neither repeats nor drops lines, even when the log's head was trimmed meanwhile.
//! - *count mode* (lines without timestamps): the cursor keeps the number of lines emitted and
//!   the last few of them. If the new snapshot still has those lines at the same position, the
//!   lines after them are new; otherwise (the log's head was trimmed) the latest position where
//!   the remembered lines (or, at the very start of the snapshot, their tail) occur is used; if
//!   they are gone entirely the container was restarted and the whole new log is emitted. This
//!   mode is a heuristic: a restarted container whose first lines equal the last lines emitted
//!   is taken for a trimmed log.
//!
//! The first snapshot of a follow asks for the last `tailLines` lines (all without it). Later
//! polls ask for a **tail** only: twice the lines the previous poll found new (at least 64), and
//! again with four times more while the answer does not reach back before the newest timestamp
//! already emitted (a gap is possible), up to the whole log beyond 65,536 lines. So a poll costs
//! about what was written since the last one, not the whole log (ACI keeps up to 4 MB). Logs
//! without timestamps (count mode) are read whole. A follow ends when the client goes away, `limitBytes` is
//! reached, the pod is gone (the backend answers not found), or the backend reports the
//! container finished ([`KubeletBackend::container_finished`](crate::KubeletBackend), asked
//! before each poll so the final poll has the container's last lines).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use jiff::Timestamp;
use tokio::sync::mpsc;

use crate::Error;
use crate::backend::{ContainerRef, DynBackend, LogRequest};

/// How many emitted lines count mode remembers.
const REMEMBERED_LINES: usize = 32;

/// Parsed `containerLogs` query parameters (the kubelet's names).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LogParams {
    pub(crate) follow: bool,
    pub(crate) previous: bool,
    pub(crate) timestamps: bool,
    pub(crate) tail_lines: Option<u64>,
    pub(crate) limit_bytes: Option<u64>,
    pub(crate) since: Option<Timestamp>,
}

/// `strconv.ParseBool` as the kubelet uses it; an empty value (`?follow`) is true.
pub(crate) fn parse_bool(name: &str, value: &str) -> Result<bool, Error> {
    match value {
        "" | "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(Error::BadRequest(format!(
            "invalid value {value:?} for {name}: expected a boolean"
        ))),
    }
}

fn parse_num(name: &str, value: &str) -> Result<i64, Error> {
    value
        .parse::<i64>()
        .map_err(|_| Error::BadRequest(format!("invalid value {value:?} for {name}")))
}

impl LogParams {
    pub(crate) fn parse(pairs: &[(String, String)], now: Timestamp) -> Result<Self, Error> {
        let mut params = LogParams::default();
        let mut since_seconds = None;
        let mut since_time = None;
        for (name, value) in pairs {
            match name.as_str() {
                "follow" => params.follow = parse_bool(name, value)?,
                "previous" => params.previous = parse_bool(name, value)?,
                "timestamps" => params.timestamps = parse_bool(name, value)?,
                "tailLines" => {
                    let n = parse_num(name, value)?;
                    // The kubelet treats a negative tail as "all lines".
                    params.tail_lines = u64::try_from(n).ok();
                }
                "limitBytes" => {
                    let n = parse_num(name, value)?;
                    if n < 1 {
                        return Err(Error::BadRequest("limitBytes must be positive".into()));
                    }
                    params.limit_bytes = Some(n as u64);
                }
                "sinceSeconds" => {
                    let n = parse_num(name, value)?;
                    if n < 1 {
                        return Err(Error::BadRequest("sinceSeconds must be positive".into()));
                    }
                    since_seconds = Some(n);
                }
                "sinceTime" => {
                    since_time = Some(value.parse::<Timestamp>().map_err(|e| {
                        Error::BadRequest(format!("invalid sinceTime {value:?}: {e}"))
                    })?);
                }
                _ => {}
            }
        }
        if since_seconds.is_some() && since_time.is_some() {
            return Err(Error::BadRequest(
                "at most one of sinceTime or sinceSeconds may be specified".into(),
            ));
        }
        params.since = match (since_seconds, since_time) {
            (Some(s), _) => now
                .checked_sub(jiff::SignedDuration::from_secs(s))
                .ok()
                .or(Some(Timestamp::MIN)),
            (_, t) => t,
        };
        Ok(params)
    }
}

/// A log line split into its timestamp (when it has one) and the raw line.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Line<'a> {
    ts: Option<Timestamp>,
    raw: &'a str,
    /// The line without its timestamp.
    text: &'a str,
}

fn split_lines(snapshot: &str) -> Vec<Line<'_>> {
    let mut lines: Vec<&str> = snapshot.split('\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
        .into_iter()
        .map(|raw| {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            match raw.split_once(' ') {
                Some((ts, text)) => match ts.parse::<Timestamp>() {
                    Ok(ts) => Line {
                        ts: Some(ts),
                        raw,
                        text,
                    },
                    Err(_) => Line {
                        ts: None,
                        raw,
                        text: raw,
                    },
                },
                None => match raw.parse::<Timestamp>() {
                    Ok(ts) => Line {
                        ts: Some(ts),
                        raw,
                        text: "",
                    },
                    Err(_) => Line {
                        ts: None,
                        raw,
                        text: raw,
                    },
                },
            }
        })
        .collect()
}

/// Tracks what a follow has emitted; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogCursor {
    /// Timestamp mode: newest timestamp emitted and how many lines with it were emitted.
    last_ts: Option<(Timestamp, usize)>,
    /// Count mode: lines emitted in total, and the last few.
    emitted: usize,
    recent: VecDeque<String>,
}

impl LogCursor {
    /// Whether emitted lines carried timestamps (or nothing was emitted yet).
    fn timestamped(&self) -> bool {
        self.last_ts.is_some() || self.emitted == 0
    }

    /// Whether `lines` (the tail of a log) reach back before the newest
    /// timestamp emitted, so nothing between is missing.
    fn reaches_back(&self, lines: &[Line<'_>]) -> bool {
        match (self.last_ts, lines.first().and_then(|l| l.ts)) {
            (Some((last, _)), Some(first)) => first < last,
            _ => false,
        }
    }

    /// Returns the indices of `lines` that are new since the last call, and records them.
    fn advance(&mut self, lines: &[Line<'_>]) -> std::ops::Range<usize> {
        let timestamped = !lines.is_empty() && lines.iter().all(|l| l.ts.is_some());
        let start = if timestamped {
            match self.last_ts {
                None => 0,
                Some((last, count)) => {
                    let mut same = 0usize;
                    let mut start = lines.len();
                    for (i, line) in lines.iter().enumerate() {
                        let ts = line.ts.unwrap_or(Timestamp::MIN);
                        if ts < last {
                            continue;
                        }
                        if ts == last && same < count {
                            same += 1;
                            continue;
                        }
                        start = i;
                        break;
                    }
                    start
                }
            }
        } else {
            self.count_mode_start(lines)
        };
        let new = start..lines.len();
        self.record(&lines[new.clone()], lines);
        new
    }

    fn count_mode_start(&self, lines: &[Line<'_>]) -> usize {
        if self.emitted == 0 {
            return 0;
        }
        let k = self.recent.len();
        // Lines `end - j .. end` equal the last `j` remembered lines, `j = min(k, end)`.
        let matches_at = |end: usize| {
            let j = k.min(end);
            j > 0
                && end <= lines.len()
                && lines[end - j..end]
                    .iter()
                    .zip(self.recent.iter().skip(k - j))
                    .all(|(l, r)| l.raw == r)
        };
        if self.emitted >= k && matches_at(self.emitted) {
            return self.emitted;
        }
        (1..=lines.len())
            .rev()
            .find(|&end| matches_at(end))
            .unwrap_or(0)
    }

    fn record(&mut self, new: &[Line<'_>], all: &[Line<'_>]) {
        if let Some(last) = new.last().and_then(|l| l.ts) {
            let count = all.iter().filter(|l| l.ts == Some(last)).count();
            self.last_ts = Some((last, count));
        }
        // count mode bookkeeping (positions relative to this snapshot)
        let end = all.len();
        self.emitted = end;
        self.recent = all[end.saturating_sub(REMEMBERED_LINES)..]
            .iter()
            .map(|l| l.raw.to_owned())
            .collect();
    }
}

/// The smallest tail a follow asks for.
const MIN_WINDOW: u64 = 64;
/// Beyond this tail a follow reads the whole log.
const MAX_WINDOW: u64 = 1 << 16;

/// The tail to ask for next: twice what the last poll found new.
fn next_window(new: usize) -> u64 {
    (new as u64).saturating_mul(2).clamp(MIN_WINDOW, MAX_WINDOW)
}

/// One poll of a follow: the last `window` lines, asked again with a larger
/// tail (up to the whole log) while the answer may not reach back to what was
/// already emitted.
async fn poll_tail(
    backend: &dyn DynBackend,
    container: &ContainerRef,
    cursor: &LogCursor,
    window: &mut u64,
) -> Result<String, Error> {
    loop {
        // Count mode cannot tell overlaps from repeats: it reads everything.
        let tail = (cursor.timestamped() && *window < MAX_WINDOW).then_some(*window);
        let request = LogRequest {
            tail_lines: tail,
            timestamps: true,
            previous: false,
        };
        let snapshot = backend.logs(container, &request).await?;
        let Some(asked) = tail else {
            return Ok(snapshot);
        };
        let lines = split_lines(&snapshot);
        if (lines.len() as u64) < asked || cursor.reaches_back(&lines) {
            return Ok(snapshot);
        }
        *window = window.saturating_mul(4);
    }
}

/// Output formatting of one request: since filter, timestamps, byte limit.
struct Emitter {
    since: Option<Timestamp>,
    timestamps: bool,
    remaining: Option<u64>,
}

impl Emitter {
    /// Formats `lines`; `None` once the byte limit is reached (after returning the last bytes).
    fn format(&mut self, lines: &[Line<'_>]) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        for line in lines {
            if let (Some(since), Some(ts)) = (self.since, line.ts)
                && ts < since
            {
                continue;
            }
            let text = if self.timestamps { line.raw } else { line.text };
            out.extend_from_slice(text.as_bytes());
            out.push(b'\n');
        }
        if let Some(remaining) = self.remaining.as_mut() {
            if out.len() as u64 >= *remaining {
                out.truncate(*remaining as usize);
                *remaining = 0;
                return (out, true);
            }
            *remaining -= out.len() as u64;
        }
        (out, false)
    }
}

fn tail<'a, 'b>(lines: &'a [Line<'b>], n: Option<u64>) -> &'a [Line<'b>] {
    match n {
        Some(n) => {
            &lines[lines
                .len()
                .saturating_sub(usize::try_from(n).unwrap_or(usize::MAX))..]
        }
        None => lines,
    }
}

/// Serves one log request.
pub(crate) async fn serve(
    backend: Arc<dyn DynBackend>,
    container: ContainerRef,
    params: LogParams,
    poll: Duration,
) -> Result<Response, Error> {
    if params.previous && !backend.supports_previous_logs() {
        return Err(Error::BadRequest(format!(
            "previous terminated container {:?} in pod {:?} not found: Azure Container \
             Instances keeps no logs of earlier container instances",
            container.container, container.pod
        )));
    }
    let request = LogRequest {
        tail_lines: params.tail_lines,
        timestamps: true,
        previous: params.previous,
    };
    let first = backend.logs(&container, &request).await?;
    let mut emitter = Emitter {
        since: params.since,
        timestamps: params.timestamps,
        remaining: params.limit_bytes,
    };
    let lines = split_lines(&first);
    let (bytes, done) = emitter.format(tail(&lines, params.tail_lines));
    if !params.follow || done {
        return Ok(([(http::header::CONTENT_TYPE, "text/plain")], bytes).into_response());
    }
    let mut cursor = LogCursor::default();
    cursor.advance(&lines);
    drop(lines);
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let _ = tx.try_send(Ok(Bytes::from(bytes)));
    tokio::spawn(async move {
        let mut window = MIN_WINDOW;
        loop {
            tokio::select! {
                () = tx.closed() => return,
                () = tokio::time::sleep(poll) => {}
            }
            // Asked before fetching, so the last fetch holds everything the container wrote.
            let finished = backend.container_finished(&container).await;
            let snapshot = match poll_tail(&*backend, &container, &cursor, &mut window).await {
                Ok(s) => s,
                Err(Error::NotFound(_)) => return,
                Err(e) => {
                    tracing::debug!(%container, error = %e, "polling logs failed; retrying");
                    continue;
                }
            };
            let lines = split_lines(&snapshot);
            let new = cursor.advance(&lines);
            window = next_window(new.len());
            let (bytes, done) = emitter.format(&lines[new]);
            if !bytes.is_empty() && tx.send(Ok(Bytes::from(bytes))).await.is_err() {
                return;
            }
            if done || finished {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [(http::header::CONTENT_TYPE, "text/plain")],
        Body::from_stream(stream),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emit(cursor: &mut LogCursor, snapshot: &str) -> Vec<String> {
        let lines = split_lines(snapshot);
        let new = cursor.advance(&lines);
        lines[new].iter().map(|l| l.raw.to_owned()).collect()
    }

    #[test]
    fn timestamp_mode_emits_each_line_once() {
        let mut c = LogCursor::default();
        let t = |s: u32, text: &str| format!("2024-01-01T00:00:{s:02}.000000000Z {text}\n");
        let s1 = [t(1, "a"), t(2, "b"), t(2, "c")].concat();
        assert_eq!(emit(&mut c, &s1).len(), 3);
        assert!(emit(&mut c, &s1).is_empty());
        // same timestamp again, then newer
        let s2 = [s1.clone(), t(2, "d"), t(3, "e")].concat();
        let got = emit(&mut c, &s2);
        assert_eq!(got.len(), 2);
        assert!(got[0].ends_with(" d") && got[1].ends_with(" e"));
        // head trimmed: still no duplicates
        let s3 = [t(2, "c"), t(2, "d"), t(3, "e"), t(4, "f")].concat();
        let got = emit(&mut c, &s3);
        assert_eq!(got.len(), 1, "{got:?}");
    }

    /// A log in memory that records the tails it was asked for.
    #[derive(Default)]
    struct Log {
        lines: std::sync::Mutex<Vec<String>>,
        tails: std::sync::Mutex<Vec<Option<u64>>>,
    }

    impl crate::KubeletBackend for Log {
        async fn logs(&self, _: &ContainerRef, r: &LogRequest) -> Result<String, Error> {
            self.tails.lock().unwrap().push(r.tail_lines);
            let lines = self.lines.lock().unwrap();
            let start = r
                .tail_lines
                .map_or(0, |n| lines.len().saturating_sub(n as usize));
            Ok(lines[start..].iter().map(|l| format!("{l}\n")).collect())
        }
        async fn exec(
            &self,
            _: &ContainerRef,
            _: crate::ExecRequest,
            _: crate::ExecIo,
        ) -> Result<crate::ExitStatus, Error> {
            Ok(crate::ExitStatus::Unknown)
        }
        async fn pods(&self) -> Result<Vec<k8s_openapi::api::core::v1::Pod>, Error> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn follow_polls_read_tails_and_grow_them_when_a_gap_is_possible() {
        let log = Log::default();
        let container = ContainerRef {
            namespace: "n".into(),
            pod: "p".into(),
            container: "c".into(),
        };
        let ts = |i: usize| format!("2024-01-01T00:00:00.{i:09}Z line {i}");
        log.lines.lock().unwrap().extend((0..10).map(ts));
        let mut cursor = LogCursor::default();
        let first = log.logs(&container, &LogRequest::default()).await.unwrap();
        cursor.advance(&split_lines(&first));
        // 1000 new lines: the 64-line tail cannot reach back, 256 neither, 1024 does.
        log.lines.lock().unwrap().extend((10..1010).map(ts));
        log.tails.lock().unwrap().clear();
        let mut window = MIN_WINDOW;
        let snapshot = poll_tail(&log, &container, &cursor, &mut window)
            .await
            .unwrap();
        let lines = split_lines(&snapshot);
        let new = cursor.advance(&lines);
        assert_eq!(new.len(), 1000);
        assert_eq!(lines[new.start].text, "line 10");
        assert_eq!(
            *log.tails.lock().unwrap(),
            [Some(64), Some(256), Some(1024)]
        );
        // Three new lines: one small read.
        log.lines.lock().unwrap().extend((1010..1013).map(ts));
        log.tails.lock().unwrap().clear();
        let mut window = next_window(new.len());
        assert_eq!(window, 2000);
        let snapshot = poll_tail(&log, &container, &cursor, &mut window)
            .await
            .unwrap();
        let lines = split_lines(&snapshot);
        assert_eq!(cursor.advance(&lines).len(), 3);
        assert_eq!(*log.tails.lock().unwrap(), [Some(2000)]);
        assert_eq!(next_window(3), MIN_WINDOW);
    }

    #[test]
    fn count_mode_handles_growth_trim_and_restart() {
        let mut c = LogCursor::default();
        assert_eq!(emit(&mut c, "a\nb\n"), ["a", "b"]);
        assert_eq!(emit(&mut c, "a\nb\nc\n"), ["c"]);
        assert!(emit(&mut c, "a\nb\nc\n").is_empty());
        // repeated identical lines are counted, not collapsed
        assert_eq!(emit(&mut c, "a\nb\nc\nc\n"), ["c"]);
        // head trimmed
        assert_eq!(emit(&mut c, "b\nc\nc\nd\n"), ["d"]);
        // restarted: nothing remembered is left
        assert_eq!(emit(&mut c, "x\n"), ["x"]);
    }

    #[test]
    fn params_follow_the_kubelet() {
        let now: Timestamp = "2024-01-01T00:01:00Z".parse().unwrap();
        let q = |pairs: &[(&str, &str)]| {
            LogParams::parse(
                &pairs
                    .iter()
                    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                    .collect::<Vec<_>>(),
                now,
            )
        };
        let p = q(&[
            ("follow", "true"),
            ("tailLines", "1"),
            ("sinceSeconds", "60"),
        ])
        .unwrap();
        assert!(p.follow);
        assert_eq!(p.tail_lines, Some(1));
        assert_eq!(p.since, Some("2024-01-01T00:00:00Z".parse().unwrap()));
        assert!(q(&[("sinceSeconds", "1"), ("sinceTime", "2024-01-01T00:00:00Z")]).is_err());
        assert!(q(&[("limitBytes", "0")]).is_err());
        assert!(q(&[("follow", "yes")]).is_err());
        assert_eq!(q(&[("tailLines", "-1")]).unwrap().tail_lines, None);
    }

    #[test]
    fn emitter_filters_strips_and_limits() {
        let snapshot = "2024-01-01T00:00:01Z one\n2024-01-01T00:00:02Z two\n";
        let lines = split_lines(snapshot);
        let mut e = Emitter {
            since: Some("2024-01-01T00:00:02Z".parse().unwrap()),
            timestamps: false,
            remaining: None,
        };
        assert_eq!(e.format(&lines).0, b"two\n");
        let mut e = Emitter {
            since: None,
            timestamps: true,
            remaining: Some(5),
        };
        assert_eq!(e.format(&lines), (b"2024-".to_vec(), true));
        assert_eq!(tail(&lines, Some(1))[0].text, "two");
    }
}
