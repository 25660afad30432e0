//! Access tokens for Resource Manager behind one trait, [`TokenCredential`].
//!
//! Flows: [`ClientSecretCredential`] (Entra ID v2 client credentials),
//! [`ManagedIdentityCredential`] (IMDS), [`WorkloadIdentityCredential`] (federated token file),
//! [`AzureJson`] (the AKS `/etc/kubernetes/azure.json` file, choosing one of the first two) and
//! [`StaticTokenCredential`] (tests). [`CachingCredential`] caches tokens, refreshes them before
//! they expire and lets concurrent callers share one refresh; [`crate::ContainerInstances`]
//! wraps its credential in one by default.

mod azure_json;
mod cache;
mod client_secret;
mod managed_identity;
mod static_token;
mod token_endpoint;
mod workload_identity;

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use jiff::Timestamp;

pub use azure_json::AzureJson;
pub use cache::CachingCredential;
pub use client_secret::ClientSecretCredential;
pub use managed_identity::{IMDS_ENDPOINT, ManagedIdentityCredential};
pub use static_token::StaticTokenCredential;
pub use workload_identity::{WorkloadIdentityConfig, WorkloadIdentityCredential};

use crate::{Error, Secret};

/// A bearer token and when it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessToken {
    /// The token.
    pub token: Secret,
    /// Expiry.
    pub expires_on: Timestamp,
}

impl AccessToken {
    /// A token expiring at `expires_on`.
    pub fn new(token: impl Into<String>, expires_on: Timestamp) -> Self {
        Self {
            token: Secret::new(token.into()),
            expires_on,
        }
    }
}

/// Something that hands out access tokens for a scope (e.g. `https://management.azure.com/.default`).
pub trait TokenCredential: Send + Sync + fmt::Debug {
    /// A token for `scope`.
    fn get_token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, Error>>;

    /// Forget cached tokens (called after the service answered 401). Default: nothing.
    fn invalidate(&self) {}
}

impl<T: TokenCredential + ?Sized> TokenCredential for Arc<T> {
    fn get_token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, Error>> {
        (**self).get_token(scope)
    }

    fn invalidate(&self) {
        (**self).invalidate();
    }
}

impl<T: TokenCredential + ?Sized> TokenCredential for Box<T> {
    fn get_token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, Error>> {
        (**self).get_token(scope)
    }

    fn invalidate(&self) {
        (**self).invalidate();
    }
}
