//! The serving certificate and the rustls server configuration.
//!
//! The ring provider is passed explicitly; nothing is installed process-wide. Client
//! certificates are requested but optional (tokens and anonymous requests must still get
//! through): when one is presented it must chain to the client CA, and its subject becomes the
//! request's identity.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

/// Where the serving certificate comes from.
#[derive(Clone)]
pub enum TlsSource {
    /// PEM files: a certificate chain and its private key.
    Files {
        /// Certificate chain (leaf first).
        cert: PathBuf,
        /// Private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
    /// A certificate generated at start and signed by this CA (PEM), for these DNS names / IPs.
    Generated {
        /// CA certificate, PEM.
        ca_cert: String,
        /// CA private key, PEM.
        ca_key: String,
        /// Subject alternative names (DNS names or IP addresses).
        sans: Vec<String>,
    },
    /// A self-signed certificate generated at start (the last resort: API servers that verify
    /// kubelet certificates will refuse it).
    SelfSigned {
        /// Subject alternative names.
        sans: Vec<String>,
    },
}

impl std::fmt::Debug for TlsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsSource::Files { cert, key } => f
                .debug_struct("Files")
                .field("cert", cert)
                .field("key", key)
                .finish(),
            TlsSource::Generated { sans, .. } => f
                .debug_struct("Generated")
                .field("sans", sans)
                .finish_non_exhaustive(),
            TlsSource::SelfSigned { sans } => {
                f.debug_struct("SelfSigned").field("sans", sans).finish()
            }
        }
    }
}

fn read(path: &PathBuf) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::ReadFile {
        path: path.clone(),
        source,
    })
}

fn tls(message: impl std::fmt::Display) -> Error {
    Error::Tls(message.to_string())
}

/// Parses a PEM certificate chain.
pub(crate) fn certs_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls(format!("bad certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(tls("no certificate in PEM"));
    }
    Ok(certs)
}

fn leaf_params(sans: &[String]) -> Result<rcgen::CertificateParams, Error> {
    let mut params = rcgen::CertificateParams::new(sans.to_vec())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "vk-kubelet");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

/// The certificate chain and key to serve.
pub(crate) fn load(
    source: &TlsSource,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    match source {
        TlsSource::Files { cert, key } => {
            let chain = certs_from_pem(&read(cert)?)?;
            let key = PrivateKeyDer::from_pem_slice(&read(key)?)
                .map_err(|e| tls(format!("bad private key PEM: {e}")))?;
            Ok((chain, key))
        }
        TlsSource::Generated {
            ca_cert,
            ca_key,
            sans,
        } => {
            let ca_key = rcgen::KeyPair::from_pem(ca_key)?;
            let issuer = rcgen::Issuer::from_ca_cert_pem(ca_cert, ca_key)?;
            let key = rcgen::KeyPair::generate()?;
            let cert = leaf_params(sans)?.signed_by(&key, &issuer)?;
            let mut chain = vec![cert.der().clone()];
            chain.extend(certs_from_pem(ca_cert.as_bytes())?);
            let key = PrivateKeyDer::try_from(key.serialize_der()).map_err(tls)?;
            Ok((chain, key))
        }
        TlsSource::SelfSigned { sans } => {
            let key = rcgen::KeyPair::generate()?;
            let cert = leaf_params(sans)?.self_signed(&key)?;
            let key = PrivateKeyDer::try_from(key.serialize_der()).map_err(tls)?;
            Ok((vec![cert.der().clone()], key))
        }
    }
}

/// The rustls server configuration: TLS 1.2+, HTTP/1.1, optional client certificates.
pub(crate) fn server_config(
    source: &TlsSource,
    client_ca: Option<&str>,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(tls)?;
    let builder = match client_ca {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certs_from_pem(pem.as_bytes())? {
                roots.add(cert).map_err(tls)?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(tls)?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let (chain, key) = load(source)?;
    let mut config = builder.with_single_cert(chain, key).map_err(tls)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_builds_a_config() {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&ca_key).unwrap();
        let sans = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        server_config(
            &TlsSource::Generated {
                ca_cert: ca.pem(),
                ca_key: ca_key.serialize_pem(),
                sans: sans.clone(),
            },
            Some(&ca.pem()),
        )
        .unwrap();
        server_config(&TlsSource::SelfSigned { sans }, None).unwrap();
        let dir = std::env::temp_dir().join(format!("vk-kapi-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let leaf = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        std::fs::write(dir.join("c.pem"), leaf.cert.pem()).unwrap();
        std::fs::write(dir.join("k.pem"), leaf.signing_key.serialize_pem()).unwrap();
        server_config(
            &TlsSource::Files {
                cert: dir.join("c.pem"),
                key: dir.join("k.pem"),
            },
            None,
        )
        .unwrap();
        assert!(
            server_config(
                &TlsSource::Files {
                    cert: dir.join("missing.pem"),
                    key: dir.join("k.pem"),
                },
                None,
            )
            .is_err()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
