//! A client-side limit on Kubernetes API requests (QPS with a burst), and
//! per-verb request counts, as a tower layer on the kube client.
//!
//! The default is generous (200 QPS, burst 400): the Go virtual-kubelet's
//! client-go default of 5 QPS is what makes it take minutes for a 1000-pod
//! burst. Throttling is counted in `vk_kube_throttled_total`.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Method, Request};
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

use crate::metrics::Metrics;

/// A token bucket: `burst` tokens, refilled at `qps` per second.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    burst: f64,
    qps: f64,
    last: Instant,
}

impl Bucket {
    /// Takes a token, or says how long until one is available.
    fn take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.qps))
        }
    }
}

/// The layer: shares one bucket among all clones of the client.
#[derive(Clone)]
pub(crate) struct KubeLimitLayer {
    bucket: Arc<Mutex<Bucket>>,
    metrics: Arc<Metrics>,
}

impl KubeLimitLayer {
    pub(crate) fn new(qps: f64, burst: u32, metrics: Arc<Metrics>) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            bucket: Arc::new(Mutex::new(Bucket {
                tokens: burst,
                burst,
                qps: qps.max(0.001),
                last: Instant::now(),
            })),
            metrics,
        }
    }
}

impl<S> Layer<S> for KubeLimitLayer {
    type Service = KubeLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        KubeLimit {
            inner,
            bucket: Arc::clone(&self.bucket),
            metrics: Arc::clone(&self.metrics),
            sleep: None,
            has_token: false,
        }
    }
}

/// The service: waits for a token in `poll_ready`, counts the verb in `call`.
pub(crate) struct KubeLimit<S> {
    inner: S,
    bucket: Arc<Mutex<Bucket>>,
    metrics: Arc<Metrics>,
    sleep: Option<Pin<Box<Sleep>>>,
    has_token: bool,
}

/// The Kubernetes verb of a request, as the API server's audit log names it.
fn verb<B>(req: &Request<B>) -> &'static str {
    let query = req.uri().query().unwrap_or("");
    match *req.method() {
        Method::GET if query.contains("watch=true") || query.contains("watch=1") => "watch",
        Method::GET => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "other",
    }
}

impl<S, B> Service<Request<B>> for KubeLimit<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        while !self.has_token {
            if let Some(sleep) = self.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.sleep = None;
            }
            let taken = self
                .bucket
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            match taken {
                Ok(()) => self.has_token = true,
                Err(wait) => {
                    self.metrics.kube_throttled();
                    self.sleep = Some(Box::pin(tokio::time::sleep(wait)));
                }
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.has_token = false;
        self.metrics.kube_request(verb(&req));
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_allows_burst_then_qps() {
        let mut b = Bucket {
            tokens: 2.0,
            burst: 2.0,
            qps: 10.0,
            last: Instant::now(),
        };
        assert!(b.take().is_ok());
        assert!(b.take().is_ok());
        let wait = b.take().unwrap_err();
        assert!(
            wait > Duration::from_millis(90) && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(b.take().is_ok());
    }

    #[test]
    fn verbs() {
        let r = |m: Method, q: &str| {
            Request::builder()
                .method(m)
                .uri(format!("/api/v1/pods{q}"))
                .body(())
                .unwrap()
        };
        assert_eq!(
            verb(&r(Method::GET, "?watch=true&fieldSelector=x")),
            "watch"
        );
        assert_eq!(verb(&r(Method::GET, "")), "get");
        assert_eq!(verb(&r(Method::PATCH, "")), "patch");
        assert_eq!(verb(&r(Method::DELETE, "")), "delete");
    }
}
