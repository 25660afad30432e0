//! Managed identity through the Instance Metadata Service (VMs, VM scale sets, AKS nodes).

use futures::future::BoxFuture;

use super::{AccessToken, TokenCredential, token_endpoint};
use crate::Error;
use crate::url::{Url, parse_endpoint};

/// The IMDS token endpoint.
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

/// `GET {IMDS}?api-version=2018-02-01&resource=...` with `Metadata: true`, optionally selecting a
/// user-assigned identity by client id or ARM resource id.
///
/// IMDS must be reached directly: give it an HTTP client without a proxy.
#[derive(Clone, Debug)]
pub struct ManagedIdentityCredential {
    http: reqwest::Client,
    endpoint: Option<Url>,
    client_id: Option<String>,
    resource_id: Option<String>,
}

impl ManagedIdentityCredential {
    /// The system-assigned identity (or the only user-assigned one), via [`IMDS_ENDPOINT`].
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            endpoint: None,
            client_id: None,
            resource_id: None,
        }
    }

    /// Selects a user-assigned identity by client id (empty means none).
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into()).filter(|c| !c.is_empty());
        self
    }

    /// Selects a user-assigned identity by ARM resource id (`msi_res_id`).
    pub fn with_resource_id(mut self, resource_id: impl Into<String>) -> Self {
        self.resource_id = Some(resource_id.into()).filter(|c| !c.is_empty());
        self
    }

    /// Uses another token endpoint (an emulator).
    pub fn with_endpoint(mut self, endpoint: &str) -> Result<Self, Error> {
        self.endpoint = Some(parse_endpoint(endpoint, "managed identity endpoint")?);
        Ok(self)
    }

    fn label(&self) -> String {
        match &self.client_id {
            Some(id) => format!("managed identity (client {id})"),
            None => "managed identity".to_owned(),
        }
    }
}

impl TokenCredential for ManagedIdentityCredential {
    fn get_token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(async move {
            let resource = token_endpoint::scope_to_resource(scope);
            let mut url = match &self.endpoint {
                Some(url) => url.clone(),
                None => parse_endpoint(IMDS_ENDPOINT, "managed identity endpoint")?,
            };
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("api-version", "2018-02-01");
                query.append_pair("resource", &resource);
                if let Some(id) = &self.client_id {
                    query.append_pair("client_id", id);
                }
                if let Some(id) = &self.resource_id {
                    query.append_pair("msi_res_id", id);
                }
            }
            let label = self.label();
            // IMDS answers 404 and 410 while it is updating: retry those too.
            token_endpoint::fetch(&label, &[404, 410], || {
                self.http.get(url.clone()).header("Metadata", "true")
            })
            .await
        })
    }
}
