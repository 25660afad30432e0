//! Token caching with refresh before expiry and de-duplicated concurrent refreshes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};

use super::{AccessToken, TokenCredential};
use crate::Error;

/// Caches the tokens of an inner credential per scope.
///
/// A token is refreshed once less than `min(margin, half its lifetime)` remains (margin 5 min by
/// default). Callers arriving during a refresh wait for it instead of starting their own. If a
/// refresh fails while the cached token is still valid, the cached token is returned.
#[derive(Debug)]
pub struct CachingCredential<C> {
    inner: C,
    margin: Duration,
    generation: AtomicU64,
    cache: tokio::sync::Mutex<HashMap<String, Cached>>,
}

#[derive(Debug)]
struct Cached {
    token: AccessToken,
    refresh_at: Timestamp,
    generation: u64,
}

impl<C: TokenCredential> CachingCredential<C> {
    /// Wraps `inner` with the default 5-minute margin.
    pub fn new(inner: C) -> Self {
        Self::with_margin(inner, Duration::from_secs(300))
    }

    /// Wraps `inner`, refreshing `margin` before expiry (at most half the token's lifetime).
    pub fn with_margin(inner: C, margin: Duration) -> Self {
        Self {
            inner,
            margin,
            generation: AtomicU64::new(0),
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The wrapped credential.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    fn refresh_at(&self, token: &AccessToken, now: Timestamp) -> Timestamp {
        let lifetime = token.expires_on.duration_since(now);
        let half = lifetime / 2;
        let margin = SignedDuration::try_from(self.margin).unwrap_or(SignedDuration::MAX);
        let margin = if half < margin { half } else { margin };
        token.expires_on.checked_sub(margin).unwrap_or(now)
    }

    async fn get(&self, scope: &str) -> Result<AccessToken, Error> {
        let generation = self.generation.load(Ordering::Acquire);
        let mut cache = self.cache.lock().await;
        let now = Timestamp::now();
        if let Some(cached) = cache.get(scope)
            && cached.generation == generation
            && now < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        match self.inner.get_token(scope).await {
            Ok(token) => {
                let now = Timestamp::now();
                let refresh_at = self.refresh_at(&token, now);
                tracing::debug!(scope, expires_on = %token.expires_on, "access token refreshed");
                cache.insert(
                    scope.to_owned(),
                    Cached {
                        token: token.clone(),
                        refresh_at,
                        generation,
                    },
                );
                Ok(token)
            }
            Err(err) => match cache.get(scope) {
                Some(cached)
                    if cached.generation == generation
                        && Timestamp::now() < cached.token.expires_on =>
                {
                    tracing::warn!(scope, error = %err, "token refresh failed; using the cached token");
                    Ok(cached.token.clone())
                }
                _ => Err(err),
            },
        }
    }
}

impl<C: TokenCredential> TokenCredential for CachingCredential<C> {
    fn get_token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(self.get(scope))
    }

    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.inner.invalidate();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicU32;

    use super::*;

    #[derive(Debug, Default)]
    struct Counting {
        calls: AtomicU32,
        lifetime_secs: i64,
    }

    impl TokenCredential for Counting {
        fn get_token<'a>(&'a self, _scope: &'a str) -> BoxFuture<'a, Result<AccessToken, Error>> {
            Box::pin(async move {
                let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(AccessToken::new(
                    format!("t{n}"),
                    Timestamp::now() + SignedDuration::from_secs(self.lifetime_secs),
                ))
            })
        }
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_refresh() {
        let cred = Arc::new(CachingCredential::new(Counting {
            lifetime_secs: 3600,
            ..Default::default()
        }));
        let calls = (0..10).map(|_| {
            let cred = cred.clone();
            tokio::spawn(async move { cred.get_token("s").await.unwrap() })
        });
        for t in futures::future::join_all(calls).await {
            assert_eq!(t.unwrap().token.expose(), "t1");
        }
        assert_eq!(cred.inner().calls.load(Ordering::SeqCst), 1);
        cred.invalidate();
        assert_eq!(cred.get_token("s").await.unwrap().token.expose(), "t2");
        // Another scope has its own token.
        assert_eq!(cred.get_token("other").await.unwrap().token.expose(), "t3");
    }

    #[tokio::test]
    async fn refreshes_before_expiry() {
        // Lifetime 2 s: half-life margin 1 s, so the token is refreshed after about 1 s.
        let cred = CachingCredential::new(Counting {
            lifetime_secs: 2,
            ..Default::default()
        });
        assert_eq!(cred.get_token("s").await.unwrap().token.expose(), "t1");
        assert_eq!(cred.get_token("s").await.unwrap().token.expose(), "t1");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(cred.get_token("s").await.unwrap().token.expose(), "t2");
    }
}
