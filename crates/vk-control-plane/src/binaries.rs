//! Where the control-plane binaries come from.

use std::path::{Path, PathBuf};

use crate::Error;

/// The Kubernetes version of the local control plane (Debian's full source package).
pub const KUBERNETES_VERSION: &str = "1.20.2";

/// The environment variable naming a directory with prebuilt binaries.
pub const BIN_ENV: &str = "VK_CONTROL_PLANE_BIN";

/// The paths of the four control-plane programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    /// `etcd` (3.4 or newer).
    pub etcd: PathBuf,
    /// `kube-apiserver`.
    pub apiserver: PathBuf,
    /// `kube-scheduler`.
    pub scheduler: PathBuf,
    /// `kube-controller-manager`.
    pub controller_manager: PathBuf,
}

/// The directory where built binaries are cached:
/// `$XDG_CACHE_HOME/vk/control-plane/v<version>` or `~/.cache/vk/control-plane/v<version>`.
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("vk")
        .join("control-plane")
        .join(format!("v{KUBERNETES_VERSION}"))
}

const KUBE_BINARIES: [&str; 3] = [
    "kube-apiserver",
    "kube-scheduler",
    "kube-controller-manager",
];

impl Binaries {
    /// Finds the binaries without building anything: `$VK_CONTROL_PLANE_BIN`
    /// if set (it must hold all three Kubernetes binaries), else the cache.
    /// `etcd` is taken from the same directory if present there, else from `PATH`.
    pub fn resolve() -> Result<Self, Error> {
        match std::env::var_os(BIN_ENV) {
            Some(dir) => Self::in_dir(Path::new(&dir)),
            None => Self::in_dir(&cache_dir()),
        }
    }

    /// Finds the three Kubernetes binaries in `dir`, and `etcd` in `dir` or on `PATH`.
    pub fn in_dir(dir: &Path) -> Result<Self, Error> {
        let find = |name: &str| {
            let p = dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(Error::BinaryMissing {
                    binary: name.to_owned(),
                    looked_in: dir.display().to_string(),
                })
            }
        };
        let etcd = if dir.join("etcd").is_file() {
            dir.join("etcd")
        } else {
            which("etcd").ok_or_else(|| Error::BinaryMissing {
                binary: "etcd".into(),
                looked_in: format!(
                    "{} and PATH (Debian: apt-get install etcd-server)",
                    dir.display()
                ),
            })?
        };
        Ok(Self {
            etcd,
            apiserver: find(KUBE_BINARIES[0])?,
            scheduler: find(KUBE_BINARIES[1])?,
            controller_manager: find(KUBE_BINARIES[2])?,
        })
    }

    /// Like [`Binaries::resolve`], but builds the Kubernetes binaries into the
    /// cache first when they are missing and `$VK_CONTROL_PLANE_BIN` is unset.
    pub fn resolve_or_build() -> Result<Self, Error> {
        if std::env::var_os(BIN_ENV).is_some() {
            return Self::resolve();
        }
        let cache = cache_dir();
        if KUBE_BINARIES.iter().any(|b| !cache.join(b).is_file()) || which("etcd").is_none() {
            crate::build::build_from_debian_source(&cache)?;
        }
        Self::in_dir(&cache)
    }
}

/// Looks a program up on `PATH`.
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_dir_names_the_missing_binary() {
        let dir = std::env::temp_dir().join(format!("vk-cp-bins-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("etcd"), b"").unwrap();
        std::fs::write(dir.join("kube-apiserver"), b"").unwrap();
        let err = Binaries::in_dir(&dir).unwrap_err();
        assert!(err.to_string().contains("kube-scheduler"), "{err}");
        std::fs::write(dir.join("kube-scheduler"), b"").unwrap();
        std::fs::write(dir.join("kube-controller-manager"), b"").unwrap();
        let bins = Binaries::in_dir(&dir).unwrap();
        assert_eq!(bins.etcd, dir.join("etcd"));
        assert_eq!(bins.controller_manager, dir.join("kube-controller-manager"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
