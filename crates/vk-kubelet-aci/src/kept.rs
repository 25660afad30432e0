//! Logs of terminated containers, kept as last read.
//!
//! ACI keeps the last 16 KB or 1,000 lines of a stopped container instance for
//! as long as its container group exists. When vk reads the whole log of a
//! container the pod's status shows terminated, it keeps that answer, so
//! `kubectl logs` still works if ACI later cannot answer (the group was
//! deleted or replaced while the pod remains). Memory is bounded: at most
//! [`MAX_ENTRY_BYTES`] per container (the oldest lines go first) and
//! [`MAX_ENTRIES`] containers (the oldest entry goes first); entries of pods
//! no longer on the node are dropped.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// Bytes kept per container: ACI's 16 KB plus room for the timestamps of 1,000 lines.
pub(crate) const MAX_ENTRY_BYTES: usize = 64 << 10;
/// Containers kept.
pub(crate) const MAX_ENTRIES: usize = 1024;

/// Which container: the pod's UID and the container's name.
pub(crate) type Key = (String, String);

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct KeptLogs {
    entries: Mutex<VecDeque<(Key, String)>>,
}

impl KeptLogs {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Key, String)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps (the end of) `log` for `key`, dropping entries of pods not in `live`.
    pub(crate) fn keep(&self, key: Key, log: &str, live: &HashSet<String>) {
        let mut start = log.len().saturating_sub(MAX_ENTRY_BYTES);
        if start > 0 {
            start = log[start..].find('\n').map_or(log.len(), |i| start + i + 1);
        }
        let mut entries = self.lock();
        entries.retain(|(k, _)| *k != key && live.contains(&k.0));
        entries.push_back((key, log[start..].to_owned()));
        while entries.len() > MAX_ENTRIES {
            entries.pop_front();
        }
    }

    /// The kept log of `key`, its last `tail` lines when given.
    pub(crate) fn get(&self, key: &Key, tail: Option<u64>) -> Option<String> {
        let entries = self.lock();
        let (_, log) = entries.iter().find(|(k, _)| k == key)?;
        let Some(n) = tail else {
            return Some(log.clone());
        };
        let lines: Vec<&str> = log.lines().collect();
        let skip = lines
            .len()
            .saturating_sub(usize::try_from(n).unwrap_or(usize::MAX));
        Some(lines[skip..].iter().map(|l| format!("{l}\n")).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(uid: &str) -> Key {
        (uid.to_owned(), "c".to_owned())
    }

    #[test]
    fn keeps_bounded_logs_of_live_pods() {
        let kept = KeptLogs::default();
        let live: HashSet<String> = ["a".to_owned(), "b".to_owned()].into();
        kept.keep(key("a"), "1\n2\n3\n", &live);
        assert_eq!(kept.get(&key("a"), Some(2)).as_deref(), Some("2\n3\n"));
        assert_eq!(kept.get(&key("a"), None).as_deref(), Some("1\n2\n3\n"));
        let big = "x".repeat(1000) + "\n";
        kept.keep(key("b"), &big.repeat(100), &live);
        let got = kept.get(&key("b"), None).unwrap_or_default();
        assert!(got.len() <= MAX_ENTRY_BYTES && got.starts_with('x') && got.ends_with('\n'));
        // Pod a is gone: its entry goes with the next keep.
        let live: HashSet<String> = ["b".to_owned()].into();
        kept.keep(key("b"), "new\n", &live);
        assert_eq!(kept.get(&key("a"), None), None);
        assert_eq!(kept.get(&key("b"), None).as_deref(), Some("new\n"));
    }
}
