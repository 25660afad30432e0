//! Service principal with a client secret (Entra ID v2 client-credentials grant).

use futures::future::BoxFuture;

use super::{AccessToken, TokenCredential, token_endpoint};
use crate::url::{Url, join, parse_endpoint};
use crate::{Error, Secret};

/// `POST {authority}/{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`.
#[derive(Clone, Debug)]
pub struct ClientSecretCredential {
    http: reqwest::Client,
    token_url: Url,
    tenant_id: String,
    client_id: String,
    client_secret: Secret,
}

impl ClientSecretCredential {
    /// A credential for `client_id` in `tenant_id` at `authority_host`
    /// (e.g. [`AzureCloud::authority_host`](crate::AzureCloud::authority_host)).
    pub fn new(
        http: reqwest::Client,
        authority_host: &str,
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
    ) -> Result<Self, Error> {
        let tenant_id = tenant_id.into();
        let client_id = client_id.into();
        if tenant_id.is_empty() || client_id.is_empty() {
            return Err(Error::Config {
                message: "client secret credential needs a tenant id and a client id".into(),
            });
        }
        let authority = parse_endpoint(authority_host, "authority host")?;
        let token_url = join(&authority, &[&tenant_id, "oauth2", "v2.0", "token"])
            .map_err(|message| Error::Config { message })?;
        Ok(Self {
            http,
            token_url,
            tenant_id,
            client_id,
            client_secret,
        })
    }

    fn label(&self) -> String {
        format!(
            "client secret credential (tenant {}, client {})",
            self.tenant_id, self.client_id
        )
    }
}

impl TokenCredential for ClientSecretCredential {
    fn get_token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(async move {
            let label = self.label();
            token_endpoint::fetch(&label, &[], || {
                self.http.post(self.token_url.clone()).form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", self.client_id.as_str()),
                    ("client_secret", self.client_secret.expose().as_str()),
                    ("scope", scope),
                ])
            })
            .await
        })
    }
}
