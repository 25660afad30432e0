//! The kubelet API's TLS and authentication as an operator writes them (the
//! `[kubelet]` table of vk's configuration file): [`KubeletConfig::validate`]
//! names a bad key, [`KubeletConfig::tls_source`] and
//! [`KubeletConfig::auth_config`] turn it into what [`crate::KubeletServer`]
//! serves with.
//!
//! ```
//! use vk_kubelet_api::{KubeletConfig, TlsSource};
//!
//! let config = KubeletConfig::default();
//! config.validate().unwrap();
//! // No certificate configured: a self-signed one for the node's names.
//! let tls = config.tls_source(vec!["10.0.0.4".into(), "my-node".into()]);
//! assert!(matches!(tls, TlsSource::SelfSigned { .. }));
//! let auth = config.auth_config(None).unwrap();
//! assert!(!auth.anonymous && auth.client_ca.is_none());
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{AuthConfig, Error, TlsSource};

/// The kubelet API's TLS and authentication.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct KubeletConfig {
    /// Serving certificate (PEM); with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// Serving key (PEM); with `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// CA bundle that client certificates must chain to.
    pub client_ca: Option<PathBuf>,
    /// Let unauthenticated requests through (never in production).
    pub anonymous_auth: bool,
}

/// How long token reviews and allow decisions are cached (the kubelet's
/// `--authentication-token-webhook-cache-ttl` is 2 minutes; vk revokes sooner).
const AUTH_CACHE_TTL: Duration = Duration::from_secs(60);

impl KubeletConfig {
    /// Checks every key and returns each problem as an
    /// [`Error::InvalidConfig`] naming it (`tls_key`, `client_ca`): a
    /// certificate without its key (or the reverse), and files that cannot be
    /// read.
    pub fn validate(&self) -> Result<(), Vec<Error>> {
        let mut errors = Vec::new();
        let mut add = |field: &'static str, reason: String| {
            errors.push(Error::InvalidConfig { field, reason });
        };
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                for (field, path) in [("tls_cert", cert), ("tls_key", key)] {
                    if let Err(reason) = readable_file(path) {
                        add(field, reason);
                    }
                }
            }
            (Some(_), None) => add("tls_key", "required with kubelet.tls_cert".into()),
            (None, Some(_)) => add("tls_cert", "required with kubelet.tls_key".into()),
            (None, None) => {}
        }
        if let Some(ca) = &self.client_ca
            && let Err(reason) = readable_file(ca)
        {
            add("client_ca", reason);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The serving certificate: the configured files, else a self-signed
    /// certificate for `sans` (the node's address and name; API servers do not
    /// verify kubelet certificates unless told to).
    #[must_use]
    pub fn tls_source(&self, sans: Vec<String>) -> TlsSource {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            _ => TlsSource::SelfSigned { sans },
        }
    }

    /// Authentication and authorization like a kubelet in webhook mode:
    /// client certificates against `client_ca` (read now), bearer tokens and
    /// authorization through `kube` (TokenReview, SubjectAccessReview),
    /// decisions cached for a minute.
    pub fn auth_config(&self, kube: Option<kube::Client>) -> Result<AuthConfig, Error> {
        let client_ca = self
            .client_ca
            .as_ref()
            .map(|path| {
                std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
                    path: path.clone(),
                    source,
                })
            })
            .transpose()?;
        Ok(AuthConfig {
            client_ca,
            anonymous: self.anonymous_auth,
            kube,
            cache_ttl: AUTH_CACHE_TTL,
        })
    }
}

fn readable_file(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(md) if md.is_file() => Ok(()),
        Ok(_) => Err(format!("{} is not a file", path.display())),
        Err(err) => Err(format!("cannot read {}: {err}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(config: &KubeletConfig) -> Vec<String> {
        config
            .validate()
            .err()
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_certificate_needs_its_key_and_files_must_exist() {
        let mut config = KubeletConfig {
            tls_cert: Some("c.pem".into()),
            ..KubeletConfig::default()
        };
        assert_eq!(
            problems(&config),
            ["kubelet configuration: tls_key: required with kubelet.tls_cert"]
        );
        config.tls_cert = None;
        config.tls_key = Some("k.pem".into());
        assert_eq!(
            problems(&config),
            ["kubelet configuration: tls_cert: required with kubelet.tls_key"]
        );
        config.tls_cert = Some(std::env::current_exe().unwrap());
        config.client_ca = Some("/nonexistent/ca.pem".into());
        let found = problems(&config);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].contains("tls_key: cannot read k.pem"),
            "{found:#?}"
        );
        assert!(found[1].contains("client_ca: cannot read /nonexistent/ca.pem"));
        config.client_ca = Some(std::env::temp_dir());
        assert!(
            problems(&config)
                .iter()
                .any(|p| p.ends_with("is not a file"))
        );
    }

    #[test]
    fn configured_files_are_served_else_a_self_signed_certificate() {
        let files = KubeletConfig {
            tls_cert: Some("c.pem".into()),
            tls_key: Some("k.pem".into()),
            ..KubeletConfig::default()
        };
        assert!(matches!(
            files.tls_source(vec!["n".into()]),
            TlsSource::Files { cert, key } if cert == Path::new("c.pem") && key == Path::new("k.pem")
        ));
        assert!(matches!(
            KubeletConfig::default().tls_source(vec!["n".into()]),
            TlsSource::SelfSigned { sans } if sans == ["n"]
        ));
    }

    #[test]
    fn the_client_ca_is_read_when_auth_is_built() {
        let dir = std::env::temp_dir().join(format!("vk-kubelet-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, "PEM").unwrap();
        let config = KubeletConfig {
            client_ca: Some(ca.clone()),
            anonymous_auth: true,
            ..KubeletConfig::default()
        };
        let auth = config.auth_config(None).unwrap();
        assert_eq!(auth.client_ca.as_deref(), Some("PEM"));
        assert!(auth.anonymous);
        std::fs::remove_file(&ca).unwrap();
        assert!(matches!(
            config.auth_config(None),
            Err(Error::ReadFile { path, .. }) if path == ca
        ));
    }
}
