//! Long-running processes with logs and pid files, stopped by pid: used for
//! the control-plane components, and by `cargo xtask up` for the emulator and vk.

use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process, test_kill_process};

use crate::Error;

/// The log file of `component` in `state_dir`.
pub fn log_path(state_dir: &Path, component: &str) -> PathBuf {
    state_dir.join("logs").join(format!("{component}.log"))
}

/// The pid file of `component` in `state_dir`.
pub fn pid_path(state_dir: &Path, component: &str) -> PathBuf {
    state_dir.join(format!("{component}.pid"))
}

/// Starts `binary` in its own process group (so it outlives the caller and a
/// terminal's Ctrl-C), with stdout and stderr appended to the component's log,
/// and records its pid.
pub fn spawn(
    state_dir: &Path,
    component: &'static str,
    binary: &Path,
    args: &[String],
) -> Result<Child, Error> {
    let log = log_path(state_dir, component);
    let out = File::options()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(Error::io("opening", &log))?;
    let err = out.try_clone().map_err(Error::io("opening", &log))?;
    let child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|source| Error::Spawn {
            component,
            binary: binary.to_owned(),
            source,
        })?;
    let pid_file = pid_path(state_dir, component);
    std::fs::write(&pid_file, format!("{}\n{}\n", child.id(), binary.display()))
        .map_err(Error::io("writing", &pid_file))?;
    // The arguments, one per line, so the process can be restarted as it was.
    let args_file = state_dir.join(format!("{component}.args"));
    std::fs::write(&args_file, args.join("\n")).map_err(Error::io("writing", &args_file))?;
    Ok(child)
}

/// Stops `component` (SIGTERM, then SIGKILL after `grace`) and starts it
/// again with the binary and arguments it was started with. For fault tests:
/// an API server or etcd restart while clients keep running.
pub fn restart(state_dir: &Path, component: &'static str, grace: Duration) -> Result<Child, Error> {
    let rec = read_pid_file(state_dir, component).ok_or_else(|| Error::NotFound {
        state_dir: state_dir.to_owned(),
    })?;
    let args_file = state_dir.join(format!("{component}.args"));
    let args: Vec<String> = std::fs::read_to_string(&args_file)
        .map_err(Error::io("reading", &args_file))?
        .lines()
        .map(str::to_owned)
        .collect();
    stop(&rec, grace);
    spawn(state_dir, component, &rec.binary, &args)
}

/// A pid recorded in a pid file, with the binary it was started from.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The pid.
    pub pid: i32,
    /// The binary it was started from.
    pub binary: PathBuf,
}

/// Reads a pid file written by [`spawn`].
pub fn read_pid_file(state_dir: &Path, component: &str) -> Option<Recorded> {
    let text = std::fs::read_to_string(pid_path(state_dir, component)).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    let binary = PathBuf::from(lines.next()?.trim());
    Some(Recorded { pid, binary })
}

/// True when `pid` is alive and still runs the recorded binary (a recycled
/// pid belonging to another program is never signalled).
pub fn is_ours(rec: &Recorded) -> bool {
    let Some(pid) = Pid::from_raw(rec.pid) else {
        return false;
    };
    if test_kill_process(pid).is_err() {
        return false;
    }
    // A zombie still answers kill(0); it is not running.
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", rec.pid))
        && let Some(state) = stat
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next())
        && state == "Z"
    {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{}/cmdline", rec.pid)) else {
        return false;
    };
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let argv0 = Path::new(std::str::from_utf8(argv0).unwrap_or_default());
    argv0.file_name().is_some() && argv0.file_name() == rec.binary.file_name()
}

/// Stops the recorded process: SIGTERM, then SIGKILL after `grace`.
pub fn stop(rec: &Recorded, grace: Duration) {
    let Some(pid) = Pid::from_raw(rec.pid) else {
        return;
    };
    if !is_ours(rec) {
        return;
    }
    let _ = kill_process(pid, Signal::TERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !is_ours(rec) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = kill_process(pid, Signal::KILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && is_ours(rec) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last `lines` lines of every component log, for error messages.
pub(crate) fn log_tails(state_dir: &Path, lines: usize) -> String {
    let mut out = String::new();
    for component in crate::cluster::Component::ALL {
        let path = log_path(state_dir, component.name());
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let all: Vec<&str> = text.lines().collect();
        let start = all.len().saturating_sub(lines);
        out.push_str(&format!("--- last lines of {} ---\n", path.display()));
        for line in &all[start..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_replaces_the_process_with_the_same_arguments() {
        let dir = std::env::temp_dir().join(format!("vk-cp-restart-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        let sleep = crate::binaries::which("sleep").unwrap();
        let mut first = spawn(&dir, "dummy", &sleep, &["300".into()]).unwrap();
        let old = read_pid_file(&dir, "dummy").unwrap();
        // Right after fork the child may not have exec'd `sleep` yet (its
        // cmdline is still the parent's): wait for the exec, on a loaded
        // machine too.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !is_ours(&old) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(is_ours(&old));
        let mut second = restart(&dir, "dummy", Duration::from_secs(5)).unwrap();
        let _ = first.wait();
        let new = read_pid_file(&dir, "dummy").unwrap();
        assert_ne!(old.pid, new.pid);
        assert!(!is_ours(&old));
        assert!(is_ours(&new));
        assert_eq!(
            std::fs::read_to_string(dir.join("dummy.args")).unwrap(),
            "300"
        );
        stop(&new, Duration::from_secs(5));
        let _ = second.wait();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
