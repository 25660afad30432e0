//! Builds kube-apiserver, kube-scheduler and kube-controller-manager from
//! Debian's Kubernetes 1.20.2 source package (the newest full tree Debian
//! carries), exactly as Debian's own packaging does, and caches them.
//!
//! This shells out to `apt-get`, `tar` and `make` on purpose: the build is the
//! upstream Makefile's, and no Rust crate replaces a Go toolchain.

use std::path::Path;
use std::process::Command;

use crate::{Error, binaries::which};

/// The Debian source package version holding the full 1.20.2 tree.
pub const DEBIAN_SOURCE_VERSION: &str = "1.20.5+really1.20.2-1.1+deb12u1";
const ORIG_TARBALL: &str = "kubernetes_1.20.5+really1.20.2.orig.tar.gz";
const SOURCES_FILE: &str = "/etc/apt/sources.list.d/vk-debian-src.sources";

fn run(step: &str, cmd: &mut Command) -> Result<(), Error> {
    eprintln!("==> [control-plane build] {step}");
    let status = cmd.status().map_err(|e| Error::BuildStep {
        step: step.to_owned(),
        detail: e.to_string(),
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::BuildStep {
            step: step.to_owned(),
            detail: format!("exited with {status}"),
        })
    }
}

/// Installs the build tools with apt (golang-go, etcd-server, rsync) when they
/// are missing, downloads and unpacks the source, runs the upstream `make`
/// (about 10 minutes on 2 cores, progress on stderr), and copies the three
/// binaries into `dest`. The source tree is removed afterwards.
pub fn build_from_debian_source(dest: &Path) -> Result<(), Error> {
    if which("apt-get").is_none() {
        return Err(Error::NoApt {
            version: crate::KUBERNETES_VERSION,
            cache: dest.to_owned(),
        });
    }
    let have_deb_src = std::fs::read_dir("/etc/apt/sources.list.d")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|s| s.contains("deb-src")));
    if !have_deb_src {
        std::fs::write(
            SOURCES_FILE,
            "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\
             Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
        )
        .map_err(Error::io("writing", SOURCES_FILE))?;
    }
    run(
        "apt-get update",
        Command::new("apt-get").args(["update", "-q"]),
    )?;
    let mut need = vec![];
    for (bin, pkg) in [
        ("go", "golang-go"),
        ("etcd", "etcd-server"),
        ("rsync", "rsync"),
        ("make", "make"),
    ] {
        if which(bin).is_none() {
            need.push(pkg);
        }
    }
    if !need.is_empty() {
        run(
            &format!("apt-get install {}", need.join(" ")),
            Command::new("apt-get")
                .args(["install", "-y", "-q", "--no-install-recommends"])
                .args(&need)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }

    let work = dest.with_file_name("build");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(Error::io("creating", &work))?;
    run(
        "apt-get source (download)",
        Command::new("apt-get")
            .args(["source", "--download-only", "-q"])
            .arg(format!("kubernetes={DEBIAN_SOURCE_VERSION}"))
            .current_dir(&work),
    )?;
    run(
        "unpack source",
        Command::new("tar")
            .args(["xzf", ORIG_TARBALL])
            .current_dir(&work),
    )?;
    let tree = work.join("kubernetes-1.20.2");
    let link_dir = tree.join(".go/src/k8s.io");
    std::fs::create_dir_all(&link_dir).map_err(Error::io("creating", &link_dir))?;
    let link = link_dir.join("kubernetes");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("../../..", &link).map_err(Error::io("linking", &link))?;
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    run(
        "make kube-apiserver kube-scheduler kube-controller-manager (about 10 minutes)",
        Command::new("make")
            .arg("WHAT=cmd/kube-apiserver cmd/kube-scheduler cmd/kube-controller-manager")
            .env("GOPATH", tree.join(".go"))
            .env("CGO_ENABLED", "0")
            .env("HOME", home)
            .current_dir(&tree),
    )?;
    std::fs::create_dir_all(dest).map_err(Error::io("creating", dest))?;
    for bin in [
        "kube-apiserver",
        "kube-scheduler",
        "kube-controller-manager",
    ] {
        let from = tree.join("_output/bin").join(bin);
        let tmp = dest.join(format!(".{bin}.tmp"));
        std::fs::copy(&from, &tmp).map_err(Error::io("copying", &from))?;
        std::fs::rename(&tmp, dest.join(bin)).map_err(Error::io("installing", dest.join(bin)))?;
    }
    let _ = std::fs::remove_dir_all(&work);
    eprintln!(
        "==> [control-plane build] binaries cached in {}",
        dest.display()
    );
    Ok(())
}
