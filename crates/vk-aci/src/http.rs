//! The HTTP client: rustls with the ring provider chosen explicitly (no process-wide provider is
//! installed) and the platform's trust roots. Plain `http://` URLs work as well.

use std::sync::Arc;
use std::time::Duration;

use crate::Error;

/// A rustls client configuration using ring and the platform's certificate store,
/// offering HTTP/2 and HTTP/1.1 through ALPN.
pub fn tls_config() -> Result<rustls::ClientConfig, Error> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config {
            message: format!("TLS set-up failed: {e}"),
        })?
        .with_platform_verifier()
        .map_err(|e| Error::Config {
            message: format!("TLS trust roots unavailable: {e}"),
        })?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A `reqwest` client suitable for Resource Manager and the token endpoints: the TLS
/// configuration of [`tls_config`], a 10 s connect timeout and this crate's user agent.
/// Per-call timeouts are set on each request.
pub fn http_client() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("vk-aci/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Config {
            message: format!("HTTP client set-up failed: {e}"),
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_without_a_global_provider() {
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
        super::http_client().unwrap();
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    }
}
