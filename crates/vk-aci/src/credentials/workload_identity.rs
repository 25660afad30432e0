//! Workload identity: exchange the projected service-account token in
//! `AZURE_FEDERATED_TOKEN_FILE` for an Entra ID token (client-assertion grant).

use std::path::PathBuf;

use futures::future::BoxFuture;

use super::{AccessToken, TokenCredential, token_endpoint};
use crate::error::{Failure, FailureKind};
use crate::url::{Url, join, parse_endpoint};
use crate::{AzureCloud, Error};

/// Settings of workload identity, normally injected by its webhook as environment variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadIdentityConfig {
    /// `AZURE_CLIENT_ID`.
    pub client_id: String,
    /// `AZURE_TENANT_ID`.
    pub tenant_id: String,
    /// `AZURE_FEDERATED_TOKEN_FILE`, re-read on each request (the kubelet rotates it).
    pub federated_token_file: PathBuf,
    /// `AZURE_AUTHORITY_HOST` (public cloud when unset).
    pub authority_host: String,
}

impl WorkloadIdentityConfig {
    /// Reads `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_FEDERATED_TOKEN_FILE` and
    /// `AZURE_AUTHORITY_HOST` through `get` (e.g. `|k| std::env::var(k).ok()`).
    pub fn from_env_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let need = |key: &str| {
            get(key)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| Error::Config {
                    message: format!("workload identity needs {key}"),
                })
        };
        Ok(Self {
            client_id: need("AZURE_CLIENT_ID")?,
            tenant_id: need("AZURE_TENANT_ID")?,
            federated_token_file: PathBuf::from(need("AZURE_FEDERATED_TOKEN_FILE")?),
            authority_host: get("AZURE_AUTHORITY_HOST")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| AzureCloud::public().authority_host),
        })
    }
}

/// Client-assertion grant with the federated token as the assertion.
#[derive(Clone, Debug)]
pub struct WorkloadIdentityCredential {
    http: reqwest::Client,
    config: WorkloadIdentityConfig,
    token_url: Url,
}

impl WorkloadIdentityCredential {
    /// A credential from `config`.
    pub fn new(http: reqwest::Client, config: WorkloadIdentityConfig) -> Result<Self, Error> {
        let authority = parse_endpoint(&config.authority_host, "authority host")?;
        let token_url = join(&authority, &[&config.tenant_id, "oauth2", "v2.0", "token"])
            .map_err(|message| Error::Config { message })?;
        Ok(Self {
            http,
            config,
            token_url,
        })
    }

    fn label(&self) -> String {
        format!(
            "workload identity (tenant {}, client {})",
            self.config.tenant_id, self.config.client_id
        )
    }
}

impl TokenCredential for WorkloadIdentityCredential {
    fn get_token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(async move {
            let label = self.label();
            let assertion = tokio::fs::read_to_string(&self.config.federated_token_file)
                .await
                .map_err(|e| Error::Token {
                    credential: label.clone(),
                    failure: Failure::new(
                        FailureKind::Io,
                        format!("cannot read {}", self.config.federated_token_file.display()),
                    )
                    .with_source(e),
                })?;
            let assertion = crate::Secret::new(assertion.trim().to_owned());
            token_endpoint::fetch(&label, &[], || {
                self.http.post(self.token_url.clone()).form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", self.config.client_id.as_str()),
                    ("scope", scope),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.expose().as_str()),
                ])
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_env_vars_reads_the_four_variables() {
        let env = |k: &str| match k {
            "AZURE_CLIENT_ID" => Some("c".to_owned()),
            "AZURE_TENANT_ID" => Some("t".to_owned()),
            "AZURE_FEDERATED_TOKEN_FILE" => Some("/tok".to_owned()),
            _ => None,
        };
        let cfg = WorkloadIdentityConfig::from_env_vars(env).unwrap();
        assert_eq!(cfg.authority_host, "https://login.microsoftonline.com/");
        assert_eq!(cfg.federated_token_file, PathBuf::from("/tok"));
        assert!(WorkloadIdentityConfig::from_env_vars(|_| None).is_err());
    }
}
