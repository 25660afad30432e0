//! The simulated file system of an emulated container: an in-memory map of
//! directories and files, so that what `kubectl cp` (or `cat > file` in an
//! exec session) writes can be read back. It is a simulation: no image
//! contents, no permissions, no links; a container starts with a few empty
//! directories, and holds at most [`CAPACITY`] bytes.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Bytes of file content a container may hold ("No space left on device" beyond).
pub(crate) const CAPACITY: usize = 64 << 20;

/// One regular file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct File {
    #[serde(with = "b64")]
    pub(crate) data: Vec<u8>,
    pub(crate) mode: u32,
    pub(crate) mtime: u64,
}

/// A container's directories and files, keyed by absolute normalized path.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Files {
    dirs: BTreeSet<String>,
    files: BTreeMap<String, File>,
}

impl Default for Files {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a file operation failed (the text is the usual `strerror`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FsError {
    NotFound,
    NotDir,
    IsDir,
    Exists,
    NoSpace,
    NotEmpty,
}

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FsError::NotFound => "No such file or directory",
            FsError::NotDir => "Not a directory",
            FsError::IsDir => "Is a directory",
            FsError::Exists => "File exists",
            FsError::NoSpace => "No space left on device",
            FsError::NotEmpty => "Directory not empty",
        })
    }
}

