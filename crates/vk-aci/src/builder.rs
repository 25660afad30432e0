//! [`ContainerInstancesBuilder`]: endpoints, credential, retries, rate limits, timeouts and
//! polling of a [`ContainerInstances`] client.

use std::sync::Arc;
use std::time::Duration;

use crate::client::ContainerInstances;
use crate::credentials::{CachingCredential, TokenCredential};
use crate::lro::LroOptions;
use crate::metrics::Metrics;
use crate::rate_limit::{RateLimiter, RateLimits};
use crate::retry::RetryPolicy;
use crate::transport::Shared;
use crate::url::parse_endpoint;
use crate::{AzureCloud, Error};

/// Builder of [`ContainerInstances`].
#[derive(Debug)]
#[must_use]
pub struct ContainerInstancesBuilder {
    subscription_id: String,
    resource_group: String,
    credential: Arc<dyn TokenCredential>,
    cloud: AzureCloud,
    scope: Option<String>,
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
    rate_limits: RateLimits,
    call_timeout: Duration,
    lro: LroOptions,
    cache_tokens: bool,
}

impl ContainerInstancesBuilder {
    /// Resource Manager and authority endpoints (default: public cloud).
    pub fn cloud(mut self, cloud: AzureCloud) -> Self {
        self.cloud = cloud;
        self
    }

    /// Token scope (default: `{resource_manager}/.default`).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Uses this HTTP client instead of [`http_client`](crate::http_client).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Client-side rate limits.
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// Timeout of one HTTP attempt (default 30 s).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Long-running-operation polling.
    pub fn lro(mut self, lro: LroOptions) -> Self {
        self.lro = lro;
        self
    }

    /// Wrap the credential in a [`CachingCredential`] (default true; disable if it already caches).
    pub fn cache_tokens(mut self, cache: bool) -> Self {
        self.cache_tokens = cache;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<ContainerInstances, Error> {
        if self.subscription_id.is_empty() || self.resource_group.is_empty() {
            return Err(Error::Config {
                message: "subscription id and resource group must not be empty".into(),
            });
        }
        let endpoint = parse_endpoint(&self.cloud.resource_manager, "resource manager endpoint")?;
        let http = match self.http {
            Some(http) => http,
            None => crate::http::http_client()?,
        };
        let credential: Arc<dyn TokenCredential> = if self.cache_tokens {
            Arc::new(CachingCredential::new(self.credential))
        } else {
            self.credential
        };
        let scope = self.scope.unwrap_or_else(|| self.cloud.arm_scope());
        Ok(ContainerInstances {
            shared: Arc::new(Shared {
                http,
                endpoint,
                subscription_id: self.subscription_id,
                credential,
                scope,
                retry: self.retry,
                limiter: RateLimiter::new(self.rate_limits),
                call_timeout: self.call_timeout,
                lro: self.lro,
                metrics: Metrics::default(),
            }),
            resource_group: self.resource_group.into(),
        })
    }
}

impl ContainerInstances {
    /// Starts building a client for `subscription_id` / `resource_group`.
    pub fn builder(
        subscription_id: impl Into<String>,
        resource_group: impl Into<String>,
        credential: Arc<dyn TokenCredential>,
    ) -> ContainerInstancesBuilder {
        ContainerInstancesBuilder {
            subscription_id: subscription_id.into(),
            resource_group: resource_group.into(),
            credential,
            cloud: AzureCloud::public(),
            scope: None,
            http: None,
            retry: RetryPolicy::default(),
            rate_limits: RateLimits::default(),
            call_timeout: Duration::from_secs(30),
            lro: LroOptions::default(),
            cache_tokens: true,
        }
    }
}
