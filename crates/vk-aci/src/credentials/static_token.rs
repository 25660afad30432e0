//! A fixed token, for tests and emulators.

use futures::future::BoxFuture;
use jiff::Timestamp;

use super::{AccessToken, TokenCredential};
use crate::{Error, Secret};

/// Always returns the same token, whatever the scope.
#[derive(Clone, Debug)]
pub struct StaticTokenCredential {
    token: AccessToken,
}

impl StaticTokenCredential {
    /// A token that never expires.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: AccessToken {
                token: Secret::new(token.into()),
                expires_on: Timestamp::MAX,
            },
        }
    }

    /// A token with a given expiry.
    pub fn with_expiry(token: impl Into<String>, expires_on: Timestamp) -> Self {
        Self {
            token: AccessToken::new(token, expires_on),
        }
    }
}

impl TokenCredential for StaticTokenCredential {
    fn get_token<'a>(&'a self, _scope: &'a str) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(async move { Ok(self.token.clone()) })
    }
}