/// `path` made absolute against `cwd`, with `.`, `..` and repeated `/` resolved.
pub(crate) fn normalize(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Files {
    /// A fresh container file system.
    pub(crate) fn new() -> Self {
        let dirs = [
            "/", "/bin", "/dev", "/etc", "/home", "/proc", "/root", "/tmp", "/usr", "/var",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        let files = BTreeMap::new();
        Self { dirs, files }
    }

    fn used(&self) -> usize {
        self.files.values().map(|f| f.data.len()).sum()
    }

    pub(crate) fn is_dir(&self, path: &str) -> bool {
        self.dirs.contains(path)
    }

    pub(crate) fn is_file(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    pub(crate) fn read(&self, path: &str) -> Result<&File, FsError> {
        if self.is_dir(path) {
            return Err(FsError::IsDir);
        }
        self.files.get(path).ok_or(FsError::NotFound)
    }

    /// Writes (or appends to) a file whose directory exists.
    pub(crate) fn write(&mut self, path: &str, data: &[u8], append: bool) -> Result<(), FsError> {
        if self.is_dir(path) {
            return Err(FsError::IsDir);
        }
        if !self.is_dir(parent(path)) {
            return Err(if self.is_file(parent(path)) {
                FsError::NotDir
            } else {
                FsError::NotFound
            });
        }
        let old = self.files.get(path).map_or(0, |f| f.data.len());
        let new_len = if append { old + data.len() } else { data.len() };
        if self.used() - old + new_len > CAPACITY {
            return Err(FsError::NoSpace);
        }
        let file = self.files.entry(path.to_owned()).or_insert_with(|| File {
            data: Vec::new(),
            mode: 0o644,
            mtime: 0,
        });
        if !append {
            file.data.clear();
        }
        file.data.extend_from_slice(data);
        file.mtime = unix_now();
        Ok(())
    }

    pub(crate) fn set_mode(&mut self, path: &str, mode: u32, mtime: Option<u64>) {
        if let Some(f) = self.files.get_mut(path) {
            f.mode = mode & 0o7777;
            if let Some(t) = mtime {
                f.mtime = t;
            }
        }
    }

    /// Creates a directory (and its parents with `parents`).
    pub(crate) fn mkdir(&mut self, path: &str, parents: bool) -> Result<(), FsError> {
        if self.is_file(path) {
            return Err(FsError::Exists);
        }
        if self.is_dir(path) {
            return if parents {
                Ok(())
            } else {
                Err(FsError::Exists)
            };
        }
        let up = parent(path);
        if !self.is_dir(up) {
            if !parents {
                return Err(FsError::NotFound);
            }
            self.mkdir(up, true)?;
        }
        self.dirs.insert(path.to_owned());
        Ok(())
    }

    /// Removes a file, or a directory (recursively with `recursive`).
    pub(crate) fn remove(&mut self, path: &str, recursive: bool) -> Result<(), FsError> {
        if self.files.remove(path).is_some() {
            return Ok(());
        }
        if !self.is_dir(path) {
            return Err(FsError::NotFound);
        }
        let prefix = if path == "/" {
            "/".to_owned()
        } else {
            format!("{path}/")
        };
        let has_children = self.dirs.iter().any(|d| d.starts_with(&prefix))
            || self.files.keys().any(|f| f.starts_with(&prefix));
        if has_children && !recursive {
            return Err(FsError::NotEmpty);
        }
        self.dirs.retain(|d| !d.starts_with(&prefix));
        self.files.retain(|f, _| !f.starts_with(&prefix));
        if path != "/" {
            self.dirs.remove(path);
        }
        Ok(())
    }

    /// The names directly inside a directory, sorted.
    pub(crate) fn list(&self, path: &str) -> Result<Vec<String>, FsError> {
        if self.is_file(path) {
            return Ok(vec![path.rsplit('/').next().unwrap_or(path).to_owned()]);
        }
        if !self.is_dir(path) {
            return Err(FsError::NotFound);
        }
        let prefix = if path == "/" {
            "/".to_owned()
        } else {
            format!("{path}/")
        };
        let direct = |p: &String| {
            p.strip_prefix(&prefix)
                .filter(|rest| !rest.is_empty() && !rest.contains('/'))
                .map(str::to_owned)
        };
        let mut names: Vec<String> = self
            .dirs
            .iter()
            .filter_map(direct)
            .chain(self.files.keys().filter_map(direct))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Everything under `path` (itself first), as (path, file or `None` for a directory).
    pub(crate) fn walk(&self, path: &str) -> Vec<(String, Option<File>)> {
        if let Some(f) = self.files.get(path) {
            return vec![(path.to_owned(), Some(f.clone()))];
        }
        if !self.is_dir(path) {
            return Vec::new();
        }
        let prefix = if path == "/" {
            "/".to_owned()
        } else {
            format!("{path}/")
        };
        let mut out = vec![(path.to_owned(), None)];
        let mut entries: Vec<(String, Option<File>)> = self
            .dirs
            .iter()
            .filter(|d| d.starts_with(&prefix) && d.as_str() != path)
            .map(|d| (d.clone(), None))
            .chain(
                self.files
                    .iter()
                    .filter(|(p, _)| p.starts_with(&prefix))
                    .map(|(p, f)| (p.clone(), Some(f.clone()))),
            )
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        out.extend(entries);
        out
    }
}

mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(data))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_files() {
        assert_eq!(normalize("/tmp", "a/../b/./c"), "/tmp/b/c");
        assert_eq!(normalize("/", "/../x//y/"), "/x/y");
        let mut fs = Files::new();
        assert_eq!(fs.write("/nope/x", b"1", false), Err(FsError::NotFound));
        fs.mkdir("/a/b", true).expect("mkdir -p");
        fs.write("/a/b/f", b"hello", false).expect("write");
        fs.write("/a/b/f", b"!", true).expect("append");
        assert_eq!(fs.read("/a/b/f").expect("read").data, b"hello!");
        assert_eq!(fs.list("/a").expect("list"), ["b"]);
        assert_eq!(fs.remove("/a", false), Err(FsError::NotEmpty));
        fs.remove("/a", true).expect("rm -r");
        assert!(!fs.is_dir("/a/b") && !fs.is_file("/a/b/f"));
        assert_eq!(
            fs.write("/tmp/big", &vec![0; CAPACITY + 1], false),
            Err(FsError::NoSpace)
        );
    }
}
